"""Print the folder of the torch package importable by this python (libtorch root)."""
import importlib.util
import os
import sys

spec = importlib.util.find_spec("torch")
if spec is None or not spec.submodule_search_locations:
    sys.exit("torch is not importable: install it (pip install torch==2.13.0) or pass -Dtorch_dir=")
print(os.path.dirname(spec.origin))

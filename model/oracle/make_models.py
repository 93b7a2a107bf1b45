import argparse
ap = argparse.ArgumentParser()
ap.add_argument("--out"); ap.add_argument("--fixtures"); ap.add_argument("--stamp")
a = ap.parse_args()
open(a.stamp, "w").close()

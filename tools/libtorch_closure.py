"""Print the shared libraries of a libtorch folder that the given ones need.

  libtorch_closure.py LIBDIR NAME...

Starting from NAME... (e.g. libtorch.so libtorch_cpu.so libc10.so), follows
each library's DT_NEEDED entries (read with readelf) and keeps those that
exist in LIBDIR, so that bundling them gives a folder that loads on its own
(the wheel's libgomp included). Prints one absolute path per line, sorted.
"""
import os
import re
import subprocess
import sys

NEEDED = re.compile(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]")


def needed(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True)
    return NEEDED.findall(out.stdout)


def closure(libdir, roots):
    found, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        path = os.path.join(libdir, name)
        if name in found or not os.path.isfile(path):
            continue
        found.add(name)
        todo.extend(needed(path))
    return sorted(os.path.join(libdir, name) for name in found)


def main():
    libdir, roots = sys.argv[1], sys.argv[2:]
    missing = [r for r in roots if not os.path.isfile(os.path.join(libdir, r))]
    if missing:
        sys.exit("libtorch_closure: not in %s: %s" % (libdir, " ".join(missing)))
    print("\n".join(closure(libdir, roots)))


if __name__ == "__main__":
    main()

"""`meson install` into a DESTDIR gives files that work on their own.

  test_install.py BUILD_DIR REPORT KEY=VALUE...

The KEY=VALUE arguments are what meson configured: prefix, libdir, bindir, the
libtorch_install policy, the libtorch folder, whether the GStreamer plugin is
built. Checks: what is installed (blip2-bench is not), the run paths of the
plugin and the CLI (nothing in the build tree, the checkout or the libtorch the
build used, with libtorch_install=bundle), that every library they need
resolves (and libtorch from the DESTDIR), and that gst-inspect-1.0 finds the
element from there with a fresh registry and no plugin path into the build.
Results go to a GoogleTest-style JSON report (tests/summarize.py).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback

BUILD, REPORT = sys.argv[1], sys.argv[2]
OPTIONS = dict(arg.split("=", 1) for arg in sys.argv[3:])
CHECKS = []
STATE = {}


def check(fn):
    CHECKS.append(fn)
    return fn


def staged(path):
    """A path of the install, inside the DESTDIR."""
    return os.path.join(STATE["destdir"], os.path.join(OPTIONS["prefix"], path).lstrip("/"))


def plugin_dir():
    return staged(os.path.join(OPTIONS["libdir"], "gstreamer-1.0"))


def cli_path():
    return staged(os.path.join(OPTIONS["bindir"], "blip2-caption"))


def installed_programs():
    programs = [cli_path()]
    if OPTIONS["gstreamer"]:
        programs.append(os.path.join(plugin_dir(), "libgstblip2.so"))
    return programs


def runpath(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True)
    found = re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[([^\]]*)\]", out.stdout)
    return found[0].split(":") if found else []


def forbidden_roots():
    roots = {os.path.realpath(BUILD), os.path.realpath(OPTIONS["source_root"])}
    roots.add(os.path.realpath(OPTIONS["torch_libdir"]))
    return roots | {os.path.abspath(BUILD), os.path.abspath(OPTIONS["source_root"]),
                    os.path.abspath(OPTIONS["torch_libdir"])}


def inside(path, roots):
    path = os.path.realpath(path)
    return any(path == r or path.startswith(r + os.sep) for r in roots)


def clean_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GST_") and k != "LD_LIBRARY_PATH"}
    env["GST_REGISTRY_1_0"] = os.path.join(STATE["tmp"], "registry.bin")
    env["GST_PLUGIN_PATH_1_0"] = ""
    env["GST_PLUGIN_SYSTEM_PATH_1_0"] = plugin_dir()
    return env


@check
def meson_install_into_a_destdir_succeeds():
    out = subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild", "--quiet",
                          "--destdir", STATE["destdir"]], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert os.access(cli_path(), os.X_OK), cli_path()


@check
def the_benchmark_is_not_installed():
    bindir = staged(OPTIONS["bindir"])
    assert "blip2-bench" not in os.listdir(bindir), os.listdir(bindir)


@check
def plugin_lands_where_gstreamer_looks_with_prefix_usr():
    # GStreamer's system plugin folder is <its prefix>/<libdir>/gstreamer-1.0; with
    # --prefix=/usr (and meson's default libdir) ours is the same folder.
    if not OPTIONS["gstreamer"]:
        return
    assert os.path.isfile(os.path.join(plugin_dir(), "libgstblip2.so")), os.listdir(plugin_dir())
    pc = subprocess.run(["pkg-config", "--variable=pluginsdir", "gstreamer-1.0"],
                        capture_output=True, text=True, check=True).stdout.strip()
    gst_prefix = subprocess.run(["pkg-config", "--variable=prefix", "gstreamer-1.0"],
                                capture_output=True, text=True, check=True).stdout.strip()
    ours = os.path.join(OPTIONS["libdir"], "gstreamer-1.0")
    assert os.path.relpath(pc, gst_prefix) == ours, (pc, gst_prefix, ours)


@check
def run_paths_point_at_no_build_tree_checkout_or_build_libtorch():
    for program in installed_programs():
        paths = runpath(program)
        assert paths, program + " has no run path"
        if OPTIONS["libtorch_install"] == "bundle":
            assert all(p.startswith("$ORIGIN") for p in paths), (program, paths)
            resolved = [p.replace("$ORIGIN", os.path.dirname(program)) for p in paths]
            assert any(os.path.isfile(os.path.join(r, "libtorch_cpu.so")) for r in resolved), \
                (program, paths)
        else:
            assert paths == [OPTIONS["torch_libdir"]], (program, paths)
        assert not any(inside(p, {os.path.realpath(BUILD), os.path.abspath(BUILD)})
                       for p in paths if not p.startswith("$ORIGIN")), (program, paths)


@check
def every_needed_library_resolves_and_libtorch_comes_from_the_install():
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    for program in installed_programs():
        out = subprocess.run(["ldd", program], capture_output=True, text=True, env=env, check=True)
        assert "not found" not in out.stdout, out.stdout
        libs = dict(re.findall(r"^\s*(\S+) => (\S+)", out.stdout, re.M))
        for name in ("libtorch_cpu.so", "libc10.so"):
            assert name in libs, (program, out.stdout)
            if OPTIONS["libtorch_install"] == "bundle":
                assert inside(libs[name], {os.path.realpath(STATE["destdir"])}), (name, libs[name])
        if OPTIONS["libtorch_install"] == "bundle":
            for name, path in libs.items():
                assert not inside(path, forbidden_roots()), (program, name, path)


@check
def gst_inspect_finds_the_element_in_the_install():
    if not OPTIONS["gstreamer"]:
        return
    out = subprocess.run(["gst-inspect-1.0", "blip2caption"], capture_output=True, text=True,
                         env=clean_env(), timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    filename = re.search(r"Filename\s+(\S+)", out.stdout)
    assert filename and inside(filename.group(1), {os.path.realpath(STATE["destdir"])}), out.stdout
    assert "blip2caption" in out.stdout and "model" in out.stdout
    # plugin metadata: a one-sentence description and the configured origin
    plugin = out.stdout[out.stdout.index("Plugin Details:"):]
    description = re.search(r"^\s*Description\s+(.+)$", plugin, re.M)
    assert description and description.group(1).startswith("Captions video with a BLIP-2"), plugin
    origin = re.search(r"^\s*Origin URL\s+(.+)$", plugin, re.M)
    assert origin and origin.group(1).strip() == OPTIONS["package_origin"], plugin


@check
def installed_cli_runs():
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    out = subprocess.run([cli_path(), "--version"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert OPTIONS["version"] in out.stdout, out.stdout


def main():
    cases, failed = [], 0
    STATE["tmp"] = tempfile.mkdtemp(prefix="blip2-install-")
    STATE["destdir"] = os.path.join(STATE["tmp"], "destdir")
    try:
        for fn in CHECKS:
            try:
                fn()
                cases.append({"name": fn.__name__, "result": "COMPLETED"})
                print("PASS", fn.__name__)
            except Exception:  # noqa: BLE001 - every failure is reported
                failed += 1
                cases.append({"name": fn.__name__, "result": "COMPLETED",
                              "failures": [{"failure": traceback.format_exc()}]})
                print("FAIL", fn.__name__, traceback.format_exc(), sep="\n")
    finally:
        shutil.rmtree(STATE["tmp"], ignore_errors=True)
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    with open(REPORT, "w") as f:
        json.dump({"testsuites": [{"name": "install", "testsuite": cases}]}, f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

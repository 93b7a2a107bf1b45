#!/usr/bin/python3
"""Write (or check) docs/plugins/gst_plugins_cache.json, the plugin's
hotdoc-style cache: plugin details, the element's details, pad templates,
properties (type, default, flags) and signals, read from the built plugin
through GStreamer's introspection (PyGObject; run with the system python3).

  gen_plugin_cache.py PLUGIN.so OUTPUT.json          write
  gen_plugin_cache.py PLUGIN.so --check CACHE.json   exit 1 (with a diff) if stale
"""
import difflib
import json
import os
import sys
import tempfile

os.environ.setdefault("GST_REGISTRY_1_0", os.path.join(tempfile.mkdtemp(), "registry.bin"))
os.environ["GST_PLUGIN_SYSTEM_PATH_1_0"] = ""
os.environ["GST_PLUGIN_PATH_1_0"] = ""

import gi  # noqa: E402

gi.require_version("Gst", "1.0")
from gi.repository import GObject, Gst  # noqa: E402

MUTABLE = [(Gst.PARAM_MUTABLE_PLAYING, "playing"), (Gst.PARAM_MUTABLE_PAUSED, "paused"),
           (Gst.PARAM_MUTABLE_READY, "ready")]


def default_of(pspec):
    value = getattr(pspec, "default_value", None)
    if hasattr(value, "value_nick"):
        return value.value_nick
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "%g" % value
    return None if value is None else str(value)


def property_entry(pspec):
    flags = pspec.flags
    mutable = next((name for flag, name in MUTABLE if flags & flag), "null")
    return {
        "blurb": pspec.blurb,
        "default": default_of(pspec),
        "mutable": mutable,
        "readable": bool(flags & GObject.ParamFlags.READABLE),
        "type": GObject.type_name(pspec.value_type),
        "writable": bool(flags & GObject.ParamFlags.WRITABLE),
    }


def signal_entries(gtype):
    signals = {}
    for signal_id in GObject.signal_list_ids(gtype):
        query = GObject.signal_query(signal_id)
        signals[query.signal_name] = {
            "action": bool(query.signal_flags & GObject.SignalFlags.ACTION),
            "args": [GObject.type_name(t) for t in query.param_types],
            "return-type": GObject.type_name(query.return_type),
        }
    return signals


def element_entry(factory):
    element = factory.create(None)
    own = [p for p in element.list_properties() if p.owner_type == type(element).__gtype__]
    templates = {}
    for template in factory.get_static_pad_templates():
        templates[template.name_template] = {
            "caps": template.get_caps().to_string(),
            "direction": template.direction.value_nick,
            "presence": template.presence.value_nick,
        }
    return {
        "author": factory.get_metadata("author"),
        "description": factory.get_metadata("description"),
        "klass": factory.get_metadata("klass"),
        "long-name": factory.get_metadata("long-name"),
        "pad-templates": templates,
        "properties": {p.name: property_entry(p) for p in own},
        "rank": Gst.Rank(factory.get_rank()).value_nick,
        "signals": signal_entries(type(element).__gtype__),
    }


def cache(plugin_path):
    Gst.init(None)
    plugin = Gst.Plugin.load_file(plugin_path)
    registry = Gst.Registry.get()
    factories = [f for f in registry.get_feature_list_by_plugin(plugin.get_name())
                 if isinstance(f, Gst.ElementFactory)]
    return {plugin.get_name(): {
        "description": plugin.get_description(),
        "elements": {f.get_name(): element_entry(f) for f in factories},
        "filename": os.path.splitext(os.path.basename(plugin_path))[0],
        "license": plugin.get_license(),
        "package": plugin.get_package(),
        "source": plugin.get_source(),
        "url": plugin.get_origin(),
    }}


def main():
    plugin_path = sys.argv[1]
    text = json.dumps(cache(plugin_path), indent=4, sort_keys=True) + "\n"
    if sys.argv[2] == "--check":
        with open(sys.argv[3]) as f:
            stored = f.read()
        if stored != text:
            sys.stdout.writelines(difflib.unified_diff(
                stored.splitlines(True), text.splitlines(True), sys.argv[3], "generated"))
            print("%s is stale: run tools/gen_plugin_cache.py %s %s"
                  % (sys.argv[3], "build/gst/libgstblip2.so", "docs/plugins/gst_plugins_cache.json"))
            return 1
        print("plugin cache up to date")
        return 0
    with open(sys.argv[2], "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

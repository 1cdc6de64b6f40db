#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The plugin SDK is documented: fails (and so fails the build) when a public
symbol has no gtk-doc comment or no Since:.

  check-sdk-docs.py STAMP OUT.gir Evcp-0.gir libevcp.map HEADER.h…

OUT.gir is the GIR without the functions libevcp.map does not export (the
entry points that EVCP_PLUGIN_DEFINE declares for plugins to define), for
gi-docgen.

Public: what the GIR of libevcp.so.0 holds (types, functions, methods,
constructors, callbacks, constants; fields and values need a description,
not a Since:), every function libevcp.map exports in EVCP_PLUGIN_1 (each must
be in the GIR, so none escapes the check), and every macro of the installed
headers but the EVCP_TYPE_* and EVCP_IS_* of GObject's boilerplate."""

import re
import sys
import xml.etree.ElementTree as ET

NS = {"c": "http://www.gtk.org/introspection/core/1.0",
      "cc": "http://www.gtk.org/introspection/c/1.0",
      "glib": "http://www.gtk.org/introspection/glib/1.0"}
CORE = "{%s}" % NS["c"]
C = "{%s}" % NS["cc"]
GLIB = "{%s}" % NS["glib"]

stamp, out_gir, gir, mapfile, headers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
failures = []
documented = 0


def doc_of(element):
    d = element.find(CORE + "doc")
    return d.text.strip() if d is not None and d.text else ""


def name_of(element):
    return (element.get(C + "identifier") or element.get(C + "type") or element.get(GLIB + "type-name")
            or element.get("name"))


# the exported functions (libevcp.map): each must be in the GIR, so checked below
text = open(mapfile, encoding="utf-8").read()
node = re.search(r"EVCP_PLUGIN_1\s*\{(.*?)\}", text, re.S).group(1)
node = re.sub(r"/\*.*?\*/", "", node, flags=re.S)
exported = re.findall(r"^\s*(evcp_\w+);", node.split("local:")[0], re.M)
for prefix, uri in (("", NS["c"]), ("c", NS["cc"]), ("glib", NS["glib"])):
    ET.register_namespace(prefix, uri)
tree = ET.parse(gir)
root = tree.getroot()
ns = root.find(CORE + "namespace")
not_exported = []
in_gir = set()
TOP = ("class", "interface", "record", "enumeration", "bitfield", "callback", "function", "constant")
for element in ns:
    kind = element.tag.replace(CORE, "")
    if kind not in TOP:
        continue
    if element.get(GLIB + "is-gtype-struct-for") and kind == "record" and not doc_of(element):
        continue   # the class struct of a final type: nothing of its own
    name = name_of(element)
    if kind == "function" and name not in exported:
        not_exported.append(element)   # evcp_engine_plugin_init…: EVCP_PLUGIN_DEFINE declares them
        continue
    in_gir.add(name)
    if not doc_of(element):
        failures.append("%s %s: no documentation" % (kind, name))
    elif element.get("version") is None:
        failures.append("%s %s: no Since:" % (kind, name))
    else:
        documented += 1
    gtype_struct = element.get(GLIB + "is-gtype-struct-for") is not None
    for child in element:
        ckind = child.tag.replace(CORE, "")
        if gtype_struct and ckind == "field":
            continue   # a virtual function's slot: documented as the virtual-method
        cname = name_of(child)
        if ckind in ("method", "constructor", "function"):
            in_gir.add(cname)
            if not doc_of(child):
                failures.append("%s %s: no documentation" % (ckind, cname))
            elif child.get("version") is None:
                failures.append("%s %s: no Since:" % (ckind, cname))
            else:
                documented += 1
        elif ckind in ("member", "field") and not child.get("private") == "1":
            if not doc_of(child) and not cname.startswith("parent") and cname != "padding":
                failures.append("%s %s.%s: no description" % (ckind, name, cname))
        if ckind in ("method", "constructor", "function", "callback") or kind in ("function", "callback"):
            pass
    # parameters and return values of what is callable
    callables = [element] if kind in ("function", "callback") else \
        [c for c in element if c.tag.replace(CORE, "") in ("method", "constructor", "function")]
    for f in callables:
        params = f.find(CORE + "parameters")
        for p in (params if params is not None else []):
            if p.get("name") in ("...",):
                continue
            if not doc_of(p):
                failures.append("%s: parameter %s: no description" % (name_of(f), p.get("name")))
        rv = f.find(CORE + "return-value")
        if rv is not None:
            t = rv.find(CORE + "type")
            if (t is None or t.get("name") != "none") and not doc_of(rv):
                failures.append("%s: return value: no description (Returns:)" % name_of(f))

for symbol in exported:
    if symbol not in in_gir and not symbol.endswith("_get_type"):
        failures.append("%s: exported (libevcp.map) but not in the GIR: not introspectable, "
                        "so not documented for the reference" % symbol)

# the macros of the installed headers
for header in headers:
    source = open(header, encoding="utf-8").read()
    blocks = {m.group(1): m.group(2) for m in re.finditer(r"/\*\*\n \* (\w+):(.*?)\*/", source, re.S)}
    for macro in re.findall(r"^#define (EVCP_\w+)", source, re.M):
        if re.match(r"EVCP_(TYPE|IS)_", macro):
            continue
        if macro not in blocks:
            failures.append("%s: macro %s: no gtk-doc comment" % (header, macro))
        elif "Since:" not in blocks[macro]:
            failures.append("%s: macro %s: no Since:" % (header, macro))
        else:
            documented += 1

for f in failures:
    print("check-sdk-docs: " + f, file=sys.stderr)
if failures:
    print("check-sdk-docs: %d undocumented; every public symbol of the SDK needs a gtk-doc comment "
          "with Since: (docs/plugins.md)" % len(failures), file=sys.stderr)
    sys.exit(1)
for element in not_exported:
    ns.remove(element)
tree.write(out_gir, encoding="UTF-8", xml_declaration=True)
open(stamp, "w").write("%d symbols documented\n" % documented)
print("check-sdk-docs: %d symbols documented" % documented)

#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The D-Bus reference is whole: every method, signal and property of
data/*.xml has a doc comment there and appears in the HTML built from it.

  check-dbus-docs.py STAMP INTERFACE.xml… PAGE.html…"""

import re
import sys
import xml.etree.ElementTree as ET

stamp, inputs = sys.argv[1], sys.argv[2:]
xmls = [p for p in inputs if p.endswith(".xml")]
html = "".join(open(p, "rb").read().decode("utf-8", "replace") for p in inputs if p.endswith(".html"))
failures = []
count = 0
for path in xmls:
    text = open(path, encoding="utf-8").read()
    for iface in ET.parse(path).getroot().iter("interface"):
        for kind in ("method", "signal", "property"):
            for member in iface.iter(kind):
                name = member.get("name")
                count += 1
                # gdbus-codegen's doc comment: "<!--\n  Name:" before the element
                if not re.search(r"<!--\s*%s:" % re.escape(name), text):
                    failures.append("%s: %s %s.%s has no doc comment" % (path, kind, iface.get("name"), name))
                if name not in html:
                    failures.append("the HTML lacks %s %s.%s" % (kind, iface.get("name"), name))
for f in failures:
    print("check-dbus-docs: " + f, file=sys.stderr)
if failures:
    sys.exit(1)
open(stamp, "w").write("%d members documented\n" % count)

#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The man pages as built (docs/man/): each renders without a warning of groff
or man (man --warnings -l, 80 columns, UTF-8), has its NAME, SYNOPSIS and
DESCRIPTION, and evcp.conf(5) names every key and group of the key file that
the code reads (the calls of src/ that read a key: key_string, key_double,
KEY_UINT…, load_section, and the groups Central reads itself).

  check-man.py SRCDIR MANDIR"""

import glob
import os
import re
import subprocess
import sys

src, mandir = sys.argv[1], sys.argv[2]
failures = []

pages = sorted(glob.glob(os.path.join(mandir, "*.[158]")))
expected = {"evcp-engine.8", "evcp-monitor.8", "evcpctl.1", "evcp-central.1", "evcp-driver.1", "evcp.conf.5"}
missing = expected - {os.path.basename(p) for p in pages}
if missing:
    failures.append("pages not built: " + ", ".join(sorted(missing)))

env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80", MAN_KEEP_FORMATTING="0")
for page in pages:
    r = subprocess.run(["man", "--warnings=w", "-l", page], env=env, capture_output=True, text=True)
    name = os.path.basename(page)
    text = re.sub(r".\x08", "", r.stdout)   # overstrike (bold, underline) to plain text
    if r.returncode != 0 or r.stderr.strip():
        failures.append("%s: man -l: exit %d, warnings:\n%s" % (name, r.returncode, r.stderr))
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION"):
        if not re.search(r"^%s$" % section, text, re.M):
            failures.append("%s: no %s section" % (name, section))
    print("%s: %d lines" % (name, text.count("\n")))

# every key the code reads, by group
keys, groups = set(), set()
call = re.compile(r'\b(?:key_[a-z]+|KEY_[A-Z]+)\s*\(\s*(?:kf\s*,\s*)?"([a-z-]+)"\s*,\s*"([a-z0-9.-]+)"')
section = re.compile(r'\b(?:load_section\s*\(\s*kf|g_key_file_get_keys\s*\(\s*key_file)\s*,\s*"([a-z-]+)"')
for path in glob.glob(os.path.join(src, "src", "**", "*.c"), recursive=True):
    text = open(path, encoding="utf-8").read()
    for g, k in call.findall(text):
        keys.add((g, k))
        groups.add(g)
    groups.update(section.findall(text))
if len(keys) < 30:
    failures.append("only %d keys found in the code: the pattern no longer matches the loader" % len(keys))

conf = os.path.join(mandir, "evcp.conf.5")
if os.path.exists(conf):
    roff = open(conf, encoding="utf-8").read()
    # the subsections: title, body
    parts = re.split(r'^\.SS "(.*)"$', roff, flags=re.M)
    subsections = list(zip(parts[1::2], parts[2::2]))
    for g in sorted(groups):
        if not any("[%s]" % g in title.replace("\\-", "-") for title, _ in subsections):
            failures.append("evcp.conf(5): no subsection for the group [%s]" % g)
    for g, k in sorted(keys):
        bodies = [body for title, body in subsections if "[%s]" % g in title.replace("\\-", "-")]
        wanted = "\\fB%s\\fR" % k.replace("-", "\\-")
        if not any(re.search(r"^\.TP\n%s$" % re.escape(wanted), b, re.M) for b in bodies):
            failures.append("evcp.conf(5): [%s] %s is read by the code but not documented "
                            "(docs/configuration.md, its table of [%s])" % (g, k, g))
    print("evcp.conf(5): %d keys in %d groups, each documented unless said below" % (len(keys), len(groups)))

for f in failures:
    print("FAIL: " + f)
sys.exit(1 if failures else 0)

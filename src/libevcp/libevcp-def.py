#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Makes libevcp.def (the DLL's exports on Windows) from libevcp.map (the
# ELF version script): one list of what libevcp exports.
import re
import sys

text = open(sys.argv[1], encoding='utf-8').read()
text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
names = []
for block in re.findall(r'global:(.*?)(?:local:|\})', text, flags=re.S):
    names += [n.strip() for n in block.split(';') if n.strip()]
with open(sys.argv[2], 'w', encoding='utf-8') as out:
    out.write('EXPORTS\n')
    for name in names:
        out.write('    %s\n' % name)

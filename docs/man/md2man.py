#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The man pages, from one source each (docs/man/README.md):

  md2man.py --name NAME --section N [--program PROG] [--version V] -o OUT PAGE.md

PAGE.md (docs/man/NAME.N.md) is the page's markdown; a line
"<!-- include: FILE -->" stands for FILE (relative to PAGE.md): evcp.conf(5)
includes docs/configuration.md itself. With
--program, the SYNOPSIS, DESCRIPTION and OPTIONS come from `PROG --help-all`
run in the C locale (the same words as --help, never a copy that drifts);
"<!-- program -->" in PAGE.md says where they go.

The markdown understood is the subset the docs use: # and ## headings,
paragraphs, - and 1. lists (with indented continuation lines), ``` blocks,
| tables | (a table of keys becomes one tagged paragraph per row), `code`,
**bold**, *italic* and [links](target)."""

import argparse
import os
import re
import subprocess
import sys


def escape(text):
    text = text.replace("\\", "\\e")
    text = text.replace("-", "\\-")
    return text


def inline(text):
    """Markdown inline markup to roff; the result never starts a line with . or '."""
    out = []
    pos = 0
    pattern = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*|(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])|\[([^\]]+)\]\(([^)]+)\)")
    for m in pattern.finditer(text):
        out.append(escape(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append("\\fB" + escape(m.group(1)) + "\\fR")
        elif m.group(2) is not None:
            out.append("\\fB" + inline(m.group(2)) + "\\fR")
        elif m.group(3) is not None:
            out.append("\\fI" + inline(m.group(3)) + "\\fR")
        else:
            label, target = m.group(4), m.group(5)
            out.append(inline(label))
            if re.match(r"https?://", target):
                out.append(" <" + escape(target) + ">")
        pos = m.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def line(text):
    """A text line for roff: one starting with . or ' is protected."""
    if text.startswith(".") or text.startswith("'"):
        return "\\&" + text
    return text


def heading_text(text):
    return inline(text.strip()).replace('"', '\\(dq')


class Converter:
    def __init__(self):
        self.out = []

    def emit(self, text):
        self.out.append(text)

    def paragraph(self, lines):
        if not lines:
            return
        self.emit(".PP")
        for l in lines:
            self.emit(line(inline(l.strip())))

    def table(self, rows):
        cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
        header, body = cells[0], [r for r in cells[2:]]
        for r in body:
            self.emit(".TP")
            self.emit(line(inline(r[0]) if r[0].startswith("`") else "\\fB" + inline(r[0]) + "\\fR"))
            self.emit(line(inline(r[1])) if len(r) > 1 else "")
            for name, value in zip(header[2:], r[2:]):
                self.emit(".br")
                self.emit(line(inline(name.capitalize() + ": " + value)))

    def code(self, lines):
        self.emit(".PP")
        self.emit(".RS 4")
        self.emit(".nf")
        for l in lines:
            self.emit(line(escape(l)))
        self.emit(".fi")
        self.emit(".RE")

    def convert(self, text):
        lines = text.split("\n")
        i = 0
        para = []

        def flush():
            nonlocal para
            self.paragraph(para)
            para = []

        while i < len(lines):
            l = lines[i]
            if l.startswith("```"):
                flush()
                block = []
                i += 1
                while i < len(lines) and not lines[i].startswith("```"):
                    block.append(lines[i])
                    i += 1
                self.code(block)
                i += 1
                continue
            m = re.match(r"^(#{1,3}) (.*)$", l)
            if m:
                flush()
                title = heading_text(m.group(2))
                if len(m.group(1)) == 1:
                    self.emit('.SH "%s"' % title.upper())
                else:
                    self.emit('.SS "%s"' % title)
                i += 1
                continue
            if l.startswith("|"):
                flush()
                rows = []
                while i < len(lines) and lines[i].startswith("|"):
                    rows.append(lines[i])
                    i += 1
                self.table(rows)
                continue
            m = re.match(r"^(\s*)(- |\d+\. )(.*)$", l)
            if m:
                flush()
                bullet = "\\(bu" if m.group(2) == "- " else m.group(2).strip()
                item = [m.group(3)]
                i += 1
                while i < len(lines) and lines[i].startswith("  ") and lines[i].strip() and \
                        not re.match(r"^\s*(- |\d+\. )", lines[i]):
                    item.append(lines[i])
                    i += 1
                self.emit(".IP %s 4" % bullet)
                for part in item:
                    self.emit(line(inline(part.strip())))
                continue
            if not l.strip() or l.strip().startswith("<!--"):
                flush()
                i += 1
                continue
            para.append(l)
            i += 1
        flush()


def help_sections(program):
    """SYNOPSIS, DESCRIPTION and OPTIONS in roff, from PROG --help-all in C."""
    # ASan builds: a program that exits in --help is no leak to report
    env = dict(os.environ, LC_ALL="C.UTF-8", LANGUAGE="", ASAN_OPTIONS="detect_leaks=0")
    text = subprocess.run([program, "--help-all"], env=env, check=True, capture_output=True,
                          text=True).stdout
    blocks = re.split(r"\n\s*\n", text.strip("\n"))
    usage = blocks[0].split("\n")[1].strip()
    prose, options = [], []
    for b in blocks[1:]:
        if re.match(r"^[A-Z][\w ]*Options:$", b.split("\n")[0]):
            for o in b.split("\n")[1:]:
                m = re.match(r"^\s+(\S.*?)\s{2,}(\S.*)$", o)
                if m and m.group(1) not in ("-h, --help", "--help-all"):
                    options.append((m.group(1), m.group(2)))
        else:
            prose.append(b)
    out = ['.SH "SYNOPSIS"']
    name, _, rest = usage.partition(" ")
    out.append(".B " + escape(name))
    if rest:
        out.append(line(escape(rest)))
    out.append('.SH "DESCRIPTION"')
    for b in prose:
        out.append(".PP")
        if any(l.startswith(" ") for l in b.split("\n")):
            out.append(".nf")
            out.extend(line(escape(l)) for l in b.split("\n"))
            out.append(".fi")
        else:
            out.extend(line(escape(l)) for l in b.split("\n"))
    out.append('.SH "OPTIONS"')
    for flag, desc in options:
        out.append(".TP")
        out.append("\\fB" + escape(flag) + "\\fR")
        out.append(line(escape(desc)))
    out.append(".TP")
    out.append("\\fB\\-h, \\-\\-help\\fR")
    out.append("Show the options and exit.")
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--section", required=True)
    parser.add_argument("--program")
    parser.add_argument("--version", default="")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("page")
    args = parser.parse_args()

    manual = {"1": "User Commands", "5": "File Formats", "8": "System Administration"}[args.section]
    conv = Converter()
    conv.emit('.TH "%s" "%s" "" "evcp %s" "%s"' % (args.name.upper(), args.section, args.version, manual))
    conv.emit(".nh")
    conv.emit(".ad l")
    with open(args.page, encoding="utf-8") as f:
        text = f.read()

    def include(m):
        with open(os.path.join(os.path.dirname(args.page), m.group(1)), encoding="utf-8") as f:
            return f.read()

    text = re.sub(r"^<!-- include: (\S+) -->$", include, text, flags=re.M)
    if args.program:
        head, marker, tail = text.partition("<!-- program -->")
        if not marker:
            sys.exit("md2man: %s has no <!-- program --> marker" % args.page)
        conv.convert(head)
        conv.out.extend(help_sections(args.program))
        conv.convert(tail)
    else:
        conv.convert(text)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write("\n".join(conv.out) + "\n")


if __name__ == "__main__":
    main()

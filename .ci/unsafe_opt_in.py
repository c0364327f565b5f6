#!/usr/bin/env python3
"""Checks DESIGN.md's unsafe boundary file by file: a source file that
contains `unsafe` code opts in at its top with
`#![expect(unsafe_code, reason = "...")]`, and no other file does. No file
opts in any other way (`allow(unsafe_code)`, or an attribute on a `mod`
item that would cover a whole subtree).

The compiler checks half of this (the crate denies `unsafe_code`, and an
`expect` with nothing to expect is a warning CI denies); this script
checks that the opt-in sits in the file itself, so a reader sees it there.

Usage: python3 .ci/unsafe_opt_in.py [source root ...]
"""
import pathlib
import re
import sys

UNSAFE = re.compile(r"\bunsafe\s*(\{|fn\b|impl\b|extern\b|trait\b)|#\[unsafe\(")
OPT_IN = re.compile(r"#!\[expect\(\s*unsafe_code\s*,\s*reason\s*=", re.S)
OTHER = re.compile(r"(allow|expect)\(\s*unsafe_code")


def code_lines(text):
    """The file's lines without comments (doc examples are comments)."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        yield line.split("//")[0] if '"' not in line else line


def main(roots):
    bad = []
    files = 0
    opted = 0
    for root in roots:
        for path in sorted(pathlib.Path(root).rglob("*.rs")):
            files += 1
            text = path.read_text()
            code = "\n".join(code_lines(text))
            has_unsafe = UNSAFE.search(code) is not None
            opt_in = OPT_IN.search(code)
            others = len(OTHER.findall(code)) - (1 if opt_in else 0)
            opted += bool(opt_in)
            if has_unsafe and not opt_in:
                bad.append(f"{path}: unsafe code without the file's opt-in")
            if opt_in and not has_unsafe:
                bad.append(f"{path}: opts in to unsafe code but has none")
            if others > 0:
                bad.append(f"{path}: opts in to unsafe code some other way")
    for line in bad:
        print(line)
    print(f"unsafe opt-in: {files} files, {opted} opt in, {len(bad)} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["framealloc/src"]))

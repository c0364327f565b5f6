#!/usr/bin/env python3
"""Checks that the README's links work where the README is rendered for the
published crate, not only in the repository.

crates.io renders README.md (framealloc's `readme = "../README.md"`) as the
crate page and resolves a relative link against the crate's folder in the
repository (`…/blob/HEAD/framealloc/docs/…`, which does not exist), or not
at all for a host it does not know; docs.rs shows the same README. So every
link to a file of the repository is absolute, under the workspace's
`repository` URL, as `<repository>/blob/HEAD/<path>` (a page) or
`<repository>/raw/HEAD/<path>` (an image), and <path> must exist. In-page
anchors (`#feature-flags`) and other sites' URLs are left alone.

While the crate is unpublished (its repository URL is a placeholder), the
README keeps relative links, which work in the repository and in a clone:
the default mode checks that each names an existing file. `--published`
applies the rules above, for the README that goes to crates.io.

Usage: python3 .ci/readme_links.py [--published] [README.md]
"""
import pathlib
import re
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
# [text](target) and ![alt](target); reference definitions `[id]: target`.
INLINE = re.compile(r"(!?)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)


def main():
    args = sys.argv[1:]
    published = "--published" in args
    args = [arg for arg in args if arg != "--published"]
    readme = pathlib.Path(args[0]) if args else ROOT / "README.md"
    with open(ROOT / "Cargo.toml", "rb") as manifest:
        repository = tomllib.load(manifest)["workspace"]["package"]["repository"].rstrip("/")
    # Code blocks hold Rust and TOML, not links (`[a](b)` can be a slice pattern).
    text = FENCE.sub("", readme.read_text(encoding="utf-8"))
    # (is an image, target): an image needs the file's bytes (raw), a link its page (blob).
    targets = [(bang == "!", target) for bang, target in INLINE.findall(text)]
    targets += [(False, target) for target in REFERENCE.findall(text)]
    problems = []
    for image, target in targets:
        kind = "raw" if image else "blob"
        if target.startswith("#"):
            continue
        if target.startswith(repository + "/"):
            rest = target[len(repository) + 1 :]
            match = re.fullmatch(kind + r"/HEAD/([^#?]+)(#.*)?", rest)
            if not match:
                problems.append(f"{target}: not <repository>/{kind}/HEAD/<path>")
            elif not (ROOT / match.group(1)).is_file():
                problems.append(f"{target}: {match.group(1)} is not a file of the repository")
            continue
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # another site's URL (https:, mailto:)
        if not published:
            # Until the crate is published (and the repository has a real
            # URL), relative links are what works: in the repository and in
            # a clone. They must name files that exist.
            path = re.split(r"[#?]", target.removeprefix("./"))[0]
            if not (ROOT / path).is_file():
                problems.append(f"{target}: {path} is not a file of the repository")
            continue
        problems.append(
            f"{target}: a relative link is broken on the crate page; "
            f"write {repository}/{kind}/HEAD/{target.removeprefix('./')}"
        )
    for problem in problems:
        print(f"README link: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"{len(targets)} links checked in {readme.name}")


if __name__ == "__main__":
    main()

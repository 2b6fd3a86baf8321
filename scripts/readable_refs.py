"""Give every cross-page ``{ref}`` and ``{doc}`` of the book the text Sphinx shows (issue 29).

In JupyterLab, jupyterlab-myst (2.7.0) renders a page on its own: a ``{ref}`label``` whose
target is on another page shows the bare label in an error colour, ``{doc}`path``` shows the
path, and each logs "Cross reference target was not found" in the browser console. With an
explicit text, ``{ref}`Text <label>``` shows "Text" as a link. Sphinx shows a bare ``{ref}`` as
the title of the section it points to, and a bare ``{doc}`` as the title of the page; written
with that very title as its explicit text, the role renders the same in the built book (same
text, same link, same HTML), and reads in Lab.

This script rewrites, in the Markdown text of the pages it is given (never in code: code
cells, fenced code and inline code spans are left alone):

- ``{ref}`label``` -> ``{ref}`Title <label>```, where ``(label)=`` stands right above a
  heading on ANOTHER page of the book and ``Title`` is that heading's text (a same-page
  ``{ref}`` already renders in Lab);
- ``{doc}`path``` -> ``{doc}`Title <path>```, ``Title`` being the first heading of the page
  (a ``.md`` page, or a ``.ipynb`` notebook's first Markdown heading);
- ``{cite}`a,b``` -> ``{cite}`a`, {cite}`b```: jupyterlab-myst has no bibliography
  (jupyter-book/jupyterlab-myst#127) and shows a citation as its keys, run together when a
  role holds several.

A title with inline markup (math, code, emphasis, links, roles) is left out and listed, since
Sphinx would show its text without the markup and an explicit text cannot say the same;
``{numref}`` is never changed: in Lab it shows its label (Lab cannot number a figure that a
code cell draws), and an explicit text would either show ``%s`` in Lab or drop the number in
the book. So the prose keeps it in parentheses after words that name the figure ("The
learning curves below ({numref}`lm_curve`) show ..."): the book reads "(Fig. 12)", Lab
"(lm_curve)", and the sentence reads in both. A ``{numref}`` outside parentheses is listed,
for a writer to reword.

Usage::

    .venv/bin/python scripts/readable_refs.py --dry-run     # counts per page, change nothing
    .venv/bin/python scripts/readable_refs.py               # rewrite book/**/*.md in place
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
BOOK = "book"

LABEL_LINE = re.compile(r"^\((?P<label>[^()\s]+)\)=\s*$")
HEADING = re.compile(r"^#{1,6}[ \t]+(?P<title>.*?)[ \t]*#*[ \t]*$")
FENCE_OPEN = re.compile(r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,}|:{3,})[ \t]*(?P<info>\S*)")
# A role with no explicit text: `{ref}`label`` or `{doc}`path`` (the body holds no '<').
BARE_ROLE = re.compile(r"\{(?P<role>ref|doc)\}`(?P<target>[^`<>]+)`")
# A citation of several keys: `{cite}`a,b`` (also {cite:p}, {cite:t}).
MULTI_CITE = re.compile(r"\{(?P<role>cite(?::[pt])?)\}`(?P<keys>[^`]*,[^`]*)`")
COUNTED_ROLES = re.compile(r"\{(?P<role>ref|doc|numref|cite(?::[pt])?)\}`(?P<body>[^`]*)`")
ROLE_START = re.compile(r"\{[\w:-]+\}`")
# Fenced blocks whose content is code, not Markdown (a plain language name, or these
# directives); the other directives (note, figure, dropdown, ...) hold Markdown.
CODE_DIRECTIVES = {"code-cell", "code", "code-block", "sourcecode", "literalinclude", "math",
                   "raw", "eval-rst", "glue:figure", "mermaid", "graphviz"}
# Characters of inline markup: a title holding one is not written as an explicit text.
# Any label a page defines: `(label)=`, a directive's `:label:` or `:name:`, a code cell's
# figure `name:` (in its options).
ANY_LABEL = re.compile(r"^\((\S+?)\)=[ \t]*$|^[: \t]*(?:label|name):[ \t]*([\w.:-]+)[ \t]*$",
                       re.MULTILINE)
MARKUP = re.compile(r"[`*_$\[\]<>{}\\|~^]")


class ReadableRefsError(Exception):
    """A page the script cannot rewrite safely."""


@dataclass
class Targets:
    """The book's section labels (label -> page, title) and pages' titles (page -> title)."""

    sections: dict[str, tuple[str, str]] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)
    # Every label of each page (sections, directives' :label:/:name:, figures of code cells).
    labels: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class PageReport:
    """What the script changed, left or counted on one page."""

    rewritten: Counter = field(default_factory=Counter)
    left: list[str] = field(default_factory=list)
    counted: Counter = field(default_factory=Counter)


def markdown_lines(text: str) -> Iterator[tuple[int, str]]:
    """The (index, line) pairs of ``text`` that are Markdown, outside code fences.

    A fence that opens code (a language name, no info, or one of :data:`CODE_DIRECTIVES`)
    hides every line up to its closing fence (same character, at least as long, no info); a
    directive's fence holding Markdown hides only its own fence lines and option lines.
    """
    lines = text.split("\n")
    code_fence: str | None = None
    directives: list[str] = []  # the open fences of directives holding Markdown
    in_front_matter = bool(lines) and lines[0] == "---"
    for index, line in enumerate(lines):
        if in_front_matter:
            if index > 0 and line == "---":
                in_front_matter = False
            continue
        match = FENCE_OPEN.match(line)
        if code_fence is not None:
            if match and match["fence"][0] == code_fence[0] and len(match["fence"]) >= len(
                    code_fence) and not match["info"]:
                code_fence = None
            continue
        if match:
            fence, info = match["fence"], match["info"]
            if not info and directives and fence[0] == directives[-1][0] and len(
                    fence) >= len(directives[-1]):
                directives.pop()
                continue
            name = info[1:info.index("}")] if info.startswith("{") and "}" in info else None
            if (name is None and fence[0] != ":") or name in CODE_DIRECTIVES:
                code_fence = fence
            else:
                directives.append(fence)
            continue
        if line.lstrip().startswith(":") and re.match(r"^\s*:[\w-]+:", line):
            continue  # a directive's option line
        yield index, line


def first_heading_title(text: str) -> str | None:
    """The text of the first Markdown heading of ``text``, or None."""
    for _, line in markdown_lines(text):
        match = HEADING.match(line)
        if match:
            return match["title"]
    return None


def notebook_title(path: Path) -> str | None:
    """The first Markdown heading of a notebook's Markdown cells, or None."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            title = first_heading_title("".join(source) if isinstance(source, list) else source)
            if title is not None:
                return title
    return None


def collect_targets(root: Path, pages: list[Path]) -> Targets:
    """The section labels and the page titles of ``pages`` (paths under ``root``)."""
    targets = Targets()
    for path in pages:
        page = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        title = first_heading_title(text)
        if title is not None:
            targets.pages[page.removesuffix(".md")] = title
        targets.labels[page] = {a or b for a, b in ANY_LABEL.findall(text)}
        pending: str | None = None
        for _, line in markdown_lines(text):
            label = LABEL_LINE.match(line)
            if label:
                pending = label["label"]
                continue
            if not line.strip():
                continue
            heading = HEADING.match(line)
            if pending is not None and heading:
                targets.sections[pending] = (page, heading["title"])
            pending = None
    return targets


def doc_title(root: Path, page: str, target: str, targets: Targets) -> str | None:
    """The title Sphinx shows for ``{doc}`target``` on ``page``, or None if unknown."""
    base = PurePosixPath(target.lstrip("/")) if target.startswith("/") else (
        PurePosixPath(page).parent / target)
    parts: list[str] = []
    for part in base.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    name = "/".join(parts)
    if name in targets.pages:
        return targets.pages[name]
    notebook = root / f"{name}.ipynb"
    return notebook_title(notebook) if notebook.is_file() else None


def explicit_text(role: str, target: str, page: str, root: Path,
                  targets: Targets) -> tuple[str | None, str]:
    """The explicit text for a bare role, or None and the reason it is left as it is."""
    if role == "ref":
        if target in targets.labels.get(page, set()):
            return None, ""  # same page: jupyterlab-myst resolves it
        if target not in targets.sections:
            return None, f"{{ref}}`{target}`: not a section label (a figure or table?)"
        where, title = targets.sections[target]
        if where == page:
            return None, ""  # same page: jupyterlab-myst resolves it
    else:
        found = doc_title(root, page, target, targets)
        if found is None:
            return None, f"{{doc}}`{target}`: page or title not found"
        title = found
    if MARKUP.search(title):
        return None, f"{{{role}}}`{target}`: its title has markup ({title!r})"
    return title, ""


def masked(line: str) -> str:
    """``line`` with its inline code spans blanked out (same length), roles kept.

    Scanned left to right as CommonMark pairs backtick runs: a role ``{name}`...``` is kept
    whole; any other run of backticks opens a code span that the next run of the same length
    closes (an unclosed run is literal text).
    """
    out, i = [], 0
    while i < len(line):
        role = ROLE_START.match(line, i)
        if role:
            end = line.find("`", role.end())
            end = len(line) if end < 0 else end + 1
            out.append(line[i:end])
            i = end
            continue
        if line[i] != "`":
            out.append(line[i])
            i += 1
            continue
        ticks = re.match(r"`+", line[i:]).group(0)
        close = re.compile(rf"(?<!`){ticks}(?!`)").search(line, i + len(ticks))
        if close is None:
            out.append(ticks)
            i += len(ticks)
            continue
        out.append(" " * (close.end() - i))
        i = close.end()
    return "".join(out)


def readable_text(text: str, page: str, root: Path, targets: Targets) -> tuple[str, PageReport]:
    """``text`` with its bare cross-page ``{ref}`` and ``{doc}`` roles given their title."""
    report = PageReport()
    lines = text.split("\n")
    depth, previous = 0, -2  # parentheses open in the paragraph so far; the last line read
    for index, line in markdown_lines(text):
        visible = masked(line)
        if not line.strip() or index != previous + 1:
            depth = 0
        previous = index
        for match in COUNTED_ROLES.finditer(visible):
            report.counted[match["role"]] += 1
            if match["role"] == "numref" and depth + _open_parentheses(
                    visible[:match.start()]) <= 0:
                report.left.append(f"line {index + 1}: {{numref}}`{match['body']}` outside "
                                   "parentheses: Lab shows its label there; name the figure "
                                   "and put the role in parentheses after it")
        depth = max(0, depth + _open_parentheses(visible))
        pieces, last = [], 0
        for match in BARE_ROLE.finditer(visible):
            title, reason = explicit_text(match["role"], match["target"], page, root, targets)
            if title is None:
                if reason:
                    report.left.append(f"line {index + 1}: {reason}")
                continue
            pieces += [line[last:match.start()],
                       f"{{{match['role']}}}`{title} <{match['target']}>`"]
            last = match.end()
            report.rewritten[match["role"]] += 1
        if pieces:
            lines[index] = "".join(pieces) + line[last:]
        lines[index] = split_citations(lines[index], report)
    return "\n".join(lines), report


def _open_parentheses(text: str) -> int:
    """How many more parentheses ``text`` opens than it closes."""
    return text.count("(") - text.count(")")


def split_citations(line: str, report: PageReport) -> str:
    """``line`` with each citation of several keys written as one role per key, joined by
    ", ": jupyterlab-myst shows an unresolved ``{cite}`a,b``` as the keys run together
    ("ab"), one role per key as "a, b"; Sphinx's author-year style shows the same authors
    and years in the same order, each in brackets of its own."""
    pieces, last = [], 0
    for match in MULTI_CITE.finditer(masked(line)):
        keys = [key.strip() for key in match["keys"].split(",") if key.strip()]
        pieces += [line[last:match.start()],
                   ", ".join(f"{{{match['role']}}}`{key}`" for key in keys)]
        last = match.end()
        report.rewritten[match["role"]] += 1
    return "".join(pieces) + line[last:] if pieces else line


def book_pages(root: Path) -> list[Path]:
    """The book's Markdown pages (``book/**/*.md``), without build output and without the
    copies Lab keeps in ``.ipynb_checkpoints`` where it ran inside the course."""
    return sorted(p for p in (root / BOOK).rglob("*.md")
                  if not {"_build", ".ipynb_checkpoints"} & set(p.relative_to(root).parts))


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--dry-run``, count) the bare cross-page roles of the book."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="change nothing; print counts")
    parser.add_argument("--root", type=Path, default=ROOT, help="the course (default: this repo)")
    args = parser.parse_args(argv)
    pages = book_pages(args.root)
    if not pages:
        print(f"no Markdown pages under {args.root / BOOK}: give the course with --root.",
              file=sys.stderr)
        return 2
    targets = collect_targets(args.root, pages)
    totals: Counter = Counter()
    for path in pages:
        page = path.relative_to(args.root).as_posix()
        text = path.read_text(encoding="utf-8")
        new, report = readable_text(text, page, args.root, targets)
        totals.update({f"rewritten {k}": v for k, v in report.rewritten.items()})
        totals.update({f"all {k}": v for k, v in report.counted.items()})
        totals["left"] += len(report.left)
        counts = ", ".join(f"{v} {{{k}}}" for k, v in sorted(report.rewritten.items())) or "0"
        print(f"{page}: {counts} to rewrite; roles on the page: "
              + ", ".join(f"{v} {{{k}}}" for k, v in sorted(report.counted.items())))
        for reason in report.left:
            print(f"    left: {reason}")
        if new != text and not args.dry_run:
            path.write_text(new, encoding="utf-8")
    print("total: " + ", ".join(f"{k}: {v}" for k, v in sorted(totals.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())

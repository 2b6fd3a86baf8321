"""Rewrite chapter sources in the exact form jupytext writes them (issue 29).

A chapter (a MyST Markdown notebook: ``book/**/*.md`` with a jupytext front matter) opens in
JupyterLab through jupytext's contents manager, which reads it into a notebook and, on save,
writes it back with ``jupytext.writes``. Unless the source already is what ``writes`` gives,
opening and saving a chapter rewrites it (header keys added, figure captions re-quoted), and
``git status`` shows a change the learner never made. This script puts every chapter given on
the command line into that fixed point:

1. read the file as a notebook, with the jupytext configuration the contents manager finds
   (``jupytext.toml`` at the repository root);
2. fold the line breaks of multi-line strings in the cells' metadata (figure captions and alt
   text) into spaces: jupytext's YAML dumper writes such a string quoted with a blank line per
   break, which reads badly. A caption is Markdown, where a single line break is a space, so the
   page says the same; the script checks this by rendering each string before and after and
   refuses a string whose line breaks mean something (a paragraph break, a hard break, a line
   that starts a list or a heading);
3. write the kernelspec as Lab writes it when a kernel starts (``name``, ``display_name``,
   ``language``, in that order, from the installed kernel spec): Lab replaces any other, which
   marks a chapter modified as soon as it opens;
4. give the chapter its own notebook metadata filter in its front matter
   (``jupytext.notebook_metadata_filter``, :data:`CHAPTER_METADATA_FILTER`): jupytext's
   default minus the jupytext version, so that a learner whose jupytext differs from the
   course's pin does not rewrite the chapter. It lives in the chapter, not in ``jupytext.toml``,
   because a filter there would apply to every Markdown file: the plain pages (README.md,
   book/intro.md, the guides), which jupytext otherwise saves without a front matter, would
   get one as soon as a learner opened them in Lab (``tests/test_plain_pages.py``);
5. write it with ``jupytext.writes`` and check that reading the result gives back the same
   notebook (cells, sources and metadata) and that writing it again changes nothing.

Usage::

    .venv/bin/python scripts/normalise_chapters.py book/cells/*.md      # rewrite in place
    .venv/bin/python scripts/normalise_chapters.py --check book/**/*.md # exit 1 if any would change

Pages that are plain Markdown (no jupytext front matter) are skipped and listed.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jupytext
import nbformat
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupytext.config import JupytextConfiguration, load_jupytext_config
from markdown_it import MarkdownIt

FORMAT = "md:myst"
FRONT_MATTER = re.compile(r"\A---\n(?:(?!---\n).*\n)*?jupytext:\n")
LINE_BREAK = re.compile(r"[ \t]*\n[ \t]*")
# The chapter's own notebook metadata filter: jupytext's default (the `jupytext` and
# `kernelspec` keys), without the jupytext version that a learner's jupytext would write.
CHAPTER_METADATA_FILTER = "-jupytext.text_representation.jupytext_version"
_MARKDOWN = MarkdownIt("commonmark")


class NormaliseError(Exception):
    """A chapter that cannot be rewritten without changing what it says or computes."""


def is_notebook_source(text: str) -> bool:
    """True if the text is a MyST Markdown notebook (front matter with a ``jupytext`` key)."""
    return FRONT_MATTER.match(text) is not None


def config_for(path: Path) -> JupytextConfiguration | None:
    """The jupytext configuration the contents manager and the CLI find for ``path``."""
    return load_jupytext_config(str(path.resolve().parent))


def lab_kernelspec(name: str) -> dict[str, str]:
    """The ``kernelspec`` metadata JupyterLab 4 sets when kernel ``name`` starts.

    Lab's ``NotebookPanel._updateSpec`` writes ``{name, display_name, language}`` in this
    order, the last two from the kernel spec; jupytext dumps the keys in that order.
    """
    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel as error:
        raise NormaliseError(
            f"no kernel named {name!r} is installed, so the kernelspec Lab writes is unknown; "
            f"install the course environment (make venv) and run this script with "
            f".venv/bin/python.") from error
    return {"name": name, "display_name": spec.display_name, "language": spec.language}


def _rendered(markdown: str) -> str:
    """The HTML of a Markdown string, with soft line breaks shown as the spaces they are."""
    return _MARKDOWN.render(markdown).replace("\n", " ").strip()


def fold_line_breaks(value: str, where: str) -> str:
    """``value`` on one line, its line breaks folded into spaces, or an error if they matter.

    A line break inside a Markdown paragraph is a space; the rendering of the folded string is
    compared with the original's so that a break that starts a new block is never folded.
    """
    if "\n" not in value.strip():
        return value.strip() if value.endswith("\n") else value
    folded = LINE_BREAK.sub(" ", value.strip())
    if _rendered(folded) != _rendered(value):
        raise NormaliseError(
            f"{where}: the line breaks of this string are Markdown structure (a paragraph or "
            f"hard break, a list or heading line), so folding them would change the page. Put "
            f"the string on one line by hand, or make it a single paragraph.\n{value!r}")
    return folded


def map_strings(value: Any, change: Callable[[str, str], str], where: str) -> Any:
    """``value`` (nested dicts and lists) with ``change(string, where)`` applied to each string."""
    if isinstance(value, str):
        return change(value, where)
    if isinstance(value, dict):
        return {key: map_strings(item, change, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [map_strings(item, change, f"{where}[{i}]") for i, item in enumerate(value)]
    return value


def fold_cell_metadata(notebook: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """A copy of ``notebook`` whose cells' metadata strings are each on one line."""
    folded = copy.deepcopy(notebook)
    for index, cell in enumerate(folded.cells):
        cell.metadata = nbformat.from_dict(
            map_strings(dict(cell.metadata), fold_line_breaks, f"{name}, cell {index}"))
    return folded


def comparable(notebook: nbformat.NotebookNode) -> list[tuple[str, str, dict[str, Any]]]:
    """What a notebook says and computes: each cell's type, source and metadata."""
    return [(cell.cell_type, cell.source, dict(cell.metadata)) for cell in notebook.cells]


def normalised_text(text: str, name: str, config: JupytextConfiguration | None) -> str:
    """The chapter ``text`` as jupytext writes it, after checking that nothing it says changed."""
    notebook = jupytext.reads(text, fmt=FORMAT, config=config)
    expected = fold_cell_metadata(notebook, name)
    kernel = expected.metadata.get("kernelspec", {}).get("name", "python3")
    expected.metadata["kernelspec"] = lab_kernelspec(kernel)
    expected.metadata.setdefault("jupytext", {})["notebook_metadata_filter"] = (
        CHAPTER_METADATA_FILTER)
    written = jupytext.writes(expected, fmt=FORMAT, config=config)
    reread = jupytext.reads(written, fmt=FORMAT, config=config)
    if comparable(reread) != comparable(expected):
        raise NormaliseError(
            f"{name}: jupytext does not read back what it wrote (cells, sources or metadata "
            f"differ); fix the source by hand and report the case.")
    if jupytext.writes(reread, fmt=FORMAT, config=config) != written:
        raise NormaliseError(f"{name}: jupytext's output is not a fixed point; report the case.")
    return written


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check``, test) the chapters named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="chapter sources (.md)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if any chapter is not in jupytext's form")
    args = parser.parse_args(argv)
    changed, skipped = [], []
    for path in args.paths:
        text = path.read_text(encoding="utf-8")
        if not is_notebook_source(text):
            skipped.append(path)
            continue
        try:
            new = normalised_text(text, str(path), config_for(path))
        except NormaliseError as error:
            print(f"NormaliseError: {error}", file=sys.stderr)
            return 2
        if new != text:
            changed.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    verb = "would change" if args.check else "rewrote"
    for path in changed:
        print(f"{verb} {path}")
    for path in skipped:
        print(f"skipped {path} (plain Markdown, no jupytext front matter)")
    print(f"{len(changed)} of {len(args.paths) - len(skipped)} notebook sources {verb}.")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())

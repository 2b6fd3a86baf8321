"""The built book (`make build`): every page is there, executed, with figures, and no solution."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
pytestmark = pytest.mark.book

CHAPTER_PARTS = ("book/structure/", "book/cells/", "book/training/", "book/applications/",
                 "book/beyond/")


def toc_files() -> list[str]:
    """Every file the table of contents lists, without extension."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [ch["file"] for ch in part["chapters"]]
    return files


def page(name: str) -> str:
    path = HTML / f"{name}.html"
    if not HTML.is_dir():
        pytest.fail("the book is not built: run `make build` first")
    assert path.is_file(), f"{name} is in _toc.yml but {path} was not built"
    return path.read_text(encoding="utf-8")


def has_code_cells(name: str) -> bool:
    src = ROOT / f"{name}.md"
    return src.is_file() and "```{code-cell}" in src.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", toc_files())
def test_every_page_in_the_toc_is_built(name):
    assert "<h1" in page(name)


@pytest.mark.parametrize("name", toc_files())
def test_no_page_shows_an_error_or_stderr_output(name):
    html = page(name)
    assert 'class="output traceback' not in html, f"{name} shows a traceback"
    assert 'class="output stderr' not in html, f"{name} shows stderr output"


@pytest.mark.parametrize("name", [n for n in toc_files() if has_code_cells(n)])
def test_pages_with_code_were_executed(name):
    assert "cell_output" in page(name), f"{name} has code cells but no outputs"


@pytest.mark.parametrize("name", [n for n in toc_files() if n.startswith(CHAPTER_PARTS)])
def test_every_chapter_has_an_executed_figure(name):
    html = page(name)
    outputs = html.split("cell_output")[1:]
    assert any("<img" in out.split("</div>")[0] or "<img" in out[:2000] for out in outputs), (
        f"{name} has no figure among its cell outputs")


@pytest.mark.parametrize("name", [n for n in toc_files() if n.startswith("exercises/")])
def test_exercises_appear_unexecuted(name):
    assert "cell_output" not in page(name)


# A line of a reference solution is distinctive when it uses the contract's names (generic
# lines, such as seeding a generator, may well appear in a chapter too).
MATH_NAMES = re.compile(r"\b(W_\w+|b_[hx]\w*|h_prev|c_prev|d[hcWbX]\w*|Hs|h0|c0)\b")


def secret_lines() -> set[str]:
    """Distinctive lines of the reference solutions and hidden tests in solutions/."""
    import nbformat

    secrets = set()
    for path in (ROOT / "solutions").glob("*/*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                if re.search(r"### BEGIN (SOLUTION|HIDDEN TESTS)", line):
                    inside = True
                elif re.search(r"### END (SOLUTION|HIDDEN TESTS)", line):
                    inside = False
                elif inside and len(line.strip()) >= 30 and MATH_NAMES.search(line):
                    secrets.add(line.strip())
    return secrets


def published_text():
    if not HTML.is_dir():
        pytest.fail("the book is not built: run `make build` first")
    for path in HTML.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".ipynb", ".md", ".txt", ".py", ".js"}:
            yield path, path.read_text(encoding="utf-8", errors="replace")


def test_published_exercises_hold_no_solution_or_hidden_test_marker():
    leaks = [str(p.relative_to(HTML)) for p, text in published_text()
             if "exercises" in p.parts and re.search(r"BEGIN (SOLUTION|HIDDEN TESTS)", text)]
    assert not leaks, f"solution or hidden-test markers in {leaks}"


def test_chapters_never_print_a_line_of_a_reference_solution_or_hidden_test():
    secrets = secret_lines()
    assert secrets, "found no solution lines in solutions/ to look for"
    # The release itself is checked against nbgrader's generation in test_release.py.
    leaks = sorted({(str(p.relative_to(HTML)), line) for p, text in published_text()
                    if "exercises" not in p.parts for line in secrets if line in text})
    assert not leaks, f"graded code printed in the book: {leaks[:5]}"


def test_no_solution_notebook_is_published():
    if not HTML.is_dir():
        pytest.fail("the book is not built: run `make build` first")
    assert not list(HTML.rglob("solutions/*")), "solutions/ must never be in the built book"

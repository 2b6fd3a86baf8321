"""The book teaches the equations; the learners write the code: no page and no module of the
book's package defines a function an assignment grades, with its name and its arguments (a
page that did would hand out the answer). A helper that shares only a name (the book's
``train(kind, gate_bias)``, the forecasting assignment's ``train(model, X, Y, ...)``) is not
the graded function."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autograder.runner.plan import plan_of
from scripts.readable_refs import book_pages

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted(ROOT.glob("solutions/*/*.ipynb"))
PAGES = book_pages(ROOT)
PACKAGE = sorted((ROOT / "rnncourse").rglob("*.py"))


DEF = re.compile(r"^\s*def (\w+)\(([^)]*)\)", re.M)


def graded_functions() -> dict[tuple[str, tuple[str, ...]], str]:
    """(name, argument names) -> its assignment, for every function an assignment asks for."""
    return {(name, tuple(sig.parameters)): nb.parent.name for nb in SOLUTIONS
            for name, sig in plan_of(nb).signatures.items()}


def defined_functions(text: str) -> set[tuple[str, tuple[str, ...]]]:
    """(name, argument names) of each ``def`` in ``text``."""
    out = set()
    for name, params in DEF.findall(text):
        args = (re.split(r"[:=]", p)[0].strip().lstrip("*") for p in params.split(","))
        out.add((name, tuple(a for a in args if a and a != "/")))
    return out


def test_every_assignment_asks_for_functions():
    assert SOLUTIONS and len(set(graded_functions().values())) == len(SOLUTIONS)


def test_a_definition_is_recognised_by_its_name_and_arguments():
    text = "x = 1\ndef rnn_forward(X, h0: np.ndarray, W_xh, W_hh, b_h=None):\n    pass\n"
    assert ("rnn_forward", ("X", "h0", "W_xh", "W_hh", "b_h")) in graded_functions()
    assert ("rnn_forward", ("X", "h0", "W_xh", "W_hh", "b_h")) in defined_functions(text)


@pytest.mark.parametrize("path", PAGES + PACKAGE, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_or_book_module_defines_a_graded_function(path):
    defined = defined_functions(path.read_text(encoding="utf-8"))
    found = [f"{name}{args} (assignment {assignment})"
             for (name, args), assignment in graded_functions().items() if (name, args) in defined]
    assert not found, f"{path.name} defines {', '.join(found)}: teach the equations instead"

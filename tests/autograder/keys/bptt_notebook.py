"""The ``bptt`` notebook graded in this process, without a kernel: its functions (the reference,
or a catalogue entry in place of one) defined from their code, and its test cells (hidden tests
included) run against them with the grader's helpers. Trusted code only: the course's own
solution and catalogue."""

from __future__ import annotations

import contextlib
import functools
import io
import textwrap
from dataclasses import dataclass

import nbformat
import numpy as np

from tests.autograder.catalogues.mutations import MUTANTS, ROOT, Variant, solution_bodies

NOTEBOOK = ROOT / "solutions" / "bptt" / "bptt.ipynb"
FUNCTIONS = ("rnn_forward", "rnn_backward", "numerical_gradient", "clip_grad_norm",
             "train_tbptt")


def _cells() -> list:
    return nbformat.read(NOTEBOOK, as_version=4).cells


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def functions(*variants: Variant) -> dict:
    """A namespace with the notebook's functions: the reference code, except the variants'."""
    bodies = solution_bodies("bptt")
    for variant in variants:
        bodies[variant.function] = variant.body(bodies[variant.function])
    ns: dict = {"np": np}
    for cell in _cells():
        if _grade_id(cell) in FUNCTIONS:
            head, marker = cell.source.split("### BEGIN SOLUTION")[0].rsplit("\n", 1)
            code = head + "\n" + textwrap.indent(bodies[_grade_id(cell)], marker)
            exec(code, ns)  # noqa: S102  (the course's own code)
    return ns


@dataclass(frozen=True)
class Outcome:
    """One test cell's result: its points, and the failure's message (None when it passed)."""

    points: int
    message: str | None


@functools.cache
def grade(*variants: Variant) -> dict[str, Outcome]:
    """grade_id -> outcome of every test cell of the notebook, run against ``functions``."""
    ns = functions(*variants)
    setup = next(c for c in _cells() if _grade_id(c) == "setup_checks")
    exec(setup.source, ns)  # noqa: S102
    results = {}
    for cell in _cells():
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade"):
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(cell.source, dict(ns))  # noqa: S102
            message = None
        except Exception as err:  # noqa: BLE001  (a failed test, whatever its kind)
            message = f"{type(err).__name__}: {err}"
        results[meta["grade_id"]] = Outcome(int(meta["points"]), message)
    return results


def lost(*variants: Variant) -> dict[str, int]:
    """grade_id -> points lost, for each test cell that fails."""
    return {g: o.points for g, o in grade(*variants).items() if o.message is not None}


def mutants_of(function: str) -> list[Variant]:
    """The catalogue's mutants of one of the notebook's functions."""
    return [m for m in MUTANTS if m.assignment == "bptt" and m.function == function]


def mutant(mutant_id: str) -> Variant:
    return next(m for m in MUTANTS if m.id == mutant_id)

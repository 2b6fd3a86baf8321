"""exercises/ is the student release that nbgrader generates from solutions/, and nothing else."""

from __future__ import annotations

import re
import subprocess
import sys

import nbformat
import pytest
from nbgrader import utils

from autograder.commands.release import LEFTOVER_MARKERS, check_fails_validation, generate
from autograder.core.course import assignments, find_root
from autograder.errors import AutograderError
from tests.builders import grade_cell, notebook, solution_cell

ROOT = find_root()
ASSIGNMENTS = assignments(ROOT)


def cells(path):
    """Each cell's type, source and nbgrader metadata: what the release comparison looks at."""
    nb = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in nb.cells]


def test_there_is_at_least_one_assignment():
    assert ASSIGNMENTS, "solutions/ holds no assignment"


def test_solutions_and_exercises_hold_the_same_assignments(root):
    released = sorted(p.name for p in (root / "exercises").iterdir() if p.is_dir())
    assert released == ASSIGNMENTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_exercises_are_exactly_what_nbgrader_generates(root, assignment, tmp_path):
    fresh = generate(root, assignment, tmp_path)
    committed = root / "exercises" / assignment
    names = sorted(p.name for p in fresh.iterdir())
    assert sorted(p.name for p in committed.iterdir()) == names, "run `make exercises`"
    for nb in fresh.glob("*.ipynb"):
        assert cells(committed / nb.name) == cells(nb), f"{nb.name}: run `make exercises`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_solution_or_hidden_test_marker(root, assignment):
    for path in (root / "exercises" / assignment).rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not [m for m in LEFTOVER_MARKERS if m in text], path


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebooks_carry_no_outputs(root, assignment):
    for path in (root / "solutions" / assignment).glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert not [c for c in nb.cells if c.cell_type == "code" and c.outputs], path


def validate(path, every_cell: bool = False) -> str:
    """``nbgrader validate``'s output; with ``every_cell``, a cell that grades nothing fails it
    too when it raises or writes to stderr (``Validator.validate_all``)."""
    flags = ["--Validator.validate_all=True"] if every_cell else []
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "validate", *flags, str(path)],
                          capture_output=True, text=True, timeout=600)
    return proc.stdout + proc.stderr


PASSES = "Success! Your notebook passes all the tests."


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_cell_of_the_solution_runs_and_nbgrader_validate_passes(root, assignment):
    """Top to bottom as a learner runs it: the demonstrations and the not-graded training too
    (grading skips some cells: this is where they are checked), in the course's environment."""
    for path in (root / "solutions" / assignment).glob("*.ipynb"):
        out = validate(path, every_cell=True)
        assert PASSES in out, out[-2000:]


@pytest.mark.slow
def test_a_demonstration_cell_that_raises_fails_the_solution_check(root, tmp_path):
    nb = nbformat.read(root / "solutions" / "rnn_forward" / "rnn_forward.ipynb", 4)
    demo = next(c for c in reversed(nb.cells) if c.cell_type == "code"
                and not (utils.is_grade(c) or utils.is_solution(c) or utils.is_locked(c)))
    demo.source += "\nraise RuntimeError('a demonstration that breaks')"
    path = tmp_path / "rnn_forward" / "rnn_forward.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    assert PASSES in validate(path)  # nbgrader's own validate looks at graded cells only
    assert re.search(r"VALIDATION FAILED ON 1 CELL", validate(path, every_cell=True))


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_nbgrader_validate_fails_on_the_release(root, assignment):
    for path in (root / "exercises" / assignment).glob("*.ipynb"):
        out = validate(path)
        assert re.search(r"VALIDATION FAILED ON \d+ CELL", out), out[-2000:]


# ---- check_fails_validation: nbgrader's validator result, not its printed warning ----------


def release_of(answer: str, tmp_path, checksum: str | None = None):
    """A released notebook whose answer cell holds ``answer`` (the stub, or a solution left
    in), with one test; ``checksum`` is recorded on the test cell when given."""
    test = grade_cell("assert add(1, 2) == 3", "test_add", 1)
    if checksum is not None:
        test.metadata.nbgrader["checksum"] = checksum
    nb = notebook(solution_cell(f"def add(a, b):\n    {answer}", "add"), test)
    folder = tmp_path / "release" / "add"
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "add.ipynb")
    return folder


def test_a_release_whose_stub_fails_its_test_is_accepted(tmp_path):
    check_fails_validation(release_of("raise NotImplementedError()", tmp_path))


def test_a_release_that_passes_validation_is_refused(tmp_path):
    """Does a release that kept its solution (full marks for a blank answer) stop release?"""
    with pytest.raises(AutograderError, match="full marks"):
        check_fails_validation(release_of("return a + b", tmp_path))


def test_a_failing_release_is_recognised_whatever_the_validator_prints(tmp_path, monkeypatch):
    """Instructors may reword nbgrader's warning (``Validator.failed_warning``) in the
    configuration of the folder they work in: is a failing release still recognised?"""
    workdir = tmp_path / "course"
    workdir.mkdir()
    (workdir / "nbgrader_config.py").write_text(
        "c = get_config()\nc.Validator.failed_warning = 'Not yet: {num_failed} to fix.'\n")
    monkeypatch.chdir(workdir)
    check_fails_validation(release_of("raise NotImplementedError()", tmp_path))


def test_a_release_with_a_changed_test_cell_is_refused(tmp_path):
    """A test cell whose checksum disagrees: nbgrader reports it changed and grades nothing."""
    with pytest.raises(AutograderError, match="cells changed since they were generated"):
        check_fails_validation(release_of("raise NotImplementedError()", tmp_path,
                                          checksum="0" * 32))

"""Putting a damaged submission back in the shape of its release, within a time limit."""

from __future__ import annotations

import time

import nbformat
import pytest

from autograder.core.repair import RepairTimeout, repair
from tests.builders import add_assignment


def release():
    nb = add_assignment()
    for cell in nb.cells:
        if cell.metadata["nbgrader"].get("solution"):
            cell.source = "def add(a, b):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    return nb


def test_repair_restores_a_deleted_test_and_says_so():
    rel = release()
    nb = nbformat.from_dict(nbformat.v4.new_notebook())
    nb.cells = [c for c in release().cells if c.metadata["nbgrader"]["grade_id"] != "test_add"]
    fixed, repairs = repair(nb, rel)
    assert [c.metadata["nbgrader"]["grade_id"] for c in fixed.cells] == \
        [c.metadata["nbgrader"]["grade_id"] for c in rel.cells]
    assert repairs == ["restored the deleted test cell 'test_add'"]


def test_repair_stops_at_its_deadline():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"x{i} = {i}") for i in range(200)]
    with pytest.raises(RepairTimeout):
        repair(nb, release(), deadline=time.monotonic() - 1)


def test_many_long_cells_are_repaired_quickly():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"# {i}\n" + " \n" * 9_000) for i in range(800)]
    start = time.perf_counter()
    repair(nb, release(), deadline=time.monotonic() + 60)
    assert time.perf_counter() - start < 30

"""Reading a learner's notebook as untrusted input: exact types, bounded sizes, one-line
reasons."""

from __future__ import annotations

import json

import pytest

from autograder.core.notebooks import clean_notebook, read_submission
from autograder.errors import UnreadableNotebook
from autograder.settings import Limits


def notebook(*cells) -> dict:
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def code(source, **nbgrader) -> dict:
    meta = {"nbgrader": nbgrader} if nbgrader else {}
    return {"cell_type": "code", "source": source, "metadata": meta, "outputs": [],
            "execution_count": None}


def test_a_well_formed_notebook_keeps_its_cells_and_metadata():
    nb, notes = clean_notebook(notebook(code(["x = 1\n", "y = 2"], grade_id="a", grade=False,
                                             solution=True, locked=False, points=0)))
    assert nb.cells[0].source == "x = 1\ny = 2"
    assert nb.cells[0].metadata.nbgrader.grade_id == "a" and notes == []


@pytest.mark.parametrize("field, value", [("grade_id", 7), ("points", "ten"),
                                          ("solution", "yes"), ("locked", 1)])
def test_malformed_nbgrader_metadata_is_dropped_with_a_note(field, value):
    nb, notes = clean_notebook(notebook(code("x = 1", **{field: value})))
    assert "nbgrader" not in nb.cells[0].metadata
    assert notes and f"nbgrader field {field!r}" in notes[0]


@pytest.mark.parametrize("raw, reason", [
    ({"cells": {"0": 1}}, "no list of cells"),
    (notebook(42), "is not a notebook cell"),
    (notebook(code({"a": 1})), "is not text"),
    (notebook({"cell_type": "widget", "source": ""}), "is not a notebook cell"),
    (notebook(code("#" * 300_000)), "more than the"),
    (notebook(*[code("")] * 1_500), "cells, more than"),
])
def test_a_malformed_notebook_is_refused_in_one_line(raw, reason):
    with pytest.raises(UnreadableNotebook, match=reason):
        clean_notebook(raw, Limits())


def test_large_files_and_invalid_json_are_refused_before_parsing(tmp_path):
    big = tmp_path / "big.ipynb"
    big.write_text(json.dumps(notebook(code("x"))) + " " * 2_000)
    with pytest.raises(UnreadableNotebook, match="bytes, more than"):
        read_submission(big, Limits(max_notebook_bytes=1_000))
    for data in (b"[" * 200_000, b"\xff\xfe", b"{"):
        bad = tmp_path / "bad.ipynb"
        bad.write_bytes(data)
        with pytest.raises(UnreadableNotebook, match="invalid JSON"):
            read_submission(bad)


def test_a_link_is_not_read(tmp_path):
    target = tmp_path / "secret.ipynb"
    target.write_text(json.dumps(notebook(code("x"))))
    (tmp_path / "link.ipynb").symlink_to(target)
    with pytest.raises(UnreadableNotebook, match="no such file"):
        read_submission(tmp_path / "link.ipynb")

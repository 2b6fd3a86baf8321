"""Build small nbgrader notebooks and courses for tests, cell by cell, as nbgrader's tests do."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
from nbformat import v4


def _meta(grade_id: str, **flags) -> dict:
    meta = {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3,
            "solution": False, "task": False}
    meta.update(flags)
    return {"nbgrader": meta}


def markdown_cell(text: str, grade_id: str) -> nbformat.NotebookNode:
    """A locked markdown cell."""
    return v4.new_markdown_cell(text, metadata=_meta(grade_id, locked=True))


def solution_cell(source: str, grade_id: str) -> nbformat.NotebookNode:
    """An autograded-answer cell: its ### BEGIN/END SOLUTION region is stubbed on release."""
    return v4.new_code_cell(source, metadata=_meta(grade_id, solution=True))


def locked_code_cell(source: str, grade_id: str, tags: list[str] | None = None
                     ) -> nbformat.NotebookNode:
    """A locked code cell (imports): it runs in the learner's kernel and in the grader."""
    cell = v4.new_code_cell(source, metadata=_meta(grade_id, locked=True))
    if tags:
        cell.metadata["tags"] = tags
    return cell


def grade_cell(source: str, grade_id: str, points: int) -> nbformat.NotebookNode:
    """A locked test cell worth ``points``."""
    return v4.new_code_cell(source, metadata=_meta(grade_id, grade=True, locked=True,
                                                   points=points))


def notebook(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A notebook of ``cells``. Their ids come from the cells themselves, not at random, so
    that the same course built twice is the same, file for file (``tests/nbgrader_memo.py``
    then generates it once); two notebooks with different cells get different ids."""
    nb = v4.new_notebook()
    nb.cells = list(cells)
    content = json.dumps([[c.cell_type, c.source, c.metadata] for c in nb.cells],
                         sort_keys=True)
    for index, cell in enumerate(nb.cells):
        cell.id = hashlib.sha256(f"{index}\0{content}".encode()).hexdigest()[:8]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def add_assignment() -> nbformat.NotebookNode:
    """A two-test assignment ``add``: a test worth 2 (with a hidden part), another worth 1."""
    return notebook(
        markdown_cell("# Adding numbers", "intro"),
        solution_cell("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n"
                      "    ### END SOLUTION", "add"),
        grade_cell("assert add(1, 2) == 3\n### BEGIN HIDDEN TESTS\n"
                   "assert add(2, 2) == 4, 'add(2, 2) should be 4'\n### END HIDDEN TESTS",
                   "test_add", 2),
        grade_cell("assert add(-1, 1) == 0, 'add(-1, 1) should be 0'", "test_add_negative", 1),
    )


def make_course(root: Path, assignments: dict[str, nbformat.NotebookNode]) -> Path:
    """Write ``solutions/<name>/<name>.ipynb`` for each assignment under ``root``."""
    (root / "autograder").mkdir(parents=True, exist_ok=True)
    for name, nb in assignments.items():
        folder = root / "solutions" / name
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{name}.ipynb")
    return root


def double_assignment() -> nbformat.NotebookNode:
    """A one-test assignment ``double`` whose tests use numpy's assertion helper."""
    return notebook(
        markdown_cell("# Doubling arrays", "intro"),
        locked_code_cell("import numpy as np", "setup"),
        solution_cell("import numpy as np\n\n\ndef double(x):\n    ### BEGIN SOLUTION\n"
                      "    return 2 * np.asarray(x, dtype=float)\n    ### END SOLUTION",
                      "double"),
        grade_cell("np.testing.assert_allclose(double([1.0]), [2.0])\n"
                   "### BEGIN HIDDEN TESTS\n"
                   "np.testing.assert_allclose(double([1.5, -2.0]), [3.0, -4.0],\n"
                   "                           err_msg='double([1.5, -2]) should be [3, -4]')\n"
                   "### END HIDDEN TESTS", "test_double", 2),
    )


def answer_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The (first) answer cell of a notebook."""
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))


def filled(release: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    """A copy of the release with ``source`` as the learner's answer cell."""
    import copy

    nb = copy.deepcopy(release)
    answer_cell(nb).source = source
    return nb


def answered_notebook(text: str) -> bytes:
    """A learner's notebook of ``add`` whose answer cell is ``text`` (the answer cell carries
    the assignment's cell id, so the same answer gives the same bytes)."""
    nb = notebook(solution_cell(text, "add"))
    nb.cells[0].id = "answer"
    return nbformat.writes(nb).encode()


def zip_export(path: Path, files: dict, compression: int = 0) -> Path:
    """A zip export holding ``files`` (member name or ``zipfile.ZipInfo`` -> bytes), in the
    order given; ``compression``: a ``zipfile`` method (default stored)."""
    import zipfile

    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path

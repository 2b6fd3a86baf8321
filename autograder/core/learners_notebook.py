"""The exercise notebooks as the learners' tree holds them: their tests run on the grading
service.

The exercises' tests need the test helpers of ``autograder.keys``, which stay with the grader.
:func:`learners_notebook` rewrites an exercise for the learners' tree (``commands.publish``):
the test-helper cell imports ``service_test`` from ``rnncourse.check``, and each test cell keeps
its docstring and runs that test on the course's grading service. ``core.repair`` recognises
such a cell as unedited (:func:`published_sources`), so grading a notebook from the learners'
tree reports no repair.
"""

from __future__ import annotations

import ast
import functools

import nbformat

from autograder.errors import AutograderError
from rnncourse.check import ASSIGNMENT_NAME, TEST_NAME


class NotPublishable(AutograderError):
    """An exercise whose names ``service_test`` would refuse: it cannot be rewritten."""


KEYS_PACKAGE = "autograder.keys"  # the test helpers, which stay with the grader
SERVICE_IMPORT = "from rnncourse.check import service_test"
HELPER_CELL = (
    "# The course's tests run on your course's grading service: each test cell below sends the\n"
    "# saved version of this notebook (once per version: save first, Ctrl+S) and shows that\n"
    "# test's result. The service's address and your token: RNNCOURSE_SERVICE and\n"
    "# RNNCOURSE_TOKEN, or ~/.rnncourse.json (learners' guide: Checking your work).\n"
    f"{SERVICE_IMPORT}")
SKIPPED_CELL = (
    "print(\"This self-check uses the course's test helpers, which stay with the grader: \"\n"
    "      \"it is skipped here (it is worth no points).\")")


def _code(source: str) -> ast.Module | None:
    """The parsed code of a cell (None when it is not plain Python: a magic, a shell line)."""
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def imports_keys(source: str) -> bool:
    """Does the cell's code import from :data:`KEYS_PACKAGE`?"""
    tree = _code(source)
    return tree is not None and any(
        isinstance(node, ast.ImportFrom) and (node.module or "").startswith(KEYS_PACKAGE)
        or isinstance(node, ast.Import) and any(a.name.startswith(KEYS_PACKAGE)
                                                for a in node.names)
        for node in ast.walk(tree))


def imported_names(source: str) -> set[str]:
    """The names the cell's ``from ... import`` statements bind."""
    tree = _code(source)
    return {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            for a in node.names} if tree is not None else set()


def uses_any(source: str, names: set[str]) -> bool:
    """Does the cell's code read one of ``names``?"""
    tree = _code(source)
    return tree is not None and any(isinstance(node, ast.Name) and node.id in names
                                    for node in ast.walk(tree))


def docstring_source(source: str) -> str:
    """The cell's leading docstring as written (its lines), or "" when it has none."""
    tree = _code(source)
    first = tree.body[0] if tree is not None and tree.body else None
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        return ""
    return "\n".join(source.split("\n")[first.lineno - 1:first.end_lineno])


def leading_comments(source: str) -> str:
    """The comment lines the cell opens with."""
    lines = []
    for line in source.split("\n"):
        if not line.lstrip().startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def service_test_cell(source: str, assignment: str, grade_id: str, imported: bool) -> str:
    """A test cell of the learners' tree: its docstring, then the call that runs the test on
    the service (and its import, when no helper cell of the notebook imports it)."""
    call = f'service_test("{assignment}", "{grade_id}")'
    return "\n".join(part for part in (docstring_source(source),
                                       "" if imported else SERVICE_IMPORT, call) if part)


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def learners_notebook(text: str, assignment: str, rel: str = "") -> str:
    """The exercise notebook ``text`` (JSON) as the learners' tree holds it.

    Its cells that import the test helpers (:data:`KEYS_PACKAGE`) import ``service_test``
    instead; each test cell (nbgrader grade, not solution) keeps its docstring and runs on
    the grading service, ``service_test("<assignment>", "<grade_id>")``; a locked cell that
    uses a test helper otherwise (a self-check worth no points) keeps its opening comment and
    says it is skipped. Each rewritten cell gets nbgrader's checksum of its new text, so
    nbgrader's Validate does not call it changed. The service grades the learner's file with
    the source's test cells (``core.repair`` and nbgrader put the release's back).
    """
    from nbgrader.utils import compute_checksum

    if not ASSIGNMENT_NAME.fullmatch(assignment):
        raise NotPublishable(f"{rel}: the assignment's folder name {assignment!r} is not one "
                             "service_test takes (letters, digits, _ and -): rename it")
    nb = nbformat.reads(text, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    helpers = [c for c in code if imports_keys(c.source)]
    helper_ids = {id(c) for c in helpers}
    names = set().union(*(imported_names(c.source) for c in helpers)) if helpers else set()
    for cell in code:
        meta = _nbgrader(cell)
        if id(cell) in helper_ids:
            cell.source = HELPER_CELL
        elif meta.get("grade") and not meta.get("solution"):
            grade_id = str(meta.get("grade_id", ""))
            if not TEST_NAME.fullmatch(grade_id):
                raise NotPublishable(f"{rel}: the test cell {grade_id!r} has a name "
                                     "service_test does not take (letters, digits and _): "
                                     "rename it in solutions/ and release again")
            cell.source = service_test_cell(cell.source, assignment, grade_id, bool(helpers))
        elif meta.get("locked") and uses_any(cell.source, names):
            cell.source = "\n".join(p for p in (leading_comments(cell.source), SKIPPED_CELL)
                                    if p)
        else:
            continue
        cell.outputs, cell.execution_count = [], None
        if meta.get("checksum"):
            meta["checksum"] = compute_checksum(cell)
    return nbformat.writes(nb) + "\n"


@functools.lru_cache(maxsize=32)
def _published(release_json: str, assignment: str) -> dict[str, str]:
    nb = nbformat.reads(learners_notebook(release_json, assignment), as_version=4)
    return {_nbgrader(c)["grade_id"]: c.source for c in nb.cells
            if c.cell_type == "code" and _nbgrader(c).get("grade_id")}


def published_sources(release: nbformat.NotebookNode, assignment: str) -> dict[str, str]:
    """grade_id -> the text of each code cell of ``release`` as the learners' tree holds it
    (empty when the release cannot be rewritten)."""
    try:
        return _published(nbformat.writes(release), assignment)
    except NotPublishable:
        return {}

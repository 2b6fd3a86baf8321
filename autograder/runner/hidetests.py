"""Hidden tests by one rule, nbgrader's, and the feedback preprocessor for what nbgrader lacks.

nbgrader's ``ClearHiddenTests`` decides what a hidden test is: every line from one that holds
``BEGIN HIDDEN TESTS`` (anywhere in it: ``### BEGIN HIDDEN TESTS``, ``# -- BEGIN HIDDEN TESTS
--``) to the next that holds ``END HIDDEN TESTS``, both included. The release removes them with
it (``nbgrader generate_assignment``); feedback removes them with it too
(``ClearHiddenTestsInTests``, run by ``generate_feedback`` after GetGrades); and
``hidden_line_numbers`` asks it which lines of a source it removes, for the grader
(``runner.trusted``: a call from those lines is a hidden case) and for the leak check
(``commands.feedback``: the lines no page may show).

What nbgrader lacks: a failing test's traceback quotes the line that failed.
``HideTestTracebacks`` reduces every error output of a test cell to ``Name: message`` (no
frames, so no quoted line of test code). Errors of the learner's own cells keep their
traceback.
"""

from __future__ import annotations

from nbformat import NotebookNode, v4
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

# Joins a line's number to the line while nbgrader's rule reads it; nbgrader looks for its
# markers inside a line, and no marker holds this character.
_SEPARATOR = "\0"
_RULE = ClearHiddenTests()


def _instructors(cell: NotebookNode) -> bool:
    """Whether ``cell`` is the instructor's (a test or a locked cell, which nbgrader restores
    from the source when it grades), not the learner's."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade") or meta.get("locked"))


def hidden_line_numbers(source: str) -> frozenset[int]:
    """The line numbers (from 1) of ``source`` that nbgrader's ClearHiddenTests removes: the
    hidden regions, their marker lines included.

    A region nbgrader refuses (no end, or nested) hides every line: the release fails on such
    a source, and the grader and the leak check then hold all of it secret rather than none.
    """
    lines = source.split("\n")
    numbered = "\n".join(f"{n}{_SEPARATOR}{line}" for n, line in enumerate(lines, 1))
    cell = v4.new_code_cell(numbered, metadata={"nbgrader": {"grade": True}})
    every = frozenset(range(1, len(lines) + 1))
    try:
        _RULE.preprocess_cell(cell, {}, 0)
    except RuntimeError:  # nbgrader: "No end hidden tests statement found", or nested
        return every
    kept = {int(line.partition(_SEPARATOR)[0]) for line in cell.source.split("\n")
            if _SEPARATOR in line}
    return every - kept


class ClearHiddenTestsInTests(ClearHiddenTests):
    """nbgrader's ClearHiddenTests on the instructor's cells only. A learner's cell is shown as
    written: nbgrader would refuse the whole page for a marker there (alone, or a region outside
    a test cell), and a learner who quotes a hidden test is the leak check's to catch."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        if not _instructors(cell):
            return cell, resources
        return super().preprocess_cell(cell, resources, index)


class HideTestTracebacks(NbGraderPreprocessor):
    """Reduce each error of an instructor's cell to ``Name: message``: a traceback would quote
    the failing line of a (hidden) test."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        if not _instructors(cell):
            return cell, resources
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                line = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".rstrip(": ")
                output["traceback"] = [line]
        return cell, resources

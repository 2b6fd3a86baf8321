"""``HideHiddenTests``: the feedback preprocessor that keeps hidden tests hidden.

nbgrader's feedback shows every test cell as it ran, hidden tests included, and a failing
test's traceback quotes the line that failed. This preprocessor, run by ``generate_feedback``
after GetGrades, replaces each ``### BEGIN HIDDEN TESTS`` … ``### END HIDDEN TESTS`` region with
one comment line, and reduces every error output of a test cell to ``Name: message`` (no
frames, so no quoted line of test code). Errors of the learner's own cells keep their
traceback.
"""

from __future__ import annotations

import re

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

HIDDEN = re.compile(r"^[ \t]*#+\s*BEGIN HIDDEN TESTS.*?^[ \t]*#+\s*END HIDDEN TESTS[^\n]*\n?",
                    re.DOTALL | re.MULTILINE)
PLACEHOLDER = "# (hidden tests: not shown)\n"


def hide_hidden_tests(source: str) -> str:
    """``source`` with every hidden-test region replaced by one comment line."""
    return HIDDEN.sub(PLACEHOLDER, source)


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden tests and test tracebacks from a notebook bound for feedback."""

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not (meta.get("grade") or meta.get("locked")):
            return cell, resources
        cell.source = hide_hidden_tests(cell.source)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                line = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".rstrip(": ")
                output["traceback"] = [line]
        return cell, resources

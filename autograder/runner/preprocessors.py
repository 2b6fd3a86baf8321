"""nbgrader preprocessors of the course."""

from __future__ import annotations

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.runner.sanitise import clean_notebook


class StderrToStdout(NbGraderPreprocessor):
    """Turn every stderr stream output into a stdout one, keeping its text.

    nbgrader counts any stderr output in a test cell as a failure, so a warning printed by a
    library (or a progress bar) would zero a correct answer. Errors raised by a cell are
    separate ``error`` outputs and still fail it.
    """

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                output["name"] = "stdout"
        return cell, resources


class SanitiseOutputs(NbGraderPreprocessor):
    """Make every output and markdown cell inert (``autograder.runner.sanitise``).

    In ``autograde`` it runs right after execution, so the graded notebook that formgrader
    shows and that feedback is made from holds no learner script, event handler, frame or
    ``javascript:`` link; ``generate_feedback`` runs it again (defence in depth). Error and
    stream outputs, by which nbgrader grades, are kept as they are.
    """

    def preprocess(self, nb: NotebookNode, resources: dict):
        for note in clean_notebook(nb):
            self.log.warning("%s: removed %s", resources.get("unique_key", "notebook"), note)
        return nb, resources


"""nbgrader preprocessors of the course."""

from __future__ import annotations

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor


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

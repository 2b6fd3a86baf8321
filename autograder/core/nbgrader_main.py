"""``python -m autograder.core.nbgrader_main ARGS``: nbgrader's command line (``nbgrader ARGS``)
in a process that has imported the ``autograder`` package first, and so goes without what that
package's import leaves out (``autograder/__init__.py``: 0.7 s of every process that reads a
notebook). ``core.course.run_nbgrader`` runs nbgrader this way."""

import runpy

import autograder  # noqa: F401  (first: before nbgrader imports nbformat)

runpy.run_module("nbgrader", run_name="__main__", alter_sys=True)

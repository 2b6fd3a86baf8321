"""The instructors' command line around nbgrader: ``python -m autograder <command>``.

nbgrader is the engine (generation, execution, gradebook, formgrader, feedback). The layers:

* ``cli``: the command table; ``commands``: one module per command (release, collect, grade,
  score, feedback, export);
* ``core``: submissions and typed results, reading and repairing notebooks, the template
  course, grading a batch, scheduling a class here or on a Dask cluster, writing the
  gradebook (SQLite or PostgreSQL);
* ``runner``: what nbgrader runs: the learner's cells in a sandboxed kernel, the tests in the
  grader across a data-only boundary, and the course's preprocessors;
* ``keys``: references and test helpers (grader side only);
* ``settings``: the one place for paths, limits, cell roles and the nbgrader configuration.
"""

import sys

# jsonschema, which nbformat imports, optionally imports rfc3987-syntax to check the "iri"
# format; that package compiles a grammar when imported, 1.7 s at the start of every grading
# process. Notebook schemas use no such format, so the grader goes without it.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

__version__ = "0.2.0"

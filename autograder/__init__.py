"""The instructors' command line around nbgrader: ``python -m autograder <command>``.

nbgrader is the engine (generation, execution, gradebook, formgrader); this package adds the
course's configuration and the commands ``release``, ``collect``, ``grade`` (parallel, each
submission's kernel in a bubblewrap sandbox), ``feedback`` (hidden tests removed), ``export``
and ``score``, with clear messages instead of tracebacks. Module map: cli (the command
table), course, notebooks, release, collect, grade with worker (long-lived grading
processes), engine (one scratch-course batch),
repair, integrity, execute and sandbox (the guarded, sandboxed kernel), gradebook, feedback
with hidetests, export, score.
"""

__version__ = "0.1.0"

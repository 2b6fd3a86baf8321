"""The instructors' command line around nbgrader: ``python -m autograder <command>``.

nbgrader is the engine (generation, execution, gradebook); this package adds the course's
configuration, a one-notebook ``score`` command, and clear messages instead of tracebacks.
"""

__version__ = "0.1.0"

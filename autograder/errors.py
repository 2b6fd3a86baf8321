"""The autograder's own errors: the CLI prints them as one line, never as a traceback."""


class AutograderError(Exception):
    """Base class: something the user can fix; the message says how."""


class UnreadableNotebook(AutograderError):
    """The file is missing, is not JSON, or is not a Jupyter notebook."""


class UnknownAssignment(AutograderError):
    """No assignment in solutions/ matches the notebook or the name given."""


class NbgraderFailed(AutograderError):
    """nbgrader itself stopped with an error (its last log lines are in the message)."""


class SandboxUnavailable(AutograderError):
    """Learners' code would have to run without the bubblewrap sandbox."""

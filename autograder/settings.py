"""One place for the grading settings: the course's paths, the limits of a submission, the
sandbox, the roles of notebook cells, and the nbgrader configuration files.

The course's folders are nbgrader's: ``CourseDirectory`` as the course's nbgrader
configuration (``nbgrader_config.py`` beside this file) sets it, read here once per process.
What nbgrader has no place for (the cache, the logs, the results, the exports) lives in the
folder that holds nbgrader's submitted, autograded and feedback folders, :func:`grading_dir`.
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.errors import AutograderError

if TYPE_CHECKING:
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

PACKAGE = Path(__file__).resolve().parent
NBGRADER_CONFIG = PACKAGE / "nbgrader_config.py"  # the course's nbgrader configuration
COURSE_ID = "rnn-course"  # as CourseDirectory.course_id in nbgrader_config.py


# -- paths ------------------------------------------------------------------------------------

@functools.cache
def course_config() -> Config:
    """The course's nbgrader configuration (``NBGRADER_CONFIG``), loaded as nbgrader loads
    a configuration file. A course root's own ``nbgrader_config.py`` loads it and may add to
    it (the repository's may name a PostgreSQL gradebook: ``course.gradebook_url`` reads it)."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader(NBGRADER_CONFIG.name, path=str(NBGRADER_CONFIG.parent)).load_config()


@functools.cache
def course_directory() -> CourseDirectory:
    """nbgrader's ``CourseDirectory`` as the course's configuration sets it. Its folders are
    relative to a course root, which each function below takes; its own root is not read (it
    is set, not left to the working folder, which a grading process may have removed)."""
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(config=course_config(), root=os.sep)


def grading_dir(root: Path) -> Path:
    """The folder of everything grading writes: the one holding nbgrader's submitted,
    autograded and feedback folders (``grading/``)."""
    course = course_directory()
    steps = (course.submitted_directory, course.autograded_directory, course.feedback_directory)
    return root / os.path.commonpath(steps)


def gradebook_file(root: Path) -> Path:
    """The SQLite file of the gradebook the course's configuration names (``db_url``)."""
    url = course_directory().db_url
    if not url.startswith("sqlite:///"):
        raise AutograderError(f"{NBGRADER_CONFIG}: CourseDirectory.db_url is {url!r}, not a "
                              "SQLite file; name another database in the course root's "
                              "nbgrader_config.py instead")
    return root / url.removeprefix("sqlite:///")


def db_url(root: Path) -> str:
    """The SQLAlchemy address of the SQLite gradebook of the course at ``root``."""
    return f"sqlite:///{gradebook_file(root)}"


def submitted_dir(root: Path) -> Path:
    return root / course_directory().submitted_directory


def autograded_dir(root: Path) -> Path:
    return root / course_directory().autograded_directory


def feedback_dir(root: Path) -> Path:
    return root / course_directory().feedback_directory


def results_dir(root: Path) -> Path:
    return grading_dir(root) / "results"


def cache_dir(root: Path) -> Path:
    return grading_dir(root) / "cache"


def logs_dir(root: Path) -> Path:
    return grading_dir(root) / "logs"


def export_dir(root: Path) -> Path:
    return grading_dir(root) / "export"


# -- cell roles -------------------------------------------------------------------------------
# A source notebook's cells run where their role says (see autograder.runner.plan):
#   test cells (nbgrader grade cells) and cells tagged GRADER_TAG run in the grader only;
#   cells tagged NOT_GRADED_TAG (demonstrations, long training runs) run only in JupyterLab;
#   other locked code cells (imports) run in both; everything else in the learner's kernel.
GRADER_TAG = "grader"
NOT_GRADED_TAG = "not-graded"

# Packages a learner's kernel may import when an assignment does not list its own in the
# source notebook's metadata (``metadata.rnncourse.kernel_packages``). The kernel itself
# (ipykernel and what it needs) is always there; nothing else is on disk in the sandbox:
# no deep-learning framework, no course package, no grader.
DEFAULT_KERNEL_PACKAGES = ("numpy", "scipy", "matplotlib")
KERNEL_BASE_PACKAGES = ("ipykernel",)


# -- limits -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Limits:
    """The limits of grading one submission (the defaults suit the course's assignments)."""

    cell_timeout: int = 60  # seconds one cell (or one test) may run
    notebook_timeout: int = 600  # seconds all of a notebook's cells may take together
    sandbox: str = "bwrap"  # bwrap: required; none: no sandbox (trusted notebooks only)
    cpu_seconds: int = 600  # CPU time of all the submission's processes together
    memory_mb: int = 4096  # memory of all the submission's processes together (cgroup)
    processes: int = 64  # processes and threads of the submission
    tmp_mb: int = 256  # size of the sandbox's /tmp
    workdir_mb: int = 256  # size of the kernel's working folder
    file_mb: int = 64  # the largest file the kernel may write
    max_output_bytes: int = 2_000_000  # output kept per notebook; the rest is dropped
    max_message_bytes: int = 16 * 2**20  # the largest message accepted from a kernel
    max_text_chars: int = 2_000  # an error's message, a test's failure message
    max_notebook_bytes: int = 20 * 2**20  # a larger file is graded as blank
    max_cell_chars: int = 200_000  # a cell this long is graded as blank (the notebook)
    max_cells: int = 1_000  # a notebook with more cells is graded as blank
    repair_seconds: int = 30  # time allowed to put a damaged notebook back in shape
    # The grading process's own memory (nbgrader, the tests, the references, what it decodes
    # from the kernel) while it grades one submission: a control group on the process as
    # root, else a cap on its data segment. A grading that outgrows it is stopped, flagged.
    grader_memory_mb: int = 2048
    startup_seconds: int = 120  # beyond the notebook's time: the grader's start, the kernel's

    @property
    def submission_timeout(self) -> int:
        """Wall time of one whole submission: reading, repair, start-up and execution. The
        outer limit of the process that grades it (``core.worker``): past it, that process
        is killed and the submission flagged, not graded again."""
        return self.notebook_timeout + self.repair_seconds + self.startup_seconds

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Limits:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def nbgrader_config(self, source_dir: Path) -> str:
        """The scratch course's nbgrader_config.py: the course's, with these limits."""
        return "\n".join([
            "c = get_config()  # noqa: F821",
            f"load_subconfig({str(NBGRADER_CONFIG)!r})  # noqa: F821",
            f"c.Execute.timeout = {self.cell_timeout}",
            f"c.SplitExecute.limits = {self.as_dict()!r}",
            f"c.SplitExecute.source_dir = {str(source_dir)!r}",
            "",
        ])

"""Where the course lives and how to run nbgrader on it.

A *course root* holds ``solutions/<assignment>/<notebook>.ipynb`` and the nbgrader
configuration ``autograder/nbgrader_config.py``. The repository is one; ``score`` builds a
temporary one per notebook.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from autograder.errors import AutograderError, NbgraderFailed, UnknownAssignment
from autograder.settings import NBGRADER_CONFIG, db_url, grading_dir


def find_root(start: Path | None = None) -> Path:
    """Return the course root: $RNNCOURSE_ROOT, else the nearest folder above ``start`` (the
    working directory) with a solutions/ folder, else the checkout this package lives in."""
    if os.environ.get("RNNCOURSE_ROOT"):
        return Path(os.environ["RNNCOURSE_ROOT"]).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "solutions").is_dir() and (folder / "autograder").is_dir():
            return folder
    return Path(__file__).resolve().parents[2]


def assignments(root: Path) -> list[str]:
    """Names of the assignments in ``root/solutions``, sorted."""
    src = root / "solutions"
    return sorted(p.name for p in src.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def source_notebook(root: Path, assignment: str) -> Path:
    """The source notebook of ``assignment`` (each assignment has one notebook)."""
    nbs = sorted((root / "solutions" / assignment).glob("*.ipynb"))
    if not nbs:
        known = ", ".join(assignments(root)) or "none"
        raise UnknownAssignment(
            f"no assignment named {assignment!r} in {root / 'solutions'} (known: {known})"
        )
    return nbs[0]


def ensure_bin_on_path() -> None:
    """Put this Python's bin folder first on PATH: nbgrader's Gradebook runs ``alembic`` from
    PATH when it creates a database, and kernels start from it."""
    bindir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = os.pathsep.join([bindir, os.environ.get("PATH", "")])


def child_env() -> dict[str, str]:
    """The environment of the nbgrader processes we start: this Python's bin folder first on
    PATH (nbgrader runs ``alembic`` and kernels from it), Python's warnings off (SQLAlchemy's
    notes on nbgrader's models would bury its log)."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "PYTHONWARNINGS": "ignore"}


def gradebook_url(root: Path, db: str | None = None) -> str:
    """The address of the course's gradebook: ``db`` (``--db``) when given, else
    ``CourseDirectory.db_url`` of the course's own ``nbgrader_config.py`` (the one formgrader
    and nbgrader's tools read from the course root), else SQLite ``grading/gradebook.db``.
    A relative SQLite path is taken from ``root``; ``postgresql://`` uses psycopg (3), the
    driver installed and the one SQLAlchemy picks for it, here as in formgrader."""
    url = db or _configured_db_url(root) or db_url(root)
    if url.startswith("postgres://"):  # an older spelling SQLAlchemy no longer reads
        url = "postgresql://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        relative = url.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            url = f"sqlite:///{(root / relative).resolve()}"
    return url


def _configured_db_url(root: Path) -> str | None:
    config_file = root / "nbgrader_config.py"
    if not config_file.exists():
        return None
    from traitlets.config.loader import PyFileConfigLoader

    try:
        config = PyFileConfigLoader(config_file.name, path=str(root)).load_config()
    except Exception as err:  # noqa: BLE001  (any error in the user's configuration file)
        raise AutograderError(f"{config_file} cannot be read ({type(err).__name__}: {err}): "
                              "fix it, or pass the gradebook's address with --db") from None
    value = config.CourseDirectory.get("db_url") if "CourseDirectory" in config else None
    return str(value) if value else None


def run_nbgrader(root: Path, *args: str, timeout: float | None = None,
                 check: bool = True, db: str | None = None,
                 memory_mb: int | None = None) -> str:
    """Run ``nbgrader <args>`` with the course configuration in ``root``; return its log.

    The gradebook is ``db`` (an address), by default the SQLite file in ``root``'s grading/
    folder (a scratch course's). With ``check``, raises NbgraderFailed with the end of
    nbgrader's log when it exits non-zero (without, the caller reads the gradebook to see
    what was graded). ``memory_mb`` caps the data segment of nbgrader's process (where
    ``prlimit`` exists: util-linux). On ``timeout``, the process is killed and
    ``subprocess.TimeoutExpired`` raised.
    """
    config = root / "nbgrader_config.py"
    if not config.exists():  # a temporary course: point it at the course configuration
        config.write_text(f"c = get_config()\nload_subconfig({str(NBGRADER_CONFIG)!r})\n")
    prefix = []
    if memory_mb and shutil.which("prlimit"):
        prefix = ["prlimit", f"--data={memory_mb * 2**20}", "--"]
    cmd = [
        *prefix, sys.executable, "-m", "autograder.core.nbgrader_main", *args,
        f"--CourseDirectory.root={root}",
        f"--CourseDirectory.db_url={db or db_url(root)}",
    ]
    grading_dir(root).mkdir(exist_ok=True)
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout,
                          env=child_env(), stdin=subprocess.DEVNULL)
    log = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        tail = "\n".join(log.strip().splitlines()[-8:])
        raise NbgraderFailed(f"nbgrader {args[0]} failed:\n{tail}")
    return log

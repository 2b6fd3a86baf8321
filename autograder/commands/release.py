"""Generate the student release (exercises/) from the sources (solutions/) with nbgrader.

nbgrader's generate_assignment stubs out solutions, strips hidden tests and outputs, and
locks cells. We run it in a temporary course so that generating never touches the gradebook,
then check the result before replacing exercises/<assignment>.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from autograder.core.course import assignments, run_nbgrader
from autograder.errors import AutograderError
from autograder.settings import course_config

LEFTOVER_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def generate(root: Path, assignment: str, dest: Path) -> Path:
    """Generate the release of ``assignment`` into ``dest/<assignment>``; return that folder."""
    with tempfile.TemporaryDirectory(prefix="rnncourse-release-") as tmp:
        course = Path(tmp)
        shutil.copytree(root / "solutions" / assignment, course / "solutions" / assignment)
        run_nbgrader(course, "generate_assignment", assignment, "--force", "--no-db")
        out = dest / assignment
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(course / "exercises" / assignment, out)
    check_release(out)
    return out


def check_release(folder: Path) -> None:
    """Raise AutograderError if a released file still holds a solution or hidden-test marker."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in {".ipynb", ".py", ".md", ".txt"}:
            text = path.read_text(encoding="utf-8", errors="replace")
            found = [m for m in LEFTOVER_MARKERS if m in text]
            if found:
                raise AutograderError(
                    f"{path}: the release still contains {found[0]!r}; check the markers in "
                    f"the source notebook (### BEGIN/END SOLUTION, ### BEGIN/END HIDDEN TESTS)"
                )


def check_fails_validation(folder: Path) -> None:
    """Raise AutograderError unless nbgrader's validator fails each released notebook.

    A release that *passes* validation gives full marks to a learner who changed nothing:
    the stubs are missing, or the tests do not test. The check reads the cells nbgrader's
    ``Validator.validate`` returns as failed, not the warning it prints (which instructors can
    reword), and runs with the course's configuration. (Executes the notebooks: slow.)
    """
    from nbgrader.validator import Validator

    for path in sorted(folder.glob("*.ipynb")):
        found = Validator(config=course_config()).validate(str(path))
        if found.get("changed") or found.get("type_changed"):
            raise AutograderError(
                f"{path}: nbgrader finds test or locked cells changed since they were "
                "generated, so it tests nothing; regenerate the release (autograder release)")
        if not found.get("failed"):
            raise AutograderError(
                f"{path}: the release passes `nbgrader validate`, so a learner who writes "
                "nothing would get full marks; check that each answer cell has a "
                "### BEGIN/END SOLUTION region and that the tests call the answers")


def release(root: Path, names: list[str] | None = None, validate: bool = False) -> list[Path]:
    """Regenerate exercises/ for ``names`` (default: every assignment); return the folders.

    With ``validate``, also check that each release fails ``nbgrader validate``.
    """
    folders = [generate(root, name, root / "exercises") for name in (names or assignments(root))]
    if validate:
        for folder in folders:
            check_fails_validation(folder)
    return folders

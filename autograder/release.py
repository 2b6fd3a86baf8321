"""Generate the student release (exercises/) from the sources (solutions/) with nbgrader.

nbgrader's generate_assignment stubs out solutions, strips hidden tests and outputs, and
locks cells. We run it in a temporary course so that generating never touches the gradebook,
then check the result before replacing exercises/<assignment>.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from autograder.course import assignments, run_nbgrader
from autograder.errors import AutograderError

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


def release(root: Path, names: list[str] | None = None) -> list[Path]:
    """Regenerate exercises/ for ``names`` (default: every assignment); return the folders."""
    return [generate(root, name, root / "exercises") for name in (names or assignments(root))]

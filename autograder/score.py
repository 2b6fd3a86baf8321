"""Grade learner notebooks against their assignment, hidden tests included.

For each assignment we keep a *template course*: a folder holding only that assignment's
source, generated once by nbgrader (which records every test cell, hidden tests included, in
a fresh gradebook). It lives in ``grading/cache/`` and is rebuilt when the source changes.
To grade, we copy the template to a temporary folder, submit each notebook as its own
student, run ``nbgrader autograde`` once (it restores every test and locked cell from the
source before executing), and read the grades back from the gradebook: see
``autograder.engine``, shared with ``grade``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from autograder.course import find_root, run_nbgrader, source_notebook
from autograder.engine import GradeOptions, Submission, autograde_batch, failure_message
from autograder.notebooks import match_assignment, read_notebook

__all__ = ["GradeOptions", "failure_message", "format_report", "score_many", "score_notebook",
           "template_course"]

STUDENT = "learner"


def _source_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(folder).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def template_course(root: Path, assignment: str) -> Path:
    """The generated template course of ``assignment``, built once per version of its source."""
    src = source_notebook(root, assignment).parent
    cache = root / "grading" / "cache" / f"{assignment}-{_source_hash(src)}"
    if (cache / "grading" / "gradebook.db").exists():
        return cache
    cache.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{assignment}-", dir=cache.parent))
    shutil.copytree(src, build / "solutions" / assignment)
    run_nbgrader(build, "generate_assignment", assignment, "--force")
    (build / "nbgrader_config.py").unlink()  # written again for wherever the copy lands
    try:
        os.rename(build, cache)
    except OSError:  # another process built it first
        shutil.rmtree(build, ignore_errors=True)
    return cache


def score_many(paths: list[Path | str], assignment: str, root: Path | None = None, *,
               options: GradeOptions | None = None) -> list[dict]:
    """Grade several notebooks of one assignment in one nbgrader run; results in order.

    Each result is {assignment, score, max_score, tests: [{name, points, max_points,
    passed, message}], flagged, flags, repairs}; ``message`` is empty for a passed test and
    says what went wrong otherwise, ``flags`` lists signs of tampering or hostile code (the
    points of a tampered submission are withheld), ``repairs`` what was put back in shape.
    Each notebook runs in its own sandboxed kernel (see ``autograder.sandbox``).
    """
    root = root or find_root()
    source_notebook(root, assignment)  # an unknown assignment fails here, before any work
    subs = [Submission(STUDENT if len(paths) == 1 else f"{STUDENT}{i:04d}",
                       read_notebook(Path(p)), filename=Path(p).name)
            for i, p in enumerate(paths)]
    with tempfile.TemporaryDirectory(prefix="rnncourse-score-") as tmp:
        results = autograde_batch(root, assignment, subs, Path(tmp), options)
    return [results[sub.student] for sub in subs]


def score_notebook(path: Path | str, assignment: str | None = None,
                   root: Path | None = None, *, options: GradeOptions | None = None) -> dict:
    """Grade one notebook; find its assignment from its name or cell ids unless given."""
    path = Path(path)
    root = root or find_root()
    assignment = assignment or match_assignment(root, path, read_notebook(path))
    return score_many([path], assignment, root, options=options)[0]


def format_report(result: dict) -> str:
    """A plain-text report of a result, one line per test."""
    lines = [f"{result['assignment']}: {result['score']:g} / {result['max_score']:g} points"]
    for t in result["tests"]:
        mark = "pass" if t["passed"] else "FAIL"
        line = f"  {mark}  {t['name']}  {t['points']:g}/{t['max_points']:g}"
        lines.append(line + (f"  {t['message']}" if t["message"] else ""))
    lines += [f"  repaired: {r}" for r in result.get("repairs", [])]
    if result.get("flagged"):
        lines.append("  FLAGGED for manual review:")
        lines += [f"    {f}" for f in result.get("flags", [])]
    return "\n".join(lines)

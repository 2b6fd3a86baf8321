"""``feedback``: nbgrader's HTML feedback, without hidden tests or test tracebacks.

``nbgrader generate_feedback`` runs with the course configuration, whose feedback
preprocessors include ``HideHiddenTests`` (``autograder.runner.hidetests``). Afterwards every HTML
file is checked: one that still contains a hidden-test marker or a line of a hidden test is
deleted and reported, so a configuration mistake cannot leak the tests.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from autograder.core.course import assignments as course_assignments
from autograder.core.course import gradebook_url, run_nbgrader, source_notebook
from autograder.core.gradebook import check
from autograder.errors import AutograderError
from autograder.runner.hidetests import HIDDEN
from autograder.settings import autograded_dir, feedback_dir


def hidden_lines(root: Path, assignment: str) -> list[str]:
    """The non-trivial lines of the source's hidden tests (what feedback must never show)."""
    lines = []
    for cell in nbformat.read(source_notebook(root, assignment), 4).cells:
        for region in HIDDEN.findall(cell.source):
            lines += [ln.strip() for ln in region.splitlines()[1:-1]
                      if len(ln.strip()) > 12 and not ln.strip().startswith("#")]
    return lines


def feedback(root: Path, names: list[str] | None = None, db: str | None = None) -> list[Path]:
    """Generate the feedback of every autograded submission of ``names`` (default: all),
    with the grades of the gradebook ``db`` (default: the course's, SQLite or PostgreSQL)."""
    db = gradebook_url(root, db)
    known = course_assignments(root)
    out = []
    for assignment in names or known:
        if assignment not in known:
            raise AutograderError(f"no assignment named {assignment!r} (known: {', '.join(known)})")
        if not list(autograded_dir(root).glob(f"*/{assignment}")):
            continue
        check(db)
        run_nbgrader(root, "generate_feedback", assignment, "--force", db=db)
        secrets = hidden_lines(root, assignment)
        for html in sorted(feedback_dir(root).glob(f"*/{assignment}/*.html")):
            text = html.read_text(encoding="utf-8", errors="replace")
            plain = re.sub(r"<[^>]+>", "", text)
            leaked = "HIDDEN TESTS" in text or any(s in plain for s in secrets)
            if leaked:
                html.unlink()
                raise AutograderError(f"{html}: the feedback still shows hidden tests; it was "
                                      "deleted. Check GenerateFeedback.preprocessors in "
                                      "autograder/nbgrader_config.py")
            out.append(html)
    return out

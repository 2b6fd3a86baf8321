"""``export``: the grades as CSV (nbgrader's export) plus a per-test breakdown.

``grades.csv`` is what ``nbgrader export`` writes (one row per student and assignment);
``tests.csv`` has one row per student, assignment and test: the automatic and manual
points, the points that count, the maximum, and whether the submission is flagged.
"""

from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import Gradebook

from autograder.core.course import gradebook_url, run_nbgrader
from autograder.core.gradebook import check
from autograder.settings import export_dir

TEST_COLUMNS = ["student", "assignment", "notebook", "test", "points", "max_points",
                "auto_score", "manual_score", "flagged"]


def export(root: Path, dest: Path | None = None, db: str | None = None) -> tuple[Path, Path]:
    """Write ``grades.csv`` and ``tests.csv`` of the gradebook ``db`` (default: the course's,
    SQLite or PostgreSQL) into ``dest`` (default grading/export)."""
    db = gradebook_url(root, db)
    check(db)
    dest = Path(dest or export_dir(root))
    dest.mkdir(parents=True, exist_ok=True)
    grades, tests = dest / "grades.csv", dest / "tests.csv"
    run_nbgrader(root, "export", f"--CsvExportPlugin.to={grades}", db=db)
    with Gradebook(db) as gb, open(tests, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(TEST_COLUMNS)
        for assignment in sorted(gb.assignments, key=lambda a: a.name):
            for sub in sorted(assignment.submissions, key=lambda s: s.student.id):
                for nb in sub.notebooks:
                    for g in sorted(nb.grades, key=lambda g: g.name):
                        writer.writerow([sub.student.id, assignment.name, nb.name, g.name,
                                         g.score, g.max_score, g.auto_score, g.manual_score,
                                         int(bool(nb.flagged))])
    return grades, tests

"""``grade``: autograde every collected submission, in parallel, each in a sandboxed kernel.

Submissions are ``grading/submitted/<student>/<assignment>/*.ipynb`` (``collect`` puts them
there). The work is split into small batches; each batch is graded by ``engine.autograde_batch``
in its own scratch course (one ``nbgrader autograde`` process, one sandboxed kernel per
notebook), ``--jobs`` batches at a time. The main process stores each result in the course's
gradebook as soon as its batch is done (``gradebook.store``: one transaction per submission),
so formgrader, ``feedback`` and ``export`` see it. A submission whose result file records the
same notebook (by content hash) is skipped unless ``force``.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from autograder import gradebook
from autograder.course import assignments as course_assignments
from autograder.course import source_notebook
from autograder.engine import GradeOptions, Submission, autograde_batch, autograded_dir
from autograder.errors import AutograderError, UnreadableNotebook
from autograder.notebooks import read_notebook
from autograder.score import template_course

MAX_BATCH = 8


@dataclass
class Pending:
    """One submission found in grading/submitted."""

    student: str
    assignment: str
    path: Path | None  # the notebook file; None when the folder holds none
    digest: str


def submitted_dir(root: Path) -> Path:
    return root / "grading" / "submitted"


def _pick_notebook(folder: Path, notebook_id: str) -> Path | None:
    exact = folder / f"{notebook_id}.ipynb"
    if exact.exists():
        return exact
    others = sorted(folder.glob("*.ipynb"))
    return others[0] if others else None


def _digest(path: Path | None) -> str:
    if path is None:
        return "missing"
    return hashlib.sha256(path.name.encode() + b"\0" + path.read_bytes()).hexdigest()


def find_submissions(root: Path, assignment: str) -> list[Pending]:
    """Every learner's submission of ``assignment``, sorted by student."""
    notebook_id = source_notebook(root, assignment).stem
    out = []
    base = submitted_dir(root)
    for folder in sorted(base.glob(f"*/{assignment}")) if base.is_dir() else []:
        if folder.is_dir():
            path = _pick_notebook(folder, notebook_id)
            out.append(Pending(folder.parent.name, assignment, path, _digest(path)))
    return out


def is_graded(root: Path, pending: Pending) -> bool:
    record = gradebook.read_result(root, pending.assignment, pending.student)
    return bool(record) and record.get("digest") == pending.digest


def _load(p: Pending) -> Submission:
    if p.path is None:
        return Submission(p.student, None, problem="the submission folder holds no notebook")
    try:
        return Submission(p.student, read_notebook(p.path), filename=p.path.name)
    except UnreadableNotebook as err:
        return Submission(p.student, None, filename=p.path.name,
                          problem=f"unreadable notebook: {err}")


def _grade_batch(root: Path, assignment: str, batch: list[Pending], options: GradeOptions):
    workdir = Path(tempfile.mkdtemp(prefix="rnncourse-grade-"))
    try:
        results = autograde_batch(root, assignment, [_load(p) for p in batch], workdir, options)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return workdir, results


def grade(root: Path, names: list[str] | None = None, *, jobs: int | None = None,
          force: bool = False, options: GradeOptions | None = None, batch_size: int = 0,
          progress: bool = True) -> list[dict]:
    """Grade the submissions of ``names`` (default: every assignment); one row per submission
    graded now: {student, assignment, score, max_score, flagged, ...}."""
    options = options or GradeOptions()
    jobs = max(1, jobs or os.cpu_count() or 1)
    known = course_assignments(root)
    for name in names or []:
        if name not in known:
            raise AutograderError(f"no assignment named {name!r} (known: {', '.join(known)})")
    rows = []
    for assignment in names or known:
        todo = [p for p in find_submissions(root, assignment) if force or not is_graded(root, p)]
        if not todo:
            continue
        template = template_course(root, assignment)
        # One nbgrader process per batch: batches as large as an even split allows (startup
        # costs seconds), at most MAX_BATCH (what a killed run can lose).
        size = batch_size or max(1, min(MAX_BATCH, math.ceil(len(todo) / jobs)))
        batches = [todo[i:i + size] for i in range(0, len(todo), size)]
        bar = tqdm(total=len(todo), desc=f"grade {assignment}", unit="nb", disable=not progress)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(_grade_batch, root, assignment, b, options): b
                       for b in batches}
            gradebook.ensure_assignment(root, assignment, template)  # while the batches run
            for future in as_completed(futures):
                workdir, results = future.result()
                try:
                    for p in futures[future]:
                        result = {**results[p.student], "student": p.student,
                                  "digest": p.digest}
                        gradebook.store(root, assignment, p.student,
                                        autograded_dir(workdir, p.student, assignment), result)
                        rows.append(result)
                        bar.update(1)
                finally:
                    shutil.rmtree(workdir, ignore_errors=True)
        bar.close()
    return rows

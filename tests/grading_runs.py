"""Grade every catalogue notebook once per test session, through the real autograder.

For each assignment, one ``autograder.score.score_many`` run grades the solution, the
release, every mutant and every alternative of that assignment (one nbgrader course, one
kernel per notebook); two assignments are graded at a time (CI has two cores).
"""

from __future__ import annotations

import functools
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from autograder.score import score_many
from tests.mutations import ALTERNATIVES, MUTANTS, ROOT, learner_notebook

ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir()
                     if (p / f"{p.name}.ipynb").exists())
WORKERS = 2


def _jobs(assignment: str) -> dict[str, nbformat.NotebookNode]:
    jobs = {
        "solution": nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", 4),
        "release": nbformat.read(ROOT / "exercises" / assignment / f"{assignment}.ipynb", 4),
    }
    for v in MUTANTS + ALTERNATIVES:
        if v.assignment == assignment:
            jobs[v.id] = learner_notebook(assignment, v)
    return jobs


def _grade(assignment: str) -> tuple[dict[str, dict], float]:
    jobs = _jobs(assignment)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"catalogue-{assignment}-") as tmp:
        paths = []
        for i, nb in enumerate(jobs.values()):
            folder = Path(tmp) / f"{i:03d}"
            folder.mkdir()
            paths.append(folder / f"{assignment}.ipynb")
            nbformat.write(nb, paths[-1])
        results = score_many(paths, assignment)
    return dict(zip(jobs, results, strict=True)), time.perf_counter() - start


@functools.cache
def graded() -> dict[str, dict[str, dict]]:
    """assignment -> (solution | release | variant id) -> the autograder's result dict."""
    with ThreadPoolExecutor(WORKERS) as pool:
        out = dict(zip(ASSIGNMENTS, pool.map(_grade, ASSIGNMENTS), strict=True))
    for name, (_, seconds) in out.items():
        print(f"graded {len(out[name][0])} notebooks of {name} in {seconds:.1f} s")
    return {name: results for name, (results, _) in out.items()}

"""Grade every catalogue notebook once per test session, through the real autograder.

For each assignment, one ``autograder.commands.score.score_many`` run grades the solution, the
release, every mutant and every alternative of that assignment (one nbgrader course, one
kernel per notebook); two assignments are graded at a time (CI has two cores), each in a
process of its own (``score_many`` runs nbgrader in process, and nbgrader is not
thread-safe).
"""

from __future__ import annotations

import functools
import multiprocessing
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat

from autograder.commands.score import score_many
from tests.autograder.catalogues.mutations import ALTERNATIVES, MUTANTS, ROOT, learner_notebook

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
    start = time.perf_counter()
    try:
        return _grade_all(assignment, start)
    except Exception:  # recorded once, reported by every test of this assignment
        return {"error": traceback.format_exc(limit=3)}, time.perf_counter() - start


def _grade_all(assignment: str, start: float) -> tuple[dict[str, dict], float]:
    jobs = _jobs(assignment)
    with tempfile.TemporaryDirectory(prefix=f"catalogue-{assignment}-") as tmp:
        paths = []
        for i, nb in enumerate(jobs.values()):
            folder = Path(tmp) / f"{i:03d}"
            folder.mkdir()
            paths.append(folder / f"{assignment}.ipynb")
            nbformat.write(nb, paths[-1])
        results = score_many(paths, assignment)
    return ({key: r.to_dict() for key, r in zip(jobs, results, strict=True)},
            time.perf_counter() - start)


@functools.cache
def graded() -> dict[str, dict[str, dict]]:
    """assignment -> (solution | release | variant id) -> the autograder's result dict."""
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn")) as pool:
        out = dict(zip(ASSIGNMENTS, pool.map(_grade, ASSIGNMENTS), strict=True))
    for name, (_, seconds) in out.items():
        print(f"graded {len(out[name][0])} notebooks of {name} in {seconds:.1f} s")
    return {name: results for name, (results, _) in out.items()}


def graded_result(assignment: str, key: str) -> dict:
    """The result of one graded notebook; fails the calling test if grading itself failed."""
    results = graded()[assignment]
    if "error" in results:
        raise AssertionError(f"grading {assignment} failed:\n{results['error']}")
    return results[key]

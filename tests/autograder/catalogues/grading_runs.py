"""Grade every catalogue notebook once per test session, through the real autograder.

The solution, the release, every mutant and every alternative of each assignment are graded
by ``autograder.commands.score.score_many`` (one nbgrader course, one kernel per notebook), in
chunks of at most ``CHUNK`` notebooks of one assignment: two chunks are graded at a time (CI
has two cores), each in a process of its own (``score_many`` runs nbgrader in process, and
nbgrader is not thread-safe), so that an assignment with a large catalogue does not leave one
core idle at the end.
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


CHUNK = 12


def _grade(chunk: tuple[str, list[str]]) -> tuple[dict[str, dict], float]:
    start = time.perf_counter()
    try:
        return _grade_chunk(*chunk), time.perf_counter() - start
    except Exception:  # recorded once, reported by every test of this assignment
        return {"error": traceback.format_exc(limit=3)}, time.perf_counter() - start


def _grade_chunk(assignment: str, keys: list[str]) -> dict[str, dict]:
    jobs = _jobs(assignment)
    with tempfile.TemporaryDirectory(prefix=f"catalogue-{assignment}-") as tmp:
        paths = []
        for i, key in enumerate(keys):
            folder = Path(tmp) / f"{i:03d}"
            folder.mkdir()
            paths.append(folder / f"{assignment}.ipynb")
            nbformat.write(jobs[key], paths[-1])
        results = score_many(paths, assignment)
    return {key: r.to_dict() for key, r in zip(keys, results, strict=True)}


def _chunks() -> list[tuple[str, list[str]]]:
    """(assignment, notebook keys) of at most CHUNK notebooks each, largest assignments first."""
    chunks = []
    for assignment in ASSIGNMENTS:
        try:
            keys = list(_jobs(assignment))
        except Exception:  # a broken catalogue entry: the chunk's worker records the error
            chunks.append((assignment, ["solution"]))
            continue
        n = -(-len(keys) // CHUNK)  # chunks of about equal size
        chunks += [(assignment, keys[i::n]) for i in range(n)]
    return sorted(chunks, key=lambda c: -len(c[1]))


@functools.cache
def graded() -> dict[str, dict[str, dict]]:
    """assignment -> (solution | release | variant id) -> the autograder's result dict."""
    chunks = _chunks()
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = list(pool.map(_grade, chunks))
    out: dict[str, dict[str, dict]] = {name: {} for name in ASSIGNMENTS}
    seconds: dict[str, float] = dict.fromkeys(ASSIGNMENTS, 0.0)
    for (assignment, _), (results, took) in zip(chunks, parts, strict=True):
        if "error" in results or "error" in out[assignment]:
            out[assignment] = {"error": results.get("error") or out[assignment]["error"]}
        else:
            out[assignment].update(results)
        seconds[assignment] += took
    for name in ASSIGNMENTS:
        print(f"graded {len(out[name])} notebooks of {name} in {seconds[name]:.1f} s "
              "(summed over its chunks)")
    return out


def graded_result(assignment: str, key: str) -> dict:
    """The result of one graded notebook; fails the calling test if grading itself failed."""
    results = graded()[assignment]
    if "error" in results:
        raise AssertionError(f"grading {assignment} failed:\n{results['error']}")
    return results[key]

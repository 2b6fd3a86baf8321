"""Grade every catalogue notebook once per test session, through the real autograder.

Each assignment's solution, its release, and its catalogue entries packed into notebooks
(``batches.pack``: one entry per function, each kept apart by a test of its own) are graded
by ``autograder.commands.score.score_many`` (one nbgrader course, one kernel per notebook),
in chunks of at most ``CHUNK`` notebooks of one assignment: two chunks are graded at a time
(CI has two cores), each in a process of its own (``score_many`` runs nbgrader in process,
and nbgrader is not thread-safe), largest first. A second round grades alone every entry
that its shared notebook could not decide (``batches``).
"""

from __future__ import annotations

import functools
import multiprocessing
import tempfile
import time
import traceback
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import nbformat

from autograder.commands.score import score_many
from tests.autograder.catalogues.batches import isolating_tests, pack
from tests.autograder.catalogues.mutations import (
    ALTERNATIVES,
    MUTANTS,
    ROOT,
    Variant,
    learner_notebook,
    reach_of_tests,
)

ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir()
                     if (p / f"{p.name}.ipynb").exists())
WORKERS = 2
CHUNK = 12


@dataclass(frozen=True)
class Job:
    """One notebook to grade: the solution, the release, or catalogue entries of one
    assignment (``key`` names it; ``variants`` are the entries it carries)."""

    assignment: str
    key: str
    variants: tuple[Variant, ...] = ()

    def notebook(self) -> nbformat.NotebookNode:
        if self.key in ("solution", "release"):
            folder = "solutions" if self.key == "solution" else "exercises"
            return nbformat.read(ROOT / folder / self.assignment / f"{self.assignment}.ipynb", 4)
        return learner_notebook(self.assignment, self.variants)


@dataclass
class Verdict:
    """How one catalogue entry was graded: the result of the notebook that carried it, the
    tests that decide about it (None: every test), and the entries it shared the notebook with."""

    result: dict
    deciding: list[str] | None
    shared_with: list[str]


@functools.cache
def _reach(assignment: str) -> Mapping[str, frozenset[str]]:
    """``reach_of_tests`` of an assignment, read once per session (read-only)."""
    return MappingProxyType(reach_of_tests(assignment))


def _batch_job(assignment: str, batch: tuple[Variant, ...]) -> Job:
    return Job(assignment, "+".join(v.id for v in batch), batch)


def first_round(assignment: str) -> list[Job]:
    """The solution, the release, then the catalogue entries packed into notebooks."""
    reach = _reach(assignment)
    mutants = [m for m in MUTANTS if m.assignment == assignment]
    alternatives = [a for a in ALTERNATIVES if a.assignment == assignment]
    return ([Job(assignment, "solution"), Job(assignment, "release")]
            + [_batch_job(assignment, b) for b in pack(mutants, reach)]
            + [_batch_job(assignment, b) for b in pack(alternatives)])


def undecided(job: Job, result: dict, reach: Mapping[str, frozenset[str]]) -> list[Variant]:
    """The entries of a shared notebook that it could not decide: a mutant none of whose
    isolating tests failed, every alternative of a notebook that failed other tests than
    those its alternatives declare (``Variant.fails``)."""
    if len(job.variants) < 2:
        return []
    passed = {t["name"]: t["passed"] for t in result["tests"]}
    alternatives = [v for v in job.variants if v in ALTERNATIVES]
    expected = {t for v in alternatives for t in v.fails}
    failed = {name for name, ok in passed.items() if not ok}
    out = alternatives if failed != expected else []
    return out + [m for m in job.variants if m in MUTANTS
                  and all(passed.get(t, True) for t in isolating_tests(m, job.variants, reach))]


def _grade(chunk: list[Job]) -> tuple[dict[str, dict], float]:
    start = time.perf_counter()
    try:
        return _grade_chunk(chunk), time.perf_counter() - start
    except Exception:  # recorded once, reported by every test of this assignment
        return {"error": traceback.format_exc(limit=3)}, time.perf_counter() - start


def _grade_chunk(chunk: list[Job]) -> dict[str, dict]:
    assignment = chunk[0].assignment
    with tempfile.TemporaryDirectory(prefix=f"catalogue-{assignment}-") as tmp:
        paths = []
        for i, job in enumerate(chunk):
            folder = Path(tmp) / f"{i:03d}"
            folder.mkdir()
            paths.append(folder / f"{assignment}.ipynb")
            nbformat.write(job.notebook(), paths[-1])
        results = score_many(paths, assignment)
    return {job.key: r.to_dict() for job, r in zip(chunk, results, strict=True)}


def _chunks(jobs: Iterable[Job]) -> list[list[Job]]:
    """Chunks of at most CHUNK jobs of one assignment, of about equal size, largest first."""
    by_assignment: dict[str, list[Job]] = {}
    for job in jobs:
        by_assignment.setdefault(job.assignment, []).append(job)
    chunks = []
    for group in by_assignment.values():
        n = -(-len(group) // CHUNK)
        chunks += [group[i::n] for i in range(n)]
    return sorted(chunks, key=lambda c: -len(c))


def _run(jobs: list[Job], results: dict[str, dict], seconds: dict[str, float]) -> None:
    """Grade ``jobs`` into ``results`` (assignment -> key -> result, or "error")."""
    chunks = _chunks(jobs)
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = list(pool.map(_grade, chunks))
    for chunk, (part, took) in zip(chunks, parts, strict=True):
        assignment = chunk[0].assignment
        if "error" in part or "error" in results[assignment]:
            results[assignment] = {"error": part.get("error") or results[assignment]["error"]}
        else:
            results[assignment].update(part)
        seconds[assignment] += took


@functools.cache
def graded() -> dict[str, dict[str, dict]]:
    """assignment -> job key -> the autograder's result dict (or "error" -> the traceback)."""
    results: dict[str, dict] = {name: {} for name in ASSIGNMENTS}
    seconds = dict.fromkeys(ASSIGNMENTS, 0.0)
    jobs: list[Job] = []
    for assignment in ASSIGNMENTS:
        try:
            jobs += first_round(assignment)
        except Exception:  # a broken catalogue entry: every test of the assignment says so
            results[assignment] = {"error": traceback.format_exc(limit=3)}
    _run(jobs, results, seconds)
    again = [Job(job.assignment, v.id, (v,)) for job in jobs
             if "error" not in results[job.assignment]
             for v in undecided(job, results[job.assignment][job.key],
                                _reach(job.assignment))]
    if again:
        _run(again, results, seconds)
    for name in ASSIGNMENTS:
        print(f"graded {len(results[name])} notebooks of {name} in {seconds[name]:.1f} s "
              "(summed over its chunks)")
    return results


@functools.cache
def verdicts() -> dict[str, Verdict]:
    """Catalogue entry id -> its verdict: graded alone when its shared notebook could not
    decide, else in the shared notebook, decided by its isolating tests."""
    out = {}
    for assignment in ASSIGNMENTS:
        results = graded()[assignment]
        if "error" in results:
            continue
        reach = _reach(assignment)
        for job in first_round(assignment):
            for v in job.variants:
                if v.id in results:  # graded again alone
                    out[v.id] = Verdict(results[v.id], None, [])
                else:
                    deciding = (isolating_tests(v, job.variants, reach)
                                if len(job.variants) > 1 and v in MUTANTS else None)
                    out[v.id] = Verdict(results[job.key], deciding,
                                        [w.id for w in job.variants if w != v])
    return out


def graded_result(assignment: str, key: str) -> dict:
    """The result of the solution or release notebook; fails the calling test if grading
    itself failed."""
    results = graded()[assignment]
    if "error" in results:
        raise AssertionError(f"grading {assignment} failed:\n{results['error']}")
    return results[key]


def verdict(variant: Variant) -> Verdict:
    """How a catalogue entry was graded; fails the calling test if grading itself failed."""
    graded_result(variant.assignment, "solution")
    return verdicts()[variant.id]

"""Grade every catalogue notebook once per test session: most directly, a few through the real
autograder, to check that the two agree.

* **Directly** (``direct.grade_directly``: the grader's own code, the learner's code in this
  process, no kernel): each assignment's solution and release, and its catalogue entries
  packed into notebooks (``batches.pack``: one entry per function, each kept apart by a test
  of its own), then alone every entry its shared notebook could not decide (``batches``),
  one notebook a task.
* **Through the pipeline** (``autograder.commands.score.score_many``: nbgrader, the sandbox,
  one kernel per notebook): the solution, the release, and the entries of
  ``PIPELINE_ENTRIES`` (one mutant and one alternative per assignment, each alone), graded
  directly too; ``test_direct`` checks that both ways give the same tests, points and
  messages. A pipeline task grades a chunk of at most ``CHUNK`` notebooks of one assignment
  (one nbgrader run: nbgrader is not thread-safe, so one per process).

Both share one pool of ``WORKERS`` processes (CI has two cores), the longest tasks first.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import tempfile
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import nbformat

from autograder.commands.score import score_many
from tests.autograder.catalogues.batches import isolating_tests, pack
from tests.autograder.catalogues.direct import grade_directly
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
# Graded through the full pipeline as well (alone): per assignment, one mutant and one
# alternative whose notebooks grade quickly, chosen to cross the paths where the shortcut
# could differ: a named mistake or a failure in a hidden case, an argument changed in place
# (write-back), a grader function called back (numerical_gradient), a torch module handle.
PIPELINE_ENTRIES: dict[str, tuple[str, str]] = {
    "bptt": ("numerical_gradient_forward_difference", "numerical_gradient_on_copies"),
    "char_lm": ("embed_forward_E_transposed", "sample_divides_logits_in_place"),
    "forecasting": ("train_without_clipping", "forecaster_batch_first"),
    "gated_backward": ("lstm_step_dc_prev_zero", "lstm_step_cs231n_dc_updated_in_place"),
    "gru_forward": ("gru_cell_tanh_exponential_form", "gru_cell_separate_matmuls"),
    "linear_rnn": ("linear_seq_h0_ignored", "linear_seq_in_place_on_a_copy"),
    "lstm_forward": ("sigmoid_exponential_form", "lstm_cell_split_gates"),
    "rnn_forward": ("rnn_cell_tanh_exponential_form", "rnn_cell_einsum"),
}


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


def entry(entry_id: str) -> Variant:
    """The catalogue entry of that id."""
    found = [v for v in MUTANTS + ALTERNATIVES if v.id == entry_id]
    if not found:
        raise LookupError(f"no catalogue entry {entry_id!r}: fix PIPELINE_ENTRIES in "
                          "grading_runs.py")
    return found[0]


def pipeline_jobs(assignment: str) -> list[Job]:
    """The notebooks graded through the pipeline: the solution, the release, and the
    assignment's ``PIPELINE_ENTRIES``, each alone."""
    return ([Job(assignment, "solution"), Job(assignment, "release")]
            + [Job(assignment, i, (entry(i),)) for i in PIPELINE_ENTRIES[assignment]])


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


@contextlib.contextmanager
def _one_thread_children() -> Iterator[None]:
    """Processes started in this block use one thread for numerical work, as the sandboxed
    kernel does (OMP_NUM_THREADS=1: two workers on two cores)."""
    before = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = before


def _pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"))


# -- through the pipeline ----------------------------------------------------------------------

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


@dataclass
class Lane:
    """The results of one way of grading: assignment -> job key -> result dict (or "error"
    -> the traceback), and the seconds its tasks took, per assignment."""

    how: str
    results: dict[str, dict] = field(default_factory=lambda: {a: {} for a in ASSIGNMENTS})
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(ASSIGNMENTS, 0.0))

    def add(self, assignment: str, part: dict[str, dict], took: float) -> None:
        """Add ``part`` (job key -> result, or "error"); an error stands for the whole
        assignment."""
        self.seconds[assignment] += took
        if "error" in part or "error" in self.results[assignment]:
            error = part.get("error") or self.results[assignment]["error"]
            self.results[assignment] = {"error": error}
        else:
            self.results[assignment].update(part)

    def report(self) -> None:
        """Print how many notebooks of each assignment this lane graded, and in what time."""
        for name in ASSIGNMENTS:
            print(f"{self.how}: graded {len(self.results[name])} notebooks of {name} in "
                  f"{self.seconds[name]:.1f} s (summed over its tasks)")


def _grade_directly(job: Job) -> tuple[dict[str, dict], float]:
    """One notebook graded directly: {key: result} (or {"error": traceback}), seconds."""
    start = time.perf_counter()
    try:
        source = ROOT / "solutions" / job.assignment / f"{job.assignment}.ipynb"
        result = grade_directly(job.notebook(), source, job.assignment)
        return {job.key: result}, time.perf_counter() - start
    except Exception:  # recorded once, reported by every test of this assignment
        return {"error": f"{job.key}: {traceback.format_exc(limit=5)}"}, \
            time.perf_counter() - start


def _direct_jobs(lane: Lane) -> list[Job]:
    """``first_round`` and ``pipeline_jobs`` of every assignment (an assignment whose
    catalogue cannot be packed is an error of ``lane``)."""
    jobs: list[Job] = []
    for assignment in ASSIGNMENTS:
        try:
            first = first_round(assignment)
            keys = {job.key for job in first}
            jobs += first + [j for j in pipeline_jobs(assignment) if j.key not in keys]
        except Exception:  # a broken catalogue entry: every test of the assignment says so
            lane.results[assignment] = {"error": traceback.format_exc(limit=3)}
    return jobs


def _pipeline_chunks(lane: Lane) -> list[list[Job]]:
    """``pipeline_jobs`` of every assignment in chunks (a missing entry of
    ``PIPELINE_ENTRIES`` is an error of ``lane``)."""
    jobs: list[Job] = []
    for assignment in ASSIGNMENTS:
        try:
            jobs += pipeline_jobs(assignment)
        except Exception:  # a missing entry: every test of the assignment says so
            lane.results[assignment] = {"error": traceback.format_exc(limit=3)}
    return _chunks(jobs)


@functools.cache
def _graded_both_ways() -> tuple[Lane, Lane]:
    """Every notebook graded directly, and ``pipeline_jobs`` through the pipeline, in one
    pool of ``WORKERS`` processes: the pipeline's chunks first (the longest tasks), then the
    direct notebooks; an entry its shared notebook could not decide is graded alone as soon
    as that notebook's result is in."""
    start = time.perf_counter()
    direct, pipeline = Lane("directly"), Lane("pipeline")
    chunks, jobs = _pipeline_chunks(pipeline), _direct_jobs(direct)
    submitted = {(job.assignment, job.key) for job in jobs}
    with _one_thread_children(), _pool() as pool:
        waiting: dict[Future, tuple[Lane, str, Job | None]] = {
            pool.submit(_grade, chunk): (pipeline, chunk[0].assignment, None)
            for chunk in chunks}
        waiting |= {pool.submit(_grade_directly, job): (direct, job.assignment, job)
                    for job in jobs}
        while waiting:
            done, _ = wait(waiting, return_when=FIRST_COMPLETED)
            for future in done:
                lane, assignment, job = waiting.pop(future)
                lane.add(assignment, *future.result())
                if job is None or "error" in direct.results[assignment]:
                    continue
                for v in undecided(job, direct.results[assignment][job.key],
                                   _reach(assignment)):
                    if (assignment, v.id) not in submitted:
                        submitted.add((assignment, v.id))
                        again = Job(assignment, v.id, (v,))
                        waiting[pool.submit(_grade_directly, again)] = (direct, assignment,
                                                                        again)
    direct.report()
    pipeline.report()
    print(f"the catalogue: {len(MUTANTS)} mutants, {len(ALTERNATIVES)} alternatives, in "
          f"{sum(len(r) for r in direct.results.values())} notebooks graded directly; "
          f"{sum(len(r) for r in pipeline.results.values())} through the pipeline; "
          f"{time.perf_counter() - start:.1f} s of wall time in all")
    return direct, pipeline


def graded() -> dict[str, dict[str, dict]]:
    """Through the pipeline: assignment -> job key ("solution", "release", or the id of a
    ``PIPELINE_ENTRIES`` entry) -> the autograder's result dict (or "error" -> traceback)."""
    return _graded_both_ways()[1].results


def graded_directly() -> dict[str, dict[str, dict]]:
    """Directly: assignment -> job key -> result dict (or "error" -> traceback). Keys: those
    of ``first_round``, the ids of entries graded again alone (``undecided``), and those of
    ``pipeline_jobs`` (to compare with ``graded``)."""
    return _graded_both_ways()[0].results


@functools.cache
def verdicts() -> dict[str, Verdict]:
    """Catalogue entry id -> its verdict: graded alone when it was (its shared notebook could
    not decide, or it is one of the ``PIPELINE_ENTRIES``), else in the shared notebook,
    decided by its isolating tests. All graded directly."""
    out = {}
    for assignment in ASSIGNMENTS:
        results = graded_directly()[assignment]
        if "error" in results:
            continue
        reach = _reach(assignment)
        for job in first_round(assignment):
            for v in job.variants:
                if v.id in results:  # graded alone
                    out[v.id] = Verdict(results[v.id], None, [])
                else:
                    deciding = (isolating_tests(v, job.variants, reach)
                                if len(job.variants) > 1 and v in MUTANTS else None)
                    out[v.id] = Verdict(results[job.key], deciding,
                                        [w.id for w in job.variants if w != v])
    return out


def _checked(results: dict[str, dict], assignment: str, how: str) -> dict[str, dict]:
    if "error" in results:
        raise AssertionError(f"grading {assignment} {how} failed:\n{results['error']}")
    return results


def graded_result(assignment: str, key: str) -> dict:
    """The pipeline's result of a notebook of ``pipeline_jobs``; fails the calling test if
    grading itself failed."""
    return _checked(graded()[assignment], assignment, "through the pipeline")[key]


def graded_directly_result(assignment: str, key: str) -> dict:
    """The direct result of a notebook; fails the calling test if grading itself failed."""
    return _checked(graded_directly()[assignment], assignment, "directly")[key]


def verdict(variant: Variant) -> Verdict:
    """How a catalogue entry was graded; fails the calling test if grading itself failed."""
    _checked(graded_directly()[variant.assignment], variant.assignment, "directly")
    return verdicts()[variant.id]

"""Grading on a Dask cluster: throughput with one and two workers, the gradebook's write rate
on PostgreSQL and on SQLite, and what follows for 10,000 submissions on 50 workers.

    python benchmarks/bench_cluster.py [--assignment rnn_forward] [-n 24] [--writes 300]
                                       [--per-assignment 2]

1. N submissions of ``--assignment`` (half the solution, half the blank release) are graded
   by ``grade --scheduler`` on a real cluster on this machine (``dask scheduler`` and ``dask
   worker`` processes on 127.0.0.1, one thread each): with one worker, then with two; and by
   ``grade --jobs 2`` (this machine's own workers, no Dask), the default without
   ``--scheduler``. Prints notebooks per minute and the two-to-one ratio.
2. ``--writes`` results are stored one by one (``gradebook.store``, as ``grade`` does) into
   SQLite and into a throwaway PostgreSQL server: writes per second.
3. Each assignment's solution is graded ``--per-assignment`` times on the two-worker cluster:
   seconds per notebook per worker. With the scaling measured in 1., the wall time of
   10,000 submissions of each assignment on 50 workers is grading time / 50 workers (times
   the efficiency per worker), or the gradebook's writing time if that is longer (one writer).

The template course of each assignment is built before anything is timed. On a machine shared
with other work, figures are bounded by the cores left idle (the load average is printed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.commands.grade import grade  # noqa: E402
from autograder.core import gradebook  # noqa: E402
from autograder.core.course import assignments, gradebook_url, source_notebook  # noqa: E402
from autograder.core.template import template_course  # noqa: E402
from autograder.core.types import Result, TestResult  # noqa: E402
from autograder.settings import Limits, submitted_dir  # noqa: E402
from tests.autograder.distributed.servers import (  # noqa: E402
    postgres_server,
    start_dask_cluster,
)

LIMITS = Limits(cell_timeout=60, notebook_timeout=300)
CLASS_SIZE, WORKERS = 10_000, 50


def make_class(base: Path, assignment: str, n: int, blank_every: int = 2) -> Path:
    """A course of ``assignment`` with ``n`` submissions (every ``blank_every``-th blank)."""
    course = base / "course"
    if course.exists():
        shutil.rmtree(course)
    src = source_notebook(ROOT, assignment)
    shutil.copytree(src.parent, course / "solutions" / assignment)
    (course / "autograder").mkdir()
    release = ROOT / "exercises" / assignment / src.name
    for i in range(n):
        folder = submitted_dir(course) / f"s{i:04d}" / assignment
        folder.mkdir(parents=True)
        blank = blank_every and i % blank_every == 1
        shutil.copyfile(release if blank else src, folder / src.name)
    template_course(course, assignment)  # built before timing
    return course


def timed_grade(course: Path, **kwargs) -> tuple[float, int]:
    start = time.perf_counter()
    rows = grade(course, limits=LIMITS, progress=False, **kwargs)
    return time.perf_counter() - start, len(rows)


def write_rate(course: Path, assignment: str, db: str, n: int) -> float:
    """Results stored per second into the gradebook ``db`` (one writer, as ``grade``)."""
    template = template_course(course, assignment)
    gradebook.ensure_assignment(course, db, assignment, template)
    probe = Result(assignment, 0.0, 0.0, [], flagged=True, flags=["benchmark"])
    tests = gradebook.zero_result(db, assignment, probe).tests
    start = time.perf_counter()
    with gradebook.writers():  # as grade stores a run
        for i in range(n):
            result = Result(assignment, 1.0, 1.0, [TestResult(t.name, 0.0, t.max_points, False)
                                                    for t in tests], student=f"w{i:05d}")
            gradebook.store(course, db, assignment, f"w{i:05d}", None, result)
    return n / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assignment", default="rnn_forward")
    p.add_argument("-n", type=int, default=24, help="submissions graded per configuration")
    p.add_argument("--writes", type=int, default=300, help="results stored per gradebook")
    p.add_argument("--per-assignment", type=int, default=2,
                   help="solutions graded per assignment for the projection (0: skip)")
    args = p.parse_args()
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the start")
    base = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    rates = {}
    try:
        for workers in (1, 2):
            course = make_class(base, args.assignment, args.n)
            (base / f"dask{workers}").mkdir()
            with start_dask_cluster(base / f"dask{workers}", workers=workers) as cluster:
                seconds, graded = timed_grade(course, scheduler=cluster.address)
            rates[workers] = graded / seconds * 60
            print(f"dask, {workers} worker(s): {graded} notebooks of {args.assignment} in "
                  f"{seconds:.1f} s = {rates[workers]:.1f} notebooks/min", flush=True)
        ratio = rates[2] / rates[1]
        print(f"two workers / one worker: {ratio:.2f}x")
        course = make_class(base, args.assignment, args.n)
        seconds, graded = timed_grade(course, jobs=2)
        print(f"this machine's workers, --jobs 2 (no --scheduler): {graded / seconds * 60:.1f} "
              f"notebooks/min")

        with postgres_server() as pg:
            course = make_class(base, args.assignment, 0)
            sqlite = write_rate(course, args.assignment, gradebook_url(course), args.writes)
            postgres = write_rate(course, args.assignment, pg.create_database("bench"),
                                  args.writes)
        print(f"gradebook writes: SQLite {sqlite:.1f}/s, PostgreSQL {postgres:.1f}/s "
              f"({args.writes} results, one transaction each)")

        if args.per_assignment:
            efficiency = ratio / 2  # of each added worker, as measured here
            print(f"\n{CLASS_SIZE:,} submissions of each assignment on {WORKERS} workers "
                  f"(efficiency per worker {efficiency:.2f}, as measured above):")
            print(f"{'assignment':<16}{'s/notebook':>11}{'grading':>10}{'PostgreSQL':>12}"
                  f"{'SQLite':>9}  wall time")
            (base / "proj").mkdir()
            with start_dask_cluster(base / "proj", workers=2) as cluster:
                for assignment in assignments(ROOT):
                    course = make_class(base, assignment, args.per_assignment, blank_every=0)
                    seconds, graded = timed_grade(course, scheduler=cluster.address)
                    # seconds of one worker per notebook (start-up included: an upper bound)
                    per_nb = seconds * min(2, graded) / max(graded, 1)
                    grading = CLASS_SIZE * per_nb / (WORKERS * efficiency)
                    writing_pg, writing_sq = CLASS_SIZE / postgres, CLASS_SIZE / sqlite
                    wall = max(grading, writing_pg)
                    print(f"{assignment:<16}{per_nb:>11.1f}{grading / 60:>9.1f}m"
                          f"{writing_pg / 60:>11.1f}m{writing_sq / 60:>8.1f}m  "
                          f"{wall / 60:.0f} min", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()

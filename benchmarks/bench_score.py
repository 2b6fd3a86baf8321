"""Time ``python -m autograder score`` on each assignment's solution, as a learner runs it.

    python benchmarks/bench_score.py [--assignment char_lm ...] [-n 3]

For each assignment (default: every one in solutions/): builds its template course (not
timed), scores the solution once as a warm-up (this fills the pre-flight memory, so the timed
runs are those of a learner whose machine already checked the reference), then scores it
``n`` times, each in a fresh process, and prints every time and the median. Timings on a
machine busy with other work are that machine's figures, not the idle ones.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from autograder.core.course import find_root, source_notebook
from autograder.core.template import template_course


def assignments(root: Path) -> list[str]:
    """The assignments that have a solution notebook, sorted."""
    return sorted(p.name for p in (root / "solutions").iterdir()
                  if (p / f"{p.name}.ipynb").is_file())


def score_seconds(root: Path, notebook: Path) -> float:
    """Seconds of one ``score`` of ``notebook`` in a fresh process (fails if it fails)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder", "score", str(notebook), "--json"],
                   check=True, capture_output=True, cwd=root)
    return time.perf_counter() - start


def bench(root: Path, assignment: str, n: int) -> list[float]:
    """The warm-up's seconds, then the ``n`` timed runs'."""
    template_course(root, assignment)
    notebook = source_notebook(root, assignment)
    return [score_seconds(root, notebook) for _ in range(n + 1)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assignment", action="append",
                   help="an assignment to time (repeat for several; default: all)")
    p.add_argument("-n", type=int, default=3, help="timed runs after the warm-up (default 3)")
    args = p.parse_args()
    root = find_root()
    for name in args.assignment or assignments(root):
        warm, *times = bench(root, name, args.n)
        print(f"score {name}: median {statistics.median(times):.1f} s of {args.n} runs ("
              + ", ".join(f"{t:.1f}" for t in times) + f"; warm-up {warm:.1f} s)", flush=True)


if __name__ == "__main__":
    main()

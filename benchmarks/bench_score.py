"""Time ``python -m autograder score`` on one notebook once its template course is cached.

    python benchmarks/bench_score.py [--assignment rnn_forward] [-n 5]

Builds the template course first (not timed), then scores the assignment's solution ``n``
times, each in a fresh process as a learner would, and prints every time and the median.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from autograder.core.course import find_root, source_notebook
from autograder.core.template import template_course


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assignment", default="rnn_forward")
    p.add_argument("-n", type=int, default=5)
    args = p.parse_args()
    root = find_root()
    template_course(root, args.assignment)
    notebook = source_notebook(root, args.assignment)
    times = []
    for _ in range(args.n):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "autograder", "score", str(notebook), "--json"],
                       check=True, capture_output=True, cwd=root)
        times.append(time.perf_counter() - start)
    print(f"score {args.assignment} (template cached), {args.n} runs: "
          + ", ".join(f"{t:.2f}" for t in times) + f" s; median {statistics.median(times):.2f} s")


if __name__ == "__main__":
    main()

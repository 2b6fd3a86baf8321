"""Print the cold build time of the book, each notebook's execution time, and the time to
score each assignment's solution notebook. A benchmark, not a test: it prints figures and
fails only when the build or the grading itself fails. `make test` runs it: its cold build,
here in _build/, is the one the book's tests then read.

    python benchmarks/bench_build_and_grade.py            # cold build, then scoring
    python benchmarks/bench_build_and_grade.py --no-build # scoring only
    python benchmarks/bench_build_and_grade.py --no-score # the cold build only (make test)

Figures are also written to _build/benchmarks.json. The warm and one-page rebuilds, and the
wall times of `make check` and `make test`, are bench_book.py's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench_book import GOALS, build, notebook_times

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"


def cold_build() -> dict:
    """Build the book here from scratch (no execution cache) with -n -W --keep-going."""
    shutil.rmtree(BUILD, ignore_errors=True)
    return build(ROOT, "cold build (no execution cache)")


def score_times() -> dict[str, dict[str, float]]:
    """Seconds to score each solution notebook: first (building the template) and again."""
    from autograder.core.course import assignments, source_notebook

    times = {}
    shutil.rmtree(ROOT / "grading" / "cache", ignore_errors=True)
    for name in assignments(ROOT):
        nb = source_notebook(ROOT, name)
        runs = []
        for _ in range(2):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "autograder", "score", str(nb),
                                   "--json"], cwd=ROOT, capture_output=True, text=True)
            runs.append(time.perf_counter() - start)
            if proc.returncode != 0:
                sys.exit(f"scoring {nb} failed:\n{proc.stderr}")
            result = json.loads(proc.stdout)
        times[name] = {"first": runs[0], "cached": runs[1], "score": result["score"],
                       "max_score": result["max_score"]}
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--no-build", action="store_true", help="skip the cold book build")
    p.add_argument("--no-score", action="store_true",
                   help="skip the scoring (`make test`: tests/autograder/test_assignments.py "
                   "scores every solution already)")
    args = p.parse_args()
    figures: dict = {}
    if not args.no_build:
        run = cold_build()
        figures["cold_build_seconds"] = run["seconds"]
        figures["executed_by_myst_nb"] = run["executed_by_myst_nb"]
        figures["notebook_seconds"] = notebook_times(BUILD, ROOT)
    if not args.no_score:
        figures["score_seconds"] = score_times()

    print("\n=== Benchmark (2-core CPU figures in the closing notes) ===")
    if "cold_build_seconds" in figures:
        seconds = figures["cold_build_seconds"]
        print(f"cold book build: {seconds:.0f} s (goal <= {GOALS['cold']} s on 2 cores: "
              f"{'met' if seconds <= GOALS['cold'] else 'OVER'}; load average "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())})")
        if figures["executed_by_myst_nb"]:
            print(f"WARNING: MyST-NB executed {figures['executed_by_myst_nb']} itself, after "
                  "the parallel step (a cache miss)")
        times = figures["notebook_seconds"]
        print(f"notebook execution (s), {sum(times.values()):.0f} s in all, in parallel:")
        for name, sec in sorted(times.items(), key=lambda item: -item[1]):
            print(f"  {sec:7.1f}  {name}")
    if "score_seconds" in figures:
        print("scoring one solution notebook (s): first run (builds the template) / cached")
    for name, t in figures.get("score_seconds", {}).items():
        print(f"  {t['first']:6.1f} / {t['cached']:6.1f}  {name}  "
              f"({t['score']:g}/{t['max_score']:g} points)")
    BUILD.mkdir(exist_ok=True)
    (BUILD / "benchmarks.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

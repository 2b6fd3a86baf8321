"""Print the cold build time of the book, each notebook's execution time, and the time to
score each assignment's solution notebook. A benchmark, not a test: it prints figures and
fails only when the build or the grading itself fails.

    python benchmarks/bench_build_and_grade.py            # cold build, then scoring
    python benchmarks/bench_build_and_grade.py --no-build # scoring only

Figures are also written to _build/benchmarks.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
BIN = Path(sys.executable).parent


def cold_build() -> float:
    """Build the book from scratch (no execution cache) with -n -W --keep-going; seconds."""
    shutil.rmtree(BUILD, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "jupyter-book"), "build", str(ROOT), "-n", "-W",
                           "--keep-going"], cwd=ROOT)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"the book build failed (exit {proc.returncode}): see the log above")
    return seconds


def notebook_times() -> dict[str, float]:
    """Execution time of each notebook, as recorded by the build's jupyter-cache."""
    from jupyter_cache import get_cache

    cache = get_cache(BUILD / ".jupyter_cache")
    times = {}
    for record in cache.list_project_records():
        try:
            cached = cache.get_cached_project_nb(record.pk)
        except Exception:  # excluded from execution (the exercises)
            continue
        if cached is not None and "execution_seconds" in (cached.data or {}):
            name = str(Path(record.uri).relative_to(ROOT))
            times[name] = float(cached.data["execution_seconds"])
    return dict(sorted(times.items()))


def score_times() -> dict[str, dict[str, float]]:
    """Seconds to score each solution notebook: first (building the template) and again."""
    from autograder.course import assignments, source_notebook

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
    args = p.parse_args()
    figures: dict = {}
    if not args.no_build:
        figures["cold_build_seconds"] = cold_build()
        figures["notebook_seconds"] = notebook_times()
    figures["score_seconds"] = score_times()

    print("\n=== Benchmark (2-core CPU figures in the closing notes) ===")
    if "cold_build_seconds" in figures:
        print(f"cold book build: {figures['cold_build_seconds']:.0f} s")
        print("notebook execution (s):")
        for name, sec in figures["notebook_seconds"].items():
            print(f"  {sec:7.1f}  {name}")
    print("scoring one solution notebook (s): first run (builds the template) / cached")
    for name, t in figures["score_seconds"].items():
        print(f"  {t['first']:6.1f} / {t['cached']:6.1f}  {name}  "
              f"({t['score']:g}/{t['max_score']:g} points)")
    BUILD.mkdir(exist_ok=True)
    (BUILD / "benchmarks.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

"""Print how long the book takes to build: cold, again with nothing changed, and after a
change to one page; each page's execution time; and, with --loops, the wall times of
`make check` and `make test`. A benchmark, not a test: it prints figures (with the goals of
issue 12, for a 2-core machine) and fails only when a build or a command fails.

    python benchmarks/bench_book.py                 # cold, warm and one-page builds
    python benchmarks/bench_book.py --page book/structure/patterns.md
    python benchmarks/bench_book.py --loops         # make check, then make test

The builds run on a copy of the working tree in a temporary folder (the one-page rebuild
edits a page there, never here); figures go to _build/bench_book.json. On a machine shared
with other work, figures are high: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
JB_FLAGS = ["-n", "-W", "--keep-going"]
GOALS = {"cold": 200, "warm": 30, "make check": 180, "make test": 900}  # seconds, 2 cores
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "_build", "grading", ".pytest_cache",
                                     ".ruff_cache", "__pycache__", ".ipynb_checkpoints")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def build(root: Path, label: str) -> dict:
    """`jupyter-book build root -n -W --keep-going`, its output shown as it comes.

    Returns the wall time, the pages executed in parallel before Sphinx read them, and the
    pages MyST-NB executed itself while reading (none, when the cache works as it should).
    """
    print(f"\n--- {label}: jupyter-book build {root} {' '.join(JB_FLAGS)}", flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "jupyter-book"), "build", str(root), *JB_FLAGS],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace")
    parallel, serial = [], []
    for line in proc.stdout:
        sys.stdout.write(line)
        plain = _ANSI.sub("", line)
        if m := re.search(r"\[rnncourse\] \[\d+/\d+\] (\S+): executed", plain):
            parallel.append(m[1])
        if m := re.search(r"(\S+): Executing notebook", plain):
            serial.append(str(Path(m[1]).relative_to(root)) if root in Path(m[1]).parents
                          else m[1])
    seconds = time.perf_counter() - start
    if proc.wait() != 0:
        sys.exit(f"{label}: the book build failed (exit {proc.returncode}): see the log above")
    return {"seconds": seconds, "executed_in_parallel": parallel,
            "executed_by_myst_nb": serial}


def notebook_times(build_dir: Path, root: Path) -> dict[str, float]:
    """Execution time of each page, as recorded in the build's execution cache."""
    from jupyter_cache import get_cache

    cache = get_cache(build_dir / ".jupyter_cache")
    newest: dict[str, tuple] = {}
    for record in cache.list_cache_records():
        seconds = (record.data or {}).get("execution_seconds")
        uri = Path(record.uri)
        if seconds is None:
            continue
        name = str(uri.relative_to(root)) if root in uri.parents else str(uri)
        if name not in newest or record.created > newest[name][0]:
            newest[name] = (record.created, float(seconds))
    return dict(sorted((name, sec) for name, (_, sec) in newest.items()))


def change_page(page: Path) -> None:
    """Change the code of a page without changing what it shows: a comment line at the end
    of its last code cell (so its cache entry no longer matches)."""
    text = page.read_text(encoding="utf-8")
    start = text.rfind("```{code-cell}")
    if start < 0:
        sys.exit(f"{page} has no code cell: name a page with code (--page)")
    end = text.index("\n```", text.index("\n", start))
    stamp = f"\n# benchmark: one-page rebuild ({time.time():.0f})"
    page.write_text(text[:end] + stamp + text[end:], encoding="utf-8")


def load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def book_figures(page: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-book-") as tmp:
        copy = Path(tmp) / "course"
        shutil.copytree(ROOT, copy, ignore=COPY_IGNORE, symlinks=True)
        figures = {"load_before": load()}
        figures["cold"] = build(copy, "cold build (no execution cache)")
        figures["notebook_seconds"] = notebook_times(copy / "_build", copy)
        figures["warm"] = build(copy, "rebuild, nothing changed")
        times = figures["notebook_seconds"]
        chosen = page or min(times, key=times.get)
        change_page(copy / chosen)
        figures["one_page"] = build(copy, f"rebuild after a change to {chosen}")
        figures["one_page"]["page"] = chosen
        figures["load_after"] = load()
    return figures


def time_command(command: list[str]) -> float:
    print(f"\n--- {' '.join(command)}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"`{' '.join(command)}` failed (exit {proc.returncode}) after {seconds:.0f} s")
    return seconds


def verdict(seconds: float, goal: float) -> str:
    return f"goal <= {goal} s: {'met' if seconds <= goal else 'OVER'}"


def report(figures: dict) -> None:
    print(f"\n=== Book benchmark (load average {figures.get('load_before', '?')} before, "
          f"{figures.get('load_after', '?')} after; cpus {os.cpu_count()}) ===")
    for key, label in (("cold", "cold build"), ("warm", "rebuild, nothing changed"),
                       ("one_page", "rebuild, one page changed")):
        if key not in figures:
            continue
        run = figures[key]
        goal = GOALS.get(key)
        extra = f"  ({verdict(run['seconds'], goal)})" if goal else ""
        print(f"{label:28s} {run['seconds']:6.0f} s{extra}")
        executed = run["executed_in_parallel"]
        print(f"{'':28s} pages executed: {len(executed)}"
              + (f" ({', '.join(executed)})" if 0 < len(executed) <= 3 else ""))
        if run["executed_by_myst_nb"]:
            print(f"{'':28s} WARNING: MyST-NB executed {run['executed_by_myst_nb']} itself "
                  "(a cache miss after the parallel step)")
    if "one_page" in figures:
        run = figures["one_page"]
        ok = run["executed_in_parallel"] == [run["page"].removesuffix(".md")] and not run[
            "executed_by_myst_nb"]
        print(f"{'':28s} only the changed page re-executed: {'yes' if ok else 'NO'}")
    if "notebook_seconds" in figures:
        times = figures["notebook_seconds"]
        print(f"page execution (s), {sum(times.values()):.0f} s in all:")
        for name, sec in sorted(times.items(), key=lambda item: -item[1]):
            print(f"  {sec:7.1f}  {name}")
    for command in ("make check", "make test"):
        if command in figures:
            print(f"{command:28s} {figures[command]:6.0f} s  "
                  f"({verdict(figures[command], GOALS[command])})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--page", help="the page to change for the one-page rebuild "
                   "(default: the one that executes fastest)")
    p.add_argument("--loops", action="store_true",
                   help="time `make check` and `make test` instead of the builds")
    args = p.parse_args()
    if args.loops:
        figures = {"load_before": load()}
        figures["make check"] = time_command(["make", "check"])
        figures["make test"] = time_command(["make", "test"])
        figures["load_after"] = load()
        out = ROOT / "_build" / "bench_loops.json"
    else:
        figures = book_figures(args.page)
        out = ROOT / "_build" / "bench_book.json"
    report(figures)
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

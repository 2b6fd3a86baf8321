"""Throughput of ``grade`` (parallel, sandboxed) against plain serial ``nbgrader autograde``.

    python benchmarks/bench_grading.py [--assignment rnn_forward] [-n 40] [--jobs 2]

Generates N submissions of one assignment from its source and release (half correct: the
source itself; a quarter wrong: the release as handed out; a quarter bad: a kernel that
exits, a syntax error, nbgrader metadata stripped), then grades the same set twice in fresh
temporary courses:

1. plain nbgrader: one ``nbgrader autograde`` process, notebooks one after the other, no
   sandbox (nbgrader's own Execute);
2. ``autograder grade --jobs J``: J worker processes, one submission at a time each,
   every notebook in its own sandboxed kernel.

The template course (generated once per source version) is built before either is timed.
Prints both wall-clock times, the speed-up and the load average: on a machine shared with
other work, the speed-up of parallel grading is bounded by the cores left idle.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.commands.grade import grade
from autograder.core.course import find_root, run_nbgrader, source_notebook
from autograder.core.template import template_course
from autograder.settings import Limits

PLAIN_CONFIG = """c = get_config()  # noqa: F821
load_subconfig({config!r})  # noqa: F821
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute",
    "autograder.runner.preprocessors.StderrToStdout",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
"""


def submissions(source: nbformat.NotebookNode, release: nbformat.NotebookNode,
                n: int) -> list[tuple[str, nbformat.NotebookNode]]:
    """N (kind, notebook) pairs: half correct, a quarter wrong, a quarter bad."""
    def answer_cells(nb):
        return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]

    def exits(nb):
        answer_cells(nb)[0].source = "import os\nos._exit(1)"

    def syntax(nb):
        answer_cells(nb)[0].source += "\ndef broken(:\n"

    def stripped(nb):
        for c in nb.cells:
            c.metadata.pop("nbgrader", None)

    bad = [exits, syntax, stripped]
    out = []
    for i in range(n):
        if i % 4 in (0, 1):
            out.append(("correct", copy.deepcopy(source)))
        elif i % 4 == 2:
            out.append(("wrong", copy.deepcopy(release)))
        else:
            nb = copy.deepcopy(source)
            fault = bad[(i // 4) % len(bad)]
            fault(nb)
            out.append((fault.__name__, nb))
    return out


def fill(root: Path, assignment: str, notebook_id: str, subs) -> None:
    for i, (_, nb) in enumerate(subs):
        folder = root / "grading" / "submitted" / f"s{i:03d}" / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{notebook_id}.ipynb")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--assignment", default="rnn_forward")
    p.add_argument("-n", type=int, default=40, help="number of submissions")
    p.add_argument("--jobs", type=int, nargs="+", default=[os.cpu_count() or 1],
                   help="one timed run of `grade` per value (e.g. --jobs 1 2: scaling)")
    args = p.parse_args()
    root = find_root()
    src = source_notebook(root, args.assignment)
    template = template_course(root, args.assignment)  # built before timing
    release = nbformat.read(template / "exercises" / args.assignment / src.name, 4)
    subs = submissions(nbformat.read(src, 4), release, args.n)
    kinds = {k: sum(1 for kk, _ in subs if kk == k) for k, _ in subs}
    print(f"{args.n} submissions of {args.assignment}: {kinds}; {os.cpu_count()} cores; "
          f"load average before: {os.getloadavg()[0]:.1f}")

    with tempfile.TemporaryDirectory(prefix="bench-plain-") as tmp:
        course = Path(tmp) / "course"
        shutil.copytree(template, course)
        (course / "nbgrader_config.py").write_text(
            PLAIN_CONFIG.format(config=str(root / "autograder" / "nbgrader_config.py")))
        fill(course, args.assignment, src.stem, subs)
        t0 = time.perf_counter()
        run_nbgrader(course, "autograde", args.assignment, "--force", check=False)
        plain = time.perf_counter() - t0
    print(f"plain serial nbgrader autograde: {plain:7.1f} s  "
          f"({args.n / plain * 60:.1f} notebooks/min)")

    for jobs in args.jobs:
        ours, rows = time_grade(root, args.assignment, template, subs, jobs)
        full = sum(r.score == r.max_score for r in rows
                   if subs[int(r.student[1:])][0] == "correct")
        print(f"autograder grade --jobs {jobs} (sandboxed): {ours:7.1f} s  "
              f"({args.n / ours * 60:.1f} notebooks/min); graded {len(rows)}, flagged "
              f"{sum(r.flagged for r in rows)}, full marks for {full} of the "
              f"{kinds['correct']} correct")
        print(f"speed-up over plain nbgrader: {plain / ours:.2f}x  "
              f"(load average after: {os.getloadavg()[0]:.1f})")


def time_grade(root: Path, assignment: str, template: Path, subs, jobs: int):
    """Seconds ``grade`` takes on ``subs`` in a fresh course, and its rows."""
    src = source_notebook(root, assignment)
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        course = Path(tmp) / "course"
        shutil.copytree(src.parent, course / "solutions" / assignment)
        (course / "autograder").mkdir()
        shutil.copytree(template, course / "grading" / "cache" / template.name)
        fill(course, assignment, src.stem, subs)
        t0 = time.perf_counter()
        rows = grade(course, [assignment], jobs=jobs, limits=Limits())
        return time.perf_counter() - t0, rows

if __name__ == "__main__":
    main()

"""Print how long a learner waits in the course's JupyterLab (issue 29), in Chromium:

- **Lab start to a runnable chapter**: from starting ``jupyter lab`` (the learner's setup) to the
  first code cell of a chapter of ``work/`` executed (server start, chapter opened as a
  notebook, kernel started, the cell run);
- **Validate** of the filled rnn_forward: from the click to the result dialog;
- **score** of rnn_forward typed in Lab's terminal: from Enter to the exit status. The first
  ``score`` in a fresh clone also grades the reference solution once (the pre-flight): that
  run is printed on its own.

Each figure is the median of ``--repeat`` runs (3), each with a Lab of its own, in one scratch
clone of the repository's HEAD (as ``tests/test_lab_learner.py`` makes it). A benchmark, not a
test: it prints figures and fails only when a step fails. On a machine shared with other work
the figures are high: the load average is printed with them.

    python benchmarks/bench_lab.py [--repeat 3] [--chapter work/book/cells/simple_rnn.md]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.lab_helpers import chromium_context, launch_lab  # noqa: E402
from tests.test_lab_learner import (  # noqa: E402
    SCORE,
    VALIDATE_SUCCESS,
    WORK_CHAPTER,
    WORK_EXERCISE,
    clone_for_a_learner,
    fill_with_the_solution,
    open_terminal,
    terminal_settings,
    type_in_terminal,
    validate,
    wait_for_the_kernel,
)


def first_cell_run(context, running, chapter: str) -> None:
    """Opens ``chapter`` in Lab and, once its kernel is idle, runs its first code cell (click
    in it, Shift+Enter)."""
    page = context.new_page()
    page.set_default_timeout(600_000)
    page.goto(f"{running.base}/lab/tree/{chapter}?reset&token={running.token}")
    page.wait_for_selector(".jp-MainAreaWidget .jp-Notebook .jp-CodeCell")
    wait_for_the_kernel(page)
    page.locator(".jp-CodeCell").first.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        """() => /\\[\\d+\\]/.test(
             document.querySelector('.jp-CodeCell .jp-InputPrompt').textContent)""")
    page.close()


def timed_validate(context, running) -> float:
    page = context.new_page()
    page.set_default_timeout(600_000)
    page.goto(f"{running.base}/lab/tree/{WORK_EXERCISE}?reset&token={running.token}")
    page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate").wait_for()
    start = time.perf_counter()
    text = validate(page)
    seconds = time.perf_counter() - start
    page.close()
    if VALIDATE_SUCCESS not in text:
        sys.exit(f"Validate did not succeed: {text}")
    return seconds


def timed_score(context, running) -> float:
    page = open_terminal(context, running)
    start = time.perf_counter()
    screen, status = type_in_terminal(page, SCORE)
    seconds = time.perf_counter() - start
    page.close()
    if status != 0:
        sys.exit(f"score failed (exit {status}):\n{screen}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chapter", default=WORK_CHAPTER)
    args = parser.parse_args()
    figures: dict[str, list[float]] = {"start": [], "validate": [], "score": []}
    first_score = None
    with tempfile.TemporaryDirectory(prefix="bench-lab-") as scratch:
        tmp = Path(scratch)
        course = clone_for_a_learner(tmp / "course")
        contexts = chromium_context(tmp / "profile")
        context = next(contexts)
        try:
            for run in range(args.repeat):
                lab_tmp = tmp / f"lab{run}"
                terminal_settings(lab_tmp)
                start = time.perf_counter()
                labs = launch_lab(lab_tmp, "learner", course.learner)
                running = next(labs)
                try:
                    first_cell_run(context, running, args.chapter)
                    figures["start"].append(time.perf_counter() - start)
                    if run == 0:
                        fill_with_the_solution(course, running)
                        first_score = timed_score(context, running)  # with its pre-flight
                    figures["validate"].append(timed_validate(context, running))
                    figures["score"].append(timed_score(context, running))
                finally:
                    labs.close()
        finally:
            contexts.close()
    print(f"load average {os.getloadavg()[0]:.1f} (2 cores); median of {args.repeat}:")
    names = {"start": f"Lab start to {args.chapter}'s first cell run",
             "validate": "Validate of rnn_forward, click to result",
             "score": "score of rnn_forward in Lab's terminal"}
    for key, name in names.items():
        runs = ", ".join(f"{s:.1f}" for s in figures[key])
        print(f"  {name}: {statistics.median(figures[key]):.1f} s  ({runs})")
    print(f"  the first score in a fresh clone (pre-flight included): {first_score:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

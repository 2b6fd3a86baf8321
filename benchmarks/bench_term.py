"""A class's term on one machine: collect, grade, feedback, export and report, timed.

    python benchmarks/bench_term.py [--assignment rnn_forward] [-n 60] [--jobs 2]
                                    [--screenshot report.png]

Builds a Canvas export of N learners handing in one assignment (names with accents; half
hand in the reference solution, a quarter the release as handed out, a quarter a broken
notebook: a kernel that exits, a syntax error, nbgrader's metadata stripped; every fifth
learner uploads twice), in a fresh course copied from the repository's source, then times each
command of the term as the instructors' guide runs it:

1. ``collect`` of the export (and of the same export again: nothing changes);
2. ``grade --jobs J`` (the pre-flight check of the reference solution included, as on a
   course graded for the first time);
3. ``feedback``; 4. ``export`` (the course's CSV files) and ``export --format canvas`` and
   ``--format moodle``; 5. ``report``.

Prints one line per command (seconds, and what it did) and the load average. With
``--screenshot FILE``, the class report is opened in Chromium and saved as a PNG.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
from bench_grading import submissions

from autograder.commands.collect import collect
from autograder.commands.export import export, export_lms
from autograder.commands.feedback import feedback
from autograder.commands.grade import grade
from autograder.commands.report import report
from autograder.core.course import find_root, source_notebook
from autograder.core.preflight import require_reference
from autograder.core.template import template_course
from autograder.settings import Limits

FIRST = ["José", "Zoë", "Ann", "Łukasz", "Chloé", "Oğuz", "Siobhán", "Nguyễn", "Björn", "Ana"]
LAST = ["Núñez", "Martin", "Lee", "Wójcik", "Dubois", "Yılmaz", "Ó Briain", "Thị Hoa",
        "Ångström", "García-Márquez"]


def canvas_name(i: int) -> str:
    """Canvas's file-name form of learner ``i``'s sortable name (lower case, no spaces)."""
    last, first = LAST[i % len(LAST)], FIRST[(i // len(LAST)) % len(FIRST)]
    return "".join(c for c in f"{last}{first}".lower() if c.isalnum())


def class_export(path: Path, release: nbformat.NotebookNode, subs, notebook: str) -> Path:
    """The Canvas export of the class: one file per learner, a second upload (``-1``) for
    every fifth learner (the first upload is the release as handed out)."""
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        for i, (_, nb) in enumerate(subs):
            user, attachment = 1000 + i, 900000 + 2 * i
            name = f"{canvas_name(i)}_{user}_{attachment}_{notebook}"
            if i % 5 == 0:
                zf.writestr(f"{name}.ipynb", nbformat.writes(release))
                name = f"{canvas_name(i)}_{user}_{attachment + 1}_{notebook}-1"
            zf.writestr(f"{name}.ipynb", nbformat.writes(nb))
    return path


def timed(label: str, what: Callable[[], str]) -> float:
    t0 = time.perf_counter()
    said = what()
    seconds = time.perf_counter() - t0
    print(f"{label:<32} {seconds:8.2f} s   {said}", flush=True)
    return seconds


def screenshot(page: Path, png: Path) -> None:
    """The report ``page`` as Chromium shows it, 1280 pixels wide, the whole page."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("RNN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        view = browser.new_page(viewport={"width": 1280, "height": 900})
        view.goto(page.as_uri())
        view.screenshot(path=str(png), full_page=True)
        browser.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--assignment", default="rnn_forward")
    p.add_argument("-n", type=int, default=60, help="number of learners")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--screenshot", type=Path, default=None, metavar="PNG")
    args = p.parse_args()
    root = find_root()
    src = source_notebook(root, args.assignment)
    template = template_course(root, args.assignment)
    release = nbformat.read(template / "exercises" / args.assignment / src.name, 4)
    subs = submissions(nbformat.read(src, 4), release, args.n)
    print(f"a class of {args.n} handing in {args.assignment}; {os.cpu_count()} cores; "
          f"--jobs {args.jobs}; load average before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-term-") as tmp:
        course = Path(tmp) / "course"
        shutil.copytree(src.parent, course / "solutions" / args.assignment)
        shutil.copytree(template / "exercises" / args.assignment,
                        course / "exercises" / args.assignment)
        (course / "autograder").mkdir()
        zipped = class_export(Path(tmp) / "canvas.zip", release, subs, src.stem)
        total = 0.0

        def collect_it() -> str:
            lines = collect(course, zipped, progress=False).lines()
            return f"{len(lines)} report lines"

        total += timed("collect", collect_it)
        total += timed("collect again (unchanged)", collect_it)
        limits = Limits()

        def grade_it() -> str:
            require_reference(course, args.assignment, limits)
            rows = grade(course, [args.assignment], jobs=args.jobs, limits=limits,
                         progress=False)
            full = sum(r.score == r.max_score for r in rows)
            return (f"{len(rows)} graded, {full} full marks, "
                    f"{sum(r.flagged for r in rows)} flagged")

        total += timed(f"grade --jobs {args.jobs}", grade_it)
        total += timed("feedback",
                       lambda: f"{len(feedback(course, [args.assignment], problems=[]))} pages")

        def export_it() -> str:
            made = [*export(course, problems=[]),
                    *(export_lms(course, fmt, problems=[]) for fmt in ("canvas", "moodle"))]
            return ", ".join(p.name for p in made)

        total += timed("export (course, canvas, moodle)", export_it)
        page: list[Path] = []
        total += timed("report", lambda: str(page.append(report(course, args.assignment))
                                              or page[0].name))
        print(f"{'the term, in all':<32} {total:8.2f} s   load average after: "
              f"{os.getloadavg()[0]:.1f}")
        if args.screenshot:
            screenshot(page[0], args.screenshot)
            print(f"report screenshot: {args.screenshot}")


if __name__ == "__main__":
    main()

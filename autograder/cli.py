"""``python -m autograder <command>``: a table of subcommands, each a plain function.

Each command parses its own flags and calls a function of the package, so tests can call the
same functions. Errors the user can fix print as ``ClassName: message`` (exit 2), never as a
traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from autograder.core.course import find_root
from autograder.errors import AutograderError


def _options(p: argparse.ArgumentParser) -> None:
    """Flags shared by ``score`` and ``grade``: the limits of each submission."""
    from autograder.settings import Limits

    d = Limits()
    g = p.add_argument_group("limits of each submission (sandboxed kernel)")
    g.add_argument("--cell-timeout", type=int, default=d.cell_timeout, metavar="S",
                   help=f"seconds one cell or test may run (default {d.cell_timeout})")
    g.add_argument("--notebook-timeout", type=int, default=d.notebook_timeout, metavar="S",
                   help=f"seconds a whole notebook may run (default {d.notebook_timeout})")
    g.add_argument("--memory-mb", type=int, default=d.memory_mb, metavar="MB",
                   help=f"memory of all the submission's processes (default {d.memory_mb})")
    g.add_argument("--grader-memory-mb", type=int, default=d.grader_memory_mb, metavar="MB",
                   help="memory of the grading process of one submission, outside the "
                        f"sandbox (default {d.grader_memory_mb})")
    g.add_argument("--sandbox", choices=["bwrap", "none"], default=d.sandbox,
                   help="bwrap: bubblewrap, required (default); none: no sandbox, for "
                        "trusted notebooks only")


def _db_option(p: argparse.ArgumentParser) -> None:
    """``--db``: the gradebook's address, for ``roster``, ``grade``, ``feedback``,
    ``export`` and ``report``."""
    p.add_argument("--db", metavar="URL", default=None,
                   help="the gradebook: postgresql://USER@HOST/DATABASE or sqlite:///FILE "
                        "(default: CourseDirectory.db_url of the course's nbgrader_config.py, "
                        "else grading/gradebook.db)")


def _limits(args: argparse.Namespace):
    from autograder.settings import Limits

    return Limits(cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
                  memory_mb=args.memory_mb, grader_memory_mb=args.grader_memory_mb,
                  sandbox=args.sandbox)


def _say_sandbox(sandbox: str) -> None:
    """Say which sandbox learners' code runs in; refuse (SandboxUnavailable) without one."""
    from autograder.runner.sandbox import require_sandbox

    print(require_sandbox(sandbox), file=sys.stderr)


def _preflight(root: Path, limits) -> Callable[[str], None]:
    """Before an assignment is graded: this machine must grade its reference solution to
    full marks (``core.preflight``), else PreflightFailed stops the command."""
    from autograder.core.preflight import require_reference

    def check(assignment: str) -> None:
        print(require_reference(root, assignment, limits), file=sys.stderr)

    return check


def cmd_release(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="autograder release",
                                description="Regenerate exercises/ from solutions/ with nbgrader.")
    p.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    p.add_argument("--validate", action="store_true",
                   help="also check that each release fails `nbgrader validate` (slow)")
    args = p.parse_args(argv)
    from autograder.commands.release import release

    for folder in release(find_root(), args.assignments or None, validate=args.validate):
        print(f"released {folder}")
    return 0


def cmd_collect(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="autograder collect",
        description="Import submissions into grading/submitted/<student>/<assignment>/ from a "
                    "folder of <student>/<assignment>/*.ipynb or an LMS zip export (Canvas, "
                    "Moodle file names). Collecting an export again changes nothing "
                    "(\"unchanged\"); every attempt is kept in grading/attempts/<student>/"
                    "<assignment>/ and the latest (by the export's times, or Canvas's -1, -2) "
                    "is graded, never over a notebook changed by hand or a newer attempt (see "
                    "--replace); every file that cannot be matched, and every file refused (a "
                    "link, a special file, an over-size member, an ambiguous learner), is "
                    "listed; exit status 1 if any was refused or a notebook could not be "
                    "matched.")
    p.add_argument("source", type=Path, help="a folder, or a .zip exported by the LMS")
    p.add_argument("--assignment", help="the assignment of every file (default: from each "
                                        "file's folder, name or cell ids)")
    p.add_argument("--replace", action="store_true",
                   help="grade each learner's latest attempt in this export even where "
                        "grading/submitted holds a notebook changed by hand or a newer attempt "
                        "(what it replaces is kept in grading/attempts/)")
    _db_option(p)
    args = p.parse_args(argv)
    from autograder.commands.collect import collect

    report = collect(find_root(), args.source, args.assignment, replace=args.replace,
                     db=args.db)
    print("\n".join(report.lines()))
    return report.exit_status


def cmd_roster(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="autograder roster",
        description="roster import FILE: read the class roster an LMS exports (Canvas's "
                    "gradebook export; Moodle's participants download or grade export; "
                    "Moodle's grading worksheet of one assignment) into nbgrader's students "
                    "table (names, email, Canvas user id) and grading/submitted/.learners.json "
                    "(each learner's ids in each LMS), so that collect matches files by LMS "
                    "id, one learner is one student across Canvas and Moodle, and export "
                    "--format canvas|moodle carries the ids each LMS imports by. A row whose "
                    "ids belong to two learners is refused, not merged; exit status 1 if any "
                    "row was refused.")
    p.add_argument("action", choices=["import"], help="import: read a roster CSV")
    p.add_argument("file", type=Path, help="the roster CSV exported by the LMS")
    p.add_argument("--format", choices=["auto", "canvas", "moodle", "moodle-worksheet"],
                   default="auto", help="the file's format (default: from its header row)")
    p.add_argument("--assignment", metavar="NAME", default=None,
                   help="the assignment a Moodle grading worksheet is of (its participant ids "
                        "are that assignment's)")
    _db_option(p)
    args = p.parse_args(argv)
    from autograder.commands.roster import import_roster

    report = import_roster(find_root(), args.file, args.format, args.assignment, db=args.db)
    print("\n".join(report.lines()))
    return report.exit_status


def cmd_due(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="autograder due",
        description="Set, show or clear an assignment's due date: nbgrader's, in the gradebook "
                    "(formgrader's Manage Assignments shows the same). A late submission is "
                    "penalised by the plugin the course's nbgrader_config.py selects "
                    "(c.AssignLatePenalties.plugin_class); the penalties of graded submissions "
                    "are applied again at once.")
    p.add_argument("assignment", help="the assignment's name")
    p.add_argument("when", nargs="?", default=None,
                   help='the due date, "YYYY-MM-DD HH:MM" (optionally UTC or +HH:MM after it); '
                        "omit it to show the current one")
    p.add_argument("--timezone", default="UTC", metavar="ZONE",
                   help="the time zone of a due date given without one: an IANA name such as "
                        "Europe/Berlin (default UTC)")
    p.add_argument("--clear", action="store_true", help="remove the due date")
    _db_option(p)
    args = p.parse_args(argv)
    from autograder.commands.due import describe, due

    duedate, penalties = due(find_root(), args.assignment, args.when, zone=args.timezone,
                             clear=args.clear, db=args.db)
    print("\n".join(describe(args.assignment, duedate, penalties)))
    return 0


def cmd_grade(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="autograder grade",
        description="Autograde the collected submissions in parallel, each in a sandboxed "
                    "kernel, here or on a Dask cluster, into the course's gradebook "
                    "(formgrader shows it). Submissions already graded are skipped unless "
                    "--force. First, this machine must grade each assignment's reference "
                    "solution to full marks (checked once per environment). A submission "
                    "the grading machine failed to grade is listed as NOT GRADED, stored "
                    "nowhere, graded again next time, and makes the exit status 1.")
    p.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    p.add_argument("--jobs", "-j", type=int, default=None,
                   help="submissions graded at once on this machine (default: the number of "
                        "cores; not with --scheduler)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", default=None,
                   help="grade on the Dask cluster of this scheduler (started with `dask "
                        "scheduler` and `dask worker`); default: on this machine")
    _db_option(p)
    p.add_argument("--force", action="store_true", help="grade again what is already graded")
    p.add_argument("--student", action="append", default=None, metavar="ID",
                   help="grade only this learner's submissions (repeat for several; with "
                        "--force, grade them again)")
    p.add_argument("--json", action="store_true",
                   help="print the results as JSON lines, ending with a summary line")
    _options(p)
    args = p.parse_args(argv)
    from autograder.commands.grade import grade, summary, summary_record

    _say_sandbox(args.sandbox)
    failures: list[str] = []
    if args.scheduler and args.jobs is not None:
        raise AutograderError("--jobs is for grading on this machine; with --scheduler the "
                              "cluster's workers set how many run at once (dask worker "
                              "--nthreads): drop --jobs")
    root, limits = find_root(), _limits(args)
    results = grade(root, args.assignments or None, jobs=args.jobs, force=args.force,
                    limits=limits, failures=failures, db=args.db, scheduler=args.scheduler,
                    preflight=_preflight(root, limits), students=args.student)
    for r in results:
        if args.json:
            print(json.dumps(r.to_dict()))
        else:
            flag = "  FLAGGED" if r.flagged else ""
            print(f"{r.student:<20} {r.assignment:<16} {r.score:g}/{r.max_score:g}{flag}")
    if args.json:
        print(json.dumps(summary_record(results, failures)))
    print("\n".join(summary(results, failures)), file=sys.stderr)
    return 1 if failures else 0


def cmd_feedback(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="autograder feedback",
        description="Write nbgrader's HTML feedback into grading/feedback/, without the hidden "
                    "tests or the tracebacks of tests.")
    p.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    _db_option(p)
    args = p.parse_args(argv)
    from autograder.commands.feedback import feedback

    problems: list[str] = []
    files = feedback(find_root(), args.assignments or None, db=args.db, problems=problems)
    print(f"wrote {len(files)} feedback file(s) in grading/feedback/")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def cmd_export(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="autograder export",
        description="Write the grades as CSV: by default nbgrader's (grades.csv, one row per "
                    "learner and assignment, with its status and the reasons it is flagged or "
                    "not graded) and one row per test (tests.csv); with --format canvas or "
                    "moodle, the table that LMS's gradebook imports (canvas.csv, moodle.csv: "
                    "one row per learner, one column per assignment, no score for a learner "
                    "who never submitted) and, beside it, canvas-review.csv or "
                    "moodle-review.csv: each submission flagged, not graded or not submitted, "
                    "with why.")
    p.add_argument("--to", type=Path, default=None, help="folder (default: grading/export)")
    p.add_argument("--format", choices=["nbgrader", "canvas", "moodle"], default="nbgrader",
                   help="nbgrader: grades.csv and tests.csv (default); canvas: Canvas's "
                        "gradebook import; moodle: Moodle's grade import (map users by ID "
                        "number or email address)")
    p.add_argument("--feedback", action="store_true",
                   help="with --format canvas or moodle: also pack the pages of `feedback` "
                        "into <format>-feedback-<assignment>.zip, named for that LMS's bulk "
                        "upload (Moodle: Upload multiple feedback files in a zip; Canvas: "
                        "Re-upload submissions); a learner it cannot reach is listed, skipped")
    _db_option(p)
    args = p.parse_args(argv)
    if args.feedback and args.format == "nbgrader":
        p.error("--feedback needs --format canvas or --format moodle: the LMS whose upload "
                "the zip is named for")
    from autograder.commands.export import export, export_for_lms

    problems: list[str] = []
    if args.format == "nbgrader":
        paths = export(find_root(), args.to, db=args.db, problems=problems)
    else:
        paths = export_for_lms(find_root(), args.format, args.to, db=args.db,
                               problems=problems, feedback=args.feedback)
    for path in paths:
        print(f"wrote {path}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def cmd_report(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="autograder report",
        description="Write one HTML page (and its figures as PNGs beside it) on how the class "
                    "did on an assignment: the grade distribution, each test's failure rate, "
                    "the known mistakes made most, flagged submissions with their reasons, and "
                    "who was not graded or submitted nothing.")
    p.add_argument("assignment", help="the assignment's name")
    p.add_argument("--to", type=Path, default=None,
                   help="folder (default: grading/reports/ASSIGNMENT)")
    _db_option(p)
    args = p.parse_args(argv)
    from autograder.commands.report import report

    problems: list[str] = []
    print(f"wrote {report(find_root(), args.assignment, args.to, db=args.db, problems=problems)}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def cmd_score(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="autograder score",
        description="Grade one learner notebook against its assignment, hidden tests included, "
                    "in a sandboxed kernel. First, this machine must grade the assignment's "
                    "reference solution to full marks (checked once per environment). Exit "
                    "status 1 when the notebook could not be graded (NOT GRADED).")
    p.add_argument("notebook", type=Path, help="the learner's notebook (.ipynb)")
    p.add_argument("--assignment", help="assignment name (default: found from the notebook)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--remote", metavar="URL", default=None,
                   help="grade on the course's grading service at URL instead of here "
                        "(no sandbox or solutions needed here)")
    p.add_argument("--token", default=None,
                   help="your token for --remote (default: RNNCOURSE_TOKEN, else "
                        "~/.rnncourse.json)")
    _options(p)
    args = p.parse_args(argv)
    from autograder.commands.score import (
        as_json,
        assignment_of,
        exit_status,
        format_report,
        score_notebook,
    )

    if args.remote:
        from autograder.commands.remote import report, score_remote

        result = score_remote(args.notebook, args.remote, args.token,
                              assignment=args.assignment,
                              say=lambda s: print(s, file=sys.stderr))
        print(json.dumps(as_json(result), indent=2) if args.json else report(result))
        return exit_status(result)
    _say_sandbox(args.sandbox)
    root, limits = find_root(), _limits(args)
    assignment = args.assignment or assignment_of(args.notebook, root, limits)
    _preflight(root, limits)(assignment)
    result = score_notebook(args.notebook, assignment=assignment, root=root, limits=limits)
    print(json.dumps(as_json(result), indent=2) if args.json else format_report(result))
    return exit_status(result)


def cmd_serve(argv: list[str]) -> int:
    from autograder.service.command import cmd_serve as run

    return run(argv)


def cmd_publish(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="autograder publish",
        description="Write the learners' tree into DEST, a new folder: the tracked files of "
                    "book/, exercises/ and rnncourse/, the book's configuration and "
                    "environment, a Makefile and README for learners; never solutions/, "
                    "autograder/ (the answer keys) or tests/. Nothing is written if any "
                    "published file holds a line of a hidden test, a reference solution or "
                    "a key (they are listed).")
    p.add_argument("dest", type=Path, help="a new (or empty) folder")
    args = p.parse_args(argv)
    from autograder.commands.publish import publish

    report = publish(find_root(), args.dest)
    print("\n".join(report.lines()))
    return 0


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "release": (cmd_release, "regenerate exercises/ from solutions/ and check the result"),
    "roster": (cmd_roster, "roster import FILE: the class roster of Canvas or Moodle"),
    "collect": (cmd_collect, "import submissions from a folder or an LMS zip export"),
    "due": (cmd_due, "set or show an assignment's due date (late penalties: nbgrader_config.py)"),
    "grade": (cmd_grade, "autograde all submissions in parallel, sandboxed, into the gradebook"),
    "feedback": (cmd_feedback, "HTML feedback without hidden tests"),
    "export": (cmd_export, "grades as CSV (nbgrader's, or Canvas's or Moodle's import)"),
    "report": (cmd_report, "one HTML page on how the class did on an assignment"),
    "serve": (cmd_serve, "the grading service: learners check notebooks over HTTP (tokens: "
              "--issue-tokens)"),
    "publish": (cmd_publish, "the learners' tree: book, exercises, rnncourse; no solutions or "
                "keys"),
    "score": (cmd_score, "grade one notebook (hidden tests included), optionally as JSON"),
}


def usage() -> str:
    rows = "\n".join(f"  {name:<10} {desc}" for name, (_, desc) in COMMANDS.items())
    return (f"usage: python -m autograder <command> [options]\n\ncommands:\n{rows}\n\n"
            "Run `python -m autograder <command> --help` for a command's options.")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in {"-h", "--help"}:
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"UnknownCommand: {name!r} is not a command\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[name][0](rest)
    except AutograderError as err:
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return 2

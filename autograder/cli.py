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

from autograder.course import find_root
from autograder.errors import AutograderError


def cmd_release(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="autograder release",
                                description="Regenerate exercises/ from solutions/ with nbgrader.")
    p.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    args = p.parse_args(argv)
    from autograder.release import release

    for folder in release(find_root(), args.assignments or None):
        print(f"released {folder}")
    return 0


def cmd_score(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="autograder score",
        description="Grade one learner notebook against its assignment, hidden tests included.")
    p.add_argument("notebook", type=Path, help="the learner's notebook (.ipynb)")
    p.add_argument("--assignment", help="assignment name (default: found from the notebook)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    from autograder.score import format_report, score_notebook

    result = score_notebook(args.notebook, assignment=args.assignment)
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 0


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "release": (cmd_release, "regenerate exercises/ from solutions/ and check the result"),
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

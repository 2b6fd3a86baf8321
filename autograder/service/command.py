"""The command line of ``python -m autograder serve`` (``cmd_serve``, as ``autograder.cli``
maps its commands; also ``python -m autograder.service``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from urllib.parse import urlsplit


def hub_address(environ=os.environ) -> tuple[str, int] | None:
    """(host, port) of ``JUPYTERHUB_SERVICE_URL``, where a hub proxies its service to."""
    url = environ.get("JUPYTERHUB_SERVICE_URL")
    if not url:
        return None
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def cmd_serve(argv: list[str]) -> int:
    from autograder.cli import _limits, _options, _say_sandbox
    from autograder.core.course import find_root
    from autograder.service.config import ServiceConfig

    d = ServiceConfig()
    host, port = hub_address() or ("127.0.0.1", 8765)
    p = argparse.ArgumentParser(
        prog="autograder serve",
        description="Run the grading service: learners send a notebook (the page at / or "
                    "`score --remote`) and get its score and each test's message, hidden "
                    "tests included, never a test's source. Checks are kept in the service's "
                    "own tables (grading/service.db, or the database --db names), before the "
                    "reply: a killed service loses none. Run as a JupyterHub service (the "
                    "hub's service environment present), learners also sign in through the "
                    "hub. With --issue-tokens, write the learners' tokens (CSV "
                    "student,token) and stop.")
    p.add_argument("--host", default=host,
                   help="address to listen on (default: the host of "
                        "$JUPYTERHUB_SERVICE_URL, set by JupyterHub for a service it runs, "
                        "else 127.0.0.1; behind a proxy, keep it)")
    p.add_argument("--port", type=int, default=port,
                   help="port (default: the port of $JUPYTERHUB_SERVICE_URL, else 8765; 0: a "
                        "free one)")
    p.add_argument("--base-url", default=os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/"),
                   metavar="PREFIX",
                   help="the prefix of every address (default: $JUPYTERHUB_SERVICE_PREFIX, "
                        "set by JupyterHub for a service it runs, else /)")
    p.add_argument("--jobs", "-j", type=int, default=1,
                   help="checks graded at once (default 1; 0: queue only; with --scheduler, "
                        "give the number of the cluster's worker threads)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="grade on the Dask cluster whose scheduler is at ADDRESS "
                        "(tcp://HOST:8786), as `grade --scheduler` does, instead of here")
    p.add_argument("--db", metavar="URL", default=None,
                   help="the database of the checks' tables: postgresql://USER@HOST/DATABASE "
                        "(the gradebook's server, beside nbgrader's tables) or sqlite:///FILE "
                        "(default: grading/service.db, apart from the gradebook)")
    p.add_argument("--max-active", type=int, default=d.max_active, metavar="N",
                   help=f"checks of one learner queued or running at once (default "
                        f"{d.max_active})")
    p.add_argument("--per-hour", type=int, default=d.checks_per_hour, metavar="K",
                   help=f"checks one learner may send per hour (default {d.checks_per_hour})")
    p.add_argument("--queue-limit", type=int, default=d.queue_limit, metavar="N",
                   help=f"checks waiting for the whole class before new ones are refused "
                        f"(503; default {d.queue_limit})")
    p.add_argument("--max-notebook-bytes", type=int, default=d.max_notebook_bytes,
                   metavar="B", help=f"largest upload (default {d.max_notebook_bytes})")
    p.add_argument("--ready-file", type=Path, default=None, help=argparse.SUPPRESS)
    t = p.add_argument_group("tokens")
    t.add_argument("--issue-tokens", action="store_true",
                   help="write tokens for each student without one (the gradebook's "
                        "students, or --students) to --tokens-out, and stop")
    t.add_argument("--students", type=Path, default=None, metavar="FILE",
                   help="student ids, one a line (or a CSV with a 'student' column)")
    t.add_argument("--instructor", action="append", default=[], metavar="NAME",
                   help="also issue an instructor token to NAME (repeat for several)")
    t.add_argument("--renew", action="store_true",
                   help="new tokens for every student named, their old ones revoked")
    t.add_argument("--tokens-out", type=Path, default=Path("tokens.csv"), metavar="FILE",
                   help="where the tokens go (default tokens.csv; never overwritten)")
    _options(p)
    args = p.parse_args(argv)
    from autograder.commands.serve import configure_logging, issue_tokens, read_students
    from autograder.service.server import serve

    root = find_root()
    if args.issue_tokens:
        students = read_students(args.students) if args.students else None
        issued = issue_tokens(root, args.tokens_out, db=args.db, students=students,
                              instructors=args.instructor, renew=args.renew)
        print(f"wrote {len(issued)} token(s) to {args.tokens_out}: hand each to its holder "
              "privately, then delete the file (the service keeps only their SHA-256)")
        return 0
    if not args.scheduler:  # a cluster's workers check their own sandbox
        _say_sandbox(args.sandbox)
    configure_logging()
    config = ServiceConfig(max_notebook_bytes=args.max_notebook_bytes,
                           max_active=args.max_active, checks_per_hour=args.per_hour,
                           queue_limit=args.queue_limit)
    serve(root, args.host, args.port, db=args.db, jobs=args.jobs, limits=_limits(args),
          config=config, ready=args.ready_file, base_url=args.base_url,
          scheduler=args.scheduler)
    return 0

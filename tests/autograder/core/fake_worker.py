"""A stand-in grading process for the tests: ``core.worker`` itself, except for the students
named in ``$RNNCOURSE_FAKE_WORKER`` (``hang:bob,hog:carol``), whose grading does what a
grader stuck on a hostile kernel, or blown up by one, would do:

* ``hang``: never answers (as the grader blocked for ever in a send to a kernel);
* ``hog``: takes more and more memory (as a decoder of a hostile answer), up to 3 GB; if it
  was not stopped by then, it says so in an error answer.

Started as ``Worker.command = [sys.executable, FAKE_WORKER]`` (the log and the memory cap
follow, as for the real one).
"""

from __future__ import annotations

import os
import sys
import time

from autograder.core import worker

REAL = worker.run_task
HOG_LIMIT = 3 * 2**30


def behaviours() -> dict[str, str]:
    pairs = [p.split(":", 1) for p in os.environ.get("RNNCOURSE_FAKE_WORKER", "").split(",")
             if ":" in p]
    return {student: what for what, student in pairs}


def hog() -> None:
    held, size = [], 0
    while size < HOG_LIMIT:
        held.append(b"x" * (32 * 2**20))  # written: resident, not only reserved
        size += 32 * 2**20
    raise RuntimeError(f"the grading process was not stopped at {size >> 20} MB")


def run_task(t: dict) -> dict:
    what = {behaviours().get(student) for student, _ in t["subs"]}
    if "hang" in what:
        time.sleep(3600)
    if "hog" in what:
        hog()
    return REAL(t)


if __name__ == "__main__":
    worker.run_task = run_task
    worker.main(sys.argv[1], int(sys.argv[2]))

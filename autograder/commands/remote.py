"""``score NB --remote URL``: grade one notebook on the course's grading service.

The client is ``rnncourse.check`` (standard library only, the one learners call from a
notebook): it sends the notebook, polls with back-off ("3 ahead of you") and validates the
answer (bounded in size, a JSON object of the contract's shape, no redirect). Here the
service's result becomes a :class:`Result`, printed by ``score``'s own ``format_report`` and
judged by its ``exit_status``: the same report and exit status as a local ``score``. An error
of the service or of the network is a :class:`RemoteCheckFailed` saying what to do next.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from autograder.commands.score import NOT_GRADED, exit_status, format_report, is_graded
from autograder.core.types import Result, TestResult
from autograder.errors import AutograderError
from rnncourse import check as client


class RemoteCheckFailed(AutograderError):
    """The grading service could not be reached, refused the notebook, or answered wrongly."""


def result_of(answer: dict) -> Result:
    """The service's result (``rnncourse.check.validate``d) as a :class:`Result`; a check
    not graded has no tests, as a local one the machine failed to grade."""
    tests = [] if answer["status"] == "not graded" else [
        TestResult(name=t["name"], points=float(t["points"]),
                   max_points=float(t["max_points"]),
                   passed=t["points"] >= t["max_points"], message=t.get("message", ""))
        for t in answer["tests"]]
    flags = [str(f) for f in answer.get("flags", [])]
    return Result(assignment=str(answer.get("assignment", "")),
                  score=float(answer.get("score") or 0), max_score=float(
                      answer.get("max_score") or 0),
                  tests=tests, flagged=bool(flags), flags=flags,
                  submitted=answer.get("submitted"))


def report(result: Result) -> str:
    """``format_report``'s text; a check not graded points to the service, not a local log."""
    if is_graded(result):
        return format_report(result)
    why = "; ".join(result.flags) or "it could not be graded"
    return (f"{result.assignment}: {NOT_GRADED}: {why}\n  no score: this is a failure of the "
            "grading service's machine, not of the notebook (its log is the service's)")


def score_remote(path: Path | str, url: str | None, token: str | None, *,
                 assignment: str | None = None, say: Callable[[str], None] = print,
                 sleep: Callable[[float], None] | None = None) -> Result:
    """Grade the notebook at ``path`` on the service at ``url`` (else RNNCOURSE_SERVICE) with
    ``token`` (else RNNCOURSE_TOKEN); ``assignment`` defaults to the file's name."""
    path = Path(path)
    try:
        url, token = client.settings(url, token)
        try:
            data = path.read_bytes()
        except OSError as err:
            raise client.CheckError(f"cannot read {path}: {err.strerror}") from None
        answer = client.submit(url, token, assignment or path.stem, data)
        waits = {"sleep": sleep} if sleep is not None else {}
        result = client.wait_for(url, token, answer["id"], say=say, **waits)
    except client.CheckError as err:
        raise RemoteCheckFailed(str(err)) from None
    return result_of(result)


__all__ = ["RemoteCheckFailed", "exit_status", "report", "result_of", "score_remote"]

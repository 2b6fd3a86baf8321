"""pytest plugin of `make test`: a skipped test fails the run.

`make test` is everything CI checks, so a test that skips (a missing prerequisite, a build
not there) would let it pass without checking. Loaded with ``-p scripts.pytest_no_skips``
(the Makefile's ``pytest`` target); an expected failure (xfail) is not a skip.
"""

from __future__ import annotations

import pytest

_skipped: list[tuple[str, str]] = []


def pytest_runtest_logreport(report) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(
            report.longrepr)
        _skipped.append((report.nodeid, reason.removeprefix("Skipped: ")))


def pytest_sessionfinish(session, exitstatus) -> None:
    if _skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    if not _skipped:
        return
    reasons = sorted({reason for _, reason in _skipped})
    terminalreporter.section("skipped tests fail make test", sep="=", red=True, bold=True)
    terminalreporter.line(f"{len(_skipped)} test(s) skipped: `make test` checks everything, "
                          "so each is a failure. Why:")
    for reason in reasons:
        terminalreporter.line(f"  {reason}")
    terminalreporter.line("Install what is missing (bash scripts/prereqs.sh) and run again.")

"""The grading core's types: a submission, and the typed result of grading it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import nbformat


@dataclass
class Submission:
    """One learner's notebook (``None`` when it could not be read: ``problem`` says why)."""

    student: str
    notebook: nbformat.NotebookNode | None
    filename: str = ""
    problem: str = ""
    repairs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TestResult:
    """One test cell: its points and, when it failed, why (written by the grader)."""

    name: str
    points: float
    max_points: float
    passed: bool
    message: str = ""


@dataclass
class Result:
    """The grade of one submission.

    ``flags`` are what a person should look at (a timeout, a dying kernel, a resource limit,
    truncated output, an unreadable file): a flagged submission keeps its points but is
    marked for manual review in the gradebook. ``repairs`` say how a damaged notebook was put
    back in shape before grading. ``submitted`` is the submission time (ISO 8601, UTC; None
    when the export gave none: never late), ``late_penalty`` the points nbgrader's late-penalty
    plugin took off for the due date when it was stored (``core.late``).
    """

    assignment: str
    score: float
    max_score: float
    tests: list[TestResult]
    flagged: bool = False
    flags: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    student: str = ""
    digest: str = ""
    submitted: str | None = None
    late_penalty: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Result:
        tests = [TestResult(**t) for t in data.get("tests", [])]
        fields_ = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "tests"}
        return cls(tests=tests, **fields_)

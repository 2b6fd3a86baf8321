"""``report ASSIGNMENT``: the class's grade distribution, failing tests, known mistakes, flags
and absentees on one page, with learner content shown as text.

Result files are written as ``grade`` writes them (``Result.to_dict``), and collected folders
made by hand: no grading runs here.
"""

from __future__ import annotations

import json
import warnings
from html.parser import HTMLParser

import pytest
from nbgrader.api import Gradebook

from autograder.commands.report import (
    MAX_LABEL,
    PAGE,
    POLICY,
    collected,
    figures,
    known_mistakes,
    read_results,
    report,
    summarise,
)
from autograder.core import types
from autograder.core.course import ensure_bin_on_path
from autograder.errors import AutograderError
from autograder.settings import db_url, results_dir, submitted_dir

GATE_ORDER = "wrong gate order i, g, f, o (expected i, f, g, o)"
TANH = "tanh' taken as 1 - c**2 instead of 1 - tanh(c)**2"


def failed(name: str, points: float, message: str) -> types.TestResult:
    return types.TestResult(name, 0.0, points, False, message)


def passed(name: str, points: float) -> types.TestResult:
    return types.TestResult(name, points, points, True)


def result(student: str, *tests: types.TestResult, flags: tuple[str, ...] = ()) -> types.Result:
    return types.Result("lstm", sum(t.points for t in tests), sum(t.max_points for t in tests),
                  list(tests), flagged=bool(flags), flags=list(flags), student=student)


def write_class(root, results: list[types.Result], also_collected: dict[str, str] = ()) -> None:
    """The result file and collected folder of each result; ``also_collected``: student ->
    assignment of folders with no result."""
    for r in results:
        path = results_dir(root) / r.assignment / f"{r.student}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(r.to_dict()), encoding="utf-8")
        (submitted_dir(root) / r.student / r.assignment).mkdir(parents=True, exist_ok=True)
    for student, assignment in dict(also_collected).items():
        (submitted_dir(root) / student / assignment).mkdir(parents=True, exist_ok=True)


MISTAKE_MSG = ("AssertionError: dW_x differs from torch.autograd: max abs error 3.1e-01.\n"
               f"It matches a known mistake: {GATE_ORDER}.")
CLASS = [
    result("ada", passed("test_forward", 2), passed("test_backward", 3)),
    result("bob", passed("test_forward", 2), failed("test_backward", 3, MISTAKE_MSG)),
    result("cy", failed("test_forward", 2, "AssertionError: Hs has shape (3,), expected (4,)"),
           failed("test_backward", 3, MISTAKE_MSG)),
    result("dee", passed("test_forward", 2), passed("test_backward", 3),
           flags=("cell 12 timed out after 60 s",)),
]


@pytest.fixture
def course(tmp_path):
    """A class of four graded learners (CLASS), ``eve`` collected but not graded, and ``fay``
    collected only for another assignment; no gradebook."""
    root = tmp_path / "course"
    write_class(root, CLASS, {"eve": "lstm", "fay": "rnn"})
    return root


class Page(HTMLParser):
    """The tags, attributes, visible text and images of a page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.images: list[dict] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(k, v or "") for k, v in attrs]
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def test_the_summary_counts_failures_mistakes_flags_and_absentees(course):
    """Does the report say which tests failed how often, which known mistake the class made,
    who is flagged and why, who was not graded and who submitted nothing?"""
    summary = summarise("lstm", read_results(course, "lstm", []), {}, {},
                        collected(course, "lstm"), collected(course))
    assert summary.failures == [
        ("test_forward", 1, 4, "AssertionError: Hs has shape (3,), expected (4,)"),
        ("test_backward", 2, 4, "AssertionError: dW_x differs from torch.autograd: max abs "
                                "error 3.1e-01.")]
    assert summary.mistakes == [("test_backward", GATE_ORDER, 2)]
    assert summary.flagged == [("dee", 5.0, ["cell 12 timed out after 60 s"])]
    assert summary.scores == [("ada", 5.0), ("bob", 2.0), ("cy", 0.0), ("dee", 5.0)]
    assert (summary.not_graded, summary.not_submitted) == (["eve"], ["fay"])


@pytest.mark.parametrize("message, labels", [
    (MISTAKE_MSG, [GATE_ORDER]),
    (f"AssertionError: hidden case 2 of 6 failed: dc_prev differs.\n"
     f"It matches a known mistake: {TANH}.", [TANH]),
    ("AssertionError: the trained network's error is 0.9.\n"
     "It matches a known mistake of train_tbptt: the state is not carried over.",
     ["the state is not carried over"]),
    ("AssertionError: Hs differs from the reference: max abs error 1.0e+00.", []),
])
def test_known_mistakes_are_read_from_the_checks_own_messages(message, labels):
    assert known_mistakes(message) == labels


def test_the_page_shows_every_section_and_the_figures_beside_it(course):
    page_path = report(course, "lstm")
    page = Page(page_path.read_text(encoding="utf-8"))
    assert page_path == course / "grading" / "reports" / "lstm" / PAGE
    for heading in ("Grade distribution", "Tests", "Known mistakes", "Flagged submissions",
                    "Collected but not graded", "No submission"):
        assert heading in page.words
    assert GATE_ORDER in page.words and "cell 12 timed out after 60 s" in page.words
    assert "test_backward 2 4 50 %" in page.words
    names = sorted((page_path.parent).glob("*.png"))
    assert [p.name for p in names] == ["grades.png", "mistakes.png", "tests.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in names)


def test_every_figure_is_embedded_with_alt_text_that_says_what_it_shows(course):
    """Is the page self-contained, and can a reader who cannot see the figures read them?"""
    page = Page(report(course, "lstm").read_text(encoding="utf-8"))
    assert len(page.images) == 3
    assert all(img["src"].startswith("data:image/png;base64,") for img in page.images)
    alts = [img["alt"] for img in page.images]
    assert alts[0] == ("Histogram of the 4 scores of lstm out of 5: median 3.5, lowest 0, "
                       "highest 5; 2 at full marks.")
    assert "test_backward 50 % (2 of 4)" in alts[1]
    assert f"test_backward: {GATE_ORDER} (2)" in alts[2]


@pytest.mark.parametrize("content, why", [
    ("{not json", "JSONDecodeError"),
    (json.dumps({"assignment": "lstm", "score": 0, "max_score": 1, "tests": [
        {"name": "t", "points": 0, "max_points": 1, "passed": False, "message": 42}]}),
     "TypeError: a field of the wrong type"),
])
def test_a_damaged_result_file_is_listed_and_the_others_reported(course, content, why):
    """Does one unreadable or ill-typed result file stop the report of the class?"""
    (results_dir(course) / "lstm" / "zed.json").write_text(content)
    problems: list[str] = []
    page = Page(report(course, "lstm", problems=problems).read_text(encoding="utf-8"))
    assert len(problems) == 1 and problems[0].startswith(f"zed.json: not read ({why}")
    assert problems[0] in page.words
    assert "test_backward 2 4 50 %" in page.words


def test_a_very_long_mistake_label_is_cut():
    """Is a label that fills a message (a learner can raise any message) kept to one line of
    at most MAX_LABEL characters?"""
    labels = known_mistakes("It matches a known mistake: " + "x" * 10_000 + ".")
    assert len(labels) == 1 and len(labels[0]) == MAX_LABEL and labels[0].endswith("…")


def test_nothing_collected_or_graded_says_to_grade_first(tmp_path):
    with pytest.raises(AutograderError, match="run `python -m autograder grade gru` first"):
        report(tmp_path, "gru")


HOSTILE_NAME = "<script>alert('name')</script>"
HOSTILE_MESSAGE = "ValueError: <img src=x onerror=alert('msg')>"
HOSTILE_LABEL = "<script>alert('label')</script> $\\undefined{$"
HOSTILE_FLAG = "</li></ul><script>alert('flag')</script>"


@pytest.fixture(scope="module")
def hostile_course(tmp_path_factory):
    """A learner whose name (in the gradebook), failure message, forged "known mistake" and
    flag reason are markup, and a dollar-delimited label that is not valid mathtext."""
    ensure_bin_on_path()
    root = tmp_path_factory.mktemp("hostile") / "course"
    (root / "grading").mkdir(parents=True)
    write_class(root, [result(
        "mallory", failed("test_forward", 2, HOSTILE_MESSAGE),
        failed("test_backward", 3, f"AssertionError: x\nIt matches a known mistake: "
                                   f"{HOSTILE_LABEL}."),
        flags=(HOSTILE_FLAG,))])
    with warnings.catch_warnings(), Gradebook(db_url(root)) as gb:
        warnings.simplefilter("ignore")  # SQLAlchemy's notes on nbgrader's models
        gb.add_student("mallory", first_name=HOSTILE_NAME, last_name="")
        gb.add_student("absent", first_name="<b>Absent</b>", last_name="Learner")
    return root


def test_learner_content_is_shown_as_text_never_run(hostile_course):
    """Can a learner's name, message, forged mistake label or flag reason put a script, an
    event handler or any markup of theirs in the lecturer's page?"""
    html = report(hostile_course, "lstm").read_text(encoding="utf-8")
    page = Page(html)
    assert "script" not in page.tags and "b" not in page.tags
    assert not [k for k, _ in page.attributes if k.startswith("on")]
    assert [img["src"][:22] for img in page.images] == ["data:image/png;base64,"] * 3
    for text in (HOSTILE_NAME, HOSTILE_MESSAGE, HOSTILE_FLAG, "<b>Absent</b> Learner (absent)"):
        assert text in page.words
    policy = [v for k, v in page.attributes if k == "content" and "default-src" in v]
    assert policy == [POLICY] and "script-src" not in POLICY


def test_a_label_that_is_not_valid_mathtext_is_drawn_as_written(hostile_course):
    """Does a ``$`` in a learner-forged label stop the figures from being drawn?"""
    summary = summarise("lstm", read_results(hostile_course, "lstm", []), {}, {}, set(), set())
    assert [f.name for f in figures(summary)] == ["grades.png", "tests.png", "mistakes.png"]

"""The bad-submission catalogue (tests/bad_submissions.py), graded as one class by ``grade``.

Every case is collected and graded beside the others and beside correct controls, in
parallel, with short time limits. For each: the score, the flag for manual review and a
message saying why; for the class: no other learner's grade or file changes, the gradebook
holds exactly one complete submission per learner, and no message quotes a hidden test.
"""

from __future__ import annotations

import hashlib
import json

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.commands.collect import collect
from autograder.commands.feedback import hidden_lines
from autograder.commands.grade import grade
from autograder.commands.release import generate
from autograder.core.gradebook import read_result
from autograder.settings import Limits, db_url
from tests.autograder.catalogues.bad_submissions import CASES, write
from tests.builders import add_assignment, double_assignment, make_course

pytestmark = pytest.mark.slow

LIMITS = Limits(cell_timeout=10, notebook_timeout=60, processes=64, memory_mb=2048)
IDS = [c.name for c in CASES]


def _text(result: dict) -> str:
    parts = result["repairs"] + result["flags"] + [t["message"] for t in result["tests"]]
    return " | ".join(parts).lower()


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """The whole catalogue collected and graded once: (course, results by student, hashes)."""
    base = tmp_path_factory.mktemp("catalogue")
    course = make_course(base / "course", {"add": add_assignment(),
                                           "double": double_assignment()})
    releases = {name: nbformat.read(generate(course, name, course / "exercises")
                                    / f"{name}.ipynb", 4) for name in ("add", "double")}
    (course / "sentinel.txt").write_text("the host's file")
    inbox = base / "inbox"
    for case in CASES:
        write(case, releases[case.assignment], course, inbox)
    collect(course, inbox, progress=False)
    submitted = course / "grading" / "submitted"
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in submitted.rglob("*.ipynb")}
    rows = grade(course, jobs=2, limits=LIMITS, progress=False)
    return course, {r.student: r.to_dict() for r in rows}, before


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_case_gets_its_score(catalogue, case):
    result = catalogue[1][case.name]
    assert result["score"] == case.score, _text(result)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_case_is_flagged_for_review_when_expected(catalogue, case):
    result = catalogue[1][case.name]
    assert result["flagged"] == case.flagged, _text(result)


@pytest.mark.parametrize("case", [c for c in CASES if c.says], ids=[c.name for c in CASES
                                                                     if c.says])
def test_case_report_says_why(catalogue, case):
    assert case.says in _text(catalogue[1][case.name])


def test_every_learner_is_graded_once_with_every_test(catalogue):
    course, results, _ = catalogue
    assert sorted(results) == sorted(IDS)
    with Gradebook(db_url(course)) as gb:
        for assignment in ("add", "double"):
            cells = {c.name for c in gb.find_notebook(assignment, assignment).grade_cells}
            subs = gb.find_assignment(assignment).submissions
            expected = sorted(c.name for c in CASES if c.assignment == assignment)
            assert sorted(s.student.id for s in subs) == expected
            for sub in subs:
                assert {g.name for g in sub.notebooks[0].grades} == cells
                assert sub.score == results[sub.student.id]["score"], sub.student.id
                assert sub.notebooks[0].flagged == results[sub.student.id]["flagged"]


def test_no_learners_files_were_changed_by_another(catalogue):
    course, _, before = catalogue
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in before}
    assert after == before


def test_result_files_match_the_gradebook(catalogue):
    course, results, _ = catalogue
    for case in CASES:
        record = read_result(course, case.assignment, case.name)
        assert record.score == results[case.name]["score"]


def test_no_host_file_was_written_and_no_link_or_solution_was_copied(catalogue):
    course, _, _ = catalogue
    assert (course / "sentinel.txt").read_text() == "the host's file"
    graded = course / "grading" / "autograded"
    assert not [p for p in graded.rglob("*") if p.is_symlink()]
    names = {p.name for p in graded.rglob("*") if p.is_file()}
    assert names <= {"add.ipynb", "double.ipynb", "timestamp.txt"}, names


def test_no_message_quotes_a_hidden_test(catalogue):
    course, results, _ = catalogue
    secrets = hidden_lines(course, "add") + hidden_lines(course, "double")
    assert secrets
    for case in CASES:
        assert not any(s in _text(results[case.name]) for s in map(str.lower, secrets)), case.name


def test_catalogue_covers_both_kinds(catalogue):
    kinds = [c.kind for c in CASES]
    assert kinds.count("accident") >= 12 and kinds.count("hostile") >= 20
    print(json.dumps({"cases": len(CASES), "accident": kinds.count("accident"),
                      "hostile": kinds.count("hostile")}))

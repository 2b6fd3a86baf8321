"""``score NB --remote URL`` (``score_remote``): the service grades, and the report and the
exit status are those of a local ``score``. The service is the fake of tests/test_check.py."""

from __future__ import annotations

import pytest

from autograder.commands.remote import RemoteCheckFailed, report, result_of, score_remote
from autograder.commands.score import exit_status, format_report
from tests import test_check as fake
from tests.test_check import TOKEN, done

# The fake service and its fixtures (tests/test_check.py).
service, notebook, no_settings = fake.service, fake.notebook, fake.no_settings


def test_a_remote_score_prints_the_local_report(service, notebook):
    said: list[str] = []
    result = score_remote(notebook, service.url, TOKEN, say=said.append)
    assert said == ["3 ahead of you", "1 ahead of you"]
    assert report(result) == format_report(result)
    assert report(result).splitlines() == [
        "rnn_forward: 4 / 5 points",
        "  pass  test_rnn_cell_forward_hand_case  1/1",
        "  FAIL  test_rnn_forward_matches_torch  3/4  hidden case 2 of 3 failed: Hs differs"]
    assert exit_status(result) == 0


def test_a_flagged_result_keeps_its_flags_and_is_a_grade(service, notebook):
    service.gets = [(200, {**done(), "flags": ["output truncated"]}, {})]
    result = score_remote(notebook, service.url, TOKEN, say=lambda s: None)
    assert result.flagged and "FLAGGED for manual review" in report(result)
    assert exit_status(result) == 0


def test_a_check_not_graded_exits_1_and_says_whose_failure_it_is(service, notebook):
    service.gets = [(200, {**done(), "status": "not graded", "tests": [], "score": None,
                           "max_score": None, "flags": ["grading stopped: out of time"]}, {})]
    result = score_remote(notebook, service.url, TOKEN, say=lambda s: None)
    assert exit_status(result) == 1
    assert report(result).startswith("rnn_forward: NOT GRADED: grading stopped: out of time")
    assert "grading service's machine" in report(result)


def test_the_assignment_is_the_files_name_unless_given(service, notebook):
    score_remote(notebook, service.url, TOKEN, assignment="lstm_forward", say=lambda s: None)
    assert service.seen[0][1] == "/api/checks?assignment=lstm_forward"


@pytest.mark.parametrize(("status", "advice"), [
    (401, "did not accept your token"), (413, "clear the outputs"),
    (429, "wait 12 seconds"), (503, "try again in a few minutes")])
def test_an_error_of_the_service_is_a_remote_check_failure_with_advice(service, notebook,
                                                                       status, advice):
    service.post = (status, {"error": "no"}, {"Retry-After": "12"})
    with pytest.raises(RemoteCheckFailed, match=advice):
        score_remote(notebook, service.url, TOKEN, say=lambda s: None)


def test_a_malformed_result_is_a_remote_check_failure(service, notebook):
    service.gets = [(200, b"not json", {})]
    with pytest.raises(RemoteCheckFailed, match="not the JSON"):
        score_remote(notebook, service.url, TOKEN, say=lambda s: None)


def test_a_missing_notebook_is_a_remote_check_failure(tmp_path, service):
    with pytest.raises(RemoteCheckFailed, match="cannot read"):
        score_remote(tmp_path / "none.ipynb", service.url, TOKEN)
    assert service.seen == []


def test_a_test_with_full_points_passes_and_one_without_fails():
    result = result_of(done())
    assert [t.passed for t in result.tests] == [True, False]

"""Hidden tests by one rule, nbgrader's: what the release removes is what the grader treats as
hidden and what feedback removes; and feedback never shows a test's traceback."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbformat import v4
from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from traitlets.config.loader import PyFileConfigLoader
from traitlets.utils.importstring import import_item

from autograder.runner.hidetests import hidden_line_numbers
from autograder.runner.trusted import hidden_lines
from tests.builders import grade_cell, notebook, solution_cell

ROOT = Path(__file__).resolve().parents[3]

# A hidden region whose markers are not at the start of their line: nbgrader's release hides it.
MID_LINE = ("assert f(1) == 1\n"
            "# -- BEGIN HIDDEN TESTS --\n"
            "assert f(2) == 4\n"
            "# -- END HIDDEN TESTS --\n"
            "print('visible')")
USUAL = "assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS\n"


def course_config():
    """The course's nbgrader configuration, as nbgrader's apps load it."""
    return PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()


def run_feedback_preprocessors(nb):
    """``nb`` after the course's feedback preprocessors (GenerateFeedback.preprocessors), in
    their order, but for those that need more than the notebook: GetGrades (the gradebook) and
    the page's style sheet."""
    config = course_config()
    nb, resources = copy.deepcopy(nb), {}
    for name in config.GenerateFeedback.preprocessors:
        cls = import_item(name)
        if issubclass(cls, (GetGrades, CSSHTMLHeaderPreprocessor)):
            continue
        nb, resources = cls(config=config).preprocess(nb, resources)
    return nb


def released_lines(source: str) -> list[str]:
    """The lines of a test cell's ``source`` that nbgrader's release keeps."""
    cell = grade_cell(source, "t", 1)
    ClearHiddenTests().preprocess_cell(cell, {}, 0)
    return cell.source.split("\n")


# -- one rule: nbgrader's ---------------------------------------------------------------------

@pytest.mark.parametrize("source", [USUAL, MID_LINE, "no hidden test\n", "x = 1\n" + USUAL
                                    + "y = 2\n# BEGIN HIDDEN TESTS\nz = 3\n# END HIDDEN TESTS"])
def test_the_hidden_lines_are_the_lines_nbgraders_release_removes(source):
    """Are the lines outside the hidden regions exactly the lines the release keeps?"""
    lines = source.split("\n")
    kept = [ln for n, ln in enumerate(lines, 1) if n not in hidden_line_numbers(source)]
    assert kept == released_lines(source)


def test_a_marker_mid_line_opens_a_hidden_region_for_the_grader():
    """Is a call from a ``# -- BEGIN HIDDEN TESTS --`` region a hidden case for the grader
    (which then relays no learner text), as it is hidden from the release?"""
    assert hidden_lines(MID_LINE) == frozenset({2, 3, 4})
    assert hidden_lines(USUAL) == frozenset({2, 3, 4})


def test_a_region_nbgrader_would_refuse_hides_the_whole_cell():
    """An unfinished or nested region (nbgrader's release refuses it): is every line of the
    cell hidden, rather than none?"""
    unfinished = "assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(2) == 4"
    assert hidden_line_numbers(unfinished) == frozenset({1, 2, 3})
    nested = "### BEGIN HIDDEN TESTS\n### BEGIN HIDDEN TESTS\nx\n### END HIDDEN TESTS"
    assert hidden_line_numbers(nested) == frozenset({1, 2, 3, 4})


def test_the_course_keeps_nbgraders_markers():
    """Does the course configuration leave nbgrader's markers as they are (the grader and the
    leak check ask nbgrader's rule with its default markers)?"""
    configured, default = ClearHiddenTests(config=course_config()), ClearHiddenTests()
    assert (configured.begin_test_delimeter, configured.end_test_delimeter) == (
        default.begin_test_delimeter, default.end_test_delimeter)


# -- the feedback preprocessors ----------------------------------------------------------------

def graded_notebook(test_source: str, answer: str = "def f(x):\n    return x * x"):
    """A graded notebook: the learner's answer, then a test cell that failed with a
    traceback quoting its hidden line."""
    error = v4.new_output("error", ename="AssertionError", evalue="f(2) should be 4",
                          traceback=["Traceback (most recent call last)",
                                     "----> 3 assert f(2) == 4", "AssertionError: f(2) should "
                                     "be 4"])
    test = grade_cell(test_source, "test_f", 1)
    test.outputs = [error]
    return notebook(solution_cell(answer, "f"), test)


@pytest.mark.parametrize("source", [USUAL, MID_LINE])
def test_feedback_removes_the_hidden_tests_the_release_removes(source):
    """Whatever the markers' place on their line, does the feedback's test cell show what
    the release shows, and no hidden line?"""
    nb = run_feedback_preprocessors(graded_notebook(source))
    shown = nb.cells[1].source
    assert shown.split("\n") == released_lines(source)
    assert "assert f(2) == 4" not in shown and "HIDDEN TESTS" not in shown


def test_feedback_shows_a_failing_tests_message_without_its_traceback():
    nb = run_feedback_preprocessors(graded_notebook(USUAL))
    [error] = nb.cells[1].outputs
    assert error.traceback == ["AssertionError: f(2) should be 4"]
    assert error.evalue == "f(2) should be 4"


def test_a_learners_cell_that_mentions_the_markers_is_shown_as_written():
    """Does a learner's answer that writes the markers (one alone, or a pair) reach their
    feedback unchanged, instead of stopping it (nbgrader refuses a lone marker, or a region
    outside a test cell)?"""
    for answer in ["def f(x):\n    # BEGIN HIDDEN TESTS is my teacher's marker\n    return x * x",
                   "def f(x):\n    ### BEGIN HIDDEN TESTS\n    return x * x\n"
                   "    ### END HIDDEN TESTS"]:
        nb = run_feedback_preprocessors(graded_notebook(USUAL, answer))
        assert nb.cells[0].source == answer


def test_a_learners_own_error_keeps_its_traceback():
    nb = graded_notebook(USUAL)
    nb.cells[0].outputs = [v4.new_output("error", ename="NameError", evalue="name 'g' is not "
                                         "defined", traceback=["frame 1", "NameError: ..."])]
    assert run_feedback_preprocessors(nb).cells[0].outputs[0].traceback == ["frame 1",
                                                                            "NameError: ..."]

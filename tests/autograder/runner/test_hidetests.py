"""Feedback never shows a hidden test."""

from autograder.runner.hidetests import hide_hidden_tests


def test_hidden_test_region_is_replaced_by_one_line():
    source = "assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS\n"
    assert hide_hidden_tests(source) == "assert f(1) == 1\n# (hidden tests: not shown)\n"

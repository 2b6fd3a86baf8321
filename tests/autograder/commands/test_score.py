"""`python -m autograder score`: one notebook graded against its assignment, hidden tests too."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest

from autograder.commands.release import generate
from autograder.commands.score import score_notebook

pytestmark = pytest.mark.slow  # grades notebooks in sandboxed kernels


@pytest.fixture
def release(toy_course):
    """The student release of the toy assignment, as a learner downloads it."""
    return generate(toy_course, "add", toy_course / "exercises") / "add.ipynb"


def fill_in(release_path, body: str, dest):
    """Write the release with the learner's ``body`` in place of the stubbed solution."""
    nb = nbformat.read(release_path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = f"def add(a, b):\n    {body}"
    nbformat.write(nb, dest)
    return dest


def test_json_report_has_assignment_scores_and_one_entry_per_test(toy_course, release,
                                                                  run_autograder):
    proc = run_autograder("score", toy_course / "solutions" / "add" / "add.ipynb", "--json")
    report = json.loads(proc.stdout)
    assert report["assignment"] == "add"
    assert (report["score"], report["max_score"]) == (3.0, 3.0)
    assert [t["name"] for t in report["tests"]] == ["test_add", "test_add_negative"]
    assert set(report["tests"][0]) == {"name", "points", "max_points", "passed", "message"}


def test_release_scores_zero_and_exits_zero(release, run_autograder):
    report = json.loads(run_autograder("score", release, "--json").stdout)
    assert report["score"] == 0.0
    assert all(not t["passed"] and "NotImplementedError" in t["message"]
               for t in report["tests"])


def test_hidden_tests_run_and_give_partial_credit(release, tmp_path):
    # Passes the visible test add(1, 2) == 3 and the second test, fails the hidden add(2, 2).
    nb = fill_in(release, "return a + b if a != 2 else 0", tmp_path / "add.ipynb")
    report = score_notebook(nb)
    assert report.score == 1.0
    assert report.tests[0].message == "AssertionError: add(2, 2) should be 4"


def test_edited_test_cell_is_restored_from_the_source(release, tmp_path):
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = "pass  # the learner deleted the test"
    nbformat.write(nb, tmp_path / "add.ipynb")
    assert score_notebook(tmp_path / "add.ipynb").score == 0.0


def test_stderr_output_does_not_cost_points(release, tmp_path):
    body = "import sys, warnings\n    warnings.warn('harmless')\n" \
           "    print('progress', file=sys.stderr)\n    return a + b"
    nb = fill_in(release, body, tmp_path / "add.ipynb")
    assert score_notebook(nb).score == 3.0


def test_assignment_is_found_from_cell_ids_when_the_file_is_renamed(release, tmp_path):
    renamed = shutil.copy(release, tmp_path / "my homework.ipynb")
    assert score_notebook(renamed).assignment == "add"


def test_copy_suffix_in_file_name_is_ignored(release, tmp_path):
    copy = shutil.copy(release, tmp_path / "add (1).ipynb")
    assert score_notebook(copy).assignment == "add"


def test_unreadable_file_is_graded_as_blank_with_a_one_line_reason(toy_course, tmp_path,
                                                                   run_autograder):
    bad = tmp_path / "add.ipynb"
    bad.write_text("{ this is not json")
    report = json.loads(run_autograder("score", bad, "--json").stdout)
    assert report["score"] == 0.0 and report["flagged"]
    assert any("unreadable notebook: add.ipynb: not a Jupyter notebook (invalid JSON"
               in f for f in report["flags"])


def test_missing_file_is_reported_by_name(toy_course, tmp_path, run_autograder):
    proc = run_autograder("score", tmp_path / "nowhere.ipynb", retcode=2)
    assert "nowhere.ipynb: no such file" in proc.stderr


def test_unknown_assignment_names_the_known_ones(toy_course, release, run_autograder):
    proc = run_autograder("score", release, "--assignment", "lstm", retcode=2)
    assert proc.stderr.splitlines()[-1].startswith("UnknownAssignment: ")
    assert "known: add" in proc.stderr


def test_notebook_of_no_assignment_says_how_to_name_it(toy_course, tmp_path, run_autograder):
    from tests.builders import notebook

    nbformat.write(notebook(), tmp_path / "untitled.ipynb")
    proc = run_autograder("score", tmp_path / "untitled.ipynb", retcode=2)
    assert "--assignment NAME" in proc.stderr


def test_unknown_command_lists_the_commands(run_autograder):
    proc = run_autograder("grades", retcode=2)
    assert "score" in proc.stderr and "release" in proc.stderr


def test_score_refuses_to_run_without_the_sandbox_and_says_how_to_install_it(
        toy_course, release, tmp_path):
    import subprocess
    import sys

    env = {"PATH": str(tmp_path), "RNNCOURSE_ROOT": str(toy_course)}  # no bwrap on PATH
    proc = subprocess.run([sys.executable, "-m", "autograder", "score", str(release)],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.startswith("SandboxUnavailable: bubblewrap is not installed")
    assert "apt-get install -y bubblewrap" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_score_says_which_sandbox_it_uses(release, run_autograder):
    proc = run_autograder("score", release)
    assert proc.stderr.startswith("sandbox: bubblewrap")
    none = run_autograder("score", release, "--sandbox", "none")
    assert none.stderr.startswith("sandbox: none")


# -- a failure of the grading machine is not a score ----------------------------------------

@pytest.fixture
def own_score_worker(monkeypatch):
    """``score`` starts a grading process of its own for the test (which inherits the
    test's environment), stopped after it."""
    import threading

    from autograder.commands import score as scoring

    local = threading.local()
    monkeypatch.setattr(scoring, "_LOCAL", local)
    yield
    if getattr(local, "worker", None) is not None:
        local.worker.close()


def test_a_notebook_whose_kernel_cannot_start_is_not_graded_and_exits_1(
        release, tmp_path, monkeypatch, own_score_worker):
    """The issue: 0/10 FLAGGED 'Kernel died before replying to kernel_info', exit 0. Is
    the notebook now given no score at all, the report saying NOT GRADED and why, and the
    exit status 1?"""
    from autograder.commands.score import as_json, exit_status, format_report

    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(tmp_path / "gone" / "python"), "-m", "ipykernel_launcher", "-f",
                 "{connection_file}"], "display_name": "Python 3", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nb = fill_in(release, "return a + b", tmp_path / "add.ipynb")
    result = score_notebook(nb)
    assert result.tests == [] and result.score == 0.0
    assert "Kernel died before replying to kernel_info" in result.flags[0]
    report = format_report(result)
    assert report.startswith("add: NOT GRADED: ") and "points" not in report
    assert exit_status(result) == 1
    data = as_json(result)
    assert (data["graded"], data["score"], data["max_score"]) == (False, None, None)


def test_a_flagged_grade_is_still_a_grade_and_exits_0(release, tmp_path):
    """The learner's side: a kernel the learner's code kills is graded (zero, flagged),
    and ``score`` exits 0."""
    from autograder.commands.score import as_json, exit_status

    nb = fill_in(release, "import os\n    os._exit(3)", tmp_path / "add.ipynb")
    result = score_notebook(nb)
    assert (result.score, result.max_score, result.flagged) == (0.0, 3.0, True)
    assert exit_status(result) == 0
    assert as_json(result)["graded"] is True

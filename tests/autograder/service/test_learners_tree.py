"""The learners' tree (``publish``) against the running service: Run All of a published
exercise in a kernel sends the saved notebook once, and each test cell shows that test's
result from the service (a passing line, or the service's message for a failing test).

The assignment is the service tests' ``add`` (tests/autograder/service/conftest.py): its
course is copied into a git repository and published, and the learner's notebook is the
published one with an answer filled in."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.commands.publish import publish
from tests.autograder.service.conftest import clear_checks, start_service
from tests.builders import answer_cell

pytestmark = pytest.mark.slow  # grades notebooks in sandboxed kernels, runs kernels

WRONG = "return a + b if a != 2 else 0"  # fails the hidden part of test_add only


@pytest.fixture(scope="module")
def service(course, tokens):
    clear_checks(course)
    service = start_service(course, "--jobs", "1", name="learners_tree")
    yield service
    service.stop()
    clear_checks(course)  # the next module's learners start with no check


@pytest.fixture(scope="module")
def published(course, tmp_path_factory) -> Path:
    """The published ``add`` notebook of the course (a git copy of its solutions/ and
    exercises/, published)."""
    base = tmp_path_factory.mktemp("learners_tree")
    repo = base / "repo"
    for folder in ("solutions", "exercises"):
        shutil.copytree(course / folder, repo / folder)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    publish(repo, base / "tree")
    return base / "tree" / "exercises" / "add" / "add.ipynb"


def learners_notebook(published: Path, folder: Path, body: str | None) -> Path:
    """The published notebook with the answer ``def add(a, b): <body>``, saved in
    ``folder`` as a learner's Jupyter saves it."""
    nb = nbformat.read(published, as_version=4)
    answer_cell(nb).source = f"def add(a, b):\n    {body or 'return a + b'}"
    path = folder / "add.ipynb"
    nbformat.write(nb, path)
    return path


def run_all(path: Path, service, token: str, monkeypatch) -> dict[str, dict]:
    """Run All of the notebook at ``path`` in a kernel (nbclient) configured for the service,
    as Jupyter starts it (JPY_SESSION_NAME names the notebook); each test cell's outputs."""
    monkeypatch.setenv("RNNCOURSE_SERVICE", service.url)
    monkeypatch.setenv("RNNCOURSE_TOKEN", token)
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")}


def text_of(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def errors_of(cell) -> list:
    return [o for o in cell.outputs if o.output_type == "error"]


def saved_at(path: Path) -> str:
    return time.strftime("%H:%M", time.localtime(path.stat().st_mtime))


def test_run_all_of_a_correct_notebook_shows_every_test_passed(published, service, tokens,
                                                                tmp_path, monkeypatch):
    path = learners_notebook(published, tmp_path, None)
    cells = run_all(path, service, tokens["erin"], monkeypatch)
    assert list(cells) == ["test_add", "test_add_negative"]
    assert not any(errors_of(c) for c in cells.values())
    when = saved_at(path)
    assert text_of(cells["test_add"]).splitlines()[-1] == (
        f"test_add: passed (2/2 points), checked on the saved version of {when}")
    assert text_of(cells["test_add_negative"]) == (
        f"test_add_negative: passed (1/1 points), checked on the saved version of {when}\n")


def test_the_service_grades_the_published_notebook_to_full_marks_from_one_check(
        published, service, tokens, tmp_path, monkeypatch):
    """Did Run All send the notebook once, and the service grade it with the source's tests
    (the hidden part of test_add included) to full marks?"""
    path = learners_notebook(published, tmp_path, None)
    run_all(path, service, tokens["frank"], monkeypatch)
    listed = service.request("GET", "/api/checks?assignment=add", tokens["frank"]).body
    assert len(listed["checks"]) == 1
    check = service.result(tokens["frank"], listed["checks"][0]["id"])
    assert (check["status"], check["score"], check["max_score"]) == ("done", 3.0, 3.0)


def test_run_all_of_a_wrong_notebook_shows_the_services_message(published, service, tokens,
                                                                 tmp_path, monkeypatch):
    path = learners_notebook(published, tmp_path, WRONG)
    cells = run_all(path, service, tokens["dave"], monkeypatch)
    [error] = errors_of(cells["test_add"])
    assert (error.ename, error.evalue) == ("ServiceTestFailed",
                                           "AssertionError: add(2, 2) should be 4")
    assert error.traceback == [
        "ServiceTestFailed: AssertionError: add(2, 2) should be 4",
        f"(test_add: 0/2 points, checked on the saved version of {saved_at(path)}: save "
        "(Ctrl+S) before you run the tests again)"]
    assert text_of(cells["test_add_negative"]).startswith("test_add_negative: passed")


def test_without_a_service_the_first_test_says_how_to_configure_one(published, tmp_path,
                                                                   monkeypatch):
    path = learners_notebook(published, tmp_path, None)
    for name in ("RNNCOURSE_SERVICE", "RNNCOURSE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.rnncourse.json
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    [error] = errors_of(test)
    assert error.ename == "ServiceNotConfigured"
    assert "RNNCOURSE_SERVICE" in error.evalue and "python -m autograder score" in error.evalue
    assert not any("rnncourse" in line and "File" in line for line in error.traceback)


def validate(path: Path, service, token: str, monkeypatch) -> dict:
    """nbgrader's Validate of the notebook at ``path`` (the button of the learner's
    JupyterLab): a kernel in the notebook's folder, which is not told the notebook's name."""
    from nbgrader.validator import Validator

    monkeypatch.setenv("RNNCOURSE_SERVICE", service.url)
    monkeypatch.setenv("RNNCOURSE_TOKEN", token)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    return Validator().validate(str(path))


def test_nbgraders_validate_passes_a_correct_notebook_through_the_service(
        published, service, tokens, tmp_path, monkeypatch):
    """No changed cell (the checksums), no failed test."""
    path = learners_notebook(published, tmp_path, None)
    assert validate(path, service, tokens["carol"], monkeypatch) == {}


def test_nbgraders_validate_of_a_wrong_notebook_shows_the_services_message(
        published, service, tokens, tmp_path, monkeypatch):
    path = learners_notebook(published, tmp_path, WRONG)
    results = validate(path, service, tokens["bob"], monkeypatch)
    assert list(results) == ["failed"]
    [failed] = results["failed"]
    assert failed["source"].endswith('service_test("add", "test_add")')
    assert "AssertionError: add(2, 2) should be 4" in failed["raw_error"]

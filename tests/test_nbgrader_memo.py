"""The tests' memo of ``nbgrader generate_assignment`` (``tests/nbgrader_memo.py``) gives what
nbgrader gives: the same files, byte for byte, for the same input, and nbgrader itself for
any other."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.core.course import NbgraderFailed
from autograder.core.template import template_course
from tests.builders import add_assignment, make_course
from tests.nbgrader_memo import memoised


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and ".nbgrader.log" not in p.name}


class Counting:
    """The real ``run_nbgrader``, counting its generate_assignment runs."""

    def __init__(self, real):
        self.real, self.runs = real, 0

    def __call__(self, root, *args, **kwargs):
        self.runs += args[0] == "generate_assignment"
        return self.real(root, *args, **kwargs)


@pytest.fixture
def nbgrader_runs(tmp_path, monkeypatch):
    """The template course's ``run_nbgrader``, memoised into a store of this test, and the
    count of the real runs under it."""
    from autograder.core import template

    real = Counting(template.run_nbgrader.__wrapped__)
    monkeypatch.setattr(template, "run_nbgrader", memoised(real, tmp_path / "store"))
    return real


def test_the_same_source_is_generated_once_and_gives_the_same_files(tmp_path, nbgrader_runs):
    first = template_course(make_course(tmp_path / "a", {"add": add_assignment()}), "add")
    second = template_course(make_course(tmp_path / "b", {"add": add_assignment()}), "add")
    assert nbgrader_runs.runs == 1
    assert _files(second) == _files(first)
    assert (second / "exercises" / "add" / "add.ipynb").is_file()


def test_a_changed_source_is_generated_again(tmp_path, nbgrader_runs):
    template_course(make_course(tmp_path / "a", {"add": add_assignment()}), "add")
    other = make_course(tmp_path / "b", {"add": add_assignment()})
    source = other / "solutions" / "add" / "add.ipynb"
    source.write_text(source.read_text().replace("# Adding numbers", "# Adding two numbers"))
    built = template_course(other, "add")
    assert nbgrader_runs.runs == 2
    assert "Adding two numbers" in (built / "exercises" / "add" / "add.ipynb").read_text()


def test_a_failed_run_is_not_kept(tmp_path, nbgrader_runs):
    broken = make_course(tmp_path / "a", {"add": add_assignment()})
    source = broken / "solutions" / "add" / "add.ipynb"
    source.write_text("not a notebook")
    for _ in range(2):
        with pytest.raises(NbgraderFailed):
            template_course(broken, "add")
    assert nbgrader_runs.runs == 2

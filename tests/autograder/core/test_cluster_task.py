"""A Dask worker grades only with the template course of the run's exact solutions/ version:
the archive it received is checked by its sha256, and the solutions inside by their hash."""

from __future__ import annotations

import pytest

from autograder.core import cluster_task
from autograder.core.cluster import pack
from autograder.core.cluster_task import TemplateMismatch, archive_hash, unpack_template
from autograder.core.template import source_hash


@pytest.fixture
def template(tmp_path, monkeypatch):
    """A template course folder with one assignment; workers unpack into tmp_path."""
    monkeypatch.setattr(cluster_task, "base_dir", lambda: tmp_path / "worker")
    monkeypatch.setattr(cluster_task, "_VERIFIED", set())
    course = tmp_path / "course"
    (course / "solutions" / "add").mkdir(parents=True)
    (course / "solutions" / "add" / "add.ipynb").write_text('{"cells": []}')
    return course


def test_the_template_of_the_runs_solutions_is_unpacked(template):
    archive = pack(template)
    source = source_hash(template / "solutions" / "add")
    dest = unpack_template(archive, "add", source, archive_hash(archive))
    assert (dest / "solutions" / "add" / "add.ipynb").read_text() == '{"cells": []}'


def test_a_damaged_archive_is_refused(template):
    archive = pack(template)
    source = source_hash(template / "solutions" / "add")
    with pytest.raises(TemplateMismatch, match="arrived damaged"):
        unpack_template(archive[:-10] + b"0" * 10, "add", source, archive_hash(archive))


def test_a_template_of_another_solutions_version_is_refused(template):
    source = source_hash(template / "solutions" / "add")  # the run's version
    (template / "solutions" / "add" / "add.ipynb").write_text('{"cells": [1]}')  # edited since
    archive = pack(template)
    with pytest.raises(TemplateMismatch, match="the run grades"):
        unpack_template(archive, "add", source, archive_hash(archive))


def test_a_hung_grading_on_a_dask_worker_is_stopped_flagged_and_not_graded_again(
        tmp_path, monkeypatch):
    """On a Dask worker too: is a grading process that never answers stopped at the
    submission's outer limit, and the submission flagged, never graded again?"""
    import sys
    import threading

    from autograder.core import worker
    from autograder.core.worker import Worker
    from autograder.settings import Limits
    from tests.autograder.core.test_worker import FAKE_WORKER

    monkeypatch.setattr(cluster_task, "base_dir", lambda: tmp_path)
    monkeypatch.setattr(cluster_task, "_LOCAL", threading.local())
    monkeypatch.setattr(Worker, "command", [sys.executable, FAKE_WORKER])
    monkeypatch.setenv("RNNCOURSE_FAKE_WORKER", "hang:bob")
    again: list[str] = []
    monkeypatch.setattr(worker, "autograde_batch",
                        lambda *a, **k: again.append("bob") or {})
    limits = Limits(notebook_timeout=1, repair_seconds=1, startup_seconds=1)  # 3 s in all
    _, result, failure = cluster_task._grade(tmp_path, "add", "bob", None, tmp_path / "s",
                                             limits)
    assert failure == "" and again == []
    assert result.flagged and "ran past its time limit (3 s)" in result.flags[0]

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

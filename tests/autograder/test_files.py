"""One way to replace a file whole, one hash of files (autograder.files)."""

from __future__ import annotations

import os

import pytest

from autograder import files
from autograder.files import atomic_write, files_sha256, sha256


def test_atomic_write_replaces_the_file_with_bytes_or_text(tmp_path):
    path = tmp_path / "result.json"
    atomic_write(path, b"old")
    atomic_write(path, "new: é")
    assert path.read_bytes() == "new: é".encode()
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_a_write_that_fails_keeps_the_old_file_and_leaves_no_part(tmp_path, monkeypatch):
    """Stopped before the rename: does a reader still see the old content, whole?"""
    path = tmp_path / "result.json"
    path.write_text("old")

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_a_link_planted_at_the_temporary_name_is_not_followed(tmp_path, monkeypatch):
    """Someone who guesses the temporary name and puts a link there gets no write through it."""
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    monkeypatch.setattr(files.secrets, "token_hex", lambda n: "guessed")
    (tmp_path / ".result.json.guessed.part").symlink_to(victim)
    with pytest.raises(FileExistsError):
        atomic_write(tmp_path / "result.json", "new")
    assert victim.read_text() == "untouched"
    assert not (tmp_path / "result.json").exists()


def test_the_new_file_gets_the_permissions_open_gives(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "f", "x")
    finally:
        os.umask(umask)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o644


def test_sha256_is_the_hexadecimal_digest():
    assert sha256(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def write(folder, contents: dict[str, bytes]):
    folder.mkdir()
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    return sorted(folder.iterdir())


def test_files_sha256_ignores_the_order_the_files_come_in(tmp_path):
    paths = write(tmp_path / "a", {"x.py": b"1", "y.py": b"2"})
    assert files_sha256(tmp_path / "a", paths) == files_sha256(tmp_path / "a", paths[::-1])


def test_files_sha256_tells_a_files_bytes_from_the_next_files_name(tmp_path):
    """Names and contents read one after the other ("a" "1" "b2" "" as "a" "1" "b" "2") would
    hash alike: a changed source must never keep its template's or check's hash."""
    one = write(tmp_path / "one", {"a": b"1", "b": b"2"})
    two = write(tmp_path / "two", {"a": b"1", "b2": b""})
    assert files_sha256(tmp_path / "one", one) != files_sha256(tmp_path / "two", two)


def test_files_sha256_counts_the_names(tmp_path):
    one = write(tmp_path / "one", {"a.py": b"1"})
    two = write(tmp_path / "two", {"b.py": b"1"})
    assert files_sha256(tmp_path / "one", one) != files_sha256(tmp_path / "two", two)

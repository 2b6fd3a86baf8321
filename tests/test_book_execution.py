"""The book's execution extension (rnncourse.book_execution): which pages execute, in what
order, with how many threads, and when a change to the package re-executes every page."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from rnncourse import book_execution as bx


def _tree(tmp_path: Path) -> SimpleNamespace:
    package = tmp_path / "pkg"
    (package / "__pycache__").mkdir(parents=True)
    (package / "data.py").write_text("X = 1\n")
    (package / "__pycache__" / "data.cpython-311.pyc").write_bytes(b"old bytecode")
    lock = tmp_path / "requirements.lock"
    lock.write_text("numpy==2.0.0\n")
    return SimpleNamespace(package=package, lock=lock)


def test_the_fingerprint_follows_the_package_source_and_the_lock_not_bytecode(tmp_path):
    t = _tree(tmp_path)
    first = bx.fingerprint(t.package, t.lock)
    (t.package / "__pycache__" / "data.cpython-311.pyc").write_bytes(b"new bytecode")
    assert bx.fingerprint(t.package, t.lock) == first
    (t.package / "data.py").write_text("X = 2\n")
    second = bx.fingerprint(t.package, t.lock)
    assert second != first
    t.lock.write_text("numpy==2.0.1\n")
    assert bx.fingerprint(t.package, t.lock) != second
    (t.package / "more.py").write_text("")
    assert len({first, second, bx.fingerprint(t.package, t.lock)}) == 3


def _build(tmp_path: Path, monkeypatch) -> SimpleNamespace:
    t = _tree(tmp_path)
    monkeypatch.setattr(bx, "PACKAGE", t.package)
    build = tmp_path / "_build"
    (build / ".doctrees").mkdir(parents=True)
    (build / ".doctrees" / "environment.pickle").write_bytes(b"env")
    (build / ".jupyter_cache").mkdir()
    (build / ".jupyter_cache" / "global.db").write_bytes(b"db")
    app = SimpleNamespace(doctreedir=str(build / ".doctrees"), srcdir=str(tmp_path),
                          outdir=str(build / "html"))
    return SimpleNamespace(app=app, config=SimpleNamespace(nb_execution_cache_path=""),
                           pickle=build / ".doctrees" / "environment.pickle",
                           cache=build / ".jupyter_cache", package=t.package)


def test_a_build_with_the_same_package_keeps_the_environment_and_the_cache(tmp_path, monkeypatch):
    b = _build(tmp_path, monkeypatch)
    bx.forget_stale_pages(b.app, b.config)  # the first build writes the fingerprint
    b.cache.mkdir()
    (b.cache / "global.db").write_bytes(b"db")
    b.pickle.write_bytes(b"env")
    bx.forget_stale_pages(b.app, b.config)
    assert b.pickle.exists() and (b.cache / "global.db").exists()


def test_a_change_to_the_package_makes_every_page_execute_again(tmp_path, monkeypatch):
    b = _build(tmp_path, monkeypatch)
    bx.forget_stale_pages(b.app, b.config)
    b.pickle.write_bytes(b"env")
    (b.cache).mkdir(exist_ok=True)
    (b.package / "data.py").write_text("X = 2\n")
    bx.forget_stale_pages(b.app, b.config)
    assert not b.pickle.exists() and not b.cache.exists()
    b.pickle.write_bytes(b"env")
    bx.forget_stale_pages(b.app, b.config)  # and once only
    assert b.pickle.exists()


def test_a_build_folder_of_an_older_version_without_a_fingerprint_starts_afresh(
        tmp_path, monkeypatch):
    b = _build(tmp_path, monkeypatch)
    bx.forget_stale_pages(b.app, b.config)
    assert not b.pickle.exists() and not b.cache.exists()
    assert (Path(b.app.doctreedir) / bx.FINGERPRINT).is_file()


def _page(name: str, seconds: float | None) -> bx.Page:
    return bx.Page(name, Path(f"{name}.md"), None, None, 300, False, False, seconds)


def test_pages_never_timed_go_first_then_the_slowest():
    pages = [_page("a", 5.0), _page("new", None), _page("b", 60.0), _page("c", 20.0)]
    assert [p.docname for p in bx.longest_first(pages)] == ["new", "b", "c", "a"]


def test_parallel_kernels_share_the_cores_unless_threads_are_set(monkeypatch):
    for name in bx.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("RNNCOURSE_KERNEL_THREADS", raising=False)
    monkeypatch.setattr(bx, "available_cpus", lambda: 4)
    assert bx.kernel_environment(2) == dict.fromkeys(bx.THREAD_VARIABLES, "2")
    assert bx.kernel_environment(8) == dict.fromkeys(bx.THREAD_VARIABLES, "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert bx.kernel_environment(2) == {}


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_a_wrong_number_of_kernels_says_what_to_give(monkeypatch, value):
    monkeypatch.setenv("RNNCOURSE_BOOK_JOBS", value)
    with pytest.raises(ValueError, match="whole number of kernels"):
        bx.job_count()

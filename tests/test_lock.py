"""The locked environment: requirements.lock matches requirements.txt, and is what is installed.

requirements.lock is generated from requirements.txt by `make lock` (pip-compile with
hashes); `make venv` installs it. These checks read both files with ``packaging``, on their
own, apart from ``scripts/lockfile.py`` (which the Makefile uses before any venv exists).
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
FIX = "run `make lock` and commit requirements.lock"


def requirements() -> list[Requirement]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [Requirement(line.split("#", 1)[0].strip()) for line in lines
            if line.split("#", 1)[0].strip()]


def locked() -> dict[str, tuple[Requirement, list[str]]]:
    """The lock as {name: (requirement, hashes)}; entries span lines ending in a backslash."""
    text = (ROOT / "requirements.lock").read_text()
    entries = {}
    for entry in text.replace("\\\n", " ").splitlines():
        entry = entry.split("#", 1)[0].strip()
        if not entry:
            continue
        words = entry.split()
        spec = " ".join(w for w in words if not w.startswith("--"))
        hashes = [w.removeprefix("--hash=") for w in words if w.startswith("--hash=")]
        req = Requirement(spec)
        entries[canonicalize_name(req.name)] = (req, hashes)
    return entries


def pinned_version(req: Requirement) -> Version:
    (spec,) = req.specifier
    assert spec.operator == "==", f"{req} is not pinned with =="
    return Version(spec.version)


def test_every_requirement_is_pinned_with_double_equals():
    loose = [str(r) for r in requirements()
             if len(r.specifier) != 1 or next(iter(r.specifier)).operator != "=="]
    assert not loose, f"pin these with == in requirements.txt: {loose}"


def test_every_requirement_is_in_the_lock_at_its_version():
    lock = locked()
    problems = []
    for req in requirements():
        name = canonicalize_name(req.name)
        if name not in lock:
            problems.append(f"{req} is missing from the lock")
        elif Version(pinned_version(lock[name][0]).public) != pinned_version(req):
            problems.append(f"{req} is locked as {lock[name][0]}")
    assert not problems, f"{problems}: {FIX}"


def test_every_locked_package_is_pinned_with_a_hash():
    unhashed = [str(req) for req, hashes in locked().values()
                if not hashes or not all(h.startswith("sha256:") for h in hashes)]
    assert not unhashed, f"locked without a sha256 hash: {unhashed}: {FIX}"
    assert all(pinned_version(req) for req, _ in locked().values())


def test_torch_is_locked_at_its_cpu_build_so_no_cuda_build_is_downloaded():
    req, hashes = locked()["torch"]
    assert pinned_version(req).local == "cpu", (
        f"the lock has {req}, which pip would take from PyPI (the CUDA build, several GB): "
        f"make PyTorch's CPU wheel available to pip and {FIX}")


def test_the_environment_is_the_locked_one():
    if (sys.version_info[:2], platform.system(), platform.machine()) != ((3, 11), "Linux",
                                                                         "x86_64"):
        pytest.skip("requirements.lock is for CPython 3.11 on Linux x86_64")
    wrong = []
    for name, (req, _) in locked().items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            wrong.append(f"{req.name} is not installed")
            continue
        if Version(installed) != pinned_version(req):
            wrong.append(f"{req.name} {installed} is installed, the lock says {req}")
    assert not wrong, f"{wrong}: run `make venv` (or rm -r .venv && make venv)"

"""The locked environment: requirements.lock, generated from requirements.txt by `make lock`.

requirements.txt names what the course uses, each pinned with ==; requirements.lock pins
every package of the environment (the transitive ones too) with their sha256 hashes, and is
what `make book` and CI install (`pip install --require-hashes -r requirements.lock`).

PyTorch: requirements.txt pins torch==2.13.0; the lock pins its CPU build, 2.13.0+cpu, with
that wheel's hash only. PyPI has no +cpu release, so installing from the lock can never pull
the multi-GB CUDA build: pip takes the CPU wheel from a --find-links folder (on the course's
machines the wheel lies on disk and pip's configuration points at it) or from PyTorch's CPU
index (`--extra-index-url https://download.pytorch.org/whl/cpu`). The lock is for CPython
3.11 on Linux x86_64 (the course's machines and CI); elsewhere `make venv` installs
requirements.txt instead and says so.

Standard library only: the Makefile runs it with the system Python before any venv exists.

    python3 scripts/lockfile.py check          # the lock agrees with requirements.txt
    python3 scripts/lockfile.py supported      # can this Python install the lock?
    python3 scripts/lockfile.py extract pip    # the lock's entries for some packages
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements.txt"
LOCK = ROOT / "requirements.lock"
LOCK_PYTHON = (3, 11)
LOCK_PLATFORM = ("Linux", "x86_64")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def normalize(name: str) -> str:
    """A package name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def direct_requirements(path: Path = REQUIREMENTS) -> dict[str, str]:
    """requirements.txt as {name: version}; raises ValueError on a line that is not name==v."""
    pins = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        if match is None or match.end() != len(line):
            raise ValueError(f"{path.name}:{number}: {line!r} is not pinned as name==version")
        pins[normalize(match[1])] = match[2]
    return pins


def lock_entries(path: Path = LOCK) -> dict[str, dict]:
    """requirements.lock as {name: {"version", "hashes", "text"}} (text: the entry's lines)."""
    entries: dict[str, dict] = {}
    current = None
    for raw in path.read_text().splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            current = None if not raw.startswith(" ") else current
            continue
        if not raw.startswith((" ", "\t")):
            match = _PIN.match(raw)
            if match is None:
                raise ValueError(f"{path.name}: {raw!r} is not pinned as name==version")
            current = {"version": match[2], "hashes": [], "text": [raw]}
            entries[normalize(match[1])] = current
        elif current is not None:
            current["text"].append(raw)
            current["hashes"] += re.findall(r"--hash=(\w+:\w+)", raw)
    return entries


def public(version: str) -> str:
    """The version without its local label: 2.13.0+cpu -> 2.13.0."""
    return version.split("+", 1)[0]


def mismatches(requirements: Path = REQUIREMENTS, lock: Path = LOCK) -> list[str]:
    """Why the lock does not match requirements.txt (empty when it does)."""
    locked = lock_entries(lock)
    problems = []
    for name, version in direct_requirements(requirements).items():
        if name not in locked:
            problems.append(f"{name}=={version} is not in {lock.name}")
        elif public(locked[name]["version"]) != version:
            problems.append(f"{name}=={version} is locked at {locked[name]['version']}")
    for name, entry in locked.items():
        if not entry["hashes"]:
            problems.append(f"{name} has no hash in {lock.name}")
    torch = locked.get("torch")
    if torch is not None and not torch["version"].endswith("+cpu"):
        problems.append(f"torch is locked at {torch['version']}, not a CPU build (+cpu): "
                        "installing it would download the CUDA build")
    return problems


def supported() -> str | None:
    """None if this Python can install the lock, else why not."""
    here = (platform.system(), platform.machine())
    if (sys.implementation.name != "cpython" or sys.version_info[:2] != LOCK_PYTHON
            or here != LOCK_PLATFORM):
        return (f"requirements.lock is for CPython {'.'.join(map(str, LOCK_PYTHON))} on "
                f"{' '.join(LOCK_PLATFORM)}, this is {sys.implementation.name} "
                f"{platform.python_version()} on {' '.join(here)}")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="exit 1 if the lock does not match requirements.txt")
    sub.add_parser("supported", help="exit 1 if this Python cannot install the lock")
    extract = sub.add_parser("extract", help="print the lock's entries for these packages")
    extract.add_argument("names", nargs="+")
    args = parser.parse_args(argv)

    if args.command == "check":
        problems = mismatches()
        if problems:
            print(f"error: {LOCK.name} does not match {REQUIREMENTS.name}: "
                  + "; ".join(problems) + ". Run `make lock` and commit requirements.lock.",
                  file=sys.stderr)
            return 1
        return 0
    if args.command == "supported":
        reason = supported()
        if reason:
            print(f"warning: {reason}: installing requirements.txt instead (transitive "
                  "dependencies unpinned).", file=sys.stderr)
            return 1
        return 0
    locked = lock_entries()
    for name in args.names:
        entry = locked.get(normalize(name))
        if entry is None:
            print(f"error: {name} is not in {LOCK.name}", file=sys.stderr)
            return 1
        print("\n".join(entry["text"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

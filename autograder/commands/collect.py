"""``collect``: import learners' notebooks into ``grading/submitted/<student>/<assignment>/``.

Two sources:

* a folder laid out as ``<student>/<assignment>/*.ipynb`` (nbgrader's exchange layout);
* a zip file (or an unpacked folder of flat files) exported by an LMS, whose file names carry
  the student, as nbgrader's ``zip_collect`` expects (``FileNameCollectorPlugin``): Canvas
  ``<student>[_LATE]_<id>_<id>_<file>`` and Moodle ``<Full Name>_<id>_assignsubmission_file_
  <file>``; ``LMS_PATTERNS`` holds the regular expressions.

The assignment of each notebook is found from its file name or its cell ids
(``notebooks.match_assignment``), unless one is given. A file is imported only if its content
(SHA-256) is new for that student and assignment: collecting the same export twice imports
nothing the second time, and a changed notebook replaces the older one. Every file that could
not be matched is reported with the reason.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from autograder.core.course import assignments as course_assignments
from autograder.core.notebooks import match_assignment, read_notebook
from autograder.errors import AutograderError, UnknownAssignment, UnreadableNotebook
from autograder.settings import submitted_dir

LMS_PATTERNS = {
    "canvas": re.compile(r"^(?P<student>[A-Za-z0-9.\-]+)(_LATE)?_\d+_\d+_(?P<file>.+)$"),
    "moodle": re.compile(r"^(?P<student>[^_/]+)_\d+_assignsubmission_(file|onlinetext)_/?"
                         r"(?P<file>.+)$"),
}


@dataclass
class CollectReport:
    """What ``collect`` did: imported, updated, skipped (already there) and unmatched files."""

    imported: list[tuple[str, str, str]] = field(default_factory=list)  # student, assignment, file
    updated: list[tuple[str, str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # file, reason

    def lines(self) -> list[str]:
        out = [f"imported {len(self.imported)}, updated {len(self.updated)}, "
               f"already there {len(self.skipped)}, could not match {len(self.unmatched)}"]
        out += [f"  imported {s}/{a}: {f}" for s, a, f in self.imported]
        out += [f"  updated  {s}/{a}: {f}" for s, a, f in self.updated]
        out += [f"  NOT MATCHED {f}: {why}" for f, why in self.unmatched]
        return out


def _student_slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", name.strip()).strip("_").lower() or "unknown"


def _from_lms_name(relative: str) -> tuple[str, str] | None:
    """(student, original file name) from an LMS export's file name, or None."""
    flat = relative.replace("\\", "/")
    for pattern in LMS_PATTERNS.values():
        m = pattern.match(flat) or pattern.match(Path(flat).name)
        if m:
            return _student_slug(m["student"]), Path(m["file"]).name
    return None


def _candidates(source: Path) -> list[tuple[str, Path, str | None, str | None, str]]:
    """(shown name, file, student or None, assignment hint or None, the learner's file name)
    for each file."""
    files = sorted(p for p in source.rglob("*") if p.is_file() and not any(
        part.startswith((".", "__MACOSX")) for part in p.relative_to(source).parts))
    out = []
    for path in files:
        rel = path.relative_to(source)
        parts = rel.parts
        if len(parts) >= 3:  # <student>/<assignment>/<file>
            out.append((rel.as_posix(), path, parts[0], parts[1], path.name))
            continue
        lms = _from_lms_name(rel.as_posix())
        if lms:
            out.append((rel.as_posix(), path, lms[0], None, lms[1]))
        else:
            out.append((rel.as_posix(), path, None, None, path.name))
    return out


def collect(root: Path, source: Path, assignment: str | None = None,
            progress: bool = True) -> CollectReport:
    """Import the notebooks in ``source`` (a folder or a .zip); see the module docstring."""
    source = Path(source)
    if not source.exists():
        raise AutograderError(f"{source}: no such file or folder")
    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise AutograderError(f"{source}: not a zip file; give a folder or an LMS zip export")
        with tempfile.TemporaryDirectory(prefix="rnncourse-collect-") as tmp:
            with zipfile.ZipFile(source) as zf:
                zf.extractall(tmp)
            return collect(root, Path(tmp), assignment, progress)
    known = course_assignments(root)
    if assignment is not None and assignment not in known:
        raise UnknownAssignment(f"no assignment named {assignment!r} (known: {', '.join(known)})")
    report = CollectReport()
    files = tqdm(_candidates(source), desc="collect", unit="file", disable=not progress)
    for shown, path, student, hint, filename in files:
        if Path(filename).suffix != ".ipynb":
            report.unmatched.append((shown, "not a notebook (.ipynb)"))
            continue
        if student is None:
            report.unmatched.append((shown, "cannot tell the student: expected "
                                            "<student>/<assignment>/<file>.ipynb or an LMS "
                                            "export name (Canvas, Moodle)"))
            continue
        name = assignment or (hint if hint in known else None)
        if name is None:
            try:
                nb = read_notebook(path)
                name = match_assignment(root, Path(_canonical(filename)), nb)
            except (UnreadableNotebook, UnknownAssignment) as err:
                report.unmatched.append((shown, str(err).split(": ", 1)[-1]))
                continue
        _store(root, student, name, path, filename, shown, report)
    return report


def _canonical(filename: str) -> str:
    """The file name without the -1, -2 Canvas appends to resubmissions."""
    return re.sub(r"-\d+$", "", Path(filename).stem) + Path(filename).suffix


def _store(root: Path, student: str, assignment: str, path: Path, filename: str, shown: str,
           report: CollectReport) -> None:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    folder = submitted_dir(root) / student / assignment
    existing = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    if any(hashlib.sha256(p.read_bytes()).hexdigest() == digest for p in existing):
        report.skipped.append((student, assignment, shown))
        return
    folder.mkdir(parents=True, exist_ok=True)
    for old in existing:  # one notebook per learner and assignment: the newest import wins
        old.unlink()
    name = _canonical(filename)
    tmp = folder / f".{name}.part"
    tmp.write_bytes(data)
    tmp.replace(folder / name)
    (report.updated if existing else report.imported).append((student, assignment, shown))

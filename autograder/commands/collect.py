"""``collect``: import learners' notebooks into ``grading/submitted/<student>/<assignment>/``.

Two sources, both read as untrusted data (``autograder.core.exports``):

* a folder laid out as ``<student>/<assignment>/*.ipynb`` (nbgrader's exchange layout);
* a zip file (or an unpacked folder of it) exported by an LMS, whose file names carry the
  learner: Canvas ``<name>[_LATE]_<user id>_<submission id>_<file>`` and Moodle ``<Full
  Name>_<participant id>_assignsubmission_file_/<file>``
  (``autograder.core.learners.LMS_PATTERNS``).

The student id keeps what identifies the learner in the source (the LMS's id, or the student
folder), so two learners are never merged, whatever their names
(``autograder.core.learners``). The assignment of each notebook is found from its folder, its
file name or its cell ids (``notebooks.match_assignment``), unless one is given.

Collect is two passes. The first reads every member (links and other non-regular files
refused, never followed; sizes bounded, one notebook and all together) into a private staging
folder under names of its own. The second decides, then stores:

* a file whose student id another learner owns, or would own in this source, is refused, and
  so is every notebook of a learner who has several different ones for one assignment here:
  nothing is imported over another learner's work, and nothing is picked at random;
* the rest is imported if its content (SHA-256) is new for that learner and assignment: the
  same export collected twice imports nothing the second time, and a learner's changed
  notebook replaces their older one ("updated").

Every file that could not be matched, and every one refused, has a line in the report, which
ends with a summary; ``CollectReport.exit_status`` is 1 when anything was refused.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from autograder.core.course import assignments as course_assignments
from autograder.core.course import source_notebook
from autograder.core.exports import ExportLimits, Member, Refused, TooLarge, members, printable
from autograder.core.learners import Identity, Registry, fold, origin
from autograder.core.notebooks import clean_notebook, match_assignment
from autograder.errors import AutograderError, UnknownAssignment, UnreadableNotebook
from autograder.runner import leftovers
from autograder.settings import grading_dir, submitted_dir

MAX_STORED_NAME = 100  # characters of a learner's file name kept as the stored name


@dataclass
class CollectReport:
    """What ``collect`` did: imported, updated, skipped (already there), unmatched and refused
    files, and notes on how learners were stored."""

    imported: list[tuple[str, str, str]] = field(default_factory=list)  # student, assignment, file
    updated: list[tuple[str, str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # file, reason
    refused: list[tuple[str, str]] = field(default_factory=list)  # file, reason
    notes: list[str] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        """1 when a file was refused (the instructor has something to fix), else 0."""
        return 1 if self.refused else 0

    def lines(self) -> list[str]:
        out = [f"imported {len(self.imported)}, updated {len(self.updated)}, "
               f"already there {len(self.skipped)}, could not match {len(self.unmatched)}, "
               f"refused {len(self.refused)}"]
        out += [f"  imported {s}/{a}: {printable(f)}" for s, a, f in self.imported]
        out += [f"  updated  {s}/{a}: {printable(f)}" for s, a, f in self.updated]
        out += [f"  note: {printable(n, 400)}" for n in self.notes]
        out += [f"  NOT MATCHED {printable(f)}: {printable(why, 400)}"
                for f, why in self.unmatched]
        out += [f"  REFUSED {printable(f)}: {printable(why, 400)}" for f, why in self.refused]
        if self.refused:
            out.append(f"{len(self.refused)} file(s) refused: nothing of theirs was imported, "
                       "the rest was; fix what each line says and collect again")
        return out


@dataclass
class _Staged:
    """A notebook read from the source, waiting in the staging folder."""

    shown: str
    who: Identity
    assignment: str
    filename: str
    digest: str
    path: Path


def collect(root: Path, source: Path, assignment: str | None = None, progress: bool = True,
            limits: ExportLimits | None = None) -> CollectReport:
    """Import the notebooks in ``source`` (a folder or a .zip); see the module docstring."""
    source, limits = Path(source), limits or ExportLimits()
    if not source.exists():
        raise AutograderError(f"{source}: no such file or folder")
    known = course_assignments(root)
    if assignment is not None and assignment not in known:
        raise UnknownAssignment(f"no assignment named {assignment!r} (known: {', '.join(known)})")
    report = CollectReport()
    registry = Registry.load(root)
    grading_dir(root).mkdir(parents=True, exist_ok=True)
    leftovers.sweep(grading_dir(root))  # the staging folders of a collect that was killed
    staging = leftovers.mkdtemp(".collect", dir=grading_dir(root))
    try:
        with members(source, limits) as entries:
            staged = _read_all(root, entries, known, assignment, limits, staging, report,
                               progress)
            _place(root, staged, registry, report)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    registry.save()
    return report


# -- first pass: read ---------------------------------------------------------------------------

def _read_all(root: Path, entries, known: list[str], assignment: str | None,
              limits: ExportLimits, tmp: Path, report: CollectReport,
              progress: bool) -> list[_Staged]:
    """Read every member into ``tmp``; report what is not a learner's notebook or refused."""
    staged: list[_Staged] = []
    left = limits.max_total_bytes
    for member in tqdm(entries, desc="collect", unit="file", disable=not progress):
        item = _read_one(root, member, known, assignment, limits, left, report)
        if item is None:
            continue
        data, who, name, filename = item
        left -= len(data)
        path = tmp / f"{len(staged)}.ipynb"
        path.write_bytes(data)
        staged.append(_Staged(member.relative, who, name, filename,
                              hashlib.sha256(data).hexdigest(), path))
    return staged


def _read_one(root: Path, member: Member, known: list[str], assignment: str | None,
              limits: ExportLimits, left: int, report: CollectReport
              ) -> tuple[bytes, Identity, str, str] | None:
    """(bytes, learner, assignment, file name) of one member, or None (then reported)."""
    shown = member.relative
    if member.problem:
        report.refused.append((shown, member.problem))
        return None
    found = origin(member.parts)
    if Path(found.filename).suffix != ".ipynb":
        report.unmatched.append((shown, "not a notebook (.ipynb)"))
        return None
    if found.identity is None:
        report.unmatched.append((shown, "cannot tell the student: expected "
                                        "<student>/<assignment>/<file>.ipynb or an LMS "
                                        "export name (Canvas, Moodle)"))
        return None
    try:
        data = member.read(min(limits.max_file_bytes, left))
    except TooLarge as err:
        report.refused.append((shown, _too_large(err, limits, left)))
        return None
    except Refused as err:
        report.refused.append((shown, str(err)))
        return None
    name = assignment or (found.hint if found.hint in known else None)
    if name is None:
        try:
            name = _match(root, found.filename, data)
        except UnreadableNotebook as err:
            report.unmatched.append((shown, str(err)))
            return None
        except UnknownAssignment as err:  # its message starts with the file's name
            report.unmatched.append((shown, str(err).split(": ", 1)[-1]))
            return None
    return data, found.identity, name, found.filename


def _too_large(err: TooLarge, limits: ExportLimits, left: int) -> str:
    """Why a member was too large: for one notebook, or for what is left of the total."""
    size = f"it {err}"
    if left < limits.max_file_bytes:
        return (f"{size}, more than the {left} left of the {limits.max_total_bytes} bytes "
                "collect reads from one source; collect the rest from a second export")
    return (f"{size}, more than the {limits.max_file_bytes} a notebook may have; "
            "ask the learner for a smaller file (clear large outputs)")


def _match(root: Path, filename: str, data: bytes) -> str:
    """The assignment of a notebook: by its file name, else (parsing it) by its cell ids."""
    path = Path(_canonical(filename))
    try:
        return match_assignment(root, path, None)
    except UnknownAssignment:
        return match_assignment(root, path, _parse(data))


def _parse(data: bytes):
    """The notebook in ``data`` (already bounded in size), or UnreadableNotebook."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise UnreadableNotebook(f"not a Jupyter notebook (invalid JSON: "
                                 f"{str(err)[:120]})") from None
    return clean_notebook(raw)[0]


def _canonical(filename: str) -> str:
    """The file name without the -1, -2 Canvas appends to resubmissions."""
    return re.sub(r"-\d+$", "", Path(filename).stem) + Path(filename).suffix


# -- second pass: decide, then store ------------------------------------------------------------

def _place(root: Path, staged: list[_Staged], registry: Registry,
           report: CollectReport) -> None:
    """Store the staged notebooks that belong to exactly one learner; refuse the others."""
    ids = {item.who.token: registry.id_for(item.who) for item in staged}
    allowed = _owners(staged, ids, registry, report)
    kept = _single_notebooks([i for i in staged if i.who.token in allowed], report)
    _note_names(staged, ids, allowed, registry, report)
    for item in kept:
        sid = ids[item.who.token]
        if _store(root, sid, item, report):
            registry.claim(item.who, sid)


def _owners(staged: list[_Staged], ids: dict[str, str], registry: Registry,
            report: CollectReport) -> set[str]:
    """The identities that may use their student id: the id's owner, or the only learner of
    this source who wants a free id. Every file of the others is refused."""
    learners = {item.who.token: item.who for item in staged}
    wanting: dict[str, set[str]] = defaultdict(set)
    for token, sid in ids.items():
        wanting[sid.lower()].add(token)
    allowed: set[str] = set()
    for tokens in wanting.values():
        sid = ids[min(tokens)]
        owner = registry.owner(sid)
        if owner is not None:
            allowed |= tokens & {owner.token}
            rivals = {owner.token: owner} | {t: learners[t] for t in tokens}
        else:
            allowed |= tokens if len(tokens) == 1 else set()
            rivals = {t: learners[t] for t in tokens}
        for token in tokens - allowed:
            others = ", ".join(w.label for t, w in rivals.items() if t != token)
            why = (f"{learners[token].label} would be stored as {sid}, which "
                   + (f"belongs to {others} (an earlier collect)" if owner is not None
                      and owner.token != token else f"{others} would be stored as too")
                   + "; refused so that no learner's work replaces another's: rename the "
                     "student folder, or remove grading/submitted/" + sid
                   + " if it is stale, and collect again")
            report.refused += [(i.shown, why) for i in staged if i.who.token == token]
    return allowed


def _single_notebooks(staged: list[_Staged], report: CollectReport) -> list[_Staged]:
    """The staged notebooks of learners with one notebook (maybe in several identical files)
    per assignment; a learner's several different ones are all refused."""
    groups: dict[tuple[str, str], list[_Staged]] = defaultdict(list)
    for item in staged:
        groups[item.who.token, item.assignment].append(item)
    kept = []
    for (_, name), items in groups.items():
        if len({i.digest for i in items}) == 1:
            kept += items
            continue
        files = ", ".join(i.shown for i in items)
        why = (f"{len(items)} different notebooks of {items[0].who.label} for {name} in this "
               f"source ({files}); refused so that none is picked at random: keep the one to "
               "grade and collect again")
        report.refused += [(i.shown, why) for i in items]
    return kept


def _note_names(staged: list[_Staged], ids: dict[str, str], allowed: set[str],
                registry: Registry, report: CollectReport) -> None:
    """Notes for the instructor: ids that are not the learner's name as given, names shared
    by several learners, names changed since an earlier collect."""
    learners = {item.who.token: item.who for item in staged if item.who.token in allowed}
    alike: dict[str, list[Identity]] = defaultdict(list)
    for token, who in learners.items():
        if who.source == "folder" and ids[token] != who.key:
            report.notes.append(f"{who.label} is stored as {ids[token]} (not a plain ASCII "
                                f"name of at most 64 characters)")
        elif who.source != "folder":
            alike[fold(who.name)].append(who)
            before = registry.name_of(who)
            if before is not None and before != who.name:
                report.notes.append(f"{who.label} keeps the id {ids[token]} it had as "
                                    f"{before!r} in an earlier collect")
    for same in alike.values():
        if len(same) > 1:
            report.notes.append(f"{len(same)} learners have names alike ("
                                + ", ".join(f"{w.label} as {ids[w.token]}" for w in same)
                                + "): kept apart by their LMS ids")


def _stored_name(filename: str, notebook_id: str) -> str:
    """The learner's file name (without Canvas's -1) if it is short and printable, else the
    assignment's notebook name."""
    name = unicodedata.normalize("NFC", _canonical(filename))
    plain = all(unicodedata.category(c)[0] not in "CZ" or c == " " for c in name)
    if plain and len(name) <= MAX_STORED_NAME and not name.startswith(".") and \
            "\\" not in name and name.endswith(".ipynb"):
        return name
    return f"{notebook_id}.ipynb"


def _store(root: Path, sid: str, item: _Staged, report: CollectReport) -> bool:
    """Move one staged notebook into place; False when it could not be written."""
    folder = submitted_dir(root) / sid / item.assignment
    existing = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    if any(hashlib.sha256(p.read_bytes()).hexdigest() == item.digest for p in existing):
        report.skipped.append((sid, item.assignment, item.shown))
        return True
    name = _stored_name(item.filename, source_notebook(root, item.assignment).stem)
    if name != _canonical(item.filename):
        report.notes.append(f"{printable(item.shown)} is stored as "
                            f"{sid}/{item.assignment}/{name} (its own name is long or not "
                            "printable)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        item.path.replace(folder / name)
    except OSError as err:
        report.refused.append((item.shown, f"could not be written to {folder} "
                                           f"({err.strerror}); free some space and collect "
                                           "again"))
        return False
    for old in existing:  # one notebook per learner and assignment: the newest import wins
        if old.name != name:
            old.unlink()
    (report.updated if existing else report.imported).append((sid, item.assignment,
                                                              item.shown))
    return True

"""``collect``: import learners' notebooks into ``grading/submitted/<student>/<assignment>/``.

Two sources, both read as untrusted data (``autograder.core.exports``):

* a folder laid out as ``<student>/<assignment>/*.ipynb`` (nbgrader's exchange layout);
* a zip file (or an unpacked folder of it) exported by an LMS, whose file names carry the
  learner: Canvas ``<name>[_LATE]_<user id>_<attachment id>_<file>`` and Moodle ``<Full
  Name>_<participant id>[_<time>]_assignsubmission_file_/<file>``
  (``autograder.core.learners.LMS_PATTERNS``).

The student id keeps what identifies the learner in the source (the LMS's id, or the student
folder), so two learners are never merged, whatever their names
(``autograder.core.learners``). A learner a roster import knows is matched by their LMS id
first (Canvas's user id, Moodle's participant id from the assignment's grading worksheet):
they keep the roster's student id, whichever LMS the file came from. The assignment of each
notebook is found from its folder, its file name or its cell ids
(``notebooks.match_assignment``), unless one is given.

Collect is two passes. The first reads every member (links and other non-regular files
refused, never followed; sizes bounded, one notebook and all together) into a private staging
folder under names of its own. The second decides, then stores:

* a file whose student id another learner owns, or would own in this source, is refused:
  nothing is imported over another learner's work;
* a learner's several different notebooks for one assignment are attempts, ordered by the
  export's own evidence: the submission times it gives, else Canvas's ``-1``, ``-2`` on a
  file uploaded again. When the export does not order them, all are refused: nothing is
  picked at random;
* every attempt is kept, byte for byte, in ``grading/attempts/<student>/<assignment>/``
  (``autograder.core.attempts``), with the time and Canvas's LATE marker where the export
  gives them; the latest is graded (copied to ``grading/submitted/``, with nbgrader's
  ``timestamp.txt`` when the time is known) unless it is already there ("unchanged": the same
  export collected twice changes nothing), or it is an attempt met before (an older export
  collected again), or submitted before the graded one, or the graded notebook was changed by
  hand: then it is kept, not graded, and the report says so. ``replace=True``
  (``--replace``) grades it all the same, keeping the hand-made notebook as an attempt too.

The report says, for each learner imported, updated or kept, which attempt is graded and why.

Each learner stored gets a name in nbgrader's students table (the gradebook ``db``, so that
formgrader does not list them as "None, None"): the roster's, else the one the export gives
(Moodle's full name, Canvas's sortable name as its file names write it, the student folder's
name); a name already there is never replaced. A SQLite gradebook that does not exist yet is
not made here (``gradebook_exists``; ``name_students`` names the learners once it does); one
that cannot be opened is a note in the report; the files are collected all the same.

Every file that could not be matched, and every one refused, has a line in the report, which
ends with a summary; ``CollectReport.exit_status`` is 1 when anything was refused.
"""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.api import Gradebook, Student
from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm

from autograder.core.attempts import TIMESTAMP_FILE, Attempt, History, parse_time
from autograder.core.course import assignments as course_assignments
from autograder.core.course import gradebook_url, source_notebook
from autograder.core.exports import ExportLimits, Member, Refused, TooLarge, members, printable
from autograder.core.gradebook import check, safe_url
from autograder.core.learners import Identity, Origin, Registry, fold, origin, same_id
from autograder.core.notebooks import clean_notebook, match_assignment
from autograder.core.roster import DB_FIELD
from autograder.core.roster import names as roster_names
from autograder.errors import AutograderError, UnknownAssignment, UnreadableNotebook
from autograder.files import sha256
from autograder.runner import leftovers
from autograder.settings import COURSE_ID, grading_dir

MAX_STORED_NAME = 100  # characters of a learner's file name kept as the stored name
TIMESTAMP_BYTES = 100  # read of an nbgrader timestamp.txt


@dataclass
class CollectReport:
    """What ``collect`` did: imported, updated, unchanged (``skipped``), kept but not graded,
    unmatched and refused files; which attempt is graded and why; notes on how learners were
    stored."""

    imported: list[tuple[str, str, str]] = field(default_factory=list)  # student, assignment, file
    updated: list[tuple[str, str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # unchanged
    kept: list[tuple[str, str, str, str]] = field(default_factory=list)  # ..., why not graded
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # file, reason
    refused: list[tuple[str, str]] = field(default_factory=list)  # file, reason
    notes: list[str] = field(default_factory=list)
    graded: dict[tuple[str, str], str] = field(default_factory=dict)  # (student, a) -> why

    @property
    def missed(self) -> list[str]:
        """The unmatched files a learner's work may be in: notebooks, nbgrader's timestamps."""
        return [f for f, _ in self.unmatched if f.endswith((".ipynb", f"/{TIMESTAMP_FILE}"))]

    @property
    def exit_status(self) -> int:
        """1 when a file was refused, or a notebook (or a submission time) could not be
        matched: the instructor has something to fix; else 0."""
        return 1 if self.refused or self.missed else 0

    def lines(self) -> list[str]:
        out = [f"imported {len(self.imported)}, updated {len(self.updated)}, "
               f"unchanged {len(self.skipped)}, kept not graded {len(self.kept)}, "
               f"could not match {len(self.unmatched)}, refused {len(self.refused)}"]
        changed = [("imported", self.imported), ("updated ", self.updated)]
        for word, rows in changed:
            for s, a, f in rows:
                out.append(f"  {word} {printable(s)}/{a}: {printable(f)}")
                out.append(f"    graded: {printable(self.graded.get((s, a), ''), 400)}")
        for s, a, f, why in self.kept:
            out.append(f"  KEPT     {printable(s)}/{a}: {printable(f)}: {printable(why, 400)}")
            out.append(f"    graded: {printable(self.graded.get((s, a), ''), 400)}")
        out += [f"  note: {printable(n, 400)}" for n in self.notes]
        out += [f"  NOT MATCHED {printable(f)}: {printable(why, 400)}"
                for f, why in self.unmatched]
        out += [f"  REFUSED {printable(f)}: {printable(why, 400)}" for f, why in self.refused]
        if self.refused:
            out.append(f"{len(self.refused)} file(s) refused: nothing of theirs was imported, "
                       "the rest was; fix what each line says and collect again")
        if self.missed:
            out.append(f"{len(self.missed)} notebook(s) or time(s) could not be matched: a "
                       "learner's work may be missing; fix what each NOT MATCHED line says "
                       "(or give --assignment) and collect again")
        return out


@dataclass
class _Staged:
    """A notebook read from the source, waiting in the staging folder, with what the export
    says of it (``found``)."""

    shown: str
    who: Identity
    assignment: str
    filename: str
    digest: str
    path: Path
    found: Origin


def collect(root: Path, source: Path, assignment: str | None = None, progress: bool = True,
            limits: ExportLimits | None = None, replace: bool = False,
            db: str | None = None) -> CollectReport:
    """Import the notebooks in ``source`` (a folder or a .zip); see the module docstring.
    ``replace``: let the export's latest attempt replace a notebook changed by hand, or a
    newer one. ``db``: the gradebook whose students get names (default: the course's)."""
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
            stored = _place(root, staged, registry, report,
                            _Stamp(source.resolve().name or str(source), replace))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    registry.save()
    url = gradebook_url(root, db)
    if stored and gradebook_exists(url):
        problem = name_students(url, registry, stored)
        if problem:
            report.notes.append(problem)
    return report


# -- first pass: read ---------------------------------------------------------------------------

def _read_all(root: Path, entries, known: list[str], assignment: str | None,
              limits: ExportLimits, tmp: Path, report: CollectReport,
              progress: bool) -> list[_Staged]:
    """Read every member into ``tmp``; report what is not a learner's notebook or refused."""
    staged: list[_Staged] = []
    times: dict[tuple[str, str], datetime] = {}
    left = limits.max_total_bytes
    for member in tqdm(entries, desc="collect", unit="file", disable=not progress):
        if _is_timestamp(member):
            _read_time(member, times, report)
            continue
        item = _read_one(root, member, known, assignment, limits, left, report)
        if item is None:
            continue
        data, found, name = item
        left -= len(data)
        path = tmp / f"{len(staged)}.ipynb"
        path.write_bytes(data)
        staged.append(_Staged(member.relative, found.identity, name, found.filename,
                              sha256(data), path, found))
    for item in staged:  # nbgrader's timestamp.txt of the item's <student>/<assignment>/
        parts = tuple(item.shown.split("/"))
        if item.who.source == "folder" and parts[:2] in times:
            item.found = replace(item.found, submitted=times[parts[:2]])
    return staged


def _is_timestamp(member: Member) -> bool:
    """Whether ``member`` is nbgrader's ``<student>/<assignment>/timestamp.txt``."""
    return not member.problem and len(member.parts) == 3 and \
        member.parts[2] == TIMESTAMP_FILE and origin(member.parts).identity.source == "folder"


def _read_time(member: Member, times: dict[tuple[str, str], datetime],
               report: CollectReport) -> None:
    """Read nbgrader's timestamp.txt into ``times``; a line in the report when it is not a
    time ``parse_time`` reads."""
    try:
        text = member.read(TIMESTAMP_BYTES).decode("utf-8").strip()
    except (Refused, UnicodeDecodeError) as err:
        text, problem = "", str(err)[:120]
    else:
        problem = ""
    when = parse_time(text) if text else None
    if when is None:
        report.unmatched.append((member.relative, "nbgrader's timestamp.txt, but not a time "
                                 "collect reads (YYYY-MM-DD HH:MM:SS[.ffffff] with UTC, Z or "
                                 "an offset such as +01:00" + (f"; {problem}" if problem
                                                              else "") + "): the notebook "
                                 "beside it is collected without a submission time"))
        return
    times[member.parts[0], member.parts[1]] = when


def _read_one(root: Path, member: Member, known: list[str], assignment: str | None,
              limits: ExportLimits, left: int, report: CollectReport
              ) -> tuple[bytes, Origin, str] | None:
    """(bytes, what its path says, assignment) of one member, or None (then reported)."""
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
    return data, found, name


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
           report: CollectReport, stamp: _Stamp) -> dict[str, Identity]:
    """Store the staged notebooks that belong to exactly one learner; refuse the others.
    Returns the learners stored: student id -> the identity the export gives."""
    ids = {item.who.token: registry.id_for(item.who) for item in staged}
    allowed = _owners(staged, ids, registry, report)
    chosen = _latest_notebooks([i for i in staged if i.who.token in allowed], ids, report)
    _note_names(staged, ids, allowed, registry, report)
    stored: dict[str, Identity] = {}
    for attempts, why in chosen:
        sid = ids[attempts[-1].who.token]
        if _store(root, sid, attempts, why, report, stamp):
            registry.claim(attempts[-1].who, sid)
            stored[sid] = attempts[-1].who
    return stored


def _owners(staged: list[_Staged], ids: dict[str, str], registry: Registry,
            report: CollectReport) -> set[str]:
    """The identities that may use their student id: the id's owner, or the only learner of
    this source who wants a free id. Every file of the others is refused."""
    learners = {item.who.token: item.who for item in staged}
    wanting: dict[str, set[str]] = defaultdict(set)
    for token, sid in ids.items():
        wanting[same_id(sid)].add(token)
    allowed: set[str] = set()
    for tokens in wanting.values():
        sid = ids[min(tokens)]
        owner = registry.owner(sid)
        if owner is not None:  # its owner, and identities its entry records (a roster's)
            allowed |= {t for t in tokens if registry.admits(sid, learners[t])}
            rivals = {owner.token: owner} | {t: learners[t] for t in tokens}
        else:
            allowed |= tokens if len(tokens) == 1 else set()
            rivals = {t: learners[t] for t in tokens}
        for token in tokens - allowed:
            others = ", ".join(w.label for t, w in rivals.items() if t != token)
            why = (f"{learners[token].label} would be stored as {sid}, which "
                   + (f"belongs to {others} (an earlier collect or the roster)"
                      if owner is not None and owner.token != token
                      else f"{others} would be stored as too")
                   + "; refused so that no learner's work replaces another's: rename the "
                     "student folder, or remove grading/submitted/" + sid
                   + " if it is stale, and collect again")
            report.refused += [(i.shown, why) for i in staged if i.who.token == token]
    return allowed


def _latest_notebooks(staged: list[_Staged], ids: dict[str, str], report: CollectReport
                      ) -> list[tuple[list[_Staged], str]]:
    """For each learner (student id) and assignment, their different notebooks of this source,
    oldest first, with why the last is the latest (the export's own evidence); a learner's
    several different ones that the export does not order are all refused."""
    groups: dict[tuple[str, str], list[_Staged]] = defaultdict(list)
    for item in staged:
        groups[same_id(ids[item.who.token]), item.assignment].append(item)
    chosen = []
    for (_, name), items in groups.items():
        distinct = list({i.digest: i for i in items}.values())
        ordered = _ordered(distinct)
        if ordered is not None:
            chosen.append(ordered)
            continue
        files = ", ".join(i.shown for i in items)
        why = (f"{len(items)} different notebooks of {items[0].who.label} for {name} in this "
               f"source ({files}), and nothing in the export says which is the latest "
               "(a submission time, Canvas's -1, -2 on a file uploaded again); refused so that "
               "none is picked at random: keep the one to grade and collect again")
        report.refused += [(i.shown, why) for i in items]
    return chosen


def _ordered(items: list[_Staged]) -> tuple[list[_Staged], str] | None:
    """``items`` (different notebooks of one learner for one assignment) oldest first, and
    why the last is the latest; None when the export does not order them."""
    if len(items) == 1:
        return items, "the only notebook of this learner for this assignment in the export"
    times = [i.found.submitted for i in items]
    if all(times) and len(set(times)) == len(times):
        return sorted(items, key=lambda i: i.found.submitted), \
            "the latest submission time the export gives"
    stems = {_canonical(i.filename) for i in items}
    suffixes = [i.found.resubmission for i in items]
    if all(i.who.source == "canvas" for i in items) and len(stems) == 1 and \
            len({i.who.token for i in items}) == 1 and len(set(suffixes)) == len(suffixes):
        ordered = sorted(items, key=lambda i: i.found.resubmission)
        return ordered, (f"Canvas's -{ordered[-1].found.resubmission}: uploaded again after "
                         + ", ".join(i.filename for i in ordered[:-1]))
    return None


def _note_names(staged: list[_Staged], ids: dict[str, str], allowed: set[str],
                registry: Registry, report: CollectReport) -> None:
    """Notes for the instructor: ids that are not the learner's name as given, names shared
    by several learners, names changed since an earlier collect."""
    learners = {item.who.token: item.who for item in staged if item.who.token in allowed}
    alike: dict[str, list[Identity]] = defaultdict(list)
    for token, who in learners.items():
        if who.source == "folder" and ids[token] != who.key:
            report.notes.append(f"{who.label} is stored as {ids[token]} (not a plain name of "
                                f"at most 64 characters)")
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


@dataclass(frozen=True)
class _Stamp:
    """This collect: the source's name, its time, and whether ``--replace`` was given."""

    source: str
    replace: bool
    at: str = field(default_factory=lambda: datetime.now(timezone.utc).replace(
        tzinfo=None).isoformat(timespec="seconds"))


def _store(root: Path, sid: str, attempts: list[_Staged], why: str, report: CollectReport,
           stamp: _Stamp) -> bool:
    """Keep every attempt in ``grading/attempts``, then decide whether the latest is graded
    (see the module docstring); False when nothing could be written."""
    latest = attempts[-1]
    where = (sid, latest.assignment, latest.shown)
    try:
        history = History(root, sid, latest.assignment)
        known = history.find(latest.digest)
        by_hand = history.changed_by_hand()
        kept = [history.add(i.path.read_bytes(), **_said(i, stamp)) for i in attempts]
        verdict = history.verdict(kept[-1], known is not None, by_hand, stamp.replace)
        if verdict is None:
            if by_hand:  # --replace: the notebook replaced by hand is kept as an attempt too
                history.keep_by_hand(stamp.at)
            name = _stored_name(latest.filename,
                                source_notebook(root, latest.assignment).stem)
            if name != _canonical(latest.filename):
                report.notes.append(f"{printable(latest.shown)} is stored as "
                                    f"{sid}/{latest.assignment}/{name} (its own name is long "
                                    "or not printable)")
            placed_before = history.graded is not None or bool(history.on_disk())
            why = _why_graded(history.get(history.graded), kept[-1], why, by_hand,
                              stamp.replace)
            history.place(kept[-1], name, f"{kept[-1].describe()}: {why}")
            (report.updated if placed_before else report.imported).append(where)
        elif verdict.startswith("unchanged"):
            report.skipped.append(where)
            if verdict != "unchanged":
                report.notes.append(f"{sid}/{latest.assignment}: {verdict}")
        else:
            report.kept.append((*where, verdict))
        history.save()
    except OSError as err:
        report.refused.append((latest.shown, f"could not be written under {root / 'grading'} "
                                             f"({err.strerror}); free some space and collect "
                                             "again"))
        return False
    except AutograderError as err:  # a damaged record of attempts: this learner only
        report.refused.append((latest.shown, str(err)))
        return False
    report.graded[sid, latest.assignment] = history.summary()
    return True


def _why_graded(before: Attempt | None, attempt: Attempt, why: str, by_hand: bool,
                replace: bool) -> str:
    """Why ``attempt`` replaces what was graded (``before``, or a notebook changed by hand):
    the export's own reason ``why``, and why it is newer, or that --replace said so."""
    if replace and (by_hand or before is not None):
        return f"{why}; graded because collect was given --replace"
    if before is None:
        return why
    if before.n == attempt.n:
        return f"{why}; put back: grading/submitted held no notebook of this learner"
    if before.time and attempt.time:
        return f"{why}; submitted after attempt {before.n} ({before.source})"
    return f"{why}; new since attempt {before.n} ({before.source}), first met in a later collect"


def _said(item: _Staged, stamp: _Stamp) -> dict:
    """What the export says of ``item``, for its attempt's record."""
    when = item.found.submitted
    return {"file": item.filename, "member": item.shown, "source": stamp.source,
            "submitted": when.isoformat() if when else None,
            "late": item.found.late, "collected": stamp.at}


# -- names in the gradebook ---------------------------------------------------------------------

def export_names(who: Identity) -> tuple[str, str]:
    """(first, last) name from what the export gives: Moodle's full name split at its last
    space ("First Last", Moodle's default); Canvas's file name and a folder's name (one word)
    as the last name."""
    name = " ".join("".join(c if c.isprintable() else " " for c in
                            unicodedata.normalize("NFC", who.name)).split())
    first, _, last = name.rpartition(" ") if who.source == "moodle" else ("", "", name)
    return first[:DB_FIELD], last[:DB_FIELD]


def gradebook_exists(db: str) -> bool:
    """Whether the gradebook ``db`` exists: a SQLite file, or a database server (whose
    tables nbgrader makes when they are missing). Making a new SQLite gradebook runs alembic
    in a process of its own, seconds of work: ``grade`` makes it from its template instead."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(db)
    except Exception:  # noqa: BLE001  (not an address: check() says so when it is opened)
        return True
    if not url.drivername.startswith("sqlite"):
        return True
    path = Path(url.database or "")
    return url.database not in (None, "", ":memory:") and path.is_file() and \
        path.stat().st_size > 0


def name_students(db: str, registry: Registry, learners: dict[str, Identity] | None = None
                  ) -> str | None:
    """Give each learner (student id -> the identity the export gives; default: every one
    of the record) a name in the gradebook's students table where it has none: the roster's,
    else the export's (``export_names``); in one transaction. Returns why the gradebook could
    not be written, or None."""
    if learners is None:
        learners = {sid: who for sid in registry.owners
                    if (who := registry.owner(sid)) is not None}
    try:
        check(db)
        with Gradebook(db, COURSE_ID) as gb:
            try:
                rows = {s.id: s for s in gb.db.query(Student)}
                changed = False
                for sid, who in sorted(learners.items()):
                    first, last = roster_names(registry.owners.get(sid, {}))
                    if not (first or last):
                        first, last = export_names(who)
                    student = rows.get(sid)
                    if student is None:
                        gb.db.add(Student(id=sid, first_name=first, last_name=last))
                        changed = True
                    elif not (student.first_name or student.last_name):
                        student.first_name, student.last_name = first, last
                        changed = True
                if changed:
                    gb.db.commit()
            except BaseException:
                gb.db.rollback()
                raise
    except (AutograderError, SQLAlchemyError) as err:
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0][:200]
        return (f"learners' names were not written in the gradebook at {safe_url(db)} "
                f"({reason}); formgrader lists them without names: import the roster "
                "(python -m autograder roster import FILE) once the gradebook can be opened")
    return None

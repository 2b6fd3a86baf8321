"""A class roster read from the LMS: who each learner is in Canvas and in Moodle.

Three CSV files are read, each told apart by its header row (``FORMATS``):

* **canvas**: Canvas's gradebook export (Grades > Export, canvas-lms ``GradebookExporter``):
  ``Student`` ("Last, First", Canvas's sortable name; or ``LastName``, ``FirstName``), ``ID``
  (Canvas's user id), ``SIS User ID``, ``SIS Login ID``, ``Section``, then one column per
  assignment. A ``Points Possible`` row and a row of "Manual Posting" notes (no ID) follow the
  header; a name Canvas quoted for spreadsheets (``="=name"``) is read unquoted. Canvas writes
  ``,`` or ``;`` between fields, a byte-order mark or none.
* **moodle**: Moodle's participants download (Participants > "Download table data as" CSV:
  ``First name``, ``Last name``, then the identity fields the site shows, ``ID number``,
  ``Email address``...) and its grade export (Grades > Export > CSV, the same columns, then
  one per grade item). Older Moodle says ``Surname``.
* **moodle-worksheet**: an assignment's grading worksheet (View all submissions > "Download
  grading worksheet", ``mod_assign``'s grading table): ``Identifier`` ("Participant 1234"),
  ``Full name``, the identity fields, then the grades. It is the only file that says which
  learner a Moodle export's participant id (the number in its folder names) is, for that one
  assignment (Moodle numbers each learner anew in each assignment), so it is read for a
  named assignment.

Rows are the same learner when they share an id: Canvas's user id, the institution's id
(Canvas's ``SIS User ID`` is Moodle's ``ID number``), the email address (Canvas's ``SIS Login
ID`` when it is one), Moodle's participant id. A learner keeps the student id they have
(``grading/submitted/.learners.json``, ``core.learners.Registry``), else gets one made once,
as ``collect`` would. A row whose ids belong to two learners, or that gives a learner another
Canvas id or institution id than they have, is refused, never merged.

The file is learner-controlled text, read as data only: at most ``MAX_BYTES`` bytes, UTF-8
(a byte-order mark or none; UTF-16 with its mark), no NUL byte, at most ``MAX_ROWS`` rows and
``MAX_FIELD`` characters a cell; each id of an exact form (``ID_FORMS``); names in NFC with
control characters removed, at most ``DB_FIELD`` characters (nbgrader's column width). A file
that breaks a rule is refused (``RosterRefused``) with what to do; a row, with its line number.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from autograder.core.learners import ROSTER, Identity, Registry, lms_ids, slug, student_id
from autograder.errors import AutograderError

MAX_BYTES = 8 * 2**20  # a roster of tens of thousands of learners
MAX_ROWS = 50_000
MAX_FIELD = 1000  # characters of one cell read (a name, an id, an address)
DB_FIELD = 128  # characters of nbgrader's student columns (String(128))
DELIMITERS = (",", ";", "\t")
CANVAS_POINTS_ROW = "Points Possible"
PARTICIPANT = re.compile(r"Participant ([0-9]{1,20})")  # mod_assign's "hiddenuser" + its id
ID_FORMS = {  # the exact form of each id a row gives
    "canvas_id": re.compile(r"[0-9]{1,20}"),  # ASCII digits only (\d is any script's)
    "participant_id": re.compile(r"[0-9]{1,20}"),
    "sis_user_id": re.compile(r"[^\s,;]{1,128}"),
    "sis_login_id": re.compile(r"[^\s,;]{1,128}"),
    "id_number": re.compile(r"[^\s,;]{1,128}"),
    "email": re.compile(r"[^\s@,;<>\"]{1,64}@[^\s@,;<>\"]{1,127}"),
}


class RosterRefused(AutograderError):
    """The roster file cannot be read as a whole (its format, size or encoding)."""


@dataclass(frozen=True)
class Format:
    """The columns that tell a roster's format apart: each of ``required`` (one spelling of
    each group), and the columns read into a ``Person`` field."""

    name: str
    what: str
    required: tuple[tuple[str, ...], ...]
    columns: dict[str, str]  # header (case-insensitive) -> Person field


FORMATS = {
    "moodle-worksheet": Format(
        "moodle-worksheet", "Moodle's assignment grading worksheet",
        (("Identifier",), ("Full name",)),
        {"identifier": "participant_id", "full name": "full_name", "email address": "email",
         "id number": "id_number"}),
    "canvas": Format(
        "canvas", "Canvas's gradebook export",
        (("Student", "LastName"), ("ID",)),
        {"student": "full_name", "lastname": "last_name", "firstname": "first_name",
         "id": "canvas_id", "sis user id": "sis_user_id", "sis login id": "sis_login_id",
         "section": "section"}),
    "moodle": Format(
        "moodle", "Moodle's participants download or grade export",
        (("First name",), ("Last name", "Surname"), ("ID number", "Email address")),
        {"first name": "first_name", "last name": "last_name", "surname": "last_name",
         "id number": "id_number", "email address": "email"}),
}


@dataclass(frozen=True)
class Person:
    """A learner as one roster row gives them; ``""`` where the row says nothing."""

    line: int
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    id_number: str = ""
    section: str = ""
    participant_id: str = ""  # Moodle's, in the worksheet's assignment

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    def keys(self) -> set[tuple[str, str]]:
        """The ids that say who this is (see the module docstring)."""
        return _keys(canvas={self.canvas_id}, institution={self.sis_user_id, self.id_number},
                     email={self.email, self.sis_login_id}, moodle={self.participant_id})


def _keys(canvas: set[str], institution: set[str], email: set[str],
          moodle: set[str]) -> set[tuple[str, str]]:
    found = {("canvas", v) for v in canvas if v} | {("institution", v) for v in institution if v}
    found |= {("email", v.casefold()) for v in email if "@" in v}
    return found | {("moodle", v) for v in moodle if v}


@dataclass
class Table:
    """A roster file read: its format and, for each learner row, a Person or why not."""

    format: Format
    people: list[Person] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # line, why
    warnings: list[tuple[int, str]] = field(default_factory=list)


# -- reading the file ---------------------------------------------------------------------------

def read_text(path: Path) -> str:
    """The roster's text: bounded, decoded, no NUL (RosterRefused, saying what to do)."""
    path = Path(path)
    if not path.is_file():
        raise RosterRefused(f"{path}: no such file")
    with open(path, "rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise RosterRefused(f"{path} is larger than {MAX_BYTES} bytes: not a roster; export "
                            "the roster alone (without submissions or attachments)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        raise RosterRefused(f"{path} is not UTF-8 (byte {err.object[err.start]:#04x} at "
                            f"offset {err.start}): save it as \"CSV UTF-8\" and import it "
                            "again") from None
    if "\x00" in text:
        raise RosterRefused(f"{path} holds NUL bytes: it is not a CSV text file (a "
                            "spreadsheet, or UTF-16 without its byte-order mark?); save it as "
                            "\"CSV UTF-8\" and import it again")
    return text.lstrip("\ufeff")


def _header_fit(fmt: Format, header: list[str]) -> list[str]:
    """The required columns of ``fmt`` missing from ``header`` (``[]``: it fits)."""
    seen = {h.strip().casefold() for h in header}
    return [" or ".join(group) for group in fmt.required
            if not any(name.casefold() in seen for name in group)]


def _expected() -> str:
    return "; ".join(f"{f.name} ({f.what}): " + ", ".join(" or ".join(g) for g in f.required)
                     for f in FORMATS.values())


def detect(text: str, wanted: str = "auto") -> tuple[Format, str, list[str]]:
    """The format of the roster, its delimiter and its header row (the first line)."""
    first = text.partition("\n")[0].rstrip("\r")
    candidates = list(FORMATS.values()) if wanted == "auto" else [FORMATS[wanted]]
    for delimiter in DELIMITERS:
        try:
            header = next(csv.reader([first], delimiter=delimiter), [])
        except csv.Error:
            continue
        for fmt in candidates:
            if not _header_fit(fmt, header):
                return fmt, delimiter, header
    shown = _printable(first, 200) or "(empty)"
    if wanted != "auto":
        missing = min((_header_fit(FORMATS[wanted], next(csv.reader([first], delimiter=d), []))
                       for d in DELIMITERS), key=len)
        raise RosterRefused(f"the header row ({shown}) is not that of {FORMATS[wanted].what}: "
                            f"no column {', '.join(missing)}; export that file again from the "
                            "LMS (in English), or give the right --format")
    raise RosterRefused(f"the header row ({shown}) is not one of a roster this command reads: "
                        f"{_expected()}; export one of these from the LMS (in English) and "
                        "import it")


def _printable(text: str, limit: int) -> str:
    out = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return out + ("…" if len(text) > limit else "")


def rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Each row after the header, with the line it starts on (RosterRefused on a cell beyond
    the csv module's limit, or more than MAX_ROWS rows)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1
    try:
        next(reader, None)
        for count, row in enumerate(reader):
            if count >= MAX_ROWS:
                raise RosterRefused(f"more than {MAX_ROWS} rows: not a class roster; export "
                                    "one course's roster")
            yield line + 1, row
            line = reader.line_num
    except csv.Error as err:
        raise RosterRefused(f"line {reader.line_num}: not CSV as the LMS writes it ({err}); "
                            "export the roster again, unedited") from None


def read(path: Path, wanted: str = "auto") -> Table:
    """Read the roster at ``path`` (``wanted``: a FORMATS name, or auto from its header)."""
    text = read_text(path)
    fmt, delimiter, header = detect(text, wanted)
    first: dict[str, int] = {}  # Person field -> its column: the first of that name
    for i, h in enumerate(header):
        if h.strip().casefold() in fmt.columns:
            first.setdefault(fmt.columns[h.strip().casefold()], i)
    columns = {i: name for name, i in first.items()}
    table = Table(fmt)
    for line, row in rows(text, delimiter):
        _read_row(table, line, row, columns)
    return table


# -- one row ------------------------------------------------------------------------------------

def _read_row(table: Table, line: int, row: list[str], columns: dict[int, str]) -> None:
    """Add the row's Person to ``table``, or why it is refused or skipped."""
    if not any(cell.strip() for cell in row):
        return
    if any(len(cell) > MAX_FIELD for cell in row):
        table.refused.append((line, f"a cell of more than {MAX_FIELD} characters: not a "
                                    "roster row; fix it in the LMS and export again"))
        return
    raw = {name: row[i] if i < len(row) else "" for i, name in columns.items()}
    fix = _FIXES[table.format.name]
    person, why, skip = fix(line, raw)
    if why:
        (table.warnings if skip else table.refused).append((line, why))
    if person is not None:
        person, notes = _clean(person)
        table.warnings += [(line, n) for n in notes]
        table.people.append(person)


Fixed = tuple["Person | None", str, bool]  # person, why not (or a warning), skipped (not refused)


def _canvas(line: int, raw: dict[str, str]) -> Fixed:
    """A Canvas row: "Last, First" split; the Points Possible and Manual Posting rows skipped."""
    full = _unquote(raw.get("full_name", "").strip())
    if not raw.get("canvas_id", "").strip():
        if full in ("", CANVAS_POINTS_ROW):
            return None, "", True
        return None, f"no Canvas ID for {_printable(full, 80)!r}: skipped", True
    last, _, first = full.partition(",")
    if "full_name" not in raw:
        last, first = _unquote(raw.get("last_name", "")), _unquote(raw.get("first_name", ""))
    return _checked(Person(line, first_name=first, last_name=last, email="",
                           canvas_id=raw["canvas_id"], sis_user_id=raw.get("sis_user_id", ""),
                           sis_login_id=raw.get("sis_login_id", ""),
                           section=raw.get("section", "")))


def _moodle(line: int, raw: dict[str, str]) -> Fixed:
    """A Moodle participants or grades row: it needs an ID number or an email address."""
    if not (raw.get("id_number", "").strip() or raw.get("email", "").strip()):
        return None, "no ID number and no email address: skipped (Moodle can match neither)", \
            True
    return _checked(Person(line, first_name=raw.get("first_name", ""),
                           last_name=raw.get("last_name", ""), email=raw.get("email", ""),
                           id_number=raw.get("id_number", "")))


def _worksheet(line: int, raw: dict[str, str]) -> Fixed:
    """A grading worksheet row: its "Participant N" identifier, the full name split once."""
    m = PARTICIPANT.fullmatch(raw.get("participant_id", "").strip())
    if m is None:
        return None, (f"identifier {_printable(raw.get('participant_id', ''), 40)!r} is not "
                      "\"Participant <number>\" as Moodle writes it: refused"), False
    first, _, last = raw.get("full_name", "").strip().rpartition(" ")
    return _checked(Person(line, first_name=first, last_name=last, email=raw.get("email", ""),
                           id_number=raw.get("id_number", ""), participant_id=m[1]))


_FIXES = {"canvas": _canvas, "moodle": _moodle, "moodle-worksheet": _worksheet}


def _unquote(name: str) -> str:
    """A name as Canvas wrote it for spreadsheets (``="=x"``) unquoted."""
    m = re.fullmatch(r'="(.*)"', name.strip(), re.DOTALL)
    return m[1].replace('""', '"') if m else name


def _checked(person: Person) -> Fixed:
    """``person`` with each id stripped and of its exact form (else refused: an id is never
    guessed); an email address of another form is dropped with a warning."""
    changes, warning = {}, ""
    for name in ID_FORMS:
        value = unicodedata.normalize("NFC", getattr(person, name).strip())
        if value and not (ID_FORMS[name].fullmatch(value) and len(value) <= DB_FIELD):
            if name == "email":
                changes[name], warning = "", (f"email address {_printable(value, 80)!r} is "
                                              "not one: left out")
                continue
            label = name.replace("_", " ")
            return None, (f"{label} {_printable(value, 80)!r} is not of the form "
                          f"{ID_FORMS[name].pattern}: refused"), False
        changes[name] = value
    return replace(person, **changes), warning, True


def _clean(person: Person) -> tuple[Person, list[str]]:
    """Names and the section as text nbgrader keeps: NFC, control characters removed, spaces
    collapsed, at most DB_FIELD characters; notes for what changed."""
    notes, changes = [], {}
    for name in ("first_name", "last_name", "section"):
        value = unicodedata.normalize("NFC", getattr(person, name))
        text = " ".join("".join(" " if unicodedata.category(c) == "Cc" else c
                                for c in value).split())
        if text != " ".join(value.split()):
            notes.append(f"control characters removed from the {name.replace('_', ' ')}")
        if len(text) > DB_FIELD:
            text = text[:DB_FIELD]
            notes.append(f"{name.replace('_', ' ')} cut to {DB_FIELD} characters")
        changes[name] = text
    return replace(person, **changes), notes


# -- merging into the record of learners ------------------------------------------------------

RECORD = ("canvas_id", "sis_user_id", "sis_login_id", "id_number", "email", "section",
          "first_name", "last_name")  # the fields of an entry's "lms" object a roster writes
STRONG = ("canvas", "institution")  # ids a learner has one of; another one is a conflict


def entry_keys(entry: dict) -> set[tuple[str, str]]:
    """The ids of an entry of ``.learners.json`` (see ``Person.keys``)."""
    lms = entry.get("lms") if isinstance(entry.get("lms"), dict) else {}
    text = {k: v for k, v in {**entry, **lms}.items() if isinstance(v, str)}
    return _keys(canvas=lms_ids(entry, "canvas"),
                 institution={text.get("sis_user_id", ""), text.get("id_number", "")},
                 email={text.get("email", ""), text.get("sis_login_id", "")},
                 moodle=lms_ids(entry, "moodle"))


@dataclass
class Merge:
    """What merging a roster into the record decided: the student id of each row, and why
    a row was refused."""

    placed: list[tuple[Person, str, str]] = field(default_factory=list)  # person, sid, state
    refused: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)


def merge(registry: Registry, people: list[Person], assignment: str | None) -> Merge:
    """Write each person into ``registry`` (see the module docstring); ``assignment``: the
    worksheet's, for its participant ids."""
    out = Merge()
    lines: dict[str, int] = {}  # student id -> the line of this file that placed it
    index: dict[tuple[str, str], set[str]] = defaultdict(set)  # an id -> student ids
    for sid, entry in registry.owners.items():
        for key in entry_keys(entry):
            index[key].add(sid)
    for person in people:
        sid, why = _match(registry, person, assignment, lines, index)
        if why:
            out.refused.append((person.line, why))
            continue
        state = "added" if sid is None else "matched"
        sid = sid or _new_id(registry, person)
        if sid is None:
            out.refused.append((person.line, f"{person.name!r}: every student id made for "
                                             "this learner is taken; add them by hand"))
            continue
        before = repr(registry.owners.get(sid))
        _write(registry, sid, person, assignment)
        for key in entry_keys(registry.owners[sid]):
            index[key].add(sid)
        if state == "matched":
            state = "unchanged" if repr(registry.owners.get(sid)) == before else "updated"
        if sid in lines:
            out.warnings.append((person.line, f"the same learner as line {lines[sid]} "
                                              f"({sid}): read as one"))
        lines.setdefault(sid, person.line)
        out.placed.append((person, sid, state))
    return out


def _match(registry: Registry, person: Person, assignment: str | None,
           lines: dict[str, int], index: dict[tuple[str, str], set[str]]
           ) -> tuple[str | None, str]:
    """The student id ``person`` already has (None: a new learner), or why the row is refused:
    its ids belong to two learners, or it gives one of them another Canvas or institution id.
    ``index``: each id of the record -> the student ids whose entries hold it."""
    keys = person.keys()
    found = set().union(*(index.get(key, set()) for key in keys))
    where = {sid: f"line {lines[sid]}" if sid in lines else "the record" for sid in found}
    if len(found) > 1:
        return None, (f"{person.name!r}'s ids belong to " + " and to ".join(
            f"{sid} ({where[sid]})" for sid in sorted(found)) + ": refused, not merged; fix "
            "the LMS's record of whichever is wrong and import again")
    if not found:
        return None, ""
    sid = found.pop()
    theirs = entry_keys(registry.owners[sid])
    for kind in STRONG:
        mine = {v for k, v in keys if k == kind}
        have = {v for k, v in theirs if k == kind}
        if mine and have and not mine & have:
            return None, (f"{person.name!r} shares an id with {sid} ({where[sid]}), who has "
                          f"another {kind} id ({', '.join(sorted(have))}, not "
                          f"{', '.join(sorted(mine))}): refused, not merged; fix the LMS's "
                          "record and import again")
    if person.participant_id and assignment:
        known = _participants(registry.owners[sid]).get(assignment)
        if known is not None and known != person.participant_id:
            return None, (f"{person.name!r} is Participant {known} of {assignment} in "
                          f"{sid} ({where[sid]}), not {person.participant_id}: refused; import "
                          "the worksheet of the right assignment")
    return sid, ""


def _participants(entry: dict) -> dict[str, str]:
    """Assignment -> the learner's Moodle participant id in it, as a worksheet recorded."""
    lms = entry.get("lms") if isinstance(entry.get("lms"), dict) else {}
    found = lms.get("moodle_participants")
    return {str(k): v for k, v in found.items() if isinstance(v, str)} \
        if isinstance(found, dict) else {}


def _new_id(registry: Registry, person: Person) -> str | None:
    """A student id for a new learner, as ``collect`` makes it from the same LMS id; None when
    taken."""
    if person.canvas_id:
        base = student_id(Identity("canvas", person.canvas_id, person.name))
    elif person.participant_id:
        base = student_id(Identity("moodle", person.participant_id, person.name))
    elif re.fullmatch(r"[0-9]{1,20}", person.id_number):
        base = f"{slug(person.name)}_{person.id_number}"
    else:
        key = person.id_number or person.email.casefold()
        base = f"{slug(person.name)}_{hashlib.sha256(key.encode()).hexdigest()[:8]}"
    digest = hashlib.sha256(repr(sorted(person.keys())).encode()).hexdigest()[:8]
    return next((sid for sid in (base, f"{base}_{digest}") if registry.owner(sid) is None),
                None)


def _write(registry: Registry, sid: str, person: Person, assignment: str | None) -> None:
    """Record ``person``'s ids and names in ``sid``'s entry (made for a new learner)."""
    entry = dict(registry.owners.get(sid) or {"identity": f"{ROSTER}:{sid}",
                                              "name": person.name or sid})
    lms = dict(entry["lms"]) if isinstance(entry.get("lms"), dict) else {}
    for name in RECORD:
        value = getattr(person, name)
        if value:
            lms[name] = value
    if person.participant_id and assignment:
        lms["moodle_participants"] = {**_participants(entry),
                                      assignment: person.participant_id}
    entry["lms"] = lms
    registry.owners[sid] = entry
    registry.reserve(sid)


def names(entry: dict) -> tuple[str, str]:
    """(first, last) names a roster recorded in an entry, ``("", "")`` when none."""
    lms = entry.get("lms") if isinstance(entry.get("lms"), dict) else {}
    first, last = lms.get("first_name"), lms.get("last_name")
    return (first if isinstance(first, str) else "", last if isinstance(last, str) else "")


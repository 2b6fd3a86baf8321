"""Who a collected file belongs to: the learner's identity, their student id, and the record
of which identity owns which id.

An identity is what the source itself says identifies the learner: Canvas's user id, Moodle's
participant id, or, in a folder laid out as ``<student>/<assignment>/``, the student folder's
name. A learner's name is never an identity (two learners may share one, or differ only in an
accent). The student id (the folder under ``grading/submitted/`` and the gradebook's id) is
made from the identity, its name kept as the learner wrote it (Unicode, in NFC: ``José`` is
one character sequence whether the export wrote it composed or decomposed):

* Canvas and Moodle: ``<name>_<id>``, e.g. ``jane_doe_424242`` or ``josé_núñez_424242``: the
  name in lower case, its letters, marks and digits kept, every other run of characters one
  ``_``, at most 40 characters; the trailing number (the LMS's id) keeps two learners apart;
* a folder: its name when it is a plain name (letters, digits, ``_``, ``.``, ``-``; at most 64
  characters; ``alice``, ``José``), else ``<name>_<8 hex digits of its SHA-256>``.

``grading/submitted/.learners.json`` records the identity that owns each id (and, in its
``lms`` object, the LMS's id of the learner: ``canvas_id``, ``moodle_participant_id``), so
that two different learners can never share one, even across collects, and a learner whose
name changed in the LMS keeps the id they had; fields others wrote there (a roster's ids) are
kept. Ids are compared without case or normalisation (as macOS's disks do). A folder of
``grading/submitted/`` the record does not know is owned by the folder identity of its name
(as collected before the record existed).

A roster (``autograder.core.roster``) makes entries whose identity is ``roster:<student id>``
and whose ``lms`` object holds the learner's ids in each LMS; a collected file then belongs to
the entry that holds its LMS id (``Registry.member_of``: Canvas's user id as ``canvas_id``,
Moodle's participant id as ``moodle_participant_id`` or in ``moodle_participants``, by
assignment), so one learner collected from Canvas and from Moodle is one student.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from autograder.errors import AutograderError
from autograder.files import atomic_write, sha256
from autograder.settings import submitted_dir

SAFE_ID = re.compile(r"[^\W_][\w.\-]{0,63}")  # Unicode letters and digits (str.isalnum)
NAME_CHARS = 40  # of a learner's name kept in a student id
LMS_PATTERNS = {  # on the path of a file inside the export, from its start
    # Canvas: <sortable name, lower case, non-word characters dropped>[_LATE]_<user id>_
    # <attachment id>_<file name, "-1", "-2" appended when uploaded again>
    "canvas": re.compile(r"(?P<name>[^_/]+?)(?P<late>_LATE)?_(?P<key>\d{1,20})_"
                         r"(?P<attachment>\d{1,20})_(?P<file>[^/]+)"),
    # Moodle: <Full Name>_<participant id>_[<submission time>_]assignsubmission_file_/<file>
    # (Moodle's own export has no time; some exports put one there, see SUBMITTED_AT)
    "moodle": re.compile(r"(?P<name>[^/]+?)_(?P<key>\d{1,20})_(?:(?P<time>\d{4}-?\d\d-?\d\d"
                         r"[T ]?\d\d[:\-]?\d\d(?:[:\-]?\d\d)?Z?)_)?assignsubmission_"
                         r"(?:file|onlinetext)_/?(?P<file>.+)"),
}
SUBMITTED_AT = re.compile(r"(\d{4})-?(\d\d)-?(\d\d)[T ]?(\d\d)[:\-]?(\d\d)(?:[:\-]?(\d\d))?Z?")
RESUBMITTED = re.compile(r"-(\d{1,4})$")  # Canvas's -1, -2 on a file uploaded again
LMS_LABELS = {"canvas": "Canvas user", "moodle": "Moodle participant"}
ROSTER = "roster"  # the source of an identity a roster import made
# the field of an entry's "lms" object in .learners.json holding the LMS's id of the learner
# (read by core.lms: canvas_id is Canvas's user id; Moodle's participant id is the
# assignment's own number for the learner, not their Moodle user id or ID number)
LMS_ID_FIELDS = {"canvas": "canvas_id", "moodle": "moodle_participant_id"}


@dataclass(frozen=True)
class Identity:
    """A learner as the source identifies them (``source``: canvas, moodle or folder)."""

    source: str
    key: str  # the LMS's id of the learner, or the student folder's name (NFC)
    name: str  # the learner's name as the source gives it

    @property
    def token(self) -> str:
        return f"{self.source}:{self.key}"

    @property
    def label(self) -> str:
        if self.source == "folder":
            return f"folder {self.key!r}"
        if self.source == ROSTER:
            return f"{self.name!r} (roster)"
        return f"{self.name!r} ({LMS_LABELS[self.source]} {self.key})"


@dataclass(frozen=True)
class Origin:
    """What a file's path says: whose it is, the assignment folder if any, its own name, and
    the export's evidence of when it was submitted (Canvas: its LATE marker, its attachment id
    and the -1, -2 it appends to a file uploaded again; Moodle: a time in the folder name)."""

    identity: Identity | None
    hint: str | None
    filename: str
    late: bool | None = None  # Canvas's LATE marker (None: the export does not say)
    attachment: int | None = None  # Canvas's attachment id (larger: uploaded later)
    submitted: datetime | None = None  # in UTC, naive (as nbgrader keeps it)

    @property
    def resubmission(self) -> int:
        """Canvas's -N on the file name (0 when there is none)."""
        if self.identity is None or self.identity.source != "canvas":
            return 0
        m = RESUBMITTED.search(Path(self.filename).stem)
        return int(m[1]) if m else 0


def submitted_at(text: str) -> datetime | None:
    """The time ``text`` (``20261201T101500Z``, ``2026-12-01T10-15-00``...) names, read as UTC;
    None when it is not a valid date."""
    m = SUBMITTED_AT.fullmatch(text)
    if m is None:
        return None
    try:
        return datetime(*(int(g) for g in m.groups("0")))
    except ValueError:
        return None


def origin(parts: tuple[str, ...]) -> Origin:
    """Read a file's path inside the source: an LMS export's name (Canvas, Moodle) where the
    LMS puts it, at the start of the path, else ``<student>/<assignment>/.../<file>``."""
    relative = "/".join(parts)
    for source, pattern in LMS_PATTERNS.items():
        m = pattern.fullmatch(relative)
        if m:
            who = Identity(source, m["key"], m["name"].strip())
            found = m.groupdict()
            return Origin(who, None, m["file"].rsplit("/", 1)[-1],
                          late=bool(found["late"]) if source == "canvas" else None,
                          attachment=int(found["attachment"]) if source == "canvas" else None,
                          submitted=submitted_at(found["time"]) if found.get("time") else None)
    if len(parts) >= 3:
        return Origin(Identity("folder", parts[0], parts[0]), parts[1], parts[-1])
    return Origin(None, None, parts[-1])


def fold(name: str) -> str:
    """A name in lower-case ASCII letters, digits and ``_``: accents dropped, other
    characters one ``_``, at most NAME_CHARS characters; ``learner`` when nothing is left."""
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_.lower()).strip("_")
    return slug[:NAME_CHARS].rstrip("_") or "learner"


def slug(name: str) -> str:
    """A name for an id, Unicode kept: NFC, lower case, letters, marks and digits kept, every
    other run of characters one ``_``, at most NAME_CHARS characters; ``learner`` when
    nothing is left."""
    text = unicodedata.normalize("NFC", name.lower())
    kept = "".join(c if unicodedata.category(c)[0] in "LMN" else " " for c in text)
    out = "_".join(kept.split())[:NAME_CHARS].rstrip("_")
    return unicodedata.normalize("NFC", out) or "learner"


def student_id(who: Identity) -> str:
    """The student id made from an identity (see the module docstring)."""
    if who.source != "folder":
        return f"{slug(who.name)}_{who.key}"
    key = unicodedata.normalize("NFC", who.key)
    if SAFE_ID.fullmatch(key) and key.isprintable():
        return key
    digest = sha256(key.encode("utf-8", "surrogatepass"))[:8]
    return f"{slug(key)}_{digest}"


class Registry:
    """``grading/submitted/.learners.json``: the identity that owns each student id."""

    def __init__(self, path: Path, owners: dict[str, dict], folders: dict[str, str]) -> None:
        self.path = path
        self.owners = owners  # student id -> {"identity": token, "name": name, "lms": {...}}
        self._folders = folders  # same_id(student id) -> folder name on disk
        # (source, LMS id) and ("identity", token) -> student id
        self._index: dict[tuple[str, str], str] | None = None
        self._ids: dict[str, str] | None = None  # same_id(student id) -> student id
        self._saved = json.dumps(self._data(), sort_keys=True)

    @classmethod
    def load(cls, root: Path) -> Registry:
        base = submitted_dir(root)
        path = base / ".learners.json"
        owners: dict[str, dict] = {}
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                owners = {str(k): {**v, "identity": str(v["identity"]), "name": str(v["name"])}
                          for k, v in data["learners"].items()}
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                raise AutograderError(
                    f"{path} is damaged ({err}); restore it from a backup (it records which "
                    "learner owns each student id)") from None
        folders = {same_id(p.name): p.name for p in base.iterdir()
                   if p.is_dir() and not p.name.startswith(".")} if base.is_dir() else {}
        return cls(path, owners, folders)

    def _registered(self, sid: str) -> str | None:
        if self._ids is None or len(self._ids) != len(self.owners):  # built once, until it grows
            self._ids = {same_id(k): k for k in reversed(list(self.owners))}
        return self._ids.get(same_id(sid))

    def id_for(self, who: Identity) -> str:
        """The id ``who`` had in an earlier collect or a roster gave them, else a new one."""
        return self.member_of(who) or student_id(who)

    def member_of(self, who: Identity) -> str | None:
        """The student id whose entry is ``who``'s: its identity, or (an LMS identity) the
        entry that records ``who``'s LMS id (a roster's, see the module docstring)."""
        if self._index is None:  # built once, until the record changes
            self._index = {}
            for sid, entry in reversed(list(self.owners.items())):  # the first entry wins
                for source in LMS_ID_FIELDS:
                    self._index |= {(source, key): sid for key in lms_ids(entry, source)}
            for sid, entry in reversed(list(self.owners.items())):  # an identity before all
                self._index["identity", entry["identity"]] = sid
        own = self._index.get(("identity", who.token))
        if own is not None or who.source not in LMS_ID_FIELDS:
            return own
        return self._index.get((who.source, who.key))

    def admits(self, sid: str, who: Identity) -> bool:
        """Whether ``who`` may use ``sid`` (in any case): its owner, or an LMS identity whose
        id its entry records."""
        key = self._registered(sid)
        if key is None:
            owner = self.owner(sid)
            return owner is not None and owner.token == who.token
        entry = self.owners[key]
        return entry["identity"] == who.token or (
            who.source in LMS_ID_FIELDS and who.key in lms_ids(entry, who.source))

    def owner(self, sid: str) -> Identity | None:
        """The identity that owns ``sid`` (in any case), or None if it is free."""
        key = self._registered(sid)
        if key is not None:
            source, _, who = self.owners[key]["identity"].partition(":")
            return Identity(source, who, self.owners[key]["name"])
        folder = self._folders.get(same_id(sid))
        return Identity("folder", folder, folder) if folder is not None else None

    def name_of(self, who: Identity) -> str | None:
        """The name ``who`` had when their id was recorded, or None."""
        return next((v["name"] for v in self.owners.values() if v["identity"] == who.token),
                    None)

    def claim(self, who: Identity, sid: str) -> None:
        """Record ``sid`` as ``who``'s, with the LMS's id of the learner; what else the entry
        holds (ids a roster import added) is kept. An entry that admits ``who`` by its LMS id
        (a roster's) keeps its identity and name."""
        before = self.owners.get(sid, {})
        if before and before.get("identity") != who.token and self.admits(sid, who):
            entry = dict(before)
        else:
            entry = dict(before) if before.get("identity") == who.token else {}
            entry |= {"identity": who.token, "name": who.name}
        if who.source in LMS_ID_FIELDS:
            lms = entry.get("lms") if isinstance(entry.get("lms"), dict) else {}
            entry["lms"] = {**lms, LMS_ID_FIELDS[who.source]: who.key}
        self.owners[sid] = entry
        self.reserve(sid)

    def reserve(self, sid: str) -> None:
        """Count ``sid`` as taken (its entry was just written: by ``claim``, or a roster's
        before any folder exists)."""
        self._folders.setdefault(same_id(sid), sid)
        self._index = None
        if self._ids is not None and sid in self.owners:
            self._ids.setdefault(same_id(sid), sid)

    def _data(self) -> dict:
        return {"version": 1, "learners": dict(sorted(self.owners.items()))}

    def save(self) -> None:
        """Write the record if it changed (atomically: a new file renamed over the old one)."""
        if json.dumps(self._data(), sort_keys=True) == self._saved and self.path.is_file():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps(self._data(), indent=1, ensure_ascii=False))
        self._saved = json.dumps(self._data(), sort_keys=True)


def lms_ids(entry: dict, source: str) -> set[str]:
    """The ids of ``source`` (canvas, moodle) an entry of the record holds for its learner: its
    identity's key, and those of its ``lms`` object (Moodle: by assignment too)."""
    found, _, key = str(entry.get("identity", "")).partition(":")
    ids = {key} if found == source else set()
    lms = entry.get("lms") if isinstance(entry.get("lms"), dict) else {}
    value = lms.get(LMS_ID_FIELDS[source])
    if isinstance(value, str) and value:
        ids.add(value)
    if source == "moodle" and isinstance(lms.get("moodle_participants"), dict):
        ids |= {v for v in lms["moodle_participants"].values() if isinstance(v, str) and v}
    return ids


def same_id(sid: str) -> str:
    """``sid`` as disks that ignore case and normalisation see it (macOS): two ids are one
    when these are equal."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", sid).casefold())


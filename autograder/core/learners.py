"""Who a collected file belongs to: the learner's identity, their student id, and the record
of which identity owns which id.

An identity is what the source itself says identifies the learner: Canvas's user id, Moodle's
participant id, or, in a folder laid out as ``<student>/<assignment>/``, the student folder's
name. A learner's name is never an identity (two learners may share one, or differ only in an
accent). The student id (the folder under ``grading/submitted/`` and the gradebook's id) is
made from the identity, in safe ASCII:

* Canvas and Moodle: ``<name>_<id>``, e.g. ``jane_doe_424242``, the name folded to ASCII
  (accents dropped, at most 40 characters); the trailing number keeps two learners apart;
* a folder: its name when it is a plain ASCII name (``alice``), else ``<folded name>_<8 hex
  digits of its SHA-256>`` (``jose_3f1c9a2b`` for ``José``, in NFC or NFD alike).

``grading/submitted/.learners.json`` records the identity that owns each id, so that two
different learners can never share one, even across collects, and a learner whose name
changed in the LMS keeps the id they had. Ids are compared without case (as macOS's disks
do). A folder of ``grading/submitted/`` the record does not know is owned by the folder
identity of its name (as collected before the record existed).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import AutograderError
from autograder.settings import submitted_dir

SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
NAME_CHARS = 40  # of a learner's name kept in a student id
LMS_PATTERNS = {  # on the path of a file inside the export, from its start
    "canvas": re.compile(r"(?P<name>[^_/]+?)(?:_LATE)?_(?P<key>\d{1,20})_\d{1,20}_"
                         r"(?P<file>[^/]+)"),
    "moodle": re.compile(r"(?P<name>[^/]+?)_(?P<key>\d{1,20})_assignsubmission_"
                         r"(?:file|onlinetext)_/?(?P<file>.+)"),
}
LMS_LABELS = {"canvas": "Canvas user", "moodle": "Moodle participant"}


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
        return f"{self.name!r} ({LMS_LABELS[self.source]} {self.key})"


@dataclass(frozen=True)
class Origin:
    """What a file's path says: whose it is, the assignment folder if any, its own name."""

    identity: Identity | None
    hint: str | None
    filename: str


def origin(parts: tuple[str, ...]) -> Origin:
    """Read a file's path inside the source: an LMS export's name (Canvas, Moodle) where the
    LMS puts it, at the start of the path, else ``<student>/<assignment>/.../<file>``."""
    relative = "/".join(parts)
    for source, pattern in LMS_PATTERNS.items():
        m = pattern.fullmatch(relative)
        if m:
            who = Identity(source, m["key"], m["name"].strip())
            return Origin(who, None, m["file"].rsplit("/", 1)[-1])
    if len(parts) >= 3:
        return Origin(Identity("folder", parts[0], parts[0]), parts[1], parts[-1])
    return Origin(None, None, parts[-1])


def fold(name: str) -> str:
    """A name in lower-case ASCII letters, digits and ``_``: accents dropped, other
    characters one ``_``, at most NAME_CHARS characters; ``learner`` when nothing is left."""
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_.lower()).strip("_")
    return slug[:NAME_CHARS].rstrip("_") or "learner"


def student_id(who: Identity) -> str:
    """The student id made from an identity (see the module docstring)."""
    if who.source != "folder":
        return f"{fold(who.name)}_{who.key}"
    if SAFE_ID.fullmatch(who.key):
        return who.key
    digest = hashlib.sha256(who.key.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{fold(who.key)}_{digest}"


class Registry:
    """``grading/submitted/.learners.json``: the identity that owns each student id."""

    def __init__(self, path: Path, owners: dict[str, dict], folders: dict[str, str]) -> None:
        self.path = path
        self.owners = owners  # student id -> {"identity": token, "name": name}
        self._folders = folders  # student id folded to lower case -> folder name on disk

    @classmethod
    def load(cls, root: Path) -> Registry:
        base = submitted_dir(root)
        path = base / ".learners.json"
        owners: dict[str, dict] = {}
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                owners = {str(k): {"identity": str(v["identity"]), "name": str(v["name"])}
                          for k, v in data["learners"].items()}
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                raise AutograderError(
                    f"{path} is damaged ({err}); restore it from a backup (it records which "
                    "learner owns each student id)") from None
        folders = {p.name.lower(): p.name for p in base.iterdir()
                   if p.is_dir() and not p.name.startswith(".")} if base.is_dir() else {}
        return cls(path, owners, folders)

    def _registered(self, sid: str) -> str | None:
        return next((k for k in self.owners if k.lower() == sid.lower()), None)

    def id_for(self, who: Identity) -> str:
        """The id ``who`` had in an earlier collect, else a new one."""
        return next((k for k, v in self.owners.items() if v["identity"] == who.token),
                    None) or student_id(who)

    def owner(self, sid: str) -> Identity | None:
        """The identity that owns ``sid`` (in any case), or None if it is free."""
        key = self._registered(sid)
        if key is not None:
            source, _, who = self.owners[key]["identity"].partition(":")
            return Identity(source, who, self.owners[key]["name"])
        folder = self._folders.get(sid.lower())
        return Identity("folder", folder, folder) if folder is not None else None

    def name_of(self, who: Identity) -> str | None:
        """The name ``who`` had when their id was recorded, or None."""
        return next((v["name"] for v in self.owners.values() if v["identity"] == who.token),
                    None)

    def claim(self, who: Identity, sid: str) -> None:
        self.owners[sid] = {"identity": who.token, "name": who.name}
        self._folders.setdefault(sid.lower(), sid)

    def save(self) -> None:
        """Write the record (atomically: a new file renamed over the old one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".learners.{os.getpid()}.part")
        tmp.write_text(json.dumps({"version": 1, "learners": dict(sorted(self.owners.items()))},
                                  indent=1), encoding="utf-8")
        tmp.replace(self.path)

"""Every attempt of a learner at an assignment, kept on disk, and which one is graded.

``collect`` keeps each different notebook it meets for a learner and an assignment, never
overwritten, in ``grading/attempts/<student>/<assignment>/``:

* ``<n>.ipynb``: attempt ``n`` (1, 2, ... in the order collect first met them), byte for byte;
* ``attempts.json``: what the export said of each attempt (its file, the export it came from,
  the submission time and Canvas's LATE marker where the export gives them), which attempt
  ``grading/submitted/<student>/<assignment>/`` holds (``graded``), why, and the digest of the
  file put there, so that a file replaced by hand is recognised and kept.

nbgrader grades the one notebook of ``grading/submitted/<student>/<assignment>/`` and reads
the submission time from ``timestamp.txt`` beside it (``CourseDirectory.
get_existing_timestamp``): collect writes that file when the export gives the time, and never
makes one up (Canvas's LATE marker says late, not when). A time read from a learner's folder
(an nbgrader ``timestamp.txt`` in a folder layout) goes through ``parse_time``, which reads
only a date, a time and UTC or an offset.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from autograder.errors import AutograderError
from autograder.files import atomic_write, sha256
from autograder.settings import grading_dir, submitted_dir

TIMESTAMP_FILE = "timestamp.txt"  # nbgrader's name
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"  # as nbgrader's exchange writes it
TIME_TEXT = re.compile(r"(?P<date>\d{4}-\d\d-\d\d)[ T](?P<time>\d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?)"
                       r"(?: ?(?P<zone>UTC|GMT|Z|[+-]\d\d:?\d\d))?")


def attempts_dir(root: Path) -> Path:
    return grading_dir(root) / "attempts"


@dataclass(frozen=True)
class Attempt:
    """One notebook of a learner for an assignment, as collect met it."""

    n: int
    sha256: str
    file: str  # the learner's file name
    member: str  # its path in the export
    source: str  # the export's name (a zip's file name, a folder's name)
    submitted: str | None  # ISO 8601, UTC, when the export gives the time
    late: bool | None  # Canvas's LATE marker (None: the export does not say)
    collected: str  # when collect first met it (ISO 8601, UTC)

    @property
    def time(self) -> datetime | None:
        return datetime.fromisoformat(self.submitted) if self.submitted else None

    def describe(self) -> str:
        """``attempt 2 (file.ipynb from export.zip, submitted ...)`` in words."""
        said = [f"from {self.source}"]
        if self.submitted:
            said.append(f"submitted {self.submitted.replace('T', ' ')} UTC")
        if self.late:
            said.append("LATE by Canvas's marker" + ("" if self.submitted else
                                                     " (the export gives no time)"))
        return f"attempt {self.n} ({self.file} {', '.join(said)})"


class History:
    """``grading/attempts/<student>/<assignment>/``: the attempts and the graded one."""

    def __init__(self, root: Path, student: str, assignment: str) -> None:
        self.folder = attempts_dir(root) / student / assignment
        self.submitted = submitted_dir(root) / student / assignment
        self.record = self.folder / "attempts.json"
        self.attempts: list[Attempt] = []
        self.graded: int | None = None  # the attempt placed in grading/submitted
        self.why = ""
        self.placed: dict[str, str] = {}  # file name -> sha256 of what collect put there
        if self.record.is_file():
            self._load()
        self._saved = self._text()

    def _load(self) -> None:
        try:
            data = json.loads(self.record.read_text(encoding="utf-8"))
            self.attempts = [Attempt(**a) for a in data["attempts"]]
            self.graded, self.why = data["graded"], str(data["why"])
            self.placed = {str(k): str(v) for k, v in data["placed"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise AutograderError(
                f"{self.record} is damaged ({err}); restore it from a backup, or remove it "
                "(the attempts' notebooks beside it stay) and collect again") from None

    def _text(self) -> str:
        return json.dumps({"version": 1, "attempts": [asdict(a) for a in self.attempts],
                           "graded": self.graded, "why": self.why, "placed": self.placed},
                          indent=1, ensure_ascii=False)

    def find(self, digest: str) -> Attempt | None:
        return next((a for a in self.attempts if a.sha256 == digest), None)

    def get(self, n: int | None) -> Attempt | None:
        return next((a for a in self.attempts if a.n == n), None)

    def add(self, data: bytes, **said) -> Attempt:
        """The attempt holding ``data``: the one already kept, else a new one, written."""
        known = self.find(sha256(data))
        if known is not None:
            return known
        attempt = Attempt(n=len(self.attempts) + 1, sha256=sha256(data), **said)
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.folder / f"{attempt.n}.ipynb", data)
        self.attempts.append(attempt)
        return attempt

    def on_disk(self) -> dict[str, str]:
        """The notebooks in ``grading/submitted/<student>/<assignment>/``: name -> sha256."""
        if not self.submitted.is_dir():
            return {}
        return {p.name: sha256(p.read_bytes()) for p in sorted(self.submitted.glob("*.ipynb"))
                if p.is_file()}

    def changed_by_hand(self) -> bool:
        """Whether the submission folder holds notebooks collect did not put there (a file
        replaced or added by hand, or one collected before attempts were recorded)."""
        found = self.on_disk()
        return bool(found) and found != self.placed

    def place(self, attempt: Attempt, name: str, why: str) -> None:
        """Make ``attempt`` the graded notebook, as ``name``, with its submission time."""
        self.submitted.mkdir(parents=True, exist_ok=True)
        data = (self.folder / f"{attempt.n}.ipynb").read_bytes()
        atomic_write(self.submitted / name, data)
        for old in self.submitted.glob("*.ipynb"):
            if old.name != name:
                old.unlink()
        stamp = self.submitted / TIMESTAMP_FILE
        if attempt.time is not None:
            atomic_write(stamp, attempt.time.strftime(TIMESTAMP_FORMAT))
        elif stamp.is_file():  # the time of the attempt it replaces
            stamp.unlink()
        self.graded, self.why, self.placed = attempt.n, why, {name: attempt.sha256}

    def keep_by_hand(self, collected: str) -> None:
        """Keep every notebook changed by hand in the submission folder as an attempt of its
        own (before --replace puts the export's in its place)."""
        for name in sorted(self.on_disk()):
            data = (self.submitted / name).read_bytes()
            self.add(data, file=name, member=f"grading/submitted/.../{name}",
                     source="changed by hand", submitted=None, late=None, collected=collected)

    def verdict(self, attempt: Attempt, known: bool, by_hand: bool, replace: bool
                ) -> str | None:
        """None when ``attempt`` is to be graded; else "unchanged" (with why, when it is not the
        graded one), or why it is only kept."""
        graded = self.get(self.graded)
        if graded is not None and graded.n == attempt.n and not by_hand and self.on_disk():
            return "unchanged"
        if replace:
            return None
        if by_hand:
            return (f"kept as {attempt.describe()}, not graded: grading/submitted/"
                    f"{self.submitted.parent.name}/{self.submitted.name} was changed by "
                    "hand (or collected before attempts were recorded), and an export never "
                    "replaces it; collect with --replace to grade the export's")
        if known and graded is not None and graded.n != attempt.n:
            return (f"unchanged: {attempt.describe()} was collected before; the graded one is "
                    f"{graded.describe()}; collect with --replace to grade it")
        if graded is not None and graded.time and attempt.time and attempt.time < graded.time:
            return (f"kept as {attempt.describe()}, not graded: submitted before the graded "
                    f"{graded.describe()}; collect with --replace to grade it")
        return None

    def summary(self) -> str:
        """Which attempt is graded, of how many, and why."""
        total = len(self.attempts)
        if self.changed_by_hand():
            return (f"the notebook changed by hand is graded, not an export's ({total} attempt(s) "
                    f"kept in {self.folder.relative_to(self.folder.parents[3])})")
        return f"{self.why} [{total} attempt(s) kept]"

    def save(self) -> None:
        """Write the record if it changed."""
        text = self._text()
        if text != self._saved:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write(self.record, text)
            self._saved = text


def parse_time(text: str) -> datetime | None:
    """The time ``text`` gives, in UTC (naive, as nbgrader keeps it), or None. Only a date,
    a time and UTC, Z, GMT or a numeric offset are read: a time zone's name would make
    nbgrader's ``parse_utc`` open a file of that name, and the text is the learner's."""
    m = TIME_TEXT.fullmatch(text)
    if m is None:
        return None
    zone = m["zone"] or "UTC"
    offset = "+00:00" if zone in {"UTC", "Z", "GMT"} else zone
    if len(offset) == 5:  # +0100
        offset = f"{offset[:3]}:{offset[3:]}"
    try:
        when = datetime.fromisoformat(f"{m['date']}T{m['time']}{offset}")
    except ValueError:
        return None
    return when.astimezone(timezone.utc).replace(tzinfo=None)

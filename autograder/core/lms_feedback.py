"""The feedback pages as each LMS's bulk feedback upload reads them: one zip per assignment.

``feedback`` writes ``grading/feedback/<student>/<assignment>/<notebook>.html``; this module
packs an assignment's pages into the zip that Moodle's or Canvas's upload matches to each
learner by the ids in its member names. The ids come from what ``collect`` recorded of each
attempt (``grading/attempts/<student>/<assignment>/attempts.json``, ``core.attempts``): the
attempt's path in the LMS's own download (``member``), read again by ``core.learners.origin``.

**Moodle** (Assignment > "Upload multiple feedback files in a zip", ``assignfeedback_file``,
``mod/assign/feedback/file/importziplib.php``, ``is_valid_filename_for_import``): each folder
of a member's path is split on ``_`` into at most five parts, ``fullname``, ``participant
id``, plugin type, plugin name and the rest; the first folder whose second part is a number
that is a participant of the assignment, and whose third and fourth name one of its plugins,
gives the learner; what follows is the feedback file's name. Moodle's own download names the
folder ``<Full Name>_<participant id>_assignsubmission_file_`` (``mod/assign/locallib.php``,
``download_submissions``: ``_`` in the name replaced by a space, then ``clean_filename``), and
so does this module. The participant id is the assignment's own number for the learner
(``get_uniqueid_for_user``: one per learner *and* assignment), so it is read from that
assignment's attempts, never from another's (when none came from Moodle: what a Moodle roster
import recorded for that assignment, ``roster_participant``). The name part is not read by
Moodle; it is written with letters, marks, digits, spaces and ``-`` only (no ``_``, which
would shift the parts). A file whose name starts with ``.`` or ``~`` is ignored by Moodle;
none does here.

**Canvas** (Assignment > "Re-upload submissions", ``Assignment#generate_comments_from_files``
and ``infer_comment_context_from_filename`` in ``app/models/assignment.rb``): only the base
name counts; it is split on ``_`` and the first two parts made of digits only are the user id
and the attachment id, which must be an attachment of that user's submission; a name whose
last part starts with ``link`` is ignored. Each file becomes a submission comment ("See
attached file"). Canvas's download names files ``<name>[_LATE]_<user id>_<attachment id>_
<file>``; here the name is ASCII letters only (never digits, never ``_``: a name part made of
digits would be taken for the user id), and the file part is ``feedback-<notebook>.html``
(no ``_``; it starts with ``feedback``, never ``link``). The attachment id is the largest of the
learner's Canvas attempts of the assignment (Canvas numbers attachments in upload order, and
the learner's current submission holds their latest upload). Canvas gives the comment's file
the display name of the learner's submitted file (``attachment.display_name``), not this
name: the page opens in the browser from its content type (HTML), whatever its name says.

**Hostile names.** Every member name is built, never copied: from allow-listed characters
(the learner's name folded as above, the notebook's name in ASCII letters, digits, ``.``,
``-``, ``_``), the LMS's ids checked to be 1 to 20 digits, fixed separators, and a bounded
length per part (``MAX_NAME``, ``MAX_FILE``): no member holds ``/`` beyond the one folder
Moodle needs, ``..``, a NUL, a control character or a leading ``.``. A page is read with
``O_NOFOLLOW`` (a link is refused) and at most ``MAX_PAGE_BYTES``.

A learner whose ids the LMS needs are not on record (collected from the other LMS, from a
folder, or before attempts were recorded), or who has no feedback page, is listed in
``skipped`` with why; none is left out silently.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from autograder.core.attempts import History
from autograder.core.exports import TooLarge, read_bounded
from autograder.core.learners import origin
from autograder.settings import feedback_dir, submitted_dir

FORMATS = ("canvas", "moodle")
LMS_NAMES = {"canvas": "Canvas", "moodle": "Moodle"}
MAX_NAME = 40  # characters of the learner's name in a member name
MAX_FILE = 100  # characters of the feedback file's name
MAX_PAGE_BYTES = 64 * 2**20  # one feedback page
LMS_ID = re.compile(r"[0-9]{1,20}")
MOODLE_PLUGIN = "assignsubmission_file"  # the folder suffix of Moodle's own download
FILE_CHARS = re.compile(r"[^A-Za-z0-9.\-_]+")
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True)
class LmsIds:
    """What one LMS needs to match a learner's file of one assignment."""

    user: str  # Canvas: the user id; Moodle: the participant id of this assignment
    attachment: str = ""  # Canvas: the attachment id of the learner's submission


@dataclass(frozen=True)
class Packed:
    """The zip of one assignment, the learners in it, and those skipped (with why)."""

    path: Path | None
    learners: list[str]
    skipped: list[str]


# -- names -------------------------------------------------------------------------------------

def ascii_letters(name: str, limit: int = MAX_NAME) -> str:
    """``name`` as lower-case ASCII letters only (accents dropped, everything else removed),
    at most ``limit`` of them; ``learner`` when none is left. Canvas's name part."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z]+", "", folded)[:limit] or "learner"


def moodle_name(name: str, limit: int = MAX_NAME) -> str:
    """``name`` with its letters, marks and digits (any script), runs of anything else one
    space or ``-`` kept as written, at most ``limit`` characters; ``Participant`` when
    nothing is left. Moodle's name part (never a ``_``, ``/``, ``.`` or control character)."""
    text = unicodedata.normalize("NFC", name)
    kept = "".join(c if unicodedata.category(c)[0] in "LMN" or c == "-" else " " for c in text)
    out = " ".join(kept.split())[:limit].strip(" -")
    return out or "Participant"


def feedback_file(page: str, limit: int = MAX_FILE) -> str:
    """The member's file name for the page ``page`` (``<notebook>.html``):
    ``feedback-<notebook>.html``, ASCII letters, digits, ``.``, ``-`` only (every other run
    one ``-``), at most ``limit`` characters with its extension."""
    stem = page[:-5] if page.lower().endswith(".html") else page
    stem = FILE_CHARS.sub("-", stem.replace("_", "-")).strip(".-") or "page"
    return f"feedback-{stem[:limit - len('feedback-.html')]}.html"


def member_name(fmt: str, name: str, ids: LmsIds, page: str) -> str:
    """The zip member that ``fmt``'s upload matches to the learner ``ids`` (see the module
    docstring). ``name`` is the learner's name as the LMS's download writes it (Canvas: last
    name first; Moodle: full name), ``page`` the feedback page's file name."""
    for value in (ids.user, *([ids.attachment] if fmt == "canvas" else [])):
        if not LMS_ID.fullmatch(value):
            raise ValueError(f"an LMS id that is not 1 to 20 digits: {value[:40]!r}")
    if fmt == "canvas":
        return f"{ascii_letters(name)}_{ids.user}_{ids.attachment}_{feedback_file(page)}"
    if fmt == "moodle":
        return f"{moodle_name(name)}_{ids.user}_{MOODLE_PLUGIN}_/{feedback_file(page)}"
    raise ValueError(f"unknown LMS format {fmt!r}: use one of {', '.join(FORMATS)}")


# -- the ids, from what collect recorded ---------------------------------------------------

def lms_ids(root: Path, student: str, assignment: str, fmt: str) -> tuple[LmsIds | None, str]:
    """(ids, "") of ``student``'s ``assignment`` for ``fmt``, from the attempts collect
    recorded; (None, why) when there are none."""
    try:
        history = History(root, student, assignment)
    except Exception as err:  # noqa: BLE001  (a damaged record skips one learner, said why)
        return None, f"its attempts record cannot be read ({str(err)[:200]})"
    found, kinds = [], set()
    for attempt in history.attempts:
        where = origin(tuple(p for p in attempt.member.split("/") if p))
        kind = where.identity.source if where.identity is not None else "an unknown source"
        kinds.add(LMS_NAMES.get(kind, "a folder" if kind == "folder" else kind))
        if kind == fmt:
            found.append((attempt, where))
    if not found and fmt == "moodle" and (pid := roster_participant(root, student, assignment)):
        return LmsIds(pid), ""
    if not found:
        said = (f"collected from {' and '.join(sorted(kinds))}" if kinds
                else "no attempt recorded by collect")
        return None, (f"no {LMS_NAMES[fmt]} id on record for {assignment} ({said}); upload "
                      "this learner's page by hand")
    if fmt == "canvas":
        _, where = max(found, key=lambda f: f[1].attachment or 0)
        return LmsIds(where.identity.key, str(where.attachment)), ""
    graded = [f for f in found if f[0].n == history.graded]
    _, where = (graded or found)[-1]
    return LmsIds(where.identity.key), ""


def roster_participant(root: Path, student: str, assignment: str) -> str:
    """``student``'s Moodle participant id in ``assignment`` as a roster import recorded it
    (``.learners.json``: ``lms.moodle_participants`` by assignment, ``core.roster``), or ""."""
    path = submitted_dir(root) / ".learners.json"
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))["learners"][student]
        value = entry["lms"]["moodle_participants"][assignment]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return value if isinstance(value, str) and LMS_ID.fullmatch(value) else ""


# -- the pages ----------------------------------------------------------------------------------

def pages(root: Path, student: str, assignment: str) -> list[Path]:
    """The feedback pages (``*.html``, regular files, not links) of ``student``'s
    ``assignment``, in name order."""
    folder = feedback_dir(root) / student / assignment
    if folder.is_symlink() or not folder.is_dir():
        return []
    return [p for p in sorted(folder.iterdir()) if p.name.endswith(".html")
            and stat.S_ISREG(os.lstat(p).st_mode)]


def read_page(path: Path, limit: int = MAX_PAGE_BYTES) -> bytes:
    """The bytes of ``path``: never through a link, at most ``limit`` of them."""
    try:
        fd = os.open(path, _OPEN_FILE)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise ValueError(f"{path.name} is a symbolic link; links are never followed"
                             ) from None
        raise
    with os.fdopen(fd, "rb") as stream:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path.name} is not a regular file")
        try:
            return read_bounded(stream, limit)
        except TooLarge:
            raise ValueError(f"{path.name} is larger than {limit} bytes") from None


def write_zip(path: Path, members: Iterable[tuple[str, bytes]]) -> Path:
    """Write ``members`` (name, bytes) as the zip ``path``, atomically (a new file renamed
    over the old one); every member a regular file, read and written by its owner."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def download_name(fmt: str, first: str, last: str) -> str:
    """The learner's name in the order ``fmt``'s download writes it (Canvas sorts by last
    name; Moodle writes the full name)."""
    return f"{last} {first}" if fmt == "canvas" else f"{first} {last}"


def pack(root: Path, fmt: str, assignment: str, learners: dict[str, tuple[str, str]],
         dest: Path) -> Packed:
    """Write ``<fmt>-feedback-<assignment>.zip`` into ``dest``: the feedback pages of each of
    ``learners`` (student id -> first and last name) for ``assignment``, named for ``fmt``'s
    upload. A
    learner with no page, or no ids on record, is in ``skipped`` with why. No zip is written
    when no learner can be packed (``path`` None)."""
    members: list[tuple[str, bytes]] = []
    packed, skipped = [], []
    for student in sorted(learners):
        label = f"{assignment}/{student}"
        found = pages(root, student, assignment)
        if not found:
            skipped.append(f"{label}: skipped, no feedback page in grading/feedback/ (run "
                           f"python -m autograder feedback {assignment})")
            continue
        ids, why = lms_ids(root, student, assignment, fmt)
        if ids is None:
            skipped.append(f"{label}: skipped, {why}")
            continue
        try:
            name = download_name(fmt, *learners[student])
            names = [member_name(fmt, name, ids, p.name) for p in found]
            if len(set(names)) != len(names):
                raise ValueError("two pages have the same name once made safe")
            members += list(zip(names, (read_page(p) for p in found), strict=True))
        except (OSError, ValueError) as err:
            skipped.append(f"{label}: skipped, {str(err)[:200]}")
            continue
        packed.append(student)
    if not members:
        return Packed(None, packed, skipped)
    dest.mkdir(parents=True, exist_ok=True)
    zip_name = f"{fmt}-feedback-{FILE_CHARS.sub('-', assignment)[:MAX_FILE]}.zip"
    return Packed(write_zip(dest / zip_name, members), packed, skipped)

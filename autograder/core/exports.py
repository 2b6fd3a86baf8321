"""Reading an inbox (a folder or an LMS zip export) as untrusted data, one member at a time.

A member is one regular file of the source: its path inside the source (NFC, as parts) and a
reader of its bytes that never reads past a limit. Nothing of the source is extracted under a
name it chose, followed when it is a link, or read before its size is known to be allowed:

* a folder is walked by directory descriptors, ``lstat`` first and every ``open`` with
  ``O_NOFOLLOW``: a symbolic link, a device, a FIFO or a socket is refused, never opened, and a
  file swapped for a link between the listing and the reading is refused too;
* a zip is read member by member straight from the archive: a member whose path is absolute or
  climbs with ``..``, or that is not a regular file (its ``external_attr`` says symbolic link,
  device, FIFO or socket), or is encrypted, is refused; the size it declares is checked before
  it is opened and the bytes it really gives are counted while streaming.

Hidden entries (``.name``, ``__MACOSX``) are left out, as the LMS and the operating system put
them there, not the learner.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import stat
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import AutograderError
from autograder.settings import Limits

CHUNK = 1 << 20  # bytes read at a time


@dataclass(frozen=True)
class ExportLimits:
    """How much ``collect`` reads from one source."""

    max_file_bytes: int = Limits().max_notebook_bytes  # one notebook (grading's own limit)
    max_total_bytes: int = 2 * 2**30  # all the notebooks of one source together
    max_depth: int = 16  # folders inside folders


class Refused(Exception):
    """One member is refused; the message says why in one line."""


class TooLarge(Refused):
    """A member is larger than the limit it was read with (``size``: at least this many)."""

    def __init__(self, size: int, declared: bool = False) -> None:
        self.size, self.declared = size, declared
        super().__init__(f"{'declares' if declared else 'holds at least'} {size} bytes")


Reader = Callable[[int], bytes]  # read at most ``limit`` bytes, else raise TooLarge


@dataclass(frozen=True)
class Member:
    """One entry of a source: a regular file with its reader, or a refusal (``problem``)."""

    parts: tuple[str, ...]
    read: Reader | None = None
    problem: str = ""

    @property
    def relative(self) -> str:
        return "/".join(self.parts)


def printable(text: str, limit: int = 160) -> str:
    """``text`` for a report line: control, format and separator characters escaped (so a
    name cannot start a line of its own or reorder one), at most ``limit`` characters."""
    out = "".join(c if unicodedata.category(c) not in {"Cc", "Cf", "Cs", "Zl", "Zp", "Co",
                                                      "Cn"} else f"\\u{ord(c):04x}"
                  for c in text)
    if len(out) > limit:
        keep = (limit - 1) // 2
        out = f"{out[:keep]}…{out[-keep:]}"
    return out


def read_bounded(stream: io.RawIOBase | io.BufferedIOBase, limit: int) -> bytes:
    """All of ``stream``, or TooLarge as soon as it gives more than ``limit`` bytes."""
    chunks, total = [], 0
    while True:
        chunk = stream.read(min(CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise TooLarge(total)
        chunks.append(chunk)


def _kind(mode: int) -> str:
    """What a non-regular file is, in words, with what ``collect`` does about it."""
    if stat.S_ISLNK(mode):
        return "a symbolic link: links are never followed; upload the notebook itself"
    for test, name in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return f"{name}, not a regular file"
    return "not a regular file"


def _hidden(name: str) -> bool:
    return name.startswith((".", "__MACOSX"))


def _nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


# -- folders ------------------------------------------------------------------------------------

_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _file_reader(dir_fd: int, name: str) -> Reader:
    """A reader of the regular file ``name`` of the folder ``dir_fd``, link-proof."""
    def read(limit: int) -> bytes:
        try:
            fd = os.open(name, _OPEN_FILE, dir_fd=dir_fd)
        except OSError as err:
            if err.errno == errno.ELOOP:
                raise Refused(_kind(stat.S_IFLNK)) from None
            raise Refused(f"cannot be read ({err.strerror})") from None
        with io.FileIO(fd, "rb", closefd=True) as stream:
            mode = os.fstat(fd)
            if not stat.S_ISREG(mode.st_mode):
                raise Refused(_kind(mode.st_mode))
            if mode.st_size > limit:
                raise TooLarge(mode.st_size)
            return read_bounded(stream, limit)
    return read


def _walk(dir_fd: int, parts: tuple[str, ...], limits: ExportLimits) -> Iterator[Member]:
    """The members under the open folder ``dir_fd`` (at ``parts``), in name order."""
    for name in sorted(os.listdir(dir_fd)):
        if _hidden(name):
            continue
        here = (*parts, _nfc(name))
        try:
            mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
        except OSError as err:
            yield Member(here, problem=f"cannot be read ({err.strerror})")
            continue
        if stat.S_ISREG(mode):
            yield Member(here, _file_reader(dir_fd, name))
        elif not stat.S_ISDIR(mode):
            yield Member(here, problem=_kind(mode))
        elif len(here) > limits.max_depth:
            yield Member(here, problem=f"folders nested more than {limits.max_depth} deep")
        else:
            try:
                sub = os.open(name, _OPEN_DIR, dir_fd=dir_fd)
            except OSError as err:
                yield Member(here, problem=f"cannot be read ({err.strerror})")
                continue
            try:
                yield from _walk(sub, here, limits)
            finally:
                os.close(sub)


@contextlib.contextmanager
def folder_members(source: Path, limits: ExportLimits) -> Iterator[Iterator[Member]]:
    """The members of the folder ``source`` (the instructor's own path may be a link)."""
    fd = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield _walk(fd, (), limits)
    finally:
        os.close(fd)


# -- zip files ----------------------------------------------------------------------------------

_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
               RuntimeError, ValueError)


def _zip_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its creator meant it: UTF-8 names of archives that do not set the
    UTF-8 flag (zipfile then reads them as cp437) are read as UTF-8."""
    name = info.filename
    if not info.flag_bits & 0x800 and not name.isascii():
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
            name = name.encode("cp437").decode("utf-8")
    return _nfc(name)


def _zip_parts(name: str) -> tuple[tuple[str, ...], str]:
    """(parts, problem) of a member's path; a path that leaves the archive is a problem."""
    flat = name.replace("\\", "/")
    if flat.startswith("/") or re.match(r"^[A-Za-z]:", flat):
        return (), "an absolute path in the archive"
    parts = tuple(p for p in flat.split("/") if p not in {"", "."})
    if ".." in parts:
        return (), "a path that climbs out of the archive with '..'"
    return parts, ""


def _zip_reader(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Reader:
    """A reader of one member: its declared size checked first, its real size counted."""
    def read(limit: int) -> bytes:
        if info.file_size > limit:
            raise TooLarge(info.file_size, declared=True)
        try:
            with zf.open(info) as stream:
                return read_bounded(stream, limit)
        except _ZIP_ERRORS as err:
            raise Refused(f"damaged in the archive ({type(err).__name__}: "
                          f"{str(err)[:80]})") from None
    return read


def _zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo,
                limits: ExportLimits) -> Member | None:
    """The member for ``info``, or None for a folder entry or a hidden file."""
    name = _zip_name(info)
    parts, problem = _zip_parts(name)
    if problem:
        return Member((name,), problem=problem)
    if not parts or any(_hidden(p) for p in parts):
        return None
    mode = info.external_attr >> 16
    if info.is_dir() or stat.S_ISDIR(mode):
        return None
    if stat.S_IFMT(mode) not in {0, stat.S_IFREG}:
        return Member(parts, problem=_kind(mode))
    if info.flag_bits & 0x1:
        return Member(parts, problem="encrypted in the archive")
    if len(parts) > limits.max_depth:
        return Member(parts, problem=f"folders nested more than {limits.max_depth} deep")
    return Member(parts, _zip_reader(zf, info))


@contextlib.contextmanager
def zip_members(source: Path, limits: ExportLimits) -> Iterator[Iterator[Member]]:
    """The members of the zip file ``source``, read from the archive, never extracted."""
    try:
        zf = zipfile.ZipFile(source)
    except _ZIP_ERRORS as err:
        raise AutograderError(f"{source}: not a readable zip file ({err}); download the "
                              "export again") from None
    with zf:
        yield (m for info in zf.infolist() if (m := _zip_member(zf, info, limits)) is not None)


def members(source: Path, limits: ExportLimits):
    """The members of ``source``, a folder or a zip file (a context manager). Read each
    member before asking for the next: a folder's reader needs its folder still open."""
    if source.is_dir():
        return folder_members(source, limits)
    if not source.is_file() or not zipfile.is_zipfile(source):
        raise AutograderError(f"{source}: not a zip file; give a folder or an LMS zip export")
    return zip_members(source, limits)

"""Files the autograder writes and fingerprints: one way to replace a file whole, one hash.

A reader of a file that :func:`atomic_write` replaces sees the old content or the new, never
a part: the new content goes to a temporary file beside the target (same folder, so same file
system), which ``os.replace`` then renames over it. A writer stopped half-way leaves only its
temporary file, ``.<name>.<random>.part``, which no reader looks at.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable
from pathlib import Path


def atomic_write(path: Path, data: bytes | str) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) in one step for any reader.

    The file gets the permissions ``open`` gives a new file (the umask applies)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sha256(data: bytes) -> str:
    """The SHA-256 of ``data``, in hexadecimal."""
    return hashlib.sha256(data).hexdigest()


def files_sha256(base: Path, paths: Iterable[Path]) -> str:
    """The SHA-256 of the files ``paths`` (under ``base``), names and contents, in hexadecimal.

    Each file counts with its path relative to ``base`` and its bytes, separated so that no
    two different sets of files hash alike (moving bytes from one file's end to the next
    file's name changes the hash). The order of ``paths`` does not matter.
    """
    h = hashlib.sha256()
    for path in sorted(paths):
        name = path.relative_to(base).as_posix().encode("utf-8", "surrogateescape")
        data = path.read_bytes()
        h.update(b"%d:%s%d:" % (len(name), name, len(data)))
        h.update(data)
    return h.hexdigest()

"""The learner's own workspace: copies of the assignments and chapters that no tool overwrites.

``python -m rnncourse.workspace create`` (run at the repository's root) makes ``work/``, a
git-ignored folder holding a copy of every assignment of ``exercises/`` and every chapter of
``book/`` (a MyST Markdown notebook, which JupyterLab opens as a notebook through jupytext), in
the same layout, so that an assignment's links to its chapters work there too. The learner
works there. Nothing else writes in ``work/``: ``git pull`` updates ``exercises/`` and ``book/`` and
never conflicts with ``work/`` (git ignores it), and nbgrader's Formgrader "Generate" (the
``release`` of an assignment) writes ``exercises/``, never ``work/``.

``work/.base/`` keeps the course's version each learner file came from. After a ``git pull``,
``python -m rnncourse.workspace update`` brings the course's changes into the learner's copies
by a three-way merge per cell, cells matched by their nbgrader ``grade_id`` (assignments), else
by their id, else by position and content (chapters):

- a cell only the course changed takes the course's new version;
- a cell only the learner changed (an answer) keeps the learner's;
- a cell both changed keeps the learner's, the course's new notebook is saved beside it
  (``<name>.course-new.ipynb``, ``<page>.course-new.md``), and one line names the cell;
- a cell the course removed goes, unless the learner changed it (then it stays, and a line
  says so); a cell the learner added stays where it was.

It never writes a file it cannot merge (a learner notebook that is not valid notebook JSON, a
symbolic link): it leaves it as it is and says why. Every write is atomic (a temporary file in
the same folder, then a rename), and nothing is written through a symbolic link.
``python -m rnncourse.workspace status`` lists what differs from the course.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import hashlib
import json
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

WORK = "work"
BASE = ".base"
NEW_SUFFIX = ".course-new"
Notebook = dict


class WorkspaceError(Exception):
    """A problem the learner can fix (the message says how)."""


# --------------------------------------------------------------------------------------------
# Safe reading and writing inside work/
# --------------------------------------------------------------------------------------------

def _inside(root: Path, path: Path) -> None:
    """Refuse ``path`` unless every component from ``root`` down is a real folder or file (no
    symbolic link): a link in ``work/`` could point anywhere on the disk."""
    if root.is_symlink():
        raise WorkspaceError(f"{root} is a symbolic link: the workspace must be a real folder "
                             "(remove the link and run `create`).")
    rel = path.relative_to(root)
    here = root
    for part in rel.parts:
        here = here / part
        if here.is_symlink():
            raise WorkspaceError(f"{here} is a symbolic link: left as it is (the workspace "
                                 "never writes through a link; replace it with a real file).")


def read_bytes(root: Path, path: Path) -> bytes:
    """The bytes of ``path`` under ``root``, never through a symbolic link."""
    _inside(root, path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        return f.read()


def write_atomic(root: Path, path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` under ``root`` at once: a temporary file beside it, then a
    rename (a reader sees the old file or the new one, never half of one)."""
    _inside(root, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _inside(root, path)  # the folders just made, or found, are real ones
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------------
# The course's files
# --------------------------------------------------------------------------------------------

def is_chapter(rel: str) -> bool:
    """Whether the work-relative path ``rel`` is a chapter (a MyST Markdown notebook)."""
    return rel.startswith("book/") and rel.endswith(".md")


def _jupytext_config(path: Path | None):
    """The jupytext configuration JupyterLab uses for the file ``path`` (the course's
    ``jupytext.toml`` above it), or None."""
    from jupytext.config import load_jupytext_config

    return load_jupytext_config(str(path)) if path is not None else None


def chapter_notebook(md_text: str, path: Path | None = None) -> Notebook:
    """A chapter (MyST Markdown notebook) as notebook JSON, read as JupyterLab reads the file
    ``path``, without cell ids (Markdown keeps none: its cells are matched by position and
    content)."""
    import jupytext
    import nbformat

    nb = nbformat.from_dict(jupytext.reads(md_text, fmt="md:myst",
                                           config=_jupytext_config(path)))
    for cell in nb["cells"]:
        cell.pop("id", None)
    nb["nbformat_minor"] = min(nb.get("nbformat_minor", 4), 4)
    return nb


def chapter_text(nb: Notebook, path: Path | None = None) -> bytes:
    """A merged chapter back in MyST Markdown, as jupytext writes it in JupyterLab for the
    file ``path`` (with the course's ``jupytext.toml`` above it, if any)."""
    import jupytext
    import nbformat

    node = nbformat.from_dict(nb)  # keeps the order of the metadata's keys, as read
    for cell in node.cells:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    return jupytext.writes(node, fmt="md:myst", config=_jupytext_config(path)).encode()


def course_files(course: Path) -> dict[str, bytes]:
    """The learner's files of the course: work-relative path -> content (the assignments of
    ``exercises/`` and the chapters of ``book/``, as they are)."""
    files: dict[str, bytes] = {}
    exercises, book = course / "exercises", course / "book"
    if not exercises.is_dir() or not book.is_dir():
        raise WorkspaceError(f"{course} holds no exercises/ and book/: run this command at the "
                             "root of the course's repository (or pass --course DIR).")
    for path in sorted(exercises.rglob("*")):
        if path.is_file() and ".ipynb_checkpoints" not in path.parts:
            files[str(Path("exercises") / path.relative_to(exercises))] = path.read_bytes()
    for path in sorted(book.rglob("*.md")):
        if ".ipynb_checkpoints" in path.parts:  # Lab's copies, where Lab ran in the course
            continue
        text = path.read_text(encoding="utf-8")
        if text.startswith("---") and "\njupytext:" in text.split("\n---", 1)[0]:
            files[str(Path("book") / path.relative_to(book))] = path.read_bytes()
    return files


def dumps(nb: Notebook) -> bytes:
    """Notebook JSON as Jupyter writes it (one space indent, a final newline)."""
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def load_notebook(data: bytes, where: str) -> Notebook:
    """Parse and validate notebook JSON; a ``WorkspaceError`` naming ``where`` otherwise."""
    import nbformat

    try:
        nb = json.loads(data.decode("utf-8"))
        if not isinstance(nb, dict):
            raise ValueError(f"a JSON {type(nb).__name__}, not a notebook's object")
        nbformat.validate(nbformat.from_dict(nb))
    except (ValueError, nbformat.ValidationError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise WorkspaceError(f"{where} is not a valid notebook ({first[:200]}): left as it "
                             "is; repair it (or delete it to get the course's copy) and run "
                             "`update` again.") from None
    if nb.get("nbformat") != 4:
        raise WorkspaceError(f"{where} is a version {nb.get('nbformat')} notebook: left as "
                             "it is (the course's are version 4).")
    return nb


# --------------------------------------------------------------------------------------------
# The three-way merge of one notebook
# --------------------------------------------------------------------------------------------

def _grade_id(cell: dict) -> str | None:
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return gid if isinstance(gid, str) else None


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _text(cell: dict) -> tuple[str, str]:
    """What a learner or author changes in a cell: its type and its source."""
    return cell.get("cell_type", ""), _source(cell)


def _label(cell: dict, index: int) -> str:
    gid = _grade_id(cell)
    if gid:
        return f"cell {gid!r}"
    first = next((line.strip() for line in _source(cell).splitlines() if line.strip()), "")
    return f"cell {index + 1} ({first[:50]!r})" if first else f"cell {index + 1}"


def match_cells(base: Sequence[dict], other: Sequence[dict], by_id: bool) -> dict[int, int]:
    """Which cell of ``other`` is which cell of ``base``: index in base -> index in other.

    By nbgrader ``grade_id`` first, then (``by_id``) by cell id, then the cells left are
    aligned by position and content (``difflib``: equal sources pair up, and so do the cells
    of a changed stretch of the same length, in order)."""
    pairs: dict[int, int] = {}
    keys = [("grade", _grade_id)] + ([("id", lambda c: c.get("id"))] if by_id else [])
    for _, key in keys:
        index = {}
        for j, c in enumerate(other):
            if j not in pairs.values() and key(c) is not None:
                index.setdefault(key(c), j)
        for i, c in enumerate(base):
            j = index.get(key(c)) if key(c) is not None else None
            if i not in pairs and j is not None and j not in pairs.values():
                pairs[i] = j
    rest_b = [i for i in range(len(base)) if i not in pairs]
    used = set(pairs.values())
    rest_o = [j for j in range(len(other)) if j not in used]
    sm = difflib.SequenceMatcher(a=[_text(base[i]) for i in rest_b],
                                 b=[_text(other[j]) for j in rest_o], autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for a, b in zip(range(i1, i2), range(j1, j2), strict=True):
                pairs[rest_b[a]] = rest_o[b]
    return pairs


@dataclass
class Merge:
    """The merged notebook, and one line per cell that needs the learner's attention."""
    notebook: Notebook
    base: Notebook
    conflicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def merge_notebook(base: Notebook, mine: Notebook, new: Notebook) -> Merge:
    """Three-way merge per cell of the learner's notebook ``mine`` (made from ``base``) with
    the course's ``new`` version (see the module's docstring for the rules). Also returns the
    new base: ``new`` with each cell's id set to the id of the merged cell it stands for, so
    that the next update matches them by id."""
    b_cells, m_cells, n_cells = base["cells"], mine["cells"], new["cells"]
    b_to_m = match_cells(b_cells, m_cells, by_id=True)
    b_to_n = match_cells(b_cells, n_cells, by_id=False)
    n_to_b = {j: i for i, j in b_to_n.items()}
    m_to_b = {j: i for i, j in b_to_m.items()}
    out: list[dict] = []
    new_base = copy.deepcopy(new)
    result = Merge(notebook={}, base=new_base)
    # the learner's cells that follow each emitted learner cell (their own, or kept ones)
    followers: dict[int | None, list[int]] = {}
    anchor: int | None = None
    emitted_mine: set[int] = set()
    for j, cell in enumerate(m_cells):
        i = m_to_b.get(j)
        if i is not None and i in b_to_n:
            anchor = j
            continue
        if i is not None and _text(cell) == _text(b_cells[i]):
            continue  # the course removed it and the learner had not changed it: it goes
        if i is not None:
            result.notes.append(f"{_label(cell, j)}: the course removed it; you had changed "
                                "it, so yours is kept.")
        followers.setdefault(anchor, []).append(j)

    def emit_followers(key: int | None) -> None:
        for j in followers.get(key, []):
            out.append(m_cells[j])
            emitted_mine.add(j)

    emit_followers(None)
    for k, n_cell in enumerate(n_cells):
        i = n_to_b.get(k)
        j = b_to_m.get(i) if i is not None else None
        if i is None:  # new in the course
            out.append(copy.deepcopy(n_cell))
            continue
        b_cell = b_cells[i]
        course_changed = _text(n_cell) != _text(b_cell)
        if j is None:  # the learner deleted it
            if course_changed:
                result.conflicts.append(f"{_label(n_cell, k)}: you deleted it and the course "
                                        "changed it; the course's version is in the "
                                        f"{NEW_SUFFIX} notebook beside yours.")
            continue
        m_cell = m_cells[j]
        mine_changed = _text(m_cell) != _text(b_cell)
        if course_changed and not mine_changed:
            merged = copy.deepcopy(n_cell)
            if "id" in m_cell:
                merged["id"] = m_cell["id"]
        else:
            merged = m_cell
            if course_changed:
                result.conflicts.append(f"{_label(n_cell, k)}: you and the course both "
                                        "changed it; yours is kept, the course's version is "
                                        f"in the {NEW_SUFFIX} notebook beside yours.")
            elif "metadata" in n_cell and not mine_changed:
                merged = {**m_cell, "metadata": copy.deepcopy(n_cell["metadata"])}
        out.append(merged)
        emitted_mine.add(j)
        if "id" in merged:
            new_base["cells"][k]["id"] = merged["id"]
        emit_followers(j)
    for j in range(len(m_cells)):  # any the order above left out (their anchor went)
        if j not in emitted_mine and any(j in v for v in followers.values()):
            out.append(m_cells[j])
    _unique_ids(out)
    meta = mine.get("metadata", {}) if new.get("metadata") == base.get("metadata") else new.get(
        "metadata", {})
    result.notebook = {**mine, "metadata": copy.deepcopy(meta), "cells": out,
                       "nbformat": new["nbformat"], "nbformat_minor": new["nbformat_minor"]}
    return result


def _unique_ids(cells: list[dict]) -> None:
    """Give a fresh id to a cell whose id another cell already has (nbformat 4.5 forbids
    duplicates)."""
    seen: set[str] = set()
    for cell in cells:
        cid = cell.get("id")
        if cid is None:
            continue
        if cid in seen:
            cell["id"] = cid = uuid.uuid4().hex[:8]
        seen.add(cid)


# --------------------------------------------------------------------------------------------
# The commands
# --------------------------------------------------------------------------------------------

def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _beside(rel: str) -> str:
    p = Path(rel)
    return str(p.with_name(p.stem + NEW_SUFFIX + p.suffix))


def _learner_files(work: Path) -> Iterator[str]:
    for path in sorted(work.rglob("*")):
        rel = path.relative_to(work)
        if rel.parts and rel.parts[0] != BASE and (path.is_file() or path.is_symlink()):
            yield str(rel)


def create(course: Path, work: Path | None = None) -> list[str]:
    """Make ``work/`` from the course: every file a learner does not have yet is copied, with
    its base. An existing learner file is never touched. Returns one line per file copied."""
    work = work or course / WORK
    files = course_files(course)
    if work.is_symlink():
        _inside(work, work)
    lines: list[str] = []
    for rel, data in files.items():
        target = work / rel
        try:
            _inside(work, target)
            if target.exists():
                continue
            write_atomic(work, work / BASE / rel, data)
            write_atomic(work, target, data)
        except WorkspaceError as err:
            lines.append(str(err))
            continue
        lines.append(f"copied {rel}")
    if not lines:
        lines.append(f"{work} already holds every file of the course (run `update` after a "
                     "`git pull`).")
    return lines


def update(course: Path, work: Path | None = None) -> list[str]:
    """Bring the course's current files into ``work/`` without losing the learner's work.
    Returns one line per file changed or needing attention."""
    work = work or course / WORK
    if not (work / BASE).is_dir():
        raise WorkspaceError(f"{work} has no {BASE}/: run `create` first.")
    lines: list[str] = []
    files = course_files(course)
    for rel, new_data in files.items():
        try:
            lines += _update_file(work, rel, new_data)
        except WorkspaceError as err:
            lines.append(str(err))
    for rel in _learner_files(work):
        base = work / BASE / rel
        if rel not in files and base.is_file() and not base.is_symlink():
            lines.append(f"{rel}: the course no longer has this file; yours is left as it is.")
    return lines


def _update_file(work: Path, rel: str, new_data: bytes) -> list[str]:
    target, base_path = work / rel, work / BASE / rel
    _inside(work, target)
    _inside(work, base_path)
    if not base_path.exists() and not target.exists():
        write_atomic(work, base_path, new_data)
        write_atomic(work, target, new_data)
        return [f"{rel}: new in the course, copied."]
    if not target.exists():
        return [f"{rel}: you deleted it; delete {BASE}/{rel} too and run `create` to get the "
                "course's copy."]
    mine_data = read_bytes(work, target)
    base_data = read_bytes(work, base_path) if base_path.exists() else b""
    if same_course(new_data, base_data):
        return []
    if mine_data == base_data or mine_data == new_data:
        write_atomic(work, target, new_data)
        write_atomic(work, base_path, new_data)
        return [f"{rel}: updated to the course's new version."]
    if not (rel.endswith(".ipynb") or is_chapter(rel)) or not base_data:
        write_atomic(work, work / _beside(rel), new_data)
        return [f"{rel}: you and the course both changed it; yours is kept, the course's is "
                f"{_beside(rel)}."]
    def load(data: bytes, where: str) -> Notebook:
        return _load_chapter(data, where, target) if is_chapter(rel) else load_notebook(
            data, where)

    mine = load(mine_data, str(Path(work.name) / rel))
    merged = merge_notebook(load(base_data, f"{work.name}/{BASE}/{rel}"), mine,
                            load(new_data, f"the course's {rel}"))
    if merged.conflicts:
        write_atomic(work, work / _beside(rel), new_data)
    if is_chapter(rel):
        write_atomic(work, target, chapter_text(merged.notebook, target))
        write_atomic(work, base_path, new_data)
    else:
        write_atomic(work, target, dumps(merged.notebook))
        write_atomic(work, base_path, dumps(merged.base))
    lines = [f"{rel}: merged the course's update."]
    lines += [f"{rel}: {line}" for line in merged.notes + merged.conflicts]
    return lines


def _without_ids(data: bytes) -> object:
    try:
        nb = json.loads(data.decode("utf-8"))
    except ValueError:
        return None
    for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
        if isinstance(cell, dict):
            cell.pop("id", None)
    return nb


def same_course(new_data: bytes, base_data: bytes) -> bool:
    """Whether the course's file is still its base: the same bytes, or, for a notebook, the
    same notebook but for the cell ids (the base keeps the ids of the learner's cells)."""
    if new_data == base_data:
        return True
    nb = _without_ids(new_data)
    return nb is not None and nb == _without_ids(base_data)


def _load_chapter(data: bytes, where: str, path: Path | None = None) -> Notebook:
    """A chapter's cells (see :func:`chapter_notebook`); a ``WorkspaceError`` naming ``where``
    when it is not UTF-8 text."""
    try:
        return chapter_notebook(data.decode("utf-8"), path)
    except ValueError as err:
        raise WorkspaceError(f"{where} is not a readable chapter ({str(err)[:200]}): left as "
                             "it is; repair it (or delete it to get the course's copy) and run "
                             "`update` again.") from None


def status(course: Path, work: Path | None = None) -> list[str]:
    """One line per learner file that differs from its base or from the course."""
    work = work or course / WORK
    if not (work / BASE).is_dir():
        return [f"no workspace at {work}: run `python -m rnncourse.workspace create`."]
    files = course_files(course)
    lines = []
    for rel, new_data in files.items():
        target, base_path = work / rel, work / BASE / rel
        if target.is_symlink():
            lines.append(f"{rel}: a symbolic link (the workspace leaves it alone)")
            continue
        if not target.exists():
            lines.append(f"{rel}: missing (`create` copies it)")
            continue
        base_data = base_path.read_bytes() if base_path.is_file() else b""
        mine = _digest(read_bytes(work, target))
        what = [] if mine == _digest(base_data) else ["edited by you"]
        if not same_course(new_data, base_data):
            what.append("the course has an update (run `update`)")
        if (work / _beside(rel)).exists():
            what.append(f"the course's version waits in {_beside(rel)}")
        if what:
            lines.append(f"{rel}: {', '.join(what)}")
    return lines or ["every file is as the course has it."]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rnncourse.workspace [create|update|status] [--course DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m rnncourse.workspace",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("create", "update", "status"), nargs="?",
                        default="status")
    parser.add_argument("--course", type=Path, default=Path.cwd(),
                        help="the course's repository (default: the current folder)")
    args = parser.parse_args(argv)
    command = {"create": create, "update": update, "status": status}[args.command]
    try:
        for line in command(args.course.resolve()):
            print(line)
    except WorkspaceError as err:
        print(f"WorkspaceError: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

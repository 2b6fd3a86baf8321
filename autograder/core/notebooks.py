"""Reading notebooks and matching a learner's notebook to its assignment."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

from autograder.core.course import assignments, source_notebook
from autograder.errors import UnknownAssignment, UnreadableNotebook
from autograder.settings import Limits

MAX_NOTEBOOK_BYTES = Limits().max_notebook_bytes
CELL_TYPES = ("code", "markdown", "raw")
NBGRADER_TYPES = {"grade_id": str, "grade": bool, "solution": bool, "locked": bool,
                  "task": bool, "schema_version": int, "points": (int, float),
                  "checksum": str, "cell_type": str}


def _text(value) -> str | None:
    """A cell's source as one string, or None when it is neither a string nor a list of them."""
    if type(value) is str:
        return value
    if type(value) is list and all(type(v) is str for v in value):
        return "".join(value)
    return None


def _nbgrader_meta(meta) -> tuple[dict | None, str]:
    """The nbgrader metadata if every field has its exact type; else None and why."""
    if meta is None:
        return None, ""
    if type(meta) is not dict:
        return None, f"nbgrader metadata is a {type(meta).__name__}"
    for key, value in meta.items():
        kind = NBGRADER_TYPES.get(key)
        if kind is None:
            continue
        if type(value) is bool and kind is not bool or not isinstance(value, kind):
            return None, f"nbgrader field {key!r} is a {type(value).__name__}"
    return dict(meta), ""


def clean_notebook(raw, limits: Limits | None = None
                   ) -> tuple[nbformat.NotebookNode, list[str]]:
    """A well-formed notebook built from untrusted JSON, and what was dropped.

    Raises UnreadableNotebook (the submission is then graded as blank) when the JSON is not a
    notebook, has a cell that is not an object or whose text is not text, or has more or
    longer cells than the limits. Malformed nbgrader metadata of a cell is dropped (the cell
    is then matched to the assignment by its content) and noted.
    """
    limits = limits or Limits()
    if type(raw) is not dict or type(raw.get("cells")) is not list:
        raise UnreadableNotebook("not a Jupyter notebook (it has no list of cells)")
    if len(raw["cells"]) > limits.max_cells:
        raise UnreadableNotebook(f"{len(raw['cells'])} cells, more than the "
                                 f"{limits.max_cells} a notebook may have")
    nb = nbformat.v4.new_notebook()
    notes = []
    for k, cell in enumerate(raw["cells"]):
        if type(cell) is not dict or cell.get("cell_type") not in CELL_TYPES:
            raise UnreadableNotebook(f"cell {k} is not a notebook cell")
        source = _text(cell.get("source", ""))
        if source is None:
            raise UnreadableNotebook(f"the text of cell {k} is not text")
        if len(source) > limits.max_cell_chars:
            raise UnreadableNotebook(f"cell {k} holds {len(source)} characters, more than "
                                     f"the {limits.max_cell_chars} a cell may hold")
        meta = cell.get("metadata") if type(cell.get("metadata")) is dict else {}
        clean_meta = {}
        nbg, why = _nbgrader_meta(meta.get("nbgrader"))
        if nbg is not None:
            clean_meta["nbgrader"] = nbg
        elif why:
            notes.append(f"dropped the malformed nbgrader metadata of cell {k} ({why}); "
                         "matched it by its content")
        tags = meta.get("tags")
        if type(tags) is list and all(type(t) is str for t in tags):
            clean_meta["tags"] = tags
        make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
                "raw": nbformat.v4.new_raw_cell}[cell["cell_type"]]
        new = make(source, metadata=clean_meta)
        if type(cell.get("id")) is str and 0 < len(cell["id"]) <= 64:
            new["id"] = cell["id"]
        nb.cells.append(new)
    kernelspec = raw.get("metadata", {}).get("kernelspec") if type(raw.get("metadata")) is \
        dict else None
    if type(kernelspec) is dict:
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
    return nb, notes


def read_notebook(path: Path, limits: Limits | None = None) -> nbformat.NotebookNode:
    """Read a notebook, or raise UnreadableNotebook saying in one line what is wrong."""
    nb, _ = read_submission(path, limits)
    return nb


def read_submission(path: Path, limits: Limits | None = None
                    ) -> tuple[nbformat.NotebookNode, list[str]]:
    """Read a learner's notebook as untrusted input: (clean notebook, notes)."""
    limits = limits or Limits()
    if not path.is_file() or path.is_symlink():
        raise UnreadableNotebook(f"{path.name}: no such file")
    if path.stat().st_size > limits.max_notebook_bytes:
        raise UnreadableNotebook(f"{path.name}: {path.stat().st_size} bytes, more than the "
                                 f"{limits.max_notebook_bytes} a notebook may have")
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise UnreadableNotebook(f"{path.name}: not a Jupyter notebook (invalid JSON: "
                                 f"{str(err)[:120]})") from None
    try:
        return clean_notebook(raw, limits)
    except UnreadableNotebook as err:
        raise UnreadableNotebook(f"{path.name}: {err}") from None


def grade_ids(nb: nbformat.NotebookNode) -> set[str]:
    """The nbgrader cell ids a notebook carries."""
    ids = set()
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id"):
            ids.add(meta["grade_id"])
    return ids


def match_assignment(root: Path, path: Path, nb: nbformat.NotebookNode) -> str:
    """Find the assignment a learner's notebook belongs to.

    First by file name (``rnn_forward.ipynb``, also ``rnn_forward (1).ipynb`` or
    ``rnn_forward-Copy1.ipynb``), then by the nbgrader cell ids the notebook carries.
    """
    known = assignments(root)
    stem = re.sub(r"(\s*\(\d+\)|-Copy\d*|_copy\d*)$", "", path.stem, flags=re.IGNORECASE)
    for name in known:
        if stem == source_notebook(root, name).stem or stem == name:
            return name
    ids = grade_ids(nb) if nb is not None else set()
    overlap = {name: len(ids & grade_ids(read_notebook(source_notebook(root, name))))
               for name in known}
    best = max(overlap, key=overlap.get, default=None)
    if best is not None and overlap[best] > 0:
        return best
    raise UnknownAssignment(
        f"{path.name}: cannot tell which assignment this is (known: {', '.join(known)}); "
        "name the file after its assignment or pass --assignment NAME"
    )

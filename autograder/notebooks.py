"""Reading notebooks and matching a learner's notebook to its assignment."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

from autograder.course import assignments, source_notebook
from autograder.errors import UnknownAssignment, UnreadableNotebook


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook, or raise UnreadableNotebook saying what is wrong with the file."""
    if not path.is_file():
        raise UnreadableNotebook(f"{path}: no such file")
    try:
        nb = nbformat.read(path, as_version=4)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UnreadableNotebook(f"{path}: not a Jupyter notebook (invalid JSON: {err})") from err
    except Exception as err:  # nbformat raises several types for malformed files
        raise UnreadableNotebook(f"{path}: not a Jupyter notebook ({err})") from err
    if not isinstance(nb.get("cells"), list):
        raise UnreadableNotebook(f"{path}: not a Jupyter notebook (it has no cells)")
    return nb


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
    ids = grade_ids(nb)
    overlap = {name: len(ids & grade_ids(read_notebook(source_notebook(root, name))))
               for name in known}
    best = max(overlap, key=overlap.get, default=None)
    if best is not None and overlap[best] > 0:
        return best
    raise UnknownAssignment(
        f"{path.name}: cannot tell which assignment this is (known: {', '.join(known)}); "
        "name the file after its assignment or pass --assignment NAME"
    )

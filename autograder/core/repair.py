"""Put a damaged submission back into the shape of its release before nbgrader grades it.

Learners delete, duplicate, reorder and retype cells, edit locked ones, and some editors
(Colab, VS Code) strip the nbgrader metadata. nbgrader's OverwriteCells restores the source of
test and locked cells only when it can find them by their ``grade_id``, and grades nothing for
a cell it cannot find. So before grading we rebuild the notebook in the release's order:

1. match each learner cell to a release cell: by ``grade_id`` when the metadata is there, else
   by content (the first line of an answer cell, e.g. its ``def``; the whole text otherwise);
2. keep the learner's text of answer cells (with the release's metadata and cell type), and
   the release's text of locked and test cells (nbgrader restores the hidden tests later);
3. put back nbgrader cells that are missing, drop duplicates, keep plain cells as the learner
   left them and any extra learner cells (helpers) in their place.

Every change is described in one line; the list is the ``repairs`` of a result.
"""

from __future__ import annotations

import copy
import difflib
import time

import nbformat

MATCH_THRESHOLD = 0.6
COMPARED_CHARS = 2_000  # cells are compared on their first characters: bounded work


class RepairTimeout(Exception):
    """Matching the cells took longer than the time allowed (a pathological notebook)."""


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _gid(cell) -> str | None:
    return _meta(cell).get("grade_id")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line.strip()
    return ""


def _similarity(student, release) -> float:
    a, b = student.get("source", ""), release.get("source", "")
    if _meta(release).get("solution") and not _meta(release).get("grade"):
        a, b = _first_line(a), _first_line(b)  # the stub's body was replaced: compare the def
    a, b = a[:COMPARED_CHARS], b[:COMPARED_CHARS]
    if not a.strip() or not b.strip():
        return 0.0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < MATCH_THRESHOLD or matcher.quick_ratio() < MATCH_THRESHOLD:
        return 0.0
    return matcher.ratio()


def _match(cells, release_cells, repairs, deadline: float) -> dict[int, int]:
    """Map learner cell index -> release cell index."""
    by_id = {_gid(c): i for i, c in enumerate(release_cells) if _gid(c)}
    matched: dict[int, int] = {}
    taken: dict[int, int] = {}
    for i, cell in enumerate(cells):
        j = by_id.get(_gid(cell))
        if j is None:
            continue
        if j in taken:
            repairs.append(f"dropped a duplicate of cell {_gid(cell)!r}")
            matched[i] = -1
            continue
        matched[i], taken[j] = j, i
    # Cells without (known) metadata: best content match among release cells still free.
    pairs = []
    for i in range(len(cells)):
        if time.monotonic() > deadline:
            raise RepairTimeout
        if i not in matched:
            pairs += [(_similarity(cells[i], release_cells[j]), i, j)
                      for j in range(len(release_cells)) if j not in taken]
    pairs.sort(reverse=True)
    stripped = 0
    for ratio, i, j in pairs:
        if ratio < MATCH_THRESHOLD or i in matched or j in taken:
            continue
        matched[i], taken[j] = j, i
        stripped += bool(_gid(release_cells[j]))  # plain cells carry no metadata anyway
    if stripped:
        repairs.append(f"restored the nbgrader metadata of {stripped} cell(s), matched by "
                       "content (an editor such as Colab or VS Code had stripped it)")
    return matched


def repair(nb: nbformat.NotebookNode, release: nbformat.NotebookNode,
           source: nbformat.NotebookNode | None = None, deadline: float = float("inf"),
           published: dict[str, str] | None = None
           ) -> tuple[nbformat.NotebookNode, list[str]]:
    """The submission rebuilt on the release's cells, and the list of repairs made.

    ``source`` (the solution notebook) only serves to recognise an unedited test cell that
    still holds its hidden tests, as the source itself does; ``published`` (grade_id -> text,
    ``core.learners_notebook.published_sources``) an unedited cell of a notebook from the
    learners' tree, whose tests run on the grading service. Raises RepairTimeout after
    ``deadline`` (``time.monotonic()``).
    """
    repairs: list[str] = []
    originals = {_gid(c): c.source for c in (source.cells if source else []) if _gid(c)}
    cells = list(nb.get("cells", []))
    rel = release.cells
    matched = _match(cells, rel, repairs, deadline)
    by_release = {j: i for i, j in matched.items() if j >= 0}
    order = [j for i, j in sorted(matched.items()) if j >= 0]
    if order != sorted(order):
        repairs.append("put the cells back in the assignment's order")

    extras_after: dict[int, list] = {}  # release index (or -1) -> extra learner cells after it
    last = -1
    for i, cell in enumerate(cells):
        if i in matched:
            last = max(last, matched[i])
        elif cell.get("source", "").strip():
            extras_after.setdefault(last, []).append(cell)

    out = []
    for extra in extras_after.get(-1, []):
        out.append(_plain(extra))
    for j, rcell in enumerate(rel):
        name = _gid(rcell) or f"#{j}"
        meta = _meta(rcell)
        fixed = copy.deepcopy(rcell)
        i = by_release.get(j)
        if not any(meta.get(k) for k in ("solution", "grade", "locked")):
            if i is not None:  # a plain cell of the release: the learner's version, as it is
                out.append(_plain(cells[i]))
            out.extend(_plain(extra) for extra in extras_after.get(j, []))
            continue
        if i is None:
            what = "answer" if meta.get("solution") else "test" if meta.get("grade") else "locked"
            repairs.append(f"restored the deleted {what} cell {name!r}")
        else:
            cell = cells[i]
            if cell.get("cell_type") != rcell.cell_type:
                repairs.append(f"changed cell {name!r} back from {cell.get('cell_type')} "
                               f"to {rcell.cell_type}")
            if meta.get("solution") and not meta.get("locked"):
                fixed.source = cell.get("source", "")
            elif cell.get("source", "") not in (rcell.source, originals.get(_gid(rcell)),
                                                (published or {}).get(_gid(rcell))):
                kind = "test" if meta.get("grade") else "locked"
                repairs.append(f"restored the edited {kind} cell {name!r} from the source")
        out.append(fixed)
        out.extend(_plain(extra) for extra in extras_after.get(j, []))
    seen: set[str] = set()
    for k, cell in enumerate(out):  # nbformat wants unique cell ids
        if "id" in cell and cell["id"] in seen:
            cell["id"] = f"repaired-{k}"
        seen.add(cell.get("id", ""))
    fixed_nb = copy.deepcopy(release)
    fixed_nb.cells = out
    return fixed_nb, repairs


def _plain(cell):
    """An extra learner cell, kept as it is but without nbgrader metadata."""
    cell = copy.deepcopy(cell)
    cell.get("metadata", {}).pop("nbgrader", None)
    if cell.get("cell_type") == "code":
        cell["outputs"], cell["execution_count"] = [], None
    return cell

"""Where each cell of an assignment runs, read from its *source* notebook (never the learner's).

* ``GRADER``: test cells (nbgrader grade cells that are not answers) and cells tagged
  ``settings.GRADER_TAG`` run in the grader's trusted namespace only. The learner's kernel
  never receives their source.
* ``BOTH``: other locked code cells (the imports every part needs) run in both.
* ``NOT_GRADED``: cells tagged ``settings.NOT_GRADED_TAG`` (a demonstration, a long training
  run) run only when the learner runs the notebook; grading skips them.
* ``LEARNER``: everything else (answers, the learner's own cells) runs in the learner's
  sandboxed kernel only.

The *contract* is the set of names the answer cells define at top level (functions, classes,
variables): in the grader's namespace each is a proxy that calls the learner's kernel, with
the signature the source notebook gives the function (so a test's message names an argument
as the assignment does).
"""

from __future__ import annotations

import ast
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path

from autograder.settings import DEFAULT_KERNEL_PACKAGES, GRADER_TAG, NOT_GRADED_TAG

LEARNER, BOTH, GRADER, NOT_GRADED = "learner", "both", "grader", "not-graded"


@dataclass
class Plan:
    """The roles of an assignment's cells (by grade_id) and its contract."""

    roles: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # grader-side cells' source text
    contract: list[str] = field(default_factory=list)
    signatures: dict[str, inspect.Signature] = field(default_factory=dict)
    kernel_packages: tuple[str, ...] = DEFAULT_KERNEL_PACKAGES

    def role(self, cell) -> str:
        if cell.get("cell_type") != "code":
            return LEARNER
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        return self.roles.get(gid, LEARNER) if isinstance(gid, str) else LEARNER


def _defined_names(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> inspect.Signature:
    """The parameters of a function of the source notebook, by name and kind (no defaults)."""
    a = node.args
    P = inspect.Parameter
    params = [P(x.arg, P.POSITIONAL_ONLY) for x in a.posonlyargs]
    params += [P(x.arg, P.POSITIONAL_OR_KEYWORD) for x in a.args]
    if a.vararg:
        params.append(P(a.vararg.arg, P.VAR_POSITIONAL))
    params += [P(x.arg, P.KEYWORD_ONLY) for x in a.kwonlyargs]
    if a.kwarg:
        params.append(P(a.kwarg.arg, P.VAR_KEYWORD))
    return inspect.Signature(params)


def _signatures(source: str) -> dict[str, inspect.Signature]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    return {node.name: _signature(node) for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def plan_of(source_notebook: Path) -> Plan:
    """The plan of the assignment whose source notebook is ``source_notebook``."""
    nb = json.loads(Path(source_notebook).read_text(encoding="utf-8"))
    plan = Plan()
    packages = nb.get("metadata", {}).get("rnncourse", {}).get("kernel_packages")
    if packages:
        plan.kernel_packages = tuple(packages)
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id")
        source = "".join(cell.get("source", ""))
        if cell.get("cell_type") != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        if meta.get("solution"):
            plan.contract += [n for n in _defined_names(source) if n not in plan.contract]
            plan.signatures.update(_signatures(source))
            role = LEARNER
        elif NOT_GRADED_TAG in tags:
            role = NOT_GRADED
        elif meta.get("grade") or GRADER_TAG in tags:
            role = GRADER
        elif meta.get("locked"):
            role = BOTH
        else:
            role = LEARNER
        if gid:
            plan.roles[gid] = role
            if role in (GRADER, BOTH):
                plan.sources[gid] = source
    return plan

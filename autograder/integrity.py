"""Detect tampering with the grading: a static scan of the learner's cells, and the guard file.

Three layers, all judged outside the learner's process:

* ``scan``: the learner's own cells (answer cells and any extra cells) are searched for code
  that reaches into the grading: reassigning numpy/torch/builtins attributes or the course's
  test helpers, overriding IPython's error display or excepthook, event hooks, reading the
  grader's reference implementation, sockets, subprocesses, ``os._exit``, ctypes;
* ``guard_findings``: what ``GuardedExecute`` recorded: the in-kernel probe's findings (patched
  functions still in place after the last cell), a probe that could not run, timeouts, a dead
  kernel, truncated output;
* nbgrader itself compares each test cell's *reply status* with its outputs (a failing test
  whose traceback display was switched off still counts as failed).

A finding is either ``TAMPER`` (the result cannot be trusted: the automatic points are withheld
and the submission flagged for manual review) or ``NOTE`` (hostile or unusual but contained by
the sandbox: flagged, points kept).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

TAMPER, NOTE = "tamper", "note"

# (kind, pattern, what it means). Matched against learner-written code only.
RULES: list[tuple[str, re.Pattern, str]] = [(k, re.compile(p), m) for k, p, m in [
    (TAMPER, r"(^|;)\s*(np|numpy|torch|math|builtins|nn|F)(\.\w+)+\s*=[^=]",
     "reassigns a numpy/torch/builtins function"),
    (TAMPER, r"\bsetattr\s*\(\s*(np|numpy|torch|builtins|math|checks|rnncourse|sys)\b",
     "patches a library with setattr"),
    (TAMPER, r"__builtins__|\bimport\s+builtins\b|\bfrom\s+builtins\b",
     "touches the builtins"),
    (TAMPER, r"\b(rnncourse\.)?(checks|grading_\w+)\.\w+\s*=[^=]|rnncourse\.grading_|"
             r"from\s+rnncourse(\.\w+)?\s+import\s+.*grading_|grading_reference",
     "reaches into the course's test helpers or reference implementation"),
    (TAMPER, r"\bassert_\w*\s*=[^=]|AssertionError\s*=[^=]",
     "redefines an assertion helper"),
    (TAMPER, r"showtraceback|showsyntaxerror|set_custom_exc|custom_exceptions|excepthook|"
             r"displayhook|InteractiveShell",
     "overrides IPython's error display"),
    (TAMPER, r"\.events\.register|post_run_cell|pre_run_cell|ast_transformers|"
             r"input_transformers|register_magic|\.run_cell\b",
     "hooks into IPython's cell execution"),
    (TAMPER, r"sys\.modules|importlib\.reload|\b__code__\b|gc\.get_referrers",
     "rewrites loaded modules or functions"),
    (TAMPER, r"sys\.stdout\s*=|sys\.stderr\s*=|redirect_std(out|err)",
     "replaces the output streams"),
    (NOTE, r"\bos\._exit\b|\bsys\.exit\b|\bexit\s*\(|\bquit\s*\(|\bos\.kill\b|\bos\.abort\b",
     "stops the kernel"),
    (NOTE, r"\bctypes\b|\bcffi\b", "calls native code (ctypes)"),
    (NOTE, r"\bsocket\b|\burllib\b|\brequests\b|\bhttp\.client\b",
     "opens network connections"),
    (NOTE, r"\bsubprocess\b|\bos\.system\b|\bos\.popen\b|\bos\.fork\b|\bos\.exec|\bpty\b|"
           r"\bmultiprocessing\b|^\s*!",
     "runs other programs or forks"),
    (NOTE, r"gradebook|solutions/|/autograded|/submitted|\.\./\.\.|\bos\.walk\b|"
           r"\bglob\b|os\.listdir|os\.scandir|shutil\.rmtree",
     "searches or changes files outside its folder"),
]]


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def learner_code(nb) -> list[tuple[str, str]]:
    """(cell name, source) of every code cell the learner wrote: answers and extra cells."""
    out = []
    for k, cell in enumerate(nb.cells):
        meta = _meta(cell)
        if cell.get("cell_type") != "code" or meta.get("grade") or meta.get("locked"):
            continue
        out.append((meta.get("grade_id") or f"extra cell {k}", cell.get("source", "")))
    return out


def scan(nb) -> list[dict]:
    """Findings of the static scan: [{kind, where, what, line}]."""
    findings = []
    for where, source in learner_code(nb):
        for line in source.splitlines():
            code = line.split("#", 1)[0] if not line.lstrip().startswith("!") else line
            for kind, pattern, what in RULES:
                if pattern.search(code):
                    findings.append({"kind": kind, "where": where, "what": what,
                                     "line": line.strip()[:120]})
    return findings


def guard_findings(guard_file: Path) -> list[dict]:
    """Findings recorded during execution by GuardedExecute (see autograder.execute)."""
    if not guard_file.exists():
        return [{"kind": TAMPER, "where": "execution",
                 "what": "the execution record is missing", "line": ""}]
    record = json.loads(guard_file.read_text())
    out = []
    probe = record.get("probe")
    if isinstance(probe, str):
        if record.get("kernel_stopped") is None:
            out.append({"kind": TAMPER, "where": "kernel", "what": probe, "line": ""})
    else:
        out += [{"kind": TAMPER, "where": "kernel", "what": p, "line": ""} for p in probe or []]
    out += [{"kind": NOTE, "where": "execution", "what": e, "line": ""}
            for e in record.get("events", [])]
    if record.get("output_truncated"):
        out.append({"kind": NOTE, "where": "execution",
                    "what": "printed too much output (truncated)", "line": ""})
    return out


def summary(findings: list[dict]) -> list[str]:
    """One line per distinct finding, for messages and the JSON report."""
    seen, lines = set(), []
    for f in findings:
        line = f"{f['kind']}: {f['what']} ({f['where']}{': ' + f['line'] if f['line'] else ''})"
        if (f["kind"], f["what"], f["where"]) not in seen:
            seen.add((f["kind"], f["what"], f["where"]))
            lines.append(line)
    return lines

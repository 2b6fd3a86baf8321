"""The hostile catalogue (tests/autograder/catalogues/hostile.py), graded through ``score``.

Every attack is graded beside the others with short limits. For each: its score, its flag,
and a message saying why; for all: no message quotes a line of a hidden test, every result is
small, and every class of attack of the grading-integrity issue has cases.
"""

from __future__ import annotations

import json
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import pytest

from autograder.commands.feedback import hidden_lines
from autograder.commands.score import score_many
from autograder.settings import Limits
from tests.autograder.catalogues.hostile import ATTACKS, CLASSES, ROOT, write

pytestmark = pytest.mark.slow

LIMITS = Limits(cell_timeout=10, notebook_timeout=120, cpu_seconds=5, memory_mb=2048,
                processes=64, tmp_mb=32, workdir_mb=32, repair_seconds=20)
IDS = [a.name for a in ATTACKS]


def _grade(names: list[str]) -> tuple[dict[str, dict], float]:
    release = nbformat.read(ROOT / "exercises" / "rnn_forward" / "rnn_forward.ipynb", 4)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        paths = []
        for name in names:
            folder = Path(tmp) / name
            folder.mkdir()
            paths.append(folder / "rnn_forward.ipynb")
            write(next(a for a in ATTACKS if a.name == name), release, paths[-1])
        results = score_many(paths, "rnn_forward", ROOT, limits=LIMITS)
    return ({n: r.to_dict() for n, r in zip(names, results, strict=True)},
            time.perf_counter() - start)


@pytest.fixture(scope="module")
def graded() -> dict[str, dict]:
    halves = [IDS[0::2], IDS[1::2]]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = list(pool.map(_grade, halves))
    for part, seconds in parts:
        print(f"graded {len(part)} hostile notebooks in {seconds:.1f} s")
    return {k: v for part, _ in parts for k, v in part.items()}


def _text(result: dict) -> str:
    parts = result["repairs"] + result["flags"] + [t["message"] for t in result["tests"]]
    return " | ".join(parts).lower()


@pytest.mark.parametrize("attack", ATTACKS, ids=IDS)
def test_attack_gets_its_score(graded, attack):
    result = graded[attack.name]
    if attack.score is not None:
        assert result["score"] == attack.score, _text(result)
    else:
        assert result["score"] < result["max_score"], _text(result)


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.flagged is not None],
                         ids=[a.name for a in ATTACKS if a.flagged is not None])
def test_attack_is_flagged_for_review_when_expected(graded, attack):
    assert graded[attack.name]["flagged"] == attack.flagged, _text(graded[attack.name])


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.says],
                         ids=[a.name for a in ATTACKS if a.says])
def test_attack_report_says_why(graded, attack):
    assert attack.says in _text(graded[attack.name])


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.never_says],
                         ids=[a.name for a in ATTACKS if a.never_says])
def test_attack_report_never_quotes_hidden_inputs(graded, attack):
    text = json.dumps(graded[attack.name]).lower()
    assert not [p for p in attack.never_says if p in text], _text(graded[attack.name])


def test_no_report_quotes_a_hidden_test(graded):
    secrets = [s.lower() for s in hidden_lines(ROOT, "rnn_forward")]
    assert secrets
    for name, result in graded.items():
        text = json.dumps(result).lower()
        assert not any(s in text for s in secrets), name


def test_every_report_is_small(graded):
    for name, result in graded.items():
        assert len(json.dumps(result)) < 50_000, name


def test_catalogue_covers_every_class_of_attack():
    counts = {k: sum(a.klass == k for a in ATTACKS) for k in CLASSES}
    assert all(counts.values()), counts
    assert sum(a.klass != "control" for a in ATTACKS) >= 40
    assert all(a.defence for a in ATTACKS)
    print(json.dumps(counts))

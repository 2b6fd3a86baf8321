"""The channels between the grader and a learner's kernel: nothing the kernel sends can block
the grader or outgrow its memory, and no learner text quotes a hidden case's inputs back.

Each test grades a toy assignment (one answer ``apply(f, x)`` that a test calls with a grader
function ``f``, the way ``numerical_gradient`` is tested) through ``SplitExecute`` itself, with
a hostile answer, and fails without the defence it names.
"""

from __future__ import annotations

import threading
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.runner import sandbox
from autograder.runner.execute import LearnerError, SplitExecute, answer_text
from autograder.runner.trusted import builtin_name, hidden_lines
from autograder.settings import Limits

LIMITS = Limits(cell_timeout=10, notebook_timeout=60,
                sandbox="bwrap" if sandbox.bwrap_path() else "none")
HANG_GUARD = 120  # seconds: a grading that has not returned by then hangs
CORRECT = "def apply(f, x):\n    return f(x)\n"
TEST = ("out = apply(lambda z: z * 2, np.ones(3))\n"
        "assert out.tolist() == [2.0, 2.0, 2.0], out\n")
HIDDEN_TEST = ("assert apply(lambda z: z + 1, np.ones(2)).tolist() == [2.0, 2.0]\n"
               "### BEGIN HIDDEN TESTS\n"
               "assert apply(lambda z: z + 1, np.full(7, 4.0)).tolist() == [5.0] * 7\n"
               "### END HIDDEN TESTS\n")
SECOND_TEST = "assert apply(lambda z: z, np.ones(1)).tolist() == [1.0]\n"


def _cell(source: str, gid: str, **meta) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade_id": gid, "schema_version": 3, "grade": False,
                                 "locked": False, "solution": False, "task": False, **meta}
    return cell


def _notebook(answer: str, tests: list[str]) -> nbformat.NotebookNode:
    return new_notebook(cells=[
        _cell("import numpy as np\n", "setup", locked=True),
        _cell(answer, "answer", solution=True),
        *[_cell(t, f"test{i}", grade=True, locked=True, points=1) for i, t in enumerate(tests)],
    ])


def grade(answer: str, tmp_path: Path, tests: tuple[str, ...] = (TEST,)) -> dict:
    """Run the toy notebook with ``answer``: {"errors": grade_id -> (ename, evalue) of its
    error output, "events": the execution record's events}; fails if grading hangs."""
    source = tmp_path / "source" / "toy"
    source.mkdir(parents=True)
    nbformat.write(_notebook(CORRECT, list(tests)), source / "toy.ipynb")
    work = tmp_path / "work"
    work.mkdir()
    resources = {"nbgrader": {"assignment": "toy", "notebook": "toy"},
                 "metadata": {"path": str(work)}, "unique_key": "toy"}
    executor = SplitExecute(limits=LIMITS.as_dict(), source_dir=str(tmp_path / "source"))
    done: dict = {}

    def run() -> None:
        done["nb"], _ = executor.preprocess(_notebook(answer, list(tests)), resources)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_GUARD)
    assert not thread.is_alive(), f"grading still running after {HANG_GUARD} s: it hangs"
    errors = {c.metadata["nbgrader"]["grade_id"]: (o["ename"], o["evalue"])
              for c in done["nb"].cells for o in c.get("outputs", [])
              if o.get("output_type") == "error"}
    return {"errors": errors, "events": executor._events}


pytestmark = pytest.mark.slow


def test_a_correct_answer_passes(tmp_path):
    assert grade(CORRECT, tmp_path) == {"errors": {}, "events": []}


def test_callback_requests_never_read_stop_the_kernel_instead_of_hanging_the_grader(tmp_path):
    """A function that writes thousands of requests for the grader's function straight to its
    stdin channel and never reads the answers: does the grader still return? Without a cap on
    the requests of one call it answers for ever (the old loop never came back)."""
    flood = ("def apply(f, x):\n    import time\n    k = get_ipython().kernel\n"
             "    h = __import__('__rnncourse_harness__')\n"
             "    prompt = h.CALLBACK_PREFIX + h.encode({'id': 0, 'args': [x], 'kwargs': {}})\n"
             "    parent, ident = k.get_parent('shell'), k._parent_ident['shell']\n"
             "    for i in range(20_000):\n"
             "        if i % 200 == 0:\n            time.sleep(0.05)\n"
             "        k.session.send(k.stdin_socket, 'input_request',\n"
             "                       {'prompt': prompt, 'password': False}, parent=parent,\n"
             "                       ident=ident)\n"
             "    time.sleep(60)\n")
    out = grade(flood, tmp_path)
    ename, evalue = out["errors"]["test0"]
    assert ename == "ChannelLimit"
    assert "more than 1000 values" in evalue or "faster than it read the answers" in evalue
    assert any("kernel was stopped" in e for e in out["events"])


def test_large_requests_to_a_grader_function_are_bounded_in_bytes(tmp_path):
    """Each request carries 1 MB of int8 (8 MB as the float64 copies a stand-in might keep):
    past the bytes one call may send through the grader's functions, the kernel is stopped."""
    big = ("def apply(f, x):\n    for _ in range(40):\n"
           "        f(np.zeros(2**20, dtype=np.int8))\n    return f(x)\n")
    out = grade(big, tmp_path)
    assert out["errors"]["test0"][0] == "ChannelLimit"
    assert "MB through the grader's function" in out["errors"]["test0"][1]


def test_an_output_flood_during_a_test_call_is_dropped_within_a_byte_budget(tmp_path):
    """150 outputs of 10 MB during a test's call: without a byte budget the grader queued
    them (1.8 GB of memory); now they are read, dropped, counted, and the kernel stopped."""
    flood = ("def apply(f, x):\n    import sys\n    block = 'x' * 10_000_000\n"
             "    for _ in range(150):\n        sys.stdout.write(block)\n"
             "        sys.stdout.flush()\n    return f(x)\n")
    out = grade(flood, tmp_path)
    assert out["errors"]["test0"][0] == "ChannelLimit"
    assert "of output during the tests' calls" in out["errors"]["test0"][1]


def test_an_answer_whose_representation_is_a_huge_expression_is_never_parsed(tmp_path):
    """The harness's answer replaced by an object whose repr is a 15 MB Python expression: the
    old reader gave it to ``ast.literal_eval`` (gigabytes of syntax tree)."""
    attack = ("import sys\n\nclass Big:\n    def __repr__(self):\n"
              "        return \"'a'\" + \"+'a'\" * 3_000_000\n\n"
              "h = sys.modules['__rnncourse_harness__']\nreal = h.call\n\n"
              "def call(payload):\n    real(payload)\n    h.answer = Big()\n\n"
              "h.call = call\n\n" + CORRECT)
    out = grade(attack, tmp_path)
    assert out["errors"]["test0"] == ("BadAnswer", "the kernel's answer could not be read "
                                                   "(not the harness's quoted text)")


def test_a_learners_exception_in_a_hidden_case_quotes_nothing_back(tmp_path):
    """The learner's function raises with its argument in the message, and under a class
    name of its own, in the hidden case only: the hidden input (seven 4.0) must not come back."""
    attack = ("def apply(f, x):\n    if len(x) == 7:\n"
              "        raise type('Leak_7_x_4', (ValueError,), {})(repr(x) + ' 7 fours')\n"
              "    return f(x)\n")
    out = grade(attack, tmp_path, (HIDDEN_TEST,))
    ename, evalue = out["errors"]["test0"]
    assert (ename, evalue) == ("Error", "your apply raised Error in a hidden case (its message "
                                        "is not shown: it could quote the hidden inputs)")


def test_what_a_hidden_case_recorded_is_not_quoted_by_a_later_test(tmp_path):
    """The function records the hidden case's input and raises it in a later, visible test."""
    attack = ("seen = []\n\ndef apply(f, x):\n    seen.append(x.tolist())\n"
              "    if len(seen) > 2:\n        raise ValueError(f'I saw {seen}')\n"
              "    return f(x)\n")
    out = grade(attack, tmp_path, (HIDDEN_TEST, SECOND_TEST))
    assert "test0" not in out["errors"]
    ename, evalue = out["errors"]["test1"]
    assert ename == "ValueError" and "4.0" not in evalue and "saw" not in evalue
    assert "not shown once hidden cases have run" in evalue


# -- the pieces, without a kernel ---------------------------------------------------------------

def test_the_answer_must_be_a_quoted_base64_text():
    assert answer_text("'QUJD+/=='", 100) == "QUJD+/=="
    for bad in ("'a' 'b'", "'a'+'b'", '"QUJD"', "QUJD", "('QUJD')", "'QU JD'", None):
        with pytest.raises(LearnerError, match="could not be read|not text"):
            answer_text(bad, 100)
    with pytest.raises(LearnerError, match="larger than the limit"):
        answer_text("'" + "A" * 200 + "'", 100)


def test_hidden_lines_are_the_lines_of_the_hidden_regions():
    assert hidden_lines(HIDDEN_TEST) == frozenset({2, 3, 4})
    assert hidden_lines(TEST) == frozenset()


def test_only_built_in_exception_names_are_relayed():
    assert builtin_name("ValueError") == "ValueError"
    assert [builtin_name(n) for n in ("Leak_7_x_4", "print", "__import__", 7)] == ["Error"] * 4


def test_a_learner_cell_after_hidden_cases_shows_nothing_of_what_it_recorded(tmp_path):
    """The answer records its arguments; a later cell of the learner's prints them and raises
    with them. Without the redaction, the graded notebook (and the feedback made from it)
    shows the hidden case's input (an array of seven 4.0)."""
    recorder = ("seen = []\n\n\ndef apply(f, x):\n    seen.append(repr(x.tolist()))\n"
                "    return f(x)\n")
    later = "print('seen:', seen)\nraise ValueError('seen: ' + ' '.join(seen))\n"
    source = tmp_path / "source" / "toy"
    source.mkdir(parents=True)
    nbformat.write(_notebook(CORRECT, [HIDDEN_TEST]), source / "toy.ipynb")
    work = tmp_path / "work"
    work.mkdir()
    nb = _notebook(recorder, [HIDDEN_TEST])
    nb.cells.append(_cell(later, "later", solution=True))
    resources = {"nbgrader": {"assignment": "toy", "notebook": "toy"},
                 "metadata": {"path": str(work)}, "unique_key": "toy"}
    executor = SplitExecute(limits=LIMITS.as_dict(), source_dir=str(tmp_path / "source"))
    graded, _ = executor.preprocess(nb, resources)
    shown = repr(graded.cells[-1].outputs)
    assert "4.0" not in shown and "seen:" not in shown, shown
    assert "ran after hidden test cases" in shown
    assert [o["ename"] for o in graded.cells[-1].outputs if o["output_type"] == "error"] \
        == ["ValueError"]

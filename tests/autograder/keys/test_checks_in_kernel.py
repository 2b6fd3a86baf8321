"""In the learner's kernel, the visible tests help: a passing test cell says so in one line,
and a failing one shows the test cell's line and the message, not the keys' own frames
(issue 29). In the grader, which has no IPython shell, nothing of this is installed.

Most tests drive an in-process IPython shell (as the kernel's); one runs a real kernel
through nbclient, as JupyterLab does.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell

from autograder.keys import checks

ROOT = Path(__file__).resolve().parents[3]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
IMPORTS = ("import numpy as np\n"
           "from autograder.keys.checks import (check_array, check_arguments_unchanged,\n"
           "                                    check_rnn_cell_forward)\n")
RIGHT = ("def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):\n"
         "    return np.tanh(x @ W_xh + h_prev @ W_hh + b_h)\n")
SIGMOID = ("def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):\n"
           "    return 1 / (1 + np.exp(-(x @ W_xh + h_prev @ W_hh + b_h)))\n")


@pytest.fixture
def shell():
    """An IPython shell with the checks imported in it, as in a learner's kernel."""
    sh = InteractiveShell.instance(colors="nocolor")
    checks.report_passing_cells()
    sh.run_cell(IMPORTS)
    yield sh
    InteractiveShell.clear_instance()


def run(shell, capsys, source: str) -> str:
    capsys.readouterr()
    shell.run_cell(source)
    out = capsys.readouterr()
    return ANSI.sub("", out.out + out.err)


def test_a_passing_test_cell_says_so_in_one_line(shell, capsys):
    shell.run_cell(RIGHT)
    out = run(shell, capsys, "check_rnn_cell_forward(rnn_cell_forward)\n"
                             "check_rnn_cell_forward(rnn_cell_forward, large=True)")
    assert out == "✓ all 2 checks of this cell pass\n"


def test_a_check_that_runs_another_check_counts_once(shell, capsys):
    """check_arguments_unchanged runs the value check it is given: is that one check?"""
    shell.run_cell(RIGHT)
    out = run(shell, capsys, "check_arguments_unchanged(check_rnn_cell_forward, "
                             "rnn_cell_forward)")
    assert out == "✓ the check of this cell passes\n"


def test_a_cell_without_checks_prints_nothing(shell, capsys):
    assert run(shell, capsys, "x = 1 + 1") == ""


def test_a_failing_cell_shows_no_pass_line(shell, capsys):
    shell.run_cell(SIGMOID)
    out = run(shell, capsys, "check_array('h', np.zeros(2), np.zeros(2))\n"
                             "check_rnn_cell_forward(rnn_cell_forward)")
    assert "✓" not in out and "sigmoid instead of tanh" in out


def test_a_failed_check_the_cell_catches_silences_the_pass_line(shell, capsys):
    """A cell that catches a failing check succeeds: does it still not claim all pass?"""
    shell.run_cell(SIGMOID)
    out = run(shell, capsys, "check_array('h', np.zeros(2), np.zeros(2))\n"
                             "try:\n    check_rnn_cell_forward(rnn_cell_forward)\n"
                             "except AssertionError:\n    pass")
    assert out == ""


def test_a_failure_shows_the_test_cells_line_and_the_message_only(shell, capsys):
    """Is no frame of autograder/keys in the traceback of a failed check?"""
    shell.run_cell(SIGMOID)
    out = run(shell, capsys, "check_rnn_cell_forward(rnn_cell_forward)")
    assert "----> 1 check_rnn_cell_forward(rnn_cell_forward)" in out
    assert "It matches a known mistake: sigmoid instead of tanh." in out
    assert "checks.py" not in out and "autograder" not in out


def test_an_error_of_the_learners_code_keeps_the_learners_frame(shell, capsys):
    """The learner's function raises inside a check: is its line still shown?"""
    shell.run_cell("def rnn_cell_forward(*args):\n    raise ValueError('my bug')")
    out = run(shell, capsys, "check_rnn_cell_forward(rnn_cell_forward)")
    assert "raise ValueError('my bug')" in out and "ValueError: my bug" in out


def test_the_grader_installs_nothing(tmp_path):
    """Imported where there is no IPython shell (the grader's process): does it install
    nothing, and import no IPython?"""
    code = ("import sys\nimport autograder.keys.checks as c\n"
            "print(c.report_passing_cells(), 'IPython' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["None", "False"]


@pytest.mark.slow
def test_in_a_real_kernel_a_pass_says_so_and_a_failure_shows_the_cell_and_message(tmp_path):
    """Run as JupyterLab does (a kernel, through nbclient): the passing cell's one line, and
    the failing cell's traceback with the cell's line and the message, no keys' frame."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(IMPORTS + RIGHT),
                nbformat.v4.new_code_cell("check_rnn_cell_forward(rnn_cell_forward)"),
                nbformat.v4.new_code_cell(SIGMOID),
                nbformat.v4.new_code_cell("check_rnn_cell_forward(rnn_cell_forward)")]
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    passed, failed = nb.cells[1].outputs, nb.cells[3].outputs
    assert [o.get("text") for o in passed] == ["✓ the check of this cell passes\n"]
    (error,) = [o for o in failed if o.output_type == "error"]
    traceback = ANSI.sub("", "\n".join(error.traceback))
    assert "----> 1 check_rnn_cell_forward(rnn_cell_forward)" in traceback
    assert "It matches a known mistake: sigmoid instead of tanh." in traceback
    assert "autograder" not in traceback and "checks.py" not in traceback

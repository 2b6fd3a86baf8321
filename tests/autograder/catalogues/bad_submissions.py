"""The catalogue of bad submissions: accidental damage, and broken or hostile code.

Each ``Case`` builds a learner's notebook (or raw file bytes) from the release of a toy
assignment (``add``: tests worth 2 + 1 with plain asserts; ``double``: one test worth 2 with
numpy's ``assert_allclose``), and says what grading must give: the score, whether the
submission is flagged for manual review, and a phrase the report must contain (in the
repairs, the flags or a test's message) saying why. The student id is the case's name.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import v4

from tests.builders import filled

ADD_OK = "def add(a, b):\n    return a + b"
ADD_WRONG = "def add(a, b):\n    return a - b"
DOUBLE_OK = "import numpy as np\n\n\ndef double(x):\n    return 2 * np.asarray(x, dtype=float)"
DOUBLE_WRONG = "import numpy as np\n\n\ndef double(x):\n    return np.asarray(x, dtype=float)"

Make = Callable[[nbformat.NotebookNode, Path], "nbformat.NotebookNode | bytes"]


@dataclass(frozen=True)
class Case:
    name: str
    assignment: str
    make: Make
    score: float
    flagged: bool
    says: str  # lower-case phrase expected in the repairs, flags or test messages
    kind: str  # "control", "accident" or "hostile"
    filename: str = ""  # the learner's file name (default: the assignment's)


def _gid(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _with(source: str, edit: Callable[[nbformat.NotebookNode], None] | None = None) -> Make:
    def make(release, root):
        nb = filled(release, source)
        if edit:
            edit(nb)
        return nb
    return make


def _answer(template: str) -> Make:
    """An answer cell whose text may name the course root (``{root}``)."""
    return lambda release, root: filled(release, template.format(root=root))


def _drop(*ids):
    def edit(nb):
        nb.cells = [c for c in nb.cells if _gid(c) not in ids]
    return edit


def _duplicate(gid):
    def edit(nb):
        k = next(i for i, c in enumerate(nb.cells) if _gid(c) == gid)
        dup = copy.deepcopy(nb.cells[k])
        dup["id"] = "dup-" + dup.get("id", "x")
        nb.cells.insert(k + 1, dup)
    return edit


def _move_answer_last(nb):
    k = next(i for i, c in enumerate(nb.cells) if _gid(c) in ("add", "double"))
    nb.cells.append(nb.cells.pop(k))


def _retype(gid, new_type):
    def edit(nb):
        k = next(i for i, c in enumerate(nb.cells) if _gid(c) == gid)
        old = nb.cells[k]
        maker = {"markdown": v4.new_markdown_cell, "raw": v4.new_raw_cell}[new_type]
        nb.cells[k] = maker(old.source, metadata=old.metadata)
    return edit


def _resource(gid, text):
    def edit(nb):
        next(c for c in nb.cells if _gid(c) == gid).source = text
    return edit


def _strip(nb):
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)


def _extra_helper(nb):
    k = next(i for i, c in enumerate(nb.cells) if _gid(c) == "add")
    nb.cells.insert(k, v4.new_code_cell("def plus(a, b):\n    return a + b"))
    nb.cells[k + 1].source = "def add(a, b):\n    return plus(a, b)"


def _fake_outputs(nb):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.outputs = [v4.new_output("stream", name="stdout", text="All tests passed!\n")]
            cell.execution_count = 3


def _bytes(data: bytes) -> Make:
    return lambda release, root: data


def _own(root: Path, student: str, assignment: str) -> str:
    return str(root / "grading" / "submitted" / student / assignment / f"{assignment}.ipynb")


CASES: list[Case] = [
    # -- controls: graded beside the bad ones, their grades must not move ---------------------
    Case("good_add", "add", _with(ADD_OK), 3, False, "", "control"),
    Case("partial_add", "add", _with("def add(a, b):\n    return a + b if a != 2 else 0"),
         1, False, "add(2, 2) should be 4", "control"),
    Case("good_double", "double", _with(DOUBLE_OK), 2, False, "", "control"),
    Case("wrong_double", "double", _with(DOUBLE_WRONG), 0, False, "not equal to tolerance",
         "control"),
    # -- accidental damage: repaired, full marks for correct code -----------------------------
    Case("deleted_test_cell", "add", _with(ADD_OK, _drop("test_add_negative")), 3, False,
         "restored the deleted test cell 'test_add_negative'", "accident"),
    Case("deleted_all_tests", "add", _with(ADD_OK, _drop("test_add", "test_add_negative")), 3,
         False, "restored the deleted test cell 'test_add'", "accident"),
    Case("deleted_intro", "add", _with(ADD_OK, _drop("intro")), 3, False,
         "restored the deleted locked cell 'intro'", "accident"),
    Case("duplicated_answer", "add", _with(ADD_OK, _duplicate("add")), 3, False,
         "dropped a duplicate of cell 'add'", "accident"),
    Case("duplicated_test", "add", _with(ADD_OK, _duplicate("test_add")), 3, False,
         "dropped a duplicate of cell 'test_add'", "accident"),
    Case("reordered_cells", "add", _with(ADD_OK, _move_answer_last), 3, False,
         "put the cells back in the assignment's order", "accident"),
    Case("retyped_answer", "add", _with(ADD_OK, _retype("add", "markdown")), 3, False,
         "changed cell 'add' back from markdown to code", "accident"),
    Case("retyped_test", "add", _with(ADD_OK, _retype("test_add", "raw")), 3, False,
         "changed cell 'test_add' back from raw to code", "accident"),
    Case("edited_test", "add", _with(ADD_OK, _resource("test_add", "pass")), 3, False,
         "restored the edited test cell 'test_add'", "accident"),
    Case("edited_intro", "add", _with(ADD_OK, _resource("intro", "# my notes")), 3, False,
         "restored the edited locked cell 'intro'", "accident"),
    Case("metadata_stripped", "add", _with(ADD_OK, _strip), 3, False,
         "restored the nbgrader metadata", "accident"),
    Case("metadata_stripped_numpy", "double", _with(DOUBLE_OK, _strip), 2, False,
         "restored the nbgrader metadata", "accident"),
    Case("wrong_file_name", "add", _with(ADD_OK), 3, False,
         "graded 'my homework (2).ipynb' as 'add.ipynb'", "accident",
         filename="my homework (2).ipynb"),
    Case("extra_helper_cell", "add", _with(ADD_OK, _extra_helper), 3, False, "", "accident"),
    # -- broken code: graded 0 with the reason ------------------------------------------------
    Case("syntax_error", "add", _with("def add(a, b)\n    return a + b"), 0, False,
         "nameerror", "hostile"),
    Case("empty_file", "add", _bytes(b""), 0, True, "unreadable notebook", "hostile"),
    Case("corrupt_json", "add", _bytes(b'{"cells": [{"cell_type": "code", '), 0, True,
         "unreadable notebook", "hostile"),
    Case("infinite_loop", "add", _with("def add(a, b):\n    while True:\n        pass"), 0,
         True, "celltimeouterror: the cell ran past its time limit", "hostile"),
    Case("uninterruptible_loop", "add",  # a loop in C: no Python bytecode to interrupt
         _with("def add(a, b):\n    return sum(range(10**15))"), 0, True, "would not stop",
         "hostile"),
    Case("memory_bomb", "add",
         _with("def add(a, b):\n    blocks = 'x'\n    while True:\n"
               "        blocks = blocks * 2"), 0, False, "memoryerror",
         "hostile"),
    Case("fork_bomb", "add",
         _with("import os\n\n\ndef add(a, b):\n    while True:\n        os.fork()"), 0, True,
         "process limit", "hostile"),
    Case("os_exit", "add", _with("import os\nos._exit(3)\n" + ADD_OK), 0, True,
         "kernel died", "hostile"),
    Case("sys_exit", "add", _with("import sys\nsys.exit('bye')\n" + ADD_OK), 0, False,
         "nameerror", "hostile"),
    Case("segfault", "add", _with("import ctypes\nctypes.string_at(0)\n" + ADD_OK), 0, True,
         "kernel died", "hostile"),
    Case("huge_output", "add",
         _with("for _ in range(100):\n    print('x' * 100_000)\n\n\n" + ADD_WRONG), 0, True,
         "truncated", "hostile"),
    # One message over Limits.max_message_bytes: the grader's socket drops it (and, for output,
    # hears nothing more from that cell, which then times out); the answers are still graded.
    Case("one_huge_message", "add",
         _with("import sys\nsys.stdout.write('x' * (20 * 2**20))\n\n\n" + ADD_OK), 3, True,
         "timed out", "hostile"),
    # -- hostile code: the sandbox stops it; its tests fail --------------------------------------
    Case("open_socket", "add",
         _with("import socket\n\n\ndef add(a, b):\n"
               "    socket.create_connection(('1.1.1.1', 53), timeout=3).close()\n"
               "    return a + b"), 0, False, "network is unreachable", "hostile"),
    Case("read_other_student", "add",
         lambda release, root: filled(release, "def add(a, b):\n"
                                      f"    open({_own(root, 'good_add', 'add')!r}).read()\n"
                                      "    return a + b"),
         0, False, "filenotfounderror", "hostile"),
    Case("write_other_student", "add",
         lambda release, root: filled(release, "def add(a, b):\n"
                                      f"    open({_own(root, 'good_add', 'add')!r}, 'w')"
                                      ".write('{}')\n    return a + b"),
         0, False, "filenotfounderror", "hostile"),
    Case("read_batch_neighbour", "add",  # graded in the same nbgrader run, one folder over
         _with("def add(a, b):\n    open('../../good_add/add/add.ipynb').read()\n"
               "    return a + b"), 0, False, "filenotfounderror", "hostile"),
    Case("read_gradebook", "add",
         _answer("def add(a, b):\n    open('{root}/grading/gradebook.db', 'rb').read()\n"
                 "    return a + b"), 0, False, "filenotfounderror", "hostile"),
    Case("run_the_solutions", "add",
         _with("import json\n\n\ndef add(a, b):\n"
               "    nb = json.load(open('../../../../solutions/add/add.ipynb'))\n"
               "    exec(''.join(nb['cells'][1]['source']), globals())\n"
               "    return add(a, b)"), 0, False, "filenotfounderror", "hostile"),
    Case("links_a_host_file", "add",  # a link left in its folder for code outside to follow
         lambda release, root: filled(release, (
             "import os\nfor name in ('add.ipynb', 'sentinel.txt', 'gradebook.db'):\n"
             "    try:\n        os.remove(name)\n    except OSError:\n        pass\n"
             f"    os.symlink({str(root / 'sentinel.txt')!r}, name)\n"
             "try:\n    open('sentinel.txt', 'w').write('overwritten')\n"
             "except OSError:\n    pass\n\n\n") + ADD_OK),
         3, False, "", "hostile"),
    Case("links_the_solutions", "add",
         lambda release, root: filled(release, (
             "import os\n"
             f"os.symlink({str(root / 'solutions')!r}, 'solutions')\n"
             f"os.symlink({str(root / 'solutions' / 'add' / 'add.ipynb')!r}, 'key.ipynb')\n\n\n"
         ) + ADD_OK), 3, False, "", "hostile"),
    # -- tampering with the grading: the tests do not run in the learner's kernel --------------
    Case("patched_numpy_assert", "double",
         _with("import numpy as np\nnp.testing.assert_allclose = lambda *a, **k: None\n\n\n"
               "def double(x):\n    return x"), 0, False, "not equal to tolerance", "hostile"),
    Case("patched_numpy_hidden", "double",
         _with("import numpy as np\n"
               "setattr(vars()['n' + 'p'].testing, 'assert' + '_allclose', "
               "lambda *a, **k: None)\n\n\ndef double(x):\n    return x"), 0, False,
         "not equal to tolerance", "hostile"),
    Case("patched_then_kernel_killed", "double",  # a last cell kills the kernel
         _with("import numpy as np\n"
               "setattr(vars()['n' + 'p'].testing, 'assert' + '_allclose', "
               "lambda *a, **k: None)\n\n\ndef double(x):\n    return x",
               lambda nb: nb.cells.append(v4.new_code_cell("import os\nos._exit(0)"))),
         0, True, "not equal to tolerance", "hostile"),
    Case("patched_torch_and_checks", "add",
         _with("import torch\nimport autograder.keys.checks as checks\n"
               "torch.allclose = lambda *a, **k: True\n"
               "checks.check_array = lambda *a, **k: None\n" + ADD_WRONG), 0, False,
         "no module named 'torch'", "hostile"),
    Case("faked_passed_output", "add",
         _with("get_ipython().events.register('post_run_cell', "
               "lambda *a: print('All tests passed!'))\n" + ADD_WRONG), 0, False,
         "assertionerror", "hostile"),
    Case("stored_fake_outputs", "add", _with(ADD_WRONG, _fake_outputs), 0, False,
         "assertionerror", "hostile"),
    Case("traceback_display_off", "add",
         _with("get_ipython().showtraceback = lambda *a, **k: None\n" + ADD_WRONG), 0, False,
         "assertionerror", "hostile"),
    Case("traceback_display_off_hidden", "add",
         _with("ip = get_ipython()\nsetattr(ip, 'show' + 'traceback', lambda *a, **k: None)\n"
               + ADD_WRONG), 0, False, "assertionerror", "hostile"),
    Case("custom_exception_handler", "add",
         _with("get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)\n"
               + ADD_WRONG), 0, False, "assertionerror", "hostile"),
]


def write(case: Case, release: nbformat.NotebookNode, root: Path, dest: Path) -> Path:
    """Write the case's file into ``dest/<student>/<assignment>/``; return its path."""
    folder = dest / case.name / case.assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (case.filename or f"{case.assignment}.ipynb")
    made = case.make(release, root)
    if isinstance(made, bytes):
        path.write_bytes(made)
    else:
        path.write_text(json.dumps(made, indent=1))
    return path

"""The hostile catalogue: submissions of ``rnn_forward`` built to game or break the grader.

Each ``Attack`` builds a learner's notebook (or raw bytes) from the release of the real
assignment ``rnn_forward`` (12 points: ``rnn_cell_forward`` 5, ``rnn_forward`` 7), names the
class of attack it belongs to (``CLASSES``, the classes of the grading-integrity issue), and
says what grading must give: the score (None: any), whether it is flagged for review (None:
either), a lower-case phrase the report must contain, and phrases it must never contain (a
hidden case's inputs). Each case would score more, leak a
hidden test, touch the host or stop the run without the defence it names in ``defence``.

An attack that gains nothing scores what any wrong answer scores: each function that returns
without changing its arguments passes its own in-place test (``*_leaves_arguments_unchanged``,
1 point each), since values are graded apart from in-place changes; so 2 when both functions
return, 1 when one of them raises or is stopped.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[3]
CELL_OK = ("def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):\n"
           "    return np.tanh(x @ W_xh + h_prev @ W_hh + b_h)\n")
SEQ_OK = ("def rnn_forward(X, h0, W_xh, W_hh, b_h):\n"
          "    h, Hs = h0, []\n"
          "    for x in X:\n"
          "        h = rnn_cell_forward(x, h, W_xh, W_hh, b_h)\n"
          "        Hs.append(h)\n"
          "    return np.stack(Hs)\n")
CELL_WRONG = ("def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):\n"
              "    return np.tanh(x @ W_xh + h_prev @ W_hh)\n")  # the bias is missing
SEQ_WRONG = ("def rnn_forward(X, h0, W_xh, W_hh, b_h):\n"
             "    return np.zeros((X.shape[0], h0.shape[0], W_hh.shape[0]))\n")

CLASSES = {
    "names": "defining in an answer cell the names the test cells call",
    "reference": "reaching the reference: other objects, split-string imports, a package of "
                 "the same name in the working folder, a framework",
    "lying-array": "returning an object that lies about its value",
    "patch": "patches: self-undoing, under a library's file name, blinding the grader",
    "ipython": "IPython input transformers and hooks that rewrite cells",
    "leak": "exceptions whose message carries the calling cell's source, huge messages",
    "symlink": "links in the working folder followed by code outside the sandbox",
    "resources": "resource use summed over processes, tmpfs, disk, time",
    "malformed": "wrong types in cell metadata, huge cells, invalid files",
    "channels": "floods and forged answers on the kernel's channels during a test's call",
    "hidden-inputs": "the learner's text quoting a hidden case's inputs back",
    "control": "correct code, with and without noise: full marks, no flag",
}

Make = Callable[[nbformat.NotebookNode], "nbformat.NotebookNode | bytes"]


@dataclass(frozen=True)
class Attack:
    name: str
    klass: str
    make: Make
    score: float | None
    flagged: bool | None
    says: str
    defence: str
    never_says: tuple[str, ...] = ()  # lower-case phrases the report must not contain


def answers(cell: str = CELL_WRONG, seq: str = SEQ_WRONG, extra: str = "") -> Make:
    """The release with the two answer cells filled (``extra`` before the first one)."""
    def make(release):
        nb = copy.deepcopy(release)
        for c in nb.cells:
            gid = c.metadata.get("nbgrader", {}).get("grade_id")
            if gid == "rnn_cell_forward":
                c.source = extra + cell
            elif gid == "rnn_forward":
                c.source = seq
        return nb
    return make


def raw(edit: Callable[[dict], object]) -> Make:
    """The correct notebook as JSON, edited into something malformed; returns bytes."""
    def make(release):
        data = json.loads(nbformat.writes(answers(CELL_OK, SEQ_OK)(release)))
        out = edit(data)
        data = data if out is None else out
        return data if isinstance(data, bytes) else json.dumps(data).encode()
    return make


def _answer_cell(data: dict) -> dict:
    return next(c for c in data["cells"]
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "rnn_cell_forward")


def _set_meta(key, value):
    def edit(data):
        _answer_cell(data)["metadata"]["nbgrader"][key] = value
    return edit


ATTACKS: list[Attack] = [
    # -- controls --------------------------------------------------------------------------
    Attack("correct", "control", answers(CELL_OK, SEQ_OK), 12, False, "", "-"),
    Attack("correct_with_noise", "control",
           answers(CELL_OK, SEQ_OK, "import os, sys\nprint('hello', file=sys.stderr)\n"
                   "open('notes.txt', 'w').write('mine')\nos.makedirs('tmp/a', exist_ok=True)\n"),
           12, False, "", "-"),
    Attack("partial", "control", answers(CELL_OK, SEQ_WRONG), 6, False,
           "hs differs from", "-"),
    # -- names the tests call ----------------------------------------------------------------
    Attack("defines_check_helpers", "names", answers(extra=(
        "def check_rnn_forward(*a, **k):\n    pass\n\n\ndef check_rnn_cell_forward(*a, **k):\n"
        "    pass\n\n\ncheck_array = lambda *a, **k: None\n\n\n")), 2, False, "differs from",
        "tests run in the grader's namespace, not the kernel's"),
    Attack("replaces_assertion_error", "names", answers(extra=(
        "import builtins\nbuiltins.AssertionError = type('Quiet', (BaseException,), {})\n"
        "AssertionError = builtins.AssertionError\n\n\n")), 2, False, "differs from",
        "builtins of the kernel are not the grader's"),
    Attack("shadows_numpy", "names", answers(extra=(
        "class _Yes:\n    def __getattr__(self, name):\n        return lambda *a, **k: True\n\n\n"
        "np = _Yes()\n")), 2, False, "return a numpy array", "tests use the grader's numpy"),
    # -- reaching the reference ---------------------------------------------------------------
    Attack("imports_the_reference", "reference", answers(extra=(
        "from autograder.keys import reference\n\n\n")), 1, False,
        "no module named 'autograder'", "the grader's package is not in the sandbox"),
    Attack("imports_by_split_string", "reference", answers(
        "def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):\n"
        "    t = __import__('to' + 'rch')\n"
        "    return t.tanh(t.tensor(x @ W_xh + h_prev @ W_hh + b_h)).numpy()\n"),
        1, False, "write this part with", "torch is not on disk in a NumPy sandbox"),
    Attack("computes_with_torch", "reference", answers(
        "import torch\n\n\ndef rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):\n"
        "    return torch.tanh(torch.tensor(x @ W_xh + h_prev @ W_hh + b_h)).numpy()\n"),
        1, False, "no module named 'torch'", "torch is not on disk in a NumPy sandbox"),
    Attack("reaches_helper_globals", "reference", answers(
        "def rnn_cell_forward(*args):\n"
        "    return check_rnn_cell_forward.__globals__['ref'].rnn_cell(*args)\n"),
        1, False, "nameerror", "no test helper exists in the kernel"),
    Attack("searches_the_heap", "reference", answers(
        "import gc\n\n\ndef rnn_cell_forward(*args):\n"
        "    refs = [o for o in gc.get_objects() if getattr(o, '__name__', '') == 'rnn_cell']\n"
        "    return refs[0](*args)\n"), 1, False, "indexerror",
        "no reference object exists in the kernel"),
    Attack("plants_a_package_in_the_working_folder", "reference", answers(extra=(
        "import os\nos.makedirs('autograder/keys', exist_ok=True)\n"
        "for f in ('autograder/__init__.py', 'autograder/keys/__init__.py'):\n"
        "    open(f, 'w').close()\n"
        "open('autograder/keys/checks.py', 'w').write('def check_array(*a, **k):\\n    pass\\n"
        "def check_rnn_forward(*a, **k):\\n    pass\\ndef check_rnn_cell_forward(*a, **k):\\n"
        "    pass\\n')\n\n\n")), 2, False, "differs from",
        "the grader imports its own package; the kernel's folder is a private tmpfs"),
    Attack("uses_pandas", "reference", answers(
        "def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):\n"
        "    import pandas\n    return pandas.DataFrame(x).to_numpy()\n"), 1, False,
        "no module named 'pandas'", "packages by allow-list"),
    Attack("reads_the_solutions", "reference", answers(
        "import os\n\n\ndef rnn_cell_forward(*args):\n"
        f"    paths = [p for p in ({str(ROOT / 'solutions')!r}, '../../../../solutions')\n"
        "             if os.path.exists(p)]\n"
        "    return paths[0]\n"), 1, False, "indexerror", "the course is not in the sandbox"),
    # -- lying arrays --------------------------------------------------------------------------
    Attack("ndarray_subclass_says_allclose", "lying-array", answers(
        "class Liar(np.ndarray):\n"
        "    def __array_function__(self, func, types, args, kwargs):\n        return True\n"
        "    def __eq__(self, other):\n        return True\n\n\n"
        "def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):\n"
        "    return np.zeros((x.shape[0], W_hh.shape[0])).view(Liar)\n"), 2, False,
        "differs from", "results become exact ndarrays on the grader's side"),
    Attack("object_array", "lying-array", answers(
        "def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):\n"
        "    return np.array([object()] * 3, dtype=object)\n"), 2, False,
        "return a numpy array", "only numeric dtypes cross as data; the rest stays behind"),
    Attack("class_spoofing_object", "lying-array", answers(
        "class Spoof:\n    __class__ = property(lambda self: np.ndarray)\n"
        "    def __eq__(self, other):\n        return True\n\n\n"
        "def rnn_cell_forward(*args):\n    return Spoof()\n"), 1, False, "",
        "values are rebuilt from bytes, never from the learner's object"),
    Attack("returns_a_callable", "lying-array", answers(
        "def rnn_cell_forward(*args):\n    return lambda *a: True\n"), 2, False,
        "return a numpy array", "objects stay in the kernel as handles"),
    Attack("float32_result", "lying-array", answers(
        "def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):\n"
        "    return np.tanh(x @ W_xh + h_prev @ W_hh + b_h).astype(np.float32)\n"), None,
        False, "dtype float32", "dtypes are kept as sent, then checked"),
    Attack("modifies_its_input", "lying-array", answers(
        "def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):\n"
        "    h = np.tanh(x @ W_xh + h_prev @ W_hh + b_h)\n    x[...] = 0\n    return h\n"),
        5, False, "in place", "arguments changed in the kernel are changed on the grader's "
        "side, where the checks compare them with copies"),
    # -- patches -----------------------------------------------------------------------------
    Attack("self_undoing_patch", "patch", answers(
        "def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):\n"
        "    real = np.allclose\n    np.allclose = lambda *a, **k: True\n"
        "    try:\n        return np.zeros((x.shape[0], W_hh.shape[0]))\n"
        "    finally:\n        np.allclose = real\n"), 2, False, "differs from",
        "comparisons run in the grader"),
    Attack("patch_under_numpy_file_name", "patch", answers(extra=(
        "exec(compile('np.testing.assert_allclose = lambda *a, **k: None\\n'\n"
        "             'np.allclose = lambda *a, **k: True',\n"
        "             np.__file__.replace('__init__', 'testing/__init__'), 'exec'))\n\n\n")),
        2, False, "differs from", "comparisons run in the grader"),
    Attack("blinds_json", "patch", answers(CELL_OK, SEQ_OK, (
        "import json\njson.dumps = lambda *a, **k: '[]'\n\n\n")), 0, None, "",
        "the grader validates every answer, and stops a kernel that breaks the protocol"),
    Attack("blinds_savez", "patch", answers(CELL_OK, SEQ_OK, (
        "np.savez = lambda *a, **k: None\n\n\n")), 0, False, "not plain data",
        "the grader validates every answer"),
    Attack("replaces_the_call_machinery", "patch", answers(extra=(
        "import sys\nfake = type(sys)('__rnncourse_harness__')\nfake.answer = 'QUJD'\n"
        "fake.call = lambda payload: None\nsys.modules['__rnncourse_harness__'] = fake\n\n\n")),
        0, False, "not plain data", "the grader validates every answer"),
    # -- IPython -----------------------------------------------------------------------------
    Attack("input_transformer_rewrites_cells", "ipython", answers(extra=(
        "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])\n\n\n")),
        0, None, "", "test cells never enter the kernel"),
    Attack("ast_transformer_drops_asserts", "ipython", answers(extra=(
        "import ast\nclass NoAsserts(ast.NodeTransformer):\n"
        "    def visit_Assert(self, node):\n        return ast.Pass()\n"
        "get_ipython().ast_transformers.append(NoAsserts())\n\n\n")), 2, False, "differs from",
        "test cells never enter the kernel"),
    Attack("pre_run_cell_hook", "ipython", answers(extra=(
        "def hook(info):\n    info.raw_cell = 'pass'\n"
        "get_ipython().events.register('pre_run_cell', hook)\n"
        "get_ipython().events.register('post_run_cell', lambda r: print('All tests passed'))\n"
        "\n\n")), 2, False, "differs from", "test cells never enter the kernel"),
    Attack("traceback_display_off", "ipython", answers(extra=(
        "get_ipython().showtraceback = lambda *a, **k: None\n"
        "get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)\n\n\n")),
        2, False, "differs from", "test outcomes are decided in the grader"),
    # -- leaks ---------------------------------------------------------------------------------
    Attack("exception_quotes_the_callers", "leak", answers(
        "import inspect, sys\n\n\ndef rnn_cell_forward(*args):\n"
        "    text = []\n    for f in inspect.stack():\n"
        "        try:\n            text.append(inspect.getsource(f.frame))\n"
        "        except (OSError, TypeError):\n            text.append(str(f.code_context))\n"
        "    raise RuntimeError('\\n'.join(text))\n"), 1, False, "runtimeerror",
        "the kernel holds no test source; messages are capped"),
    Attack("exception_quotes_the_history", "leak", answers(
        "def rnn_cell_forward(*args):\n"
        "    ns = get_ipython().user_ns\n"
        "    raise RuntimeError(repr(ns.get('In')) + repr(ns.get('_ih')))\n"), 1, False,
        "runtimeerror", "the kernel never receives a test cell"),
    Attack("huge_error_message", "leak", answers(  # under the message limit, twice over
        "def rnn_cell_forward(*args):\n    raise ValueError('x' * 5_000_000)\n"), 1, False,
        "more characters", "messages are capped"),
    Attack("error_over_the_message_limit", "channels", answers(
        "def rnn_cell_forward(*args):\n    raise ValueError('x' * 20_000_000)\n"), 0, True,
        "channel to the grader was cut", "the grader's sockets drop a message over "
        "Limits.max_message_bytes, and its connection (sandbox.capped_context)"),
    Attack("exception_str_never_ends", "leak", answers(
        "class Endless(Exception):\n    def __str__(self):\n        while True:\n"
        "            pass\n\n\ndef rnn_cell_forward(*args):\n    raise Endless()\n"),
        0, True, "", "calls have a time limit, and the submission a CPU-time limit (which "
        "of the two stops it first depends on the machine's load)"),
    Attack("exception_str_raises", "leak", answers(
        "class Broken(Exception):\n    def __str__(self):\n        raise RuntimeError()\n\n\n"
        "def rnn_cell_forward(*args):\n    raise Broken()\n"), 1, False,
        "could not be read", "the kernel's answer is data; a bad message is replaced"),
    # -- symlinks (the grade catalogue checks the host side too) -------------------------------
    Attack("links_the_host_into_its_folder", "symlink", answers(extra=(
        "import os\nfor target, name in [('/etc/passwd', 'rnn_forward.ipynb'),\n"
        "                     ('../../../../solutions', 'solutions'), ('/', 'root')]:\n"
        "    try:\n        os.symlink(target, name)\n    except OSError:\n        pass\n\n\n")),
        2, False, "differs from", "the working folder is a tmpfs inside the sandbox"),
    # -- resources -----------------------------------------------------------------------------
    # Six children of 450 MB each (the limit is 2048 MB over all processes); the cell goes on
    # only when each child has allocated or died, so the outcome does not depend on how fast a
    # loaded machine lets them run. Which limit of the submission's control group stops it
    # first varies: the memory limit, or (reclaim at the limit costs CPU time) the module's
    # 5 s of CPU time; both are summed over all its processes, which is the defence.
    Attack("forked_children_sum_memory", "resources", answers(extra=(
        "import os, time\nr, w = os.pipe()\nfor _ in range(6):\n    if os.fork() == 0:\n"
        "        b = bytearray(450 * 2**20)\n        os.write(w, b'x')\n        os.close(w)\n"
        "        time.sleep(30)\n        os._exit(0)\n"
        "os.close(w)\nwhile os.read(r, 6):\n    pass\n\n\n")), None, True,
        "over all its processes",
        "one control group per submission"),
    Attack("fills_tmp", "resources", answers(
        "def rnn_cell_forward(*args):\n"
        "    with open('/tmp/fill', 'wb') as f:\n"
        "        for _ in range(1024):\n            f.write(b'x' * 2**20)\n"), 1, False,
        "no space left on device", "/tmp is a size-limited tmpfs"),
    Attack("fills_the_working_folder", "resources", answers(
        "def rnn_cell_forward(*args):\n"
        "    with open('fill', 'wb') as f:\n"
        "        for _ in range(1024):\n            f.write(b'x' * 2**20)\n"), 1, False,
        "no space left on device", "the working folder is a size-limited tmpfs"),
    Attack("fork_bomb", "resources", answers(extra=(
        "import os\ntry:\n    while True:\n        if os.fork() == 0:\n"
        "            import time\n            time.sleep(60)\n            os._exit(0)\n"
        "except OSError:\n    pass\n\n\n")), 2, True, "process limit",
        "one control group per submission"),
    Attack("thread_bomb", "resources", answers(extra=(
        "import threading, time\ntry:\n    for _ in range(10_000):\n"
        "        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "except RuntimeError:\n    pass\n\n\n")), 2, True, "process limit",
        "threads count against the process limit"),
    Attack("burns_cpu_in_children", "resources", answers(
        CELL_OK + "\n\nimport time\ntime.sleep(8)\n", SEQ_OK + "\n\nimport time\ntime.sleep(8)\n",
        "import os\nfor _ in range(2):\n    if os.fork() == 0:\n        while True:\n"
        "            pass\n\n\n"), None, True, "cpu time",
        "CPU time is counted over the whole group"),
    Attack("sleeps_past_the_limit", "resources", answers(
        "import time\n\n\ndef rnn_cell_forward(*args):\n    time.sleep(1000)\n"), 1, True,
        "celltimeouterror", "each call has the cell's time limit"),
    Attack("huge_result", "resources", answers(
        "def rnn_cell_forward(*args):\n    return np.zeros(60_000_000)\n"), 1, None,
        "resulttoolarge", "said by the kernel; larger messages are dropped by our sockets"),
    Attack("asks_for_input", "resources", answers(
        "def rnn_cell_forward(*args):\n    return input('the answer?')\n"), 1, False,
        "stdin", "the kernel gets no input during a call"),
    # -- malformed files -----------------------------------------------------------------------
    Attack("grade_id_is_a_number", "malformed", raw(_set_meta("grade_id", 7)), 12, False,
           "malformed nbgrader metadata", "exact types; a bad cell is matched by content"),
    Attack("points_is_text", "malformed", raw(_set_meta("points", "ten")), 12, False,
           "malformed nbgrader metadata", "exact types; a bad cell is matched by content"),
    Attack("nbgrader_metadata_is_a_list", "malformed",
           raw(lambda d: _answer_cell(d)["metadata"].update(nbgrader=[1, 2])), 12, False,
           "malformed nbgrader metadata", "exact types; a bad cell is matched by content"),
    Attack("solution_flag_is_text", "malformed", raw(_set_meta("solution", "yes")), 12,
           False, "malformed nbgrader metadata", "exact types"),
    Attack("source_is_a_dict", "malformed",
           raw(lambda d: _answer_cell(d).update(source={"a": 1})), 0, True, "is not text",
           "graded as blank with a reason"),
    Attack("cells_is_not_a_list", "malformed", raw(lambda d: d.update(cells={"0": 1})), 0,
           True, "no list of cells", "graded as blank with a reason"),
    Attack("a_cell_is_a_number", "malformed", raw(lambda d: d["cells"].insert(0, 42)), 0,
           True, "is not a notebook cell", "graded as blank with a reason"),
    Attack("huge_cell", "malformed",
           raw(lambda d: d["cells"].append({"cell_type": "code", "metadata": {},
                                            "source": "#" * 300_000, "outputs": []})),
           0, True, "more than the", "cells have a size limit"),
    Attack("too_many_cells", "malformed",
           raw(lambda d: d["cells"].extend({"cell_type": "markdown", "metadata": {},
                                            "source": "x"} for _ in range(1_500))),
           0, True, "cells, more than", "notebooks have a cell limit"),
    Attack("huge_file", "malformed",
           raw(lambda d: d["metadata"].update(junk="x" * (21 * 2**20))), 0, True,
           "bytes, more than", "files have a size limit"),
    Attack("not_utf8", "malformed", lambda release: b"\xff\xfe{\x00", 0, True,
           "invalid json", "graded as blank with a reason"),
    Attack("deeply_nested_json", "malformed", lambda release: b"[" * 200_000, 0, True,
           "invalid json", "graded as blank with a reason"),
    Attack("many_long_cells_for_repair", "malformed",
           raw(lambda d: {"cells": [{"cell_type": "code", "metadata": {},
                                     "source": (f"# {i}\n" + " \n" * 9_000)}
                                    for i in range(800)],
                          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
           0, None, "", "repair compares bounded prefixes and has a deadline"),
]


def _answer_replaced_by(build: str) -> str:
    """Learner code that lets the harness answer, then replaces the answer's text by what
    ``build`` (source of an expression, with ``real_answer`` bound) makes."""
    return ("import sys, io, json, base64\n"
            "_h = sys.modules['__rnncourse_harness__']\n_real = _h.call\n\n\n"
            "def _call(payload):\n    _real(payload)\n    real_answer = _h.answer\n"
            f"    _h.answer = {build}\n\n\n_h.call = _call\n\n\n")


_ALIASED_ANSWER = (
    "(lambda buf: (np.savez(buf, spec=np.frombuffer(json.dumps("
    "{'t': 'dict', 'k': ['ok', 'result'], 'v': [{'t': 'bool', 'v': True}, "
    "{'t': 'list', 'v': [{'t': 'array', 'i': 0}] * 5000}]}).encode(), np.uint8), "
    "a0=np.zeros(2**20)), base64.b64encode(buf.getvalue()).decode())[1])(io.BytesIO())")
_HUGE_REPR = "type('Big', (), {'__repr__': lambda self: \"'a'\" + \"+'a'\" * 3_000_000})()"
# The floods below run only when a test calls the function (from the kernel's harness), not
# in the learner's own demonstration cells, where they would meet the sandbox's CPU and memory
# limits first, sooner or later depending on the machine's load.
_IN_A_TEST_CALL = ("    import sys\n"
                   "    if sys._getframe(1).f_globals.get('__name__') == "
                   "'__rnncourse_harness__':\n")
_STDIN_FLOOD = (
    "def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):\n" + _IN_A_TEST_CALL +
    "        k = get_ipython().kernel\n"
    "        parent, ident = k.get_parent('shell'), k._parent_ident['shell']\n"
    "        prompt = 'x' * 100_000\n"
    "        for _ in range(3_000):\n"
    "            k.session.send(k.stdin_socket, 'input_request', {'prompt': prompt,\n"
    "                           'password': False}, parent=parent, ident=ident)\n"
    "    return np.tanh(x @ W_xh + h_prev @ W_hh + b_h)\n")
_HIDDEN_SHAPES = ("(6, 2, 3)", "(3, 4, 8)", "(9, 3, 5)", "(12, 2, 1)", "(2, 7)", "(5, 3)",
                  "(4, 6)")

ATTACKS += [
    # -- the kernel's channels during a test's call ------------------------------------------
    Attack("floods_output_during_a_test_call", "channels", answers(
        "def rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):\n" + _IN_A_TEST_CALL +
        "        block = 'x' * 10_000_000\n        for _ in range(150):\n"
        "            sys.stdout.write(block)\n            sys.stdout.flush()\n"
        "    return np.tanh(x @ W_xh + h_prev @ W_hh + b_h)\n", SEQ_OK), 0, True,
        "mb of output", "output during a test's call is read, dropped and counted against a "
        "byte budget; over it the kernel is stopped"),
    # How much of the flood reaches the grader before a call returns depends on timing (the
    # kernel's socket drops what its queue cannot hold), so an early test may pass: any score.
    Attack("floods_the_input_channel_during_a_test_call", "channels",
           answers(_STDIN_FLOOD, SEQ_OK), None, True, "requests for input",
           "requests for input when the call passed no function are dropped within the same "
           "byte budget"),
    Attack("answer_refers_to_one_array_many_times", "channels",
           answers(CELL_OK, SEQ_OK, _answer_replaced_by(_ALIASED_ANSWER)), 0, False,
           "each reference", "the decoder counts the bytes of every reference, aliases "
           "included"),
    Attack("answer_representation_is_a_huge_expression", "channels",
           answers(CELL_OK, SEQ_OK, _answer_replaced_by(_HUGE_REPR)), 0, False,
           "could not be read", "the answer's text must be a quoted base64 text of bounded "
           "length, checked by one regular match: nothing parses it"),
    # -- hidden inputs -----------------------------------------------------------------------
    Attack("raises_the_hidden_inputs_in_a_hidden_case", "hidden-inputs", answers(
        CELL_OK, "def rnn_forward(X, h0, W_xh, W_hh, b_h):\n"
        "    if X.shape not in ((4, 3, 4), (5, 3, 2), (3, 1, 1)):\n"
        "        raise type('Shape_' + '_'.join(map(str, X.shape)), (ValueError,), {})(\n"
        "            f'hidden case X {X.shape} h0 {h0.shape} W_xh {W_xh.shape}')\n"
        + SEQ_OK.split(":\n", 1)[1]), 7, False, "hidden case",
        "in a hidden case no learner text is relayed: a built-in exception's name, no message",
        _HIDDEN_SHAPES + ("hidden case x", "shape_")),
    Attack("quotes_recorded_hidden_inputs_in_a_later_test", "hidden-inputs", answers(
        "seen = []\n\n\ndef rnn_cell_forward(x, h_prev, W_xh, W_hh, b_h):\n"
        "    seen.append(str(x.shape) + str(W_xh.shape))\n"
        "    return np.tanh(x @ W_xh + h_prev @ W_hh + b_h)\n",
        "def rnn_forward(X, h0, W_xh, W_hh, b_h):\n"
        "    raise ValueError('seen: ' + ' '.join(seen))\n"), 5, False,
        "not shown once hidden cases have run",
        "once a hidden case's inputs reached the kernel, no learner text is relayed",
        _HIDDEN_SHAPES + ("seen:",)),
]


def write(attack: Attack, release: nbformat.NotebookNode, dest) -> None:
    made = attack.make(release)
    if isinstance(made, bytes):
        dest.write_bytes(made)
    else:
        dest.write_text(json.dumps(made, indent=1))

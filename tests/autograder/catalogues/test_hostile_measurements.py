"""Hostile submissions of the real assignments linear_rnn and forecasting, graded by ``score``:
no point for a measurement the learner's process makes, and no hidden input in a message.

Each submission is the release with every answer filled from the solution, except what the
attack changes; the submissions of one assignment are graded together (``score_many``).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import nbformat
import pytest

from autograder.commands.score import score_many
from tests.autograder.catalogues.mutations import ROOT, learner_notebook
from tests.autograder.catalogues.mutations import Variant as V

pytestmark = pytest.mark.slow

LOOP = """
Hs = np.empty(b.shape)
h = h0
for t in range(a.shape[0]):
    h = a[t] * h + b[t]
    Hs[t] = h
return Hs
"""
FORGED_TIMEIT = ("class _Timer:\n    @staticmethod\n"
                 "    def repeat(stmt, globals, repeat, number):\n"
                 "        return [1e-4] * repeat\n\n\ntimeit = _Timer()\n\n\n")
SCAN = """
T = a.shape[0]
A, C, shift = a, b, 1
while shift < T:
    C = np.concatenate([C[:shift], A[shift:] * C[:-shift] + C[shift:]])
    A = np.concatenate([A[:shift], A[shift:] * A[:-shift]])
    shift *= 2
Hs = A * h0 + C
"""
LAST_ODD_CASE = "a.shape == (1023, 1, 4)"  # the last hidden case of the odd lengths
TRAIN_TAIL = """
M = X.shape[1]
losses = []
for _ in range(n_epochs):
    order = torch.randperm(M, generator=gen)
    total = 0.0
    for s in range(0, M, batch_size):
        idx = order[s:s + batch_size]
        pred, _ = model(X[:, idx])
        loss = nn.functional.mse_loss(pred, Y[:, idx])
        optimizer.zero_grad()
        loss.backward()
        {after_backward}
        optimizer.step()
        total += loss.item() * len(idx)
    losses.append(total / M)
return losses
"""
RECORDER_BLINDED = (
    "import types\nimport torch.optim.optimizer as _optimizer\n\n"
    "_real_hook = _optimizer.register_optimizer_step_pre_hook\n"
    "_calm = types.SimpleNamespace(param_groups=[{'params': [types.SimpleNamespace(\n"
    "    grad=torch.zeros(1))]}])\n"
    "_optimizer.register_optimizer_step_pre_hook = lambda hook: _real_hook(\n"
    "    lambda opt, args, kwargs: hook(_calm, args, kwargs))\n\n\n")
CLAIMS_GRU = """
def __init__(self, hidden_size):
    super().__init__()

    class GRU(nn.Module):  # a tanh RNN whose class says it is torch.nn.GRU
        def __init__(self, hidden_size):
            super().__init__()
            self.cell = nn.RNNCell(1, hidden_size)

        def forward(self, X, h=None):
            Hs = []
            for x in X:
                h = self.cell(x, h)
                Hs.append(h)
            return torch.stack(Hs), h

    GRU.__module__, GRU.__qualname__ = "torch.nn.modules.rnn", "GRU"
    self.rnn = GRU(hidden_size)
    self.head = nn.Linear(hidden_size, 1)

def forward(self, X, state=None):
    Hs, state = self.rnn(X, state)
    return self.head(Hs), state
"""


def _prepend(nb: nbformat.NotebookNode, grade_id: str, text: str) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = text + cell.source
    return nb


def _train(after_backward: str, optimizer: str = "model.parameters()") -> str:
    return ("gen = torch.Generator().manual_seed(seed)\n"
            + (after_backward.split("|")[0] if "|" in after_backward else "")
            + f"optimizer = torch.optim.Adam({optimizer}, lr=lr)\n"
            + TRAIN_TAIL.format(after_backward=after_backward.split("|")[-1]))


SUBMISSIONS = {
    "linear_rnn": {
        "loop_with_forged_timeit": lambda: _prepend(learner_notebook(
            "linear_rnn", V("h", "linear_rnn", "linear_scan_parallel", None, LOOP)),
            "linear_scan_parallel", FORGED_TIMEIT),
        "loop": lambda: learner_notebook(
            "linear_rnn", V("h", "linear_rnn", "linear_scan_parallel", None, LOOP)),
        "wrong_on_the_last_hidden_case": lambda: learner_notebook("linear_rnn", V(
            "h", "linear_rnn", "linear_scan_parallel", None,
            SCAN + f"return Hs + 1.0 if {LAST_ODD_CASE} else Hs\n")),
        "raises_its_inputs_on_the_last_hidden_case": lambda: learner_notebook("linear_rnn", V(
            "h", "linear_rnn", "linear_scan_parallel", None,
            SCAN + f"if {LAST_ODD_CASE}:\n    raise ValueError(f'T={{a.shape[0]}} "
                   "shape={a.shape}')\nreturn Hs\n")),
    },
    "forecasting": {
        "unclipped_with_a_nan_gradient_dummy": lambda: learner_notebook("forecasting", V(
            "h", "forecasting", "train", None,
            _train("dummy = nn.Parameter(torch.zeros(1))\n"
                   "|dummy.grad = torch.full((1,), float('nan'))",
                   "list(model.parameters()) + [dummy]"))),
        "unclipped_with_the_step_recorder_blinded": lambda: _prepend(learner_notebook(
            "forecasting", V("h", "forecasting", "train", None, _train("pass"))),
            "train", RECORDER_BLINDED),
        "tanh_rnn_claiming_to_be_torch_gru": lambda: learner_notebook(
            "forecasting", V("h", "forecasting", "Forecaster", None, CLAIMS_GRU)),
    },
}


def _grade(assignment: str) -> dict[str, dict]:
    names = list(SUBMISSIONS[assignment])
    with tempfile.TemporaryDirectory(prefix="hostile-measurements-") as tmp:
        paths = []
        for name in names:
            folder = Path(tmp) / name
            folder.mkdir()
            paths.append(folder / f"{assignment}.ipynb")
            nbformat.write(SUBMISSIONS[assignment][name](), paths[-1])
        results = score_many(paths, assignment, ROOT)
    return {n: r.to_dict() for n, r in zip(names, results, strict=True)}


@pytest.fixture(scope="module")
def linear_rnn() -> dict[str, dict]:
    return _grade("linear_rnn")


@pytest.fixture(scope="module")
def forecasting() -> dict[str, dict]:
    return _grade("forecasting")


def _test(result: dict, name: str) -> dict:
    return next(t for t in result["tests"] if t["name"] == name)


def test_forging_the_kernels_timeit_earns_nothing(linear_rnn):
    """Does a loop with the kernel's timeit replaced get exactly what the same loop gets
    without the forgery (no test reads a time measured in the learner's kernel)?"""
    forged, honest = linear_rnn["loop_with_forged_timeit"], linear_rnn["loop"]
    assert forged["score"] == honest["score"]
    assert ([(t["name"], t["points"]) for t in forged["tests"]]
            == [(t["name"], t["points"]) for t in honest["tests"]])


def test_a_failing_hidden_case_is_named_without_its_inputs(linear_rnn):
    test = _test(linear_rnn["wrong_on_the_last_hidden_case"],
                 "test_linear_scan_parallel_odd_lengths")
    assert not test["passed"]
    assert ("hidden case 6 of 6 failed: Hs of linear_scan_parallel differs"
            in test["message"]), test["message"]
    assert not re.search(r"1023|T=|time index", test["message"]), test["message"]


def test_the_learners_error_on_a_hidden_case_is_not_quoted(linear_rnn):
    """Is an error message the learner's code builds from a hidden case's inputs left out?"""
    test = _test(linear_rnn["raises_its_inputs_on_the_last_hidden_case"],
                 "test_linear_scan_parallel_odd_lengths")
    assert not test["passed"]
    assert "hidden case 6 of 6 failed: your code raised ValueError" in test["message"]
    assert "1023" not in test["message"], test["message"]


@pytest.mark.parametrize("name", ["unclipped_with_a_nan_gradient_dummy",
                                  "unclipped_with_the_step_recorder_blinded"])
def test_unclipped_training_loses_the_training_points_whatever_it_does_to_measurements(
        forecasting, name):
    test = _test(forecasting[name], "test_train")
    assert test["points"] == 0, test
    assert "no clipping" in test["message"], test["message"]


def test_a_class_named_like_torch_gru_is_judged_by_what_it_computes(forecasting):
    test = _test(forecasting["tanh_rnn_claiming_to_be_torch_gru"], "test_forecaster")
    assert test["points"] == 0, test
    assert "not those of one recurrent layer" in test["message"], test["message"]

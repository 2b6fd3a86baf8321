"""Specifications of the checks of the assignment ``char_lm`` (autograder.keys.char_lm)."""

from __future__ import annotations

import copy

import nbformat
import numpy as np
import pytest
import torch

from autograder.keys import char_lm as k
from autograder.keys import checks
from tests.autograder.catalogues.mutations import ROOT, solution_bodies

NOTEBOOK = ROOT / "solutions" / "char_lm" / "char_lm.ipynb"


def _cell(grade_id: str) -> str:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return next(c.source for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


@pytest.fixture(scope="module")
def solution() -> dict:
    """The notebook's reference functions, defined from its solution cells."""
    ns = {"np": np}
    for name in solution_bodies("char_lm"):
        exec(_cell(name), ns)  # noqa: S102  (the course's own solution code)
    return ns


def _message(check, *args, **kw) -> str:
    with pytest.raises(AssertionError) as err:
        check(*args, **kw)
    return str(err.value)


# ---------------------------------------------------------------- references

def test_embedding_references_equal_numpy_indexing_and_add_at():
    rng = np.random.default_rng(0)
    tokens, E, dX = rng.integers(0, 3, (5, 4)), rng.standard_normal((3, 2)), rng.standard_normal(
        (5, 4, 2))
    np.testing.assert_array_equal(k.embed_reference(tokens, E), E[tokens])
    dE = np.zeros((3, 2))
    np.add.at(dE, tokens, dX)
    np.testing.assert_allclose(k.embed_backward_reference(dX, tokens, 3), dE, atol=1e-12)


def test_cross_entropy_reference_is_the_masked_mean_and_its_gradient():
    logits, targets, mask = k._ce_problem(0, 5, 4, 6, padded=True, scale=1.0)
    loss, dz = k.cross_entropy_reference(logits, targets, mask)
    logp = torch.log_softmax(torch.tensor(logits), -1).numpy()
    nll = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    assert loss == pytest.approx(nll[mask].mean(), rel=1e-12)
    assert np.all(dz[~mask] == 0)
    assert np.allclose(dz.sum(axis=-1), 0, atol=1e-12)


def test_train_reference_equals_the_notebook_training(solution):
    tokens = np.random.default_rng(3).integers(0, 6, size=50)
    params = k.init_params(6, 3, 4, 0)
    mine = copy.deepcopy(params)
    losses = solution["train_char_lm"](tokens, mine, 5, 4, 3, 0.05, 0.5, 0)
    exp_losses, exp_params = k.train_reference(tokens, params, 5, 4, 3, 0.05, 0.5, 0)
    np.testing.assert_allclose(losses, exp_losses, rtol=1e-10)
    for n in k.PARAMS:
        np.testing.assert_allclose(mine[n], exp_params[n], rtol=1e-8, atol=1e-12)


def test_chi2_survival_equals_scipy_stats():
    from scipy.stats import chi2

    for x, df in [(11.07, 5), (0.5, 1), (300.0, 20), (3.0, 30), (40.0, 23)]:
        assert k.chi2_sf(x, df) == pytest.approx(chi2.sf(x, df), rel=1e-10, abs=1e-300)


def test_validation_loss_equals_the_torch_cross_entropy():
    params = k.init_params(5, 3, 4, 1)
    ids = np.random.default_rng(1).integers(0, 5, size=41)
    P = {n: torch.tensor(a) for n, a in params.items()}
    idx = np.arange(8)[:, None] + 8 * np.arange(5)[None, :]
    h, logits = torch.zeros(5, 4, dtype=torch.float64), []
    for x in P["E"][torch.tensor(ids[idx])]:
        h = torch.tanh(x @ P["W_xh"] + h @ P["W_hh"] + P["b_h"])
        logits.append(h @ P["W_hy"] + P["b_y"])
    expected = torch.nn.functional.cross_entropy(torch.stack(logits).reshape(-1, 5),
                                                 torch.tensor(ids[idx + 1]).reshape(-1))
    assert k.validation_loss(params, ids, 8) == pytest.approx(float(expected), rel=1e-12)


def test_the_notebook_demonstration_reads_the_text_and_parameters_the_grader_reads():
    ns = {"np": np}
    exec(_cell("char_lm_parameters"), ns)  # noqa: S102
    assert (ns["VAL_PLAY"], ns["TRAIN_CHARS"], ns["VAL_CHARS"]) == (
        k.VAL_PLAY, k.TRAIN_CHARS, k.VAL_CHARS)
    for n, a in ns["init_params"](7, 3, 4, 0).items():
        np.testing.assert_array_equal(a, k.init_params(7, 3, 4, 0)[n])


def test_the_learning_test_trains_a_smaller_model_than_the_demonstration():
    """Does the last test train something else than the demonstration did just before it
    (in JupyterLab the learner would otherwise wait for the same training twice)?"""
    ns = {"np": np}
    exec(_cell("char_lm_parameters"), ns)  # noqa: S102
    test = _cell("test_train_char_lm_learns")
    assert "check_char_lm_learns(" in test
    assert "H=32" in test and "n_steps=200" in test
    assert ns["H"] * ns["N_STEPS"] >= 4 * 32 * 200


# ---------------------------------------------------------------- checks accept the solution

def test_solution_passes_every_fast_check(solution):
    k.check_embed_forward(solution["embed_forward"])
    k.check_embed_backward(solution["embed_backward"])
    for what, padded, scale in [("loss", False, 1.0), ("dlogits", False, 1.0),
                                ("both", True, 1.0), ("both", True, 1e4)]:
        k.check_softmax_cross_entropy(solution["softmax_cross_entropy"], what, padded=padded,
                                      scale=scale)
    k.check_sample_next(solution["sample_next"], temperature=0.5, seed=1)
    k.check_sample_next_greedy(solution["sample_next"])
    k.check_train_char_lm(solution["train_char_lm"])


def test_gumbel_max_sampling_passes():
    def gumbel(logits, temperature, rng):
        if temperature == 0:
            return logits.argmax(axis=-1)
        return np.argmax(logits / temperature + rng.gumbel(size=logits.shape), axis=-1)

    for t in (1.0, 0.5, 2.0):
        k.check_sample_next(gumbel, temperature=t, seed=0)


def test_sampling_that_divides_the_logits_in_place_loses_only_the_in_place_test():
    """logits /= temperature: the draws are right (graded on their own); the in-place test,
    at a temperature other than 1, names logits."""
    def sample_next(logits, temperature, rng):
        if temperature == 0:
            return logits.argmax(axis=-1)
        logits /= temperature
        return np.argmax(logits + rng.gumbel(size=logits.shape), axis=-1)

    k.check_sample_next(sample_next, temperature=0.5, seed=0)
    k.check_sample_next_greedy(sample_next, seed=0)
    msg = _message(checks.check_arguments_unchanged, k.check_sample_next_greedy, sample_next,
                   seed=0, temperatures=(1e-4,))
    assert "sample_next changed its argument logits in place" in msg


def test_the_in_place_tests_pass_the_solution(solution):
    checks.check_arguments_unchanged(k.check_embed_forward, solution["embed_forward"])
    checks.check_arguments_unchanged(k.check_embed_backward, solution["embed_backward"])
    checks.check_arguments_unchanged(k.check_softmax_cross_entropy,
                                     solution["softmax_cross_entropy"], "both", padded=True)
    checks.check_arguments_unchanged(k.check_sample_next_greedy, solution["sample_next"],
                                     temperatures=(1e-4,))


# ---------------------------------------------------------------- checks reject and name mistakes

def test_buffered_fancy_index_in_embed_backward_is_named():
    def buffered(dX, tokens, V):
        dE = np.zeros((V, dX.shape[-1]))
        dE[tokens] += dX
        return dE

    assert "repeated ids overwrite each other" in _message(k.check_embed_backward, buffered)


def test_batch_first_embedding_gets_a_shape_hint():
    assert "time-major" in _message(k.check_embed_forward, lambda tokens, E: E[tokens.T])


def test_loss_averaged_over_padding_is_named(solution):
    def over_padding(logits, targets, mask):
        loss, d = solution["softmax_cross_entropy"](logits, targets, mask)
        n = mask.sum()
        return loss * n / mask.size, d * n / mask.size

    assert "padding included" in _message(k.check_softmax_cross_entropy, over_padding, "both",
                                          padded=True)


def test_naive_softmax_overflow_is_reported():
    def naive(logits, targets, mask):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # it overflows
            e = np.exp(logits)
            p = e / e.sum(axis=-1, keepdims=True)
            onehot = np.eye(logits.shape[-1])[targets]
            n = mask.sum()
            loss = float(-np.sum(np.log(np.sum(p * onehot, -1)) * mask) / n)
            return loss, (p - onehot) * mask[..., None] / n

    k.check_softmax_cross_entropy(naive, "both", padded=True)  # fine on small logits
    assert "non-finite" in _message(k.check_softmax_cross_entropy, naive, "both", scale=1e3)


def test_temperature_ignored_is_named():
    def no_temperature(logits, temperature, rng):
        p = np.exp(logits - logits.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        return (p.cumsum(axis=-1) < rng.random((len(p), 1))).sum(axis=-1)

    assert "temperature ignored" in _message(k.check_sample_next, no_temperature,
                                             temperature=0.5)


def test_global_random_state_is_rejected():
    def global_state(logits, temperature, rng):
        return np.argmax(logits / temperature + np.random.gumbel(size=logits.shape), axis=-1)

    assert "same seed" in _message(k.check_sample_next, global_state, temperature=1.0)


def test_temperature_zero_must_give_the_argmax():
    def divide(logits, temperature, rng):
        with np.errstate(all="ignore"):
            return np.argmax(logits / temperature + rng.gumbel(size=logits.shape), axis=-1)

    assert "temperature 0" in _message(k.check_sample_next_greedy, divide)


def test_learning_check_passes_the_solution_and_fails_a_frozen_embedding(solution, capsys):
    """The small model of the last test: the solution gets below the threshold (and the
    message prints its loss); the embedding left untrained does not."""
    k.check_char_lm_learns(solution["train_char_lm"], threshold=2.6)
    assert "validation loss" in capsys.readouterr().out
    ns = dict(solution)
    exec(_cell("train_char_lm").replace('"E": embed_backward(g["dX"], inputs, V)',  # noqa: S102
                                        '"E": np.zeros_like(params["E"])'), ns)
    assert "above 2.6" in _message(k.check_char_lm_learns, ns["train_char_lm"], threshold=2.6)


def test_training_without_clipping_is_named(solution):
    ns = dict(solution)
    ns["clip_grad_norm"] = lambda grads, max_norm: (grads, 0.0)
    exec(_cell("train_char_lm"), ns)  # noqa: S102  (now calling the clip-free function)
    assert "not clipped" in _message(k.check_train_char_lm, ns["train_char_lm"])

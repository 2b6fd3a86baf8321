"""Specifications of the graders' diagnostic checks (autograder.keys.checks and friends)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograder.keys import checks
from autograder.keys import reference as ref


def _np_steps(steps, cell=False, pair=False, **flags):
    """A 'learner' function built on a reference variant (correct when no flag is set)."""
    def fn(*args):
        if cell:
            args = (args[0][None],) + args[1:]
        out = steps(*[ref.as_t(a) for a in args], **flags)
        if pair:
            Hs, Cs = out[0].detach().numpy(), out[1].detach().numpy()
            return (Hs[0], Cs[0]) if cell else (Hs, Cs[-1])
        out = out.detach().numpy()
        return out[0] if cell else out
    return fn


def _message(check, fn, *args, **kw) -> str:
    with pytest.raises(AssertionError) as err:
        check(fn, *args, **kw)
    return str(err.value)


# ---------------------------------------------------------------- references


@pytest.mark.parametrize("seed", [0, 1])
def test_step_by_step_references_equal_the_torch_modules(seed):
    a = checks.draw(seed, X=(5, 3, 2), h0=(3, 4), c0=(3, 4), W=(2, 4), U=(4, 4), b=(4,),
                    Wl=(2, 16), Ul=(4, 16), bl=(16,), Wg=(2, 12), Ug=(4, 12), bx=(12,),
                    bh=(12,))
    t = {k: ref.as_t(v) for k, v in a.items()}
    np.testing.assert_allclose(ref.rnn_steps(t["X"], t["h0"], t["W"], t["U"], t["b"]),
                               ref.rnn(a["X"], a["h0"], a["W"], a["U"], a["b"]), atol=1e-12)
    Hs, Cs = ref.lstm_steps(t["X"], t["h0"], t["c0"], t["Wl"], t["Ul"], t["bl"])
    eH, ec = ref.lstm(a["X"], a["h0"], a["c0"], a["Wl"], a["Ul"], a["bl"])
    np.testing.assert_allclose(Hs, eH, atol=1e-12)
    np.testing.assert_allclose(Cs[-1], ec, atol=1e-12)
    np.testing.assert_allclose(
        ref.gru_steps(t["X"], t["h0"], t["Wg"], t["Ug"], t["bx"], t["bh"]),
        ref.gru(a["X"], a["h0"], a["Wg"], a["Ug"], a["bx"], a["bh"]), atol=1e-12)


def test_autograd_of_the_steps_equals_the_torch_module_gradients():
    a = checks.draw(0, dHs=(4, 2, 3), X=(4, 2, 5), h0=(2, 3), W_xh=(5, 3), W_hh=(3, 3),
                    b_h=(3,))
    args = [a[k] for k in ("X", "h0", "W_xh", "W_hh", "b_h")]
    expected = ref.rnn(*args, dHs=a["dHs"])
    got = ref.autograd_of(ref.rnn_steps, a["dHs"], dict(zip(checks._RNN_KEYS, args, strict=True)),
                          checks._RNN_KEYS)
    for k in expected:
        np.testing.assert_allclose(got[k], expected[k], atol=1e-12)


def test_torch_clip_reference_returns_copies_and_the_total_norm():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0], [4.0]])}
    clipped, total = ref.clip_grad_norm(grads, 1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(clipped["a"], [3 / (5 + 1e-6), 0.0])
    assert grads["a"][0] == 3.0


# ---------------------------------------------------------------- correct code passes


def test_correct_implementations_pass_every_check():
    checks.check_rnn_cell_forward(_np_steps(ref.rnn_steps, cell=True), B=2, D=3, H=4)
    checks.check_rnn_forward(_np_steps(ref.rnn_steps), T=3, B=2, D=3, H=4)
    checks.check_lstm_cell_forward(_np_steps(ref.lstm_steps, cell=True, pair=True))
    checks.check_lstm_forward(_np_steps(ref.lstm_steps, pair=True))
    checks.check_gru_cell_forward(_np_steps(ref.gru_steps, cell=True))
    checks.check_gru_forward(_np_steps(ref.gru_steps))
    checks.check_rnn_backward(lambda dHs, *a: ref.rnn(*a, dHs=dHs), "dW_hh")
    checks.check_lstm_backward(lambda dHs, *a: ref.lstm(*a, dHs=dHs), "dc0")
    checks.check_gru_backward(lambda dHs, *a: ref.gru(*a, dHs=dHs), "db_h")
    checks.check_clip_grad_norm(ref.clip_grad_norm, max_norm=1.0)


def test_a_rounding_level_difference_passes():
    rnn = _np_steps(ref.rnn_steps)
    checks.check_rnn_forward(lambda *a: rnn(*a) * (1 + 1e-12))


# ---------------------------------------------------------------- generic messages


def test_wrong_shape_names_expected_and_got_and_explains_known_shapes():
    msg = _message(checks.check_rnn_forward, lambda X, h0, *a: np.zeros((X.shape[0] + 1,)
                                                                        + h0.shape))
    assert "shape (5, 3, 5), expected (4, 3, 5)" in msg and "h_0 is included" in msg


def test_torch_tensor_is_rejected_with_how_to_convert():
    rnn = _np_steps(ref.rnn_steps)
    msg = _message(checks.check_rnn_forward, lambda *a: torch.tensor(rnn(*a)))
    assert "torch.Tensor" in msg and "NumPy array" in msg


def test_missing_return_is_reported():
    assert "None" in _message(checks.check_rnn_forward, lambda *a: None)


def test_float32_result_is_rejected():
    rnn = _np_steps(ref.rnn_steps)
    assert "float32" in _message(checks.check_rnn_forward,
                                 lambda *a: rnn(*a).astype(np.float32))


def test_non_finite_values_are_reported_with_their_index():
    rnn = _np_steps(ref.rnn_steps)

    def fn(*a):
        out = rnn(*a)
        out[2, 1, 0] = np.nan
        return out

    msg = _message(checks.check_rnn_forward, fn)
    assert "non-finite values (first at index (2, 1, 0), step t = 3 (h_3, Hs[2]))" in msg


def _cs231n_lstm_step_backward(dh, dc, x, h_prev, c_prev, W_x, W_h, b):
    """CS231n's usual step: the incoming ``dc`` updated in place (``dnext_c += ...``)."""
    H = h_prev.shape[1]
    a = x @ W_x + h_prev @ W_h + b
    i, f, o = (ref.sigmoid(a[:, k * H:(k + 1) * H]) for k in (0, 1, 3))
    g = np.tanh(a[:, 2 * H:3 * H])
    tc = np.tanh(f * c_prev + i * g)
    dc += dh * o * (1 - tc ** 2)
    da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                         dc * i * (1 - g ** 2), dh * tc * o * (1 - o)], axis=1)
    return {"dx": da @ W_x.T, "dh_prev": da @ W_h.T, "dc_prev": dc * f, "dW_x": x.T @ da,
            "dW_h": h_prev.T @ da, "db": da.sum(axis=0)}


@pytest.mark.parametrize("key", checks.LSTM_STEP_KEYS)
def test_a_value_test_grades_the_values_of_a_function_that_changes_an_argument_in_place(key):
    """Does CS231n's lstm_step_backward (dc += ... on its argument) pass every gradient test?"""
    checks.check_lstm_step_backward(_cs231n_lstm_step_backward, key)


def test_the_in_place_test_names_the_function_and_the_argument_it_changed():
    msg = _message(checks.check_arguments_unchanged, checks.check_lstm_step_backward,
                   _cs231n_lstm_step_backward, "dx")
    assert msg.startswith("_cs231n_lstm_step_backward changed its argument dc in place: the "
                          "caller's dc is not its own to change")
    assert msg.count("\n") <= 2


def test_the_in_place_test_passes_a_function_that_leaves_its_arguments_as_they_were():
    checks.check_arguments_unchanged(checks.check_lstm_step_backward, ref.lstm_step_grads, "dx")
    checks.check_arguments_unchanged(checks.check_clip_grad_norm, ref.clip_grad_norm, 1.0)


def test_the_in_place_test_ignores_wrong_values():
    """A wrong value is the value tests' to grade: the in-place test passes it."""
    rnn = _np_steps(ref.rnn_steps, transpose_W_hh=True)
    checks.check_arguments_unchanged(checks.check_rnn_forward, rnn)
    with pytest.raises(AssertionError):
        checks.check_rnn_forward(rnn)


def test_the_in_place_test_fails_when_the_function_raises():
    def broken(*args):
        raise ValueError("no")

    with pytest.raises(ValueError):
        checks.check_arguments_unchanged(checks.check_rnn_forward, broken)


def test_the_in_place_test_fails_when_the_function_raises_an_assertion_of_its_own():
    """An AssertionError raised by the learner's code is not a wrong value to pass over."""
    def asserts(*args):
        raise AssertionError("my own check")

    with pytest.raises(AssertionError, match="my own check"):
        checks.check_arguments_unchanged(checks.check_rnn_forward, asserts)


def test_the_in_place_test_of_a_dict_of_arrays_says_a_copy_of_the_dict_is_not_enough():
    def clip_in_place(grads, max_norm):
        _, total = ref.clip_grad_norm(grads, max_norm)
        for g in grads.copy().values():
            g *= min(1.0, max_norm / (total + 1e-6))
        return grads, total

    checks.check_clip_grad_norm(clip_in_place, 1.0)  # the values are right
    msg = _message(checks.check_arguments_unchanged, checks.check_clip_grad_norm,
                   clip_in_place, 1.0)
    assert "changed its argument grads in place" in msg
    assert "a copy of the dict still holds the same arrays" in msg


def test_the_reference_is_computed_on_the_graders_arrays_not_the_ones_the_function_changed():
    """Hostile: a function that zeroes its inputs after computing the right answer must not
    make the reference (computed after the call) agree with a wrong answer, nor fail a right
    one: the function only ever sees copies."""
    rnn = _np_steps(ref.rnn_steps)

    def rnn_forward(X, h0, W_xh, W_hh, b_h):
        out = rnn(X, h0, W_xh, W_hh, b_h)
        for a in (X, h0, W_xh, W_hh, b_h):
            a[...] = 0.0
        return out

    checks.check_rnn_forward(rnn_forward)
    msg = _message(checks.check_arguments_unchanged, checks.check_rnn_forward, rnn_forward)
    assert "changed its argument X in place" in msg


def test_call_passes_shared_arguments_as_they_are_and_copies_the_others():
    """A model the function uses (``shared``) is the object itself; data are copies."""
    model, x = object(), np.zeros(3)
    seen = checks.call(lambda m, a: (m, a), model, x, shared=(0,))
    assert seen[0] is model and seen[1] is not x


def test_the_in_place_test_refuses_a_check_that_makes_no_watched_call():
    with pytest.raises(RuntimeError, match="no call to watch"):
        checks.check_arguments_unchanged(lambda fn: None, ref.rnn_cell)


# ---------------------------------------------------------------- large pre-activations


def _exp_tanh(a):
    return (np.exp(a) - np.exp(-a)) / (np.exp(a) + np.exp(-a))


def _exp_sigmoid(a):
    return np.exp(a) / (1 + np.exp(a))


def _naive_sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _rnn_cell(tanh):
    return lambda x, h_prev, W_xh, W_hh, b_h: tanh(x @ W_xh + h_prev @ W_hh + b_h)


def _lstm_cell(sigmoid, tanh=np.tanh):
    def fn(x, h_prev, c_prev, W_x, W_h, b):
        a = np.split(x @ W_x + h_prev @ W_h + b, 4, axis=1)
        i, f, o = sigmoid(a[0]), sigmoid(a[1]), sigmoid(a[3])
        c = f * c_prev + i * tanh(a[2])
        return o * tanh(c), c
    return fn


def test_the_large_case_reaches_pre_activations_beyond_800():
    a = checks.enlarged(checks.draw(0, x=(3, 4), h_prev=(3, 5), W_xh=(4, 5), W_hh=(5, 5),
                                    b_h=(5,)), "x", True)
    pre = a["x"] @ a["W_xh"] + a["h_prev"] @ a["W_hh"] + a["b_h"]
    assert pre.max() > 800 and pre.min() < -800


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_an_exponential_tanh_passes_ordinary_inputs_and_fails_large_ones_naming_overflow():
    fn = _rnn_cell(_exp_tanh)
    checks.check_rnn_cell_forward(fn)
    msg = _message(checks.check_rnn_cell_forward, fn, large=True)
    assert msg.startswith("h is not finite (first at index")
    assert "for large pre-activations" in msg and "overflows beyond about 710" in msg
    assert msg.count("\n") <= 2


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_np_tanh_and_a_naive_but_finite_sigmoid_pass_the_large_case():
    """1 / (1 + exp(-a)) overflows to inf inside but its value is right: it passes."""
    checks.check_rnn_cell_forward(_rnn_cell(np.tanh), large=True)
    checks.check_lstm_cell_forward(_lstm_cell(_naive_sigmoid), large=True)
    checks.check_lstm_cell_forward(_lstm_cell(ref.sigmoid), large=True)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_an_exponential_sigmoid_fails_the_large_lstm_case_naming_overflow():
    fn = _lstm_cell(_exp_sigmoid)
    checks.check_lstm_cell_forward(fn)
    assert "overflows beyond about 710" in _message(checks.check_lstm_cell_forward, fn,
                                                    large=True)


@pytest.mark.parametrize("check", [checks.check_rnn_forward, checks.check_lstm_forward,
                                   checks.check_gru_forward, checks.check_gru_cell_forward])
def test_correct_sequences_and_gru_cells_pass_the_large_case(check):
    fn = {checks.check_rnn_forward: _np_steps(ref.rnn_steps),
          checks.check_lstm_forward: _np_steps(ref.lstm_steps, pair=True),
          checks.check_gru_forward: _np_steps(ref.gru_steps),
          checks.check_gru_cell_forward: _np_steps(ref.gru_steps, cell=True)}[check]
    check(fn, large=True)


def test_the_keys_sigmoid_is_finite_for_any_input():
    z = np.array([-1000.0, -30.0, 0.0, 2.0, 1000.0])
    np.testing.assert_allclose(ref.sigmoid(z), np.exp(-np.logaddexp(0, -z)), atol=1e-15)


def test_first_divergent_time_step_and_error_are_reported():
    rnn = _np_steps(ref.rnn_steps)

    def fn(*a):
        out = rnn(*a)
        out[2:] += 0.5
        return out

    msg = _message(checks.check_rnn_forward, fn)
    assert "first at step t = 3 (h_3, Hs[2])" in msg and "max abs error 5.00e-01" in msg
    assert msg.count("\n") <= 1


@pytest.mark.parametrize("check, wrap", [
    (checks.check_lstm_forward, lambda out: (out[0] + _from_third_step(out[0]), out[1])),
    (checks.check_gru_forward, lambda out: out + _from_third_step(out)),
])
def test_a_wrong_state_is_named_as_the_notebook_numbers_it(check, wrap):
    """Hs[2] holds h_3 (Hs holds h_1 .. h_T): does the message say h_3, the state the learner
    checks, and not "t=2", which reads as h_2?"""
    steps = ref.lstm_steps if check is checks.check_lstm_forward else ref.gru_steps
    right = _np_steps(steps, pair=check is checks.check_lstm_forward)
    msg = _message(check, lambda *a: wrap(right(*a)))
    assert "first at step t = 3 (h_3, Hs[2])" in msg and "t=2" not in msg


def _from_third_step(Hs: np.ndarray) -> np.ndarray:
    """0.5 added to h_3 .. h_T (Hs[2:])."""
    d = np.zeros_like(Hs)
    d[2:] = 0.5
    return d


def test_a_wrong_input_gradient_names_the_step_of_its_input():
    """dX[1] is the gradient of x_2: is that what a wrong dX[1] is called?"""
    def fn(dHs, *args):
        out = {k: v.copy() for k, v in ref.lstm(*args, dHs=dHs).items()}
        out["dX"][1:] += 0.5
        return out

    msg = _message(checks.check_lstm_backward, fn, "dX")
    assert "first at step t = 2 (the gradient of x_2, dX[1])" in msg


def test_counted_lists_are_numbered_from_one():
    """A list of losses, one per epoch: is losses[2] "epoch 3"?"""
    got = np.array([1.0, 2.0, 3.5])
    with pytest.raises(AssertionError, match=r"first at epoch 3 \(losses\[2\]\)"):
        checks.check_array("losses", got, np.array([1.0, 2.0, 3.0]), time_axis=True,
                           at=checks.at_count("epoch", "losses"))


# ---------------------------------------------------------------- named mistakes


@pytest.mark.parametrize("flags, words", [
    ({"carry": False}, "not carried"),
    ({"include_h0": True}, "h_0 .. h_{T-1}"),
    ({"transpose_W_hh": True}, "W_hh transposed"),
    ({"bias_times": 2}, "bias added twice"),
    ({"act": lambda z: z}, "tanh missing"),
])
def test_rnn_forward_mistakes_are_named(flags, words):
    assert words in _message(checks.check_rnn_forward, _np_steps(ref.rnn_steps, **flags))


@pytest.mark.parametrize("flags, words", [
    ({"order": "ifog"}, "wrong gate order: the blocks of W_x, W_h, b read as i, f, o, g"),
    ({"swap_acts": "g"}, "sigmoid/tanh swapped"),
    ({"h_from_c_prev": True}, "h computed from the previous cell state"),
    ({"carry_c": False}, "cell state not carried"),
])
def test_lstm_forward_mistakes_are_named(flags, words):
    fn = _np_steps(ref.lstm_steps, pair=True, **flags)
    assert words in _message(checks.check_lstm_forward, fn)


@pytest.mark.parametrize("flags, words", [
    ({"flip_update": True}, "update convention flipped"),
    ({"cho_reset": True}, "Cho's reset placement"),
    ({"order": "zrn"}, "wrong gate order"),
])
def test_gru_mistakes_are_named(flags, words):
    assert words in _message(checks.check_gru_cell_forward,
                             _np_steps(ref.gru_steps, cell=True, **flags))


def _grad_fn(steps, names, **flags):
    def fn(dHs, *args):
        return ref.autograd_of(steps, dHs, dict(zip(names, args, strict=True)), names, **flags)
    return fn


def test_rnn_backward_without_dh_next_is_named():
    fn = _grad_fn(ref.rnn_steps, checks._RNN_KEYS, detach_h=True)
    assert "dh from the next step not accumulated" in _message(checks.check_rnn_backward, fn,
                                                               "dW_hh")


def test_rnn_backward_tanh_derivative_at_the_wrong_state_is_named():
    fn = _grad_fn(ref.rnn_steps, checks._RNN_KEYS, tanh_grad_at_prev=True)
    msg = _message(checks.check_rnn_backward, fn, "dX")
    assert "tanh' taken at the previous step's state" in msg


def test_lstm_backward_without_dc_next_is_named():
    fn = _grad_fn(ref.lstm_steps, checks._LSTM_KEYS, detach_c=True)
    assert "dc from the next step not carried" in _message(checks.check_lstm_backward, fn,
                                                           "dc0")


def test_lstm_backward_carrying_neither_dh_nor_dc_back_is_named_as_that_combination():
    fn = _grad_fn(ref.lstm_steps, checks._LSTM_KEYS, detach_h=True, detach_c=True)
    for key in checks._LSTM_KEYS.values():
        msg = _message(checks.check_lstm_backward, fn, key)
        assert "neither dh nor dc from the next step carried back" in msg, (key, msg)


def test_lstm_forward_carrying_neither_state_is_named_as_that_combination():
    fn = _np_steps(ref.lstm_steps, pair=True, carry_h=False, carry_c=False)
    assert "neither state carried" in _message(checks.check_lstm_forward, fn)


def test_missing_gradient_key_is_reported():
    msg = _message(checks.check_rnn_backward, lambda *a: {"dX": None}, "dW_hh")
    assert "no key 'dh0'" in msg


def test_per_tensor_clipping_is_named():
    def per_tensor(grads, max_norm):
        total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
        return {k: g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6))
                for k, g in grads.items()}, total

    assert "per-tensor instead of global clipping" in _message(checks.check_clip_grad_norm,
                                                               per_tensor, 1.0)


def test_forward_difference_is_named_by_the_gradient_checker():
    def forward_difference(f, x, eps=1e-5):
        g = np.zeros(x.shape)
        for i in np.ndindex(x.shape):
            xp = x.copy()
            xp[i] += eps
            g[i] = (f(xp) - f(x)) / eps
        return g

    assert "one-sided (forward) difference" in _message(checks.check_numerical_gradient,
                                                        forward_difference)


# ---------------------------------------------------------------- one step of the backward pass


def _lstm_step_args(seed=0, B=3, D=4, H=5):
    a = checks.draw(seed, dh=(B, H), dc=(B, H), x=(B, D), h_prev=(B, H), c_prev=(B, H),
                    W_x=(D, 4 * H), W_h=(H, 4 * H), b=(4 * H,))
    return [a[k] for k in ("dh", "dc", "x", "h_prev", "c_prev", "W_x", "W_h", "b")]


def _gru_step_args(seed=0, B=3, D=4, H=5):
    a = checks.draw(seed, dh=(B, H), x=(B, D), h_prev=(B, H), W_x=(D, 3 * H), W_h=(H, 3 * H),
                    b_x=(3 * H,), b_h=(3 * H,))
    return [a[k] for k in ("dh", "x", "h_prev", "W_x", "W_h", "b_x", "b_h")]


@pytest.mark.parametrize("seed", [0, 1])
def test_hand_written_step_gradients_equal_autograd_through_the_torch_cells(seed):
    args = _lstm_step_args(seed)
    expected, got = ref.lstm_cell_grads(*args), ref.lstm_step_grads(*args)
    assert set(got) == set(expected) == set(checks.LSTM_STEP_KEYS)
    for k in expected:
        np.testing.assert_allclose(got[k], expected[k], atol=1e-12)
    args = _gru_step_args(seed)
    expected, got = ref.gru_cell_grads(*args), ref.gru_step_grads(*args)
    assert set(got) == set(expected) == set(checks.GRU_STEP_KEYS)
    for k in expected:
        np.testing.assert_allclose(got[k], expected[k], atol=1e-12)


def test_lstm_step_dc_is_the_gradient_of_c_alone():
    """With dh = 0 the only path is c: dc_prev = dc * f, and the output gate gets nothing."""
    args = _lstm_step_args()
    args[0] = np.zeros_like(args[0])
    g = ref.lstm_cell_grads(*args)
    H = args[3].shape[1]
    np.testing.assert_allclose(g["db"][3 * H:], 0.0, atol=1e-15)


def test_correct_step_backward_passes_every_check():
    for key in checks.LSTM_STEP_KEYS:
        checks.check_lstm_step_backward(ref.lstm_step_grads, key, B=2, D=3, H=4, seed=1)
    for key in checks.GRU_STEP_KEYS:
        checks.check_gru_step_backward(ref.gru_step_grads, key, B=2, D=3, H=4, seed=1)


def _named_somewhere(check, grads, keys, label, **flags) -> list[str]:
    def fn(*args):
        return grads(*args, **flags)
    messages = []
    for key in keys:
        try:
            check(fn, key)
        except AssertionError as err:
            messages.append(str(err))
    assert messages, f"no check failed for {flags}"
    assert any(label in m for m in messages), messages
    return messages


@pytest.mark.parametrize("mistake", sorted(ref.LSTM_STEP_MISTAKES))
def test_lstm_step_backward_mistakes_are_named(mistake):
    _named_somewhere(checks.check_lstm_step_backward, ref.lstm_step_grads,
                     checks.LSTM_STEP_KEYS, ref.LSTM_STEP_MISTAKES[mistake], mistake=mistake)


@pytest.mark.parametrize("mistake", sorted(ref.GRU_STEP_MISTAKES))
def test_gru_step_backward_mistakes_are_named(mistake):
    _named_somewhere(checks.check_gru_step_backward, ref.gru_step_grads,
                     checks.GRU_STEP_KEYS, ref.GRU_STEP_MISTAKES[mistake], mistake=mistake)


def test_step_backward_gate_orders_are_named():
    _named_somewhere(checks.check_lstm_step_backward, ref.lstm_step_grads,
                     checks.LSTM_STEP_KEYS, "wrong gate order i, f, o, g", order="ifog")
    _named_somewhere(checks.check_gru_step_backward, ref.gru_step_grads,
                     checks.GRU_STEP_KEYS, "wrong gate order z, r, n", order="zrn")


def test_step_bias_gradient_left_per_example_gets_a_shape_hint():
    def per_example(*args):
        g = ref.lstm_step_grads(*args)
        return {**g, "db": np.tile(g["db"] / 3, (3, 1))}
    msg = _message(checks.check_lstm_step_backward, per_example, "db")
    assert "shape (3, 20)" in msg and "sum the gate gradients over the batch" in msg


def test_step_result_without_a_key_is_reported():
    def no_dc_prev(*args):
        g = ref.lstm_step_grads(*args)
        del g["dc_prev"]
        return g
    msg = _message(checks.check_lstm_step_backward, no_dc_prev, "dc_prev")
    assert "no key 'dc_prev'" in msg


def test_a_time_axis_without_an_array_name_counts_steps_from_one():
    """A hand case named "Hs for T=5, ...": is its index 2 step t = 3, without the name
    pasted before [2]?"""
    with pytest.raises(AssertionError, match=r"first at step t = 3 \(index 2\)"):
        checks.check_array("Hs for T=3", np.array([0.0, 0.0, 1.0]), np.zeros(3),
                           time_axis=True)

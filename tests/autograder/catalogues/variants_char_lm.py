"""Catalogue of the assignment ``char_lm``: wrong and alternative correct implementations of
each graded function (an edit of the reference code, as in ``mutations.py``)."""

from __future__ import annotations

from tests.autograder.catalogues.mutations import Variant as V

A = "char_lm"

MUTANTS = [
    # embed_forward
    V("embed_forward_one_based_ids", A, "embed_forward", "E[tokens]", "E[tokens - 1]"),
    V("embed_forward_batch_first", A, "embed_forward", "E[tokens]", "E[tokens.T]"),
    V("embed_forward_one_hot_without_E", A, "embed_forward", "E[tokens]",
      "np.eye(E.shape[0])[tokens]"),
    V("embed_forward_float32", A, "embed_forward", "E[tokens]",
      "E[tokens].astype(np.float32)"),
    V("embed_forward_first_step_everywhere", A, "embed_forward", "E[tokens]",
      "np.broadcast_to(E[tokens[0]], tokens.shape + E.shape[1:]).copy()"),
    V("embed_forward_scaled_by_sqrt_D", A, "embed_forward", "E[tokens]",
      "E[tokens] / np.sqrt(E.shape[1])"),
    V("embed_forward_flat_rows", A, "embed_forward", "E[tokens]", "E[tokens.ravel()]"),
    V("embed_forward_time_reversed", A, "embed_forward", "E[tokens]", "E[tokens[::-1]]"),
    V("embed_forward_E_transposed", A, "embed_forward", "E[tokens]",
      "E.T[:, tokens]"),
    # embed_backward
    V("embed_backward_buffered_fancy_index", A, "embed_backward",
      "np.add.at(dE, tokens, dX)", "dE[tokens] += dX"),
    V("embed_backward_assign_not_add", A, "embed_backward",
      "np.add.at(dE, tokens, dX)", "dE[tokens] = dX"),
    V("embed_backward_mean_per_id", A, "embed_backward", "np.add.at(dE, tokens, dX)",
      "np.add.at(dE, tokens, dX)\n"
      "dE /= np.maximum(np.bincount(tokens.ravel(), minlength=V), 1)[:, None]"),
    V("embed_backward_divided_by_T_B", A, "embed_backward", "return dE",
      "return dE / tokens.size"),
    V("embed_backward_transposed", A, "embed_backward", "return dE", "return dE.T"),
    V("embed_backward_float32", A, "embed_backward", "dE = np.zeros((V, dX.shape[-1]))",
      "dE = np.zeros((V, dX.shape[-1]), dtype=np.float32)"),
    V("embed_backward_last_step_only", A, "embed_backward", "np.add.at(dE, tokens, dX)",
      "np.add.at(dE, tokens[-1], dX[-1])"),
    V("embed_backward_first_sequence_only", A, "embed_backward",
      "np.add.at(dE, tokens, dX)", "np.add.at(dE, tokens[:, 0], dX[:, 0])"),
    V("embed_backward_counts_not_gradients", A, "embed_backward",
      "np.add.at(dE, tokens, dX)", "np.add.at(dE, tokens, np.ones_like(dX))"),
    # softmax_cross_entropy
    V("ce_averaged_over_padding", A, "softmax_cross_entropy", "n = mask.sum()",
      "n = mask.size"),
    V("ce_loss_ignores_mask", A, "softmax_cross_entropy", "np.sum(nll * mask)",
      "np.sum(nll)"),
    V("ce_gradient_ignores_mask", A, "softmax_cross_entropy",
      "dlogits *= mask[..., None] / n", "dlogits /= n"),
    V("ce_no_max_subtraction", A, "softmax_cross_entropy",
      "z = logits - logits.max(axis=-1, keepdims=True)", "z = logits"),
    V("ce_log_of_underflowed_softmax", A, "softmax_cross_entropy",
      "logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))",
      "logp = np.log(np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True))"),
    V("ce_loss_summed", A, "softmax_cross_entropy", "loss = float(np.sum(nll * mask) / n)",
      "loss = float(np.sum(nll * mask))"),
    V("ce_gradient_not_divided_by_n", A, "softmax_cross_entropy",
      "dlogits *= mask[..., None] / n", "dlogits *= mask[..., None]"),
    V("ce_gradient_sign_flipped", A, "softmax_cross_entropy", "return loss, dlogits",
      "return loss, -dlogits"),
    V("ce_softmax_over_time_axis", A, "softmax_cross_entropy",
      "np.exp(z).sum(axis=-1, keepdims=True)", "np.exp(z).sum(axis=0, keepdims=True)"),
    V("ce_loss_per_position", A, "softmax_cross_entropy",
      "loss = float(np.sum(nll * mask) / n)", "loss = nll * mask / n"),
    V("ce_gradient_without_one_hot", A, "softmax_cross_entropy",
      "axis=-1) - 1, axis=-1)", "axis=-1) - 0, axis=-1)"),
    # sample_next
    V("sample_temperature_ignored", A, "sample_next", "z = logits / temperature",
      "z = logits"),
    V("sample_temperature_multiplied", A, "sample_next", "z = logits / temperature",
      "z = logits * temperature"),
    V("sample_no_max_subtraction", A, "sample_next",
      "p = np.exp(z - z.max(axis=-1, keepdims=True))", "p = np.exp(z)"),
    V("sample_temperature_after_softmax", A, "sample_next", None, """
if temperature == 0:
    return logits.argmax(axis=-1)
p = np.exp(logits - logits.max(axis=-1, keepdims=True))
p = p / p.sum(axis=-1, keepdims=True) / temperature
cdf = np.cumsum(p, axis=-1)
u = rng.random((logits.shape[0], 1))
return np.minimum((cdf < u).sum(axis=-1), logits.shape[-1] - 1)
"""),
    V("sample_always_greedy", A, "sample_next", None, "return logits.argmax(axis=-1)"),
    V("sample_uniform_ids", A, "sample_next",
      "u = rng.random((logits.shape[0], 1))\n"
      "return np.minimum((cdf < u).sum(axis=-1), logits.shape[-1] - 1)",
      "return rng.integers(0, logits.shape[-1], size=logits.shape[0])"),
    V("sample_one_draw_for_the_batch", A, "sample_next",
      "u = rng.random((logits.shape[0], 1))", "u = rng.random()"),
    V("sample_global_np_random", A, "sample_next", "u = rng.random((logits.shape[0], 1))",
      "u = np.random.random((logits.shape[0], 1))"),
    V("sample_inverse_cdf_off_by_one", A, "sample_next", "(cdf < u).sum(axis=-1)",
      "(cdf < u).sum(axis=-1) + 1"),
    V("sample_temperature_zero_not_special", A, "sample_next",
      "if temperature == 0:\n    return logits.argmax(axis=-1)\n", ""),
    V("sample_float_ids", A, "sample_next",
      "return np.minimum((cdf < u).sum(axis=-1), logits.shape[-1] - 1)",
      "return np.minimum((cdf < u).sum(axis=-1), logits.shape[-1] - 1).astype(float)"),
    V("sample_normalised_over_batch", A, "sample_next",
      "p / p.sum(axis=-1, keepdims=True)", "p / p.sum(axis=0, keepdims=True)"),
    # train_char_lm
    V("train_no_clipping", A, "train_char_lm", "grads, _ = clip_grad_norm(grads, max_norm)",
      "pass"),
    V("train_clipped_grads_discarded", A, "train_char_lm",
      "grads, _ = clip_grad_norm(grads, max_norm)", "_ = clip_grad_norm(grads, max_norm)"),
    V("train_targets_not_shifted", A, "train_char_lm", "tokens[idx + 1]", "tokens[idx]"),
    V("train_embedding_frozen", A, "train_char_lm",
      '"E": embed_backward(g["dX"], inputs, V)', '"E": np.zeros_like(params["E"])'),
    V("train_adam_without_bias_correction", A, "train_char_lm",
      "m_hat, v_hat = m[k] / (1 - beta1 ** step), v[k] / (1 - beta2 ** step)",
      "m_hat, v_hat = m[k], v[k]"),
    V("train_same_batch_every_step", A, "train_char_lm", "starts = rng.integers(",
      "starts = np.random.default_rng(seed).integers("),
    V("char_lm_train_sgd_instead_of_adam", A, "train_char_lm",
      "params[k] -= lr * m_hat / (np.sqrt(v_hat) + eps)", "params[k] -= lr * grads[k]"),
    V("train_readout_only", A, "train_char_lm", "g = rnn_backward(dlogits @",
      "g = rnn_backward(0 * dlogits @"),
    V("train_params_rebound_not_in_place", A, "train_char_lm",
      "params[k] -= lr * m_hat / (np.sqrt(v_hat) + eps)",
      "params = {**params, k: params[k] - lr * m_hat / (np.sqrt(v_hat) + eps)}"),
    V("train_start_range_off_by_one", A, "train_char_lm",
      "rng.integers(0, len(tokens) - seq_len, size=batch_size)",
      "rng.integers(0, len(tokens) - seq_len - 1, size=batch_size)"),
    V("train_state_carried_between_batches", A, "train_char_lm",
      "grads, _ = clip_grad_norm(grads, max_norm)",
      "grads, _ = clip_grad_norm(grads, max_norm)\n    h0 = Hs[-1]"),
]

ALTERNATIVES = [
    # The logits divided by the temperature in place (logits /= temperature): the draws are
    # right; it loses the in-place test of sample_next, only.
    V("sample_divides_logits_in_place", A, "sample_next",
      "z = logits / temperature", "logits /= temperature\nz = logits",
      fails=("test_sample_next_leaves_logits_unchanged",)),
    # The logits shifted in place (logits -= max), a common way to write it: the values are
    # right; it loses the in-place test of softmax_cross_entropy, only.
    V("softmax_ce_logits_shifted_in_place", A, "softmax_cross_entropy",
      "z = logits - logits.max(axis=-1, keepdims=True)",
      "logits -= logits.max(axis=-1, keepdims=True)\nz = logits",
      fails=("test_softmax_cross_entropy_leaves_arguments_unchanged",)),
    # embed_forward
    V("embed_forward_one_hot_matmul", A, "embed_forward", "E[tokens]",
      "np.eye(E.shape[0])[tokens] @ E"),
    V("embed_forward_np_take", A, "embed_forward", "E[tokens]", "np.take(E, tokens, axis=0)"),
    # embed_backward
    V("embed_backward_one_hot_einsum", A, "embed_backward", None,
      'return np.einsum("tbv,tbd->vd", np.eye(V)[tokens], dX)'),
    V("embed_backward_flat_matmul", A, "embed_backward", None, """
onehot = np.eye(V)[tokens.ravel()]  # (T * B, V)
return onehot.T @ dX.reshape(-1, dX.shape[-1])
"""),
    V("embed_backward_weighted_bincount", A, "embed_backward", None, """
ids = tokens.ravel()
return np.stack([np.bincount(ids, weights=dX[..., j].ravel(), minlength=V)
                 for j in range(dX.shape[-1])], axis=1)
"""),
    # softmax_cross_entropy
    V("ce_scipy_log_softmax", A, "softmax_cross_entropy", None, """
from scipy.special import log_softmax
logp = log_softmax(logits, axis=-1)
w = mask / mask.sum()  # (T, B): 1/|M| at the unmasked positions, 0 elsewhere
onehot = np.eye(logits.shape[-1])[targets]
loss = float(-np.sum(w[..., None] * onehot * logp))
return loss, w[..., None] * (np.exp(logp) - onehot)
"""),
    V("ce_unmasked_rows_only", A, "softmax_cross_entropy", None, """
z = logits[mask]  # (n, V): the unmasked positions only
y = targets[mask]
z = z - z.max(axis=1, keepdims=True)
lse = np.log(np.exp(z).sum(axis=1))
n = len(y)
loss = float(np.mean(lse - z[np.arange(n), y]))
g = np.exp(z - lse[:, None])
g[np.arange(n), y] -= 1
dlogits = np.zeros_like(logits)
dlogits[mask] = g / n
return loss, dlogits
"""),
    # sample_next
    V("sample_gumbel_max", A, "sample_next", None, """
if temperature == 0:
    return logits.argmax(axis=-1)
return np.argmax(logits / temperature + rng.gumbel(size=logits.shape), axis=-1)
"""),
    V("sample_choice_per_row", A, "sample_next", None, """
if temperature == 0:
    return logits.argmax(axis=-1)
z = logits / temperature
z = z - z.max(axis=-1, keepdims=True)
p = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
return np.array([rng.choice(len(row), p=row) for row in p])
"""),
    V("sample_searchsorted_per_row", A, "sample_next", None, """
if temperature == 0:
    return logits.argmax(axis=-1)
cdf = np.cumsum(np.exp((logits - logits.max(axis=-1, keepdims=True)) / temperature), axis=-1)
u = rng.random(logits.shape[0]) * cdf[:, -1]
ids = np.array([np.searchsorted(c, x, side="right") for c, x in zip(cdf, u)])
return np.minimum(ids, logits.shape[-1] - 1)
"""),
    V("sample_exponential_race", A, "sample_next", None, """
if temperature == 0:
    return logits.argmax(axis=-1)
z = logits / temperature
p = np.exp(z - z.max(axis=-1, keepdims=True))
return np.argmin(rng.exponential(size=logits.shape) / p, axis=-1)
"""),
    # train_char_lm
    V("train_adam_folded_step_size", A, "train_char_lm",
      "m_hat, v_hat = m[k] / (1 - beta1 ** step), v[k] / (1 - beta2 ** step)\n"
      "        params[k] -= lr * m_hat / (np.sqrt(v_hat) + eps)",
      "c2 = np.sqrt(1 - beta2 ** step)\n"
      "        params[k] -= lr * c2 / (1 - beta1 ** step) * m[k] / (np.sqrt(v[k]) + eps * c2)"),
    V("train_readout_grads_by_flat_matmul", A, "train_char_lm",
      'np.einsum("tbh,tbv->hv", Hs, dlogits)',
      "Hs.reshape(-1, H).T @ dlogits.reshape(-1, V)"),
    V("train_sliding_window_batches", A, "train_char_lm",
      "idx = starts + np.arange(seq_len)[:, None]\n"
      "    inputs, targets = tokens[idx], tokens[idx + 1]",
      "w = np.lib.stride_tricks.sliding_window_view(tokens, seq_len + 1)[starts].T\n"
      "    inputs, targets = w[:-1], w[1:]"),
]

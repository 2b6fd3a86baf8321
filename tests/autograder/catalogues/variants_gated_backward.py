"""Catalogue of the assignment gated_backward: wrong and alternative correct implementations
of the step-level backward passes and of the sequence parts that call them."""

from __future__ import annotations

from tests.autograder.catalogues.mutations import Variant as V

A = "gated_backward"

MUTANTS = [
    # lstm_step_backward
    V("lstm_step_forget_grad_missing_c_prev", A, "lstm_step_backward",
      "dc_total * c_prev * f * (1 - f)", "dc_total * f * (1 - f)"),
    V("lstm_step_tanh_grad_of_c", A, "lstm_step_backward", None, """
H = h_prev.shape[1]
a = x @ W_x + h_prev @ W_h + b
i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
c = f * c_prev + i * g
tc = np.tanh(c)
dc_total = dc + dh * o * (1 - c ** 2)
da = np.concatenate([dc_total * g * i * (1 - i), dc_total * c_prev * f * (1 - f),
                     dc_total * i * (1 - g ** 2), dh * tc * o * (1 - o)], axis=1)
return {"dx": da @ W_x.T, "dh_prev": da @ W_h.T, "dc_prev": dc_total * f,
        "dW_x": x.T @ da, "dW_h": h_prev.T @ da, "db": da.sum(axis=0)}
"""),
    V("lstm_step_dc_prev_missing_f", A, "lstm_step_backward",
      '"dc_prev": dc_total * f', '"dc_prev": dc_total'),
    # a wrong dc_prev (none carried back) makes lstm_backward's values those of "dc from the
    # next step not carried back": its tests blame lstm_step_backward first, and name no
    # mistake of lstm_backward (issue 22)
    V("lstm_step_dc_prev_zero", A, "lstm_step_backward",
      '"dc_prev": dc_total * f', '"dc_prev": 0 * dc_total * f',
      names="your lstm_step_backward fails its own tests: fix it first; this may be its error"),
    V("lstm_step_gate_order_ifog", A, "lstm_step_backward", None, """
H = h_prev.shape[1]
a = x @ W_x + h_prev @ W_h + b
i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
o, g = sigmoid(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
tc = np.tanh(f * c_prev + i * g)
dc_total = dc + dh * o * (1 - tc ** 2)
da = np.concatenate([dc_total * g * i * (1 - i), dc_total * c_prev * f * (1 - f),
                     dh * tc * o * (1 - o), dc_total * i * (1 - g ** 2)], axis=1)
return {"dx": da @ W_x.T, "dh_prev": da @ W_h.T, "dc_prev": dc_total * f,
        "dW_x": x.T @ da, "dW_h": h_prev.T @ da, "db": da.sum(axis=0)}
"""),
    V("lstm_step_incoming_dc_ignored", A, "lstm_step_backward",
      "dc_total = dc + dh * o", "dc_total = dh * o"),
    V("lstm_step_h_path_into_c_missing", A, "lstm_step_backward",
      "dc_total = dc + dh * o * (1 - tc ** 2)", "dc_total = dc"),
    V("lstm_step_o_grad_uses_c", A, "lstm_step_backward", None, """
H = h_prev.shape[1]
a = x @ W_x + h_prev @ W_h + b
i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
c = f * c_prev + i * g
tc = np.tanh(c)
dc_total = dc + dh * o * (1 - tc ** 2)
da = np.concatenate([dc_total * g * i * (1 - i), dc_total * c_prev * f * (1 - f),
                     dc_total * i * (1 - g ** 2), dh * c * o * (1 - o)], axis=1)
return {"dx": da @ W_x.T, "dh_prev": da @ W_h.T, "dc_prev": dc_total * f,
        "dW_x": x.T @ da, "dW_h": h_prev.T @ da, "db": da.sum(axis=0)}
"""),
    V("lstm_step_input_gate_sigmoid_grad_missing", A, "lstm_step_backward",
      "dc_total * g * i * (1 - i)", "dc_total * g * i"),
    V("lstm_step_candidate_differentiated_as_sigmoid", A, "lstm_step_backward",
      "dc_total * i * (1 - g ** 2)", "dc_total * i * g * (1 - g)"),
    V("lstm_step_db_mean_over_batch", A, "lstm_step_backward",
      '"db": da.sum(axis=0)', '"db": da.mean(axis=0)'),
    V("lstm_step_dW_x_transposed", A, "lstm_step_backward",
      '"dW_x": x.T @ da', '"dW_x": da.T @ x'),
    # gru_step_backward
    V("gru_step_update_convention_flipped", A, "gru_step_backward", None, """
H = h_prev.shape[1]
ax, ah = x @ W_x + b_x, h_prev @ W_h + b_h
r = sigmoid(ax[:, :H] + ah[:, :H])
z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
dan = dh * z * (1 - n ** 2)
dar = dan * ah[:, 2 * H:] * r * (1 - r)
daz = dh * (n - h_prev) * z * (1 - z)
dax = np.concatenate([dar, daz, dan], axis=1)
dah = np.concatenate([dar, daz, dan * r], axis=1)
return {"dx": dax @ W_x.T, "dh_prev": dh * (1 - z) + dah @ W_h.T, "dW_x": x.T @ dax,
        "dW_h": h_prev.T @ dah, "db_x": dax.sum(axis=0), "db_h": dah.sum(axis=0)}
"""),
    V("gru_step_direct_path_uses_1_minus_z", A, "gru_step_backward",
      '"dh_prev": dh * z + dah', '"dh_prev": dh * (1 - z) + dah'),
    V("gru_step_direct_path_missing", A, "gru_step_backward",
      '"dh_prev": dh * z + dah @ W_h.T', '"dh_prev": dah @ W_h.T'),
    V("gru_step_reset_factor_missing", A, "gru_step_backward",
      "dah = np.concatenate([dar, daz, dan * r], axis=1)",
      "dah = np.concatenate([dar, daz, dan], axis=1)"),
    V("gru_step_reset_outside_the_W_hn_product", A, "gru_step_backward",
      '"dh_prev": dh * z + dah @ W_h.T',
      '"dh_prev": dh * z + dah[:, :2 * H] @ W_h[:, :2 * H].T + (dan @ W_h[:, 2 * H:].T) * r'),
    V("gru_step_reset_grad_without_b_hn", A, "gru_step_backward",
      "dar = dan * ah[:, 2 * H:] * r * (1 - r)",
      "dar = dan * (h_prev @ W_h[:, 2 * H:]) * r * (1 - r)"),
    V("gru_step_update_grad_sign", A, "gru_step_backward",
      "daz = dh * (h_prev - n)", "daz = dh * (n - h_prev)"),
    V("gru_step_db_h_missing_r_for_n", A, "gru_step_backward",
      '"db_h": dah.sum(axis=0)', '"db_h": dax.sum(axis=0)'),
    V("gru_step_db_x_with_r_for_n", A, "gru_step_backward",
      '"db_x": dax.sum(axis=0)', '"db_x": dah.sum(axis=0)'),
    V("gru_step_candidate_tanh_grad_missing", A, "gru_step_backward",
      "dan = dh * (1 - z) * (1 - n ** 2)", "dan = dh * (1 - z)"),
    V("gru_step_gate_order_zrn", A, "gru_step_backward",
      "r = sigmoid(ax[:, :H] + ah[:, :H])\nz = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])",
      "z = sigmoid(ax[:, :H] + ah[:, :H])\nr = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])"),
    # lstm_backward and gru_backward, calling the step functions
    V("lstm_backward_dc_next_not_carried", A, "lstm_backward",
      "g = lstm_step_backward(dHs[t] + dh_next, dc_next,",
      "g = lstm_step_backward(dHs[t] + dh_next, 0 * dc_next,"),
    V("lstm_backward_neither_dh_nor_dc_carried", A, "lstm_backward",
      "g = lstm_step_backward(dHs[t] + dh_next, dc_next,",
      "g = lstm_step_backward(dHs[t], np.zeros_like(dc_next),",
      names="neither dh nor dc from the next step carried back"),
    V("lstm_backward_dh_next_not_accumulated", A, "lstm_backward",
      "lstm_step_backward(dHs[t] + dh_next,", "lstm_step_backward(dHs[t],"),
    V("lstm_backward_states_off_by_one", A, "lstm_backward",
      "h_prev, c_prev = states[t]", "h_prev, c_prev = states[min(t + 1, len(states) - 1)]"),
    V("lstm_backward_weight_grads_overwritten", A, "lstm_backward",
      'dW_x, dW_h, db = dW_x + g["dW_x"], dW_h + g["dW_h"], db + g["db"]',
      'dW_x, dW_h, db = g["dW_x"], g["dW_h"], g["db"]'),
    V("gru_backward_dh_next_not_accumulated", A, "gru_backward",
      "gru_step_backward(dHs[t] + dh_next,", "gru_step_backward(dHs[t],"),
    V("gru_backward_h0_as_every_h_prev", A, "gru_backward",
      "h_prevs.append(h)", "h_prevs.append(h0)"),
    V("gru_backward_dX_reversed_in_time", A, "gru_backward",
      'dX[t] = g["dx"]', 'dX[X.shape[0] - 1 - t] = g["dx"]'),
]

ALTERNATIVES = [
    # CS231n's step: the incoming dc updated in place (dnext_c += ...). The values are right
    # (full marks on every gradient); it loses the in-place test of lstm_step_backward, only.
    V("lstm_step_cs231n_dc_updated_in_place", A, "lstm_step_backward",
      "dc_total = dc + dh * o * (1 - tc ** 2)",
      "dc += dh * o * (1 - tc ** 2)\ndc_total = dc",
      fails=("test_lstm_step_backward_leaves_arguments_unchanged",)),
    V("lstm_step_split_gates", A, "lstm_step_backward", None, """
ai, af, ag, ao = np.split(x @ W_x + h_prev @ W_h + b, 4, axis=1)
i, f, g, o = sigmoid(ai), sigmoid(af), np.tanh(ag), sigmoid(ao)
c = f * c_prev + i * g
dc_t = dh * o * (1 - np.tanh(c) ** 2) + dc
d = {"i": dc_t * g, "f": dc_t * c_prev, "g": dc_t * i, "o": dh * np.tanh(c)}
da = np.hstack([d["i"] * i * (1 - i), d["f"] * f * (1 - f), d["g"] * (1 - g * g),
                d["o"] * o * (1 - o)])
return {"dx": da @ W_x.T, "dh_prev": da @ W_h.T, "dc_prev": f * dc_t,
        "dW_x": np.einsum("bd,bk->dk", x, da), "dW_h": np.einsum("bh,bk->hk", h_prev, da),
        "db": np.einsum("bk->k", da)}
"""),
    V("lstm_step_blockwise_matmuls", A, "lstm_step_backward", None, """
H = h_prev.shape[1]
blocks = [slice(k * H, (k + 1) * H) for k in range(4)]
pre = [x @ W_x[:, s] + h_prev @ W_h[:, s] + b[s] for s in blocks]
i, f, o = sigmoid(pre[0]), sigmoid(pre[1]), sigmoid(pre[3])
g = np.tanh(pre[2])
tc = np.tanh(f * c_prev + i * g)
dc_total = dc + dh * o * (1 - tc ** 2)
das = [dc_total * g * i * (1 - i), dc_total * c_prev * f * (1 - f),
       dc_total * i * (1 - g ** 2), dh * tc * o * (1 - o)]
dx = sum(da @ W_x[:, s].T for da, s in zip(das, blocks))
dh_prev = sum(da @ W_h[:, s].T for da, s in zip(das, blocks))
dW_x, dW_h, db = np.zeros_like(W_x), np.zeros_like(W_h), np.zeros_like(b)
for da, s in zip(das, blocks):
    dW_x[:, s], dW_h[:, s], db[s] = x.T @ da, h_prev.T @ da, da.sum(axis=0)
return {"dx": dx, "dh_prev": dh_prev, "dc_prev": dc_total * f, "dW_x": dW_x,
        "dW_h": dW_h, "db": db}
"""),
    V("gru_step_separate_blocks", A, "gru_step_backward", None, """
H = h_prev.shape[1]
R, Z, N = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)
r = sigmoid(x @ W_x[:, R] + b_x[R] + h_prev @ W_h[:, R] + b_h[R])
z = sigmoid(x @ W_x[:, Z] + b_x[Z] + h_prev @ W_h[:, Z] + b_h[Z])
hn = h_prev @ W_h[:, N] + b_h[N]
n = np.tanh(x @ W_x[:, N] + b_x[N] + r * hn)
dn = dh * (1 - z)
dz = dh * (h_prev - n)
dan = dn * (1 - n * n)
dr = dan * hn
dar, daz = dr * r * (1 - r), dz * z * (1 - z)
dhn = dan * r
dW_x, dW_h = np.zeros_like(W_x), np.zeros_like(W_h)
db_x, db_h = np.zeros_like(b_x), np.zeros_like(b_h)
for s, gx, gh in ((R, dar, dar), (Z, daz, daz), (N, dan, dhn)):
    dW_x[:, s], db_x[s] = x.T @ gx, gx.sum(axis=0)
    dW_h[:, s], db_h[s] = h_prev.T @ gh, gh.sum(axis=0)
dx = dar @ W_x[:, R].T + daz @ W_x[:, Z].T + dan @ W_x[:, N].T
dh_prev = dh * z + dar @ W_h[:, R].T + daz @ W_h[:, Z].T + dhn @ W_h[:, N].T
return {"dx": dx, "dh_prev": dh_prev, "dW_x": dW_x, "dW_h": dW_h, "db_x": db_x, "db_h": db_h}
"""),
    V("gru_step_interpolation_form", A, "gru_step_backward", None, """
ar, az, an = np.split(x @ W_x + b_x, 3, axis=1)
hr, hz, hn = np.split(h_prev @ W_h + b_h, 3, axis=1)
r, z = sigmoid(ar + hr), sigmoid(az + hz)
n = np.tanh(an + r * hn)
# h = n + z * (h_prev - n)
dn_pre = dh * (1 - z) * (1 - n ** 2)
dgates_x = np.hstack([dn_pre * hn * r * (1 - r), dh * (h_prev - n) * z * (1 - z), dn_pre])
dgates_h = dgates_x * np.hstack([np.ones_like(r), np.ones_like(z), r])
return {"dx": dgates_x @ W_x.T, "dh_prev": dgates_h @ W_h.T + z * dh,
        "dW_x": x.T @ dgates_x, "dW_h": h_prev.T @ dgates_h,
        "db_x": dgates_x.sum(0), "db_h": dgates_h.sum(0)}
"""),
    V("lstm_backward_without_the_step_function", A, "lstm_backward", None, """
H = h0.shape[1]
h, c, cache = h0, c0, []
for x in X:
    a = x @ W_x + h @ W_h + b
    i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
    g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
    c_new = f * c + i * g
    tc = np.tanh(c_new)
    cache.append((x, h, c, i, f, g, o, tc))
    h, c = o * tc, c_new
dX = np.zeros_like(X)
dW_x, dW_h, db = np.zeros_like(W_x), np.zeros_like(W_h), np.zeros_like(b)
dh_next, dc_next = np.zeros_like(h0), np.zeros_like(c0)
for t in reversed(range(X.shape[0])):
    x, h_prev, c_prev, i, f, g, o, tc = cache[t]
    dh = dHs[t] + dh_next
    dc = dc_next + dh * o * (1 - tc ** 2)
    da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                         dc * i * (1 - g ** 2), dh * tc * o * (1 - o)], axis=1)
    dX[t] = da @ W_x.T
    dW_x += x.T @ da
    dW_h += h_prev.T @ da
    db += da.sum(axis=0)
    dh_next = da @ W_h.T
    dc_next = dc * f
return {"dX": dX, "dh0": dh_next, "dc0": dc_next, "dW_x": dW_x, "dW_h": dW_h, "db": db}
"""),
    V("lstm_backward_grads_in_a_dict", A, "lstm_backward", None, """
H = h0.shape[1]
hs, cs = [h0], [c0]
for x in X:
    a = x @ W_x + hs[-1] @ W_h + b
    cs.append(sigmoid(a[:, H:2 * H]) * cs[-1] + sigmoid(a[:, :H]) * np.tanh(a[:, 2 * H:3 * H]))
    hs.append(sigmoid(a[:, 3 * H:]) * np.tanh(cs[-1]))
out = {"dX": np.zeros_like(X), "dW_x": np.zeros_like(W_x), "dW_h": np.zeros_like(W_h),
       "db": np.zeros_like(b)}
dh, dc = np.zeros_like(h0), np.zeros_like(c0)
for t in range(X.shape[0] - 1, -1, -1):
    g = lstm_step_backward(dh + dHs[t], dc, X[t], hs[t], cs[t], W_x, W_h, b)
    out["dX"][t] = g["dx"]
    for k in ("dW_x", "dW_h", "db"):
        out[k] += g[k]
    dh, dc = g["dh_prev"], g["dc_prev"]
out["dh0"], out["dc0"] = dh, dc
return out
"""),
    V("gru_backward_without_the_step_function", A, "gru_backward", None, """
H = h0.shape[1]
h, cache = h0, []
for x in X:
    ax, ah = x @ W_x + b_x, h @ W_h + b_h
    r = sigmoid(ax[:, :H] + ah[:, :H])
    z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
    n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
    cache.append((x, h, r, z, n, ah[:, 2 * H:]))
    h = (1 - z) * n + z * h
dX = np.zeros_like(X)
dW_x, dW_h = np.zeros_like(W_x), np.zeros_like(W_h)
db_x, db_h = np.zeros_like(b_x), np.zeros_like(b_h)
dh_next = np.zeros_like(h0)
for t in reversed(range(X.shape[0])):
    x, h_prev, r, z, n, ah_n = cache[t]
    dh = dHs[t] + dh_next
    dan = dh * (1 - z) * (1 - n ** 2)
    dar = dan * ah_n * r * (1 - r)
    daz = dh * (h_prev - n) * z * (1 - z)
    dax = np.concatenate([dar, daz, dan], axis=1)
    dah = np.concatenate([dar, daz, dan * r], axis=1)
    dX[t] = dax @ W_x.T
    dW_x += x.T @ dax
    db_x += dax.sum(axis=0)
    dW_h += h_prev.T @ dah
    db_h += dah.sum(axis=0)
    dh_next = dh * z + dah @ W_h.T
return {"dX": dX, "dh0": dh_next, "dW_x": dW_x, "dW_h": dW_h, "db_x": db_x, "db_h": db_h}
"""),
    V("gru_backward_preallocated_states", A, "gru_backward", None, """
T, B, _ = X.shape
H = h0.shape[1]
Hs = np.empty((T + 1, B, H))
Hs[0] = h0
for t in range(T):
    ax, ah = X[t] @ W_x + b_x, Hs[t] @ W_h + b_h
    r = sigmoid(ax[:, :H] + ah[:, :H])
    z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
    n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
    Hs[t + 1] = n + z * (Hs[t] - n)
steps = [None] * T
dh = np.zeros((B, H))
for t in range(T - 1, -1, -1):
    steps[t] = gru_step_backward(dHs[t] + dh, X[t], Hs[t], W_x, W_h, b_x, b_h)
    dh = steps[t]["dh_prev"]
out = {k: sum(s[k] for s in steps) for k in ("dW_x", "dW_h", "db_x", "db_h")}
return {"dX": np.stack([s["dx"] for s in steps]), "dh0": dh, **out}
"""),
]

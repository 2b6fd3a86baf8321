"""Catalogue of the assignment ``linear_rnn``: wrong and alternative correct implementations of
each graded function (an edit of the reference code, as in ``mutations.py``)."""

from __future__ import annotations

from tests.autograder.catalogues.mutations import Variant as V

A = "linear_rnn"
STEP = "h = a[t] * h + b[t]"
ROUND_C = "C = np.concatenate([C[:shift], A[shift:] * C[:-shift] + C[shift:]])"
ROUND_A = "A = np.concatenate([A[:shift], A[shift:] * A[:-shift]])"
SCAN = "return linear_scan_parallel(1 - z, z * h_tilde, h0)"
BEST = "best = min(best, time.perf_counter() - start)"

MUTANTS = [
    # linear_scan_sequential
    V("linear_seq_returns_h0_to_hT-1", A, "linear_scan_sequential", f"    {STEP}\n    Hs[t] = h",
      f"    Hs[t] = h\n    {STEP}"),
    V("linear_seq_h0_ignored", A, "linear_scan_sequential", "h = h0", "h = np.zeros_like(h0)"),
    V("linear_seq_b_before_decay", A, "linear_scan_sequential", STEP, "h = a[t] * (h + b[t])"),
    V("linear_seq_b_shifted_by_one", A, "linear_scan_sequential", STEP,
      "h = a[t] * h + (b[t - 1] if t > 0 else 0)"),
    V("linear_seq_a_b_swapped", A, "linear_scan_sequential", STEP, "h = b[t] * h + a[t]"),
    V("linear_seq_state_not_carried", A, "linear_scan_sequential", STEP, "h = a[t] * h0 + b[t]"),
    V("linear_seq_last_state_only", A, "linear_scan_sequential", "return Hs", "return h"),
    V("linear_seq_float32", A, "linear_scan_sequential", "np.empty(b.shape)",
      "np.empty(b.shape, dtype=np.float32)"),
    V("linear_seq_batch_first", A, "linear_scan_sequential", "return Hs",
      "return Hs.transpose(1, 0, 2)"),
    V("linear_seq_writes_into_b", A, "linear_scan_sequential", None, """
h = h0
for t in range(a.shape[0]):
    b[t] = a[t] * h + b[t]
    h = b[t]
return b
"""),
    # linear_scan_parallel
    V("linear_par_exclusive_scan", A, "linear_scan_parallel", "return A * h0 + C",
      "Hs = A * h0 + C\nreturn np.concatenate([h0[None], Hs[:-1]])"),
    V("linear_par_combined_in_wrong_order", A, "linear_scan_parallel", ROUND_C,
      "C = np.concatenate([C[:shift], A[:-shift] * C[shift:] + C[:-shift]])"),
    V("linear_par_one_round_short", A, "linear_scan_parallel", "while shift < T:",
      "while 2 * shift < T:"),
    V("linear_par_shift_grows_by_one", A, "linear_scan_parallel", "shift *= 2", "shift += 1"),
    V("linear_par_A_updated_before_C", A, "linear_scan_parallel", f"{ROUND_C}\n    {ROUND_A}",
      f"{ROUND_A}\n    {ROUND_C}"),
    V("linear_par_h0_ignored", A, "linear_scan_parallel", "return A * h0 + C", "return C"),
    V("linear_par_h0_without_decay", A, "linear_scan_parallel", "return A * h0 + C",
      "return C + h0"),
    V("linear_par_h0_times_a_t", A, "linear_scan_parallel", "return A * h0 + C",
      "return a * h0 + C"),
    V("linear_par_in_place_on_a_and_b", A, "linear_scan_parallel", None, """
A, C = a, b
shift = 1
while shift < a.shape[0]:
    C[shift:] = A[shift:] * C[:-shift] + C[shift:]
    A[shift:] = A[shift:] * A[:-shift]
    shift *= 2
return A * h0 + C
"""),
    V("linear_par_closed_form_cumprod", A, "linear_scan_parallel", None, """
P = np.cumprod(a, axis=0)  # underflows to 0 when the decays are small
return P * (h0 + np.cumsum(b / P, axis=0))
"""),
    # A loop in disguise (a loop over t, or a call of the sequential scan) is not in this
    # catalogue: it computes the right values, and whether it is a loop is a self-check worth
    # no points (a time measured in the learner's kernel can be forged, and from the grader's
    # side the transfer swamps the loop; see autograder/keys/linear_rnn.py).
    # tests/autograder/catalogues/test_hostile_measurements.py checks that forging the
    # kernel's timeit earns nothing.
    # min_gru_forward
    V("linear_mg_update_flipped", A, "min_gru_forward", SCAN,
      "return linear_scan_parallel(z, (1 - z) * h_tilde, h0)"),
    V("linear_mg_tanh_candidate", A, "min_gru_forward", "h_tilde = X @ W_h + b_h",
      "h_tilde = np.tanh(X @ W_h + b_h)"),
    V("linear_mg_weights_swapped", A, "min_gru_forward", None, """
z = 1 / (1 + np.exp(-(X @ W_h + b_h)))
h_tilde = X @ W_z + b_z
return linear_scan_parallel(1 - z, z * h_tilde, h0)
"""),
    V("linear_mg_b_without_z", A, "min_gru_forward", SCAN,
      "return linear_scan_parallel(1 - z, h_tilde, h0)"),
    V("linear_mg_a_is_z", A, "min_gru_forward", SCAN,
      "return linear_scan_parallel(z, z * h_tilde, h0)"),
    V("linear_mg_no_sigmoid", A, "min_gru_forward", "z = 1 / (1 + np.exp(-(X @ W_z + b_z)))",
      "z = X @ W_z + b_z"),
    V("linear_mg_h0_ignored", A, "min_gru_forward", SCAN,
      "return linear_scan_parallel(1 - z, z * h_tilde, np.zeros_like(h0))"),
    V("linear_mg_returns_h0_to_hT-1", A, "min_gru_forward", SCAN,
      "Hs = linear_scan_parallel(1 - z, z * h_tilde, h0)\n"
      "return np.concatenate([h0[None], Hs[:-1]])"),
    V("linear_mg_b_z_missing", A, "min_gru_forward", "X @ W_z + b_z", "X @ W_z"),
    V("linear_mg_batch_first", A, "min_gru_forward", SCAN,
      "return linear_scan_parallel(1 - z, z * h_tilde, h0).transpose(1, 0, 2)"),
    # time_scans
    V("linear_ts_mean_of_repeats", A, "time_scans", BEST,
      "best = (0.0 if best == np.inf else best) + (time.perf_counter() - start) / repeats"),
    V("linear_ts_total_of_repeats", A, "time_scans", BEST,
      "best = (0.0 if best == np.inf else best) + (time.perf_counter() - start)"),
    V("linear_ts_first_run_only", A, "time_scans", "for _ in range(repeats):",
      "for _ in range(1):"),
    V("linear_ts_one_repeat_too_many", A, "time_scans", "range(repeats)", "range(repeats + 1)"),
    V("linear_ts_transposed", A, "time_scans", "return times", "return times.T"),
    V("linear_ts_milliseconds", A, "time_scans", "times[i, k] = best", "times[i, k] = 1e3 * best"),
    V("linear_ts_fresh_input_per_scan", A, "time_scans", None, """
rng = np.random.default_rng(seed)
times = np.empty((len(Ts), len(scans)))
for i, T in enumerate(Ts):
    for k, scan in enumerate(scans):
        a = rng.uniform(0, 1, (T, B, H))
        b, h0 = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            scan(a, b, h0)
            best = min(best, time.perf_counter() - start)
        times[i, k] = best
return times
"""),
    V("linear_ts_B_and_H_swapped", A, "time_scans", "(T, B, H)", "(T, H, B)"),
    V("linear_ts_cpu_time", A, "time_scans", "time.perf_counter()", "time.process_time()"),
    V("linear_ts_columns_reversed", A, "time_scans", "times[i, k] = best",
      "times[i, len(scans) - 1 - k] = best"),
]

ALTERNATIVES = [
    # linear_scan_sequential
    V("linear_seq_list_and_stack", A, "linear_scan_sequential", None, """
Hs, h = [], h0
for a_t, b_t in zip(a, b):
    h = a_t * h + b_t
    Hs.append(h)
return np.stack(Hs)
"""),
    V("linear_seq_itertools_accumulate", A, "linear_scan_sequential", None, """
import itertools

states = itertools.accumulate(zip(a, b), lambda h, ab: ab[0] * h + ab[1], initial=h0)
return np.stack(list(states)[1:])
"""),
    V("linear_seq_in_place_on_a_copy", A, "linear_scan_sequential", None, """
Hs = np.empty_like(b)
h = h0.copy()
for t in range(len(a)):
    np.multiply(a[t], h, out=h)
    h += b[t]
    Hs[t] = h
return Hs
"""),
    # linear_scan_parallel
    V("linear_par_recursive_halving", A, "linear_scan_parallel", None, """
T = a.shape[0]
if T == 1:
    return a * h0 + b
n = T // 2  # combine neighbours (1, 2), (3, 4), ...: the even prefixes, by recursion
even = linear_scan_parallel(a[1:2 * n:2] * a[0:2 * n:2],
                            a[1:2 * n:2] * b[0:2 * n:2] + b[1:2 * n:2], h0)
Hs = np.empty(np.broadcast_shapes(b.shape, h0.shape))
Hs[1::2] = even
prev = np.concatenate([h0[None], even])[:(T + 1) // 2]  # h_0, h_2, h_4, ...
Hs[0::2] = a[0::2] * prev + b[0::2]
return Hs
"""),
    V("linear_par_hillis_steele_on_copies", A, "linear_scan_parallel", None, """
A, C = a.copy(), b.copy()
shift = 1
while shift < len(A):
    C[shift:] = A[shift:] * C[:-shift] + C[shift:]  # the right side is computed first
    A[shift:] = A[shift:] * A[:-shift]
    shift *= 2
return A * h0 + C
"""),
    V("linear_par_blelloch_up_and_down_sweep", A, "linear_scan_parallel", None, """
T = a.shape[0]
n = 1 << (T - 1).bit_length()  # pad with identity steps (1, 0) to a power of two
A = np.concatenate([a, np.ones((n - T,) + a.shape[1:])])
C = np.concatenate([b, np.zeros((n - T,) + b.shape[1:])])
d = 1
while d < n:  # up-sweep: position r holds the composition of the 2d steps ending at r
    r = np.arange(2 * d - 1, n, 2 * d)
    A[r], C[r] = A[r - d] * A[r], A[r] * C[r - d] + C[r]
    d *= 2
A[n - 1], C[n - 1] = 1.0, 0.0  # down-sweep: the exclusive prefixes
d = n // 2
while d >= 1:
    r = np.arange(2 * d - 1, n, 2 * d)
    A_left, C_left = A[r - d].copy(), C[r - d].copy()
    A[r - d], C[r - d] = A[r], C[r]
    A[r], C[r] = A[r] * A_left, A_left * C[r] + C_left
    d //= 2
A, C = A[:T] * a, a * C[:T] + b  # inclusive: the prefix before t, then step t
return A * h0 + C
"""),
    # min_gru_forward
    V("linear_mg_plain_loop", A, "min_gru_forward", None, """
Hs, h = [], h0
for x in X:
    z = 1 / (1 + np.exp(-(x @ W_z + b_z)))
    h = (1 - z) * h + z * (x @ W_h + b_h)
    Hs.append(h)
return np.stack(Hs)
"""),
    V("linear_mg_sequential_scan_einsum", A, "min_gru_forward", None, """
z = 0.5 * (1 + np.tanh(0.5 * (np.einsum("tbd,dh->tbh", X, W_z) + b_z)))
h_tilde = np.einsum("tbd,dh->tbh", X, W_h) + b_h
return linear_scan_sequential(1 - z, z * h_tilde, h0)
"""),
    V("linear_mg_fused_projection", A, "min_gru_forward", None, """
H = W_z.shape[1]
P = X @ np.concatenate([W_z, W_h], axis=1) + np.concatenate([b_z, b_h])  # (T, B, 2H)
z = 1 / (1 + np.exp(-P[..., :H]))
return linear_scan_parallel(1 - z, z * P[..., H:], h0)
"""),
    # time_scans
    V("linear_ts_timeit_repeat", A, "time_scans", None, """
import timeit

rng = np.random.default_rng(seed)
times = np.empty((len(Ts), len(scans)))
for i, T in enumerate(Ts):
    a = rng.uniform(0, 1, (T, B, H))
    b, h0 = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))
    for k, scan in enumerate(scans):
        times[i, k] = min(timeit.repeat(lambda: scan(a, b, h0), number=1, repeat=repeats))
return times
"""),
    V("linear_ts_scans_outer_ns_clock", A, "time_scans", None, """
rng = np.random.default_rng(seed)
inputs = []
for T in Ts:
    a = rng.uniform(0, 1, (T, B, H))
    inputs.append((a, rng.standard_normal((T, B, H)), rng.standard_normal((B, H))))
times = []
for scan in scans:
    column = []
    for a, b, h0 in inputs:
        runs = []
        for _ in range(repeats):
            start = time.perf_counter_ns()
            scan(a, b, h0)
            runs.append((time.perf_counter_ns() - start) / 1e9)
        column.append(min(runs))
    times.append(column)
return np.array(times).T
"""),
]

"""Checks for the assignment ``char_lm``: a character-level RNN language model in NumPy.

The references are float64 PyTorch: ``torch.nn.functional.embedding`` and its autograd for the
embedding, ``torch.nn.functional.cross_entropy`` over the unmasked positions and its autograd
for the loss, ``torch.softmax`` for the sampling distribution, and autograd with
``torch.nn.utils.clip_grad_norm_`` and Adam (``autograder.keys.optim``: ``torch.optim.Adam``'s
update, bit for bit, without the seconds ``torch.optim`` takes to import) for one exact
training run. Sampling is checked by its
distribution over many draws (a chi-square test at a fixed seed), so any correct way of
drawing passes. The trained model is measured here: the grader loads and encodes the
Shakespeare text itself, calls the learner's training function with NumPy arrays and a seed,
and computes the validation loss of the returned parameters with its own forward pass; no
number reported by the learner's code is used.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from autograder.keys import reference as ref
from autograder.keys.checks import _fail, at_count, at_step, call, check_array, check_type, unpack
from autograder.keys.optim import Adam

PARAMS = ("E", "W_xh", "W_hh", "b_h", "W_hy", "b_y")
VAL_PLAY = "hamlet"  # held out whole: the training characters come from the other plays
TRAIN_CHARS = 500_000  # the first characters of the other plays, in alphabetical order
VAL_CHARS = 20_000  # the first characters of the validation play
P_MIN = 1e-6  # chi-square p-value below which draws are declared not from the distribution


# --------------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------------

def embed_reference(tokens: np.ndarray, E: np.ndarray) -> np.ndarray:
    """X (T, B, D) = E[tokens], by ``torch.nn.functional.embedding``."""
    return F.embedding(torch.as_tensor(tokens), ref.as_t(E)).numpy()


def embed_backward_reference(dX: np.ndarray, tokens: np.ndarray, V: int) -> np.ndarray:
    """dE (V, D): the gradient of sum(dX * E[tokens]) with respect to E, by autograd."""
    E = torch.zeros(V, dX.shape[-1], dtype=ref.DT, requires_grad=True)
    (F.embedding(torch.as_tensor(tokens), E) * ref.as_t(dX)).sum().backward()
    return E.grad.numpy().copy()


def cross_entropy_reference(logits: np.ndarray, targets: np.ndarray,
                            mask: np.ndarray) -> tuple[float, np.ndarray]:
    """(mean cross-entropy over the unmasked positions, its gradient (T, B, V))."""
    z = ref.as_t(logits, True)
    m = torch.as_tensor(mask)
    loss = F.cross_entropy(z[m], torch.as_tensor(targets)[m], reduction="mean")
    loss.backward()
    return float(loss.detach()), z.grad.numpy().copy()


def sampling_probs(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / temperature) over the last axis, in float64."""
    return torch.softmax(ref.as_t(logits) / temperature, dim=-1).numpy()


def init_params(V: int, D: int, H: int, seed: int) -> dict[str, np.ndarray]:
    """The seeded initial parameters the assignment trains from (the notebook has a copy)."""
    rng = np.random.default_rng(seed)
    return {"E": 0.1 * rng.standard_normal((V, D)),
            "W_xh": rng.standard_normal((D, H)) / np.sqrt(D),
            "W_hh": 0.5 * rng.standard_normal((H, H)) / np.sqrt(H),
            "b_h": np.zeros(H),
            "W_hy": 0.1 * rng.standard_normal((H, V)) / np.sqrt(H),
            "b_y": np.zeros(V)}


def batch_indices(rng: np.random.Generator, n_tokens: int, seq_len: int,
                  batch_size: int) -> np.ndarray:
    """(seq_len, batch_size) positions of one training batch, as the assignment draws them."""
    starts = rng.integers(0, n_tokens - seq_len, size=batch_size)
    return starts[None, :] + np.arange(seq_len)[:, None]


def train_reference(tokens, params: dict, n_steps: int, seq_len: int, batch_size: int,
                    lr: float, max_norm: float, seed: int, *, clip: bool = True,
                    shift: int = 1, train_E: bool = True) -> tuple[list[float], dict]:
    """The assignment's training run in torch (autograd, clip_grad_norm_, Adam as
    torch.optim.Adam computes it), float64.

    Returns (the loss of each step, the final parameters). Flags recompute mistakes: no
    clipping, targets shifted by ``shift`` (0: the input itself), the embedding not trained.
    """
    P = {n: ref.as_t(params[n], True) for n in PARAMS}
    opt = Adam(list(P.values()), lr=lr)
    rng = np.random.default_rng(seed)
    ids = torch.as_tensor(np.asarray(tokens, dtype=np.int64))
    losses = []
    for _ in range(n_steps):
        idx = torch.as_tensor(batch_indices(rng, len(tokens), seq_len, batch_size))
        inputs, targets = ids[idx], ids[(idx + shift).clamp(max=len(tokens) - 1)]
        h = torch.zeros(batch_size, params["W_hh"].shape[0], dtype=ref.DT)
        Hs = []
        for x in F.embedding(inputs, P["E"]):
            h = torch.tanh(x @ P["W_xh"] + h @ P["W_hh"] + P["b_h"])
            Hs.append(h)
        logits = torch.stack(Hs) @ P["W_hy"] + P["b_y"]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        losses.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        if not train_E:
            P["E"].grad = None
        if clip:
            torch.nn.utils.clip_grad_norm_(list(P.values()), max_norm)
        opt.step()
    return losses, {n: p.detach().numpy().copy() for n, p in P.items()}


# --------------------------------------------------------------------------------------------
# Embedding
# --------------------------------------------------------------------------------------------

def _tokens(rng: np.random.Generator, T: int, B: int, V: int) -> np.ndarray:
    return rng.integers(0, V, size=(T, B))


def check_embed_forward(fn: Callable, T: int = 4, B: int = 3, V: int = 7, D: int = 5,
                        seed: int = 0):
    """embed_forward(tokens, E) -> X (T, B, D) against ``torch.nn.functional.embedding``."""
    rng = np.random.default_rng(seed)
    tokens, E = _tokens(rng, T, B, V), rng.standard_normal((V, D))
    got = call(fn, tokens, E)
    hints = {(B, T, D): "batch-first; the course's layout is time-major (T, B, D)",
             (T, B, V): "that is a one-hot encoding; multiply it by E (or index E)",
             (T * B, D): "reshape the rows back to (T, B, D)"}
    check_array("X", got, embed_reference(tokens, E), time_axis=True, shape_hints=hints,
                at=at_step("X", "x_{t}"),
                reference="torch.nn.functional.embedding", mistakes=lambda: {
                    "ids read as 1-based (E[tokens - 1])": E[(tokens - 1) % V],
                    "every step embeds the first step's ids": np.broadcast_to(
                        E[tokens[0]], (T, B, D)),
                    "the rows of E scaled by 1/sqrt(D)": E[tokens] / np.sqrt(D),
                    "time reversed": E[tokens[::-1]],
                })


def check_embed_backward(fn: Callable, T: int = 6, B: int = 4, V: int = 5, D: int = 3,
                         seed: int = 0):
    """embed_backward(dX, tokens, V) -> dE (V, D) against autograd through the embedding.

    V is small against T * B so that ids repeat: their gradients must add up.
    """
    rng = np.random.default_rng(seed)
    tokens, dX = _tokens(rng, T, B, V), rng.standard_normal((T, B, D))
    got = call(fn, dX, tokens, V)
    expected = embed_backward_reference(dX, tokens, V)

    def mistakes():
        buffered = np.zeros((V, D))
        buffered[tokens] += dX  # fancy indexing keeps one of the repeated ids
        counts = np.maximum(np.bincount(tokens.ravel(), minlength=V), 1)[:, None]
        return {
            "repeated ids overwrite each other (dE[tokens] += dX keeps only one of them: "
            "each occurrence must add its row)": buffered,
            "averaged over the occurrences of each id instead of summed": expected / counts,
            "divided by T * B": expected / (T * B),
            "only the last time step's gradient": embed_backward_reference(
                np.concatenate([np.zeros_like(dX[:-1]), dX[-1:]]), tokens, V),
        }

    check_array("dE", got, expected, mistakes=mistakes, reference="torch.autograd",
                shape_hints={(D, V): "dE has the shape of E, (V, D)"})


# --------------------------------------------------------------------------------------------
# Softmax cross-entropy
# --------------------------------------------------------------------------------------------

def _ce_problem(seed: int, T: int, B: int, V: int, padded: bool, scale: float):
    rng = np.random.default_rng(seed)
    logits = scale * rng.standard_normal((T, B, V))
    targets = _tokens(rng, T, B, V)
    if padded:  # each sequence has a length in 1..T: the steps after it are padding
        lengths = rng.integers(1, T + 1, size=B)
        lengths[0] = T
        lengths[-1] = max(1, T // 2)
        mask = np.arange(T)[:, None] < lengths[None, :]
    else:
        mask = np.ones((T, B), dtype=bool)
    return logits, targets, mask


def _ce_mistakes(logits, targets, mask, expected_loss, expected_dz) -> dict[str, tuple]:
    T, B, V = logits.shape
    n = int(mask.sum())
    _, dz_all = cross_entropy_reference(logits, targets, np.ones_like(mask))
    onehot = np.eye(V)[targets]
    return {
        "the loss averaged over every position, padding included (what does the mean count?)":
            (expected_loss * n / (T * B), expected_dz * n / (T * B)),
        "the mask ignored (padding positions counted as data)":
            (cross_entropy_reference(logits, targets, np.ones_like(mask))[0], dz_all),
        "summed instead of averaged over the unmasked positions":
            (expected_loss * n, expected_dz * n),
        "the gradient's sign flipped (one-hot minus softmax)": (expected_loss, -expected_dz),
        "the gradient is softmax - onehot at padding positions too":
            (expected_loss, (sampling_probs(logits, 1.0) - onehot) / n),
    }


def check_softmax_cross_entropy(fn: Callable, what: str = "loss", T: int = 4, B: int = 3,
                                V: int = 6, seed: int = 0, padded: bool = False,
                                scale: float = 1.0):
    """softmax_cross_entropy(logits, targets, mask) -> (loss, dlogits) against
    ``torch.nn.functional.cross_entropy`` over the unmasked positions and its autograd.

    ``what``: "loss", "dlogits" or "both". ``padded``: the mask has padding at the end of some
    sequences. ``scale``: the logits' size (1e4 overflows an exponential taken naively).
    """
    logits, targets, mask = _ce_problem(seed, T, B, V, padded, scale)
    out = unpack("softmax_cross_entropy", call(fn, logits, targets, mask), 2,
                 "(loss, dlogits)")
    loss, dz = out
    e_loss, e_dz = cross_entropy_reference(logits, targets, mask)
    table: dict = {}

    def mistakes(i):
        if not table:
            table.update(_ce_mistakes(logits, targets, mask, e_loss, e_dz))
        return {k: v[i] for k, v in table.items()}

    if what in ("loss", "both"):
        if isinstance(loss, torch.Tensor) or not (
                isinstance(loss, float | np.floating)
                or (isinstance(loss, np.ndarray) and loss.shape == ())):
            shape = f" of shape {loss.shape}" if isinstance(loss, np.ndarray) else ""
            _fail(f"loss must be a float (the mean over the unmasked positions); got a "
                  f"{type(loss).__name__}{shape}.",
                  "loss must be a float (the mean over the unmasked positions); got a "
                  f"{type(loss).__name__}.")
        check_array("loss", np.asarray(loss, dtype=np.float64).reshape(1),
                    np.array([e_loss]), mistakes=lambda: {
                        k: np.array([v]) for k, v in mistakes(0).items()},
                    reference="torch.nn.functional.cross_entropy")
    if what in ("dlogits", "both"):
        check_array("dlogits", dz, e_dz, time_axis=True, mistakes=lambda: mistakes(1),
                    at=at_step("dlogits"),
                    reference="torch.autograd through cross_entropy",
                    shape_hints={(T, B): "dlogits has the shape of logits, (T, B, V)"})


# --------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------

def _generator(fn, seed: int):
    """A ``numpy.random.Generator`` seeded with ``seed`` where ``fn`` runs: in this process,
    or, for a proxy of the learner's kernel, made there with the notebook's ``default_rng``
    (only a handle of it crosses)."""
    remote = getattr(fn, "_remote", None)
    if remote is None:
        return np.random.default_rng(seed)
    return remote.call("numpy's default_rng (imported by the set-up cell)",
                       {"name": "default_rng"}, (seed,), {})


def _draws(fn, logits: np.ndarray, temperature: float, seed: int) -> np.ndarray:
    got = call(fn, logits, temperature, _generator(fn, seed), shared=(2,))  # logits copied
    if isinstance(got, torch.Tensor):
        _fail("sample_next returned a torch.Tensor; return a NumPy array of ids.")
    got = check_type("the sampled ids", got)
    if got.shape != (logits.shape[0],):
        _fail(f"the sampled ids have shape {got.shape}, expected ({logits.shape[0]},): one id "
              "per row of logits.", "the sampled ids have the wrong shape: one id per row of "
              "logits.")
    if got.dtype.kind not in "iu":
        _fail(f"the sampled ids have dtype {got.dtype}; return integers (ids), not "
              "probabilities or floats.")
    if got.min() < 0 or got.max() >= logits.shape[1]:
        _fail(f"a sampled id is outside 0 .. V - 1 = {logits.shape[1] - 1}.",
              "a sampled id is outside 0 .. V - 1.")
    return got


def _chi2_p(draws: np.ndarray, kinds: np.ndarray, probs: np.ndarray) -> float:
    """p-value of the draws (row i from probs[kinds[i]]), bins with expected < 5 pooled."""
    stat, df = 0.0, 0
    for k, p in enumerate(probs):
        d = draws[kinds == k]
        observed = np.bincount(d, minlength=len(p)).astype(float)
        expected = p * len(d)
        small = expected < 5
        if small.any():
            observed = np.r_[observed[~small], observed[small].sum()]
            expected = np.r_[expected[~small], expected[small].sum()]
        keep = expected > 0
        if np.any(observed[~keep] > 0):
            return 0.0  # an id of probability 0 was drawn
        stat += float(np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep]))
        df += int(keep.sum()) - 1
    return chi2_sf(stat, max(df, 1))


def chi2_sf(x: float, df: int) -> float:
    """P(chi-square with ``df`` degrees of freedom > x), the regularised upper incomplete gamma
    Q(df / 2, x / 2), by torch (already loaded: scipy.stats takes seconds to import)."""
    return float(torch.special.gammaincc(torch.tensor(df / 2, dtype=torch.float64),
                                         torch.tensor(x / 2, dtype=torch.float64)))


def check_sample_next(fn: Callable, temperature: float = 1.0, seed: int = 0, V: int = 6,
                      n_kinds: int = 4, n_draws: int = 10_000):
    """sample_next(logits, temperature, rng) draws from softmax(logits / temperature).

    ``n_kinds`` rows of logits are repeated down a batch of ``n_draws`` rows; a chi-square test
    of the ids drawn for each kind must not reject at ``P_MIN`` (a correct sampler fails at
    the fixed seed with probability 1e-6). Two generators with the same seed must give the
    same draws: the randomness comes from ``rng``.
    """
    rows = 1.5 * np.random.default_rng(seed + 100).standard_normal((n_kinds, V))
    kinds = np.arange(n_draws) % n_kinds
    logits = rows[kinds]
    draws = _draws(fn, logits, temperature, seed)
    p = _chi2_p(draws, kinds, sampling_probs(rows, temperature))
    if p < P_MIN:
        candidates = {
            "softmax(logits), the temperature ignored (or applied after the softmax and "
            "renormalised away)": sampling_probs(rows, 1.0),
            "the temperature sharpens the distribution where it should flatten it (look at "
            "how it scales the logits)":
                sampling_probs(rows * temperature, 1.0),
            "every id equally likely": np.full((n_kinds, V), 1 / V),
            "always the argmax": np.eye(V)[rows.argmax(axis=1)],
        }
        why = next((k for k, q in candidates.items()
                    if not np.allclose(q, sampling_probs(rows, temperature))
                    and _chi2_p(draws, kinds, q) > 1e-3), None)
        freq = np.bincount(draws[kinds == 0], minlength=V) / np.sum(kinds == 0)
        match = f".\nThey match {why}." if why else "."
        _fail(f"the ids drawn at temperature {temperature} do not follow softmax(logits / "
              f"temperature): chi-square p = {p:.1e} over {n_draws} draws; row 0: frequencies "
              f"{np.round(freq, 3).tolist()}, expected "
              f"{np.round(sampling_probs(rows, temperature)[0], 3).tolist()}" + match,
              "the ids drawn do not follow softmax(logits / temperature)" + match)
    small = logits[:200]
    if not np.array_equal(_draws(fn, small, temperature, seed + 1),
                          _draws(fn, small, temperature, seed + 1)):
        _fail("two generators with the same seed gave different draws: draw with the rng "
              "argument (rng.random, rng.choice, ...), not with np.random's global functions.")


def check_sample_next_greedy(fn: Callable, seed: int = 0, B: int = 50, V: int = 10,
                             temperatures: tuple = (0.0, 1e-4)):
    """sample_next at temperature 0 (and tiny ones) returns the argmax of each row.

    The logits are spread at least 0.1 apart, up to about 60 in size, so at 1e-4 every other
    id has probability below exp(-1000), and an exponential taken without subtracting the
    maximum overflows.
    """
    rng = np.random.default_rng(seed)
    logits = 0.1 * np.argsort(rng.random((B, V)), axis=1) + rng.normal(0, 50, size=(B, 1))
    expected = logits.argmax(axis=1)
    for temperature in temperatures:
        got = _draws(fn, logits, temperature, seed)
        if not np.array_equal(got, expected):
            bad = int(np.flatnonzero(got != expected)[0])
            why = (" (treat a zero temperature as the limit: the argmax)." if temperature == 0
                   else ": at so small a temperature softmax(logits / temperature) is all on "
                   "the argmax (and exp overflows unless each row's maximum is subtracted "
                   "first).")
            _fail(f"at temperature {temperature} the ids must be the argmax of each row; row "
                  f"{bad} gave {int(got[bad])}, expected {int(expected[bad])}{why}",
                  "at temperature zero, or close to it, the ids must be the argmax of each "
                  f"row{why}")


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------

def _check_params(params, shapes: dict) -> None:
    if not isinstance(params, dict) or set(params) != set(PARAMS):
        _fail(f"after training, params must keep exactly the keys {', '.join(PARAMS)}.")
    for n in PARAMS:
        a = params[n]
        if type(a) is not np.ndarray or a.shape != shapes[n] or not np.all(np.isfinite(a)):
            _fail(f"after training, params[{n!r}] must be a finite NumPy array of shape "
                  f"{shapes[n]}: update the arrays in place (params[name] -= ...).",
                  f"after training, params[{n!r}] must be a finite NumPy array of its shape "
                  "before: update the arrays in place (params[name] -= ...).")


def check_train_char_lm(fn: Callable, n_tokens: int = 60, V: int = 7, D: int = 3,
                        H: int = 5, n_steps: int = 6, seq_len: int = 5, batch_size: int = 4,
                        lr: float = 0.05, max_norm: float = 0.5, seed: int = 0,
                        rtol: float = 1e-5, atol: float = 1e-7):
    """train_char_lm(tokens, params, ...) on a tiny problem against the torch reference:
    the loss of every step and the parameters after training."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, V, size=n_tokens)
    params = init_params(V, D, H, seed)
    params["W_hy"] *= 10  # larger gradients: some steps are clipped, some are not
    mine = copy.deepcopy(params)
    args = (n_steps, seq_len, batch_size, lr, max_norm, seed)
    before = tokens.copy()
    losses = fn(tokens, mine, *args)
    if not np.array_equal(tokens, before):
        _fail("train_char_lm modified tokens in place; only params may change.")
    exp_losses, exp_params = train_reference(tokens, params, *args)
    cache: dict = {}

    def mistakes(i, key=None):
        if not cache:
            cache.update({
                "the gradients are not clipped": train_reference(tokens, params, *args,
                                                                 clip=False),
                "the targets are the inputs themselves (shift them by one step)":
                    train_reference(tokens, params, *args, shift=0),
                "the embedding E is not trained": train_reference(tokens, params, *args,
                                                                  train_E=False),
            })
        return {m: (np.asarray(v[0]) if i == 0 else v[1][key]) for m, v in cache.items()}

    if isinstance(losses, list | tuple):
        try:
            losses = np.asarray([float(v) for v in losses], dtype=np.float64)
        except (TypeError, ValueError):
            _fail("train_char_lm must return a list of floats, one loss per step.")
    check_array("losses (one per step)", losses, np.asarray(exp_losses),
                time_axis=True, at=at_count("training step", "losses"),
                mistakes=lambda: mistakes(0),
                rtol=rtol, atol=atol, reference="the training in torch (Adam)")
    _check_params(mine, {n: params[n].shape for n in PARAMS})
    if all(np.array_equal(mine[n], params[n]) for n in PARAMS):
        _fail("params did not change: update the arrays in place (params[name] -= ...), do "
              "not bind the name params to a new dict.")
    for n in PARAMS:
        check_array(f"params[{n!r}] after training", mine[n], exp_params[n],
                    mistakes=lambda n=n: mistakes(1, n), rtol=rtol, atol=atol,
                    reference="the training in torch (Adam)")


def shakespeare_ids() -> tuple[np.ndarray, np.ndarray, int]:
    """(training ids, validation ids, V): the first TRAIN_CHARS characters of every play but
    VAL_PLAY, the first VAL_CHARS + 1 of VAL_PLAY, encoded over the sorted characters of all
    the plays (V = 80)."""
    from rnncourse.data import shakespeare

    plays = shakespeare.load_plays()
    chars = sorted(set("".join(plays.values())))
    lut = np.zeros(256, dtype=np.int64)
    lut[[ord(c) for c in chars]] = np.arange(len(chars))

    def encode(text: str) -> np.ndarray:
        return lut[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]

    train = "".join(t for n, t in plays.items() if n != VAL_PLAY)[:TRAIN_CHARS]
    return encode(train), encode(plays[VAL_PLAY][:VAL_CHARS + 1]), len(chars)


def unigram_loss(train_ids: np.ndarray, val_ids: np.ndarray, V: int) -> float:
    """Validation loss (nats/char) of the character frequencies of the training text (add-one
    smoothed): the score of a model that ignores the context."""
    freq = (np.bincount(train_ids, minlength=V) + 1) / (len(train_ids) + V)
    return float(-np.log(freq[val_ids[1:]]).mean())


def validation_loss(params: dict, val_ids: np.ndarray, seq_len: int) -> float:
    """Mean cross-entropy (nats/char) of the next character over the validation text, cut into
    windows of seq_len characters, each read from h = 0 (as in training); computed here."""
    n = (len(val_ids) - 1) // seq_len
    idx = np.arange(seq_len)[:, None] + seq_len * np.arange(n)[None, :]
    inputs, targets = val_ids[idx], val_ids[idx + 1]
    h = np.zeros((n, params["W_hh"].shape[0]))
    total = 0.0
    for x, y in zip(params["E"][inputs], targets, strict=True):
        h = np.tanh(x @ params["W_xh"] + h @ params["W_hh"] + params["b_h"])
        z = h @ params["W_hy"] + params["b_y"]
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        total -= float(logp[np.arange(n), y].sum())
    return total / targets.size


def check_char_lm_learns(fn: Callable, threshold: float, seed: int = 0, *, D: int = 16,
                         H: int = 32, n_steps: int = 200, seq_len: int = 16,
                         batch_size: int = 32, lr: float = 0.02, max_norm: float = 5.0) -> None:
    """Train from the seeded initial parameters (sizes ``D``, ``H``) with ``fn``
    (``train_char_lm``) on the Shakespeare training ids, then compute the validation loss
    here and print it next to the unigram baseline. Returns None (a number as a test cell's
    last value would be read by nbgrader as partial credit).

    The defaults are a small model that trains in a fraction of a second, so that the test
    does not repeat the notebook's longer demonstration: with them the solution reaches
    2.33 to 2.39 nats/char over seeds 0 to 3, the unigram baseline is 3.35.
    """
    train_ids, val_ids, V = shakespeare_ids()
    params = init_params(V, D, H, seed)
    shapes = {n: a.shape for n, a in params.items()}
    fn(train_ids, params, n_steps, seq_len, batch_size, lr, max_norm, seed)
    _check_params(params, shapes)
    loss = validation_loss(params, val_ids, seq_len)
    baseline = unigram_loss(train_ids, val_ids, V)
    if not loss < threshold:
        _fail(f"validation loss {loss:.3f} nats/char after training, above {threshold} (the "
              f"unigram baseline is {baseline:.3f}): check the gradients, clipping and the "
              "Adam update, and update params in place.")
    print(f"validation loss {loss:.3f} nats/char (threshold {threshold}; unigram baseline "
          f"{baseline:.3f})")

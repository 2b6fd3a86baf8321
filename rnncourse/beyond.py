"""Shared code of the part "Beyond the classic RNN" (``book/beyond/``).

- :func:`best_time`: the least disturbed wall-clock time of a call, for the cost measurements.
- :class:`CharData` and :func:`load_char_data`: Shakespeare as character ids, with a training
  text and a held-out validation play, for the pages that train a character model.
- :func:`random_windows`: random ``(T, B)`` windows of an id stream, for training over many
  epochs of a small text.
- :class:`CharLSTM`: embedding, one LSTM layer and a linear decoder, with the regularisers of
  the regularisation page (variational dropout, zoneout, layer normalisation, weight tying).
- :func:`nats_per_char`: the mean cross-entropy of a model on an id stream.

Every tensor is time-major, as in the rest of the course: a batch of ids is ``(T, B)``,
hidden states are ``(T, B, H)``, and ``V`` is the vocabulary size.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnncourse.data import shakespeare
from rnncourse.text import Vocab

State = tuple[torch.Tensor, torch.Tensor]


def best_time(fn: Callable[[], object], repeats: int = 3, number: int = 1) -> float:
    """Seconds per call of ``fn``: the fastest of ``repeats`` rounds of ``number`` calls.

    The minimum, not the mean, is the figure least disturbed by other processes sharing the
    machine; the first call of ``fn`` is made once beforehand and not timed (warm-up). The
    rounds are :func:`timeit.repeat`'s (garbage collection paused while they run).
    """
    if repeats < 1 or number < 1:
        raise ValueError(f"repeats and number must be >= 1; got {repeats}, {number}.")
    fn()
    return min(timeit.repeat(fn, repeat=repeats, number=number)) / number


@dataclass
class CharData:
    """Character ids of Shakespeare: ``train`` and ``val`` are 1-D int64 arrays of ids."""

    vocab: Vocab
    train: np.ndarray
    val: np.ndarray
    train_text: str
    val_text: str

    @property
    def V(self) -> int:
        """Vocabulary size."""
        return len(self.vocab)


def load_char_data(
    train_plays: Sequence[str] | None = None,
    val_play: str = "hamlet",
    n_train: int | None = None,
    n_val: int | None = None,
) -> CharData:
    """Shakespeare's plays as character ids, with one play held out for validation.

    The vocabulary is built from every play (80 symbols), so that models trained on
    different subsets share it. ``train_plays`` (default: every play but ``val_play``) are
    concatenated and cut to their first ``n_train`` characters; the validation text is the
    first ``n_val`` characters of ``val_play``. ``None`` keeps everything.
    """
    if train_plays is not None and val_play in train_plays:
        raise ValueError(f"{val_play!r} is both a training play and the validation play; "
                         "remove it from train_plays.")
    plays = shakespeare.load_plays()
    if val_play not in plays:
        raise KeyError(f"No play named {val_play!r}; choose one of: {', '.join(plays)}.")
    names = [n for n in plays if n != val_play] if train_plays is None else list(train_plays)
    vocab = Vocab.build("".join(plays.values()))
    train_text = "".join(plays[n] for n in names)[:n_train]
    val_text = plays[val_play][:n_val]
    return CharData(vocab, np.array(vocab.encode(train_text)), np.array(vocab.encode(val_text)),
                    train_text, val_text)


def random_windows(
    ids: np.ndarray, B: int, T: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``B`` windows of ``T`` ids starting at random places: inputs and targets, ``(T, B)``.

    The targets are the inputs shifted by one character. Each call draws new start points,
    so a training loop sees a small text many times over, in a different order each epoch.
    """
    if len(ids) < T + 1:
        raise ValueError(f"A stream of {len(ids)} ids is too short for windows of T={T}.")
    starts = rng.integers(0, len(ids) - T, size=B)
    idx = starts[None, :] + np.arange(T + 1)[:, None]  # (T + 1, B)
    w = torch.as_tensor(np.asarray(ids)[idx], dtype=torch.long)
    return w[:-1], w[1:]


def _time_constant_mask(shape: tuple[int, ...], p: float, like: torch.Tensor) -> torch.Tensor:
    """A dropout mask of ``shape`` (kept units scaled by ``1 / (1 - p)``)."""
    keep = torch.full(shape, 1.0 - p, dtype=like.dtype, device=like.device)
    return torch.bernoulli(keep) / (1.0 - p)


class CharLSTM(nn.Module):
    """Embedding -> one LSTM layer -> linear decoder: ids ``(T, B)`` to logits ``(T, B, V)``.

    Regularisers (all off by default; active in training mode only):

    - ``dropout_in``, ``dropout_out``: dropout on the embeddings and on the hidden states
      before the decoder. With ``variational=True`` (Gal and Ghahramani) one mask per
      sequence is reused at every time step; with ``variational=False`` a new mask is
      drawn at every step (the non-recurrent dropout of Zaremba et al.).
    - ``dropout_rec``: variational dropout on the recurrent input ``h_{t-1}``. The fused path
      draws one mask per mini-batch and applies it to the columns of ``W_hh``, since
      ``(h * m) @ W_hh.T == h @ (W_hh * m).T``; the unrolled path draws one per sequence.
    - ``zoneout_c``, ``zoneout_h``: zoneout (Krueger et al.): each unit of ``c`` (``h``)
      keeps its previous value with that probability at each step; in evaluation the
      expected update ``p * old + (1 - p) * new`` is used.
    - ``layer_norm``: the layer-normalised LSTM of Ba et al.: ``LN(x W_x) + LN(h W_h) + b``
      for the gates and ``h = o * tanh(LN(c))``.
    - ``tie``: the decoder's weight is the embedding matrix (needs ``emb == H``).

    The LSTM's parameters are those of ``self.lstm`` (a ``torch.nn.LSTM``, gate order
    i, f, g, o). Without zoneout or layer normalisation the forward pass calls it (fast,
    fused); otherwise it is unrolled step by step in Python. ``forward(ids, unrolled=True)``
    forces the unrolled path, which computes the same function when no regulariser is on.
    States ``(h, c)`` have ``torch.nn.LSTM``'s shape ``(1, B, H)``.
    """

    def __init__(
        self,
        V: int,
        H: int,
        emb: int | None = None,
        *,
        dropout_in: float = 0.0,
        dropout_rec: float = 0.0,
        dropout_out: float = 0.0,
        variational: bool = True,
        zoneout_c: float = 0.0,
        zoneout_h: float = 0.0,
        layer_norm: bool = False,
        tie: bool = False,
    ) -> None:
        super().__init__()
        emb = H if emb is None else emb
        for name, p in [("dropout_in", dropout_in), ("dropout_rec", dropout_rec),
                        ("dropout_out", dropout_out), ("zoneout_c", zoneout_c),
                        ("zoneout_h", zoneout_h)]:
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be in [0, 1); got {p}.")
        if tie and emb != H:
            raise ValueError(f"tie=True needs emb == H (the decoder maps H to V); got emb={emb}, "
                             f"H={H}.")
        if dropout_rec and not variational:
            raise ValueError("dropout_rec is variational by construction; "
                             "use variational=True or dropout_rec=0.")
        self.V, self.H = V, H
        self.p_in, self.p_rec, self.p_out = dropout_in, dropout_rec, dropout_out
        self.variational = variational
        self.z_c, self.z_h = zoneout_c, zoneout_h
        self.embed = nn.Embedding(V, emb)
        self.lstm = nn.LSTM(emb, H)  # time-major: input (T, B, emb)
        self.decoder = nn.Linear(H, V)
        if tie:
            self.decoder.weight = self.embed.weight
        self.layer_norm = layer_norm
        if layer_norm:
            self.ln_x = nn.LayerNorm(4 * H)  # on x_t W_x
            self.ln_h = nn.LayerNorm(4 * H)  # on h_{t-1} W_h
            self.ln_c = nn.LayerNorm(H)  # on c_t, before the tanh of the output

    # ---- dropout on the non-recurrent connections --------------------------------------

    def _drop(self, X: torch.Tensor, p: float) -> torch.Tensor:
        """Dropout on ``X`` (T, B, F): one mask per sequence if variational, else per step."""
        if not self.training or p == 0.0:
            return X
        if not self.variational:
            return F.dropout(X, p, training=True)
        return X * _time_constant_mask((1, *X.shape[1:]), p, X)

    # ---- the two ways of running the recurrence ----------------------------------------

    def _fused(self, X: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        if not (self.training and self.p_rec > 0.0):
            return self.lstm(X, state)
        params = dict(self.lstm.named_parameters())
        mask = _time_constant_mask((self.H,), self.p_rec, X)  # one mask for the mini-batch
        params["weight_hh_l0"] = params["weight_hh_l0"] * mask  # (4H, H): columns <-> units of h
        return torch.func.functional_call(self.lstm, params, (X, state))

    def _unrolled(
        self, X: torch.Tensor, state: State | None, keep_c: list[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, State]:
        T, B, _ = X.shape
        H = self.H
        if state is None:
            h = X.new_zeros(B, H)
            c = X.new_zeros(B, H)
        else:
            h, c = state[0][0], state[1][0]
        lstm = self.lstm
        Ax = X @ lstm.weight_ih_l0.T  # (T, B, 4H): the input part of every step at once
        if self.layer_norm:
            Ax = self.ln_x(Ax)
        Ax = Ax + (lstm.bias_ih_l0 + lstm.bias_hh_l0)
        rec_mask = (_time_constant_mask((B, H), self.p_rec, X)
                    if self.training and self.p_rec > 0.0 else None)
        # zoneout: which units keep their old value, drawn for all steps at once (training)
        train_zone = self.training and (self.z_c > 0.0 or self.z_h > 0.0)
        if train_zone:
            keep_c_old = torch.rand(T, B, H, dtype=X.dtype, device=X.device) < self.z_c
            keep_h_old = torch.rand(T, B, H, dtype=X.dtype, device=X.device) < self.z_h
        hs = []
        for t in range(T):
            h_in = h if rec_mask is None else h * rec_mask
            Ah = h_in @ lstm.weight_hh_l0.T  # (B, 4H)
            if self.layer_norm:
                Ah = self.ln_h(Ah)
            gates = Ax[t] + Ah  # (B, 4H), blocks i, f, g, o
            s = gates.sigmoid()
            c_new = s[:, H:2 * H] * c + s[:, :H] * gates[:, 2 * H:3 * H].tanh()
            h_new = s[:, 3 * H:] * (self.ln_c(c_new) if self.layer_norm else c_new).tanh()
            if train_zone:
                c = torch.where(keep_c_old[t], c, c_new)
                h = torch.where(keep_h_old[t], h, h_new)
            else:  # evaluation: the expected zoneout update (the plain update when z = 0)
                c = c_new if self.z_c == 0.0 else torch.lerp(c_new, c, self.z_c)
                h = h_new if self.z_h == 0.0 else torch.lerp(h_new, h, self.z_h)
            hs.append(h)
            if keep_c is not None:
                keep_c.append(c)
        return torch.stack(hs), (h[None], c[None])

    def uses_unrolled_path(self) -> bool:
        """Whether :meth:`forward` has to unroll the recurrence in Python."""
        return self.layer_norm or self.z_c > 0.0 or self.z_h > 0.0

    def recurrence(
        self, X: torch.Tensor, state: State | None = None, unrolled: bool | None = None
    ) -> tuple[torch.Tensor, State]:
        """The LSTM layer alone: inputs ``(T, B, emb)`` to ``Hs`` ``(T, B, H)`` and the state."""
        if unrolled is None:
            unrolled = self.uses_unrolled_path()
        if not unrolled and self.uses_unrolled_path():
            raise ValueError("zoneout and layer normalisation need the unrolled path; "
                             "call with unrolled=None or True.")
        return self._unrolled(X, state) if unrolled else self._fused(X, state)

    def forward(
        self, ids: torch.Tensor, state: State | None = None, unrolled: bool | None = None
    ) -> tuple[torch.Tensor, State]:
        """Logits ``(T, B, V)`` for ids ``(T, B)``, and the final state ``(h, c)``."""
        X = self._drop(self.embed(ids), self.p_in)  # (T, B, emb)
        Hs, state = self.recurrence(X, state, unrolled)
        return self.decoder(self._drop(Hs, self.p_out)), state

    @torch.no_grad()
    def hidden_and_cell_states(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every ``h_t`` and ``c_t`` (evaluation mode, from a zero state): two ``(T, B, H)``."""
        was_training = self.training
        self.eval()
        cs: list[torch.Tensor] = []
        Hs, _ = self._unrolled(self.embed(ids), None, keep_c=cs)
        self.train(was_training)
        return Hs, torch.stack(cs)


@torch.no_grad()
def nats_per_char(model: nn.Module, ids: np.ndarray, B: int = 16, warmup: int = 0) -> float:
    """Mean cross-entropy (nats per character) of ``model`` on the stream ``ids``.

    The stream is cut into ``B`` contiguous pieces scored in one pass, each from a zero
    state; the first ``warmup`` characters of each piece are read but not scored. ``model``
    maps ids ``(T, B)`` to ``(logits (T, B, V), state)``; it is put in evaluation mode for
    the call and restored afterwards.
    """
    n = (len(ids) - 1) // B
    if n <= warmup:
        raise ValueError(f"{len(ids)} ids in {B} pieces leave nothing to score after a warm-up "
                         f"of {warmup}; use fewer pieces or a longer stream.")
    ids = np.asarray(ids)
    x = torch.as_tensor(np.stack([ids[b * n: (b + 1) * n] for b in range(B)], 1))  # (n, B)
    y = torch.as_tensor(np.stack([ids[b * n + 1: (b + 1) * n + 1] for b in range(B)], 1))
    was_training = model.training
    model.eval()
    logits, _ = model(x)
    model.train(was_training)
    V = logits.shape[-1]
    return F.cross_entropy(logits[warmup:].reshape(-1, V), y[warmup:].reshape(-1)).item()

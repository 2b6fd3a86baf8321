"""Controlled studies of "Beyond the classic RNN": several seeds trained as one batched model.

A study compares variants of a model over ``S`` seeds. Training ``S`` models one after the
other costs ``S`` Python loops; here the ``S`` models are one module whose parameters carry a
leading seed axis, so one step of the loop advances all of them. The models stay independent:
the loss is the sum of the per-seed losses (each seed's gradient is its own), Adam is
elementwise, and :func:`clip_per_seed` clips each seed's gradient norm separately.

- :class:`SeedLSTM`: ``S`` character LSTMs (embedding, one LSTM layer, decoder) with the
  regularisers of the regularisation page: variational dropout with one mask per sequence,
  zoneout, layer normalisation, weight tying.
- :func:`clip_per_seed`: gradient-norm clipping of each seed's parameters on its own.
- :func:`seed_windows`: random training windows, different for every seed, ``(T, S, B)``.
- :func:`seed_nats_per_char`: the validation loss of every seed, ``(S,)``.
- :func:`plateaued`: whether a best-so-far curve improved by less than a tolerance lately.

Every tensor is time-major, as in the rest of the course, with the seed axis after time:
ids ``(T, S, B)``, hidden states ``(S, B, H)``, logits ``(T, S, B, V)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnncourse.beyond import CharLSTM


def _mask(shape: tuple[int, ...], p: float, like: torch.Tensor) -> torch.Tensor:
    """A dropout mask of ``shape``: 0 with probability ``p``, else ``1 / (1 - p)``."""
    keep = torch.full(shape, 1.0 - p, dtype=like.dtype, device=like.device)
    return torch.bernoulli(keep) / (1.0 - p)


class SeedLSTM(nn.Module):
    """``len(seeds)`` independent character LSTMs: ids ``(T, S, B)`` to logits ``(T, S, B, V)``.

    Seed ``s`` draws its initial weights from ``torch.Generator().manual_seed(seeds[s])``, in
    the same order whatever the options, so two variants with the same seeds start from the
    same weights. Initialisation: the embedding ``E`` ``(S, V, H)`` and the decoder ``W_hy``
    ``(S, H, V)`` from N(0, 1/H) (so a tied matrix has a decoder's scale, not
    ``nn.Embedding``'s N(0, 1)); the LSTM weights ``W_x``, ``W_h`` ``(S, H, 4H)`` and bias
    ``(S, 4H)`` from U(-1/sqrt(H), 1/sqrt(H)), as ``torch.nn.LSTM``; ``b_y`` zero. Gate order
    i, f, g, o.

    Regularisers (training mode only; all off by default):

    - ``dropout``: variational dropout (Gal and Ghahramani): one mask per sequence on the
      input ``x_t``, the recurrent input ``h_{t-1}`` and the output ``h_t``, each ``(S, B, H)``,
      reused at every step of the window.
    - ``zoneout_c``, ``zoneout_h``: each unit of ``c`` (``h``) keeps its previous value with
      that probability at each step; evaluation uses the expected update.
    - ``layer_norm``: ``LN(x W_x) + LN(h W_h) + b`` for the gates, ``h = o * tanh(LN(c))``, with a
      gain and shift per seed.
    - ``tie``: the decoder is ``E^T`` (the untied ``W_hy`` is drawn but not used).
    """

    def __init__(
        self,
        V: int,
        H: int,
        seeds: Sequence[int],
        *,
        dropout: float = 0.0,
        zoneout_c: float = 0.0,
        zoneout_h: float = 0.0,
        layer_norm: bool = False,
        tie: bool = False,
    ) -> None:
        super().__init__()
        for name, p in [("dropout", dropout), ("zoneout_c", zoneout_c),
                        ("zoneout_h", zoneout_h)]:
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be in [0, 1); got {p}.")
        if not seeds:
            raise ValueError("SeedLSTM needs at least one seed; pass seeds=[0, 1, 2], say.")
        self.V, self.H, self.S = V, H, len(seeds)
        self.p, self.z_c, self.z_h = dropout, zoneout_c, zoneout_h
        self.layer_norm, self.tie = layer_norm, tie
        k = 1.0 / math.sqrt(H)
        draws: dict[str, list[torch.Tensor]] = {n: [] for n in ["E", "W_x", "W_h", "b", "W_hy"]}
        for seed in seeds:
            g = torch.Generator().manual_seed(int(seed))
            draws["E"].append(torch.randn(V, H, generator=g) * k)
            draws["W_x"].append((torch.rand(H, 4 * H, generator=g) * 2 - 1) * k)
            draws["W_h"].append((torch.rand(H, 4 * H, generator=g) * 2 - 1) * k)
            draws["b"].append((torch.rand(4 * H, generator=g) * 2 - 1) * k)
            draws["W_hy"].append(torch.randn(H, V, generator=g) * k)
        self.E = nn.Parameter(torch.stack(draws["E"]))  # (S, V, H)
        self.W_x = nn.Parameter(torch.stack(draws["W_x"]))  # (S, H, 4H)
        self.W_h = nn.Parameter(torch.stack(draws["W_h"]))  # (S, H, 4H)
        self.b = nn.Parameter(torch.stack(draws["b"]))  # (S, 4H)
        self.W_hy = None if tie else nn.Parameter(torch.stack(draws["W_hy"]))  # (S, H, V)
        self.b_y = nn.Parameter(torch.zeros(self.S, V))  # (S, V)
        if layer_norm:  # gains and shifts of LN(x W_x), LN(h W_h), LN(c), per seed
            self.g_x, self.g_h = (nn.Parameter(torch.ones(self.S, 4 * H)) for _ in range(2))
            self.g_c = nn.Parameter(torch.ones(self.S, H))
            self.beta_x, self.beta_h = (nn.Parameter(torch.zeros(self.S, 4 * H)) for _ in range(2))
            self.beta_c = nn.Parameter(torch.zeros(self.S, H))

    def decoder_weight(self) -> torch.Tensor:
        """``W_hy`` ``(S, H, V)``: its own matrix, or ``E^T`` when tied."""
        return self.E.transpose(1, 2) if self.W_hy is None else self.W_hy

    @torch.no_grad()
    def char_lstm(self, s: int) -> CharLSTM:
        """Seed ``s`` as a :class:`rnncourse.beyond.CharLSTM` with the same weights and options.

        The two compute the same function in evaluation mode (the regularisers' training-time
        noise differs only in where the masks are drawn), which the page checks in float64.
        """
        model = CharLSTM(self.V, self.H, zoneout_c=self.z_c, zoneout_h=self.z_h,
                         layer_norm=self.layer_norm, tie=self.tie).to(self.E.dtype)
        model.embed.weight.copy_(self.E[s])
        model.lstm.weight_ih_l0.copy_(self.W_x[s].T)  # PyTorch stores W^T, (4H, H)
        model.lstm.weight_hh_l0.copy_(self.W_h[s].T)
        model.lstm.bias_ih_l0.copy_(self.b[s])
        model.lstm.bias_hh_l0.zero_()
        model.decoder.weight.copy_(self.decoder_weight()[s].T)  # (V, H)
        model.decoder.bias.copy_(self.b_y[s])
        if self.layer_norm:
            for ln, g, beta in [(model.ln_x, self.g_x, self.beta_x),
                                (model.ln_h, self.g_h, self.beta_h),
                                (model.ln_c, self.g_c, self.beta_c)]:
                ln.weight.copy_(g[s])
                ln.bias.copy_(beta[s])
        return model

    def _ln(self, a: torch.Tensor, g: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        """Layer norm of ``a`` ``(..., S, B, n)`` over its last axis, gain and shift ``(S, n)``."""
        return F.layer_norm(a, a.shape[-1:]) * g[:, None] + beta[:, None]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits ``(T, S, B, V)`` for ids ``(T, S, B)``, from a zero state."""
        T, S, B = ids.shape
        H = self.H
        X = self.E[torch.arange(S)[None, :, None], ids]  # (T, S, B, H)
        drop = self.training and self.p > 0.0
        if drop:
            X = X * _mask((S, B, H), self.p, X)
            m_h = _mask((S, B, H), self.p, X)
        Ax = torch.einsum("tsbh,shg->tsbg", X, self.W_x)  # (T, S, B, 4H)
        if self.layer_norm:
            Ax = self._ln(Ax, self.g_x, self.beta_x)
        Ax = Ax + self.b[:, None]
        zone = self.training and (self.z_c > 0.0 or self.z_h > 0.0)
        if zone:
            keep_c = torch.rand(T, S, B, H) < self.z_c
            keep_h = torch.rand(T, S, B, H) < self.z_h
        h = c = X.new_zeros(S, B, H)
        hs = []
        for t in range(T):
            Ah = torch.bmm(h * m_h if drop else h, self.W_h)  # (S, B, 4H)
            if self.layer_norm:
                Ah = self._ln(Ah, self.g_h, self.beta_h)
            a = Ax[t] + Ah
            s = a.sigmoid()
            c_new = s[..., H:2 * H] * c + s[..., :H] * a[..., 2 * H:3 * H].tanh()
            c_out = self._ln(c_new, self.g_c, self.beta_c) if self.layer_norm else c_new
            h_new = s[..., 3 * H:] * c_out.tanh()
            if zone:
                c = torch.where(keep_c[t], c, c_new)
                h = torch.where(keep_h[t], h, h_new)
            else:  # evaluation: the expected zoneout update (the plain one when z = 0)
                c = torch.lerp(c_new, c, self.z_c) if self.z_c else c_new
                h = torch.lerp(h_new, h, self.z_h) if self.z_h else h_new
            hs.append(h)
        Hs = torch.stack(hs)  # (T, S, B, H)
        if drop:
            Hs = Hs * _mask((S, B, H), self.p, Hs)
        return torch.einsum("tsbh,shv->tsbv", Hs, self.decoder_weight()) + self.b_y[:, None]

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-seed mean cross-entropy ``(S,)`` of targets ``y`` given inputs ``x``, ``(T, S, B)``.

        Summed over seeds, it gives each seed its own gradient.
        """
        logits = self(x)  # (T, S, B, V)
        ce = F.cross_entropy(logits.permute(0, 3, 1, 2), y, reduction="none")  # (T, S, B)
        return ce.mean(dim=(0, 2))


def clip_per_seed(params: Sequence[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Clip each seed's gradient (axis 0 of every parameter) to norm ``max_norm``; norms ``(S,)``.

    ``torch.nn.utils.clip_grad_norm_`` would clip the norm of all seeds together, coupling
    models that should be independent.
    """
    grads = [p.grad for p in params if p.grad is not None]
    norms = torch.stack([g.pow(2).flatten(1).sum(1) for g in grads]).sum(0).sqrt()  # (S,)
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))
    return norms


def seed_windows(
    ids: np.ndarray, S: int, B: int, T: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``S * B`` random windows of ``T`` ids: inputs and next-character targets, ``(T, S, B)``."""
    if len(ids) < T + 1:
        raise ValueError(f"A stream of {len(ids)} ids is too short for windows of T={T}.")
    starts = rng.integers(0, len(ids) - T, size=(S, B))
    w = torch.as_tensor(np.asarray(ids)[starts[None] + np.arange(T + 1)[:, None, None]])
    return w[:-1], w[1:]


@torch.no_grad()
def seed_nats_per_char(model: SeedLSTM, ids: np.ndarray, B: int = 64) -> np.ndarray:
    """Mean cross-entropy of every seed on the stream ``ids``, nats per character, ``(S,)``.

    The stream is cut into ``B`` contiguous pieces scored in one pass from a zero state, in
    evaluation mode (restored afterwards).
    """
    n = (len(ids) - 1) // B
    if n < 1:
        raise ValueError(f"{len(ids)} ids cannot fill {B} pieces; use fewer pieces.")
    ids = np.asarray(ids)
    cut = np.stack([ids[b * n: (b + 1) * n + 1] for b in range(B)], 1)  # (n + 1, B)
    w = torch.as_tensor(cut)[:, None].expand(-1, model.S, -1)  # (n + 1, S, B)
    was_training = model.training
    model.eval()
    loss = model.loss(w[:-1], w[1:])
    model.train(was_training)
    return loss.numpy()


def plateaued(curve: Sequence[float], window: int, tol: float) -> bool:
    """Whether the best-so-far of ``curve`` improved by less than ``tol`` over its last ``window``.

    ``curve`` is a sequence of evaluations (one per evaluation step); a model that overfits
    has plateaued in this sense once its best validation loss stops improving.
    """
    if window < 1 or len(curve) <= window:
        raise ValueError(f"A curve of {len(curve)} points has no window of {window} to compare; "
                         "evaluate more often or train longer.")
    best = np.minimum.accumulate(np.asarray(curve, dtype=float))
    return bool(best[-window - 1] - best[-1] < tol)

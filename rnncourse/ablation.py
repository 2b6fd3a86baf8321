"""Causal tests of single units of a character LSTM: change a unit, measure the loss.

A correlation between a unit and a feature of the text says that the unit *follows* the
feature, not that the model *uses* it. The test of use is an intervention: hold the unit at a
fixed value while the model reads the text, and see which predictions get worse.

- :func:`unit_names`: the names ``h0 .. h{H-1}, c0 .. c{H-1}`` of the ``2H`` units of an LSTM,
  the hidden units first, as on the hidden-units page.
- :func:`ablation_masks`: boolean masks ``(K, 2H)`` of the units each of ``K`` runs holds fixed.
- :func:`random_unit_sets`: ``R`` random controls of a set of units: as many hidden and cell
  units, none of the set.
- :func:`ablated_nll`: the loss of every predicted character, ``(K, M)``, for ``K`` runs of one
  :class:`rnncourse.beyond.CharLSTM` over one text, each run with its own units held fixed.
  All ``K`` runs go through the LSTM together, as one batch.

Unit ``j < H`` is ``h_j``; unit ``j >= H`` is ``c_{j-H}``. Holding a unit at a value means, at
every step, replacing it after the LSTM computes it: a cell unit before the step computes
``h_t = o_t * tanh(c_t)`` from it, so the change reaches ``h_t``, the decoder and the next
step; a hidden unit before the decoder and the next step read it. With the unit's mean over
the text as the value this is *mean ablation*: the unit carries no information, and the rest
of the network sees a typical value rather than an unusual zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from rnncourse.beyond import CharLSTM


def unit_names(H: int) -> list[str]:
    """The names of the ``2H`` units: ``h0 .. h{H-1}`` then ``c0 .. c{H-1}``."""
    if H < 1:
        raise ValueError(f"An LSTM has at least one unit; got H={H}.")
    return [f"h{j}" for j in range(H)] + [f"c{j}" for j in range(H)]


def ablation_masks(unit_sets: Sequence[Sequence[int]], H: int) -> np.ndarray:
    """Boolean masks ``(K, 2H)``: row ``k`` is True at the units of ``unit_sets[k]``.

    An empty set is the intact model (a row of False), the baseline of every comparison.
    """
    masks = np.zeros((len(unit_sets), 2 * H), dtype=bool)
    for k, units in enumerate(unit_sets):
        for j in units:
            if not 0 <= int(j) < 2 * H:
                raise ValueError(f"Unit {j} of set {k} is not among the 2H = {2 * H} units; "
                                 f"use 0 .. {H - 1} for h and {H} .. {2 * H - 1} for c.")
            masks[k, int(j)] = True
    return masks


def random_unit_sets(
    H: int, chosen: Sequence[int], R: int, rng: np.random.Generator
) -> list[list[int]]:
    """``R`` random controls of the unit set ``chosen``: sets of as many hidden units and as many
    cell units as ``chosen`` holds, drawn uniformly without replacement from the units outside it,
    no set twice (a repeated draw is drawn again).

    If ablating the chosen units matters no more than ablating units picked at random, the
    choice did not matter. Matching the kinds matters: a hidden unit reaches the decoder
    directly, a cell unit only through ``tanh``, so a control of the other kind is not a
    like-for-like comparison.
    """
    chosen_set = {int(j) for j in chosen}
    if not chosen_set or not all(0 <= j < 2 * H for j in chosen_set):
        raise ValueError(f"chosen must name at least one of the 2H = {2 * H} units "
                         f"(0 .. {2 * H - 1}); got {sorted(chosen_set)}.")
    if R < 1:
        raise ValueError(f"Draw at least one control set; got R={R}.")
    kinds = [(range(H), sum(j < H for j in chosen_set)),           # hidden units h0 .. h{H-1}
             (range(H, 2 * H), sum(j >= H for j in chosen_set))]   # cell units c0 .. c{H-1}
    pools = [(np.array([j for j in units if j not in chosen_set], dtype=int), k)
             for units, k in kinds]
    for (pool, k), kind in zip(pools, "hc", strict=True):
        if k > len(pool):
            raise ValueError(f"chosen holds {k} {kind} units and only {len(pool)} others are left "
                             f"to draw a control from; choose at most {H // 2} of each kind.")
    draws: dict[tuple[int, ...], None] = {}           # distinct sets, in the order drawn
    for _ in range(100 * R):
        units = tuple(sorted(int(j) for pool, k in pools
                             for j in rng.choice(pool, size=k, replace=False)))
        draws.setdefault(units)
        if len(draws) == R:
            return [list(units) for units in draws]
    raise ValueError(f"Could not draw {R} distinct control sets of {len(chosen_set)} units; "
                     "ask for fewer sets.")


def pieces_of(ids: np.ndarray, P: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets ``(n, P)``: the stream cut into ``P`` contiguous pieces of ``n`` steps.

    The same cut as :func:`rnncourse.beyond.nats_per_char` with ``B = P``: piece ``b`` reads
    ``ids[b*n : (b+1)*n]`` and predicts the next character of each, ``n = (len(ids) - 1) // P``.
    """
    ids = np.asarray(ids)
    n = (len(ids) - 1) // P
    if P < 1 or n < 1:
        raise ValueError(f"{len(ids)} ids cannot fill {P} pieces; use fewer pieces.")
    x = np.stack([ids[b * n: (b + 1) * n] for b in range(P)], 1)
    y = np.stack([ids[b * n + 1: (b + 1) * n + 1] for b in range(P)], 1)
    return x, y


@torch.no_grad()
def ablated_nll(
    model: CharLSTM, ids: np.ndarray, masks: np.ndarray, values: np.ndarray, P: int = 16
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The loss of every predicted character under each of ``K`` ablations, in nats.

    ``masks`` ``(K, 2H)`` says which units run ``k`` holds fixed (see :func:`ablation_masks`),
    at ``values`` ``(2H,)`` (the units' means over the text, for mean ablation). The stream
    ``ids`` is cut into ``P`` pieces, each read from a zero state (:func:`pieces_of`); the
    ``K * P`` sequences are one batch. Returns ``nll`` ``(K, M)`` and the input and target ids
    ``x``, ``y`` ``(M,)`` of the ``M = n * P`` predictions, piece after piece, in text order
    within each piece. A row of ``masks`` that holds nothing gives the intact model's losses,
    whose mean is ``nats_per_char(model, ids, B=P)``.
    """
    if model.uses_unrolled_path():   # dropout is off in evaluation; these two are not
        raise ValueError("ablated_nll runs the plain LSTM step; zoneout and layer normalisation "
                         "change it. Use a CharLSTM without them, or extend ablated_nll.")
    H = model.H
    masks = torch.as_tensor(np.asarray(masks, dtype=bool))
    if masks.ndim != 2 or masks.shape[1] != 2 * H:
        raise ValueError(f"masks must have shape (K, 2H) = (K, {2 * H}); got {tuple(masks.shape)}.")
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (2 * H,):
        raise ValueError(f"values must have shape (2H,) = ({2 * H},); got {values.shape}.")
    x_np, y_np = pieces_of(ids, P)
    dtype = model.decoder.weight.dtype
    lstm, K = model.lstm, masks.shape[0]
    m_h, m_c = masks[:, None, :H], masks[:, None, H:]                  # (K, 1, H) each
    v = torch.as_tensor(values, dtype=dtype)
    v_h, v_c = v[:H], v[H:]
    Ax = (model.embed(torch.as_tensor(x_np)) @ lstm.weight_ih_l0.T
          + lstm.bias_ih_l0 + lstm.bias_hh_l0)                 # (n, P, 4H): the same for every run
    y = torch.as_tensor(y_np)
    h = c = torch.zeros(K, P, H, dtype=dtype)
    nll = torch.empty(len(y_np), K, P, dtype=dtype)
    for t in range(len(y_np)):
        gates = Ax[t] + h @ lstm.weight_hh_l0.T                         # (K, P, 4H): i, f, g, o
        s = gates.sigmoid()
        c = s[..., H:2 * H] * c + s[..., :H] * gates[..., 2 * H:3 * H].tanh()
        c = torch.where(m_c, v_c, c)                                    # held cell units
        h = torch.where(m_h, v_h, s[..., 3 * H:] * c.tanh())            # held hidden units
        logp = F.log_softmax(model.decoder(h), dim=-1)                  # (K, P, V)
        nll[t] = -logp.gather(-1, y[t].expand(K, P)[..., None])[..., 0]
    order = nll.permute(1, 2, 0).reshape(K, -1)                          # piece after piece
    return order.numpy(), x_np.T.reshape(-1), y_np.T.reshape(-1)

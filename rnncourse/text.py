"""Text helpers shared by the applications that read or write sequences of symbols.

- :class:`Vocab`: symbols (characters or words) to integer ids and back, with optional
  special symbols (padding, unknown, begin, end).
- :func:`tokenize`: a small word tokenizer for short informal texts (tweets).
- :func:`stream_batches`: cut one long id stream into ``B`` parallel streams and walk them in
  windows of ``T`` steps, for truncated backpropagation through time.
- :func:`pad_batch`: pad variable-length id sequences into one time-major tensor.
- :func:`ngram_nats`: cross-entropy of an add-one-smoothed unigram or bigram model, the
  baselines of a character language model.
- :func:`sample_next`: draw the next symbol from logits with a temperature and top-k.
- :func:`beam_search`: keep the ``beam`` most probable partial outputs of a decoder.

Every tensor is time-major, as in the rest of the course: a batch of id sequences has shape
``(T, B)``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"


@dataclass
class Vocab:
    """A two-way map between symbols and ids; ``itos[i]`` is the symbol with id ``i``.

    Specials come first, so ``<pad>`` (when present) has id 0. Unknown symbols map to
    ``<unk>`` if the vocabulary has it, otherwise encoding them raises ``KeyError``.
    """

    itos: list[str]
    stoi: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(set(self.itos)) != len(self.itos):
            raise ValueError("Vocab symbols must be unique; remove the duplicates from itos.")
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    @classmethod
    def build(
        cls,
        symbols: Iterable[str],
        min_count: int = 1,
        specials: Sequence[str] = (),
        max_size: int | None = None,
    ) -> Vocab:
        """Vocabulary of the symbols seen at least ``min_count`` times, most frequent first.

        Ties are broken alphabetically, so the same data always gives the same ids.
        ``max_size`` caps the number of non-special symbols.
        """
        counts = Counter(symbols)
        kept = sorted((s for s, c in counts.items() if c >= min_count and s not in specials),
                      key=lambda s: (-counts[s], s))
        return cls(list(specials) + kept[:max_size])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, symbols: Iterable[str]) -> list[int]:
        """Ids of ``symbols``; unknown ones become ``<unk>`` when the vocabulary has it."""
        unk = self.stoi.get(UNK)
        if unk is None:
            return [self.stoi[s] for s in symbols]
        return [self.stoi.get(s, unk) for s in symbols]

    def decode(self, ids: Iterable[int], sep: str = "") -> str:
        """The symbols of ``ids`` joined with ``sep`` (``""`` for characters, ``" "`` for words)."""
        return sep.join(self.itos[int(i)] for i in ids)


_URL = re.compile(r"https?://\S+")
_USER = re.compile(r"@\w+")
_TOKEN = re.compile(r"<url>|<user>|#?[a-z0-9]+(?:'[a-z]+)?|[!?]+|[^\sa-z0-9]")


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of a short informal text.

    Links become ``<url>`` and @-mentions ``<user>``; hashtags keep their ``#``; runs of
    ``!`` or ``?`` are one token; any other non-space character is a token of its own.
    """
    text = _USER.sub("<user>", _URL.sub("<url>", text.lower()))
    return _TOKEN.findall(text)


def stream_batches(ids: np.ndarray, B: int, T: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Windows ``(x, y)`` of shape ``(T, B)`` over ``B`` parallel streams, in order.

    The 1-D stream ``ids`` is cut into ``B`` contiguous pieces of equal length (the remainder
    is dropped); column ``b`` of every window continues column ``b`` of the previous one, so a
    model can carry its hidden state from window to window. ``y`` is ``x`` shifted by one.
    """
    n = (len(ids) - 1) // B
    if n < T:
        raise ValueError(f"A stream of {len(ids)} ids is too short for B={B}, T={T}: "
                         "use fewer streams or shorter windows.")
    cols = np.asarray(ids[: n * B + 1])
    X = np.stack([cols[b * n: (b + 1) * n] for b in range(B)], axis=1)       # (n, B)
    Y = np.stack([cols[b * n + 1: (b + 1) * n + 1] for b in range(B)], axis=1)  # (n, B)
    for t in range(0, n - T + 1, T):
        yield X[t: t + T], Y[t: t + T]


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad id sequences to the longest one: ids ``(T, B)`` (long) and lengths ``(B,)``.

    Column ``b`` holds ``seqs[b]`` followed by ``pad_id``; ``lengths`` is on the CPU, as
    ``torch.nn.utils.rnn.pack_padded_sequence`` requires.
    """
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    if (lengths == 0).any():
        raise ValueError("pad_batch got an empty sequence; drop it or give it one token.")
    out = torch.full((int(lengths.max()), len(seqs)), pad_id, dtype=torch.long)
    for b, s in enumerate(seqs):
        out[: len(s), b] = torch.as_tensor(s, dtype=torch.long)
    return out, lengths


def ngram_nats(train: np.ndarray, test: np.ndarray, V: int, order: int = 1) -> float:
    """Mean negative log-likelihood (nats per symbol) of ``test`` under an n-gram of ``train``.

    ``order=1`` is the unigram model p(x_t), ``order=2`` the bigram p(x_t | x_{t-1}); counts
    get add-one (Laplace) smoothing over the ``V`` symbols. For ``order=2`` the first test
    symbol is not scored.
    """
    train, test = np.asarray(train), np.asarray(test)
    if order == 1:
        p = (np.bincount(train, minlength=V) + 1.0) / (len(train) + V)
        return float(-np.log(p[test]).mean())
    if order == 2:
        counts = np.ones((V, V))
        np.add.at(counts, (train[:-1], train[1:]), 1.0)
        P = counts / counts.sum(axis=1, keepdims=True)
        return float(-np.log(P[test[:-1], test[1:]]).mean())
    raise ValueError(f"order must be 1 or 2, got {order}.")


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> int:
    """Draw one id from ``softmax(logits / temperature)`` restricted to the ``top_k`` largest.

    ``logits`` has shape ``(V,)``. ``temperature`` near 0 approaches the argmax; ``top_k=None``
    keeps all ``V`` symbols.
    """
    if temperature <= 0:
        raise ValueError("temperature must be positive; use logits.argmax() for greedy.")
    z = logits.detach().double() / temperature
    if top_k is not None and top_k < z.numel():
        kth = torch.topk(z, top_k).values[-1]
        z = z.masked_fill(z < kth, -math.inf)
    return int(torch.multinomial(torch.softmax(z, dim=-1), 1, generator=generator))


def beam_search(
    step: Callable[[int, object], tuple[torch.Tensor, object]],
    state: object,
    bos: int,
    eos: int,
    beam: int = 4,
    max_len: int = 30,
) -> list[int]:
    """The most probable output (without ``bos``/``eos``) found by a beam of width ``beam``.

    ``step(token, state)`` returns the log-probabilities ``(V,)`` of the next token and the
    new decoder state. Finished hypotheses are compared by total log-probability; a beam of
    1 is greedy decoding.
    """
    alive = [(0.0, [bos], state)]
    done: list[tuple[float, list[int]]] = []
    for _ in range(max_len):
        cands = []
        for score, toks, st in alive:
            logp, st2 = step(toks[-1], st)
            top = torch.topk(logp, beam)
            for lp, tok in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                cands.append((score + lp, toks + [tok], st2))
        cands.sort(key=lambda c: -c[0])
        alive = []
        for score, toks, st in cands[:beam]:
            (done.append((score, toks[1:-1])) if toks[-1] == eos
             else alive.append((score, toks, st)))
        if not alive or (done and max(d[0] for d in done) >= alive[0][0]):
            break
    done.extend((s, t[1:]) for s, t, _ in alive)
    return max(done, key=lambda d: d[0])[1]

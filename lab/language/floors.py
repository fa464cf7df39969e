"""Finite-context floors h(k): the best loss of any predictor that sees only the last k chars.

h(k) = H(X_t | X_{t-k} .. X_{t-1}) under the stationary corpus, in nats per character
(Crutchfield and Feldman's finite-length entropy rate). It falls with k and converges to
the entropy floor `grammar.entropy_rate()` from above. h(0) is the unigram entropy.

Computed exactly: the characters are emitted by a hidden Markov chain over "nodes" (a
grammar state and the part of its current word written so far). Start from the
stationary node law, read k characters by filtering (belief <- belief x T_c), and average
the entropy of the next-character distribution over every context of length k, weighted
by its probability. Contexts whose beliefs are proportional predict alike from then on,
so they are merged (their weights add); that keeps the count of contexts small.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from lab.language.alphabet import ALPHABET
from lab.language.grammar import STATES, WORD_TRANSITIONS, render, stationary_distribution

MAX_K = 60  # floors are tabulated for k = 0..MAX_K
_MERGE_DIGITS = 10  # beliefs equal to this many digits count as one


def _nodes():
    """Nodes (state, prefix written), their stationary law, and per-char transition lists."""
    words = {s: [(render(w, s), p, nxt) for w, (p, nxt) in WORD_TRANSITIONS[s].items()]
             for s in STATES}
    mass: dict[tuple[str, str], float] = {}  # P(rendered word starts with prefix | state)
    for s in STATES:
        for r, p, _ in words[s]:
            for i in range(1, len(r) + 1):
                mass[(s, r[:i])] = mass.get((s, r[:i]), 0.0) + p
    nodes = sorted(mass)
    index = {n: i for i, n in enumerate(nodes)}
    pi = stationary_distribution()
    weight = np.array([pi[s] * mass[(s, u)] for s, u in nodes])
    edges: list[tuple[int, int, float]] = []  # (from, to, probability); to's last char is emitted
    for (s, u), i in index.items():
        cont: dict[str, float] = {}
        for r, p, _ in words[s]:
            if r.startswith(u) and len(r) > len(u):
                cont[r[len(u)]] = cont.get(r[len(u)], 0.0) + p
        for c, p in cont.items():
            edges.append((i, index[(s, u + c)], p / mass[(s, u)]))
        for r, p, nxt in words[s]:
            if r == u:  # the word is complete: the next word's first char follows
                for r2, p2, _ in words[nxt]:
                    edges.append((i, index[(nxt, r2[:1])], p / mass[(s, u)] * p2))
    return nodes, weight / weight.sum(), edges


@lru_cache(maxsize=1)
def _machine():
    nodes, pi, edges = _nodes()
    n, V = len(nodes), len(ALPHABET)
    char_of = np.array([ALPHABET.index(u[-1]) for _, u in nodes])
    src, dst, p = (np.array(v) for v in zip(*edges, strict=True))
    by_char = [np.flatnonzero(char_of == c) for c in range(V)]
    return pi, (src, dst, p, n), char_of, by_char


def _step(edges, belief: np.ndarray) -> np.ndarray:
    """The law of the next node given the law of this one: belief @ T, with T kept as its
    edge list (duplicate edges add up), so plain NumPy does it without a sparse library."""
    src, dst, p, n = edges
    return np.bincount(dst, weights=p * belief[src], minlength=n)


def _entropy(q: np.ndarray) -> float:
    q = q[q > 0]
    return float(-(q * np.log(q)).sum())


@lru_cache(maxsize=1)
def finite_context_floors(max_k: int = MAX_K) -> tuple[float, ...]:
    """(h(0), h(1), ..., h(max_k)) in nats per character, computed exactly (module docstring)."""
    pi, edges, char_of, by_char = _machine()
    V = len(by_char)
    beliefs = {b"": (1.0, pi)}  # key -> (weight of the contexts, normalised belief over nodes)
    out = []
    for _k in range(max_k + 1):
        h, nxt = 0.0, {}
        for weight, belief in beliefs.values():
            ahead = _step(edges, belief)  # (nodes,) law of the next node
            q = np.bincount(char_of, weights=ahead, minlength=V)
            h += weight * _entropy(q / q.sum())
            for c in np.flatnonzero(q > 1e-15):
                child = np.zeros_like(ahead)
                child[by_char[c]] = ahead[by_char[c]] / q[c]
                key = np.round(child, _MERGE_DIGITS).tobytes()
                w = weight * q[c] / q.sum()
                nxt[key] = (nxt[key][0] + w, child) if key in nxt else (w, child)
        out.append(float(h))
        beliefs = nxt
    return tuple(out)


def effective_memory(loss: float, floors=None) -> int | None:
    """Effective memory: the smallest k with h(k) <= loss (a run's held-out loss), i.e. the
    fewest characters of context with which some predictor could do as well as the run.
    None when the loss is below every tabulated h(k) (it uses more than MAX_K characters)."""
    floors = finite_context_floors() if floors is None else floors
    if not math.isfinite(loss):
        return 0
    for k, h in enumerate(floors):
        if h <= loss:
            return k
    return None

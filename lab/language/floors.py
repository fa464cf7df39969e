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
    """The stationary node law, the edges grouped by source node (indptr, to, probability:
    node i's edges are indptr[i]:indptr[i + 1]) and the char each node has just emitted."""
    nodes, pi, edges = _nodes()
    char_of = np.array([ALPHABET.index(u[-1]) for _, u in nodes])
    src, dst, p = (np.array(v) for v in zip(*edges, strict=True))
    order = np.argsort(src, kind="stable")
    indptr = np.searchsorted(src[order], np.arange(len(nodes) + 1))
    return pi, (indptr, dst[order], p[order]), char_of


def _step(edges, ctx: np.ndarray, node: np.ndarray, belief: np.ndarray):
    """belief @ T for every context at once. A level's beliefs are entries (context, node,
    probability); returns the entries of the next node's law, duplicates summed, sorted."""
    indptr, dst, p = edges
    n, counts = len(indptr) - 1, indptr[node + 1] - indptr[node]
    edge = np.repeat(indptr[node] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    pair, at = np.unique(np.repeat(ctx, counts) * n + dst[edge], return_inverse=True)
    return pair // n, pair % n, np.bincount(at, weights=p[edge] * np.repeat(belief, counts))


def _merge(child: np.ndarray, node: np.ndarray, belief: np.ndarray, n: int) -> np.ndarray:
    """The merged context of each of n child contexts (entries sorted by child, then node):
    children whose beliefs agree to _MERGE_DIGITS digits are one context."""
    rounded = np.round(belief, _MERGE_DIGITS)
    kept = rounded != 0
    bounds = np.searchsorted(child[kept], np.arange(n + 1)) * 8  # 8 bytes per entry
    nodes, values = node[kept].astype(np.int64).tobytes(), rounded[kept].tobytes()
    ids: dict[bytes, int] = {}
    return np.array([ids.setdefault(nodes[a:b] + values[a:b], len(ids))
                     for a, b in zip(bounds[:-1], bounds[1:], strict=True)])


def _entropies(q: np.ndarray) -> np.ndarray:
    """Entropy of each row of q (rows are distributions)."""
    return -(q * np.log(np.where(q > 0, q, 1.0))).sum(axis=1)


@lru_cache(maxsize=1)
def finite_context_floors(max_k: int = MAX_K) -> tuple[float, ...]:
    """(h(0), h(1), ..., h(max_k)) in nats per character, computed exactly (module docstring).
    Every context of a level is filtered at once, its belief kept as sparse entries."""
    pi, edges, char_of = _machine()
    V = len(ALPHABET)
    node = np.flatnonzero(pi > 0)  # one context (the empty one), believing pi
    ctx, belief, weight = np.zeros(len(node), np.int64), pi[node], np.ones(1)
    out = []
    for _k in range(max_k + 1):
        ctx, node, ahead = _step(edges, ctx, node, belief)  # law of the next node
        cell = ctx * V + char_of[node]  # (context, next char)
        q = np.bincount(cell, weights=ahead, minlength=len(weight) * V)  # (contexts * V,)
        law = q.reshape(-1, V) / q.reshape(-1, V).sum(axis=1, keepdims=True)
        out.append(float(weight @ _entropies(law)))
        # the children: each context extended by each char it can emit, then merged
        live = q > 1e-15
        keep = live[cell]
        cell, node, ahead = cell[keep], node[keep], ahead[keep]
        child = (np.cumsum(live) - 1)[cell]
        order = np.lexsort((node, child))  # entries sorted by child, then node
        child, node, belief = child[order], node[order], (ahead / q[cell])[order]
        merged = _merge(child, node, belief, int(live.sum()))
        weight = np.bincount(merged, weights=(weight[:, None] * law).ravel()[live])
        _, first = np.unique(merged, return_index=True)  # each merged context's belief
        mine = np.isin(child, first)
        ctx, node, belief = merged[child[mine]], node[mine], belief[mine]
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

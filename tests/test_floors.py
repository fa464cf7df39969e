import math

import numpy as np
import pytest

from lab.language import floors, grammar
from lab.language.alphabet import ALPHABET

K = 16  # the exact floors up to here take a few seconds


@pytest.fixture(scope="module")
def h():
    return np.array(floors.finite_context_floors(K))


def test_h0_is_the_unigram_entropy_of_the_text(h):
    text = grammar.generate_text(300_000, 6)
    counts = np.array([text.count(c) for c in ALPHABET], dtype=float)
    p = counts[counts > 0] / counts.sum()
    assert h[0] == pytest.approx(-(p * np.log(p)).sum(), abs=0.01)
    assert h[0] < math.log(len(ALPHABET))


def test_floors_fall_and_stay_above_the_entropy_rate(h):
    assert np.all(np.diff(h) <= 1e-12)  # more context never hurts the best predictor
    assert h[-1] > grammar.entropy_rate()


def test_h1_is_the_bigram_conditional_entropy(h):
    text = grammar.generate_text(300_000, 7)
    pairs = {}
    for a, b in zip(text, text[1:], strict=False):
        pairs[(a, b)] = pairs.get((a, b), 0) + 1
    n = sum(pairs.values())
    first = {}
    for (a, _), c in pairs.items():
        first[a] = first.get(a, 0) + c
    h1 = -sum(c / n * math.log(c / first[a]) for (a, _), c in pairs.items())
    assert h[1] == pytest.approx(h1, abs=0.01)


def _floors_one_context_at_a_time(max_k: int) -> list[float]:
    """Reference: filter each context's dense belief over nodes on its own, merge equal ones."""
    nodes, pi, edges = floors._nodes()
    char_of = np.array([ALPHABET.index(u[-1]) for _, u in nodes])
    src, dst, p = (np.array(v) for v in zip(*edges, strict=True))
    beliefs, out = {b"": (1.0, pi)}, []
    for _k in range(max_k + 1):
        h, nxt = 0.0, {}
        for weight, belief in beliefs.values():
            ahead = np.bincount(dst, weights=p * belief[src], minlength=len(nodes))
            q = np.bincount(char_of, weights=ahead, minlength=len(ALPHABET))
            h -= weight * sum(x * math.log(x) for x in q[q > 0] / q.sum())
            for c in np.flatnonzero(q > 1e-15):
                child = np.where(char_of == c, ahead / q[c], 0.0)
                key = np.round(child, floors._MERGE_DIGITS).tobytes()
                w = weight * q[c] / q.sum() + (nxt[key][0] if key in nxt else 0.0)
                nxt[key] = (w, nxt[key][1] if key in nxt else child)
        out.append(h)
        beliefs = nxt
    return out


def test_floors_match_one_context_at_a_time(h):
    assert h[:7] == pytest.approx(_floors_one_context_at_a_time(6), abs=1e-12)


def test_effective_memory():
    table = (2.0, 1.0, 0.6, 0.5, 0.45)
    assert floors.effective_memory(0.55, table) == 3
    assert floors.effective_memory(1.0, table) == 1
    assert floors.effective_memory(3.0, table) == 0
    assert floors.effective_memory(0.4, table) is None  # beyond the table

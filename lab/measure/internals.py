"""One text through a stored network, in NumPy (no torch): the internals page's numbers.

The model is the engine's (lab.training.model): a_t = W_xh[x_t] + h_{t-1} W_hh + b_h,
h_t = f(a_t), logits_t = h_t W_hy + b_y, from h_{-1} = 0. For one short text that is a few
small products per character, so the page renders from the stored weights alone;
`tests/test_internals.py` checks the numbers against the engine and autograd.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lab.language.agreement import agreement_sites
from lab.language.alphabet import encode

# activation -> (f(a), f'(a) written with h = f(a) where that is cheaper)
_F = {
    "tanh": (np.tanh, lambda a, h: 1.0 - h * h),
    "relu": (lambda a: np.maximum(a, 0.0), lambda a, h: (a > 0).astype(a.dtype)),
    "sigmoid": (lambda a: 1.0 / (1.0 + np.exp(-a)), lambda a, h: h * (1.0 - h)),
    "identity": (lambda a: a, lambda a, h: np.ones_like(a)),
}


@dataclass(frozen=True)
class Reading:
    """A text read by one network: pre-activations, states and next-char distributions."""

    text: str
    a: np.ndarray  # (T, H) pre-activations
    h: np.ndarray  # (T, H) state after each character
    probs: np.ndarray  # (T, V) distribution of the character after each one

    def loss(self) -> np.ndarray:
        """-ln P(actual next char) after each character but the last, (T-1,)."""
        nxt = encode(self.text[1:])
        return -np.log(self.probs[np.arange(len(nxt)), nxt])


def read(weights: dict[str, np.ndarray], activation: str, text: str,
         context: str = "") -> Reading:
    """Run the network over context + text (float64, from a zero state) and keep the part
    that reads text: a trained network never starts a sentence from a zero state, so a
    context sentence puts it where training left it."""
    f, _ = _F[activation]
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    x = encode(context + text)
    hidden = w["Whh"].shape[0]
    h = np.zeros(hidden)
    a_all, h_all = np.empty((len(x), hidden)), np.empty((len(x), hidden))
    for t, c in enumerate(x):
        a = w["Wxh"][c] + h @ w["Whh"] + w["bh"]
        h = f(a)
        a_all[t], h_all[t] = a, h
    n = len(context)
    logits = h_all[n:] @ w["Why"] + w["by"]
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return Reading(text, a_all[n:], h_all[n:], p / p.sum(axis=1, keepdims=True))


def input_gradient(weights: dict[str, np.ndarray], activation: str, r: Reading,
                   t: int) -> np.ndarray:
    """||dL_t / da_s|| for s = t, t-1, ..., 0 (index k = t - s), where L_t is the loss of
    predicting character t+1 after reading character t. a_s = W_xh[x_s] + ..., so this is
    how strongly that loss depends on the input read k characters earlier."""
    _, df = _F[activation]
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    target = encode(r.text[t + 1])[0]
    dlogits = r.probs[t].copy()
    dlogits[target] -= 1.0
    dh = w["Why"] @ dlogits
    out = np.empty(t + 1)
    for s in range(t, -1, -1):
        da = dh * df(r.a[s], r.h[s])
        out[t - s] = float(np.linalg.norm(da))
        dh = w["Whh"] @ da  # a_s = h_{s-1} W_hh + ...: dh_{s-1} = W_hh da_s
    return out


def _pending_numbers(text: str) -> np.ndarray:
    """Per character: +1 while a singular subject's number is pending (from its cue up to
    its verb's deciding character), -1 for a plural one, 0 elsewhere; the innermost wins."""
    y = np.zeros(len(text))
    for site in sorted(agreement_sites(text), key=lambda s: s.cue):
        y[site.cue:site.decide] = 1.0 if site.number == "sg" else -1.0
    return y


@dataclass(frozen=True)
class NumberDirection:
    """The linear read-out of the pending subject's number from h_t: score = h_t . w + b,
    positive for singular; fitted by ridge regression on held-out text."""

    w: np.ndarray
    b: float
    accuracy: float  # share of pending positions of the fitting text where the sign is right
    best_unit: int  # the single unit that tracks the number best
    best_unit_corr: float

    def score(self, h: np.ndarray) -> np.ndarray:
        return h @ self.w + self.b


def number_direction(weights: dict[str, np.ndarray], activation: str, text: str,
                     ridge: float = 1.0) -> NumberDirection:
    """Fit the number read-out on text (starting at a sentence start)."""
    r = read(weights, activation, text)
    y = _pending_numbers(text)
    on = y != 0
    h, t = r.h[on], y[on]
    design = np.hstack([h, np.ones((len(h), 1))])
    reg = ridge * np.eye(design.shape[1])
    reg[-1, -1] = 0.0
    coef = np.linalg.solve(design.T @ design + reg, design.T @ t)
    w, b = coef[:-1], float(coef[-1])
    acc = float(np.mean(np.sign(h @ w + b) == t))
    hc = h - h.mean(axis=0)
    sd = hc.std(axis=0) * t.std()
    corr = np.where(sd > 0, (hc * (t - t.mean())[:, None]).mean(axis=0) / np.where(sd > 0, sd,
                                                                                   1), 0.0)
    unit = int(np.argmax(np.abs(corr)))
    return NumberDirection(w, b, acc, unit, float(corr[unit]))


def verb_choices(r: Reading) -> list[dict]:
    """At every agreeing verb of the text: where it is decided, the subject's number, and
    P("s") there against P(the plural's continuation)."""
    out = []
    s_id, space, stop = (int(encode(c)[0]) for c in ("s", " ", "."))
    for site in agreement_sites(r.text):
        if site.decide - 1 >= len(r.probs):
            continue
        p = r.probs[site.decide - 1]
        p_s, p_pl = float(p[s_id]), float(p[space] + p[stop])
        right = p_s > p_pl if site.number == "sg" else p_pl > p_s
        out.append({"position": site.decide, "subject": site.subject, "number": site.number,
                    "distance": site.distance, "p_s": p_s, "p_plural": p_pl, "right": right,
                    "condition": site.condition})
    return out


def entropy(dist: dict[str, float] | None) -> float:
    """Entropy in nats of a {char: probability} distribution (nan for None)."""
    if not dist:
        return math.nan
    return -sum(q * math.log(q) for q in dist.values() if q > 0)

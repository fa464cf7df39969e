"""Exposure bias where it can appear: how often the model errs right after its own error,
against after a correct context, per position since the error (the scalars: the character
right after it), in its own text and (for comparison) on true text. Definitions:
lab.measure.registry ("error_after_error_own" ...).

"Error rate" at a position is the probability the model gives, in its softmax, to the
characters that would be errors there (analyses.illegal_mass): the chance that its next
character is an error, without the noise of drawing one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from lab.language.alphabet import ALPHABET
from lab.language.resync import ResyncParser
from lab.measure.metrics import EXPOSURE_SPAN  # positions 1..10 after an error: ~two words


def _forbidden(allowed: frozenset[str], cache: dict) -> np.ndarray:
    """(V,) 1.0 for the characters not in `allowed`, else 0 (kept per allowed set)."""
    row = cache.get(allowed)
    if row is None:
        row = cache[allowed] = np.array([float(c not in allowed) for c in ALPHABET])
    return row


class Compounding:
    """on_char hook for generate(): the error rate right after the model's own error.

    Per (run, sample) a ResyncParser follows the generated text. An *error from a correct
    context* is a sampled character the grammar forbids while the sentence so far was correct
    (the error an in-sync grammar.CharParser sees). At each of the EXPOSURE_SPAN positions
    after such an error, the probability the model gives to characters the ResyncParser would
    count as errors is summed per position since the error (positions it cannot judge, the
    rest of a word that is no word, are skipped). At every position in a correct context the
    same probability is summed too: the rate after a correct context (analyses'
    illegal_mass_own, the same positions).
    """

    def __init__(self, R: int, S: int, span: int = EXPOSURE_SPAN):
        self.parsers = [[ResyncParser() for _ in range(S)] for _ in range(R)]
        self.active: list[list[list[int]]] = [[[] for _ in range(S)] for _ in range(R)]
        self.sums, self.counts = np.zeros((R, span)), np.zeros((R, span))
        self.events = np.zeros(R)  # errors made from a correct context
        self.clean_sum, self.clean_count = np.zeros(R), np.zeros(R)
        self.span, self._rows = span, {}

    def __call__(self, t: int, logits: torch.Tensor, chosen: torch.Tensor) -> None:
        probs = torch.softmax(logits.double(), -1).numpy()  # (R, S, V)
        chosen = chosen.tolist()
        for r, row in enumerate(self.parsers):
            for s, parser in enumerate(row):
                allowed = parser.allowed()
                starts = self.active[r][s]
                if allowed is not None and (starts or parser.clean):
                    mass = float(probs[r, s] @ _forbidden(allowed, self._rows))
                    for e in starts:
                        self.sums[r, t - e - 1] += mass
                        self.counts[r, t - e - 1] += 1
                    if parser.clean:
                        self.clean_sum[r] += mass
                        self.clean_count[r] += 1
                if starts:
                    starts[:] = [e for e in starts if t - e < self.span]
                clean = parser.clean
                if parser.step(ALPHABET[chosen[r][s]]) is False and clean:
                    self.events[r] += 1
                    starts.append(t)

    def by_position(self) -> np.ndarray:
        """(R, span) mean error rate at positions 1..span after an error (nan: none judged)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sums / self.counts

    def after_correct(self) -> np.ndarray:
        """(R,) the error rate over every position whose sentence so far was correct."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.clean_sum / self.clean_count

    def next_char(self) -> np.ndarray:
        """(R,) the error rate at the character right after an error (position 1): the
        scalar, since from position 2 on the ResyncParser forgives more and more."""
        return self.by_position()[:, 0]


def after_error_true(mass: np.ndarray, span: int = EXPOSURE_SPAN) -> np.ndarray:
    """The same on true text: mass (R, B, L) is the probability of an error at each position
    of B true texts (nan where not scored). The model would err at t with probability m_t; the
    text after t stays true, so its error rate j characters later, given an error at t, is
    sum_t m_t m_(t+j) / sum_t m_t. Returns (R, span), j = 1..span."""
    R = mass.shape[0]
    num, den = np.zeros((R, span)), np.zeros((R, span))
    for j in range(1, span + 1):
        a, b = mass[..., :-j], mass[..., j:]
        both = np.isfinite(a) & np.isfinite(b)
        num[:, j - 1] = np.where(both, a * b, 0.0).sum((1, 2))
        den[:, j - 1] = np.where(both, a, 0.0).sum((1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


SCALAR_NAMES = ("error_after_error_own", "error_after_error_true", "error_compounding_own",
                "error_compounding_true", "exposure_errors")
SERIES = {"own": "error_after_error_own_by_position",
          "true": "error_after_error_true_by_position"}


def series(comp: Compounding, after_true: np.ndarray, r: int) -> pd.DataFrame:
    """Run r's error rate by position since an error (x = 1..span), own text and true text."""
    x = np.arange(1, comp.span + 1)
    return pd.DataFrame({"analysis": [SERIES["own"]] * len(x) + [SERIES["true"]] * len(x),
                         "x": np.concatenate([x, x]),
                         "y": np.concatenate([comp.by_position()[r], after_true[r]])})


def scalars(comp: Compounding, after_true: np.ndarray, r: int, after_correct_own: float,
            after_correct_true: float) -> dict[str, float]:
    """Run r's error rates at the character right after an error, and how many times the rate
    after a correct context they are (own text: illegal_mass_own; true: illegal_mass_true)."""
    own, true = float(comp.next_char()[r]), float(after_true[r, 0])
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.divide([own, true], [after_correct_own, after_correct_true])
    return {"error_after_error_own": own, "error_after_error_true": true,
            "error_compounding_own": float(ratio[0]), "error_compounding_true": float(ratio[1]),
            "exposure_errors": float(comp.events[r])}

"""Every metric and threshold of the lab, computed once; lab.measure.registry states them.

Losses are mean cross-entropy per character in nats (the unit of the entropy floor,
`lab.language.grammar.entropy_rate`). Functions take torch tensors with a leading run dimension
or plain numpy arrays, and return plain numbers or arrays. Importing this module does not
import torch, so the pages can quote these definitions and render without it.
"""

from __future__ import annotations

import math

import numpy as np

CURVE_EVERY = 50  # per-step records are stored as means over windows of this many steps
FINAL_WINDOW = 500  # final training loss: mean over the last this-many steps
DIVERGE_LOSS = 3 * math.log(29)  # a per-char loss above 3x chance (~10.1 nats) is divergence
UNSTABLE_RISE = 0.2  # finished, but final loss > best window loss by more than 20%
SATURATION_FRACTION = 0.1  # a unit is saturated where f'(a) < 10% of f's largest slope
REACH_THRESHOLD = 0.01  # gradient reach: normalised dL/dh_{t-k} stays within 1%..100x of k = 0
PROBE_MAX_K = 50  # the memory probe looks back k = 1..50 characters
PROBE_MARGIN = 0.05  # "clearly above chance": probe accuracy >= constant guess + 5 points
PROBE_BINS = ((1, 3), (4, 7), (8, 12), (13, 18), (19, 25), (26, 50))
EXPOSURE_SPAN = 10  # exposure bias: the error rate at positions 1..10 after an error


def spectral_radius(whh):
    """rho(W_hh) = max |eigenvalue| of each run's W_hh; (R, H, H) tensor -> (R,)."""
    import torch  # only the training side measures it; pages import this module torch-free

    return torch.linalg.eigvals(whh.double()).abs().amax(-1).float()


def saturated(h, activation: str):
    """Boolean mask of saturated units: f'(a) below SATURATION_FRACTION of f's largest slope."""
    if activation == "tanh":
        return (1 - h * h) < SATURATION_FRACTION
    if activation == "sigmoid":
        return h * (1 - h) < SATURATION_FRACTION * 0.25
    if activation == "relu":
        return h <= 0
    return h != h + 0  # identity: never (all False; works for tensors and arrays alike)


def hidden_stats(h, activation: str) -> dict[str, float]:
    """Mean, std, min, max and saturated fraction of one run's hidden states (any shape)."""
    h = h.float()
    return {
        "h_mean": h.mean().item(),
        "h_std": h.std().item(),
        "h_min": h.min().item(),
        "h_max": h.max().item(),
        "h_saturated": saturated(h, activation).float().mean().item(),
    }


GRADIENT_REGIMES = ("vanishing", "healthy", "exploding")
GROWTH_SPAN = 25  # the gradient's growth is judged over this many characters
GROWTH_LIMIT = 100.0  # vanishing below 1/100 over GROWTH_SPAN chars, exploding above 100x


def gradient_growth(decay: np.ndarray) -> float:
    """Per-character growth factor g of the normalised ||dL_t/dh_{t-k}||: the geometric mean
    ratio from k = 0 to the farthest k (g < 1 shrinks, g > 1 grows; NaN or inf count as inf)."""
    d = np.asarray(decay, dtype=float)
    if len(d) < 2:
        return 1.0
    last = d[-1] if np.isfinite(d).all() else math.inf
    if last <= 0:
        return 0.0
    return math.exp(math.log(last) / (len(d) - 1)) if math.isfinite(last) else math.inf


def gradient_regime(decay: np.ndarray) -> str:
    """vanishing / healthy / exploding: whether the gradient, at its per-character growth
    factor g, would shrink below 1/GROWTH_LIMIT or grow above GROWTH_LIMIT over GROWTH_SPAN
    characters (g^25 < 0.01 or > 100); healthy in between."""
    span_growth = gradient_growth(decay) ** GROWTH_SPAN
    if span_growth < 1 / GROWTH_LIMIT:
        return "vanishing"
    return "exploding" if span_growth > GROWTH_LIMIT else "healthy"


def gradient_reach(decay: np.ndarray) -> int:
    """Largest k such that the normalised ||dL_t/dh_{t-k}|| stays within [REACH_THRESHOLD,
    1/REACH_THRESHOLD] for 0..k: an exploding gradient (above 100x) is not reach."""
    d = np.asarray(decay, dtype=float)
    ok = (d >= REACH_THRESHOLD) & (d <= 1 / REACH_THRESHOLD)
    below = np.flatnonzero(~ok)
    return int(below[0] - 1) if below.size else len(d) - 1


def char_probe_horizon(accuracy: np.ndarray, chance: np.ndarray) -> int:
    """Old character probe: largest k with accuracy >= chance + PROBE_MARGIN at every 1..k."""
    clear = np.asarray(accuracy) >= np.asarray(chance) + PROBE_MARGIN
    below = np.flatnonzero(~clear)
    return int(below[0]) if below.size else len(clear)


# ---------------------------------------------------------------- agreement: memory that matters

AGREEMENT_BINS = ((1, 8), (9, 16), (17, 24), (25, 32), (33, 48), (49, 64))
LONG_DISTANCE = 16  # agreement_long: sites whose subject's cue is >= 16 chars back
CLEAR_ACCURACY = 0.6  # "clearly above chance": accuracy >= 60% ...
CLEAR_Z = 3.0  # ... and >= 3 binomial standard errors above 50% (one-sided p < 0.0014)
CLEAR_MIN_SITES = 20  # ... over at least this many sites


def agreement_bin(distance: int) -> int:
    """Index into AGREEMENT_BINS of a distance (chars from cue to deciding char); -1 if none."""
    for i, (lo, hi) in enumerate(AGREEMENT_BINS):
        if lo <= distance <= hi:
            return i
    return -1


def clearly_above_chance(accuracy: float, n: int) -> bool:
    """Agreement accuracy over n sites is clearly above chance (50%): n >= CLEAR_MIN_SITES,
    accuracy >= CLEAR_ACCURACY and z = (accuracy - 0.5) / sqrt(0.25 / n) >= CLEAR_Z."""
    if n < CLEAR_MIN_SITES or not math.isfinite(accuracy):
        return False
    return accuracy >= CLEAR_ACCURACY and (accuracy - 0.5) / math.sqrt(0.25 / n) >= CLEAR_Z


def memory_horizon(accuracy, n) -> int:
    """Memory horizon, in characters: the upper edge of the farthest AGREEMENT_BINS bin up to
    which agreement accuracy is clearly above chance in every bin (clearly_above_chance);
    0 if not even the nearest bin is. accuracy and n: one value per bin."""
    horizon = 0
    for (_, hi), a, k in zip(AGREEMENT_BINS, accuracy, n, strict=True):
        if not clearly_above_chance(float(a), int(k)):
            break
        horizon = hi
    return horizon


def memory_score(excess: float) -> float:
    """1 - excess / ln 2, where excess is the mean loss of the binary choice of the verb's
    form at its deciding character: 1 for a model sure of the right form, 0 for one that
    forgot the subject's number (it pays ln 2), below 0 for one sure of the wrong form."""
    return 1.0 - excess / math.log(2)


def probe_bin(k: int) -> str:
    """The distance bin label ('1-3', ..., '26-50') that lookback k falls in."""
    for lo, hi in PROBE_BINS:
        if lo <= k <= hi:
            return f"{lo}-{hi}"
    raise ValueError(f"lookback k={k} is outside 1..{PROBE_MAX_K}")


def run_status(diverged: bool, window_losses: np.ndarray, final_val_loss: float) -> str:
    """ok / unstable / diverged.

    diverged: the training loss became NaN or inf, or passed DIVERGE_LOSS, and the run
    stopped there; unstable: it finished, but its last window's loss is more than
    UNSTABLE_RISE above the best window loss it had reached (it learned, then lost ground),
    or its final held-out loss is not finite or above DIVERGE_LOSS (its state blows up on
    longer text than a training chunk); ok otherwise.
    """
    if diverged:
        return "diverged"
    w = np.asarray(window_losses, dtype=float)
    if w.size and w[-1] > (1 + UNSTABLE_RISE) * np.nanmin(w):
        return "unstable"
    if not np.isfinite(final_val_loss) or final_val_loss > DIVERGE_LOSS:
        return "unstable"
    return "ok"


def nearest_centroid_accuracy(train_x, train_y, test_x, test_y) -> float:
    """Category separation: accuracy of labelling each test vector by its nearest class centroid.

    Centroids are the per-category means of the training vectors (Euclidean distance).
    """
    train_x, test_x = np.asarray(train_x, float), np.asarray(test_x, float)
    labels = sorted(set(train_y))
    ty = np.asarray(train_y)
    cents = np.stack([train_x[ty == c].mean(0) for c in labels])
    d = ((test_x[:, None, :] - cents[None]) ** 2).sum(-1)
    pred = np.asarray(labels)[d.argmin(1)]
    return float((pred == np.asarray(test_y)).mean())


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """cos(a, b_i) for a vector a (H,) and rows b (N, H)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return b @ a / (np.linalg.norm(b, axis=1) * np.linalg.norm(a) + 1e-12)

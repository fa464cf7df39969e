"""Shared readings for the memory studies (initialization, hidden size, TBPTT, reservoir) and
their views: agreement by distance bin, gradient regime per arm, numbers worded as points.

Plain functions of a StudyData; the study modules write their own sentences from them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lab.data.studydata import StudyData
from lab.language.alphabet import VOCAB_SIZE
from lab.measure.metrics import AGREEMENT_BINS, GRADIENT_REGIMES, LONG_DISTANCE

BIN_EDGES = tuple(hi for _, hi in AGREEMENT_BINS)  # a series' x is its bin's upper edge
BIN_LABEL = {hi: f"{lo}-{hi}" for lo, hi in AGREEMENT_BINS}
LONG = LONG_DISTANCE
NEAR = BIN_EDGES[0]  # "within NEAR characters": the nearest distance bin


def pc(x: float) -> str:
    """An accuracy as a whole percentage ('no value' when missing)."""
    return f"{100 * x:.0f}%" if math.isfinite(x) else "no value"


def by_bin(data: StudyData, key: str, analysis: str = "agreement_by_bin") -> pd.Series:
    """Median over the arm's seeds of a by-distance series, indexed by bin upper edge."""
    series = data.tables.get("series")
    if series is None or series.empty:
        return pd.Series(dtype=float)
    s = series[(series["arm"] == key) & (series["analysis"] == analysis)]
    return s.groupby("x")["y"].median().reindex(BIN_EDGES)


def nearest_bin(data: StudyData, key: str) -> float:
    """Median agreement in the nearest distance bin (subject at most NEAR chars back), or nan."""
    acc = by_bin(data, key)
    return float(acc.iloc[0]) if len(acc) else math.nan


def sites_per_bin(data: StudyData) -> pd.Series:
    """Agreement sites per bin (the reading is the same for every run), by upper edge."""
    series = data.tables.get("series")
    if series is None or series.empty:
        return pd.Series(dtype=float)
    s = series[series["analysis"] == "agreement_sites_by_bin"]
    return s.groupby("x")["y"].max().reindex(BIN_EDGES)


def beyond(data: StudyData, key: str, distance: int,
           analysis: str = "agreement_by_bin") -> float:
    """Median agreement over the bins that start beyond `distance` chars (mean of bins)."""
    acc = by_bin(data, key, analysis)
    far = [hi for lo, hi in AGREEMENT_BINS if lo > distance]
    vals = acc.reindex(far).dropna()
    return float(vals.mean()) if len(vals) else math.nan


def regimes(data: StudyData, key: str) -> list[str]:
    """Each finished seed's gradient regime (vanishing / healthy / exploding)."""
    return [GRADIENT_REGIMES[int(round(x))] for x in data.values(key, "gradient_regime")
            if 0 <= x < len(GRADIENT_REGIMES)]


def regime(data: StudyData, key: str) -> str:
    """The arm's regime in words: 'exploding' when every seed agrees, else the seed counts."""
    r = regimes(data, key)
    if not r:
        return "not measured"
    counts = {x: r.count(x) for x in GRADIENT_REGIMES if x in r}
    if len(counts) == 1:
        return r[0]
    return ", ".join(f"{x} in {n} of {len(r)} seeds" for x, n in counts.items())


def growth_text(g: float) -> str:
    """A per-character growth factor as 'x0.91' or, when huge, 'x1e3'."""
    if math.isnan(g):
        return "an unmeasured factor"
    if not math.isfinite(g):
        return "a factor without bound"
    return f"x{g:.2f}" if g < 100 else f"x{g:.0e}".replace("e+0", "e").replace("e+", "e")


def span_growth(g: float, span: int = 25) -> str:
    """What a per-character factor g does over `span` characters, in words."""
    if math.isnan(g) or g <= 0:
        return "cannot be followed further"
    if not math.isfinite(g):
        return "overflows"
    total = g ** span
    if total >= 1:
        return f"grows {_big(total)}-fold over {span} characters"
    return f"shrinks to {_small(total)} of its size over {span} characters"


def _big(x: float) -> str:
    return f"{x:,.0f}" if x < 1e6 else f"{x:.0e}".replace("e+0", "e").replace("e+", "e")


def _small(x: float) -> str:
    return f"{100 * x:.2g}%" if x >= 1e-4 else f"{x:.0e}".replace("e-0", "e-")


def uniform_loss() -> float:
    """The loss of uniform guessing over the alphabet's 29 characters: ln 29 nats/char."""
    return math.log(VOCAB_SIZE)


def near_uniform(data: StudyData, key: str, tol: float = 0.1) -> bool:
    """Whether the arm's median final held-out loss sits within tol of uniform guessing."""
    m = data.median(key, "final_val_loss")
    return bool(np.isfinite(m) and abs(m - uniform_loss()) <= tol * uniform_loss())


def bin_start(horizon: float) -> float:
    """The near edge of the distance bin a memory horizon closes (a horizon is a bin's far
    edge): agreement was clear at distances from there on; nan when the horizon is no edge."""
    starts = {hi: lo for lo, hi in AGREEMENT_BINS}
    return float(starts.get(horizon, math.nan)) if math.isfinite(horizon) else math.nan


def beyond_chunk(horizon: float, seq_len: int) -> bool:
    """Whether agreement was clear in a distance bin that starts beyond the chunk length: a
    dependency no gradient ever covered, so the chunk was no ceiling for that run."""
    return bin_start(horizon) > seq_len


def horizon_text(horizon: float) -> str:
    """A memory horizon in characters, 'at least 64' when it is the last bin's edge (the
    measurement's limit, not the network's)."""
    if not math.isfinite(horizon):
        return "no value"
    return f"at least {horizon:.0f}" if horizon >= BIN_EDGES[-1] else f"{horizon:.0f}"


def reach_text(reach: float, seq_len: int) -> str:
    """A gradient reach in characters, 'at least 24' when it is the chunk's own limit
    (seq_len - 1 steps back: the gradient was still alive where the chunk cut it)."""
    if not math.isfinite(reach):
        return "no value"
    return f"at least {reach:.0f}" if reach >= seq_len - 1 else f"{reach:.0f}"

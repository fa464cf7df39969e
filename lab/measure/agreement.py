"""Memory measured where it matters: subject-verb agreement, read from the model's predictions.

At every agreeing verb of held-out text (lab.language.agreement), the model predicts the
deciding character: "s" for a singular subject, a space or "." for a plural one. A site is
right when P(correct form) > P(wrong form) there; the excess loss is the loss of that
binary choice, -log(P(correct) / (P(correct) + P(wrong))), whose grammar value is 0 (the
subject fixes the form), and ln 2 for a model that forgot the number. A linear probe of
the pending subject's number from h_t (diagnostic) says whether the number is in the state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import torch

from lab.language.agreement import ATTRACTORS, CONDITIONS, Site, agreement_sites
from lab.language.alphabet import CHAR_TO_ID, encode
from lab.measure.evaluate import finite, read, sentence_aligned_rows
from lab.measure.metrics import (
    AGREEMENT_BINS,
    LONG_DISTANCE,
    agreement_bin,
    memory_horizon,
    memory_score,
)
from lab.training.model import StackedRNN

AGREE_TRACKS, AGREE_LENGTH = 32, 2500  # held-out text read for agreement (~3,500 sites)
AGREE_BLOCK = 4  # tracks read at once, to bound memory (R x T x B x H states)
PROBE_FIT_TRACKS = 16  # the number probe is fitted on these tracks, scored on the others
PROBE_RIDGE = 1e-2  # probe ridge penalty, relative to the mean feature variance
CHECKPOINT_TRACKS, CHECKPOINT_LENGTH = 8, 1000  # the smaller reading at each checkpoint
_SG, _PL = [CHAR_TO_ID["s"]], [CHAR_TO_ID[" "], CHAR_TO_ID["."]]


@dataclass(frozen=True)
class SiteArrays:
    """Every site of a reading as arrays: track, deciding index, singular?, distance, ..."""

    track: np.ndarray
    decide: np.ndarray
    singular: np.ndarray
    distance: np.ndarray
    condition: np.ndarray  # index into CONDITIONS
    attractor: np.ndarray  # index into ATTRACTORS, -1 if no noun in between


def site_arrays(texts: list[str]) -> SiteArrays:
    rows = [(b, s) for b, t in enumerate(texts) for s in agreement_sites(t)]
    col = {
        "track": [b for b, _ in rows], "decide": [s.decide for _, s in rows],
        "singular": [s.number == "sg" for _, s in rows],
        "distance": [s.distance for _, s in rows],
        "condition": [CONDITIONS.index(s.condition) for _, s in rows],
        "attractor": [ATTRACTORS.index(s.attractor) if s.attractor else -1 for _, s in rows],
    }
    return SiteArrays(**{k: np.asarray(v, dtype=bool if k == "singular" else int)
                         for k, v in col.items()})


@lru_cache(maxsize=2)
def reading(tracks: int, length: int) -> tuple[tuple[str, ...], SiteArrays]:
    """Sentence-aligned held-out texts for the agreement reading and their sites (the same
    for every run, so parsed once per process)."""
    texts = tuple(sentence_aligned_rows(tracks, length))
    return texts, site_arrays(list(texts))


def probe_labels(sites: list[Site], length: int) -> tuple[np.ndarray, np.ndarray]:
    """Per position t of a text: the pending subject's number (+1 singular, -1 plural, 0 none)
    and the distance t - cue. The pending subject at t is the subject of the next verb to come
    whose subject's cue is at or before t (the innermost open agreement)."""
    label, dist = np.zeros(length, int), np.zeros(length, int)
    for s in sorted(sites, key=lambda s: -s.decide):  # nearer verbs overwrite farther ones
        label[s.cue: s.decide] = 1 if s.number == "sg" else -1
        dist[s.cue: s.decide] = np.arange(s.decide - s.cue)
    return label, dist


def _site_scores(logits: torch.Tensor, B: int, T: int, sa: SiteArrays, first: int):
    """(correct (R, n), excess (R, n)) of the block's sites; first = the block's first track."""
    rows = (sa.decide - 1) * B + (sa.track - first)  # t-major row predicting the deciding char
    p = torch.softmax(logits[:, torch.as_tensor(rows)].double(), -1)  # (R, n, V)
    p_sg, p_pl = p[..., _SG].sum(-1), p[..., _PL].sum(-1)
    sing = torch.as_tensor(sa.singular)
    right, wrong = torch.where(sing, p_sg, p_pl), torch.where(sing, p_pl, p_sg)
    excess = -torch.log((right / (right + wrong).clamp_min(1e-300)).clamp_min(1e-300))
    return (right > wrong).numpy(), excess.numpy()


def _subset(sa: SiteArrays, keep: np.ndarray) -> SiteArrays:
    return SiteArrays(**{k: getattr(sa, k)[keep] for k in SiteArrays.__dataclass_fields__})


@torch.no_grad()
def read_agreement(model: StackedRNN, tracks: int = AGREE_TRACKS, length: int = AGREE_LENGTH,
                   probe: bool = True) -> dict:
    """Read held-out text in blocks; per site correctness and excess (R, n), and the number
    probe's per-position correctness and distance on the scored tracks."""
    texts, sa = reading(tracks, length)
    R, H = model.R, model.H
    correct, excess = np.zeros((R, len(sa.track)), bool), np.zeros((R, len(sa.track)))
    gram, rhs = torch.zeros(R, H + 1, H + 1, dtype=torch.float64), torch.zeros(R, H + 1, 1,
                                                                                 dtype=torch.float64)
    w, probe_right, probe_dist = None, [], []
    for first in range(0, tracks, AGREE_BLOCK):
        block = list(texts[first: first + AGREE_BLOCK])
        rd = read(model, np.stack([encode(t) for t in block]))
        keep = (sa.track >= first) & (sa.track < first + len(block))
        c, e = _site_scores(rd.logits, len(block), length, _subset(sa, keep), first)
        correct[:, keep], excess[:, keep] = c, e
        if not probe:
            continue
        feats, y, d = _probe_samples(rd.hs, block)
        if first < PROBE_FIT_TRACKS:
            gram += feats.transpose(1, 2) @ feats
            rhs += feats.transpose(1, 2) @ y.view(1, -1, 1)
            continue
        if w is None:
            lam = PROBE_RIDGE * torch.diagonal(gram, dim1=1, dim2=2).mean(-1).clamp_min(1e-12)
            w = torch.linalg.solve(gram + lam.view(-1, 1, 1) * torch.eye(H + 1, dtype=gram.dtype),
                                   rhs)
        probe_right.append(((feats @ w).squeeze(-1) * y > 0).numpy())
        probe_dist.append(d)
    out = {"sites": sa, "correct": correct, "excess": excess}
    if probe_right:
        out["probe_right"] = np.concatenate(probe_right, 1)
        out["probe_distance"] = np.concatenate(probe_dist)
    return out


def _probe_samples(hs: torch.Tensor, texts: list[str]):
    """Features [h_t, 1] (R, n, H+1) float64, labels (n,) and distances (n,) of a block's
    positions that have a pending subject."""
    b_idx, t_idx, ys, ds = [], [], [], []
    for b, text in enumerate(texts):
        label, dist = probe_labels(agreement_sites(text), len(text))
        t = np.flatnonzero(label)
        b_idx.append(np.full(len(t), b))
        t_idx.append(t)
        ys.append(label[t])
        ds.append(dist[t])
    b, t = np.concatenate(b_idx), np.concatenate(t_idx)
    feats = finite(hs[:, torch.as_tensor(t + 1), torch.as_tensor(b)]).double()  # (R, n, H)
    feats = torch.cat([feats, torch.ones(*feats.shape[:-1], 1, dtype=feats.dtype)], -1)
    return feats, torch.as_tensor(np.concatenate(ys), dtype=torch.float64), np.concatenate(ds)


def _rate(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else math.nan


def summarise(res: dict, r: int) -> tuple[dict[str, float], pd.DataFrame]:
    """Run r's agreement scalars and its by-distance series (lab.training.results 'series')."""
    sa, right, excess = res["sites"], res["correct"][r], res["excess"][r]
    bins = np.array([agreement_bin(int(d)) for d in sa.distance])
    scalars = {"agreement_overall": _rate(right), "agreement_long": _rate(
        right[sa.distance >= LONG_DISTANCE]), "decision_excess": _rate(excess)}
    scalars["memory_score"] = memory_score(scalars["decision_excess"])
    for i, c in enumerate(CONDITIONS):
        scalars[f"agreement_{c}"] = _rate(right[sa.condition == i])
    for i, a in enumerate(ATTRACTORS):
        scalars[f"agreement_attractor_{a}"] = _rate(right[sa.attractor == i])
    acc = [_rate(right[bins == i]) for i in range(len(AGREEMENT_BINS))]
    n = [int((bins == i).sum()) for i in range(len(AGREEMENT_BINS))]
    scalars["memory_horizon"] = float(memory_horizon(acc, n))
    edges = [hi for _, hi in AGREEMENT_BINS]
    parts = [("agreement_by_bin", acc), ("agreement_sites_by_bin", n),
             ("memory_score_by_bin", [memory_score(_rate(excess[bins == i]))
                                      for i in range(len(AGREEMENT_BINS))])]
    if "probe_right" in res:
        pbins = np.array([agreement_bin(max(1, int(d))) for d in res["probe_distance"]])
        parts.append(("number_probe_by_bin", [_rate(res["probe_right"][r][pbins == i])
                                              for i in range(len(AGREEMENT_BINS))]))
        scalars["number_probe_long"] = _rate(
            res["probe_right"][r][res["probe_distance"] >= LONG_DISTANCE])
    series = pd.DataFrame([(name, x, float(y)) for name, ys in parts for x, y in zip(
        edges, ys, strict=True)], columns=["analysis", "x", "y"])
    return scalars, series


NOVEL_TRACKS = 16  # held-out tracks read per replaced noun for agreement on "zog"


@torch.no_grad()
def novel_agreement(model: StackedRNN, pairs, novel: tuple[str, str] = ("zog", "zogs")) -> dict:
    """Does agreement carry over to a word never seen? Run 0 of `model` reads held-out text
    with each noun pair (singular, plural) of `pairs` written as `novel` (no training);
    returns accuracy over the sites whose subject is the novel word (overall and 16+ chars
    back) and the number of sites."""
    from lab.language.corpus import replace_word

    texts, _ = reading(AGREE_TRACKS, AGREE_LENGTH)
    right, dist = [], []
    for sg, pl in pairs:
        swapped = [replace_word(t, sg, novel[0]).ljust(AGREE_LENGTH)[:AGREE_LENGTH]
                   for t in texts[:NOVEL_TRACKS]]
        stand_in = {novel[0]: sg, novel[1]: pl}
        rows = [(b, s) for b, t in enumerate(swapped) for s in agreement_sites(t, stand_in)
                if s.subject in novel]
        if not rows:
            continue
        sa = SiteArrays(track=np.array([b for b, _ in rows]),
                        decide=np.array([s.decide for _, s in rows]),
                        singular=np.array([s.number == "sg" for _, s in rows]),
                        distance=np.array([s.distance for _, s in rows]),
                        condition=np.array([CONDITIONS.index(s.condition) for _, s in rows]),
                        attractor=np.zeros(len(rows), int))
        rd = read(model, np.stack([encode(t) for t in swapped]))
        right.append(_site_scores(rd.logits, len(swapped), AGREE_LENGTH, sa, 0)[0][0])
        dist.append(sa.distance)
    right_all = np.concatenate(right) if right else np.zeros(0, bool)
    d = np.concatenate(dist) if dist else np.zeros(0, int)
    return {"zog_agreement": _rate(right_all), "zog_agreement_long": _rate(
        right_all[d >= LONG_DISTANCE]), "zog_sites": float(len(right_all))}

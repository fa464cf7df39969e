"""End-of-run analyses on final weights; each definition is stated in its docstring.

run_all() is what every trained run gets (gradient decay, reach and regime; subject-verb
agreement by condition and distance, the memory horizon and the number probe, in
lab.measure.agreement; the old character probe; category separation, next-character
legality in true vs own context, error compounding, free-running grammaticality).
novel_word() is the study-8 analysis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from lab.language import corpus, grammar
from lab.language.alphabet import ALPHABET, encode
from lab.measure import agreement, exposure
from lab.measure.evaluate import finite, generate, read, sentence_aligned_rows
from lab.measure.metrics import (
    GRADIENT_REGIMES,
    PROBE_MAX_K,
    char_probe_horizon,
    cosine_similarity,
    gradient_growth,
    gradient_reach,
    gradient_regime,
    nearest_centroid_accuracy,
)
from lab.training.config import RunConfig
from lab.training.model import StackedRNN, loss_and_dlogits

BURN_IN = 60  # characters read before any position is analysed (>= PROBE_MAX_K)
DECAY_TRACKS = 64  # sequences averaged for the gradient decay curve
READ_TRACKS, READ_TRAIN_TRACKS, READ_LENGTH = 8, 5, 1000  # probe: 5 tracks fit, 3 score
FREE_SAMPLES, FREE_CHARS = 16, 300  # free-running samples per run for own-context analyses
RIDGE = 1e-2  # probe ridge penalty, relative to the mean feature variance


@torch.no_grad()
def gradient_decay(model: StackedRNN, seq_len: int) -> np.ndarray:
    """Normalised mean ||dL_t/dh_{t-k}||, k = 0..seq_len-1, as (R, seq_len).

    L_t is the loss at the last position of a held-out chunk of seq_len characters
    (read after BURN_IN characters of warm-up); the norm is averaged over DECAY_TRACKS
    chunks and divided by its value at k = 0. Computed by the training backward pass.
    """
    rows = encode("".join(sentence_aligned_rows(DECAY_TRACKS, BURN_IN + seq_len + 1)))
    rows = torch.as_tensor(rows, dtype=torch.long).view(DECAY_TRACKS, -1)
    R, B = model.R, DECAY_TRACKS
    x = rows.unsqueeze(0).expand(R, -1, -1)
    warm = model.forward(x[..., :BURN_IN].contiguous(), torch.zeros(R, B, model.H)).hs[:, -1]
    fw = model.forward(x[..., BURN_IN: BURN_IN + seq_len].contiguous(), warm)
    targets = x[..., BURN_IN + 1: BURN_IN + seq_len + 1].transpose(1, 2).reshape(R, -1)
    _, dlogits = loss_and_dlogits(fw.logits, targets, B)
    dlogits[:, : (seq_len - 1) * B] = 0.0  # only the last position's loss
    _, dh = model.backward(fw, dlogits)  # (R, T, B, H) dL/dh_t
    norms = dh.norm(dim=-1).mean(-1).flip(-1)  # (R, T), k = 0 first
    return (norms / norms[:, :1].clamp_min(1e-30)).numpy()


def _probe_targets(x: np.ndarray) -> np.ndarray:
    """(B, N, K) char ids at t-k for positions t >= BURN_IN and k = 1..PROBE_MAX_K."""
    t = np.arange(BURN_IN, x.shape[1])
    k = np.arange(1, PROBE_MAX_K + 1)
    return x[:, t[:, None] - k[None, :]]


PROBE_ROWS = 256  # memory_probe scores this many positions at a time
PROBE_KS = 10  # and fits this many distances k at a time


def _onehot_products(xtr: torch.Tensor, ytr: np.ndarray) -> torch.Tensor:
    """xtr^T @ onehot(ytr): (R, H+1, K*V), for PROBE_KS distances at a time (the whole
    one-hot, n x K x V float64, was 56 MB; a product's column blocks are the same bits as
    the whole product's, tested)."""
    out = []
    for k in range(0, PROBE_MAX_K, PROBE_KS):
        y = torch.as_tensor(ytr[:, k: k + PROBE_KS]).long()
        onehot = torch.zeros(*y.shape, len(ALPHABET), dtype=torch.float64)
        onehot.scatter_(-1, y.unsqueeze(-1), 1.0)
        out.append(xtr.transpose(1, 2) @ onehot.flatten(1))
    return torch.cat(out, -1)


def memory_probe(hs: torch.Tensor, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear probe accuracy of the char at t-k from h_t, k = 1..50: (R, 50) and chance (50,).

    h_t is the state after reading char t. A ridge regression from [h_t, 1] onto the
    one-hot of char t-k is fitted on 5 held-out tracks of 1,000 characters and scored on 3
    others (argmax = prediction). Chance is the accuracy of always guessing the char
    most frequent at that distance in the fitting tracks.
    """
    y = _probe_targets(x)  # (B, N, K)
    feats = hs[:, BURN_IN + 1:].transpose(1, 2)  # (R, B, N, H)
    feats = torch.cat([finite(feats), torch.ones(*feats.shape[:-1], 1)], -1).double()
    ntr = READ_TRAIN_TRACKS
    xtr, xte = feats[:, :ntr].flatten(1, 2), feats[:, ntr:].flatten(1, 2)  # (R, n, H+1)
    ytr, yte = y[:ntr].reshape(-1, PROBE_MAX_K), y[ntr:].reshape(-1, PROBE_MAX_K)
    gram = xtr.transpose(1, 2) @ xtr  # (R, H+1, H+1)
    lam = RIDGE * torch.diagonal(gram, dim1=1, dim2=2).mean(-1).clamp_min(1e-12)
    gram += lam.view(-1, 1, 1) * torch.eye(gram.shape[-1], dtype=gram.dtype)
    w = torch.linalg.solve(gram, _onehot_products(xtr, ytr))  # (R, H+1, K*V)
    del feats, xtr  # a retrain's peak memory (the server has ~690 MB in all)
    # scored PROBE_ROWS positions at a time: (R, n, K*V) float64 at once was ~100 MB, and a
    # product's rows do not depend on how many are computed together (same bits, tested)
    pred = torch.cat([(xte[:, i: i + PROBE_ROWS] @ w).view(xte.shape[0], -1, PROBE_MAX_K,
                                                         len(ALPHABET)).argmax(-1)
                      for i in range(0, xte.shape[1], PROBE_ROWS)], 1)
    acc = (pred.numpy() == yte[None]).mean(1)  # (R, K)
    majority = np.array([np.bincount(ytr[:, k], minlength=len(ALPHABET)).argmax()
                         for k in range(PROBE_MAX_K)])
    chance = (yte == majority[None]).mean(0)
    return acc, chance


def category_separation(hs: torch.Tensor, texts: list[str]) -> tuple[np.ndarray, float]:
    """Nearest-centroid accuracy of word categories from word-end hidden states, (R,), and chance.

    A word-end state is h right after a word's last letter (or after "."). Centroids come
    from 5 of the 8 held-out tracks, accuracy from the other 3; chance is the share of
    the most common category among the scored words.
    """
    idx = {"train": [], "test": []}
    for b, text in enumerate(texts):
        for _, cat, end in grammar.word_spans(text):
            if end >= BURN_IN and cat is not None:
                idx["train" if b < READ_TRAIN_TRACKS else "test"].append((b, end, cat))
    def states(items):  # (N, R, H) word-end states of every run
        b, e = (torch.tensor([it[i] for it in items]) for i in (0, 1))
        return finite(hs[:, e + 1, b].transpose(0, 1)).numpy()

    tr, te = states(idx["train"]), states(idx["test"])
    ytr, yte = [c for *_, c in idx["train"]], [c for *_, c in idx["test"]]
    scores = [nearest_centroid_accuracy(tr[:, r], ytr, te[:, r], yte) for r in range(hs.shape[0])]
    test_cats = [c for *_, c in idx["test"]]
    chance = max(test_cats.count(c) for c in set(test_cats)) / len(test_cats)
    return np.array(scores), chance


def illegal_mass(logits: torch.Tensor, allowed: set[str]) -> np.ndarray:
    """Illegal probability mass: the probability the model gives, in its softmax over the 29
    characters, to the characters the grammar forbids next (averaged over the positions read).
    Unlike "is its most likely character legal", it does not saturate for a good model: it
    says how sure the model is, not only what it would pick."""
    # logits (..., V) -> one value per leading index; allowed: grammar.CharParser.allowed()
    forbidden = torch.tensor([c not in allowed for c in ALPHABET])
    return (torch.softmax(logits, -1) * forbidden).sum(-1).numpy()


def legal_in_true_context(logits: torch.Tensor, texts: list[str]) -> dict[str, np.ndarray]:
    """Per run, over positions t >= BURN_IN of held-out tracks that start at sentence starts:
    the fraction where the argmax next char is legal ("legal": the grammar allows that char
    after the true text so far, grammar.CharParser) and where it is right, and the mean
    illegal probability mass (illegal_mass); "masses": that mass per (run, track, position),
    nan before BURN_IN (for exposure.after_error_true)."""
    R, B, L = logits.shape[0], len(texts), len(texts[0])
    by_t = logits.view(R, L, B, -1)  # row t predicts char t+1
    pred = by_t.argmax(-1)  # (R, L, B)
    legal, right, mass = np.zeros(R), np.zeros(R), np.zeros(R)
    masses = np.full((R, B, L), np.nan)
    n = 0
    for b, text in enumerate(texts):
        parser = grammar.CharParser()
        for t, ch in enumerate(text[:-1]):
            parser.step(ch)
            if t >= BURN_IN:
                allowed = parser.allowed()
                chars = [ALPHABET[i] for i in pred[:, t, b].tolist()]
                legal += [c in allowed for c in chars]
                right += [c == text[t + 1] for c in chars]
                masses[:, b, t] = illegal_mass(by_t[:, t, b], allowed)
                mass += masses[:, b, t]
                n += 1
    return {"legal": legal / n, "right": right / n, "illegal_mass": mass / n, "masses": masses}


class OwnContext:
    """on_char hook for generate(): scores the argmax next char against the model's own text.

    Per (run, sample) a CharParser follows the generated text; while it is in sync, each
    step counts whether the argmax prediction is legal and adds the illegal probability mass
    (illegal_mass). It also records the first illegal sampled character of each sample
    (error-free length).
    """

    def __init__(self, R: int, S: int, n_chars: int):
        self.parsers = [[grammar.CharParser() for _ in range(S)] for _ in range(R)]
        self.legal, self.mass, self.count = np.zeros(R), np.zeros(R), np.zeros(R)
        self.first_error = np.full((R, S), n_chars)

    def __call__(self, t, logits, chosen):
        pred, chosen = logits.argmax(-1).tolist(), chosen.tolist()
        for r, row in enumerate(self.parsers):
            for s, parser in enumerate(row):
                allowed = parser.allowed()
                if allowed is not None:
                    self.legal[r] += ALPHABET[pred[r][s]] in allowed
                    self.mass[r] += float(illegal_mass(logits[r, s], allowed))
                    self.count[r] += 1
                if not parser.step(ALPHABET[chosen[r][s]]) and self.first_error[r, s] > t:
                    self.first_error[r, s] = t


def sentence_error_chain(texts: list[str]) -> dict[str, float]:
    """Exposure bias, sentence by sentence in free-running text.

    p_invalid_after_valid: P(sentence invalid | the sentence before it was valid);
    p_invalid_after_invalid: the same after an invalid one. A gap means errors compound.
    """
    counts = np.zeros((2, 2))  # [previous invalid?, this invalid?]
    for text in texts:
        pieces = text.split(".\n")[:-1]
        valid = [grammar.score(p + ".\n").valid_sentences == 1.0 for p in pieces]
        for prev, cur in zip(valid, valid[1:], strict=False):
            counts[int(not prev), int(not cur)] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = counts[:, 1] / counts.sum(1)
    return {"p_invalid_after_valid": float(rates[0]), "p_invalid_after_invalid": float(rates[1])}


SCALAR_NAMES = (  # what run_all gives every run (tests/test_precompute.py checks it)
    "gradient_reach", "gradient_growth", "gradient_regime", "memory_horizon",
    "char_probe_horizon", "agreement_overall", "agreement_long", "decision_excess",
    "memory_score", *(f"agreement_{c}" for c in agreement.CONDITIONS),
    *(f"agreement_attractor_{a}" for a in agreement.ATTRACTORS), "number_probe_long",
    "category_separation", "category_chance",
    "next_char_legal_true", "next_char_acc_true", "next_char_legal_own", "illegal_mass_true",
    "illegal_mass_own", "free_valid_words", "free_valid_sentences", "p_invalid_after_valid",
    "p_invalid_after_invalid", *exposure.SCALAR_NAMES)


def run_all(model: StackedRNN, configs: list[RunConfig]) -> list[tuple[dict, dict]]:
    """Every standard analysis for each run of a trained stack: [(tables, scalars)] per run."""
    texts = sentence_aligned_rows(READ_TRACKS, READ_LENGTH)
    x = np.stack([encode(t) for t in texts])
    rd = read(model, x)
    acc, chance = memory_probe(rd.hs, x)
    sep, sep_chance = category_separation(rd.hs, texts)
    true_ctx = legal_in_true_context(rd.logits, texts)
    del rd  # every state and logit of the read (tens of MB): the analyses below make their own
    decay = gradient_decay(model, configs[0].seq_len)
    agree = agreement.read_agreement(model)
    own = OwnContext(model.R, FREE_SAMPLES, FREE_CHARS)
    comp = exposure.Compounding(model.R, FREE_SAMPLES)
    free = generate(model, FREE_SAMPLES, FREE_CHARS, [c.seed * 104729 + 1 for c in configs],
                    lambda t, logits, chosen: (own(t, logits, chosen), comp(t, logits, chosen)))
    after_true = exposure.after_error_true(true_ctx["masses"])
    lengths = np.arange(10, FREE_CHARS + 1, 10)
    out = []
    for r in range(model.R):
        g = [grammar.score(t) for t in free[r]]
        agree_scalars, agree_series = agreement.summarise(agree, r)
        tables = {
            "grad_decay": pd.DataFrame({"k": np.arange(decay.shape[1]), "norm": decay[r]}),
            "probe": pd.DataFrame({"k": np.arange(1, PROBE_MAX_K + 1), "accuracy": acc[r],
                                   "chance": chance}),
            "series": pd.concat([pd.DataFrame({
                "analysis": "error_free_by_length", "x": lengths,
                "y": (own.first_error[r][None, :] >= lengths[:, None]).mean(1)}), agree_series,
                exposure.series(comp, after_true, r)], ignore_index=True),
        }
        own_mass = own.mass[r] / max(1.0, own.count[r])
        scalars = {
            "gradient_reach": gradient_reach(decay[r]),
            "gradient_growth": min(gradient_growth(decay[r]), 1e30),
            "gradient_regime": GRADIENT_REGIMES.index(gradient_regime(decay[r])),
            **agree_scalars,
            "char_probe_horizon": char_probe_horizon(acc[r], chance),
            "category_separation": sep[r], "category_chance": sep_chance,
            "next_char_legal_true": true_ctx["legal"][r],
            "next_char_acc_true": true_ctx["right"][r],
            "next_char_legal_own": own.legal[r] / max(1.0, own.count[r]),
            "illegal_mass_true": true_ctx["illegal_mass"][r],
            "illegal_mass_own": own_mass,
            "free_valid_words": float(np.mean([s.valid_words for s in g])),
            "free_valid_sentences": _pooled_sentences(g),
            **sentence_error_chain(free[r]),
            **exposure.scalars(comp, after_true, r, own_mass, true_ctx["illegal_mass"][r]),
        }
        out.append((tables, {k: float(v) for k, v in scalars.items()}))
    return out


def _pooled_sentences(scores: list[grammar.Grammaticality]) -> float:
    n = sum(s.n_sentences for s in scores)
    return sum(s.valid_sentences * s.n_sentences for s in scores) / n if n else 0.0


@torch.no_grad()
def novel_word(model: StackedRNN, replaced: str, tracks: int = 8, length: int = 600):
    """Where "zog" lands when it replaces `replaced` in held-out text read by run 0 of `model`.

    Word-end states (h after a word's last letter) are averaged per word: every word from
    the original text, "zog" from the text with `replaced` swapped out. Returns one row per
    word and "zog": cosine similarity of zog's mean state to the word's, its rank (1 = most
    similar) and a 2-D PCA projection of all mean states.
    """
    original = sentence_aligned_rows(tracks, length)
    swapped = [corpus.replace_word(t, replaced)[:length] for t in original]
    means = {}
    for texts, keep in ((original, lambda w: True), (swapped, lambda w: w == "zog")):
        hs = read(model, np.stack([encode(t.ljust(length)) for t in texts])).hs[0]
        acc: dict[str, list] = {}
        for b, text in enumerate(texts):
            for word, _, end in grammar.word_spans(text):
                if end >= 20 and keep(word):
                    acc.setdefault(word, []).append(hs[end + 1, b].numpy())
        means.update({w: np.mean(v, 0) for w, v in acc.items()})
    words = [w for w in grammar.VOCABULARY if w in means] + ["zog"]
    m = np.stack([means[w] for w in words]).astype(float)
    cos = cosine_similarity(means["zog"], m)
    centred = m - m.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    rank = np.zeros(len(words), int)  # zog itself keeps rank 0
    rank[np.argsort(-cos[:-1])] = np.arange(1, len(words))
    return pd.DataFrame({
        "word": words, "category": [grammar.CATEGORY_OF.get(w, "novel") for w in words],
        "cosine": cos, "x": xy[:, 0], "y": xy[:, 1], "rank": rank,
    })

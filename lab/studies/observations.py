"""Answers to the study pages' observation questions, written from the stored runs.

Each answer takes a StudyData and returns sentences whose numbers and wording (faster or
slower, rose or fell) follow what the data shows; an arm without data is named as such.
The questions themselves sit beside these functions in lab.studies.catalog.
"""

from __future__ import annotations

import math

import numpy as np

from lab.data.studydata import StudyData, zog_hits
from lab.language import grammar
from lab.studies import evidence as ev
from lab.studies.arms import GRID_HIDDEN, GRID_SEQ_LEN, grid_key
from lab.training.config import ACTIVATIONS

NA = "not stored"


def f3(x: float, d: int = 3) -> str:
    return f"{x:.{d}f}" if math.isfinite(x) else NA


def pct(x: float) -> str:
    return f"{100 * x:.1f}%" if math.isfinite(x) else NA


def medians(data: StudyData, column: str, keys=None) -> dict[str, float]:
    """Median of column per arm (arms without a finite value are left out)."""
    out = {k: data.median(k, column) for k in (keys or data.arm_keys)}
    return {k: v for k, v in out.items() if math.isfinite(v)}


def ranking(data: StudyData, column: str, lower: bool, fmt=f3) -> str:
    """'a (1.2), then b (1.3), ...' best first, with the noise status of first vs second."""
    m = medians(data, column)
    if not m:
        return f"no arm has a stored value of {column}"
    order = sorted(m, key=m.get, reverse=not lower)
    text = ", then ".join(f"{data.label(k)} ({fmt(m[k])})" for k in order)
    if len(order) > 1:
        c = ev.compare(data, order[0], order[1], ev.METRICS.get(column, ev.Metric(
            column, column, lower)))
        text += ("; the first two are apart beyond the seed spread" if c.status == "holds"
                 else "; the seed ranges of the first two overlap, so their order is noise")
    return text


def per_arm(data: StudyData, column: str, fmt=f3) -> str:
    return "; ".join(f"{data.label(k)} {fmt(data.median(k, column))}" for k in data.arm_keys)


def direction(a: float, b: float, tol: float, up="rose", down="fell", flat="stayed") -> str:
    if not (math.isfinite(a) and math.isfinite(b)):
        return "has no stored value"
    return flat if abs(b - a) <= tol else (up if b > a else down)


def best_arm(data: StudyData, column: str = "final_val_loss", lower: bool = True):
    m = medians(data, column)
    return (min(m, key=m.get) if lower else max(m, key=m.get)) if m else None


def edge_or_middle(data: StudyData, key: str | None) -> str:
    if key is None:
        return "no arm has a finite final loss"
    keys = data.arm_keys
    where = "at the edge of the range tested" if key in (keys[0], keys[-1]) else \
        "inside the range tested, not at an edge"
    return f"{data.label(key)} has the lowest median final held-out loss " \
        f"({f3(data.median(key, 'final_val_loss'))} nats/char), {where}"


def failures(data: StudyData) -> str:
    return "; ".join(f"{data.label(k)} failed in {data.n_failed(k)} of {len(data.of_arm(k))}"
                     for k in data.arm_keys)


def early_late(data: StudyData, table: str, key: str, column: str) -> tuple[float, float]:
    """Median over seeds of the mean of `column` over the first and the last tenth of a long
    table's rows (at least one row each), e.g. clip_frac early and late in training."""
    df = data.tables.get(table)
    if df is None or df.empty:
        return math.nan, math.nan
    early, late = [], []
    for _, g in df[df["arm"] == key].sort_values("step").groupby("seed"):
        n = max(1, len(g) // 10)
        early.append(g[column].iloc[:n].mean())
        late.append(g[column].iloc[-n:].mean())
    return (float(np.median(early)), float(np.median(late))) if early else (math.nan, math.nan)


def step0_val(data: StudyData, key: str) -> float:
    ck = data.tables.get("checkpoints")
    if ck is None or ck.empty:
        return math.nan
    v = ck[(ck["arm"] == key) & (ck["step"] == 0)]["val_loss"]
    return float(v.median()) if len(v) else math.nan


# -- 1 initialization ---------------------------------------------------------------------

def init_speed(data: StudyData) -> str:
    return ("Averaged over the whole run (lower means the loss came down sooner), the "
            f"training loss ranks: {ranking(data, 'curve_mean_loss', True)}.")


def init_radius(data: StudyData) -> str:
    parts = []
    for k in data.arm_keys:
        a, b = data.median(k, "spectral_radius_init"), data.median(k, "spectral_radius_final")
        tol = 0.01 * max(1.0, abs(a)) if math.isfinite(a) else 0.0
        parts.append(f"{data.label(k)} starts at {f3(a)} and {direction(a, b, tol)} "
                     f"{'near it' if abs(b - a) <= tol else 'to ' + f3(b)}")
    return "Median spectral radius of W_hh: " + "; ".join(parts) + "."


def _reach(data: StudyData) -> str:
    parts = []
    for k in data.arm_keys:
        rows = data.of_arm(k)
        top = int(rows["seq_len"].max()) - 1 if len(rows) else 0
        parts.append(f"{data.label(k)} {f3(data.median(k, 'gradient_reach'), 0)} of at most {top}")
    return "; ".join(parts)


def init_reach(data: StudyData) -> str:
    return (f"Median gradient reach in characters: {_reach(data)}. Ranked: "
            f"{ranking(data, 'gradient_reach', False, lambda x: f3(x, 0))}.")


def samples_words(data: StudyData) -> str:
    return ("Share of valid words in free-running text, best first: "
            f"{ranking(data, 'free_valid_words', False, pct)}.")


# -- 2 hidden size ------------------------------------------------------------------------

def hidden_doublings(data: StudyData) -> str:
    keys = data.arm_keys
    steps = []
    for a, b in zip(keys, keys[1:], strict=False):
        la, lb = data.median(a, "final_val_loss"), data.median(b, "final_val_loss")
        steps.append(f"{data.label(a)} to {data.label(b)}: {direction(la, lb, 0.0005)} "
                     f"from {f3(la)} to {f3(lb)}")
    return "Median final held-out loss, doubling by doubling: " + "; ".join(steps) + "."


def hidden_per_param(data: StudyData) -> str:
    keys = data.arm_keys
    parts = []
    for a, b in ((keys[0], keys[1]), (keys[-2], keys[-1])):
        pa, pb = data.median(a, "params"), data.median(b, "params")
        drop = data.median(a, "final_val_loss") - data.median(b, "final_val_loss")
        per_k = drop / (pb - pa) * 1000 if pb > pa else math.nan
        verb = "lowers" if drop > 0 else "raises"
        parts.append(f"going from {data.label(a)} to {data.label(b)} adds {pb - pa:,.0f} "
                     f"parameters and {verb} the median loss by {f3(abs(per_k), 4)} nats/char "
                     "per 1,000 added")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def hidden_horizon(data: StudyData) -> str:
    return ("Median memory horizon in characters: "
            f"{per_arm(data, 'memory_horizon', lambda x: f3(x, 0))}. Longest first: "
            f"{ranking(data, 'memory_horizon', False, lambda x: f3(x, 0))}.")


# -- 3 tbptt ------------------------------------------------------------------------------

def tbptt_short(data: StudyData) -> str:
    k = data.arm_keys[0]
    n = int(data.arms[0].overrides["seq_len"])
    reach, hor = data.median(k, "gradient_reach"), data.median(k, "memory_horizon")
    beyond = ("further back than the chunk: the state carries some history the gradient "
              "never trained it to keep" if hor > n else "within the chunk")
    return (f"With {data.label(k)} the gradient reaches back {f3(reach, 0)} characters (the "
            f"chunk allows at most {n - 1}); the memory probe reads characters up to "
            f"{f3(hor, 0)} back, {beyond}.")


def tbptt_doubling(data: StudyData) -> str:
    a, b = data.arm_keys[-2], data.arm_keys[-1]
    ha, hb = data.median(a, "memory_horizon"), data.median(b, "memory_horizon")
    ratio = hb / ha if ha > 0 else math.nan
    how = ("it grows, but by less than double" if 1 < ratio < 2 else "it at least doubles"
           if ratio >= 2 else "it does not grow" if math.isfinite(ratio) else "it cannot be "
           "compared")
    return (f"Median memory horizon: {data.label(a)} {f3(ha, 0)}, {data.label(b)} "
            f"{f3(hb, 0)} characters (a factor of {f3(ratio, 2)}): {how}.")


def tbptt_reach(data: StudyData) -> str:
    k = data.arm_keys[-1]
    n = int(data.arms[-1].overrides["seq_len"])
    reach = data.median(k, "gradient_reach")
    return (f"In {data.label(k)}, the normalised gradient stays above threshold for "
            f"{f3(reach, 0)} of the {n - 1} steps back the chunk allows "
            f"({pct(reach / (n - 1))}). Per arm: {_reach(data)}.")


# -- 4 activation -------------------------------------------------------------------------

def act_stability(data: StudyData) -> str:
    return (f"Failed runs per activation: {failures(data)}. Median pre-clip gradient norm: "
            f"{per_arm(data, 'median_grad_norm', lambda x: f3(x, 2))}.")


def act_loss(data: StudyData) -> str:
    return ("Median final held-out loss, lowest first (failed seeds count as worst): "
            f"{ranking(data, 'final_val_loss', True)}.")


def act_saturation(data: StudyData) -> str:
    return ("Share of saturated hidden units at the end, each by its activation's own rule: "
            f"{per_arm(data, 'h_saturated_final', pct)}.")


# -- 5 clipping ---------------------------------------------------------------------------

def clip_rate(data: StudyData) -> str:
    return f"Share of steps clipped over the run: {per_arm(data, 'clip_fraction', pct)}."


def clip_best(data: StudyData) -> str:
    return edge_or_middle(data, best_arm(data)) + f". Failed runs: {failures(data)}."


def clip_timing(data: StudyData) -> str:
    k = ev.baseline_arm(data)
    early, late = early_late(data, "curves", k, "clip_frac")
    how = direction(early, late, 0.01, "more often late than early",
                    "more often early than late", "about as often early as late")
    return (f"With {data.label(k)}, clipping fired on {pct(early)} of steps in the first tenth "
            f"of training and {pct(late)} in the last tenth: {how}.")


# -- 6 teacher forcing --------------------------------------------------------------------

def tf_gap(data: StudyData) -> str:
    def small(x: float) -> str:
        return f"{100 * x:.3f}%" if math.isfinite(x) else NA

    parts = [f"{data.label(k)}: {small(data.median(k, 'illegal_mass_true'))} in true context "
             f"vs {small(data.median(k, 'illegal_mass_own'))} in its own text"
             for k in data.arm_keys]
    return ("Median probability the model puts on characters the grammar forbids next. "
            + "; ".join(parts) + ". The closer the two, the less its own slips throw it off.")


def tf_compounding(data: StudyData) -> str:
    k = data.arm_keys[0]
    after_bad = data.median(k, "p_invalid_after_invalid")
    after_ok = data.median(k, "p_invalid_after_valid")
    if not math.isfinite(after_ok):
        first = (f"After an invalid sentence the next is invalid {pct(after_bad)} of the time; "
                 "no valid sentence was followed by another, so the rate after a valid one is "
                 "undefined")
    else:
        how = direction(after_ok, after_bad, 0.01, "more often", "less often", "about as often")
        first = (f"After an invalid sentence, the next is invalid {pct(after_bad)} of the time, "
                 f"after a valid one {pct(after_ok)}: errors are followed by errors {how}")
    s = data.tables.get("series")
    tail = ""
    if s is not None and len(s):
        g = s[(s["arm"] == k) & (s["analysis"] == "error_free_by_length")]
        by_x = g.groupby("x")["y"].median()
        if len(by_x):
            tail = (f". Of its free-running samples, {pct(by_x.iloc[0])} are error-free for "
                    f"the first {by_x.index[0]:.0f} characters and {pct(by_x.iloc[-1])} for "
                    f"{by_x.index[-1]:.0f}")
    return f"For {data.label(k)}, {first[0].lower()}{first[1:]}{tail}."


def tf_grammar(data: StudyData) -> str:
    return (f"Valid sentences in free-running text: {per_arm(data, 'free_valid_sentences', pct)}"
            f"; valid words: {per_arm(data, 'free_valid_words', pct)}.")


# -- 7 reservoir --------------------------------------------------------------------------

def res_gap(data: StudyData) -> str:
    parts, drops = [], {}
    for k in data.arm_keys:
        start, end = step0_val(data, k), data.median(k, "final_val_loss")
        drops[k] = start - end
        parts.append(f"{data.label(k)} from {f3(start)} to {f3(end)}")
    share = drops.get("frozen", math.nan) / drops.get("trained", math.nan)
    return (f"Median held-out loss from step 0 to the end: {'; '.join(parts)}. The reservoir "
            f"makes {pct(share)} of the drop the trained network makes.")


def res_separation(data: StudyData) -> str:
    chance = data.median(data.arm_keys[0], "category_chance")
    return (f"Nearest-centroid category accuracy of word-end states: "
            f"{per_arm(data, 'category_separation', pct)}, against {pct(chance)} for always "
            "guessing the most common category.")


def res_params(data: StudyData) -> str:
    return (f"Trainable parameters: {per_arm(data, 'params', lambda x: f'{x:,.0f}')}; the "
            "reservoir trains only the input and output weights and biases.")


# -- 8 novel word -------------------------------------------------------------------------

def novel_example(data: StudyData, replaced: str = "man") -> str:
    nw = data.novel
    if nw.empty:
        return "No novel-word readings are stored (0 replaced words)."
    seed = int(nw["seed"].min())
    rows = nw[nw["seed"] == seed]
    if replaced not in set(rows["replaced"]):
        replaced = str(rows["replaced"].iloc[0])
    g = rows[(rows["replaced"] == replaced) & (rows["word"] != "zog")].sort_values("rank")
    top = ", ".join(f"{w} ({c}, {x:.3f})" for w, c, x in
                    g[["word", "category", "cosine"]].head(3).itertuples(index=False))
    own = g[g["word"] == replaced]
    rank = f"{int(own['rank'].iloc[0])}" if len(own) else NA
    return (f"With seed {seed}, zog replacing '{replaced}' lands nearest to {top} (cosine); "
            f"'{replaced}' itself ranks {rank} of {len(g)}.")


def novel_rate(data: StudyData) -> str:
    h = zog_hits(data.novel)
    if h.empty:
        return "No novel-word readings are stored (0 replaced words)."
    per_seed = h.groupby("run_id")["hit"].mean()
    return (f"Over {len(h)} (word, seed) readings, zog's nearest category is the replaced "
            f"word's in {pct(h['hit'].mean())} (per seed {pct(per_seed.min())} to "
            f"{pct(per_seed.max())}); a random pick among the {len(grammar.CATEGORIES)} "
            f"categories would be right {pct(1 / len(grammar.CATEGORIES))} of the time.")


def novel_by_category(data: StudyData) -> str:
    h = zog_hits(data.novel)
    if h.empty:
        return "No novel-word readings are stored (0 replaced words)."
    rate = h.groupby("own")["hit"].mean().sort_values(ascending=False)
    return ("Share of readings where zog lands nearest its own category, by category: "
            + "; ".join(f"{c} {pct(r)}" for c, r in rate.items()) + ".")


# -- 9 learning rate ----------------------------------------------------------------------

def lr_best(data: StudyData) -> str:
    return edge_or_middle(data, best_arm(data)) + "."


def lr_failures(data: StudyData) -> str:
    unstable = "; ".join(f"{data.label(k)} {int((data.of_arm(k)['status'] == 'unstable').sum())}"
                         for k in data.arm_keys)
    return f"Failed runs: {failures(data)}. Runs that learned and then lost ground: {unstable}."


def lr_slowest(data: StudyData) -> str:
    slow, best = data.arm_keys[0], best_arm(data)
    if best is None:
        return "No arm has a finite final loss (0 to compare)."
    start = step0_val(data, slow)
    share = (start - data.median(slow, "final_val_loss")) / (
        step0_val(data, best) - data.median(best, "final_val_loss"))
    return (f"{data.label(slow)} brings the median held-out loss from {f3(start)} to "
            f"{f3(data.median(slow, 'final_val_loss'))}: {pct(share)} of the drop that "
            f"{data.label(best)} makes in the same number of steps.")


# -- 10 grid ------------------------------------------------------------------------------

def grid_best(data: StudyData) -> str:
    best = best_arm(data)
    if best is None:
        return "No grid cell has a finite final loss (0 cells)."
    base = grid_key(64, "tanh", 25)
    lb, lx = data.median(best, "final_val_loss"), data.median(base, "final_val_loss")
    pb, px = data.median(best, "params"), data.median(base, "params")
    return (f"The best cell is {data.label(best)} ({f3(lb)} nats/char, {pb:,.0f} parameters). "
            f"The baseline cell {data.label(base)} reaches {f3(lx)} with {px:,.0f} parameters, "
            f"{pct((lx - lb) / lb)} above the best.")


def grid_activation_wins(data: StudyData) -> str:
    wins = dict.fromkeys(ACTIVATIONS, 0)
    for h in GRID_HIDDEN:
        for t in GRID_SEQ_LEN:
            m = medians(data, "final_val_loss", [grid_key(h, a, t) for a in ACTIVATIONS])
            if m:
                wins[min(m, key=m.get).split("-")[1]] += 1
    total = len(GRID_HIDDEN) * len(GRID_SEQ_LEN)
    return ("Cells (of " + str(total) + " hidden size x chunk pairs) where each activation has "
            "the lowest median loss: " + "; ".join(f"{a} {n}" for a, n in wins.items()) + ".")


def grid_bigger_h(data: StudyData) -> str:
    small, big = GRID_HIDDEN[0], GRID_HIDDEN[-1]
    better = total = 0
    for a in ACTIVATIONS:
        for t in GRID_SEQ_LEN:
            ls = data.median(grid_key(small, a, t), "final_val_loss")
            lb = data.median(grid_key(big, a, t), "final_val_loss")
            if math.isfinite(ls) and math.isfinite(lb):
                total += 1
                better += lb < ls
    return (f"H={big} has a lower median loss than H={small} in {better} of {total} "
            "(activation, chunk) pairs where both have a finite loss.")

"""The story of one network: the baseline's training read checkpoint by checkpoint, and the
milestones (word boundaries, words, sentences, agreement by condition) found in its stored runs.

Torch-free and streamlit-free: everything here is computed from the store's checkpoints,
samples, series and floors, so the page (lab.ui.story) renders from DuckDB alone and tests can
build a StoryData by hand. Not a study: it declares no STUDY, so lab.studies.catalog skips it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np
import pandas as pd

from lab.language import grammar
from lab.language.agreement import CONDITIONS, agreement_sites
from lab.language.floors import effective_memory
from lab.measure.metrics import LONG_DISTANCE

# the baseline's stored seeds: the novel-word study trains the baseline itself (no override)
BASELINE_STUDY, BASELINE_ARM = "novel_word", "baseline"
TABLES = ("checkpoints", "samples", "series")
# each checkpoint's agreement reading: 8 held-out tracks of 1,000 characters
# (lab.measure.agreement.CHECKPOINT_TRACKS x CHECKPOINT_LENGTH, which imports torch; a test
# checks the two agree)
CHECKPOINT_READ = 8 * 1000
RUN = 3  # a milestone is reached at the first checkpoint of RUN in a row at or above its bar
_WORD = re.compile(r"[a-z]+")


@cache
def word_lengths() -> tuple[int, int]:
    """(shortest, longest) word of the vocabulary, in letters."""
    lengths = [len(w) for w in grammar.CATEGORY_OF if w != grammar.SENTENCE_END]
    return min(lengths), max(lengths)


def word_sized_share(text: str) -> float:
    """The share of a text's words (runs of letters) as long as some vocabulary word; NaN
    for a text without words. Uniform babble, whose spaces fall anywhere, scores about 0.4."""
    words = _WORD.findall(text)
    lo, hi = word_lengths()
    return sum(lo <= len(w) <= hi for w in words) / len(words) if words else math.nan


@dataclass(frozen=True)
class Milestone:
    """An ability, the number that measures it at each checkpoint (`source`: a samples column,
    'word_sized', or a series analysis) and the bar it must pass; `studies`: the study pages
    that explain it."""

    key: str
    label: str
    short: str  # the timeline chart's row label (fits a phone's axis)
    measure: str  # what the number is, in words
    source: str
    threshold: float
    studies: tuple[str, ...] = ()
    noisy: bool = False  # few sites per checkpoint: read the seeds' spread


_AGREE = "of the verbs {which} get their correct form (singular or plural) as the likelier one"
_HALF = 0.75  # halfway from chance (50%) to always right


def _agreement(condition: str, label: str, short: str, which: str, **kw) -> Milestone:
    return Milestone(f"agreement_{condition}", label, short, _AGREE.format(which=which),
                     f"agreement_{condition}_over_training", _HALF, **kw)


MILESTONES: tuple[Milestone, ...] = (
    Milestone("boundaries", "spaces and word boundaries", "word boundaries",
              "of the words in its sample are word-sized ({lo} to {hi} letters, as every word "
              "of the vocabulary)", "word_sized", 0.9, ("initialization", "learning_rate")),
    Milestone("words", "real words", "real words",
              "of the words in its sample are words of the vocabulary",
              "valid_words", 0.9, ("teacher_forcing",)),
    Milestone("sentences", "grammatical sentences", "sentences",
              "of the complete sentences in its sample are grammatical", "valid_sentences", 0.5,
              ("teacher_forcing",)),
    _agreement("none", "agreement, nothing in between", "agree: nothing between",
               "with no relative clause between subject and verb", studies=("hidden_size",)),
    _agreement("subj_rc", "agreement across a subject relative", "agree: subj. relative",
               "with a subject relative in between (\"the cat that chases the dogs runs\")",
               studies=("tbptt", "hidden_size")),
    _agreement("obj_rc1", "agreement across an object relative", "agree: obj. relative",
               "with an object relative in between (\"the cats that the dog chases run\")",
               studies=("tbptt", "hidden_size")),
    _agreement("obj_rc2", "agreement across two nested object relatives",
               "agree: 2 obj. relatives",
               "with two nested object relatives in between", studies=("tbptt", "hidden_size"),
               noisy=True),
    Milestone("agreement_long", f"long agreement ({LONG_DISTANCE}+ characters)",
              f"agree: {LONG_DISTANCE}+ chars back",
              _AGREE.format(which=f"whose subject's number shows {LONG_DISTANCE} or more "
                            "characters back"), "agreement_long_over_training", _HALF,
              ("tbptt", "hidden_size", "initialization")),
)
BY_KEY = {m.key: m for m in MILESTONES}


def milestone(key: str) -> Milestone:
    """The milestone named key; ValueError naming the known ones."""
    if key not in BY_KEY:
        raise ValueError(f"unknown milestone {key!r}; known: {list(BY_KEY)}")
    return BY_KEY[key]


def describe(m: Milestone) -> str:
    """'at least 90% of the words in its sample are ...': the milestone's bar in words."""
    lo, hi = word_lengths()
    return f"at least {m.threshold:.0%} " + m.measure.format(lo=lo, hi=hi)


# ---------------------------------------------------------------- the stored runs

@dataclass(frozen=True)
class StoryData:
    """The baseline's seeds: checkpoints (seed, step, val_loss), samples (seed, step, text,
    valid_words, valid_sentences), series (seed, analysis, x, y) and floors h(0..K)."""

    seeds: tuple[int, ...]
    steps: int  # the runs' training length
    checkpoints: pd.DataFrame
    samples: pd.DataFrame
    series: pd.DataFrame
    floors: np.ndarray

    @cached_property
    def measured(self) -> pd.DataFrame:
        """measures(self), computed once."""
        return measures(self)

    @cached_property
    def reached(self) -> pd.DataFrame:
        """milestone_steps(self), computed once (the page asks for it many times)."""
        return milestone_steps(self)

    def steps_of(self, seed: int) -> tuple[int, ...]:
        """The checkpoint steps stored for a seed, ascending."""
        return tuple(int(s) for s in sorted(
            self.checkpoints.loc[self.checkpoints["seed"] == seed, "step"].unique()))


def build(runs: pd.DataFrame, tables: dict[str, pd.DataFrame], floors) -> StoryData:
    """A StoryData from store-shaped frames: runs (run_id, seed, steps) and the long tables
    keyed by run_id (how tests make one by hand)."""
    seed_of = dict(zip(runs["run_id"], runs["seed"].astype(int), strict=True))

    def keyed(name: str) -> pd.DataFrame:
        df = tables[name]
        return df.assign(seed=df["run_id"].map(seed_of)).dropna(subset=["seed"]).astype(
            {"seed": int})

    steps = int(runs["steps"].max()) if len(runs) else 0
    return StoryData(tuple(sorted(seed_of.values())), steps, keyed("checkpoints"),
                     keyed("samples"), keyed("series"), np.asarray(floors, float))


def load(store) -> StoryData:
    """The baseline's stored seeds, read from a lab.data.store.Store."""
    runs = store.runs(BASELINE_STUDY)
    runs = runs[runs["arm"] == BASELINE_ARM]
    ids = list(runs["run_id"])
    floors = store.floors().sort_values("k")["h"].to_numpy()
    return build(runs, {name: store.table(name, ids) for name in TABLES}, floors)


# ---------------------------------------------------------------- milestones

def measures(data: StoryData) -> pd.DataFrame:
    """Per (milestone, seed, step): the milestone's number at that checkpoint (NaN where a
    checkpoint has none, e.g. no verb of that kind in its reading)."""
    s = data.samples
    parts = []
    for m in MILESTONES:
        if m.source == "word_sized":
            df = s[["seed", "step"]].assign(value=[word_sized_share(t) for t in s["text"]])
        elif m.source in s.columns:
            df = s[["seed", "step"]].assign(value=s[m.source].astype(float))
        else:
            rows = data.series[data.series["analysis"] == m.source]
            df = pd.DataFrame({"seed": rows["seed"], "step": rows["x"].astype(int),
                               "value": rows["y"].astype(float)})
        parts.append(df.assign(milestone=m.key))
    cols = ["milestone", "seed", "step", "value"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def reached_at(steps, values, threshold: float, run: int = RUN) -> int | None:
    """The first step that starts `run` checkpoints in a row whose value is at or above
    threshold (checkpoints without a value are skipped: they neither count nor break a run);
    None if there is no such run. A single lucky checkpoint does not count."""
    pairs = sorted((int(s), float(v)) for s, v in zip(steps, values, strict=True)
                   if np.isfinite(v))
    streak_start, streak = None, 0
    for step, v in pairs:
        if v >= threshold:
            streak_start = step if streak == 0 else streak_start
            streak += 1
            if streak >= run:
                return streak_start
        else:
            streak = 0
    return None


def available(data: StoryData) -> tuple[Milestone, ...]:
    """The milestones whose measure the store holds at all (a store written before the
    per-condition agreement series has none of them: they are left out, not 'not reached')."""
    held = set(data.measured.loc[data.measured["value"].notna(), "milestone"])
    return tuple(m for m in MILESTONES if m.key in held)


def milestone_steps(data: StoryData) -> pd.DataFrame:
    """Per (milestone, seed) of the available milestones: the step it was reached at (NaN:
    not reached), in MILESTONES order."""
    table = data.measured
    rows = []
    for m in available(data):
        mine = table[table["milestone"] == m.key]
        for seed in data.seeds:
            one = mine[mine["seed"] == seed]
            at = reached_at(one["step"], one["value"], m.threshold)
            rows.append({"milestone": m.key, "seed": seed,
                         "step": math.nan if at is None else float(at)})
    return pd.DataFrame(rows, columns=["milestone", "seed", "step"])


def timeline(data: StoryData) -> pd.DataFrame:
    """Per milestone, in the order the runs learned them (median step over seeds, a seed that
    never reached it counting as later than any step; ties keep MILESTONES order): median,
    first and last seed's step (NaN when some seed never reached it), seeds reached, seeds."""
    steps = data.reached
    rows = []
    for i, m in enumerate(available(data)):
        v = steps.loc[steps["milestone"] == m.key, "step"].to_numpy(float)
        filled = np.where(np.isnan(v), np.inf, v)
        median = float(np.median(filled)) if len(v) else math.inf
        rows.append({"milestone": m.key, "label": m.label, "rank": i,
                     "median": median, "first": float(np.min(filled)) if len(v) else math.inf,
                     "last": float(np.max(filled)) if len(v) else math.inf,
                     "reached": int(np.isfinite(v).sum()), "seeds": len(v)})
    out = pd.DataFrame(rows, columns=["milestone", "label", "rank", "median", "first", "last",
                                      "reached", "seeds"])
    return out.sort_values(["median", "rank"], kind="stable").reset_index(drop=True)


def disagreements(data: StoryData) -> list[tuple[str, str, int, int]]:
    """Pairs of milestones (a, b) that two seeds learned in opposite orders: (a, b, s, t)
    with seed s reaching a strictly before b and seed t b strictly before a. A milestone a
    seed never reached counts as after every step; a tie is no order."""
    steps = data.reached
    at = {(r.milestone, r.seed): (math.inf if math.isnan(r.step) else r.step)
          for r in steps.itertuples()}
    out = []
    keys = [m.key for m in available(data)]
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            before = [s for s in data.seeds if at[a, s] < at[b, s]]
            after = [s for s in data.seeds if at[b, s] < at[a, s]]
            if before and after:
                out.append((a, b, before[0], after[0]))
    return out


def reached_by(data: StoryData, seed: int, step: int) -> dict[str, int | None]:
    """Per milestone: the step this seed reached it at if that is at or before `step`."""
    steps = data.reached
    mine = steps[steps["seed"] == seed].set_index("milestone")["step"]
    return {k: (int(v) if np.isfinite(v) and v <= step else None) for k, v in mine.items()}


# ---------------------------------------------------------------- the h(k) ladder

@dataclass(frozen=True)
class LadderReading:
    """A loss read against h(k): k is the lab's effective memory (the smallest k with
    h(k) <= loss; None: below every tabulated rung), so the loss lies between h(k) and
    h(k - 1)."""

    loss: float
    k: int | None
    floors: tuple[float, ...]

    @property
    def above_all(self) -> bool:
        """Worse than the best predictor with no context at all (h(0))."""
        return self.k == 0 and (not math.isfinite(self.loss) or self.loss > self.floors[0])


def read_ladder(loss: float, floors) -> LadderReading:
    f = tuple(float(h) for h in floors)
    return LadderReading(float(loss), effective_memory(float(loss), f) if f else None, f)


def loss_at(data: StoryData, seed: int, step: int) -> float:
    """The held-out loss of a seed at a checkpoint (NaN if not stored)."""
    c = data.checkpoints
    row = c[(c["seed"] == seed) & (c["step"] == step)]
    return float(row["val_loss"].iloc[0]) if len(row) else math.nan


def memory_so_far(data: StoryData, seed: int, step: int) -> int | None:
    """Effective memory of the best held-out loss at checkpoints up to `step` (the loss is
    read on 16 tracks and wobbles; the best so far is what the network has shown it can do)."""
    c = data.checkpoints
    losses = c.loc[(c["seed"] == seed) & (c["step"] <= step), "val_loss"].astype(float)
    losses = losses[np.isfinite(losses)]
    if losses.empty or not len(data.floors):
        return 0
    return effective_memory(float(losses.min()), tuple(data.floors))


def ladder_gains(floors, cuts=(0, 2, 8, LONG_DISTANCE)) -> list[tuple[int, int, float]]:
    """(k from, k to, nats gained) between consecutive cuts and from the last cut to the
    largest tabulated k: how much each stretch of context lowers the best possible loss."""
    f = np.asarray(floors, float)
    edges = [k for k in cuts if k < len(f) - 1] + [len(f) - 1]
    return [(a, b, float(f[a] - f[b])) for a, b in zip(edges, edges[1:], strict=False)]


# ---------------------------------------------------------------- the corpus's distances

def condition_distances(text: str) -> dict[str, tuple[int, int, float]]:
    """Per condition: (verbs, median characters from the subject's number cue to the verb's
    deciding character, share of the commoner number among those verbs: what a network that
    always picks one form scores) in text (which starts at a sentence start); conditions
    absent from text are left out."""
    sites = agreement_sites(text)
    out = {}
    for c in CONDITIONS:
        mine = [s for s in sites if s.condition == c]
        if mine:
            singular = sum(s.number == "sg" for s in mine) / len(mine)
            out[c] = (len(mine), int(np.median([s.distance for s in mine])),
                      max(singular, 1 - singular))
    return out


# ---------------------------------------------------------------- the sample, marked

@dataclass(frozen=True)
class Sentence:
    """One sentence of a sample: its words as (word, in the vocabulary?), and whether the
    grammar can produce it (None: unfinished, the sample stopped inside it)."""

    words: tuple[tuple[str, bool], ...]
    grammatical: bool | None


def mark_sample(text: str) -> list[Sentence]:
    """A checkpoint's sample cut into its lines, each word marked as a vocabulary word or
    not and each complete sentence (ending in '.') as grammatical or not (grammar.score)."""
    out = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        for i, piece in enumerate(re.findall(r"[^.]*\.|[^.]+$", line)):
            words = tuple((w, w in grammar.CATEGORY_OF) for w in _WORD.findall(piece))
            if not piece.endswith("."):
                ok = None
            else:  # as grammar.score: a sentence must start its line (a "." ends the line)
                ok = i == 0 and grammar.score(piece).valid_sentences == 1.0
            if words or ok is not None:
                out.append(Sentence(words, ok))
    return out

"""The story page's prose, computed from a StoryData: whether the seeds agree on the order,
how noisy the rare milestones are, why the near comes before the far, and how a class-mode
guess of the milestone learned last fares. Plain text (markdown), no streamlit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lab.studies.prediction import PARTLY, RIGHT, WRONG
from lab.studies.story import (
    CHECKPOINT_READ,
    StoryData,
    available,
    disagreements,
    ladder_gains,
    milestone,
    timeline,
)
from lab.training.config import BASELINE


def disagreement_text(data: StoryData) -> str:
    """Whether the seeds learned the milestones in one order, and where not."""
    pairs = disagreements(data)
    if len(data.seeds) < 2:
        return "Only one seed is stored, so there is no second order to compare."
    if not pairs:
        ordered = timeline(data)["first"].map(math.isfinite).sum()
        if ordered < 2:
            return ("Too few milestones are reached yet to compare the order in which the "
                    "seeds learned them.")
        return (f"All {len(data.seeds)} seeds learned them in the same order (milestones "
                "reached at the same checkpoint count as a tie).")
    steps = data.reached.set_index(["milestone", "seed"])["step"]

    def at(key: str, seed: int) -> str:
        v = steps[key, seed]
        return f"step {int(v):,}" if np.isfinite(v) else "not yet"

    parts = [f"{milestone(a).label} and {milestone(b).label} (seed {s}: {at(a, s)} "
             f"and {at(b, s)}; seed {t}: {at(a, t)} and {at(b, t)})" for a, b, s, t in pairs]
    return ("The seeds do **not** all learn them in the same order. They swap "
            + "; ".join(parts[:4]) + (f"; and {len(parts) - 4} more pairs" if len(parts) > 4
                                      else "")
            + ". Milestones a few checkpoints apart can swap from one seed to the next; the "
            "order of far-apart ones is what the runs agree on.")


def noise_text(data: StoryData, dist: dict[str, tuple[int, int, float]]) -> str:
    """How many verbs each noisy agreement milestone rests on per checkpoint (dist:
    condition_distances of CHECKPOINT_READ held-out characters), and what that means."""
    noisy = [m for m in available(data) if m.noisy]
    parts = []
    for m in noisy:
        cond = m.key.removeprefix("agreement_")
        if cond in dist:
            n, _, one_form = dist[cond]
            se = math.sqrt(0.25 / n) if n else math.nan
            parts.append(
                f"{m.label[0].upper()}{m.label[1:]} rests on few verbs: {n} in the first "
                f"{CHECKPOINT_READ:,} held-out characters, about the size of each "
                f"checkpoint's reading, so by chance alone its share can move by about "
                f"{se:.0%} either way from one checkpoint to the next, and a network that "
                f"always picked the commoner form would score {one_form:.0%} there. Read its "
                "seeds' spread rather than one step.")
    return " ".join(parts)


def why_text(data: StoryData, dist: dict[str, tuple[int, int, float]]) -> str:
    """Why the near comes before the far, with the ladder's and the corpus's numbers (dist:
    condition_distances of held-out text) and the runs' own order."""
    order = timeline(data)
    gains = ladder_gains(data.floors)
    med = dict(zip(order["milestone"], order["median"], strict=True))
    out = []
    if gains:
        stretches = "; ".join(f"from {a} to {b}, {g:.3f}" for a, b, g in gains[1:])
        a, b, g = gains[0]
        seen = [f"{milestone(k).label} {_when(order, k, data.steps)}"
                for k in ("boundaries", "words", "sentences") if k in med]
        out.append(
            f"**The near past pays first.** Seeing the last {b} characters instead of none "
            f"lowers the best possible loss by {g:.3f} nats per character; each further "
            f"stretch of context is worth less ({stretches}). Nearly every character is "
            "easier to predict from the one or two before it (a space after a finished word, "
            "the next letter inside a word), so the gradient for those lessons is large and "
            "points the same way at almost every position, and they are learned first. A "
            "whole word needs its first letters remembered, a sentence its last few words, so "
            "those come next" + (f" (in these runs, median over seeds: {'; '.join(seen)})"
                                 if seen else "") + ".")
    if {"none", "obj_rc1"} <= dist.keys():
        names = {"none": "with nothing in between", "subj_rc": "across a subject relative",
                 "obj_rc1": "across an object relative",
                 "obj_rc2": "across two nested object relatives"}
        spans = [f"{d} {names[c]}" for c, (_, d, _) in dist.items()]
        spans = ", ".join(spans[:-1]) + " and " + spans[-1]
        out.append(
            "**Agreement must be carried.** A verb's form (runs or run) depends on its "
            "subject's number, which shows a median of this many characters earlier in "
            f"held-out text: {spans}. To get "
            "it right the network must keep one bit, singular or plural, in its hidden state "
            "through every character in between, without letting the clause's own nouns "
            "overwrite it. The gradient that teaches this must travel back through as many "
            "steps of W_hh, usually shrinking on the way, and it is mixed with everything "
            "else those characters teach, so the signal is weak and noisy. Training chunks are "
            f"{BASELINE.seq_len} characters long (truncated backpropagation through time): a "
            "dependency longer than a chunk never sits inside one, so no gradient joins the "
            "verb to its subject at all, and the network can carry the number that far only "
            "if what it learned on shorter clauses keeps working.")
    out.append(_runs_follow(order, data.steps))
    return "\n\n".join(p for p in out if p)


def _runs_follow(order: pd.DataFrame, steps: int) -> str:
    """Whether, in these runs, agreement came in order of distance (none before the relatives
    before the nested ones), by median step (a milestone most seeds never reached counts
    as later than any step)."""
    med = dict(zip(order["milestone"], order["median"], strict=True))
    chain = [k for k in ("agreement_none", "agreement_obj_rc1", "agreement_obj_rc2")
             if k in med]
    if len(chain) < 2:
        return ""
    if not math.isfinite(med[chain[0]]):
        return (f"**In these runs** not even agreement with nothing in between passed its bar "
                f"in most seeds by step {steps:,}, so they cannot show the order yet.")
    words = [f"{milestone(k).label} {_when(order, k, steps)}" for k in chain]
    ordered = all(med[a] <= med[b] for a, b in zip(chain, chain[1:], strict=False))
    return ("**In these runs** (median over seeds): " + "; ".join(words) + ". "
            + ("The nearer dependency came first, as the distances predict."
               if ordered else "These runs do not follow the distances here: the order above "
               "is what they show, and the seeds' spread says how firmly.")
            + _same_distance(med, steps))


def _same_distance(med: dict, steps: int) -> str:
    """A subject relative and a one-level object relative put the subject about as far back,
    yet need not be learned together: say so when the runs separate them."""
    a, b = med.get("agreement_subj_rc"), med.get("agreement_obj_rc1")
    if a is None or b is None or a == b:
        return ""
    first, then = (("subject", "object") if a < b else ("object", "subject"))
    return (f" Distance alone does not order everything: across a {first} relative it "
            f"agreed {_median_step(min(a, b), steps)}, across an {then} relative "
            f"{_median_step(max(a, b), steps)}, though both put the subject about as far "
            "back. An object relative also puts a noun of its own between subject and verb "
            "(\"the dog that the men see ...\"), whose number the verb must ignore."
            if first == "subject" else
            f" Distance alone does not order everything: across an object relative it agreed "
            f"{_median_step(min(a, b), steps)}, across a subject relative "
            f"{_median_step(max(a, b), steps)}, though both put the subject about as far back.")


def _median_step(step: float, steps: int, reached: int | None = None) -> str:
    """'at step N' (a median over seeds), or when most seeds never reached it, how many did."""
    if math.isfinite(step):
        return f"at step {step:,.0f}"
    who = "in any seed" if reached == 0 else "in most seeds"
    return f"not reached by step {steps:,} {who}"


def _when(order: pd.DataFrame, key: str, steps: int) -> str:
    row = order.loc[order["milestone"] == key].iloc[0]
    return _median_step(float(row["median"]), steps, int(row["reached"]))


def last_learned(data: StoryData) -> list[str]:
    """The milestones learned last (latest median step over seeds; all of them when tied)."""
    order = timeline(data)
    if order.empty:
        return []
    last = order["median"].iloc[-1]
    return list(order.loc[order["median"] == last, "milestone"])


def judge_last(data: StoryData, guess: str) -> tuple[str, str]:
    """(outcome, text) of a class-mode guess of the milestone learned last."""
    order = timeline(data)
    last = last_learned(data)
    names = " and ".join(milestone(k).label for k in last)
    rank = list(order["milestone"]).index(guess) + 1 if guess in set(order["milestone"]) else 0
    when = _when(order, guess, data.steps) if rank else "never"
    why = ("the farthest dependency comes last: the subject's number must be carried through "
           "the most characters, and the gradient that teaches it is the weakest")
    if guess in last:
        if len(last) == 1:
            return RIGHT, (f"You predicted **{milestone(guess).label}**, and it came last "
                           f"({when}, median over seeds): {why}.")
        return PARTLY, (f"You predicted **{milestone(guess).label}**: it ties for last with "
                        f"the others ({names}), none reached in most seeds by step "
                        f"{data.steps:,}.")
    return WRONG, (f"You predicted **{milestone(guess).label}**, which came {_ordinal(rank)} of "
                   f"{len(order)} ({when}); the runs learned **{names}** last. Typically {why}.")


def _ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third"}.get(n, f"{n}th")

"""Study 8: where a never-seen word ("zog") lands in the trained baseline's hidden space."""

from __future__ import annotations

import math

import pandas as pd

from lab.data.studydata import StudyData
from lab.language import grammar
from lab.measure.metrics import LONG_DISTANCE
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import prose as pr
from lab.studies.params import Param
from lab.studies.study import Arm, Observation, Study
from lab.studies.verdicts import Verdict, build, inconclusive

CLAIM = "zog lands nearest to the words of the category it replaced"
WORDS = tuple(w for w in grammar.VOCABULARY if w != grammar.SENTENCE_END)
WORD = Param("word", "choice", "man" if "man" in WORDS else WORDS[0], WORDS)  # replaced word
_NONE = "No novel-word readings are stored (0 replaced words)."


def verdict(data: StudyData) -> Verdict:
    """Per seed, mean cosine of zog to its replaced word's category-mates vs to other words;
    and in every seed zog's nearest category is its own for most replaced words."""
    hits = data.zog_hits()
    if hits.empty:
        return inconclusive(CLAIM, "no novel-word readings are stored")
    per_run = hits.groupby("run_id")[["own_cos", "other_cos", "hit"]].mean()
    if len(per_run) < ev.MIN_SEEDS:
        return inconclusive(CLAIM, f"novel-word readings exist for {len(per_run)} seed(s); "
                            f"at least {ev.MIN_SEEDS} are needed")
    checks = [
        ev.compare_values("category-mates", per_run["own_cos"], "other words",
                          per_run["other_cos"], METRICS["cosine"],
                          "zog is closer to its replaced word's category-mates than to other "
                          "words"),
        ev.threshold_check("hit rate", per_run["hit"].astype(float), 0.5,
                           METRICS["zog_hit_rate"], "in every seed zog's nearest category is "
                           "the replaced word's for most replaced words", above=True),
    ]
    note = (f"Read over {hits['replaced'].nunique()} replaced words (one-word categories "
            f"skipped) in {len(per_run)} seeds.")
    return build(CLAIM, checks, [note])


def agreement(data: StudyData) -> str:
    """Does the verb agree with zog? From the zog_agreement scalars of the baseline runs."""
    key = data.arm_keys[0]
    zog, known = data.median(key, "zog_agreement"), data.median(key, "agreement_overall")
    if not math.isfinite(zog):
        return ("Agreement with zog is not in the stored runs yet: `python -m lab.precompute` "
                "adds it without retraining.")
    far = data.median(key, "zog_agreement_long")
    sites = data.median(key, "zog_sites")
    far_text = (f", and {pr.pct(far)} when zog is {LONG_DISTANCE} or more characters back"
                if math.isfinite(far) else "")
    return (f"Over {sites:,.0f} verbs whose subject is zog or zogs (median over seeds), the "
            f"verb takes the right form {pr.pct(zog)} of the time{far_text}; with the known "
            f"nouns it is {pr.pct(known)}, and chance is 50%. The network never saw zog, but "
            "the number of a regular noun shows in its last letter: a final 's' marks the "
            "plural. A network that learned to carry that cue, rather than a list of nouns, "
            "applies agreement to a word it has never read.")


def _seed_hits(h: pd.DataFrame) -> pd.Series:
    """Per seed, the share of replaced words whose nearest category is their own (the
    verdict's per-seed hit rate)."""
    return h.groupby("run_id")["hit"].mean()


def rate(data: StudyData) -> str:
    h = data.zog_hits()
    if h.empty:
        return _NONE
    per_seed = _seed_hits(h)
    return (f"Over {len(h)} (word, seed) readings, zog's nearest category is the replaced "
            f"word's in {pr.pct(per_seed.median())} of them (median over seeds; per seed "
            f"{pr.pct(per_seed.min())} to {pr.pct(per_seed.max())}); a random pick among "
            f"the {len(grammar.CATEGORIES)} categories would be right "
            f"{pr.pct(1 / len(grammar.CATEGORIES))} of the time.")


def by_category(data: StudyData) -> str:
    h = data.zog_hits()
    if h.empty:
        return _NONE
    share = h.groupby("own")["hit"].mean().sort_values(ascending=False)
    return ("Share of readings where zog lands nearest its own category, by category: "
            + "; ".join(f"{grammar.CATEGORY_LABEL[c]} {pr.pct(r)}" for c, r in share.items())
            + ".")


def takeaway(data: StudyData, v: Verdict) -> str:
    h = data.zog_hits()
    if h.empty:
        return _NONE
    chance = 1 / len(grammar.CATEGORIES)
    per_seed = _seed_hits(h)
    first = (f"With no training on it, zog lands nearest the replaced word's own category in "
             f"{pr.pct(per_seed.median())} of its readings (median over seeds), where a "
             "blind pick among "
             f"{len(grammar.CATEGORIES)} categories would manage {pr.pct(chance)}.")
    why = ("That is because the state after a word is built by the same recurrence from the "
           "same preceding context and the same letters that follow: a word read in a noun's "
           "slots, after 'the' and before 'that' or a verb, is pulled toward the states of the "
           "nouns, and a final 's' toward the plurals.")
    if v.outcome == "supported":
        end = "Meaning by distribution shows: the network files a new word by its company."
    else:
        end = (f"The verdict is {v.outcome}: zog's company places it only in part, since the "
               "spelling of a word it never saw also moves the state.")
    return " ".join((first, why, end))


STUDY = Study(
    id="novel_word", number=8, title="A novel word", group="Representations",
    question="Where does a word the network never saw end up in its hidden space?",
    hypothesis="A word is known by the company it keeps. When 'zog' and 'zogs' take the "
    "places of a known word's singular and plural (a noun's, a verb's, or any other word's) "
    "in held-out text, the trained network has never read them, yet it reads them in that "
    "word's slots. Its state at the end of zog should then lie nearest the words that share "
    "those slots: the replaced word's category-mates.",
    arms=(Arm("baseline", "baseline", {}),),
    metric=METRICS["zog_hit_rate"],
    views=("novel_word",),
    params=(WORD,),
    highlight=False,
    verdict=verdict,
    observations=(
        Observation("Does the verb agree with zog: after \"the zogs that ...\", does the "
                    "network expect a plural verb?", agreement),
        Observation("How often does zog land nearest its replaced word's category?", rate),
        Observation("Does it work equally well for every category?", by_category),
    ),
    prediction=("Will zog, never seen in training, land nearest the words of the category it "
                "replaced?"),
    takeaway=takeaway,
)

"""Study 8: where a never-seen word ("zog") lands in the trained baseline's hidden space."""

from __future__ import annotations

import math

import pandas as pd

from lab.data.studydata import StudyData
from lab.language import grammar
from lab.measure import company
from lab.measure.metrics import LONG_DISTANCE
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import prose as pr
from lab.studies.params import Param
from lab.studies.study import Arm, Observation, Study
from lab.studies.verdicts import Verdict, build, inconclusive

CLAIM = ("zog, once met in its company, is read as a noun of the replaced noun's class: the "
         "network comes to expect that class's verbs after it")
NOUNS = company.NOUNS
# replaced noun; the default is an animal, the class most seeds' cold guess misses, so the
# first view shows the guess turning (the page's chart for a noun it already fits is flat)
WORD = Param("word", "choice", "cat" if "cat" in NOUNS else NOUNS[0], NOUNS)
_NONE = "No novel-word exposure runs are stored yet."
CLASS_WORD = {"human": "humans", "animal": "animals"}


def _label(value: float) -> str:
    """An expectation in words: which class's verbs, how many times likelier, and whether
    that passes the metric's minimum effect."""
    if not math.isfinite(value):
        return "no reading"
    cls = "human" if value > 0 else "animal"
    times = f"{cls} verbs {10 ** abs(value):,.1f} times likelier"
    return times if company.points_to(value, cls) else f"no clear preference, {times}"


def _prior(data: StudyData) -> str:
    """The cold guess after zog, per seed (control run at step 0), in words: which class it
    points to in which seeds."""
    ex = data.table("exposure")
    cold = ex[(ex["step"] == 0) & (ex["replaced"] == "") & (ex["spelling"] == company.NOVEL)]
    by_seed = cold.groupby("seed")["expect"].first()
    groups = {}
    for seed, value in by_seed.items():
        cls = next((c for c in ("human", "animal") if company.points_to(value, c)), None)
        groups.setdefault(cls, []).append(str(seed))
    parts = [f"{'seed' if len(seeds) == 1 else 'seeds'} {pr.and_list(seeds)}: "
             + (f"{cls} verbs" if cls else "no clear preference")
             for cls, seeds in groups.items()]
    return "; ".join(parts)


def _steps(data: StudyData) -> int:
    """How long the stored exposure runs continued."""
    return int(data.table("exposure")["step"].max())


LANDING_SAME = 0.75  # the share of nouns with one nearest category that counts as "whichever"


def _seeds(data: StudyData, column: str) -> pd.Series:
    key = data.arm_keys[0]
    return data.values(key, column)


def verdict(data: StudyData) -> Verdict:
    """Per seed: after the exposure, zog's expected verbs point to the replaced noun's class
    for most nouns; more often than before it; and so for the control spelling."""
    summary = data.exposure_summary()
    if summary.empty:
        return inconclusive(CLAIM, "no exposure runs are stored")
    after, before = _seeds(data, "zog_expectation_hit_rate"), _seeds(
        data, "zog_expectation_hit_rate_step0")
    if len(after) < ev.MIN_SEEDS:
        return inconclusive(CLAIM, f"exposure runs exist for {len(after)} seed(s); at least "
                            f"{ev.MIN_SEEDS} are needed")
    rate = METRICS["zog_expectation_hit_rate"]
    checks = [
        ev.threshold_check("after the exposure", after, 0.5, rate,
                           "in every seed, after the exposure the network expects the replaced "
                           "noun's class after zog for most nouns", above=True),
        ev.compare_values("after the exposure", after, "before it", before, rate,
                          "the exposure, not the prior, decides: the share is higher after "
                          "than before"),
        ev.threshold_check("control spelling", _seeds(data, "zog_expectation_hit_rate_control"),
                           0.5, rate, f"the same holds when the new word is spelled "
                           f"{company.CONTROL_SPELLING}, so the spelling does not decide it",
                           above=True),
    ]
    nouns = summary["replaced"].unique()
    humans = sum(company.CLASS_OF_NOUN[n] == "human" for n in nouns)
    factor = 10 ** METRICS["zog_expectation"].min_effect
    note = (f"Read over {len(nouns)} replaced nouns ({humans} human, the rest animals) in "
            f"{len(after)} seeds; an expectation points to a class when that class's verbs "
            f"are at least {factor:.0f} times likelier than the other's.")
    return build(CLAIM, checks, [note])


def cold_read(data: StudyData) -> str:
    """Part 1: the expectation and the landing of zog and the control spelling, untrained."""
    ex = data.table("exposure") if "exposure" in data.tables else pd.DataFrame()
    if ex.empty:
        return _NONE
    start = ex[(ex["step"] == 0) & (ex["replaced"] == "")]
    by = start.groupby("spelling")["expect"].median()
    parts = [f'after "the {s} ", {_label(by[s])}' for s in company.SPELLINGS if s in by.index]
    hits = data.zog_hits()
    hits = hits[hits["replaced"].isin(NOUNS)]
    landing = ""
    if not hits.empty:
        top = hits["nearest"].value_counts()
        share = top.iloc[0] / len(hits)
        where = grammar.CATEGORY_LABEL[top.index[0]]
        landing = (f" Its state at the end of zog lands nearest the {where} in "
                   f"{pr.pct(share)} of the readings (each noun replaced in turn, each seed)"
                   + (", whichever noun it replaced" if share >= LANDING_SAME else "")
                   + ". The network has learned nothing about zog, so that state is set by "
                   "the letters z, o, g and the few words before them: a character-level "
                   "network first reads a new word by its spelling.")
    return ("With no training on it, the network makes one guess whatever zog stands for "
            "(medians over seeds): " + "; ".join(parts) + "." + landing)


def exposure_answer(data: StudyData) -> str:
    """Part 2: how the expectation moved, and how many sentences it took."""
    summary = data.exposure_summary()
    if summary.empty:
        return _NONE
    zog = summary[summary["spelling"] == company.NOVEL]
    after, before = _seeds(data, "zog_expectation_hit_rate"), _seeds(
        data, "zog_expectation_hit_rate_step0")
    missed = zog[~zog["hit_before"].astype(bool)]
    took = missed["sentences"].dropna()
    never = int(missed["sentences"].isna().sum())
    took_text = (f"Where the cold guess was wrong ({len(missed)} of {len(zog)} noun and seed "
                 f"runs), the expectation turned to the noun's class for good after a median "
                 f"(over those runs) of {took.median():,.0f} sentences containing zog (from "
                 f"{took.min():,.0f} to {took.max():,.0f})" if len(took)
                 else "No wrongly guessed noun's expectation turned to its class")
    never_text = (f"; in {never} of them it never turned within {_steps(data):,} steps"
                  if never else "")
    return (f"Before the continued training, the network's cold guess after zog ({_prior(data)})"
            f" is one guess for every noun, so it can be right for one class at most: it "
            f"points to the replaced noun's class for {pr.pct(before.median())} of the nouns "
            f"(median over seeds). After "
            f"{_steps(data):,} steps on text where the noun is written zog, its guess points to "
            f"the noun's class for "
            f"{pr.pct(after.median())} (seeds {pr.pct(after.min())} to "
            f"{pr.pct(after.max())}). {took_text}{never_text}.")


def by_class(data: StudyData) -> str:
    """After the exposure: per class, the median expectation for zog beside the real noun."""
    summary = data.exposure_summary()
    if summary.empty:
        return _NONE
    zog = summary[summary["spelling"] == company.NOVEL]
    parts = []
    for cls in ("human", "animal"):
        g = zog[zog["cls"] == cls]
        if len(g):
            parts.append(
                f"replacing {CLASS_WORD[cls]}, zog ends at "
                f"{_label(g['expect_after'].median())} (the real nouns: "
                f"{_label(g['noun_after'].median())}; {pr.pct(g['hit_after'].mean())} of "
                f"readings point to {CLASS_WORD[cls]})")
    return "Median over nouns and seeds: " + "; ".join(parts) + "."


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


def takeaway(data: StudyData, v: Verdict) -> str:
    summary = data.exposure_summary()
    if summary.empty:
        return _NONE
    after = _seeds(data, "zog_expectation_hit_rate")
    took = _seeds(data, "zog_sentences")
    first = ("A character-level network first reads a new word by its letters: before it has "
             "met zog in any sentence, what it expects after zog is one fixed guess, whatever "
             "zog stands for.")
    second = (f"Its company then does the work: after a short stretch of text in which zog "
              f"replaces a noun, the verbs it expects after zog are that noun's class's for "
              f"{pr.pct(after.median())} of the nouns (median over seeds)"
              + (f"; where its cold guess was wrong, turning took a median of "
                 f"{took.median():,.0f} sentences containing zog (median over seeds)."
                 if len(took) else "."))
    why = ("Why: every sentence with zog in it gives the gradient the same push, from the "
           "verbs that follow zog to the weights that read its letters. Since humans and "
           "animals in this grammar do different things (only humans sing, only animals "
           "chase), that push points to one class, and a short stretch of text is enough to "
           "turn the guess.")
    if v.outcome != "supported":
        why += " " + pr.verdict_tail(v)
    return " ".join((first, second, why))


def report(data: StudyData) -> dict:
    """lab.report --json: per seed, the share of nouns whose class it expects after zog
    before and after the exposure, the sentences it took, the same for the control spelling,
    and agreement with zog."""
    key = data.arm_keys[0]
    cols = ("zog_expectation_hit_rate_step0", "zog_expectation_hit_rate", "zog_sentences")
    present = [c for c in cols if c in data.runs.columns]
    return {"zog": data.numbers(key, present),
            "control_spelling": {"spelling": company.CONTROL_SPELLING, **data.numbers(
                key, [c + "_control" for c in present])},
            "zog_agreement": data.numbers(key, ["zog_agreement"])["zog_agreement"]}


STUDY = Study(
    id="novel_word", number=8, title="A novel word", group="Representations",
    question="How does a network file a word it has never seen: by its letters, or by the "
    "company it keeps?",
    hypothesis="A word is known by the company it keeps. In this grammar humans and animals "
    "keep different company: only humans sing, walk, like and feed; only animals chase, "
    "follow, run and jump. Read cold, 'zog' has no company yet, only its letters, so the "
    "trained network can only guess what zog does. Let it go on training briefly on text in "
    "which a noun is written zog (and its plural zogs): what it expects after 'the zog ' "
    "should turn to the verbs of that noun's class, for nouns of both classes.",
    arms=(Arm("baseline", "baseline", {}),),
    metric=METRICS["zog_expectation_hit_rate"],
    views=("novel_word",),
    params=(WORD,),
    highlight=False,
    verdict=verdict,
    observations=(
        Observation("Read cold, with no training on it: what does the network expect after "
                    "zog, and where does its state land?", cold_read),
        Observation("Met in its company: do its expectations move to the replaced noun's "
                    "class, and how many sentences does that take?", exposure_answer),
        Observation("Humans and animals: does zog end up where the real nouns are?", by_class),
        Observation("Does the verb agree with zog: after \"the zogs that ...\", does the "
                    "network expect a plural verb?", agreement),
    ),
    prediction=("After a short stretch of text in which zog replaces a noun, will the network "
                "expect the verbs of that noun's class (human or animal) after \"the zog \"?"),
    takeaway=takeaway,
    report=report,
)

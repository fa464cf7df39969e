"""A novel word met in its company: the definitions, and the summaries the page reads.

Nouns of the two classes keep different company (grammar.SUBJECT_CLASS: "sings" takes a
human subject, "chases" an animal one), so the verbs a network expects after a subject say
which class it files that subject under: the metric zog_expectation. lab.measure.company_read
reads it from a network (torch); this module only defines and summarises, so pages import it
without torch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lab.language import grammar
from lab.measure.registry import METRICS

NOVEL, CONTROL_SPELLING = "zog", "vux"  # vux: no vocabulary word ends in x or starts with v
SPELLINGS = (NOVEL, CONTROL_SPELLING)
EXPOSURE_STEPS = 1000  # how long the baseline continues on text with the new word
MARKS = (0, 10, 20, 50, 100, 200, 500, 1000)  # when it is read (log-spaced)

# verbs whose subject must be human, or must be an animal; "see" and "sleep" take both
HUMAN_VERBS = tuple(v for v, c in grammar.SUBJECT_CLASS.items() if c == ("human",))
ANIMAL_VERBS = tuple(v for v, c in grammar.SUBJECT_CLASS.items() if c == ("animal",))
NOUNS = tuple(sg for sg, _ in grammar.NOUN_PAIRS)  # singulars, animals first
CLASS_OF_NOUN = {sg: ("animal" if (sg, pl) in grammar.ANIMAL_PAIRS else "human")
                 for sg, pl in grammar.NOUN_PAIRS}
SIGN = {"human": 1.0, "animal": -1.0}  # the sign of the expectation that points to a class


def forms(subject: str) -> tuple[str, str]:
    """(singular, plural) of a noun, or of a new spelling (plural: + "s")."""
    pairs = {sg: (sg, pl) for sg, pl in grammar.NOUN_PAIRS}
    return pairs.get(subject, (subject, subject + "s"))


def points_to(value: float, cls: str) -> bool:
    """Does an expectation point to class `cls` by at least the metric's minimum effect?"""
    return value * SIGN[cls] >= METRICS["zog_expectation"].min_effect


def summarise(exposure: pd.DataFrame) -> pd.DataFrame:
    """One row per (run_id, seed, spelling, replaced noun) of an exposure frame (store
    novel_exposure rows with seed; the control's rows, replaced '', left out): the noun's
    class; the expectation after the new word before (step 0) and after the continued
    training, and whether each points to that class; the real noun's expectation at the
    end; and the sentences with the new word read when the expectation first pointed to
    the class for good (NaN: it never did)."""
    columns = ["run_id", "seed", "spelling", "replaced", "cls", "expect_before",
               "expect_after", "hit_before", "hit_after", "noun_after", "sentences", "steps"]
    if exposure.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for (run_id, seed, spelling, noun), g in exposure[exposure["replaced"] != ""].groupby(
            ["run_id", "seed", "spelling", "replaced"], sort=True):
        g = g.sort_values("step")
        cls = CLASS_OF_NOUN[noun]
        hits = np.array([points_to(x, cls) for x in g["expect"]])
        # the first reading from which every later one points to the class
        settled = np.flatnonzero(~hits)
        first = 0 if not len(settled) else settled[-1] + 1
        took = float(g["sentences"].iloc[first]) if first < len(g) else float("nan")
        rows.append({"run_id": run_id, "seed": seed, "spelling": spelling, "replaced": noun,
                     "cls": cls, "expect_before": float(g["expect"].iloc[0]),
                     "expect_after": float(g["expect"].iloc[-1]),
                     "hit_before": bool(hits[0]), "hit_after": bool(hits[-1]),
                     "noun_after": float(g["expect_noun"].iloc[-1]), "sentences": took,
                     "steps": int(g["step"].iloc[first]) if first < len(g) else -1})
    return pd.DataFrame(rows, columns=columns)


def per_seed(summary: pd.DataFrame, spelling: str = NOVEL) -> pd.DataFrame:
    """Per seed, for one spelling: zog_expectation_hit_rate_step0, zog_expectation_hit_rate
    (the shares of replaced nouns whose class it expects before and after the exposure) and
    zog_sentences (over the nouns whose class the cold guess missed, the median of the
    sentences it took to turn; NaN if none turned or none needed to)."""
    s = summary[summary["spelling"] == spelling]
    g = s.groupby("seed")
    turned = s[~s["hit_before"].astype(bool)].groupby("seed")["sentences"].median()
    return pd.DataFrame({"zog_expectation_hit_rate_step0": g["hit_before"].mean(),
                         "zog_expectation_hit_rate": g["hit_after"].mean(),
                         "zog_sentences": turned.reindex(g.size().index)})

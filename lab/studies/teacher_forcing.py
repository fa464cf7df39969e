"""Study 6: teacher forcing vs scheduled sampling, and exposure bias."""

from __future__ import annotations

import math

from lab.data.studydata import StudyData
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import prose as pr
from lab.studies.study import Arm, Observation, Study
from lab.studies.verdicts import Verdict, build, gate

SCHEDULED_SAMPLING = 0.25  # final rate of the scheduled-sampling arm (ramps up from 0)
TF, SS = "teacher_forcing", "scheduled_sampling"
CLAIM = ("a teacher-forced model predicts worse from its own text than from true text, "
         "errors compound, and scheduled sampling narrows the gap")


def verdict(data: StudyData) -> Verdict:
    """Teacher forcing: illegal probability mass in true vs own context, invalid-after-invalid
    vs after-valid; scheduled sampling vs teacher forcing on free-running valid sentences."""
    if v := gate(data, (TF, SS), CLAIM):
        return v
    checks = [
        ev.compare_values("true context", data.values(TF, "illegal_mass_true"),
                          "own text", data.values(TF, "illegal_mass_own"),
                          METRICS["illegal_mass"],
                          "the teacher-forced model puts less probability on illegal "
                          "characters in true context than in its own text"),
        ev.compare_values("after an invalid one", data.values(TF, "p_invalid_after_invalid"),
                          "after a valid one", data.values(TF, "p_invalid_after_valid"),
                          METRICS["p_next_invalid"],
                          "after an invalid sentence the next one is invalid more often",
                          lower=False),  # the claim is that the first is the higher
        ev.compare(data, SS, TF, METRICS["free_valid_sentences"]),
    ]
    return build(CLAIM, checks, ev.failure_notes(data))


def gap(data: StudyData) -> str:
    def small(x: float) -> str:
        return f"{100 * x:.3f}%" if math.isfinite(x) else pr.NA

    parts = [f"{data.label(k)}: {small(data.median(k, 'illegal_mass_true'))} in true context "
             f"vs {small(data.median(k, 'illegal_mass_own'))} in its own text"
             for k in data.arm_keys]
    return ("Median probability the model puts on characters the grammar forbids next. "
            + "; ".join(parts) + ". The closer the two, the less its own slips throw it off.")


def compounding(data: StudyData) -> str:
    k = data.arm_keys[0]
    after_bad = data.median(k, "p_invalid_after_invalid")
    after_ok = data.median(k, "p_invalid_after_valid")
    if not math.isfinite(after_ok):
        first = (f"After an invalid sentence the next is invalid {pr.pct(after_bad)} of the "
                 "time; no valid sentence was followed by another, so the rate after a valid "
                 "one is undefined")
    else:
        how = pr.direction(after_ok, after_bad, 0.01, "more often", "less often",
                           "about as often")
        first = (f"After an invalid sentence, the next is invalid {pr.pct(after_bad)} of the "
                 f"time, after a valid one {pr.pct(after_ok)}: errors are followed by errors "
                 f"{how}")
    return f"For {data.label(k)}, {first[0].lower()}{first[1:]}{_error_free(data, k)}."


def _error_free(data: StudyData, key: str) -> str:
    """', of its free-running samples, x% are error-free for the first n characters ...'."""
    s = data.tables.get("series")
    if s is None or not len(s):
        return ""
    g = s[(s["arm"] == key) & (s["analysis"] == "error_free_by_length")]
    by_x = g.groupby("x")["y"].median()
    if not len(by_x):
        return ""
    return (f". Of its free-running samples, {pr.pct(by_x.iloc[0])} are error-free for the "
            f"first {by_x.index[0]:.0f} characters and {pr.pct(by_x.iloc[-1])} for "
            f"{by_x.index[-1]:.0f}")


def grammar(data: StudyData) -> str:
    return (f"Valid sentences in free-running text: "
            f"{pr.per_arm(data, 'free_valid_sentences', pr.pct)}; valid words: "
            f"{pr.per_arm(data, 'free_valid_words', pr.pct)}.")


STUDY = Study(
    id="teacher_forcing", number=6, title="Teacher forcing and exposure bias",
    group="Training signal",
    question="What happens when a model trained on perfect context has to read its own "
    "output?",
    hypothesis="Trained only on true text, the model never practises recovering from its own "
    "slips, so it should predict worse from its own text than from true text, and one bad "
    "sentence should make the next more likely to go wrong (exposure bias). Feeding it some "
    "of its own samples during training (scheduled sampling) should narrow the gap.",
    arms=(Arm(TF, "teacher forcing", {"sampling": 0.0}),
          Arm(SS, f"scheduled sampling (to {SCHEDULED_SAMPLING:.0%})",
              {"sampling": SCHEDULED_SAMPLING})),
    metric=METRICS["free_valid_sentences"],
    views=("context_accuracy", "error_compounding", "loss_curves"),
    verdict=verdict,
    observations=(
        Observation("How much worse does the model predict from its own text?", gap),
        Observation("Do errors compound once a sentence goes wrong?", compounding),
        Observation("Does scheduled sampling make free-running text more grammatical?",
                    grammar),
    ),
    takeaway=pr.lesson(
        "Exposure bias is real here and scheduled sampling helps: the teacher-forced model "
        "slips more in its own text, errors breed errors, and practice on its own samples "
        "narrows the gap.",
        "Exposure bias did not show the way the textbook describes in these runs.", gap),
)

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
            f"{pr.per_arm(data, 'free_valid_words', pr.pct)}. Agreement accuracy on true "
            f"text: {pr.per_arm(data, 'agreement_overall', pr.pct)}.")


def _statuses(data: StudyData, key: str) -> str:
    s = data.of_arm(key)["status"].value_counts()
    return ", ".join(f"{int(n)} {st}" for st, n in s.items()) or pr.NA


def why_sampling(data: StudyData) -> str:
    return (f"{data.label(SS)} ends {_statuses(data, SS)} (teacher forcing: "
            f"{_statuses(data, TF)}), at a held-out loss of "
            f"{pr.f3(data.median(SS, 'final_val_loss'))} nats/char against "
            f"{pr.f3(data.median(TF, 'final_val_loss'))}. {MECHANISM}")


MECHANISM = (
    "Here, as in Bengio et al. (2015), the chance of reading its own sample instead of the "
    f"true character ramps up during training (linearly, from 0 to {SCHEDULED_SAMPLING:.0%}), "
    "while the target stays the original text. At the character level that target is "
    "often inconsistent: after the model writes a wrong letter mid-word, the target still "
    "spells the original word, so the model is taught to ignore the letter it has just read. "
    "Huszár (2015) showed this objective is not minimised by the true distribution of text, "
    "so the later steps, with the most sampling, pull the model away from the grammar it had "
    "learned.")


def takeaway(data: StudyData, v: Verdict) -> str:
    own, true = (data.median(TF, c) for c in ("illegal_mass_own", "illegal_mass_true"))
    vs, vt = (data.median(k, "free_valid_sentences") for k in (SS, TF))
    mass = (f"Trained on true text only, the model puts {100 * true:.3f}% of its probability "
            f"on forbidden characters in true context and {100 * own:.3f}% in its own text")
    if own > true:
        first = (f"{mass}: its own slips take it to states it never trained on.")
        second = ("Scheduled sampling was meant to close that gap, yet its free-running "
                  f"sentences are valid {pr.pct(vs)} of the time against {pr.pct(vt)} for "
                  "teacher forcing.")
    else:
        first = (f"{mass}: no worse on its own text, so exposure bias does not show here. "
                 f"Its own text is mostly grammatical ({pr.pct(vt)} of its free-running "
                 "sentences are valid), so reading it keeps the model in states much like "
                 "those it trained on.")
        second = ("With no gap to close, scheduled sampling could only cost: its "
                  f"free-running sentences are valid {pr.pct(vs)} of the time against "
                  f"{pr.pct(vt)} for teacher forcing.")
    third = ("The reason is the target: after a sampled wrong letter the target still "
             "continues the original word, which teaches the network to distrust its own "
             "input mid-word, an inconsistency of scheduled sampling (Huszár 2015) that "
             "bites hardest when tokens are characters.")
    return " ".join((first, second, third)) + pr.unless_supported(v)


STUDY = Study(
    id="teacher_forcing", number=6, title="Teacher forcing and exposure bias",
    group="Training signal",
    question="What happens when a model trained on perfect context has to read its own "
    "output?",
    hypothesis="Trained only on true text, the model never practises reading its own slips, "
    "so it should put more probability on forbidden characters in its own text than in true "
    "text, and one bad sentence should make the next more likely to go wrong (exposure "
    "bias). Feeding it some of its own characters during training (scheduled sampling) is "
    "the textbook cure and should make its free-running sentences more often grammatical.",
    arms=(Arm(TF, "teacher forcing", {"sampling": 0.0}),
          Arm(SS, f"scheduled sampling (to {SCHEDULED_SAMPLING:.0%})",
              {"sampling": SCHEDULED_SAMPLING})),
    metric=METRICS["free_valid_sentences"],
    views=("context_accuracy", "error_compounding", "loss_curves"),
    verdict=verdict,
    observations=(
        Observation("Does the model predict worse from its own text than from true text?", gap),
        Observation("Do errors compound once a sentence goes wrong?", compounding),
        Observation("Does scheduled sampling make free-running text more grammatical?",
                    grammar),
        Observation("Why does scheduled sampling end the way it does?", why_sampling),
    ),
    prediction="Which training will write more valid sentences when it runs free on its own text?",
    prediction_metric="free_valid_sentences",
    takeaway=takeaway,
)

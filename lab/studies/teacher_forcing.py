"""Study 6: teacher forcing vs scheduled sampling, and exposure bias where it can appear.

Exposure bias is measured as the literature does: the error rate right after the model's own
error against after a correct context (lab.measure.exposure), in its own text and, where it
never reads its own errors, on true text. A model that almost never errs gives few errors to
measure after, so the study adds a model weak enough to err: H=16, trained both ways. Not the
baseline's early checkpoint: scheduled sampling's rate ramps up from 0, so early in training it
has barely fed itself anything and could not show whether it helps; H=16 is weak all along, its
teacher-forced run is the hidden-size study's H=16 arm (trained once for both), and its
scheduled-sampling arm costs three small runs. The baseline's early checkpoints still show the
measure over training (lab.training.config.EXPOSURE_STEPS).
"""

from __future__ import annotations

import math

from lab.data.studydata import StudyData
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies import prose as pr
from lab.studies.study import Arm, Observation, Study
from lab.studies.verdicts import Verdict, build, gate

SCHEDULED_SAMPLING = 0.25  # final rate of the scheduled-sampling arms (ramps up from 0)
WEAK_H = 16  # the model weak enough to err
TF, SS = "teacher_forcing", "scheduled_sampling"
WEAK_TF, WEAK_SS = "weak_teacher_forcing", "weak_scheduled_sampling"
CLAIM = ("a teacher-forced model predicts worse from its own text than from true text, its "
         "errors compound (right after its own error the next characters go wrong more often "
         "than after a correct context, and more than errors cluster on true text), and "
         "scheduled sampling narrows the gap")
RATE, COMPOUNDING = METRICS["error_rate"], METRICS["error_compounding_own"]


def _compounds(data: StudyData, key: str) -> ev.Check:
    return ev.compare_values(
        "right after its own error", data.values(key, "error_after_error_own"),
        "after a correct context", data.values(key, "illegal_mass_own"), RATE,
        f"{data.label(key)} errs more right after its own error than after a correct context",
        lower=False)  # the claim is that the first is the higher


def verdict(data: StudyData) -> Verdict:
    """Teacher forcing: illegal mass in true vs own context; errors compound after its own
    error (baseline and H=16); the H=16 model's compounding in its own text beyond that on true
    text; scheduled sampling compounds less (H=16) and writes more valid sentences (H=64)."""
    if v := gate(data, data.arm_keys, CLAIM):
        return v
    weak = data.label(WEAK_TF)
    checks = [
        ev.compare_values("true context", data.values(TF, "illegal_mass_true"),
                          "own text", data.values(TF, "illegal_mass_own"),
                          METRICS["illegal_mass"],
                          "the teacher-forced model puts less probability on illegal "
                          "characters in true context than in its own text"),
        _compounds(data, TF),
        _compounds(data, WEAK_TF),
        ev.compare_values("in its own text", data.values(WEAK_TF, "error_compounding_own"),
                          "on true text", data.values(WEAK_TF, "error_compounding_true"),
                          COMPOUNDING, f"{weak}'s errors compound more in its own text than "
                          "they cluster on true text", lower=False),
        ev.compare(data, WEAK_SS, WEAK_TF, COMPOUNDING),
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


def _times(x: float) -> str:
    return f"{x:.1f} times" if math.isfinite(x) else "an unknown multiple of"


def _compounding_of(data: StudyData, key: str) -> str:
    n = data.median(key, "exposure_errors")
    after, ok = data.median(key, "error_after_error_own"), data.median(key, "illegal_mass_own")
    if not math.isfinite(after):
        return (f"{data.label(key)} made no error from a correct context in its free-running "
                "samples, so there is nothing to measure after")
    true_after, true_ok = (data.median(key, c) for c in ("error_after_error_true",
                                                         "illegal_mass_true"))
    return (f"{data.label(key)} (about {n:.0f} errors from a correct context per seed): right "
            f"after its own error the next characters are errors {pr.rate(after)} of the time "
            f"against {pr.rate(ok)} after a correct context "
            f"({_times(data.median(key, 'error_compounding_own'))} as often); on true text, "
            f"after a likely error {pr.rate(true_after)} against {pr.rate(true_ok)} "
            f"({_times(data.median(key, 'error_compounding_true'))})")


def compounding(data: StudyData) -> str:
    k = data.arm_keys[0]
    after_bad = data.median(k, "p_invalid_after_invalid")
    after_ok = data.median(k, "p_invalid_after_valid")
    chars = "; ".join(_compounding_of(data, key) for key in data.arm_keys)
    sentences = (f"Sentence by sentence, {data.label(k)} writes an invalid sentence "
                 f"{pr.pct(after_bad)} of the time after an invalid one and "
                 + (f"{pr.pct(after_ok)} after a valid one" if math.isfinite(after_ok) else
                    "never wrote a valid sentence followed by another, so the rate after a "
                    "valid one is undefined"))
    return (f"Character by character, in each model's free-running samples: {chars}. The "
            "rise on true text is what hard places alone give; the rise in its own text "
            f"beyond it is the model reading its own mistake. {sentences}"
            f"{_error_free(data, k)}.")


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
            f"{_statuses(data, TF)}). On the same held-out text, read with true inputs by "
            f"both, it ends at {pr.f3(data.median(SS, 'final_val_loss'))} nats/char against "
            f"{pr.f3(data.median(TF, 'final_val_loss'))}; at H={WEAK_H}, "
            f"{pr.f3(data.median(WEAK_SS, 'final_val_loss'))} against "
            f"{pr.f3(data.median(WEAK_TF, 'final_val_loss'))}. Its training loss is not "
            "comparable: it is measured on partly self-fed inputs. " + MECHANISM)


MECHANISM = (
    "Why can feeding the model its own characters hurt? Here, as in Bengio et al. (2015), "
    "the chance of reading its own sample instead of the true character ramps up during "
    f"training (from 0 to {SCHEDULED_SAMPLING:.0%}), while the answer it is marked against "
    "stays the original text. Picture a spelling test: the model writes \"chasex\" where the "
    "text says \"chases\", and is then marked, letter by letter, against \"chases the dog\" "
    "as if it had written the right word. So it is taught to ignore the letter it has just "
    "written, yet when it writes alone its own letters are all it has to go on. With whole "
    "words as tokens a slip would still be a word and the lesson would still make sense; "
    "with single characters it rarely does (Huszár 2015 showed this objective is not even "
    "minimised by the true distribution of text).")


def takeaway(data: StudyData, v: Verdict) -> str:
    own, true = (data.median(TF, c) for c in ("illegal_mass_own", "illegal_mass_true"))
    vs, vt = (data.median(k, "free_valid_sentences") for k in (SS, TF))
    ct, cs = (data.median(k, "error_compounding_own") for k in (WEAK_TF, WEAK_SS))
    mass = (f"Trained on true text only, the baseline puts {100 * true:.3f}% of its "
            f"probability on forbidden characters in true context and {100 * own:.3f}% in "
            "its own text")
    first = f"{mass}: " + ("its own slips take it to states it never trained on." if own > true
                           else "it rarely slips, so its own text looks much like true text.")
    after = (f"A weaker model shows what happens after a slip: at H={WEAK_H}, teacher-forced, "
             f"right after its own error the next characters go wrong {_times(ct)} as often "
             "as after a correct context")
    if ct > 1:
        why = (", since every wrong character it reads moves its state further from anything "
               "it saw in training")
    else:
        why = (": no compounding. Its errors sit at a few hard places (which word comes "
               "next), and once it has committed to a word, spelling the rest of it is easy, "
               "so the characters right after an error are among its safest")
    weak = f"{after}{why}; with scheduled sampling {_times(cs)}."
    second = (f"Scheduled sampling is the textbook cure, yet at H=64 its free-running "
              f"sentences are valid {pr.pct(vs)} of the time against {pr.pct(vt)} for "
              "teacher forcing.")
    third = ("The reason is the answer it is marked against: after a sampled wrong letter the "
             "target still spells the original word, which teaches the network to distrust "
             "its own input mid-word, and that bites hardest when tokens are characters.")
    return " ".join((first, weak, second, third)) + pr.unless_supported(v)


def report(data: StudyData) -> dict:
    """lab.report --json: per arm, the error rate right after its own error and after a
    correct context (own text), the same on true text, and the errors counted."""
    names = {"error_after_error_own": "error_after_own_error",
             "illegal_mass_own": "error_after_correct_context",
             "error_after_error_true": "true_text_error_after_error",
             "illegal_mass_true": "true_text_error_rate",
             "error_compounding_own": "error_compounding_own",
             "error_compounding_true": "error_compounding_true",
             "exposure_errors": "errors_from_correct_context"}
    return {"exposure": {k: {names[c]: n for c, n in data.numbers(k, names).items()}
                         for k in data.arm_keys}}


STUDY = Study(
    id="teacher_forcing", number=6, title="Teacher forcing and exposure bias",
    group="Training signal",
    question="What happens when a model trained on perfect context has to read its own "
    "output?",
    hypothesis="Trained only on true text, the model never practises reading its own slips, "
    "so it should put more probability on forbidden characters in its own text than in true "
    "text, and right after its own error it should go wrong more often than after a correct "
    "context, more than errors cluster at hard places on true text (exposure bias). Feeding "
    "it some of its own characters during training (scheduled sampling) is the textbook cure "
    "and should make its errors compound less and its free-running sentences more often "
    f"grammatical. A small model (H={WEAK_H}) errs often enough to measure it well.",
    arms=(Arm(TF, "teacher forcing", {"sampling": 0.0}),
          Arm(SS, f"scheduled sampling (to {SCHEDULED_SAMPLING:.0%})",
              {"sampling": SCHEDULED_SAMPLING}),
          Arm(WEAK_TF, f"H={WEAK_H}, teacher forcing", {"hidden": WEAK_H, "sampling": 0.0}),
          Arm(WEAK_SS, f"H={WEAK_H}, scheduled sampling",
              {"hidden": WEAK_H, "sampling": SCHEDULED_SAMPLING})),
    metric=METRICS["free_valid_sentences"],
    views=("context_accuracy", "error_after_error", "exposure_over_training",
           "error_compounding", "heldout_loss_over_training", "loss_curves"),
    verdict=verdict,
    observations=(
        Observation("Does the model predict worse from its own text than from true text?", gap),
        Observation("Do errors compound once the model has made one?", compounding),
        Observation("Does scheduled sampling make free-running text more grammatical?",
                    grammar),
        Observation("Why does scheduled sampling end the way it does?", why_sampling),
    ),
    prediction="Which training will write more valid sentences when it runs free on its own text?",
    prediction_metric="free_valid_sentences",
    takeaway=takeaway,
    report=report,
)

"""Every metric the pages, verdicts and report name, one entry each: its label, unit, which
way is better, display digits, the definition the pages quote, the smallest effect that
matters, and what a failed seed counts as.

Torch-free (the pages import it). The computations live in lab.measure.metrics and
lab.measure.analyses; the definitions here state them, with the constants filled in, and
tests/test_registry.py checks the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from lab.language import grammar
from lab.measure.metrics import (
    AGREEMENT_BINS,
    CLEAR_ACCURACY,
    CLEAR_MIN_SITES,
    CLEAR_Z,
    CURVE_EVERY,
    DIVERGE_LOSS,
    EXPOSURE_SPAN,
    GROWTH_LIMIT,
    GROWTH_SPAN,
    LONG_DISTANCE,
    PROBE_BINS,
    PROBE_MARGIN,
    REACH_THRESHOLD,
    SATURATION_FRACTION,
    UNSTABLE_RISE,
)

BETTER = ("lower", "higher", None)  # None: a measurement, not a score
FAILED_POLICIES = ("worst", "none")

FAILED_RULE = (
    "A run counts as failed when training diverged (NaN, inf, or a loss above "
    f"{DIVERGE_LOSS:.1f} nats/char, 3x uniform guessing) or its final held-out loss is not "
    "finite or above that same limit. A failed run is a result: in loss comparisons it "
    "counts as the worst possible loss."
)
FAILED_SEEDS = (
    "Failed seeds: a loss median is taken over every seed, a failed seed counting as the "
    "worst loss (so an arm whose seeds mostly failed has the median 'failed'); other metrics "
    "are medians over the seeds that finished, since a failed run has no end-of-run analyses."
)

# issue 11: "no practical difference" below these (losses relative to the entropy floor)
LOSS_MIN_EFFECT = 0.02  # 2% of the floor
SHARE_MIN_EFFECT = 0.05  # 5 percentage points for accuracies and other shares
MASS_MIN_EFFECT = 0.001  # 0.1 points of probability on illegal characters (good models: <0.1%)
PEAK_MIN_EFFECT = 10.0  # a gradient spike: about the baseline's median gradient norm (5 to 10)
COMPOUNDING_MIN_EFFECT = 0.5  # error compounding factors 0.5x apart (e.g. 1.5x against 2x)


@dataclass(frozen=True)
class Metric:
    """A per-run number: `name` is its column in a study's runs (and its scalar's name in
    the store); `failed` says what a failed seed counts as ('worst': the worst value,
    inf for a loss; 'none': no value); `min_effect` is the smallest difference, in its
    unit, that counts as a practical effect (None: not a score)."""

    name: str
    label: str
    unit: str = ""
    better: str | None = None
    digits: int = 3
    definition: str = ""
    min_effect: float | None = None
    failed: str = "none"

    def __post_init__(self) -> None:
        if self.better not in BETTER or self.failed not in FAILED_POLICIES:
            raise ValueError(f"metric {self.name!r}: better={self.better!r}, "
                             f"failed={self.failed!r}")

    @property
    def lower_is_better(self) -> bool | None:
        return None if self.better is None else self.better == "lower"

    def fmt(self, v: float) -> str:
        """v at the metric's digits; 'failed' for a failed seed's inf, 'n/a' for no value."""
        if v == math.inf:
            return "failed"
        if not math.isfinite(v):
            return "n/a"
        return f"{v:.{self.digits}f}"

    def quote(self) -> str:
        """'**Label**: definition', markdown-safe, as the pages print it."""
        return f"**{self.label[0].upper()}{self.label[1:]}**: {markdown_safe(self.definition)}"


def markdown_safe(text: str) -> str:
    """Escape the characters markdown would eat in a definition (h_t, ||x||, *)."""
    out = text
    for ch in ("\\", "_", "*", "|"):
        out = out.replace(ch, "\\" + ch)
    return out


def seed_median(values: Iterable[float]) -> float:
    """The median over seeds under FAILED_SEEDS: values already carry inf for failed seeds
    of a 'worst' metric (StudyData.values); NaN (no value) is left out; nan if none."""
    v = np.asarray(list(values), float)
    v = v[~np.isnan(v)]
    return float(np.median(v)) if len(v) else math.nan


def _slope_rule(fraction: float) -> dict[str, str]:
    """Per activation, where a unit is saturated: f'(a) below `fraction` of f's peak slope."""
    tanh_h = math.sqrt(1 - fraction)  # 1 - h^2 = fraction
    sig_lo = (1 - math.sqrt(1 - fraction)) / 2  # h (1 - h) = fraction x 0.25
    return {
        "tanh": f"|h| > {tanh_h:.3f} (slope 1 - h^2 below {fraction:g})",
        "sigmoid": f"h < {sig_lo:.3f} or h > {1 - sig_lo:.3f} (slope h(1 - h) below "
                   f"{fraction * 0.25:g}, {_share(fraction)} of its peak 0.25)",
        "relu": "h = 0 (slope 0: the unit is off)",
        "identity": "never (slope is always 1)",
    }


def _share(fraction: float) -> str:
    return "a tenth" if fraction == 0.1 else f"{fraction:g}"


SATURATION_RULE = _slope_rule(SATURATION_FRACTION)
PROBE_BIN_LABELS = tuple(f"{lo}-{hi}" for lo, hi in PROBE_BINS)
FLOOR = grammar.entropy_rate()  # nats/char: the best loss any model can reach

_LOSS_EFFECT = LOSS_MIN_EFFECT * FLOOR
AGREEMENT_BIN_TEXT = ", ".join(f"{lo}-{hi}" for lo, hi in AGREEMENT_BINS)
_SITE = ("every agreeing verb of 32 held-out tracks of 2,500 characters, the share where "
         "the model gives the verb's correct form more probability than the wrong one at the "
         "deciding character (\"s\" for a singular subject, a space or \".\" for a plural one). "
         "Chance is 50%")
CONDITION_TEXT = {  # condition -> (short label, which verbs count)
    "none": ("no relative clause", "no relative clause between the subject and its verb"),
    "subj_rc": ("across a subject relative", "a subject relative between them (\"the cat "
                "that chases the dogs runs\")"),
    "obj_rc1": ("across an object relative", "one object relative between them (\"the cats "
                "that the dog chases run\")"),
    "obj_rc2": ("across nested object relatives", "two nested object relatives between them"),
    "attractor_match": ("same-number nouns in between", "nouns between them that all have "
                        "the subject's number"),
    "attractor_mismatch": ("other-number noun in between", "a noun between them of the other "
                           "number (an attractor)"),
}
_FREE = "free-running text (16 samples of 300 characters after a held-out prime)"
_TRUE = ("positions of held-out text read from sentence starts (after 60 characters of "
         "warm-up)")
_ERROR_RATE = ("An error rate is the probability the model gives to the characters that would "
               "be errors there: the chance its next character is an error")
_OWN_ERROR = (f"in {_FREE}, at the character right after each error the model made while "
              "its sentence so far was correct (an error: a character the grammar forbids "
              "there; the charts add each of the next "
              f"{EXPOSURE_SPAN} characters). Once a sentence is broken the grammar cannot "
              "say what was meant, so after an error the current word is read again as if the "
              "sentence could have been any sentence, and judging goes on from there (the rest "
              "of a word that is no word is skipped). This forgives more after an error than "
              "before one, more so the further from the error, so it can only undercount the "
              "errors that follow an error. " + _ERROR_RATE + ".")
_TRUE_ERROR = (f"on {_TRUE}, where the model never reads its own errors: at the position right "
               "after each position t (the charts: each of the next "
               f"{EXPOSURE_SPAN}), its error rate there, weighted by its error rate at t (the "
               "chance it would have erred at t): sum_t m_t m_(t+1) / sum_t m_t. Errors "
               "cluster here only because some places are hard, never because the model read "
               "a mistake. " + _ERROR_RATE + ".")


def _loss(name: str, label: str, definition: str) -> Metric:
    return Metric(name, label, "nats/char", "lower", 3, definition, _LOSS_EFFECT, "worst")


def _share_metric(name: str, label: str, better: str | None, definition: str,
                  digits: int = 3) -> Metric:
    return Metric(name, label, "", better, digits, definition,
                  SHARE_MIN_EFFECT if better else None)


_ENTRIES = (
    _loss("final_val_loss", "final held-out loss",
          "mean cross-entropy per character, in nats, on 64 held-out tracks of 256 scored "
          "characters at the end of training (the first 32 characters of each track only "
          "warm the state)."),
    _loss("final_train_loss", "final training loss",
          "mean training loss per character over the last 500 steps."),
    _loss("curve_mean_loss", "training loss averaged over the run",
          "the mean of the stored training-loss windows over the whole run: lower means the "
          "loss came down sooner."),
    Metric("gradient_reach", "gradient reach", "chars", "higher", 0,
           f"the largest k such that the normalised ‖dL_t/dh_(t-k)‖ stays >= "
           f"{REACH_THRESHOLD:g} for 0..k. That is, the gradient still carries at least "
           f"{REACH_THRESHOLD:.0%} of its size at k = 0.", 1.0),
    Metric("memory_horizon", "memory horizon", "chars", "higher", 0,
           "the upper edge of the farthest distance bin up to which agreement accuracy is "
           "clearly above chance in every bin (0: not even the nearest bin). Clearly: at least "
           f"{CLEAR_MIN_SITES} sites, accuracy at least {CLEAR_ACCURACY:.0%}, and at least "
           f"{CLEAR_Z:g} binomial standard errors above 50%. Bins (characters from the "
           f"subject's number cue to the verb's deciding character): {AGREEMENT_BIN_TEXT}.",
           8.0),
    Metric("char_probe_horizon", "character-probe horizon", "chars", None, 0,
           f"the old character probe: largest k with probe accuracy >= chance + "
           f"{PROBE_MARGIN:g} at every distance 1..k (it measures how predictable the text "
           "is as much as what the network remembers)."),
    Metric("probe_accuracy", "memory probe", "", "higher", 3,
           "h_t is the state after reading char t. A ridge regression from [h_t, 1] onto the "
           "one-hot of char t-k is fitted on 5 held-out tracks of 1,000 characters and scored "
           "on 3 others (argmax = prediction). Chance is the accuracy of always guessing the "
           "char most frequent at that distance in the fitting tracks. Accuracies are "
           "averaged within distance bins (characters back): "
           f"{', '.join(PROBE_BIN_LABELS)}.", SHARE_MIN_EFFECT),
    _share_metric("agreement_overall", "agreement accuracy", "higher",
                  f"at {_SITE}."),
    _share_metric("agreement_long", "long-distance agreement accuracy", "higher",
                  f"at {_SITE}, counting only verbs whose subject's number cue is "
                  f"{LONG_DISTANCE} or more characters back."),
    *(_share_metric(f"agreement_{c}", f"agreement accuracy, {short}", "higher",
                    f"at {_SITE}, counting only verbs with {which}.")
      for c, (short, which) in CONDITION_TEXT.items()),
    Metric("decision_excess", "excess loss at the verb's deciding character", "nats", "lower",
           3, "the mean of -ln(P(correct form) / (P(correct) + P(wrong))) at every agreeing "
           "verb: 0 for a model sure of the right form, ln 2 = 0.693 for one that forgot the "
           "subject's number (the grammar itself pays 0 there).", 0.05 * math.log(2)),
    _share_metric("memory_score", "memory score", "higher",
                  "1 - (excess loss at the verb's deciding character) / ln 2: 1 for a model "
                  "sure of the right form, 0 for one that forgot the subject's number."),
    _share_metric("number_probe_long", "number probe, subject 16+ chars back", "higher",
                  "a linear (ridge) read-out of the pending subject's number from h_t, fitted "
                  "on 16 held-out tracks and scored on 16 others, at positions whose "
                  f"subject's number cue is {LONG_DISTANCE} or more characters back. Chance is "
                  "50%: it says whether the number is still in the state, whatever the "
                  "readout does with it."),
    Metric("gradient_growth", "gradient growth per character", "x", None, 3,
           "the geometric-mean factor by which the normalised ‖dL_t/dh_(t-k)‖ changes per "
           "character back, from k = 0 to the chunk's farthest k (below 1: it shrinks; above "
           "1: it grows)."),
    Metric("gradient_regime", "gradient regime", "", None, 0,
           f"vanishing when the gradient, at its growth per character, would shrink below "
           f"1/{GROWTH_LIMIT:g} over {GROWTH_SPAN} characters; exploding when it would grow "
           f"above {GROWTH_LIMIT:g}x; healthy in between. An exploding gradient is not reach: "
           "it says the state is unstable, not that it remembers."),
    _share_metric("clip_fraction", "fraction of steps clipped", None,
                  "the share of training steps whose pre-clip gradient norm exceeded the "
                  "clip threshold."),
    Metric("median_grad_norm", "median pre-clip gradient norm", "", None, 2,
           "the median over training steps of the gradient's global L2 norm, measured "
           "before clipping."),
    Metric("grad_norm_peak", "largest pre-clip gradient norm", "", "lower", 1,
           "the largest global L2 norm of the gradient, measured before clipping, of any "
           "training step (up to a divergence; the step that blew up is left out): the run's "
           "biggest spike. The charts show the largest per window of "
           f"{CURVE_EVERY} steps. A difference smaller than {PEAK_MIN_EFFECT:g}, about the "
           "baseline's typical gradient norm, does not count.", PEAK_MIN_EFFECT),
    Metric("spectral_radius_init", "spectral radius at step 0", "", None, 3,
           "ρ(W_hh) = largest |eigenvalue| of W_hh, before the first step."),
    Metric("spectral_radius_final", "final spectral radius", "", None, 3,
           "ρ(W_hh) = largest |eigenvalue| of W_hh, at the end of training."),
    _share_metric("h_saturated_final", "saturated", None,
                  "a hidden unit is saturated where its slope f'(a) is below "
                  f"{SATURATION_FRACTION:g} of f's largest slope. Per activation: "
                  + "; ".join(f"{a}: {r}" for a, r in SATURATION_RULE.items()) + "."),
    _share_metric("next_char_legal_true", "legal next-char rate in true context", "higher",
                  f"the share of {_TRUE} where the most likely next character is one the "
                  "grammar allows."),
    _share_metric("next_char_legal_own", "legal next-char rate in its own text", "higher",
                  f"the share of characters of {_FREE} where the most likely next character "
                  "is one the grammar allows."),
    _share_metric("next_char_acc_true", "next-char accuracy in true context", "higher",
                  f"the share of {_TRUE} where the most likely next character is the true one."),
    Metric("illegal_mass", "probability on illegal next characters", "", "lower", 5,
           "the probability the model gives, in its softmax over "
           "the 29 characters, to the characters the grammar forbids next (averaged over the "
           "positions read). Unlike \"is its most likely character legal\", it does not "
           "saturate for a good model: it says how sure the model is, not only what it would "
           "pick.", MASS_MIN_EFFECT),
    Metric("illegal_mass_true", "probability on illegal next characters in true context", "",
           "lower", 5, f"illegal probability mass over {_TRUE}.", MASS_MIN_EFFECT),
    Metric("illegal_mass_own", "probability on illegal next characters in its own text", "",
           "lower", 5, f"illegal probability mass over {_FREE}.", MASS_MIN_EFFECT),
    _share_metric("free_valid_words", "share of valid words in free-running text", "higher",
                  f"the share of words of {_FREE} that are in the vocabulary."),
    _share_metric("free_valid_sentences", "share of valid sentences in free-running text",
                  "higher",
                  f"the share of complete sentences of {_FREE} the grammar can produce."),
    _share_metric("p_invalid_after_valid", "P(invalid sentence | previous valid)", "lower",
                  f"in {_FREE}, the chance a sentence is invalid when the one before it was "
                  "valid."),
    _share_metric("p_invalid_after_invalid", "P(invalid sentence | previous invalid)", "lower",
                  f"in {_FREE}, the chance a sentence is invalid when the one before it was "
                  "invalid too."),
    Metric("error_after_error_own", "error rate right after its own error", "", "lower", 4,
           f"the mean error rate {_OWN_ERROR}", MASS_MIN_EFFECT),
    Metric("error_after_error_true", "error rate right after an error on true text", "",
           "lower", 4, f"the mean error rate {_TRUE_ERROR}", MASS_MIN_EFFECT),
    Metric("error_rate", "error rate", "", "lower", 4,
           _ERROR_RATE + f". After a correct context: at every character of {_FREE} whose "
           "sentence so far was correct (the probability on illegal next characters in its own "
           "text); right after an error: see the error rate right after its own error.",
           MASS_MIN_EFFECT),
    Metric("error_compounding_own", "error compounding in its own text", "x", "lower", 2,
           "the error rate right after its own error divided by the error rate after a correct "
           "context, both in its own free-running text: 1 means an error does not make the next "
           "one likelier; 3 means three times as likely.", COMPOUNDING_MIN_EFFECT),
    Metric("error_compounding_true", "error compounding on true text", "x", "lower", 2,
           "the error rate right after an error on true text divided by the error rate on true "
           "text: how much errors cluster at hard places when the model never reads its own "
           "mistakes. Exposure bias is the compounding in its own text beyond this.",
           COMPOUNDING_MIN_EFFECT),
    Metric("exposure_errors", "errors made from a correct context", "", None, 0,
           f"the number of errors in {_FREE} made while the sentence so far was correct: how "
           "many errors the error rate right after an error is measured after."),
    _share_metric("category_separation", "category separation", "higher",
                  "accuracy of labelling each test vector by its nearest class centroid. "
                  "Centroids are the per-category means of the training vectors (Euclidean "
                  "distance)."),
    _share_metric("category_chance", "category chance level", None,
                  "the share of the most common category among the scored words."),
    _share_metric("zog_hit_rate",
                  "share of replaced words where zog lands nearest their category", "higher",
                  "per seed, the share of replaced words whose category has the highest mean "
                  "cosine to zog's word-end state (the replaced word itself left out)."),
    _share_metric("zog_agreement", "agreement accuracy with zog as subject", "higher",
                  "each noun pair in turn is written zog (singular) and zogs (plural) in "
                  "held-out text the model never trained on; at every verb whose subject is "
                  "zog or zogs, the share where the model gives the verb's correct form more "
                  "probability than the wrong one at the deciding character. Chance is 50%."),
    _share_metric("zog_agreement_long", "agreement accuracy with zog as subject, "
                  f"{LONG_DISTANCE}+ chars back", "higher",
                  "the same, counting only verbs whose subject zog or zogs "
                  f"is {LONG_DISTANCE} or more characters back."),
    Metric("zog_expectation", "which verbs it expects after the subject", "log10", None, 2,
           "log10 of P(a verb only humans do) / P(a verb only animals do) as the next word "
           "after \"the <subject> \" (singular subject with singular verbs, plural with plural), "
           "summed over the verbs and 16 stretches of held-out text read before it: +1 means "
           "human verbs ten times likelier, -1 animal verbs. It points to a class when its "
           "size passes the minimum effect, a factor of two.", 0.3),
    _share_metric("zog_expectation_hit_rate", "share of replaced nouns whose class the "
                  "network expects after zog", "higher",
                  "per seed, over the nouns replaced by zog in turn, the share where the "
                  "expectation after \"the zog \" points to the replaced noun's class (human "
                  "or animal) by at least its minimum effect."),
    Metric("zog_sentences", "sentences with zog it took", "", None, 0,
           "for a noun whose class the network's cold guess after zog missed, the sentences "
           "containing zog that the continued training had read when its expectation first "
           "pointed to that class and kept pointing there at every later reading; per seed, "
           "the median over those nouns."),
    Metric("zog_sites", "verbs with zog as subject", "", None, 0,
           "the number of agreeing verbs whose subject is zog or zogs, over every noun pair."),
    # derived per seed by the verdicts, from the stored metrics above
    Metric("loss_gain", "loss drop per doubling of H", "nats/char", "higher", 3,
           "per seed, the final held-out loss before a doubling of H minus after it.",
           _LOSS_EFFECT),
    Metric("horizon_per_char", "memory horizon gained per added chunk char", "", "higher", 2,
           "per seed, the memory horizon gained between two chunk lengths, divided by the "
           "characters added.", 0.1),
    _share_metric("p_next_invalid", "chance the next sentence is invalid", "lower",
                  f"in {_FREE}, the chance a sentence is invalid given the one before it."),
    Metric("cosine", "mean cosine to zog", "", "higher", 3,
           "per seed, the mean cosine similarity of zog's word-end state to a group of words' "
           "states.", SHARE_MIN_EFFECT),
    Metric("run_status", "run status", "", None, 0,
           "ok / unstable / diverged. diverged: the training loss became NaN or inf, or passed "
           f"{DIVERGE_LOSS:.1f}, and the run stopped there; unstable: it finished, but its last "
           f"window's loss is more than {UNSTABLE_RISE:g} above the best window loss it had "
           "reached (it learned, then lost ground), or its final held-out loss is not finite "
           f"or above {DIVERGE_LOSS:.1f} (its state blows up on longer text than a training "
           "chunk); ok otherwise."),
)
METRICS: dict[str, Metric] = {m.name: m for m in _ENTRIES}
FAILED_WORST = tuple(m.name for m in _ENTRIES if m.failed == "worst")  # the loss columns


def get(name: str) -> Metric:
    """The metric registered under name; an unknown name raises ValueError naming the known."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {list(METRICS)}")
    return METRICS[name]


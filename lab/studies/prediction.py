"""Class mode's one prediction per study: the question, the options, and how a committed
guess fares against the stored runs (the effect-size rule decides what counts as tied).

A study with several arms asks which arm does best on a metric (the study's key metric if
it has a better direction, else the final loss); a study with one arm asks whether its
hypothesis holds, answered by its verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.data.studydata import StudyData
from lab.measure.registry import METRICS, Metric
from lab.studies.evidence import compare_values
from lab.studies.study import Study

YES, NO = "yes", "no"


@dataclass(frozen=True)
class Prediction:
    question: str
    options: tuple[str, ...]  # arm keys, or (YES, NO)
    metric: Metric | None  # None: the verdict answers

    def label(self, data: StudyData, option: str) -> str:
        return option if self.metric is None else data.label(option)


def for_study(study: Study) -> Prediction:
    """The study's prediction question (its `prediction` text, or one built from its key
    metric) and its options."""
    if len(study.arms) == 1:
        return Prediction(study.prediction or f"Will the runs bear out the hypothesis: "
                          f"{study.question[0].lower()}{study.question[1:]}", (YES, NO), None)
    metric = METRICS[study.prediction_metric] if study.prediction_metric else (
        study.metric if study.metric.better else METRICS["final_val_loss"])
    best = "highest" if metric.better == "higher" else "lowest"
    question = study.prediction or f"Which arm will reach the {best} {metric.label}?"
    return Prediction(question, tuple(a.key for a in study.arms), metric)


def tied_best(data: StudyData, metric: Metric) -> list[str]:
    """The arms no other arm beats under the effect-size rule (seed ranges apart and a gap
    above the minimum effect), best median first."""
    keys = [k for k in data.arm_keys if len(data.values(k, metric.name))]
    sign = -1.0 if metric.better == "higher" else 1.0
    keys.sort(key=lambda k: sign * data.median(k, metric.name))
    if not keys:
        return []
    top = keys[0]
    return [top] + [k for k in keys[1:] if compare_values(
        top, data.values(top, metric.name), k, data.values(k, metric.name), metric,
        "").status != "holds"]


RIGHT, PARTLY, WRONG, OPEN = "borne out", "partly borne out", "not borne out", "open"


@dataclass(frozen=True)
class Judgement:
    """How a committed guess fared: outcome (RIGHT; PARTLY: one of the arms tied for best,
    or a partly supported verdict; WRONG; OPEN: the runs cannot score it) and a sentence."""

    outcome: str
    text: str


def judge(study: Study, data: StudyData, guess: str) -> Judgement:
    """The committed guess against the stored runs, with a plain sentence."""
    p = for_study(study)
    if p.metric is None:
        return _judge_verdict(study.verdict(data).outcome, guess)
    best = tied_best(data, p.metric)
    if not best:
        return Judgement(OPEN, "No stored run has this metric yet, so the prediction cannot "
                               "be scored.")
    values = "; ".join(f"{data.label(k)} {p.metric.fmt(data.median(k, p.metric.name))}"
                       for k in data.arm_keys)
    names = ", ".join(data.label(k) for k in best)
    if guess == best[0] and len(best) == 1:
        outcome, verdict = RIGHT, "borne out: it is the clear best"
    elif guess in best:
        outcome, verdict = PARTLY, (f"partly borne out: it is one of the arms tied for best "
                                    f"({names}), the others within seed noise or the minimum "
                                    "effect of it")
    else:
        verb = "is" if len(best) == 1 else "are"
        outcome, verdict = WRONG, f"not borne out: the best {verb} {names}"
    return Judgement(outcome, f"You predicted **{data.label(guess)}**; your prediction was "
                              f"{verdict}. Median {p.metric.label} over seeds: {values}.")


def _judge_verdict(outcome: str, guess: str) -> Judgement:
    """A yes/no guess against the study's verdict (supported, partly, not, inconclusive)."""
    said = f"You predicted **{guess}**. The verdict from the stored runs is **{outcome}**"
    if outcome == "partly supported":
        return Judgement(PARTLY, f"{said}: some of its checks hold and some do not, so your "
                                 "prediction was partly borne out.")
    if outcome == "inconclusive":
        return Judgement(OPEN, f"{said}: the runs neither bear the hypothesis out nor refute "
                               "it, so your prediction can be neither right nor wrong.")
    right = (guess == YES) == (outcome == "supported")
    return Judgement(RIGHT if right else WRONG,
                     f"{said}, so your prediction was {RIGHT if right else WRONG}.")

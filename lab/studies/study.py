"""What a study is, as data: its arms (config overrides of the baseline), its texts, its
checks, its observation questions, its views, its place in the sidebar and its page's URL
parameters. Each study module (lab/studies/<id>.py) declares one `Study(...)` as STUDY;
lab.studies.catalog collects them. No torch and no streamlit here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lab.measure.registry import Metric
from lab.studies.params import Param
from lab.training.config import BASELINE, KNOBS, RunConfig

if TYPE_CHECKING:
    from lab.data.studydata import StudyData
    from lab.studies.verdicts import Verdict

SEEDS = (42, 43, 44)  # every arm of every study and every grid cell runs these seeds


@dataclass(frozen=True)
class Arm:
    """One arm: a stable key (URLs, DB), a label for charts, and its overrides of the baseline."""

    key: str
    label: str
    overrides: dict = field(default_factory=dict)

    def config(self, seed: int, steps: int | None = None) -> RunConfig:
        extra = {"steps": steps} if steps is not None else {}
        return BASELINE.replace(**{**self.overrides, "seed": seed, **extra})


def arms_over(knob: str, values, label=str) -> tuple[Arm, ...]:
    """One arm per value of one knob, keyed by str(value) (e.g. clip 0.5 -> '0.5')."""
    return tuple(Arm(str(v), label(v), {knob: v}) for v in values)


@dataclass(frozen=True)
class Observation:
    """A question for the student and the function that answers it from the runs."""

    question: str
    answer: Callable[[StudyData], str]


_KNOB_TEXT: dict[str, Callable] = {
    "hidden": lambda v: f"H={v}",
    "activation": lambda v: f"{v} activation",
    "init": lambda v: f"{v} W_hh init",
    "freeze_whh": lambda v: "W_hh frozen" if v else "W_hh trained",
    "seq_len": lambda v: f"TBPTT chunks of {v} chars",
    "lr": lambda v: f"lr={v:g}",
    "clip": lambda v: f"clip={v:g}",
    "sampling": lambda v: "teacher forcing" if v == 0 else f"scheduled sampling to {v:.0%}",
    "steps": lambda v: f"{v:,} steps",
    "optimizer": lambda v: f"plain {v.upper()}",
    "batch_size": lambda v: f"batch of {v}",
    "loss_scale": lambda v: "loss summed over the chunk" if v == "sum_chunk" else f"loss {v}",
}


def fixed_text(arms: tuple[Arm, ...]) -> str:
    """The baseline knobs a study holds still (every knob its arms do not override)."""
    varied = {k for a in arms for k in a.overrides} | {"seed"}
    held = [_KNOB_TEXT[k](getattr(BASELINE, k)) for k in KNOBS if k not in varied]
    seeds = ", ".join(str(s) for s in SEEDS)
    return f"Held at the baseline: {', '.join(held)}. Every arm runs seeds {seeds}."


@dataclass(frozen=True, kw_only=True)
class Study:
    """One study page, declared once in its module.

    verdict(data) checks the hypothesis against the stored runs; takeaway(data, verdict)
    says what the runs teach; views are chart ids the page draws (lab.ui.views); params
    are the page's own URL parameters besides the arm highlight and the seed, which every
    study page has (`url_params`); highlight=False drops the arm highlight picker.
    `fixed` defaults to the baseline knobs the arms leave alone, `page` to NN_<id>.py;
    `prediction` and `prediction_metric` set class mode's question (lab.studies.prediction);
    report(data), if given, is the study's "summary" in lab.report --json.
    """

    id: str
    number: int
    title: str
    question: str
    hypothesis: str
    arms: tuple[Arm, ...]
    metric: Metric  # the study's key metric, beside the final loss in the report
    verdict: Callable[[StudyData], Verdict]
    observations: tuple[Observation, ...]
    takeaway: Callable[[StudyData, Verdict], str]
    views: tuple[str, ...]
    group: str  # its sidebar group
    params: tuple[Param, ...] = ()
    highlight: bool = True
    fixed: str = ""
    page: str = ""
    prediction: str = ""  # class mode's question (default: built from the metric)
    prediction_metric: str = ""  # the metric that answers it (default: the key metric)
    report: Callable[[StudyData], dict] | None = None  # lab.report --json's "summary"

    def __post_init__(self) -> None:
        if not self.id.isidentifier() or not self.arms or not self.views:
            raise ValueError(f"study {self.id!r} needs an identifier id, arms and views")
        keys = [a.key for a in self.arms]
        if len(set(keys)) != len(keys):
            raise ValueError(f"study {self.id!r} repeats an arm key: {keys}")
        object.__setattr__(self, "fixed", self.fixed or fixed_text(self.arms))
        object.__setattr__(self, "page", self.page or f"{self.number:02d}_{self.id}.py")

    @property
    def url_params(self) -> tuple[Param, ...]:
        """Every URL parameter of the study's page except the retrain form's."""
        arm = Param("arm", "choice", "all", ("all", *(a.key for a in self.arms)))
        seed = Param("seed", "choice", SEEDS[0], SEEDS)
        return (*((arm,) if self.highlight else ()), seed, *self.params)

    def arm(self, key: str) -> Arm:
        """The arm under key; an unknown key raises ValueError naming the known ones."""
        for a in self.arms:
            if a.key == key:
                return a
        raise ValueError(f"study {self.id!r} has no arm {key!r}; arms: "
                         f"{[a.key for a in self.arms]}")

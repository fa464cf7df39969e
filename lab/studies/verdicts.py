"""Verdicts: each study's hypothesis checked against its stored runs, seed spread included.

The rule for one comparison is lab.studies.evidence.EFFECT_RULE; `decide` turns a study's checks
into an outcome. One verdict function per study, registered in VERDICTS; each returns
"inconclusive" with a reason when an arm it needs has fewer than MIN_SEEDS stored runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from lab.data.studydata import StudyData, zog_hits
from lab.studies import evidence as ev
from lab.studies.arms import GRID_HIDDEN, GRID_SEQ_LEN, grid_key
from lab.studies.evidence import EFFECT_RULE, METRICS, Check  # noqa: F401  (EFFECT_RULE re-exported)
from lab.training.config import ACTIVATIONS

OUTCOMES = ("supported", "partly supported", "not supported", "inconclusive")
LOSS = METRICS["final_val_loss"]


@dataclass
class Verdict:
    """Outcome (OUTCOMES), a one-sentence headline, detail sentences with the numbers, the
    numbers used, and the seed spread (name -> [min, max] over seeds)."""

    outcome: str
    headline: str
    details: list[str]
    numbers: dict
    spread: dict
    checks: tuple[Check, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r} is not one of {OUTCOMES}")


def decide(checks: Iterable[Check]) -> str:
    """supported: every check holds; partly supported: some hold; not supported: none holds
    and at least one fails; inconclusive: every check is within noise (or there is none)."""
    s = [c.status for c in checks]
    if s and all(x == "holds" for x in s):
        return "supported"
    if "holds" in s:
        return "partly supported"
    return "not supported" if "fails" in s else "inconclusive"


def inconclusive(claim: str, reason: str) -> Verdict:
    """The verdict when the runs needed are not there: says what is missing."""
    return Verdict("inconclusive", f"Inconclusive: the claim that {claim} cannot be judged: "
                   f"{reason}.", [reason[0].upper() + reason[1:] + "."], {}, {})


_STATUS_WORDS = {"holds": "Holds", "fails": "Contradicted", "unclear": "Within noise"}


def _hold(n: int) -> str:
    return "holds" if n == 1 else "hold"


def _go(n: int) -> str:
    return "goes" if n == 1 else "go"


def _be(n: int) -> str:
    return "is" if n == 1 else "are"


def build(claim: str, checks: list[Check], notes: Iterable[str] = (),
          details: list[str] | None = None) -> Verdict:
    """Aggregate checks into a Verdict; `notes` are extra finding sentences (e.g. failures)."""
    outcome = decide(checks)
    n = len(checks)
    h, f = (sum(c.status == s for c in checks) for s in ("holds", "fails"))
    tail = {
        "supported": f"all {n} checks clear the seed spread",
        "partly supported": f"of {n} checks, {h} {_hold(h)} beyond the seed spread, "
        f"{f} {_go(f)} the other way and {n - h - f} {_be(n - h - f)} within noise",
        "not supported": f"none of {n} checks holds, and {f} {_go(f)} the other way "
        "beyond the seed spread",
        "inconclusive": f"all {n} checks are within the seed spread",
    }[outcome]
    numbers, spread = {}, {}
    for c in checks:
        numbers.update(c.numbers)
        spread.update(c.spread)
    if details is None:
        details = [f"{_STATUS_WORDS[c.status]}: {c.claim}. {c.sentence}" for c in checks]
    return Verdict(outcome, f"{outcome.capitalize()}: the claim that {claim}; {tail}.",
                   [*details, *notes], numbers, spread, tuple(checks))


# -- one function per study ---------------------------------------------------------------

CLAIMS = {
    "initialization": "orthogonal W_hh learns sooner and keeps gradients alive further back "
    "than xavier or random",
    "hidden_size": "more hidden units lower the loss and lengthen memory, with diminishing "
    "returns",
    "tbptt": "longer TBPTT chunks buy a longer memory, with diminishing returns, and the "
    "gradient never reaches the whole of a long chunk",
    "activation": "tanh trains stably and reaches a lower loss than relu, sigmoid or identity",
    "clipping": "a middle clip threshold beats both a very tight and a very loose one",
    "teacher_forcing": "a teacher-forced model predicts worse from its own text than from "
    "true text, errors compound, and scheduled sampling narrows the gap",
    "reservoir": "a frozen orthogonal W_hh still separates word categories well above chance, "
    "but training W_hh does better on loss and separation",
    "novel_word": "zog lands nearest to the words of the category it replaced",
    "learning_rate": "the baseline learning rate beats both a much smaller and a much larger one",
    "grid": "tanh has the lowest loss at every hidden size and chunk length",
}


def _gate(data: StudyData, keys: Iterable[str]) -> Verdict | None:
    reason = ev.missing_reason(data, keys)
    return inconclusive(CLAIMS[data.study_id], reason) if reason else None


def initialization(data: StudyData) -> Verdict:
    """Orthogonal vs each other init: lower mean training loss, longer gradient reach."""
    if v := _gate(data, data.arm_keys):
        return v
    speed, reach = METRICS["curve_mean_loss"], METRICS["gradient_reach"]
    checks = [ev.compare(data, "orthogonal", other, m)
              for m in (speed, reach) for other in data.arm_keys if other != "orthogonal"]
    return build(CLAIMS["initialization"], checks, ev.failure_notes(data))


def hidden_size(data: StudyData) -> Verdict:
    """Largest vs smallest H on loss and horizon; the first doubling gains more than the last."""
    keys = data.arm_keys
    if v := _gate(data, keys):
        return v
    small, big = keys[0], keys[-1]
    gain_first = ev.paired(data, keys[0], keys[1], "final_val_loss")
    gain_last = ev.paired(data, keys[-2], keys[-1], "final_val_loss")
    gain = ev.Metric("loss_gain", "loss drop per doubling of H", False, "nats/char")
    checks = [
        ev.compare(data, big, small, LOSS),
        ev.compare(data, big, small, METRICS["memory_horizon"]),
        ev.compare_values(f"{data.label(keys[0])} to {data.label(keys[1])}", gain_first,
                          f"{data.label(keys[-2])} to {data.label(keys[-1])}", gain_last, gain,
                          "the first doubling of H lowers the loss more than the last one"),
    ]
    return build(CLAIMS["hidden_size"], checks, ev.failure_notes(data))


def tbptt(data: StudyData) -> Verdict:
    """Longest vs shortest chunk on horizon; horizon gain per added char shrinks; the longest
    chunk's gradient reach stays below its chunk length minus one."""
    keys = data.arm_keys
    if v := _gate(data, keys):
        return v
    length = {k: int(a.overrides["seq_len"]) for k, a in zip(keys, data.arms, strict=True)}
    short, long_ = keys[0], keys[-1]
    per_char = ev.Metric("horizon_per_char", "memory horizon gained per added chunk char",
                         False, "", 2)
    first = ev.paired(data, keys[1], keys[0], "memory_horizon", length[keys[1]] - length[keys[0]])
    last = ev.paired(data, keys[-1], keys[-2], "memory_horizon",
                     length[keys[-1]] - length[keys[-2]])
    ceiling = length[long_] - 1
    checks = [
        ev.compare(data, long_, short, METRICS["memory_horizon"]),
        ev.compare_values(f"{data.label(keys[0])} to {data.label(keys[1])}", first,
                          f"{data.label(keys[-2])} to {data.label(keys[-1])}", last, per_char,
                          "short chunks gain more memory per added character than long ones"),
        ev.threshold_check(data.label(long_), data.values(long_, "gradient_reach"), ceiling,
                           METRICS["gradient_reach"], f"the gradient of {data.label(long_)} "
                           f"falls below threshold before the chunk's end (k = {ceiling})",
                           above=False),
    ]
    return build(CLAIMS["tbptt"], checks, ev.failure_notes(data))


def activation(data: StudyData) -> Verdict:
    """tanh vs each other activation on final loss (failed runs worst), and tanh never fails."""
    if v := _gate(data, data.arm_keys):
        return v
    checks = [ev.compare(data, "tanh", k, LOSS) for k in data.arm_keys if k != "tanh"]
    checks.append(ev.stability_check(data, "tanh"))
    return build(CLAIMS["activation"], checks, ev.failure_notes(data))


def _middle_beats_edges(data: StudyData) -> Verdict:
    """The baseline arm vs the first and the last arm on final loss, failures as findings."""
    keys = data.arm_keys
    if v := _gate(data, keys):
        return v
    mid = ev.baseline_arm(data)
    checks = [ev.compare(data, mid, keys[0], LOSS), ev.compare(data, mid, keys[-1], LOSS)]
    return build(CLAIMS[data.study_id], checks, ev.failure_notes(data))


def clipping(data: StudyData) -> Verdict:
    """clip=5 (baseline) vs clip=0.5 and clip=50 on final held-out loss."""
    return _middle_beats_edges(data)


def learning_rate(data: StudyData) -> Verdict:
    """lr=0.01 (baseline) vs lr=0.001 and lr=0.1 on final held-out loss."""
    return _middle_beats_edges(data)


def teacher_forcing(data: StudyData) -> Verdict:
    """Teacher forcing: illegal probability mass in true vs own context, invalid-after-invalid
    vs after-valid; scheduled sampling vs teacher forcing on free-running valid sentences."""
    tf, ss = "teacher_forcing", "scheduled_sampling"
    if v := _gate(data, (tf, ss)):
        return v
    mass = ev.Metric("illegal_mass", "probability on illegal next characters", True, "", 5)
    p_bad = ev.Metric("p_next_invalid", "chance the next sentence is invalid", False)
    checks = [
        ev.compare_values("true context", data.values(tf, "illegal_mass_true"),
                          "own text", data.values(tf, "illegal_mass_own"), mass,
                          "the teacher-forced model puts less probability on illegal "
                          "characters in true context than in its own text"),
        ev.compare_values("after an invalid one", data.values(tf, "p_invalid_after_invalid"),
                          "after a valid one", data.values(tf, "p_invalid_after_valid"), p_bad,
                          "after an invalid sentence the next one is invalid more often"),
        ev.compare(data, ss, tf, METRICS["free_valid_sentences"]),
    ]
    return build(CLAIMS["teacher_forcing"], checks, ev.failure_notes(data))


def reservoir(data: StudyData) -> Verdict:
    """Trained vs frozen on loss and separation; frozen separation above the chance level."""
    if v := _gate(data, ("trained", "frozen")):
        return v
    sep = METRICS["category_separation"]
    chance = data.values("frozen", "category_chance")
    limit = float(chance.max()) if len(chance) else float("nan")
    checks = [
        ev.compare(data, "trained", "frozen", LOSS),
        ev.compare(data, "trained", "frozen", sep),
        ev.threshold_check(data.label("frozen"), data.values("frozen", sep.column), limit, sep,
                           "the frozen reservoir separates categories above chance", above=True),
    ]
    return build(CLAIMS["reservoir"], checks, ev.failure_notes(data))


def novel_word(data: StudyData) -> Verdict:
    """Per seed, mean cosine of zog to its replaced word's category-mates vs to other words;
    and in every seed zog's nearest category is its own for most replaced words."""
    claim = CLAIMS["novel_word"]
    hits = zog_hits(data.novel)
    if hits.empty:
        return inconclusive(claim, "no novel-word readings are stored")
    per_run = hits.groupby("run_id")[["own_cos", "other_cos", "hit"]].mean()
    if len(per_run) < ev.MIN_SEEDS:
        return inconclusive(claim, f"novel-word readings exist for {len(per_run)} seed(s); "
                            f"at least {ev.MIN_SEEDS} are needed")
    cos = ev.Metric("cosine", "mean cosine to zog", False)
    checks = [
        ev.compare_values("category-mates", per_run["own_cos"], "other words",
                          per_run["other_cos"], cos,
                          "zog is closer to its replaced word's category-mates than to other "
                          "words"),
        ev.threshold_check("hit rate", per_run["hit"].astype(float), 0.5,
                           METRICS["zog_hit_rate"], "in every seed zog's nearest category is "
                           "the replaced word's for most replaced words", above=True),
    ]
    note = (f"Read over {hits['replaced'].nunique()} replaced words (one-word categories "
            f"skipped) in {len(per_run)} seeds.")
    return build(claim, checks, [note])


def grid(data: StudyData) -> Verdict:
    """Per (H, seq_len) cell: tanh beats every other activation (holds), some other one beats
    tanh (fails), or neither (within noise)."""
    if v := _gate(data, data.arm_keys):
        return v
    checks = []
    for h in GRID_HIDDEN:
        for t in GRID_SEQ_LEN:
            tanh = grid_key(h, "tanh", t)
            cmp = [ev.compare(data, tanh, grid_key(h, a, t), LOSS)
                   for a in ACTIVATIONS if a != "tanh"]
            s = [c.status for c in cmp]
            status = "holds" if all(x == "holds" for x in s) else (
                "fails" if "fails" in s else "unclear")
            checks.append(Check(f"tanh is best at H={h}, seq_len={t}", status,
                                " ".join(c.sentence for c in cmp),
                                {k: v for c in cmp for k, v in c.numbers.items()},
                                {k: v for c in cmp for k, v in c.spread.items()}))
    return build(CLAIMS["grid"], checks, ev.failure_notes(data)[:4], _grid_details(data, checks))


def _grid_details(data: StudyData, checks: list[Check]) -> list[str]:
    by = {s: [c.claim.removeprefix("tanh is best at ") for c in checks if c.status == s]
          for s in ("holds", "fails", "unclear")}
    out = [f"tanh is clearly best in {len(by['holds'])} of {len(checks)} cells, clearly beaten "
           f"in {len(by['fails'])}, and within noise in {len(by['unclear'])}."]
    if by["fails"]:
        out.append(f"Cells where another activation beats tanh: {'; '.join(by['fails'][:6])}.")
    meds = {k: data.median(k, "final_val_loss") for k in data.arm_keys}
    meds = {k: m for k, m in meds.items() if np.isfinite(m)}
    if meds:
        best = min(meds, key=meds.get)
        out.append(f"The best cell is {data.label(best)} with a median final held-out loss of "
                   f"{meds[best]:.3f} nats/char.")
    return out


VERDICTS: dict[str, Callable[[StudyData], Verdict]] = {
    "initialization": initialization, "hidden_size": hidden_size, "tbptt": tbptt,
    "activation": activation, "clipping": clipping, "teacher_forcing": teacher_forcing,
    "reservoir": reservoir, "novel_word": novel_word, "learning_rate": learning_rate,
    "grid": grid,
}

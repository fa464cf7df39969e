"""Verdicts: a study's checks turned into an outcome, a headline and detail sentences.

The rule for one comparison is lab.studies.evidence.EFFECT_RULE; `decide` turns a study's
checks into an outcome. Each study module writes its own verdict function from these parts;
it returns "inconclusive" with a reason when an arm it needs has fewer than MIN_SEEDS runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lab.data.studydata import StudyData
from lab.measure.registry import METRICS
from lab.studies import evidence as ev
from lab.studies.evidence import Check
from lab.studies.prose import and_list

OUTCOMES = ("supported", "partly supported", "not supported", "inconclusive")
LOSS = METRICS["final_val_loss"]


@dataclass
class Verdict:
    """Outcome (OUTCOMES), a headline that is a full sentence ("The runs partly support the
    claim that ...: ..."), detail sentences with the numbers, the numbers used, and the seed
    spread (name -> [min, max] over seeds)."""

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
    return Verdict("inconclusive", f"{OPENING['inconclusive']} {claim}, because {reason}.",
                   [reason[0].upper() + reason[1:] + "."], {}, {})


# a headline is a sentence: subject and verb first, then the claim and what the checks found
OPENING = {"supported": "The runs support the claim that",
           "partly supported": "The runs partly support the claim that",
           "not supported": "The runs do not support the claim that",
           "inconclusive": "The runs cannot settle the claim that"}

_STATUS_WORDS = {"holds": "Holds", "fails": "Contradicted", "unclear": "Within noise",
                 "negligible": "No practical difference"}


def _hold(n: int) -> str:
    return "holds" if n == 1 else "hold"


def _go(n: int) -> str:
    return "goes" if n == 1 else "go"


def _show(n: int) -> str:
    return "shows" if n == 1 else "show"


def _be(n: int) -> str:
    return "is" if n == 1 else "are"


def build(claim: str, checks: list[Check], notes: Iterable[str] = (),
          details: list[str] | None = None) -> Verdict:
    """Aggregate checks into a Verdict; `notes` are extra finding sentences (e.g. failures)."""
    outcome = decide(checks)
    n = len(checks)
    h, f = (sum(c.status == s for c in checks) for s in ("holds", "fails"))
    small = sum(c.status == "negligible" for c in checks)
    noise = n - h - f - small
    counts = [  # only the kinds that occur: "0 go the other way" reads as a glitch
        (f, f"{f} {_go(f)} the other way"), (noise, f"{noise} {_be(noise)} within noise"),
        (small, f"{small} {_show(small)} no practical difference")]
    rest = [text for count, text in counts if count]
    tail = {
        "supported": f"all {n} checks clear the seed spread",
        "partly supported": and_list([f"of {n} checks, {h} {_hold(h)} beyond the seed spread",
                                     *rest]),
        "not supported": f"none of {n} checks holds, and {f} {_go(f)} the other way "
        "beyond the seed spread",
        "inconclusive": (f"all {n} checks are within the seed spread" if not small else
                         f"no check clears both the seed spread and the minimum effect "
                         f"({and_list(rest)})"),
    }[outcome]
    numbers, spread = {}, {}
    for c in checks:
        numbers.update(c.numbers)
        spread.update(c.spread)
    if details is None:
        details = [f"{_STATUS_WORDS[c.status]}: {c.claim}. {c.sentence}" for c in checks]
    return Verdict(outcome, f"{OPENING[outcome]} {claim}: {tail}.",
                   [*details, *notes], numbers, spread, tuple(checks))


def gate(data: StudyData, keys: Iterable[str], claim: str) -> Verdict | None:
    """The inconclusive verdict when an arm in keys has too few seeds, else None."""
    reason = ev.missing_reason(data, keys)
    return inconclusive(claim, reason) if reason else None


def middle_beats_edges(data: StudyData, claim: str) -> Verdict:
    """The baseline arm vs the first and the last arm on final loss, failures as findings."""
    keys = data.arm_keys
    if v := gate(data, keys, claim):
        return v
    mid = ev.baseline_arm(data)
    checks = [ev.compare(data, mid, keys[0], LOSS), ev.compare(data, mid, keys[-1], LOSS)]
    return build(claim, checks, ev.failure_notes(data))

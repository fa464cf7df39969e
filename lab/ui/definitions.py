"""The lab's metric definitions as the pages quote them: constants from lab.measure.metrics, and
docstrings read from the source with `ast`, so quoting lab.measure.analyses (which imports torch)
costs a page no torch import. The definitions still live once, in lab/.
"""

from __future__ import annotations

import ast
import inspect
import re
from functools import cache
from pathlib import Path

from lab.measure import metrics

LAB = Path(__file__).resolve().parent.parent


def constant(name: str):
    """A module-level constant of lab.measure.metrics (e.g. 'PROBE_BINS')."""
    if not name.isupper() or not hasattr(metrics, name):
        raise KeyError(f"lab.measure.metrics has no constant {name!r}")
    return getattr(metrics, name)


@cache
def doc(function: str, module: str = "metrics", body: bool = False) -> str:
    """The docstring of a function of lab.<module> on one line (body=True: without its
    summary paragraph), with the constants it names replaced by their values, escaped for
    markdown."""
    tree = ast.parse((LAB / "measure" / f"{module}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            text = inspect.cleandoc(ast.get_docstring(node) or "")
            if body and "\n\n" in text:
                text = text.split("\n\n", 1)[1]
            text = re.sub(r"\b[A-Z][A-Z_]{3,}\b", _value_of, " ".join(text.split()))
            return re.sub(r"([_*|\\])", r"\\\1", text)  # markdown-safe: h_t, ||x||
    raise KeyError(f"lab.{module} has no function {function!r}")


def _value_of(match: re.Match) -> str:
    try:
        value = constant(match.group())
    except KeyError:
        return match.group()
    return f"{value:.3g}" if isinstance(value, float) else str(value)


probe_bin = metrics.probe_bin


def bin_labels() -> list[str]:
    return [f"{lo}-{hi}" for lo, hi in constant("PROBE_BINS")]


def saturation_rule() -> dict[str, str]:
    """Per activation, when a hidden unit counts as saturated."""
    return constant("SATURATION_RULE")


def gradient_reach_text() -> str:
    t = constant("REACH_THRESHOLD")
    return (f"**Gradient reach**: {doc('gradient_reach')} That is, the gradient still carries "
            f"at least {t:.0%} of its size at k = 0.")


def memory_horizon_text() -> str:
    m = constant("PROBE_MARGIN")
    return (f"**Memory horizon**: {doc('memory_horizon')} Chance is the best constant guess; "
            f"the margin of {m:g} is {m * 100:g} percentage points.")


def probe_text() -> str:
    return (f"**Memory probe**: {doc('memory_probe', 'analyses', body=True)} Accuracies "
            f"are averaged within distance bins (characters back): {', '.join(bin_labels())}.")


def saturation_text() -> str:
    rules = "; ".join(f"{a}: {r}" for a, r in saturation_rule().items())
    return f"**Saturated**: {doc('saturated')} Per activation: {rules}."


def status_text() -> str:
    return f"**Run status**: {doc('run_status')}"


def category_text() -> str:
    return f"**Category separation**: {doc('nearest_centroid_accuracy')}"

"""Views of exposure bias (lab.measure.exposure) and of the held-out loss over training, the
loss every arm reads on the same held-out text with true inputs. Registered in
lab.ui.views.VIEWS under "error_after_error", "exposure_over_training" and
"heldout_loss_over_training".

Each takes a lab.ui.views.View (duck-typed here, so this module does not import views).
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from lab.measure.registry import METRICS
from lab.studies import prose as pr
from lab.training.config import EXPOSURE_STEPS
from lab.ui import charts, chartspec, tables


def _series(v, analysis: str) -> pd.DataFrame:
    s = v.data.table("series")
    s = s[(s["analysis"] == analysis) & (s["y"] > 0)]  # log axis: a zero rate is not drawn
    return v.labelled(s)


@chartspec.per_data
def _rate_chart(v, analysis: str, x_title: str, y_title: str, *, symlog_x: bool = False):
    summary = charts.seed_summary(_series(v, analysis), "x", "y")
    return v.spec(charts.line_band, summary, "x", x_title=x_title, y_title=y_title,
                  order=v.order, highlight=v.highlight, log_y=True, symlog_x=symlog_x)


def _rate(x: float) -> str:
    return pr.rate(x) if math.isfinite(x) else "-"


def _times(x: float) -> str:
    return f"{x:.1f}x" if math.isfinite(x) else "-"


def error_after_error(v) -> None:
    st.subheader("Right after its own error: do errors compound?")
    v.show(_rate_chart(v, "error_after_error_own_by_position",
                       "characters after its own error", "error rate (log)"))
    rows = []
    for a in v.data.arms:
        m = {c: v.data.median(a.key, c) for c in (
            "illegal_mass_own", "error_after_error_own", "error_compounding_own",
            "illegal_mass_true", "error_after_error_true", "error_compounding_true",
            "exposure_errors")}
        rows.append({"arm": a.label, "own text: after a correct context":
                     _rate(m["illegal_mass_own"]),
                     "own text: next char after its error": _rate(m["error_after_error_own"]),
                     "own text: compounding": _times(m["error_compounding_own"]),
                     "true text: overall": _rate(m["illegal_mass_true"]),
                     "true text: next char after a likely error":
                     _rate(m["error_after_error_true"]),
                     "true text: compounding": _times(m["error_compounding_true"]),
                     "errors counted per seed": "-" if not math.isfinite(m["exposure_errors"])
                     else f"{m['exposure_errors']:.0f}"})
    tables.show(pd.DataFrame(rows))
    st.caption(f"{charts.BAND_TEXT}; the table gives medians over seeds, at the character "
               "right after the error. Further on, the judge forgives more (the sentence is "
               "already broken, so more continuations count as possible), which is part of why "
               "the curves fall. A model that never "
               "errs has nothing to measure after, so its line is missing: that is why the "
               "study adds a small model (H=16) that errs often. On true text errors cluster "
               "only at hard places; in its own text the model also reads its mistake, and "
               "the difference between the two compounding factors is exposure bias. "
               + " ".join(METRICS[m].quote() for m in (
                   "error_after_error_own", "error_after_error_true", "error_compounding_own")))


def exposure_over_training(v) -> None:
    st.subheader("Errors after its own error, over training")
    v.show(_rate_chart(v, "error_after_error_own_over_training", charts.STEP_AXIS,
                       "error rate right after its own error (log)", symlog_x=True))
    v.show(_rate_chart(v, "error_after_correct_own_over_training", charts.STEP_AXIS,
                       "error rate after a correct context (log)", symlog_x=True))
    steps = ", ".join(f"{s:,}" for s in EXPOSURE_STEPS)
    st.caption(f"{charts.BAND_TEXT}. Measured at steps {steps} and the last, on free-running "
               "samples each time: early on even the baseline errs often enough to measure "
               "what follows an error. A point is missing where a model made no error to "
               "measure after. " + charts.CHECKPOINT_AXIS_TEXT)


def heldout_loss_over_training(v) -> None:
    st.subheader("Held-out loss over training (the same text for every arm)")
    v.show(_heldout_chart(v))
    st.caption(f"{charts.BAND_TEXT}. Every arm reads the same held-out text with true inputs "
               "at each checkpoint, so unlike the training loss these curves compare teacher "
               "forcing and scheduled sampling on one footing. " + charts.CHECKPOINT_AXIS_TEXT)


@chartspec.per_data
def _heldout_chart(v) -> dict:
    ck = v.labelled(v.data.table("checkpoints"))
    summary = charts.seed_summary(ck[ck["val_loss"] > 0], "step", "val_loss")
    return v.spec(charts.line_band, summary, "step", x_title=charts.STEP_AXIS,
                  y_title="held-out loss (nats/char, log)", order=v.order,
                  highlight=v.highlight, log_y=True, floor=v.floor, symlog_x=True)


EXPOSURE_VIEWS = {
    "error_after_error": error_after_error,
    "exposure_over_training": exposure_over_training,
    "heldout_loss_over_training": heldout_loss_over_training,
}

"""Views of memory where it matters: agreement by distance and by condition, the number
probe by distance, agreement over training. Registered in lab.ui.views.VIEWS under the ids
"agreement_by_distance", "agreement_by_condition", "number_probe", "agreement_over_training".

Each takes a lab.ui.views.View (duck-typed here, so this module does not import views).
"""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from lab.measure.metrics import LONG_DISTANCE
from lab.measure.registry import AGREEMENT_BIN_TEXT, CONDITION_TEXT, METRICS
from lab.studies import memory as mem
from lab.studies import prose as pr
from lab.ui import charts, chartspec, tables

CHANCE = (0.5, "chance 50%")
BIN_AXIS = "chars back to the subject (bin's far edge)"  # short: a phone's chart is ~330 px


def _series(v, analysis: str) -> pd.DataFrame:
    s = v.data.table("series")
    return v.labelled(s[s["analysis"] == analysis])


@chartspec.per_data
def _chart(v, analysis: str, *, x_title: str, y_title: str):
    summary = charts.seed_summary(_series(v, analysis), "x", "y")
    return v.spec(charts.line_band, summary, "x", x_title=x_title, y_title=y_title, order=v.order,
                  highlight=v.highlight, rule=CHANCE, percent_y=True)


@chartspec.per_data
def _sites_text(v) -> str:
    n = mem.sites_per_bin(v.data).dropna()
    if n.empty:
        return ""
    return " Verbs read per bin: " + ", ".join(
        f"{mem.BIN_LABEL[int(x)]} chars {int(c):,}" for x, c in n.items()) + "."


def agreement_by_distance(v) -> None:
    st.subheader("Agreement accuracy by distance to the subject")
    v.show(_chart(v, "agreement_by_bin", x_title=BIN_AXIS, y_title="agreement accuracy"))
    st.caption(f"{charts.BAND_TEXT}. Each point covers one distance bin ({AGREEMENT_BIN_TEXT} "
               "characters); a model that forgot the subject's number sits on the dotted "
               "chance line. "
               + METRICS["agreement_overall"].quote() + _sites_text(v))


def _cell(v, key: str, column: str, fmt=mem.pc, to: str = "-") -> str:
    vals = v.data.values(key, column)
    if vals.empty:
        return "-"
    med = v.data.median(key, column)
    return f"{fmt(med)} ({fmt(vals.min())}{to}{fmt(vals.max())})"


@chartspec.per_data
def agreement_table(v) -> pd.DataFrame:
    """Conditions (rows) by arm (columns, in arm order): median agreement (seed min-max), as
    text; rows are the few conditions, so the table stays narrow with any number of arms."""
    rows = {"agreement_overall": "all verbs",
            "agreement_long": f"subject {LONG_DISTANCE}+ chars back",
            **{f"agreement_{c}": short for c, (short, _) in CONDITION_TEXT.items()}}
    table = [{"verbs": name, **{a.label: _cell(v, a.key, col) for a in v.data.arms}}
             for col, name in rows.items()]
    score = "memory score, all verbs (1 sure, 0 forgot)"  # the caption quotes its definition
    two = partial(pr.f3, d=2)
    table.append({"verbs": score, **{a.label: _cell(v, a.key, "memory_score", two, " to ")
                                     for a in v.data.arms}})
    return pd.DataFrame(table)


def agreement_by_condition(v) -> None:
    st.subheader("Agreement accuracy by what lies between subject and verb")
    tables.show(agreement_table(v))
    st.caption("Median over seeds (seed min to max). Chance is 50%. An object relative (\"the "
               "cats that the dog chases run\") holds the subject's number longest with "
               "nothing in between that depends on it; an attractor is a noun in between "
               "whose number differs from the subject's, a tempting wrong cue. "
               + METRICS["memory_score"].quote())


def number_probe(v) -> None:
    st.subheader("Is the subject's number still in the hidden state?")
    v.show(_chart(v, "number_probe_by_bin", x_title="chars since the subject (bin's far edge)",
                  y_title="number probe accuracy"))
    st.caption(f"{charts.BAND_TEXT}. " + METRICS["number_probe_long"].quote()
               + " This chart scores the same probe in each distance bin, from the "
               "nearest on. A gap to the agreement chart reads both ways. Probe above "
               "agreement: the state holds the number, but the network's own readout at the "
               "verb does not use it. Probe below agreement: the network reads the number "
               "at the verb, but it is not kept in one fixed direction that the probe, "
               "fitted over every position between subject and verb, can read.")


@chartspec.per_data
def _over_training_chart(v) -> dict:
    summary = charts.seed_summary(_series(v, "agreement_long_over_training"), "x", "y")
    return v.spec(charts.line_band, summary, "x", x_title=charts.STEP_AXIS, order=v.order,
                  y_title=f"agreement, subject {LONG_DISTANCE}+ chars back",
                  highlight=v.highlight, rule=CHANCE, percent_y=True, symlog_x=True)


def agreement_over_training(v) -> None:
    st.subheader("Long-distance agreement over training")
    v.show(_over_training_chart(v))
    st.caption(f"{charts.BAND_TEXT}. Measured at each checkpoint on a smaller reading of "
               "held-out text (8 tracks of 1,000 characters), so it is noisier than the "
               f"end-of-run tables. Chance is 50%. {charts.CHECKPOINT_AXIS_TEXT}")


MEMORY_VIEWS = {
    "agreement_by_distance": agreement_by_distance,
    "agreement_by_condition": agreement_by_condition,
    "number_probe": number_probe,
    "agreement_over_training": agreement_over_training,
}

"""The study page's panels besides charts: samples, verdict, observations, takeaway, CSV."""

from __future__ import annotations

import math
from functools import partial

import pandas as pd
import streamlit as st

from lab.data.studydata import StudyData
from lab.ui import tables

BADGE_COLOR = {"supported": "green", "partly supported": "orange", "not supported": "red",
               "inconclusive": "gray"}
_FIXED_COLUMNS = ("run_id", "arm", "seed", "status", "final_val_loss", "final_train_loss",
                  "params", "diverged_at", "failed")


SAMPLE_COLUMNS = 3


def samples(data: StudyData, seed: int, arm_keys: list[str],
            highlight: str | None = None) -> None:
    """The last checkpoint's generated sample of each arm (the chosen seed), with its
    grammaticality; in rows of arms, so a phone stacks them in arm order. The highlighted
    arm (a label) is marked, the others dimmed to their header."""
    st.subheader("Generated samples")
    last = data.once(("samples", seed), lambda: _last_samples(data, seed))
    width = min(SAMPLE_COLUMNS, max(1, len(arm_keys)))
    for row in (arm_keys[i:i + width] for i in range(0, len(arm_keys), width)):
        for col, key in zip(st.columns(width), row, strict=False):
            with col:
                _sample(data, last.get(key), key, seed, highlight)
    st.caption("Valid words: share of generated words that are in the vocabulary. Valid "
               "sentences: share of complete sentences the grammar can produce exactly. Both "
               f"count the one sample shown (seed {seed}); a table's medians count more text "
               "over every seed, so the two can differ.")


def _last_samples(data: StudyData, seed: int) -> dict[str, dict]:
    """Per arm: its last checkpoint's sample of this seed (a row as a dict) and the run's
    status; computed once per study data and seed (text columns are slow to filter)."""
    tab = data.table("samples")
    tab = tab[tab["seed"] == seed]
    runs = data.runs[data.runs["seed"] == seed].drop_duplicates("arm")
    status = runs.set_index("arm")["status"]
    return {k: {**rows.loc[rows["step"].idxmax()].to_dict(), "status": status.get(k, "?")}
            for k, rows in tab.groupby("arm")}


def _sample(data: StudyData, last: dict | None, key: str, seed: int,
            highlight: str | None) -> None:
    if last is None:
        st.markdown(f"**{data.label(key)}**: no sample stored for seed {seed}.")
        return
    status = last["status"]
    note = "" if status == "ok" else f" · run {status}: sample from its last checkpoint"
    if int(last["step"]) == 0:  # a run that diverged before its first checkpoint after 0
        note += " (step 0: the untrained network)"
    label = data.label(key)
    mark = " ◀ highlighted" if highlight == label else ""
    st.markdown(f"**{label}**{mark} · step {int(last['step']):,}{note}  \n"
                f"valid words {last['valid_words']:.0%} · valid sentences "
                f"{last['valid_sentences']:.0%}")
    text = sample_markdown(str(last["text"]))
    if highlight and highlight != label:  # another arm is highlighted: this one folds away
        with st.expander("sample"):
            st.markdown(text)
    else:
        st.markdown(text)


def sample_markdown(text: str) -> str:
    """A generated sample as monospace markdown, one line per generated line. Inline code,
    not st.code: the browser's syntax highlighter cost ~40 ms per sample on a page load.
    A sample holds only the corpus alphabet (a-z, space, '.', newline); a backtick from a
    damaged store would end the code span, so it is replaced."""
    lines = [line.replace("`", "'") for line in text.split("\n") if line.strip()]
    return "  \n".join(f"`{line}`" for line in lines) or "(empty)"


def verdict(v, effect_rule: str | None = None) -> None:
    """The verdict panel: outcome badge, headline, details, numbers and seed spread."""
    st.subheader("Verdict")
    box = st.container(border=True)
    box.badge(v.outcome.capitalize(), color=BADGE_COLOR.get(v.outcome, "gray"))
    box.markdown(f"**{v.headline}**")
    box.markdown("\n".join(f"- {line}" for line in v.details))
    if v.spread:
        spread = pd.DataFrame(
            [{"measure": k, "min over seeds": _num(lo), "max over seeds": _num(hi)}
             for k, (lo, hi) in v.spread.items()])
        with st.expander("Seed spread behind this verdict"):
            tables.show(spread)
            if v.numbers:
                tables.show(pd.DataFrame([{"number": k, "value": _num(x)}
                                          for k, x in v.numbers.items()]))
    if effect_rule:
        st.caption(effect_rule)


def _num(x) -> str:
    """A verdict number as text: 4 significant digits, a failed run's inf as 'failed'."""
    return tables.cell(x) if isinstance(x, float) and not math.isfinite(x) else (
        f"{x:.4g}" if isinstance(x, float) else str(x))


def observations(items, data: StudyData) -> None:
    """Each observation question, its answer (from the data) in an expander."""
    st.subheader("Observation questions")
    st.caption("Think about each question first, then open its answer.")
    for i, ob in enumerate(items, 1):
        st.markdown(f"**{i}. {ob.question}**")
        with st.expander("Answer"):
            try:
                st.markdown(data.once(("answer", ob.question), lambda ob=ob: ob.answer(data)))
            except Exception as e:  # one bad answer must not take the page down
                st.info(f"This answer cannot be computed from the stored runs ({e}).")


def download(data: StudyData, study_id: str) -> None:
    """CSV downloads: one row per arm and seed (results and scalars), and the curves."""
    st.subheader("Download the data")
    runs = data.once("panels.download", lambda: _runs_for_csv(data))
    left, right = st.columns(2)
    # data as a callable: the CSV is written when a student clicks, not on every page load
    # (and not held in memory per session)
    left.download_button("Runs and end-of-run metrics (CSV)", partial(_csv, runs),
                         file_name=f"{study_id}_runs.csv", mime="text/csv")
    curves = data.tables.get("curves")
    if curves is not None and len(curves):
        right.download_button("Training curves (CSV)", partial(_csv, curves),
                              file_name=f"{study_id}_curves.csv", mime="text/csv")


def _runs_for_csv(data: StudyData) -> pd.DataFrame:
    """The runs table as the CSV gives it: the fixed columns first, no JSON config."""
    cols = [c for c in data.runs.columns if c not in ("config", "created_at")]
    return data.runs[[*[c for c in _FIXED_COLUMNS if c in cols],
                      *[c for c in cols if c not in _FIXED_COLUMNS]]]


def _csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False)

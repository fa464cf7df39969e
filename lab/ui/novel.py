"""Study 8's own view: where "zog" lands when it replaces a word the student picks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from lab.language import grammar
from lab.studies.novel_word import WORD
from lab.ui import charts, chartspec, tables, urlstate
from lab.ui.chartspec import spec
from lab.ui.views import View

NEIGHBOURS = 8
LABEL = grammar.CATEGORY_LABEL
CATEGORIES = [LABEL[c] for c in (*grammar.CATEGORIES, "novel")]  # as the charts name them


def novel_word(v: View) -> None:
    """Word picker (in the URL), cosine bars, nearest neighbours and the 2-D projection."""
    st.subheader('Where does "zog" land?')
    replaced = urlstate.control(
        WORD, st.selectbox, 'Word to replace with "zog"',
        format_func=lambda w: f"{w} ({LABEL[grammar.CATEGORY_OF[w]]})")
    rows = v.data.novel
    rows = rows[(rows["seed"] == v.seed) & (rows["replaced"] == replaced)] if len(rows) else rows
    if rows.empty:
        st.warning(f'No stored reading with "{replaced}" replaced for seed {v.seed}.')
        return
    rows = rows.assign(category=rows["category"].map(LABEL).fillna(rows["category"]))
    words = rows[rows["word"] != "zog"]
    own = LABEL[grammar.CATEGORY_OF[replaced]]
    st.markdown(
        f'The trained baseline (seed {v.seed}) reads held-out text in which every "{replaced}" '
        f'is written "zog", with no further training. Each word is represented by the mean '
        "hidden state right after its last letter; the bars give the cosine similarity of "
        f'"zog"\'s state to every word\'s. "{replaced}" belongs to the category **{own}**.')
    chartspec.draw(spec(charts.cosine_bars, words, categories=CATEGORIES))
    left, right = st.columns([1, 1])
    with left:
        near = words.sort_values("rank").head(NEIGHBOURS)
        near = near.assign(same=np.where(near["category"] == own, "✓", ""))
        st.markdown("**Nearest neighbours of zog**")
        tables.show(near[["word", "rank", "category", "cosine", "same"]],
                    fmt={"cosine": tables.fixed(3)})
        st.caption(_category_sentence(words, replaced, own))
    with right:
        chartspec.draw(spec(charts.projection, rows, replaced=replaced, categories=CATEGORIES,
                            title=["word-end states,", "first two principal components"]))
        st.caption('Diamonds mark "zog" and the word it replaced.')


def _category_sentence(words: pd.DataFrame, replaced: str, own: str) -> str:
    """Mean cosine of zog to each category (the replaced word left out), best first."""
    mates = words[words["word"] != replaced]
    by_cat = mates.groupby("category")["cosine"].mean().sort_values(ascending=False)
    top = ", ".join(f"{c} {x:.2f}" for c, x in by_cat.head(4).items())
    return (f"Mean cosine to each category, leaving out {replaced} itself: {top}. "
            f"zog is closest to the category **{by_cat.index[0]}**"
            + (" (its word's own)." if by_cat.index[0] == own else f", not to {own}."))

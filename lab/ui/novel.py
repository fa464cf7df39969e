"""Study 8's own view: where "zog" lands when it replaces a word the student picks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from lab.language import grammar
from lab.measure import company
from lab.studies.novel_word import WORD
from lab.ui import charts, chartspec, tables, urlstate
from lab.ui.chartspec import spec
from lab.ui.views import View

NEIGHBOURS = 8
LABEL = grammar.CATEGORY_LABEL
CATEGORIES = [LABEL[c] for c in (*grammar.CATEGORIES, "novel")]  # as the charts name them


def novel_word(v: View) -> None:
    """Noun picker (in the URL); part 1: zog read cold (what the network expects after it,
    where its state lands); part 2: zog met in its company (the continued training)."""
    replaced = urlstate.control(
        WORD, st.selectbox, 'Noun to replace with "zog"',
        format_func=lambda w: f"{w} ({company.CLASS_OF_NOUN[w]})")
    exposure = v.data.tables.get("exposure", pd.DataFrame())
    st.subheader("1. Read cold: zog by its letters")
    if exposure.empty:
        st.info("No exposure runs in this data: `python -m lab.precompute` makes them from "
                "the stored baseline (a retrain does not).")
    else:
        chartspec.draw(_cold_chart(v))
        st.caption(EXPECT_CAPTION)
    _landing(v, replaced)
    st.subheader("2. Met in its company")
    if exposure.empty:
        return
    rows = exposure[exposure["replaced"].isin([replaced, ""])]
    st.markdown(
        f'The trained baseline goes on training for {company.EXPOSURE_STEPS:,} more steps on '
        f'text in which every "{replaced}" is written "zog" (and its plural "zogs"); a second '
        f'run writes it "{company.CONTROL_SPELLING}", and a control run trains on the text as '
        "it was, where zog never appears. Each is read at steps "
        f"{', '.join(f'{m:,}' for m in company.MARKS)}.")
    chartspec.draw(_exposure_chart(v, replaced))
    st.caption(_exposure_caption(rows, replaced) + " " + charts.BAND_TEXT + ".")
    chartspec.draw(_loss_chart(v, replaced))
    st.caption("Held-out loss on the text as it is (the real noun included), for the runs "
               "that meet the new word and the control run: what the short detour costs the "
               "rest of what the network knows.")


EXPECT_CAPTION = (
    "Each bar: how much likelier the network finds a verb that only humans do (sings, walks, "
    "likes, feeds) than one that only animals do (chases, follows, runs, jumps) as the next "
    'word after "the <subject> ", on a log10 scale (+1: ten times likelier). Real nouns from '
    "the trained baseline at the start of the continued training; zog and "
    f"{company.CONTROL_SPELLING} never seen. {charts.BAND_TEXT.replace('line', 'bar')}.")


@chartspec.per_data
def _cold_chart(v: View) -> dict:
    ex = v.data.table("exposure")
    start = ex[ex["step"] == 0]
    nouns = start[(start["replaced"] != "") & (start["spelling"] == company.NOVEL)]
    rows = pd.concat([
        nouns.assign(arm=nouns["replaced"], y=nouns["expect_noun"]),
        start[start["replaced"] == ""].assign(arm=lambda d: d["spelling"],
                                              y=lambda d: d["expect"])])
    summary = charts.seed_summary(rows[["arm", "seed", "step", "y"]], "step", "y")
    order = [*company.SPELLINGS, *company.NOUNS]
    classes = {**company.CLASS_OF_NOUN, **{s: "new word" for s in company.SPELLINGS}}
    return spec(charts.expectation_bars, summary, order=order, classes=classes,
                title="Human or animal verbs next? Each subject, read cold")


CONTROL_ARM = "control: zog never in the text"
ARMS = [*(f'written "{s}"' for s in company.SPELLINGS), CONTROL_ARM]  # one colour each, both charts


def _series(ex: pd.DataFrame, replaced: str) -> pd.DataFrame:
    """The exposure curves of one noun as arms: each spelling replacing it, and the control."""
    own = ex[ex["replaced"] == replaced]
    control = ex[(ex["replaced"] == "") & (ex["spelling"] == company.NOVEL)]
    return pd.concat([own.assign(arm=[f'written "{s}"' for s in own["spelling"]]),
                      control.assign(arm=CONTROL_ARM)])


@chartspec.per_data
def _exposure_chart(v: View, replaced: str) -> dict:
    df = _series(v.data.table("exposure"), replaced)
    summary = charts.seed_summary(df[["arm", "seed", "step", "expect"]], "step", "expect")
    real = df.loc[df["step"] == df["step"].max(), "expect_noun"].median()
    return spec(charts.line_band, summary, "step", x_title=charts.STEP_AXIS, symlog_x=True,
                y_title="log10 P(human verb) / P(animal verb)",
                rule=(float(real), f'"{replaced}" itself'), order=ARMS,
                title=f'After "the zog " ({replaced} replaced)')


@chartspec.per_data
def _loss_chart(v: View, replaced: str) -> dict:
    df = _series(v.data.table("exposure"), replaced)
    summary = charts.seed_summary(df[["arm", "seed", "step", "val_loss"]], "step", "val_loss")
    return spec(charts.line_band, summary, "step", x_title=charts.STEP_AXIS, symlog_x=True,
                y_title="held-out loss (nats/char)", title="Held-out loss during the detour",
                order=ARMS)


def _exposure_caption(rows: pd.DataFrame, replaced: str) -> str:
    """Sentences with zog read by each mark, median over seeds."""
    own = rows[(rows["replaced"] == replaced) & (rows["spelling"] == company.NOVEL)]
    by_step = own.groupby("step")["sentences"].median()
    marks = [m for m in by_step.index if 0 < m <= 200]
    cls = company.CLASS_OF_NOUN[replaced]
    side = "above" if cls == "human" else "below"
    return (f'"{replaced}" is {"a human" if cls == "human" else "an animal"}, so the curves '
            f"should end {side} 0, near the dotted line. Sentences containing zog read by then "
            "(median over seeds): "
            + ", ".join(f"step {m:,}: {by_step[m]:,.0f}" for m in marks) + ".")


def _landing(v: View, replaced: str) -> None:
    """Where zog's state lands when read cold in the replaced noun's slots."""
    parts = _landing_parts(v, replaced)
    if parts is None:
        st.warning(f'No stored reading with "{replaced}" replaced for seed {v.seed}.')
        return
    own = LABEL[grammar.CATEGORY_OF[replaced]]
    st.markdown(
        f'**Where its state lands.** The trained baseline (seed {v.seed}) reads held-out text '
        f'in which every "{replaced}" is written "zog", with no further training. Each word '
        "is represented by the mean hidden state right after its last letter; the bars give "
        'the cosine similarity (1: pointing the same way, 0: unrelated) of "zog"\'s state to '
        f'every word\'s. "{replaced}" belongs to the category **{own}**.')
    chartspec.draw(parts["bars"])
    left, right = st.columns([1, 1])
    with left:
        st.markdown("**Nearest neighbours of zog**")
        tables.show(parts["near"], fmt={"cosine": tables.fixed(3)})
        st.caption(parts["sentence"])
    with right:
        chartspec.draw(parts["projection"])
        st.caption('Diamonds mark "zog" and the word it replaced.')


@chartspec.per_data
def _landing_parts(v: View, replaced: str) -> dict | None:
    """_landing's charts, table and sentence for one seed and noun (None: nothing stored)."""
    rows = v.data.novel
    rows = rows[(rows["seed"] == v.seed) & (rows["replaced"] == replaced)] if len(rows) else rows
    if rows.empty:
        return None
    rows = rows.assign(category=rows["category"].map(LABEL).fillna(rows["category"]))
    words = rows[rows["word"] != "zog"]
    own = LABEL[grammar.CATEGORY_OF[replaced]]
    near = words.sort_values("rank").head(NEIGHBOURS)
    near = near.assign(same=np.where(near["category"] == own, "✓", ""))
    return {"bars": spec(charts.cosine_bars, words, categories=CATEGORIES),
            "near": near[["word", "rank", "category", "cosine", "same"]],
            "sentence": _category_sentence(words, replaced, own),
            "projection": spec(charts.projection, rows, replaced=replaced, categories=CATEGORIES,
                               title=["word-end states,", "first two principal components"])}


def _category_sentence(words: pd.DataFrame, replaced: str, own: str) -> str:
    """Mean cosine of zog to each category (the replaced word left out), best first."""
    mates = words[words["word"] != replaced]
    sizes = mates.groupby("category")["word"].transform("size")
    mates = mates[sizes > 1]  # a one-word category ("the") has no mates to average
    by_cat = mates.groupby("category")["cosine"].mean().sort_values(ascending=False)
    top = ", ".join(f"{c} {x:.2f}" for c, x in by_cat.head(4).items())
    return (f"Mean cosine to each category, leaving out {replaced} itself: {top}. "
            f"zog is closest to the category **{by_cat.index[0]}**"
            + (" (its word's own)." if by_cat.index[0] == own else f", not to {own}."))

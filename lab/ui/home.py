"""The Home page: what the lab is, the corpus and its floor, the baseline, how to read the
charts, and a card per study."""

from __future__ import annotations

import math

import streamlit as st

from lab.data.store import StoreUnavailable
from lab.language import grammar
from lab.training.config import BASELINE
from lab.ui import charts, db, nav

SAMPLE_CHARS = 420


@st.cache_data(show_spinner=False)
def corpus_sample() -> str:
    """The first whole sentences of the held-out stream (about SAMPLE_CHARS characters)."""
    from lab.language.corpus import heldout_text
    text = heldout_text()[:SAMPLE_CHARS]
    return text[: text.rfind(".\n") + 1]


def _corpus() -> None:
    st.header("The corpus")
    st.markdown(
        "Every model reads the same synthetic English: sentences drawn from a small "
        "template grammar with animals, humans, transitive and intransitive verbs, adverbs, "
        "*and*, *the* and the full stop. A sample of the held-out text, which no model "
        "trains on:")
    st.code(corpus_sample(), language=None)
    rate = grammar.entropy_rate()
    words = sum(len(w) for w in grammar.WORDS_OF.values()) - 1
    st.markdown(
        f"The vocabulary has {words} words plus the full stop, spelled with a fixed alphabet "
        "of 29 symbols (a-z, space, full stop, newline), so a made-up word like *zog* can "
        "still be read. Because the grammar is a finite-state machine whose state is known "
        "from the words so far, its exact **entropy rate** can be computed: "
        f"**{rate:.4f} nats per character** (about {rate / math.log(2):.3f} bits; "
        f"{grammar.word_entropy_rate():.3f} nats per word over "
        f"{grammar.mean_chars_per_word():.2f} characters per word on average).")
    st.markdown(
        "That number is the **entropy floor**: the lowest mean cross-entropy any model can "
        "reach on this text, however large. A model's loss, in the same unit, can approach "
        "it but never go below it on held-out text. Uniform guessing over 29 symbols costs "
        f"{math.log(29):.3f} nats per character, for comparison.")


def _baseline() -> None:
    st.header("The model and the baseline")
    st.markdown(
        "A vanilla recurrent network with one hidden layer reads one character at a time: "
        "$h_t = f(W_{xh} x_t + W_{hh} h_{t-1} + b_h)$, then a linear readout gives 29 "
        "logits for the next character, trained with cross-entropy. Every study changes one "
        "knob of this baseline and keeps the rest:")
    b = BASELINE
    rows = {
        "hidden size H": b.hidden, "activation f": b.activation, "W_hh init": b.init,
        "W_hh trained": not b.freeze_whh, "TBPTT chunk (seq_len)": b.seq_len,
        "learning rate": b.lr, "gradient clip (global L2 norm)": b.clip,
        "scheduled sampling": b.sampling, "training steps": f"{b.steps:,}",
        "optimizer": b.optimizer, "batch size": b.batch_size, "loss": b.loss_scale,
    }
    st.table({"knob": list(rows), "baseline": [str(v) for v in rows.values()]})
    st.markdown("Every arm of every study is trained with several seeds, and every number "
                "on these pages comes from those stored runs.")


def _reading() -> None:
    st.header("How to read the charts")
    st.markdown(
        f"- **Line and band**: the {charts.BAND_TEXT}. A narrow band means the seeds agree; "
        "a wide one means the effect may be seed noise.\n"
        "- **Dashed line labelled *entropy floor***: on every loss chart, the best loss "
        "possible on this grammar. The gap between a curve and it is what is left to learn.\n"
        "- **Legend**: click an arm to highlight it (or pick one above the charts); hover a "
        "line for the step and the value.\n"
        "- **Crosses**: a run that diverged is drawn up to where it stopped, with a cross.\n"
        "- **Links**: every control is in the page's address, so a copied link shows the same "
        "view.")


def _cards() -> None:
    st.header("The studies")
    groups = nav.grouped_pages()
    pages = sorted((p for ps in groups.values() for p in ps), key=lambda p: p.number)
    cols = st.columns(2)
    for i, p in enumerate(pages):
        with cols[i % 2].container(border=True):
            st.page_link(p.path, label=f"**{p.number}. {p.title}**")
            if p.question:
                st.caption(p.question)


def render() -> None:
    st.title("RNN Experiments Lab")
    st.markdown(
        "Ten guided studies of a character-level vanilla RNN. Each study changes one design "
        "or training choice, trains every option with several seeds, and shows what happened: "
        "the learning curves, what the network remembers, what it writes, and a verdict that "
        "checks the study's hypothesis against the runs. Predict first, then look, then "
        "retrain it yourself.")
    try:  # the study pages need the store: say now if it cannot be read (Home itself can)
        db.store()
    except StoreUnavailable as e:
        st.error(str(e))
    _cards()
    _corpus()
    _baseline()
    _reading()

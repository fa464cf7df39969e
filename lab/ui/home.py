"""The Home page: what the lab is, the corpus and its floor, the baseline, how to read the
charts, and a card per study."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from lab.data import memo
from lab.data.store import StoreUnavailable
from lab.language import grammar
from lab.studies import glossary
from lab.training.config import BASELINE
from lab.ui import charts, chartspec, classmode, db, nav, tables
from lab.ui.chartspec import spec

SAMPLE_CHARS = 50_000  # held-out characters read for the examples and the corpus's shares
CONDITION_WORDS = {  # condition -> how Home names it
    "none": "nothing in between", "subj_rc": "a subject relative in between",
    "obj_rc1": "an object relative in between", "obj_rc2": "two nested object relatives"}
FLOOR_MARKS = (1, 5, 10, 25, 50)  # h(k) values named on Home
LOSS_SCALE_WORDS = {"sum_chunk": "summed over the chunk, averaged over the batch"}


@memo.shared(max_entries=1)
def corpus_facts() -> dict:
    """Example sentences per condition and the shares of long dependencies, from the start
    of the held-out stream (no model trains on it)."""
    from lab.language.agreement import agreement_sites, examples
    from lab.language.corpus import heldout_text
    from lab.measure.metrics import LONG_DISTANCE

    text = heldout_text()[:SAMPLE_CHARS]
    text = text[: text.rfind(".\n") + 2]
    lines = text.splitlines()
    sites = agreement_sites(text)
    return {"examples": examples(text), "sentences": len(lines),
            "object_relative": sum(" that the " in ln for ln in lines) / len(lines),
            "long": sum(s.distance >= LONG_DISTANCE for s in sites) / len(sites),
            "long_distance": LONG_DISTANCE, "sites": len(sites)}


def _marked(e) -> str:
    """The sentence with its subject and its agreeing verb in bold."""
    (a, b), (c, d) = e.subject, e.verb
    t = e.sentence
    return f"{t[:a]}**{t[a:b]}**{t[b:c]}**{t[c:d]}**{t[d:]}"


def _corpus() -> None:
    st.header("The corpus")
    facts = corpus_facts()
    st.markdown(
        "Every model reads the same synthetic English, one character at a time: sentences "
        "from a small grammar of animals and people, verbs, adverbs, *the*, *that* and the "
        "full stop. Animals and humans keep different company, so a noun's neighbours tell "
        f"its kind: {grammar.company_sentence()}. "
        "Nouns can carry **relative clauses**, and a verb must agree in number "
        "with its subject (*the cat runs*, *the cats run*). Between a subject and its verb "
        "may lie a whole clause, so the network must carry the subject's number across it. "
        "From the held-out text, which no model trains on (subject and verb in bold):")
    st.markdown("\n".join(
        f"- {_marked(e)}  \n  *{CONDITION_WORDS[e.condition]}: the verb's form is decided "
        f"{e.distance} characters after the subject's number shows*"
        for e in facts["examples"]))
    st.markdown(
        f"In the first {facts['sentences']:,} held-out sentences, "
        f"{facts['object_relative']:.0%} carry an object relative, and "
        f"{facts['long']:.0%} of the {facts['sites']:,} agreeing verbs sit "
        f"{facts['long_distance']} or more characters after their subject's number. Those "
        "long dependencies are where the memory lessons show.")
    rate = grammar.entropy_rate()
    st.markdown(
        "Because the grammar is a finite-state machine whose state is known from the words "
        "so far, its exact **entropy rate** can be computed: "
        f"**{rate:.4f} nats per character** (about {rate / math.log(2):.3f} bits). That is "
        "the **entropy floor**: the lowest mean loss any model can reach on this text, "
        "however large. Uniform guessing over the 29 symbols (a-z, space, full stop, "
        f"newline) costs {math.log(29):.3f} nats per character, for comparison.")
    floors = db.floors()
    if floors.empty:
        return
    h = dict(zip(floors["k"].astype(int), floors["h"], strict=True))
    st.markdown(
        "A model that sees only the last *k* characters cannot reach the floor: it cannot "
        "know, say, the number of a subject further back. The best loss possible with *k* "
        "characters of context, **h(k)**, is computed exactly too. It is the ladder drawn "
        "faintly on the study pages' loss charts: a curve resting on the rung *k* uses about "
        "*k* characters of context.")
    chartspec.draw(spec(charts.floors_curve, floors, rate, FLOOR_MARKS))
    marks = [k for k in FLOOR_MARKS if k in h]
    if len(marks) >= 3:
        k1, k2, k3 = marks[1], marks[-2], marks[-1]
        st.caption(
            f"With {k1} characters the best possible loss is {h[k1]:.3f}, "
            f"{h[k1] / rate - 1:.0%} above the floor; with {k2} it is {h[k2]:.3f} "
            f"({h[k2] / rate - 1:.0%} above) and with {k3} it is {h[k3]:.3f}. The last few "
            "percent need long memory: only a network that carries a subject's number across "
            "its relative clauses earns them.")


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
        "W_hh trained": "no (frozen)" if b.freeze_whh else "yes",
        "TBPTT chunk (seq_len)": b.seq_len,
        "learning rate": b.lr, "gradient clip (global L2 norm)": b.clip,
        "scheduled sampling": (f"up to {b.sampling:.0%} of inputs" if b.sampling
                               else "none (teacher forcing)"), "training steps": f"{b.steps:,}",
        "optimizer": b.optimizer, "batch size": b.batch_size,
        "loss": LOSS_SCALE_WORDS.get(b.loss_scale, b.loss_scale),
    }
    tables.show(pd.DataFrame({"knob": list(rows), "baseline": [str(v) for v in rows.values()]}))
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


SESSION_PLAN = (  # a one-hour class over all ten studies: (study id, minutes)
    ("tbptt", 8), ("hidden_size", 6), ("initialization", 6), ("reservoir", 5),
    ("activation", 5), ("learning_rate", 5), ("clipping", 6), ("teacher_forcing", 6),
    ("novel_word", 5), ("grid", 8))


def _instructors() -> None:
    """How to hand out class-mode links, a suggested order over every study, and (outside
    class mode, so students do not see it first) the class's poll."""
    from lab.studies import catalog

    st.header("For instructors")
    tbptt = nav.url_path("tbptt")
    st.markdown(
        "Add `?class=1` to any page's address to hand it out in **class mode**: each study "
        "page asks one prediction and holds its hypothesis, charts, samples, verdict, answers "
        "and takeaway back until the student commits it, then scores the prediction against "
        "the stored runs and shows how the whole class predicted. A tab in class mode stays "
        "in it on every page it opens (sidebar, cards, links) until a link with `?class=0` "
        f"turns it off. For example [{tbptt}?class=1]({classmode.href(tbptt, class_mode=True)})"
        f"; every other control stays in the address too, so "
        f"[{tbptt}?class=1&seed=43]({classmode.href(tbptt, class_mode=True)}&seed=43) opens "
        "on seed 43. The design grid always asks for a guess first.")
    total = sum(m for _, m in SESSION_PLAN)
    rows = "\n".join(
        f"{i}. [**{catalog.get(sid).title}**]({classmode.href(nav.url_path(sid), class_mode=True)})"
        f" ({m} min): {catalog.get(sid).prediction or catalog.get(sid).question}"
        for i, (sid, m) in enumerate(SESSION_PLAN, 1))
    st.markdown(f"A suggested order for a {total}-minute session over all ten studies, memory "
                "first, then training, then what the network learned of words, then the grid "
                f"that combines them (each link opens the page in class mode):\n\n{rows}")
    if not classmode.on():
        _poll()


def _poll() -> None:
    """Every study's tally of committed class-mode predictions."""
    from lab.service import poll
    from lab.studies import catalog

    with st.expander("Class poll (for the instructor)"):
        store = poll.poll()
        try:
            tallies = store.tallies()
        except poll.PollUnavailable as e:
            st.warning(str(e))
            return
        st.caption("Predictions committed in class mode, one per browser tab and study (a "
                   "changed prediction moves its vote), "
                   + ("on every server that shares the poll file." if store.shared
                      else f"on this server only. {store.note}"))
        rows = []
        for sid, s in catalog.STUDIES.items():
            t = tallies.get(sid, {})
            rows.append({"study": f"{s.number}. {s.title}", "predictions": sum(t.values()),
                         "how the class predicted": "; ".join(
                             f"{_option(sid, o)}: {n} ({share:.0%})" for (o, n), share
                             in zip(t.items(), poll.shares(t).values(), strict=True))})
        tables.show(pd.DataFrame(rows))
        if st.button("Start a new poll", help="Forgets every vote of every study (a new class)."):
            store.clear()
            st.rerun()


def _option(study_id: str, option: str) -> str:
    """An option as the study labels it (an arm's label, a grid cell, yes or no)."""
    from lab.studies import catalog

    try:
        return catalog.get(study_id).arm(option).label
    except ValueError:
        return option


GLOSSARY_ANCHOR = "glossary"


def page_words(terms: list[str]) -> None:
    """The words a page uses, defined under its title (lab.studies.glossary), before any use."""
    if not terms:
        return
    link = classmode.href(anchor=GLOSSARY_ANCHOR)  # keeps class mode in the new tab
    with st.expander("Words on this page: " + ", ".join(terms)):
        st.markdown("\n".join(f"- {glossary.definition_line(w)}" for w in terms))
        st.caption(f"Arm, seed, band, h(k), agreement and the other measures are defined in "
                   f"the [glossary on Home]({link}).")


def _glossary() -> None:
    """The words the study pages use, defined once; metric entries quote the registry."""
    from lab.measure.registry import METRICS

    st.header("Glossary", anchor=GLOSSARY_ANCHOR)
    st.markdown(
        "- **Arm**: one option of a study's variable (one chunk length, one hidden size), "
        "trained with everything else at the baseline.\n"
        "- **Seed**: the number that fixes a run's random start (weights, batches, "
        "samples). Every arm is trained with the same seeds, so arms differ only in the "
        "variable; the same configuration and seed give the same numbers, bit for bit.\n"
        f"- **Band**: on a curve, the {charts.BAND_TEXT}. A gap between arms counts only "
        "when their seed ranges do not overlap and it is larger than the metric's minimum "
        "effect.\n"
        "- **h(k)**: the lowest loss possible for a predictor that sees only the last k "
        "characters; it falls towards the floor as k grows (the faint ladder on loss "
        "charts).\n"
        f"- {METRICS['agreement_overall'].quote()}\n"
        f"- {METRICS['memory_horizon'].quote()}\n"
        f"- {METRICS['gradient_reach'].quote()}\n"
        f"- {METRICS['gradient_regime'].quote()}\n"
        + "\n".join(f"- {glossary.definition_line(w)}" for w in sorted(glossary.TERMS,
                                                                        key=str.lower)))


def _story_card() -> None:
    with st.container(border=True):
        st.page_link(nav.STORY[1], label=f"**{nav.STORY[0]}**", icon=":material/auto_stories:",
                     query_params=classmode.query() or None)
        st.caption("New here? Start by watching the baseline learn, checkpoint by checkpoint: "
                   "from babble to words, sentences and subject-verb agreement, in the order "
                   "its runs show, and why.")


def _cards() -> None:
    st.header("The studies")
    groups = nav.grouped_pages()
    pages = sorted((p for ps in groups.values() for p in ps), key=lambda p: p.number)
    for pair in (pages[i:i + 2] for i in range(0, len(pages), 2)):
        for col, p in zip(st.columns(2), pair, strict=False):  # one row per pair: a phone
            with col.container(border=True):  # stacks them in reading order
                st.page_link(p.path, label=f"**{p.number}. {p.title}**",
                             query_params=classmode.query() or None)
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
    if classmode.on():
        st.info("**Class mode.** Every study page asks your prediction first and opens its "
                "results once you commit it.")
    try:  # the study pages need the store: say now if it cannot be read (Home itself can)
        db.store()
    except StoreUnavailable as e:
        st.error(str(e))
    _story_card()
    _cards()
    _corpus()
    _baseline()
    _reading()
    _instructors()
    _glossary()

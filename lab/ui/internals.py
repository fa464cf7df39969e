"""The Internals page (`/internals`): one stored network reading one sentence, character by
character: its next-character guesses beside the grammar's exact ones, its loss beside the
grammar's conditional entropy, the hidden state, the subject's number as a direction in
that state, and how far back each character's loss reaches. NumPy only (lab.measure.
internals); every control is in the URL."""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from lab.data import memo
from lab.language import grammar
from lab.language.agreement import CONDITIONS, agreement_sites
from lab.language.alphabet import ALPHABET
from lab.language.corpus import heldout_text
from lab.measure import internals as inn
from lab.studies import catalog
from lab.studies.catalog import SEEDS
from lab.studies.params import Param
from lab.training.config import BASELINE
from lab.training.weights import load_weights
from lab.ui import charts, chartspec, db, nav, tables, urlstate
from lab.ui.home import page_words

TYPED_MAX = 160  # characters a typed sentence may have
TYPED_OK = set("abcdefghijklmnopqrstuvwxyz .")
FIT_CHARS = 20_000  # held-out characters the number direction is fitted on
EXAMPLES = 8  # held-out sentences offered, long dependencies first
TOP = 3  # guesses shown per character
SERIES = ("network's loss", "grammar's conditional entropy")  # the per-character loss chart
CONTEXT = "the boy sees the cats.\n"  # read first, so no sentence starts from a zero state
STUDIES = tuple(sid for sid in catalog.STUDIES if sid in nav.FILES)

STUDY = Param("study", "choice", "hidden_size", STUDIES)  # its H=64 arm is the baseline
SEED = Param("seed", "choice", SEEDS[0], SEEDS)
TEXT = "text"  # URL parameter of a typed sentence (checked by _check_typed)


def _is_baseline(arm) -> bool:
    return all(getattr(BASELINE, k) == v for k, v in arm.overrides.items())


def arm_param(study_id: str) -> Param:
    """The study's arms; the default is its baseline arm (if it has one): the network every
    study compares with, not the first arm."""
    arms = catalog.get(study_id).arms
    keys = tuple(a.key for a in arms)
    base = next((a.key for a in arms if _is_baseline(a)), keys[0])
    return Param("arm", "choice", base, keys)


def arm_label(study_id: str, key: str) -> str:
    arm = catalog.get(study_id).arm(key)
    return arm.label + (" (the baseline)" if _is_baseline(arm) else "")


@memo.shared(max_entries=1)
def example_sentences() -> list[str]:
    """Held-out sentences whose verbs must reach back across relative clauses: the first
    few with an object relative (nested ones first), then others, each with its newline."""
    text = heldout_text()[:FIT_CHARS * 2]
    lines = [ln for ln in text.split("\n")[:-1] if ln.endswith(".")]
    rank = {c: i for i, c in enumerate(reversed(CONDITIONS))}
    scored = []
    for i, ln in enumerate(lines):
        sites = agreement_sites(ln + "\n")
        if sites:
            scored.append((min(rank[s.condition] for s in sites), i, ln))
    scored.sort()
    return [ln + "\n" for _, _, ln in scored[:EXAMPLES]]


@memo.shared(max_entries=16)
def _weights(path: str, version: float, run_id: str) -> dict[str, np.ndarray]:
    return load_weights(db.store().weights(run_id))


@memo.shared(max_entries=16)
def _direction(path: str, version: float, run_id: str, activation: str):
    text = heldout_text()[FIT_CHARS:FIT_CHARS * 2]  # not the example sentences' stretch
    start = text.find(".\n") + 2
    return inn.number_direction(_weights(path, version, run_id), activation,
                                text[start:text.rfind(".\n") + 2])


def _check_typed(raw: str) -> tuple[str | None, str | None]:
    """(sentence, None) or (None, message) for a typed text."""
    text = raw.strip().lower() if raw else ""
    if not text:
        return None, None
    if len(text) > TYPED_MAX:
        return None, f"The typed sentence is {len(raw)} characters long; at most {TYPED_MAX}."
    bad = sorted({c for c in text if c not in TYPED_OK})
    if bad:
        shown = ", ".join(urlstate.quoted(c, 5) for c in bad[:5])
        return None, (f"The typed sentence has characters the network cannot read ({shown}). "
                      "Use the letters a-z, spaces and full stops.")
    if not text.endswith("."):
        text += "."
    return text + "\n", None


def _pick_run():
    """Study, arm and seed pickers (in the URL); the chosen run's row, or None."""
    left, mid, right = st.columns(3)
    with left:
        sid = urlstate.control(STUDY, st.selectbox, "Study", format_func=lambda i: (
            f"{catalog.get(i).number}. {catalog.get(i).title}"))
    with mid:
        arm = urlstate.control(arm_param(sid), st.selectbox, "Arm",
                               format_func=lambda k: arm_label(sid, k))
    with right:
        seed = urlstate.control(SEED, st.segmented_control, "Seed", required=True)
    data = db.study_data(sid, tables=())
    row = data.runs[(data.runs["arm"] == arm) & (data.runs["seed"] == seed)]
    if row.empty:
        st.warning(f"No stored run of {catalog.get(sid).arm(arm).label}, seed {seed}.")
        return None, None
    return row.iloc[0], arm_label(sid, arm)


def _pick_text() -> str:
    examples = example_sentences()
    raw = st.query_params.get(TEXT, "")
    typed, problem = _check_typed(raw)
    if problem:
        st.warning(problem + " Showing an example sentence instead.")
    pick = urlstate.control(Param("sentence", "choice", 0, tuple(range(len(examples)))),
                            st.selectbox, "A held-out sentence",
                            format_func=lambda i: examples[i].strip())
    shown = raw[:TYPED_MAX * 2]
    if st.session_state.get("internals_text_seen") != raw:  # a new or edited link wins
        st.session_state["internals_text"] = shown
        st.session_state["internals_text_seen"] = raw
    value = st.text_input("... or type your own (unknown words such as zog are fine)",
                          max_chars=TYPED_MAX * 2, key="internals_text")
    if value != shown:  # the student typed: the sentence goes in the URL
        if value:
            st.query_params[TEXT] = value
        elif TEXT in st.query_params:
            del st.query_params[TEXT]
        st.rerun()
    return typed or examples[pick]


def _char_frame(r: inn.Reading) -> pd.DataFrame:
    """Per position: the character read, the model's top guesses, the grammar's exact ones,
    the model's loss on the next character and the grammar's conditional entropy there."""
    parser = grammar.CharParser()
    for ch in CONTEXT:
        parser.step(ch)
    loss = r.loss()
    rows = []
    for t, ch in enumerate(r.text[:-1]):
        parser.step(ch)
        exact = parser.probabilities()
        top = np.argsort(-r.probs[t])[:TOP]
        rows.append({
            "t": t, "char": "⏎" if ch == "\n" else ("␣" if ch == " " else ch),
            "next": _shown(r.text[t + 1]), "loss": float(loss[t]), "entropy": inn.entropy(exact),
            "model": ", ".join(f"{_shown(ALPHABET[i])} {r.probs[t][i]:.2f}" for i in top),
            "grammar": ("(the grammar is lost: the text is not one of its sentences)"
                        if exact is None else ", ".join(
                            f"{_shown(c)} {q:.2f}" for c, q in
                            sorted(exact.items(), key=lambda kv: -kv[1])[:TOP]))})
    return pd.DataFrame(rows)


def _shown(c: str) -> str:
    return {" ": "␣", "\n": "⏎"}.get(c, c)


def _x(df: pd.DataFrame) -> alt.X:
    """Positions labelled by their character."""
    labels = dict(zip(df["t"], df["char"], strict=True))
    expr = "{" + ",".join(f'"{t}":"{c}"' for t, c in labels.items()) + "}[datum.value]"
    # every character labelled, smaller on a phone: Vega's overlap rule dropped 4 in 5
    return alt.X("t:O", title="character read", axis=alt.Axis(
        labelExpr=expr, labelAngle=0, labelOverlap=False,
        labelFontSize=alt.ExprRef(f"{charts.NARROW} ? 7 : 11")))


def render() -> None:
    st.title("Inside the network")
    page_words(["nats", "W_hh", "ridge probe", "dL/da_j", "entropy floor"])
    st.markdown(
        "Pick a stored network and a sentence, and watch it read, one character at a time. "
        "Every number is computed here from the network's stored weights. The network first "
        f"reads one short sentence (\"{CONTEXT.strip()}\"), as it always had text before "
        "a sentence in training.")
    db.store_or_stop()
    row, label = _pick_run()
    if row is None:
        return
    text = _pick_text()
    key = (db.db_path(), db._version(db.db_path()), row["run_id"])
    weights = _weights(*key)
    act = str(row["activation"])
    r = inn.read(weights, act, text, context=CONTEXT)
    df = _char_frame(r)

    st.subheader("What it expects next, against what the grammar allows")
    st.caption("After each character: the network's three likeliest next characters, the "
               "grammar's exact distribution (it knows the sentence so far), and the "
               "network's loss on the character that came, in nats. ␣ is a space, ⏎ the "
               "end of the line.")
    with st.expander("Per-character table"):
        tables.show(df[["char", "next", "model", "grammar", "loss", "entropy"]].rename(columns={
            "char": "read", "next": "next char", "model": "network's top 3",
            "grammar": "grammar's top 3", "loss": "loss (nats)",
            "entropy": "grammar's entropy (nats)"}),
            fmt=dict.fromkeys(("loss (nats)", "grammar's entropy (nats)"),
                             tables.fixed(3)))
    long = df.melt(id_vars=["t", "char"], value_vars=["loss", "entropy"], var_name="series")
    long["series"] = long["series"].map(dict(zip(("loss", "entropy"), SERIES, strict=True)))
    chartspec.draw_built(alt.Chart(long).mark_line(point=True).encode(
        x=_x(df), y=alt.Y("value:Q", title="nats"),
        color=alt.Color("series:N", title=None, scale=alt.Scale(
            domain=list(SERIES),
            range=["#4c78a8", "#999"]),
                        legend=charts.bottom_legend(SERIES)),
        tooltip=["char:N", "series:N", alt.Tooltip("value:Q", format=".3f")]).properties(
        width=charts.WIDTH, height=240))
    known = df["entropy"].notna()
    if known.any():
        excess = float((df["loss"] - df["entropy"])[known].sum())
        part = "" if known.all() else (f" (over the first {int(known.sum())} characters, "
                                       "before the text leaves the grammar)")
        total = (f"{excess:.2f} nats more than the grammar's in total." if excess >= 0 else
                 f"{-excess:.2f} nats less than the grammar's in total: its entropy is the "
                 "best loss on average over sentences, and on one sentence whose characters "
                 "happen to be the likelier ones a model can come in under it.")
        st.caption(f"Averaged over many sentences, the gap between the lines is what the "
                   f"network has not learned. Over this sentence{part}: network "
                   f"{df['loss'][known].mean():.3f} nats per character, the grammar's best "
                   f"{df['entropy'][known].mean():.3f}; {total}")
    else:
        st.caption("The grammar cannot read this text (its first word is not one the grammar "
                   "allows there), so only the network's loss is drawn.")

    direction = _direction(*key, act)
    _number_view(r, df, direction)
    _state_view(r, df, direction)
    _gradient_view(weights, act, r, df)
    st.caption(f"Network: {label}, seed {int(row['seed'])} (run {row['run_id']}, "
               f"{act}, H={r.h.shape[1]}).")


def _number_view(r: inn.Reading, df: pd.DataFrame, d: inn.NumberDirection) -> None:
    st.subheader("Where the subject's number lives")
    score = d.score(r.h)
    frame = pd.DataFrame({"t": df["t"], "char": df["char"], "score": score[:-1]})
    chartspec.draw_built(alt.Chart(frame).mark_bar().encode(
        x=_x(df), y=alt.Y("score:Q", title="number read-out"),
        color=alt.condition("datum.score > 0", alt.value("#4c78a8"), alt.value("#f58518")),
        tooltip=["char:N", alt.Tooltip("score:Q", format=".2f")]).properties(
        width=charts.WIDTH, height=200))
    st.caption(f"Blue bars (above 0) read singular, orange (below 0) plural. A linear "
               f"read-out of the pending subject's number from the hidden state, "
               f"fitted on {FIT_CHARS:,} characters of other held-out text: it gets the sign "
               f"right at {d.accuracy:.0%} of the positions where a number is pending there. "
               f"The single unit that tracks the number best is unit {d.best_unit} "
               f"(correlation {d.best_unit_corr:+.2f}): the number is spread over many units "
               "rather than kept in one.")
    verbs = inn.verb_choices(r)
    if verbs:
        tables.show(pd.DataFrame([{  # the subject first: a phone's card is titled by it
            "subject": v["subject"], "verb at character": v["position"],
            "subject's number": "singular" if v["number"] == "sg" else "plural",
            "chars back": v["distance"], 'P("s")': v["p_s"],
            "P(plural form)": v["p_plural"], "right form more likely": "yes" if v["right"]
            else "no"} for v in verbs]),
            fmt=dict.fromkeys(('P("s")', "P(plural form)"), tables.fixed(3)))
        st.caption('At each verb, the character that decides its form: "s" for a singular '
                   "subject, a space or full stop for a plural one.")


NUMBER_UNITS = 8  # the heatmap shows this many units from each end of the number read-out


def _state_view(r: inn.Reading, df: pd.DataFrame, d: inn.NumberDirection) -> None:
    st.subheader("The hidden state, character by character")
    order = np.argsort(-d.w)  # units loading most on "singular" first
    k = min(NUMBER_UNITS, len(order) // 2)
    units = np.concatenate([order[:k], order[-k:]])  # the units that carry the number
    h = r.h[:-1][:, units]
    names = [f"sg {i + 1}" for i in range(k)] + [f"pl {k - i}" for i in range(k)]
    cells = pd.DataFrame([{"t": t, "unit": names[i], "rank": i, "h": float(h[t, i])}
                          for t in range(h.shape[0]) for i in range(h.shape[1])])
    marks = pd.DataFrame([m for v in inn.verb_choices(r) for m in (
        {"t": v["position"] - v["distance"], "what": f"{v['subject']}: number given"},
        {"t": v["position"] - 1, "what": "verb's form decided"})])
    heat = alt.Chart(cells).mark_rect().encode(
        x=_x(df), y=alt.Y("unit:O", sort=alt.EncodingSortField("rank"),
                          title="unit (sg: singular, pl: plural)"),
        color=alt.Color("h:Q", title="h", scale=alt.Scale(scheme="redblue", domain=[-1, 1],
                                                          clamp=True),
                        legend=alt.Legend(orient="bottom")),
        tooltip=["t:O", "unit:N", alt.Tooltip("h:Q", format=".2f")])
    layers = [heat]
    if len(marks):
        layers.append(alt.Chart(marks).mark_rule(strokeDash=[4, 3], strokeWidth=2,
                                                 color="black").encode(
            x=alt.X("t:O"), tooltip=["what:N"]))
    chartspec.draw_built(alt.layer(*layers).properties(width=charts.WIDTH, height=300))
    st.caption("Each column is the state after reading that character. The rows are the "
               f"{k} units that lean most singular in the number read-out (top) and the {k} "
               "that lean most plural (bottom), out of "
               f"{len(order)}. Dashed lines mark where a subject gives its number and where "
               "its verb's form is decided: a unit that carries the number keeps its colour "
               "from the first line to the second, across the relative clause between them.")


def _gradient_view(weights, act: str, r: inn.Reading, df: pd.DataFrame) -> None:
    st.subheader("How far back does one character's loss reach?")
    last = len(df) - 1
    default = next((v["position"] - 1 for v in inn.verb_choices(r)[-1:]), last)
    at = urlstate.control(Param("at", "int", int(default), bounds=(0, last)),
                          st.number_input, "Character position (0 = the first)", step=1)
    g = inn.input_gradient(weights, act, r, int(at))
    frame = pd.DataFrame({"k": np.arange(len(g)), "norm": g,
                          "char": [df["char"].iloc[int(at) - k] for k in range(len(g))]})
    chartspec.draw_built(alt.Chart(frame[frame["norm"] > 0]).mark_bar().encode(
        x=alt.X("k:O", title="characters back (k)"),
        y=alt.Y("norm:Q", title="||dL/da|| at that input (log)", scale=alt.Scale(type="log"),
                axis=charts.y_axis(log=True)),
        y2=alt.datum(charts.log_base(frame["norm"])),
        tooltip=["k:O", "char:N", alt.Tooltip("norm:Q", format=".2e")]).properties(
        width=charts.WIDTH, height=220))
    tail = g[1:]
    half = int(np.argmax(tail < g[0] / 100)) + 1 if (tail < g[0] / 100).any() else None
    st.caption(
        f"The loss of predicting the character after position {int(at)} "
        f"('{df['char'].iloc[int(at)]}' read, '{_shown(r.text[int(at) + 1])}' next), "
        "differentiated with respect to the input at each earlier position: how much that "
        "input could still change this prediction. "
        + (f"It falls below 1/100 of its size at k = 0 after {half} characters."
           if half else "It stays above 1/100 of its size at k = 0 over the whole sentence.")
        + (" This is the verb's deciding character: a network that carries the subject's "
           "number has a gradient reaching back to the subject." if any(
               v["position"] - 1 == int(at) for v in inn.verb_choices(r)) else ""))
    if not math.isfinite(float(g.sum())):
        st.warning("The gradient is not finite here: this network's state is unstable.")

"""The Story page (`/story`): the baseline's training told from babble to agreement. A step
control (in the URL, with play) over the stored checkpoints; at each step the sample it wrote,
marked word by word, and its held-out loss read on the h(k) ladder; then the milestones found
in the runs (lab.studies.story), why they come in that order, and where the studies explain
them. Every number is read from the store at render time; no torch."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from lab.data import memo
from lab.language.corpus import heldout_text
from lab.measure.registry import METRICS
from lab.studies import catalog
from lab.studies import story as sy
from lab.studies import story_prose as sp
from lab.studies.params import Param
from lab.studies.study import SEEDS
from lab.ui import charts, chartspec, classmode, db, nav, story_charts, urlstate

PLAY_SECONDS = 1.5  # one checkpoint per this many seconds while playing
PLAYING, FRESH = "story_playing", "story_fresh"  # session keys
SEED = Param("seed", "choice", SEEDS[0], SEEDS)


def step_param(steps: tuple[int, ...]) -> Param:
    """The step control's URL parameter: one of the seed's stored checkpoints."""
    return Param("step", "choice", steps[0], steps)


# ---------------------------------------------------------------- data, once per store file

@memo.shared(max_entries=2)
def _story(path: str, version: float) -> dict:
    data = sy.load(db._store(path, version))
    return {"data": data, "measures": data.measured, "timeline": sy.timeline(data),
            "disagree": sy.disagreements(data)}


def story() -> dict:
    """The baseline's stored seeds and what the page derives from them (shared, never mutated)."""
    return db._guard(_story)


@memo.shared(max_entries=1)
def corpus_distances() -> dict[str, tuple[int, int, float]]:
    """sy.condition_distances of the first CHECKPOINT_READ held-out characters."""
    text = heldout_text()[:sy.CHECKPOINT_READ]
    return sy.condition_distances(text[: text.rfind(".\n") + 2])


def _link(url_path: str, **query) -> str:
    """A markdown link target inside the app, keeping class mode, with query parameters."""
    base = classmode.href(url_path)
    extra = "&".join(f"{k}={v}" for k, v in query.items())
    return base + (("&" if "?" in base else "?") + extra if extra else "")


def study_links(keys: tuple[str, ...]) -> str:
    """'[3. TBPTT chunk length](/tbptt), ...' for the studies named (unknown ones skipped)."""
    out = []
    for sid in keys:
        if sid in nav.FILES:
            s = catalog.get(sid)
            out.append(f"[{s.number}. {s.title}]({_link(nav.url_path(sid))})")
    return ", ".join(out)


# ---------------------------------------------------------------- the step view

def sample_markdown(text: str) -> str:
    """The sample, one sentence a line: ✓ grammatical, ✗ not, … unfinished; words outside
    the vocabulary highlighted (letters only reach the page: sy.mark_sample)."""
    lines = []
    for s in sy.mark_sample(text):
        mark = {True: "✓", False: "✗", None: "…"}[s.grammatical]
        words = " ".join(w if ok else f":red-background[{w}]" for w, ok in s.words)
        lines.append(f"{mark} {words}" + ("." if s.grammatical is not None else ""))
    return "  \n".join(lines) or "(no words yet)"


def ladder_sentence(step: int, r: sy.LadderReading) -> str:
    """The held-out loss read aloud on the h(k) ladder."""
    head = f"At step {step:,} its held-out loss is **{r.loss:.3f} nats per character**"
    if not math.isfinite(r.loss):
        return f"At step {step:,} its held-out loss is not finite: the network is unstable."
    if r.above_all:
        return (f"{head}: worse even than the best guesser that sees no context at all, which "
                f"only knows how often each character occurs (h(0) = {r.floors[0]:.3f}).")
    if r.k is None:
        k = len(r.floors) - 1
        return (f"{head}: better than the best possible predictor that sees the last {k} "
                f"characters (h({k}) = {r.floors[k]:.3f}).")
    if r.k == 0:
        return (f"{head}: about as good as knowing how often each character occurs, and no "
                f"more (h(0) = {r.floors[0]:.3f}).")
    if r.k == 1:
        return (f"{head}: better than the best guesser that sees no context at all, which "
                f"only knows how often each character occurs (h(0) = {r.floors[0]:.3f}), not "
                f"yet as good as the best that sees the last character (h(1) = "
                f"{r.floors[1]:.3f}).")
    k = r.k
    return (f"{head}: better than the best possible predictor that sees only the last "
            f"{k - 1} character{'s' if k - 1 != 1 else ''} (h({k - 1}) = {r.floors[k - 1]:.3f}), "
            f"not yet as good as the best that sees the last {k} (h({k}) = "
            f"{r.floors[k]:.3f}).")


def can_do(bundle: dict, seed: int, step: int) -> str:
    """Per milestone in the runs' order: reached by this step (since when) or not yet, with
    this checkpoint's value against the bar."""
    data, m = bundle["data"], bundle["measures"]
    reached = sy.reached_by(data, seed, step)
    here = m[(m["seed"] == seed) & (m["step"] == step)].set_index("milestone")["value"]
    lines = []
    for key in bundle["timeline"]["milestone"]:
        ms = sy.milestone(key)
        now = here.get(key, math.nan)
        value = (f"now {now:.0%}" if np.isfinite(now) else "no such verb in this reading"
                 if key.startswith("agreement") else "no words in this sample")
        if reached.get(key) is not None:
            lines.append(f"- ✓ **{ms.label}**: since step {reached[key]:,} ({value})")
        else:
            lines.append(f"- ◯ {ms.label}: not yet ({value}, bar {ms.threshold:.0%})")
    return "\n".join(lines)


@memo.shared(max_entries=64)
def _loss_chart(path: str, version: float, seed: int, step: int) -> dict:
    data = _story(path, version)["data"]
    return story_charts.loss_on_ladder(data, seed, step)


def next_step(steps: tuple[int, ...], now: int) -> tuple[int | None, bool]:
    """While playing: the checkpoint after `now` (None: none is left) and whether play goes
    on after it."""
    later = [s for s in steps if s > now]
    return (later[0] if later else None), len(later) > 1


def _advance(steps: tuple[int, ...], param: Param) -> None:
    """While playing, each tick of the fragment moves one checkpoint on; at the last one
    playing stops and the whole page is drawn once more (without the tick)."""
    if not st.session_state.get(PLAYING) or st.session_state.get(FRESH):
        return
    step, more = next_step(steps, st.session_state.get(f"url_{param.name}", param.default))
    st.session_state[PLAYING] = more
    if step is not None:
        urlstate.set_next(param, step)
    if not more:  # the last checkpoint: draw the whole page once more, without the timer
        st.rerun(scope="app")


def step_view(bundle: dict, seed: int, steps: tuple[int, ...], reveal: bool = True) -> None:
    """The step control and what the network does at that step (a fragment: moving the
    slider or a play tick redraws only this); reveal=False (class mode, no prediction yet)
    leaves out what it can do by now, which gives the milestones' order away."""
    param = step_param(steps)
    _advance(steps, param)
    st.session_state[FRESH] = False
    step = int(urlstate.control(param, st.select_slider, "Training step",
                                format_func=lambda s: f"{s:,}"))
    data = bundle["data"]
    s = data.samples
    row = s[(s["seed"] == seed) & (s["step"] == step)]
    loss = sy.loss_at(data, seed, step)
    st.markdown(f"#### Step {step:,} of {data.steps:,}")
    left, mid, right = st.columns(3)
    left.metric("held-out loss (nats/char)", f"{loss:.3f}" if math.isfinite(loss) else "n/a")
    if len(row):
        mid.metric("real words", f"{row['valid_words'].iloc[0]:.0%}")
        right.metric("grammatical sentences", f"{row['valid_sentences'].iloc[0]:.0%}")
    reading = sy.read_ladder(loss, data.floors) if len(data.floors) else None
    if reading is not None:
        st.markdown(ladder_sentence(step, reading))
        k = sy.memory_so_far(data, seed, step)
        st.caption(
            "Effective memory so far: "
            + (f"**{k} character{'' if k == 1 else 's'}**" if k is not None
               else f"more than {len(data.floors) - 1} characters")
            + " (the fewest characters of context with which some predictor could do as well "
            "as its best held-out loss up to this step; the loss is read on 16 held-out "
            "tracks, so it wobbles a little from one checkpoint to the next).")
    st.markdown("**What it writes** (✓ a grammatical sentence, ✗ not, … unfinished; "
                "highlighted: not a word of the vocabulary)")
    with st.container(border=True, key="story_sample"):
        st.markdown(sample_markdown(str(row["text"].iloc[0])) if len(row)
                    else "No sample is stored for this step.")
    if reveal:
        st.markdown("**What it can do by now**")
        st.markdown(can_do(bundle, seed, step))
    chartspec.draw(_loss_chart(db.db_path(), db._version(db.db_path()), seed, step))
    st.caption(f"Blue line: this network's held-out loss at each checkpoint; band: min to max "
               f"across the {len(data.seeds)} seeds; red line: the step shown. "
               f"{charts.LADDER_TEXT[0].upper()}{charts.LADDER_TEXT[1:]}; dashed: the entropy "
               "floor. " + (charts.CHECKPOINT_AXIS_TEXT if data.steps >= 1000 else
                            f"Checkpoints at steps {', '.join(map(str, steps))}."))


def _play_controls(steps: tuple[int, ...]) -> None:
    playing = bool(st.session_state.get(PLAYING))

    def toggle() -> None:
        st.session_state[PLAYING] = not playing
        now = st.session_state.get(f"url_{step_param(steps).name}", steps[0])
        if not playing and now == steps[-1]:  # play from the start again
            urlstate.set_next(step_param(steps), steps[0])

    st.button("⏸ Pause" if playing else "▶ Play", on_click=toggle,
              help=f"Step through the checkpoints, one every {PLAY_SECONDS:g} s.")


# ---------------------------------------------------------------- milestones

@memo.shared(max_entries=2)
def _timeline_chart(path: str, version: float) -> dict:
    b = _story(path, version)
    return story_charts.timeline_chart(b["data"], b["timeline"])


def order_text(bundle: dict) -> str:
    """The milestones as a numbered list in the runs' order, each with its bar, the seeds'
    steps and the studies that explain it."""
    data, order = bundle["data"], bundle["timeline"]
    steps = data.reached
    lines = []
    for i, row in enumerate(order.itertuples(), 1):
        m = sy.milestone(row.milestone)
        per = steps[steps["milestone"] == m.key]
        seeds = ", ".join(f"{int(s):,}" if np.isfinite(s) else "not yet"
                          for s in per.sort_values("seed")["step"])
        if row.reached == row.seeds:
            when = (f"step {row.median:,.0f}" if row.first == row.last else
                    f"median step {row.median:,.0f}, seeds from {row.first:,.0f} to "
                    f"{row.last:,.0f}")
        elif row.reached:
            when = f"{row.reached} of {row.seeds} seeds by step {data.steps:,}"
        else:
            when = f"not reached by step {data.steps:,} in any seed"
        links = study_links(m.studies)
        lines.append(f"{i}. **{m.label[0].upper()}{m.label[1:]}**: {when} (seeds "
                     f"{', '.join(map(str, data.seeds))}: {seeds}). Bar: {sy.describe(m)}."
                     + (f" Read more in {links}." if links else ""))
    return "\n".join(lines)


def links_text(seed: int, steps: int) -> str:
    """Where to go next: the studies that explain the late milestones and the internals page
    with this network."""
    internals = _link("internals", study=sy.BASELINE_STUDY, arm=sy.BASELINE_ARM, seed=seed)
    return (
        f"- Why long agreement needs long chunks and enough units: "
        f"{study_links(('tbptt', 'hidden_size'))}.\n"
        f"- Why the gradient reaches back at all (W_hh's start): "
        f"{study_links(('initialization',))}; how fast the first lessons come: "
        f"{study_links(('learning_rate',))}.\n"
        f"- Why its own text drifts once it errs: {study_links(('teacher_forcing',))}.\n"
        f"- [Inside the network: this network, seed {seed}]({internals}). Its weights are "
        f"stored only at the end of training, so that page shows the finished network "
        f"(step {steps:,}), not the step chosen here.")


def _sample_chars(data: sy.StoryData) -> int:
    lengths = data.samples["text"].str.len()
    return int(lengths.median()) if len(lengths) else 0


def render() -> None:
    st.title("The story of one network")
    st.markdown(
        "Every study compares finished networks. This page follows one network, the "
        "baseline, through its training: what it writes at each checkpoint, how good its "
        "predictions are, and when it learns to write words and sentences and to make a verb "
        "agree with its subject, near and far. Move the step or press play.")
    db.store_or_stop()
    bundle = story()
    data = bundle["data"]
    if not data.seeds:
        st.warning("No runs of the baseline are stored yet: run `python -m lab.precompute`.")
        return
    seed = int(urlstate.control(SEED, st.segmented_control, "Network (seed)", required=True))
    steps = data.steps_of(seed)
    if not steps:
        st.warning(f"No checkpoints of seed {seed} are stored.")
        return
    if missing := [m.label for m in sy.MILESTONES if m not in sy.available(data)]:
        st.info("This database does not hold what these milestones are measured by (its runs "
                "predate them), so they are left out: " + ", ".join(missing) + ".")
    _play_controls(steps)
    st.session_state[FRESH] = True
    playing = bool(st.session_state.get(PLAYING))
    view = st.container()  # the step view, drawn above class mode's question
    reveal = class_gate(data)
    with view:
        st.fragment(run_every=PLAY_SECONDS if playing else None)(step_view)(bundle, seed,
                                                                            steps, reveal)
    if reveal:
        milestones_section(bundle)
    else:
        st.subheader("Milestones, found in the runs")
        st.info("Held back until you commit your prediction above.")
    st.subheader("Where to go next")
    st.markdown(links_text(seed, data.steps))


def milestones_section(bundle: dict) -> None:
    data = bundle["data"]
    st.subheader("Milestones, found in the runs")
    st.markdown(
        f"An ability counts as learned at the first checkpoint that starts {sy.RUN} "
        f"checkpoints in a row at or above its bar, so one lucky sample does not count. "
        "Each dot is one seed.")
    chartspec.draw(_timeline_chart(db.db_path(), db._version(db.db_path())))
    st.markdown(order_text(bundle))
    st.markdown(sp.disagreement_text(data))
    if text := sp.noise_text(data, corpus_distances()):
        st.caption(text)
    st.caption(f"{METRICS['agreement_overall'].quote()} Here it is read at every checkpoint "
               f"on a smaller reading of {sy.CHECKPOINT_READ:,} held-out characters. Samples: "
               f"one generated sample of about {_sample_chars(data)} characters per "
               "checkpoint and seed.")
    st.subheader("Why in that order")
    st.markdown(sp.why_text(data, corpus_distances()))
    st.download_button("Milestones and their measures per checkpoint (CSV)",
                       partial(_csv, data), file_name="story_milestones.csv", mime="text/csv")


def _csv(data: sy.StoryData) -> str:
    """Per milestone, seed and checkpoint: its measure, its bar and whether the seed had
    reached it by then."""
    m = data.measured.merge(data.reached.rename(columns={"step": "reached_at"}),
                            on=["milestone", "seed"], how="left")
    m["bar"] = m["milestone"].map({k.key: k.threshold for k in sy.MILESTONES})
    return m.to_csv(index=False)


# ---------------------------------------------------------------- class mode

CLASS_KEY = "story"  # the page's name in the class poll and the tab's commits


def predicted_param(keys: tuple[str, ...]) -> Param:
    """Class mode's committed guess: the milestone (of keys) the student expects last."""
    return Param("predicted", "choice", classmode.NONE, (classmode.NONE, *keys))


def class_gate(data: sy.StoryData) -> bool:
    """In class mode, ask which milestone the network learns last and hold the milestones
    back until the student commits; after, score the guess beside the class's tally.
    Returns whether the milestones may show (always outside class mode)."""
    param = predicted_param(tuple(m.key for m in sy.available(data)))
    if not classmode.on():
        urlstate.settle((param,))
        return True
    committed = urlstate.read(param)
    if committed == classmode.NONE:
        committed = classmode.remembered(CLASS_KEY) or classmode.NONE
    urlstate.write(param, committed)
    question = "Which of these will the network learn last?"
    st.info("**Class mode.** " + (
        "You committed a prediction, so the milestones are open below." if committed !=
        classmode.NONE else "Your instructor's link holds the milestones back until you "
        "commit a prediction. Watch the network learn first, then predict."))
    st.subheader("Your prediction")
    if committed != classmode.NONE:
        classmode.remember(CLASS_KEY, committed)
        st.markdown(question)
        classmode.feedback(*sp.judge_last(data, committed))
        order = sy.timeline(data)
        classmode.class_tally(CLASS_KEY, pd.DataFrame({
            "option": order["milestone"], "prediction": order["label"],
            "median step learned": [f"{m:,.0f}" if math.isfinite(m) else
                                    f"not by {data.steps:,}" for m in order["median"]]}))
        if st.button("Change my prediction"):
            urlstate.write(param, classmode.NONE)
            classmode.forget(CLASS_KEY)
            st.rerun()
        return True
    options = [m.key for m in sy.available(data)]
    choice = st.radio(question, options, index=None, key="classmode_story",
                      format_func=lambda k: sy.milestone(k).label)
    if st.button("Commit my prediction", disabled=choice is None):
        urlstate.write(param, choice, keep_default=True)
        classmode.remember(CLASS_KEY, choice)
        classmode.vote(CLASS_KEY, choice)
        st.rerun()
    return False

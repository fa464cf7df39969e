"""Study 10's own view: the design grid's selectors, table, heatmap, best cell and the
predict-first exercise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from lab.data.studydata import StudyData
from lab.measure.registry import FAILED_RULE, FAILED_SEEDS
from lab.service import poll
from lab.studies.grid import (
    GUESS,
    REVEAL,
    SELECT,
    grid_key,
    guess_outcome,
    guess_result,
    tied_best,
)
from lab.ui import charts, chartspec, classmode, retrain_panel, tables, urlstate
from lab.ui.chartspec import spec
from lab.ui.views import View

STUDY_ID = "grid"


def cell_table(data: StudyData) -> pd.DataFrame:
    """One row per cell: median final held-out loss and memory horizon over seeds (as every
    panel takes them: registry.FAILED_SEEDS), params and status counts; ranked by loss.
    Built once per study data (shared by every student: never mutate it)."""
    return data.once("cell_table", lambda: _cell_table(data))


def _cell_table(data: StudyData) -> pd.DataFrame:
    rows = []
    for a in data.arms:
        runs = data.of_arm(a.key)
        counts = runs["status"].value_counts()
        rows.append({**{k: a.overrides[k] for k in ("hidden", "activation", "seq_len")},
                     "cell": a.key, "final loss": data.median(a.key, "final_val_loss"),
                     "memory horizon": data.median(a.key, "memory_horizon"),
                     "params": int(runs["params"].iloc[0]) if len(runs) else 0,
                     "status": ", ".join(f"{n} {s}" for s, n in counts.items()),
                     "seeds": len(runs)})
    tab = pd.DataFrame(rows)
    tab["rank"] = tab["final loss"].rank(method="min", na_option="bottom").astype(int)
    return tab


def _pickers(params: tuple[urlstate.Param, ...], labels: tuple[str, ...], **kwargs) -> tuple:
    cols = st.columns(3)
    out = []
    for col, p, label in zip(cols, params, labels, strict=True):
        with col:
            out.append(urlstate.control(p, st.selectbox, label, **kwargs))
    return tuple(out)


def predict_first(data: StudyData) -> bool:
    """The student commits a guess of the best cell before any result is shown; True once
    committed. The commit is in the URL (revealed=1, with the guess), so a shared link shows
    the same answer; the guess is locked until the student hides the answer again."""
    st.subheader("Predict first")
    st.markdown("From studies 2, 3 and 4: which cell of the grid do you expect to reach the "
                "lowest final loss? Commit your guess before looking at the answer.")
    _restore_guess()
    revealed = urlstate.read(REVEAL) == 1
    if revealed and not urlstate.present(GUESS):  # a link cannot reveal a guess never made
        st.warning("This link asks to show the answer, but it carries no committed guess. "
                   "Make your own guess below and commit it to see the results.")
        revealed = False
    urlstate.write(REVEAL, int(revealed))  # a refused value leaves the address
    labels = ("Your hidden size H", "Your activation", "Your chunk length (seq_len)")
    committed = _pickers(GUESS, labels, disabled=revealed, keep_default=revealed,
                         placeholder="Choose")
    if not revealed:
        chosen = None not in committed
        if st.button("Commit my guess", disabled=not chosen,
                     help=None if chosen else "Choose H, the activation and seq_len first."):
            for p, value in zip(GUESS, committed, strict=True):
                urlstate.write(p, value, keep_default=True)  # the link records the guess
            urlstate.write(REVEAL, 1)
            classmode.remember(STUDY_ID, committed)
            classmode.vote(STUDY_ID, grid_key(*committed))
            st.rerun()
        st.caption("The grid's results (the table, the heatmap, the verdict and the takeaway) "
                   "open once you commit a guess.")
        urlstate.settle((*SELECT, *retrain_panel.PARAMS))  # their controls wait below
        return False
    if st.button("Hide the answer and guess again"):
        urlstate.write(REVEAL, 0)
        classmode.forget(STUDY_ID)
        st.rerun()
    tab = cell_table(data)
    best = tab.sort_values("rank").iloc[0]
    mine = tab[tab["cell"] == grid_key(*committed)].iloc[0]
    st.success(f"Best cell: **H={best.hidden}, {best.activation}, seq_len={best.seq_len}** "
               f"with a median final loss of {best['final loss']:.4f} nats/char.")
    classmode.feedback(guess_outcome(data, mine["cell"]),
                       f"Your guess H={committed[0]}, {committed[1]}, seq_len={committed[2]} "
                       f"ranks **{mine['rank']} of {len(tab)}**, with {mine['final loss']:.4f} "
                       "nats/char: " + guess_result(data, mine["cell"]))
    tied = tied_best(data)
    if len(tied) > 1:
        others, count = (("this cell", "it counts") if len(tied) == 2
                         else (f"these {len(tied) - 1} cells", "they count"))
        st.caption(f"The best cell, {data.label(tied[0])}, does not beat {others} beyond the "
                   f"seed spread and the minimum effect, so {count} as tied with it: "
                   + "; ".join(data.label(k) for k in tied[1:]) + ".")
    if classmode.on():
        _class_tally(data, tab, tied)
    return True


def _restore_guess() -> None:
    """In class mode, a tab back on the grid (the sidebar dropped its query) finds the guess
    it committed, as the study pages find their prediction."""
    guess = classmode.remembered(STUDY_ID)
    if guess and REVEAL.name not in st.query_params and not any(
            p.name in st.query_params for p in GUESS):
        for p, value in zip(GUESS, guess, strict=True):
            urlstate.write(p, value, keep_default=True)
        urlstate.write(REVEAL, 1)


def _class_tally(data: StudyData, tab: pd.DataFrame, tied: list[str]) -> None:
    """In class mode: the cells the class guessed (and the best ones), with their votes."""
    try:
        voted = set(poll.poll().tally(STUDY_ID))
    except poll.PollUnavailable:
        voted = set()  # class_tally says what failed
    rows = tab[tab["cell"].isin(voted | set(tied))].sort_values("rank")
    classmode.class_tally(STUDY_ID, pd.DataFrame({
        "option": rows["cell"], "prediction": [data.label(k) for k in rows["cell"]],
        "rank (final loss)": [f"{r} of {len(tab)}" for r in rows["rank"]],
        "as a prediction": [guess_outcome(data, k) for k in rows["cell"]]}))


def grid_view(v: View) -> None:
    """Selectors, the chosen row's table, the heatmap and the best cell."""
    tab = cell_table(v.data)
    st.subheader("Explore the grid")
    h, act, t = _pickers(SELECT, ("Hidden size H", "Activation", "seq_len"))
    show = tab[(tab["hidden"] == h) & (tab["activation"] == act)].sort_values("seq_len")
    show = show.assign(chosen=np.where(show["seq_len"] == t, "◀", ""), **{
        "final loss": [f"{x:.4f}" if np.isfinite(x) else "failed" for x in show["final loss"]]})
    tables.show(show[["seq_len", "final loss", "memory horizon", "params", "status", "rank",
                      "chosen"]], fmt={"params": lambda x: f"{x:,.0f}"})
    st.caption(f"H={h}, {act}: medians over seeds (final held-out loss in nats/char; floor "
               f"{v.floor:.4f}). {FAILED_RULE} {FAILED_SEEDS}")
    plane = tab[tab["activation"] == act].replace([np.inf], np.nan)
    best_here = plane.sort_values("final loss").iloc[0]
    plane = plane.rename(columns={"hidden": "H", "final loss": "final_loss"})
    chartspec.draw(spec(charts.heatmap,
        plane[["H", "seq_len", "final_loss"]], x="seq_len", y="H", value="final_loss",
        value_title="median final loss", best=(best_here.seq_len, best_here.hidden),
        title=[f"{act}: median final held-out loss", f"outline = best for {act}"]))
    cell = tab[tab["cell"] == grid_key(h, act, t)].iloc[0]
    st.markdown(f"**Selected cell** H={h}, {act}, seq_len={t}: final loss "
                f"{cell['final loss']:.4f} (rank {cell['rank']} of {len(tab)}), memory "
                f"horizon {cell['memory horizon']:g}, {cell['params']:,} parameters, "
                f"{cell['status']}.")


def focus(v: View) -> list[str]:
    """The cells whose samples and retrain the page offers: the selected one."""
    h, act, t = (urlstate.read(p) for p in SELECT)
    return [grid_key(h, act, t)]

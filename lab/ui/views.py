"""One renderer per chart id of a study (`VIEWS`), drawing from a StudyData.

Each renderer takes a `View` (the study's data, the entropy floor, the arm order and the
highlighted arm) and draws its chart plus the definitions it relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import streamlit as st

from lab.data.studydata import FAILED_LOSS, StudyData, arm_summary
from lab.language.alphabet import VOCAB_SIZE
from lab.language.floors import effective_memory
from lab.measure.metrics import CURVE_EVERY, REACH_THRESHOLD, probe_bin
from lab.measure.registry import METRICS, PROBE_BIN_LABELS, SATURATION_RULE
from lab.studies import memory as mem
from lab.studies.prose import and_list
from lab.ui import charts, chartspec, db, tables
from lab.ui.exposure_views import EXPOSURE_VIEWS
from lab.ui.memory_views import MEMORY_VIEWS

LIVE_EVERY = 4  # a retrain's chart, while it trains, draws every 4th window of each curve


@dataclass(frozen=True)
class View:
    data: StudyData
    floor: float
    highlight: str | None  # an arm label, or None
    seed: int  # the seed picked for samples and per-seed views
    on_pick: Callable[[str | None], None] | None = None  # a legend click picked an arm label
    live: bool = False  # drawn once (a retrain in progress): its specs are not cached
    _charts: list[int] = field(default_factory=lambda: [0])  # charts drawn so far this run

    def show(self, chart: dict) -> None:
        """Draw a finished spec (chartspec.spec). On a chart whose legend highlights an arm
        (charts.ARM_PICK), a legend click becomes the page's highlight (on_pick: the
        selector and the URL), so the legend, the selector and every chart of the page stay
        one state."""
        if self.on_pick is None or charts.ARM_PICK not in chartspec.param_names(chart):
            chartspec.draw(chart)
            return
        self._charts[0] += 1
        key = f"chart_{self._charts[0]}"
        event = chartspec.draw(chart, on_select="rerun", selection_mode=[charts.ARM_PICK],
                               key=key)
        chosen = event.selection.get(charts.ARM_PICK, []) if event else []
        picked = tuple(p.get("arm") for p in chosen if isinstance(p, dict))
        seen = st.session_state.get(f"{key}_seen")
        st.session_state[f"{key}_seen"] = picked
        if seen is not None and picked != seen:  # the student clicked this chart's legend
            self.on_pick(picked[0] if picked else None)

    def spec(self, builder, *args, **kwargs) -> dict:
        """A chart of lab.ui.charts as a finished spec: cached, unless the view is live."""
        return (chartspec.live if self.live else chartspec.spec)(builder, *args, **kwargs)

    @property
    def order(self) -> list[str]:
        return [a.label for a in self.data.arms]

    def labelled(self, df: pd.DataFrame) -> pd.DataFrame:
        """df with its arm keys replaced by the arms' chart labels."""
        return df.assign(arm=df["arm"].map(self.data.label))

    @chartspec.per_data
    def summary(self, column: str) -> pd.DataFrame:
        """Per arm (label): median, lo, hi, n of a run column over seeds; a failed median
        (inf) is left blank: charts draw no bar for it and the status says why."""
        s = arm_summary(self.data, column).replace([np.inf], np.nan)
        return s.rename(columns={"arm": "key", "label": "arm", "min": "lo", "max": "hi"})


@chartspec.per_data
def _stops(v: View, y: str) -> pd.DataFrame:
    """Where each diverged run stopped: its last stored curve point, with a note."""
    runs = v.data.runs
    dead = runs[runs["status"] == "diverged"]
    curves = v.data.table("curves")
    rows = []
    for r in dead.itertuples():
        c = curves[(curves["run_id"] == r.run_id) & (curves["arm"] == r.arm)]
        c = c[np.isfinite(c[y])]
        if len(c):
            at = r.diverged_at if pd.notna(r.diverged_at) else c["step"].iloc[-1]
            rows.append({"arm": v.data.label(r.arm), "step": c["step"].iloc[-1],
                         "y": min(float(c[y].iloc[-1]), FAILED_LOSS),
                         "note": f"seed {r.seed} diverged at step {int(at)}",
                         "at": int(at)})
    return pd.DataFrame(rows, columns=["arm", "step", "y", "note", "at"])


@chartspec.per_data
def status_sentence(v: View) -> str | None:
    """One sentence per arm that has diverged or unstable runs (None if every run is ok)."""
    parts = []
    for a in v.data.arms:
        runs = v.data.of_arm(a.key)
        for status, what in (("diverged", "the loss blew up (NaN, inf or above "
                              f"{FAILED_LOSS:.1f} nats/char) and training stopped there"),
                             ("unstable", "it learned, then lost ground by the end")):
            bad = runs[runs["status"] == status]
            if len(bad):
                seeds = ", ".join(str(s) for s in bad["seed"])
                which = "seed" if len(bad) == 1 else "seeds"
                parts.append(f"**{a.label}**: {len(bad)} of {len(runs)} seeds {status} "
                             f"({which} {seeds}): {what}.")
    return " ".join(parts) or None


@chartspec.per_data
def curve_chart(v: View, table: str, y: str, *, y_title: str, x: str = "step",
                x_title: str | None = None, log_y: bool = False, floor: bool = False, rule=None,
                title: str = "", ladder: pd.DataFrame | None = None, symlog_x: bool = False):
    """Median-and-band chart of a long table's column over x, arms labelled (symlog_x: the
    early checkpoints spread out, charts.line_band)."""
    df = v.labelled(v.data.table(table))
    if v.live and table == "curves":
        df = thinned(df)
    if table == "curves" and y == "loss":
        df = df.assign(loss=drawn_loss(df))
    if log_y:
        df = df[df[y] > 0]
    summary = charts.seed_summary(df, x, y)
    stops = _stops(v, y) if table == "curves" and y == "loss" else None
    return v.spec(charts.line_band, summary, x, x_title=x_title or x, y_title=y_title,
                  order=v.order, log_y=log_y, floor=v.floor if floor else None,
                  highlight=v.highlight, stops=stops, rule=rule, title=title, ladder=ladder,
                  symlog_x=symlog_x)


def drawn_loss(curves: pd.DataFrame) -> pd.Series:
    """A curves table's loss as the charts draw it: a blown-up window (inf) left blank, the
    rest clipped at the divergence bound."""
    return curves["loss"].replace([np.inf], np.nan).clip(upper=FAILED_LOSS)


def thinned(curves: pd.DataFrame) -> pd.DataFrame:
    """Every LIVE_EVERY-th window of each run's curve and its last: a retrain's chart is
    drawn again at every poll, by the server and the browser, on the cores that train."""
    last = curves.groupby("run_id")["step"].transform("max")
    return curves[(curves["step"] % (LIVE_EVERY * CURVE_EVERY) == 0) | (curves["step"] == last)]


LADDER_K = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48)  # the h(k) rungs drawn on loss charts
LADDER_TOP = 3.5  # no rung above this loss (nats/char): about uniform guessing, ln V
# a rung's label is 10 px tall: drawn rungs sit at least 14 px apart on a plot at least 260 px
# tall (a loss chart's plot at any width), so their labels never overlap
LADDER_LABEL_PX, LADDER_PLOT_PX = 14, 260


def ladder(floor: float, top: float) -> pd.DataFrame:
    """The h(k) rungs worth drawing on a log loss chart whose curves reach `top`: between the
    floor and the curves' top, each far enough above the next drawn rung (and the floor) on
    that chart's axis that their labels stay apart."""
    f = db.floors()
    if f.empty:
        return f
    low, high = charts.log_loss_domain(floor, top)
    gap = (high / low) ** (LADDER_LABEL_PX / LADDER_PLOT_PX)  # LADDER_LABEL_PX as a ratio
    rungs, last = [], floor
    for k, h in sorted(((int(k), float(h)) for k, h in f.itertuples(index=False)
                        if int(k) in LADDER_K), reverse=True):
        if h <= min(top, LADDER_TOP) and h > gap * last:
            rungs.append((k, h))
            last = h
    return pd.DataFrame(rungs, columns=["k", "h"])


def effective_memory_text(v: View) -> str:
    """Per arm: the held-out loss read against h(k), 'about k characters of context'."""
    f = db.floors()
    if f.empty:
        return ""
    h = f.sort_values("k")["h"].to_numpy()
    parts = []
    for a in v.data.arms:
        loss = v.data.median(a.key, "final_val_loss")
        if not np.isfinite(loss):
            continue
        k = effective_memory(loss, h)
        parts.append(f"{a.label} {loss:.3f}, "
                     + (f"as good as the best {k}-character context" if k is not None
                        else f"better than any {len(h) - 1}-character context"))
    return (" Median final held-out loss against the ladder: " + "; ".join(parts) + "."
            if parts else "")


# a loss chart marks uniform guessing when an arm's median curve sits within 2% of it for
# at least 3 windows (a plateau, as random init's; not a diverging run passing through)
GUESSING_NEAR, GUESSING_WINDOWS = 0.02, 3


def sits_at_guessing(curves: pd.DataFrame) -> bool:
    """Whether an arm's median training-loss curve (curves: arm, step, loss) stays within
    GUESSING_NEAR of uniform guessing for GUESSING_WINDOWS windows or more."""
    median = drawn_loss(curves).groupby([curves["arm"], curves["step"]]).median()
    near = (median - mem.uniform_loss()).abs() <= GUESSING_NEAR * mem.uniform_loss()
    return bool(len(near) and near.groupby(level=0).sum().max() >= GUESSING_WINDOWS)


@chartspec.per_data
def _loss_chart(v: View) -> tuple[dict, bool]:
    """The training-loss chart, and whether an arm sits at uniform guessing."""
    curves = v.data.table("curves")
    top = float(np.nanmax(drawn_loss(curves))) if len(curves) else 0.0
    guessing = mem.uniform_loss()
    stuck = sits_at_guessing(curves)
    rule = (guessing, f"uniform guessing, ln {VOCAB_SIZE} = {guessing:.2f}") if stuck else None
    return curve_chart(v, "curves", "loss", y_title="training loss (nats/char, log scale)",
                       floor=True, log_y=True, ladder=ladder(v.floor, top), rule=rule), stuck


def loss_curves(v: View) -> None:
    st.subheader("Training loss")
    chart, stuck = _loss_chart(v)
    v.show(chart)
    st.caption(f"{charts.BAND_TEXT}. Each point is the mean over a window of steps; the log "
               "scale keeps the approach to the floor visible next to arms that never learn. "
               + ("The dotted line at the top is uniform guessing: a curve along it still "
                  "gives every character the same probability, so it has learned nothing. "
                  if stuck else "")
               + f"A cross marks where a diverged run stopped; {charts.LADDER_TEXT}."
               + effective_memory_text(v)
               + (f" While the retrain trains, the chart shows one window in {LIVE_EVERY} "
                  "(all of them once it finishes)." if v.live else ""))
    if "sampling" in v.data.runs and (v.data.runs["sampling"] > 0).any():
        st.caption(SELF_FED)
    if sentence := status_sentence(v):
        st.warning(sentence)


SELF_FED = (
    "Scheduled sampling's training loss is measured on partly self-fed inputs: at each step "
    "it reads its own sampled character instead of the true one with a chance that ramps up "
    "over training, and is still scored against the true text. Its curve measures a harder, "
    "different task, not the same one worse, so it does not compare with teacher forcing's; "
    "the held-out loss, read by both with true inputs on the same held-out text, does.")


def spectral_radius(v: View) -> None:
    st.subheader("Spectral radius of W_hh over training")
    v.show(curve_chart(v, "checkpoints", "spectral_radius", y_title="ρ(W_hh)",
                       x_title=charts.STEP_AXIS, symlog_x=True))
    ck = v.data.table("checkpoints")
    start = ck[ck["step"] == 0].groupby("arm")["spectral_radius"].median()
    st.caption(f"{charts.CHECKPOINT_AXIS_TEXT} "
               "ρ(W_hh) = largest |eigenvalue| of W_hh. Starting values (step 0, median): "
               + ", ".join(f"{v.data.label(k)} {start[k]:.3f}" for k in v.data.arm_keys
                           if k in start.index) + ".")


def grad_decay(v: View) -> None:
    st.subheader("Gradient decay through time")
    t = REACH_THRESHOLD
    v.show(curve_chart(v, "grad_decay", "norm", x="k", log_y=True,
                      rule=(t, f"reach threshold {t:g}"),
                      y_title="normalised ‖dL_t/dh_(t-k)‖ (log)"))
    s = v.summary("gradient_reach").set_index("key")
    st.markdown("**Regime per arm**: " + "; ".join(
        f"{a.label}: **{mem.regime(v.data, a.key)}** (growth "
        f"{mem.growth_text(v.data.median(a.key, 'gradient_growth'))} per character, reach "
        f"{mem.reach_text(s.at[a.key, 'median'], _chunk(v, a.key))} chars)"
        for a in v.data.arms) + ".")
    if any(_capped_reach(v, a.key) for a in v.data.arms):
        st.caption(REACH_LIMIT_TEXT)
    st.caption(METRICS["gradient_regime"].quote() + " " + METRICS["gradient_growth"].quote()
               + " " + METRICS["gradient_reach"].quote())


def _num(x: float) -> str:
    return f"{x:g}" if np.isfinite(x) else "no value"


REACH_LIMIT_TEXT = ("\"At least\": the gradient was still above the reach threshold at the "
                    "chunk's first character, the farthest a gradient can be measured; the "
                    "chunk, not the gradient, ends the count.")
HORIZON_LIMIT_TEXT = ("\"At least\": agreement was clear up to the last distance bin "
                      "measured; the held-out text has no longer dependencies to test.")


def _chunk(v: View, key: str) -> int:
    """The arm's TBPTT chunk length (seq_len of its runs)."""
    rows = v.data.of_arm(key)
    return int(rows["seq_len"].max()) if len(rows) else 0


def _capped_reach(v: View, key: str) -> bool:
    r = v.data.median(key, "gradient_reach")
    return bool(np.isfinite(r) and r >= _chunk(v, key) - 1)


def final_loss(v: View) -> None:
    st.subheader("Final held-out loss")
    v.show(v.spec(charts.dots_with_range, v.summary("final_val_loss"), order=v.order,
                  highlight=v.highlight, floor=v.floor, y_title="final held-out loss (nats/char)"))
    no_dot = []  # arms whose median is a failed run's: "all 3" or "2 of its 3" seeds failed
    for a in v.data.arms:
        seeds = v.data.values(a.key, "final_val_loss")
        bad = int((~np.isfinite(seeds)).sum())
        if not np.isfinite(v.data.median(a.key, "final_val_loss")):
            no_dot.append(f"{a.label} (all {bad} of its seeds failed)" if bad == len(seeds)
                          else f"{a.label} ({bad} of its {len(seeds)} seeds failed)")
    st.caption("Dot = median over seeds, a failed seed counting as the worst loss; rule = "
               "min to max of the seeds that finished. The axis starts near the data, not at "
               "0, so small gaps show; the dashed line is the entropy floor."
               + (f" No dot for {and_list(no_dot)}: a median that is a failed run has no "
                  "loss to draw." if no_dot else ""))


def final_loss_vs_params(v: View) -> None:
    st.subheader("Final loss against parameter count")
    s = v.summary("final_val_loss")
    s["params"] = s["key"].map(v.data.runs.groupby("arm")["params"].first())
    v.show(v.spec(charts.points_with_range, s, "params", x_title="trainable parameters (log)",
                  y_title="final held-out loss (nats/char)", log_x=True, order=v.order,
                  highlight=v.highlight, floor=v.floor))


def memory_horizon(v: View) -> None:
    st.subheader("Memory horizon and gradient reach")
    v.show(_horizon_chart(v))
    tables.show(_horizon_table(v))
    capped = [a.label for a in v.data.arms
              if v.data.median(a.key, "memory_horizon") >= mem.BIN_EDGES[-1]]
    st.caption("Median over seeds (seed min to max). "
               + (f"{and_list(capped)}: {HORIZON_LIMIT_TEXT} " if capped else "")
               + (f"{REACH_LIMIT_TEXT} " if any(_capped_reach(v, a.key) for a in v.data.arms)
                  else "")
               + METRICS["memory_horizon"].quote() + " " + METRICS["gradient_reach"].quote())


@chartspec.per_data
def _horizon_chart(v: View) -> dict:
    both = _medians(v, {"memory_horizon": "memory horizon", "gradient_reach": "gradient reach"})
    return v.spec(charts.grouped_bars, both, category="measure", value="value", order=v.order,
                  fmt=".0f", y_title="characters back (median over seeds)")


@chartspec.per_data
def _horizon_table(v: View) -> pd.DataFrame:
    texts = {"memory_horizon": lambda a: mem.horizon_text(v.data.median(a.key,
                                                                         "memory_horizon")),
             "gradient_reach": lambda a: mem.reach_text(v.data.median(a.key, "gradient_reach"),
                                                        _chunk(v, a.key))}
    tab = pd.DataFrame({"arm": v.order})
    for col, text in texts.items():
        s = v.summary(col).set_index("arm")
        tab[METRICS[col].label + " (chars)"] = [
            f"{text(a)} ({_num(s.at[a.label, 'lo'])}-{_num(s.at[a.label, 'hi'])})"
            for a in v.data.arms]
    tab["gradient regime"] = [mem.regime(v.data, a.key) for a in v.data.arms]
    return tab


@chartspec.per_data
def probe_table(v: View) -> pd.DataFrame:
    """Probe accuracy per arm (rows) and distance bin (columns): the median over seeds of
    each run's mean accuracy within the bin."""
    pr = v.data.table("probe").copy()
    pr["bin"] = pr["k"].map(probe_bin)
    per_run = pr.groupby(["arm", "seed", "bin"], as_index=False)[["accuracy", "chance"]].mean()
    return per_run.groupby(["arm", "bin"], as_index=False)[["accuracy", "chance"]].median()


@chartspec.per_data
def _probe_chart(v: View) -> dict:
    pr = v.labelled(v.data.table("probe"))
    return v.spec(charts.line_band, charts.seed_summary(pr, "k", "accuracy"), "k",
                  order=v.order, x_title="characters back (k)", y_title="probe accuracy",
                  highlight=v.highlight)


def probe_bins(v: View) -> None:
    st.subheader("Memory probe accuracy by lookback distance")
    tab = v.labelled(probe_table(v))
    bins = list(PROBE_BIN_LABELS)
    wide = tab.pivot(index="arm", columns="bin", values="accuracy").reindex(
        index=v.order, columns=bins)
    tables.show(wide.map(lambda x: f"{x:.0%}" if pd.notna(x) else "-").rename_axis(
        "arm", axis=0).rename_axis(None, axis=1), index=True)
    v.show(_probe_chart(v))
    chance = tab.groupby("bin")["chance"].median().reindex(bins)
    st.caption(METRICS["probe_accuracy"].quote() + " Best constant guess per bin (median): "
               + ", ".join(f"{b} {c:.0%}" for b, c in chance.items() if pd.notna(c)) + ". "
               + METRICS["memory_horizon"].quote())


def _status_counts(runs: pd.DataFrame) -> str:
    counts = runs["status"].value_counts()
    return ", ".join(f"{counts[s]} {s}" for s in ("ok", "unstable", "diverged") if s in counts)


def hidden_stats(v: View) -> None:
    st.subheader("Hidden-state statistics at the last checkpoint")
    ck = v.data.table("checkpoints")
    last = ck[ck["step"] == ck.groupby("run_id")["step"].transform("max")]
    names = {"h_mean": "mean", "h_std": "std", "h_saturated": "saturated", "h_min": "min",
             "h_max": "max"}
    tab = v.labelled(last.groupby("arm", as_index=False)[list(names)].median())
    tab = tab.rename(columns=names).set_index("arm").reindex(v.order).reset_index()
    at = last.groupby("arm")["step"].median()
    end = int(v.data.runs["steps"].max()) if "steps" in v.data.runs else 0
    tab["at step"] = [(f"{at[a.key]:,.0f}" + (" (before training)" if at[a.key] == 0 else
                                              " (cut short)" if at[a.key] < end else ""))
                      if a.key in at.index else "–" for a in v.data.arms]
    tab["runs"] = [_status_counts(v.data.of_arm(a.key)) for a in v.data.arms]
    tab["saturated when"] = [SATURATION_RULE.get(a.overrides.get("activation", ""), "-")
                             for a in v.data.arms]
    tables.show(tab, fmt={"saturated": lambda x: f"{x:.1%}" if np.isfinite(x) else "–"})
    early = [f"{a.label} (step {at[a.key]:,.0f}"
             + (", the untrained network)" if at[a.key] == 0 else ")")
             for a in v.data.arms if a.key in at.index and at[a.key] < end]
    st.caption("Medians over seeds of the statistics at each run's last checkpoint (\"at "
               f"step\": its median step; training runs {end:,} steps). "
               + (f"The last checkpoint comes early for {and_list(early)}: most of its runs "
                  "diverged and stopped there, so these numbers describe the network before it "
                  "blew up, not a trained one. " if early else "")
               + METRICS["h_saturated_final"].quote())
    st.markdown("**Stability**: " + " · ".join(
        f"{a.label}: {_status_counts(v.data.of_arm(a.key))}" for a in v.data.arms))
    st.caption(METRICS["run_status"].quote())


def grad_norm_log(v: View) -> None:
    st.subheader("Pre-clip gradient norm over training")
    v.show(curve_chart(v, "curves", "grad_norm", log_y=True, y_title="‖∇‖₂ before clipping (log)"))
    st.caption(f"{charts.BAND_TEXT}; each point is a window mean of the global L2 norm of the "
               "gradient, measured before clipping.")


def grad_norm_spikes(v: View) -> None:
    st.subheader("Gradient spikes: the largest gradient norm per window")
    v.show(curve_chart(v, "curves", "grad_norm_max", log_y=True,
                       y_title="largest ‖∇‖₂ per window, before clipping (log)"))
    st.caption(f"{charts.BAND_TEXT}. Each point is the largest pre-clip gradient norm in a "
               f"window of {CURVE_EVERY} steps, so one step's spike shows even when the window's "
               "mean hides it. Clipping does not lower this number (it is measured before the "
               "clip); it caps the step the spike causes, at learning rate x threshold. A curve "
               "that shoots up and stops is a run whose spikes grew until it diverged. "
               + METRICS["grad_norm_peak"].quote())


def clip_fraction(v: View) -> None:
    st.subheader("Fraction of steps clipped over training")
    v.show(curve_chart(v, "curves", "clip_frac", y_title="fraction of steps clipped"))
    s = v.summary("clip_fraction")
    st.markdown("**Overall clip fraction** (all steps): " + "; ".join(
        f"{r.arm} {r.median:.0%}" for r in s.itertuples()))
    always = [r.arm for r in s.itertuples() if r.median >= 0.999]
    if len(always) > 1:  # their lines coincide at 1: say so, or the first ones seem missing
        st.caption(f"{and_list(always)} clip on every step: their lines lie on top of each other "
                   "at 1, so only the last one drawn shows.")


def final_loss_vs_clip(v: View) -> None:
    st.subheader("Final loss against clip threshold")
    s = v.summary("final_val_loss")
    first = v.data.runs.groupby("arm")[["clip", "lr"]].first()
    s["clip"] = s["key"].map(first["clip"])
    s["series"] = s["key"].map(first["lr"]).map(lambda lr: f"lr={lr:g}")
    v.show(v.spec(charts.points_with_range, s, "clip", x_title="clip threshold (log)", log_x=True,
                  y_title="final held-out loss (nats/char)", order=v.order, highlight=v.highlight,
                  floor=v.floor, group="series"))
    if s["series"].nunique() > 1:
        st.caption("A dashed line joins the thresholds of one learning rate. An arm without a "
                   "dot failed in most of its seeds: a failed run has no loss to draw.")


def _medians(v: View, columns: dict[str, str]) -> pd.DataFrame:
    """Long frame (arm label, measure, value) of per-arm medians of run columns."""
    return pd.DataFrame([{"arm": a.label, "measure": name, "value": v.data.median(a.key, col)}
                         for a in v.data.arms for col, name in columns.items()])


def context_accuracy(v: View) -> None:
    st.subheader("Illegal next characters: true context vs own context")
    df = _medians(v, {"illegal_mass_true": "given the true text",
                      "illegal_mass_own": "given its own text"})
    v.show(v.spec(charts.grouped_bars, df, category="measure", value="value", order=v.order,
                  log=True, fmt=".5f", y_title="P(illegal next char), median"))
    legal = _medians(v, {"next_char_legal_true": "true", "next_char_legal_own": "own"})
    top = ", ".join(f"{r.arm} {r.value:.1%} ({r.measure} text)" for r in legal.itertuples())
    st.caption(f"{METRICS['illegal_mass'].quote()} Log scale. The most likely next "
               f"character is legal in: {top}.")


@chartspec.per_data
def _after_bad_chart(v: View) -> dict:
    df = _medians(v, {"p_invalid_after_valid": "after a valid sentence",
                      "p_invalid_after_invalid": "after an invalid sentence"})
    return v.spec(charts.grouped_bars, df, category="measure", value="value", order=v.order,
                  y_title="P(sentence invalid)")


def error_compounding(v: View) -> None:
    st.subheader("How errors compound in free-running text")
    v.show(_error_free_chart(v))
    st.caption("The share of free-running samples with no error yet after each number of "
               f"generated characters ({charts.BAND_TEXT}).")
    st.markdown("**After a bad sentence, is the next one worse?**")
    v.show(_after_bad_chart(v))
    st.caption(METRICS["p_invalid_after_valid"].quote() + " "
               + METRICS["p_invalid_after_invalid"].quote() + " Errors compound when the bar "
               "after an invalid sentence is the taller one.")
    gram = _medians(v, {"free_valid_words": "valid words", "free_valid_sentences":
                        "valid sentences"})
    tables.show(gram.pivot(index="arm", columns="measure", values="value").reindex(v.order)
                .map(lambda x: f"{x:.0%}" if np.isfinite(x) else "–").rename_axis(None, axis=1),
                index=True)
    st.caption("Free-running samples: the model feeds itself its own characters.")


@chartspec.per_data
def _error_free_chart(v: View):
    series = v.data.table("series")
    df = v.labelled(series[series["analysis"] == "error_free_by_length"])
    return v.spec(charts.line_band, charts.seed_summary(df, "x", "y"), "x", order=v.order,
                  x_title="generated characters", highlight=v.highlight,
                  y_title="share of samples still error-free")


def category_separation(v: View) -> None:
    st.subheader("Category separation of word-end hidden states")
    chance = float(np.nanmedian(v.data.runs.get("category_chance", pd.Series([np.nan]))))
    v.show(v.spec(charts.bars_with_range, v.summary("category_separation"), order=v.order,
                  highlight=v.highlight, chance=chance if np.isfinite(chance) else None,
                  y_title="nearest-centroid accuracy"))
    st.caption(METRICS["category_separation"].quote() + " Chance = always guessing the most common "
               "category.")


VIEWS = {
    "loss_curves": loss_curves, "spectral_radius": spectral_radius, "grad_decay": grad_decay,
    "final_loss": final_loss, "final_loss_vs_params": final_loss_vs_params,
    "memory_horizon": memory_horizon, "probe_bins": probe_bins, "hidden_stats": hidden_stats,
    "grad_norm_log": grad_norm_log, "clip_fraction": clip_fraction,
    "grad_norm_spikes": grad_norm_spikes,
    "final_loss_vs_clip": final_loss_vs_clip, "context_accuracy": context_accuracy,
    "error_compounding": error_compounding, "category_separation": category_separation,
    **MEMORY_VIEWS, **EXPOSURE_VIEWS,
}

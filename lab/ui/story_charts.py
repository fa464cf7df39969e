"""The story page's two charts as finished Vega-Lite specs: the held-out loss on the h(k)
ladder with the chosen step marked, and the milestones' timeline (a dot per seed)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from lab.measure.registry import FLOOR
from lab.studies import story as sy
from lab.ui import charts, chartspec
from lab.ui.views import ladder

SEED_COLORS = ["#4c78a8", "#f58518", "#54a24b", "#b279a2", "#9d755d"]


def step_axis(top: float) -> alt.Axis:
    """A step axis reading 0, 100, 500, 1k, 20k: a symlog axis's 1-2-5 ticks on a run of
    1,000 steps or more, Vega's own on a shorter one."""
    return alt.Axis(labelExpr=charts.STEP_LABELS, values=charts.symlog_ticks(top)
                    if top >= 1000 else alt.Undefined)


def loss_on_ladder(data: sy.StoryData, seed: int, step: int) -> dict:
    """Held-out loss over the checkpoints: this seed's line, the seeds' band, the h(k)
    ladder, the entropy floor, and the chosen step marked (a finished spec)."""
    c = data.checkpoints[np.isfinite(data.checkpoints["val_loss"])]
    c = c[c["val_loss"] > 0]
    band = c.groupby("step")["val_loss"].agg(lo="min", hi="max").reset_index()
    mine = c[c["seed"] == seed][["step", "val_loss"]]
    floor = FLOOR
    top = float(c["val_loss"].max()) if len(c) else 1.0
    low, high = charts.log_loss_domain(floor, top)
    y = alt.Scale(type="log", domain=[low, high], nice=False, clamp=True)
    x = alt.Scale(type="symlog", constant=charts.SYMLOG_LINEAR)
    xaxis = step_axis(float(data.steps))
    base = alt.Chart(band).encode(x=alt.X("step:Q", title=charts.STEP_AXIS, scale=x, axis=xaxis))
    layers = [
        base.mark_area(opacity=0.15, color="#4c78a8").encode(
            y=alt.Y("lo:Q", scale=y, title="held-out loss (nats/char, log scale)",
                    axis=charts.y_axis(log=True, domain=(low, high))), y2="hi:Q"),
        alt.Chart(mine).mark_line(point=True, color="#4c78a8").encode(
            x=alt.X("step:Q", scale=x), y=alt.Y("val_loss:Q", scale=y),
            tooltip=[alt.Tooltip("step:Q", format=","),
                     alt.Tooltip("val_loss:Q", title="held-out loss", format=".3f")]),
        alt.Chart(pd.DataFrame({"step": [step]})).mark_rule(color="#e4572e", strokeWidth=2)
        .encode(x=alt.X("step:Q", scale=x)),
    ]
    rungs = ladder(floor, top)
    if not rungs.empty:
        layers.append(charts.ladder_rules(rungs))
    layers.append(charts.floor_rule(floor))
    chart = alt.layer(*layers).properties(width=charts.WIDTH, height=charts.HEIGHT)
    return chart.properties(autosize=chartspec.AUTOSIZE).to_dict()


def timeline_chart(data: sy.StoryData, order: pd.DataFrame) -> dict:
    """One row per milestone in the runs' order: a dot per seed at the step it was reached,
    a rule from the first seed to the last; a seed that never reached it gets a hollow
    mark at the end of training (a finished spec)."""
    steps = data.reached
    label = {m.key: m.short for m in sy.MILESTONES}
    order_labels = [label[k] for k in order["milestone"]]
    dots = steps.assign(label=steps["milestone"].map(label), seed=steps["seed"].map(
        lambda s: f"seed {s}"), reached=steps["step"].notna())
    dots["at"] = dots["step"].fillna(float(data.steps))
    dots["when"] = [f"step {int(s):,}" if r else f"not by step {data.steps:,}"
                    for s, r in zip(dots["step"], dots["reached"], strict=True)]
    spans = dots[dots["reached"]].groupby("label")["at"].agg(lo="min", hi="max").reset_index()
    x = alt.Scale(type="symlog", constant=charts.SYMLOG_LINEAR, domain=[0, data.steps])
    xaxis = step_axis(float(data.steps))
    y = alt.Y("label:N", sort=order_labels, title=None,
              axis=alt.Axis(labelLimit=alt.ExprRef(f"{charts.NARROW} ? 130 : 260")))
    seeds = [f"seed {s}" for s in data.seeds]
    scale = alt.Scale(domain=seeds, range=SEED_COLORS[:len(seeds)])
    color = alt.Color("seed:N", title=None, scale=scale, legend=charts.bottom_legend(seeds))
    rule = alt.Chart(spans).mark_rule(strokeWidth=3, color="#bbb").encode(
        x=alt.X("lo:Q", scale=x, title=charts.STEP_AXIS, axis=xaxis), x2="hi:Q", y=y)
    pts = alt.Chart(dots).mark_point(size=90, strokeWidth=2).encode(
        x=alt.X("at:Q", scale=x), y=y, color=color,
        fill=alt.condition("datum.reached", alt.Fill("seed:N", scale=scale, legend=None),
                           alt.value("white")),
        yOffset=alt.YOffset("seed:N", sort=seeds),
        tooltip=["label:N", "seed:N", alt.Tooltip("when:N", title="reached")])
    chart = alt.layer(rule, pts).properties(width=charts.WIDTH, height=40 * len(order) + 20)
    return chart.properties(autosize=chartspec.AUTOSIZE).to_dict()

"""Altair chart builders: DataFrames in, charts out (no streamlit, so tests can read specs).

Conventions on every chart: a line is the median over seeds and its band spans the
min..max across seeds (BAND_TEXT); a loss chart carries the entropy floor as a dashed,
labelled rule; clicking a legend entry highlights that arm; tooltips give x and value.
"""

from __future__ import annotations

import textwrap

import altair as alt
import numpy as np
import pandas as pd

from lab.studies.prose import and_list
from lab.training.config import EARLY_CHECKPOINTS

BAND_TEXT = "line = median over seeds, band = min to max across seeds"
FLOOR_LABEL = "entropy floor"
WIDTH, HEIGHT = "container", 300
PALETTE = "tableau10"  # distinct, legible on white
CATEGORY_SHADES = ["#444", "#aaa", "#777"]  # a chart's non-arm categories: greys, never an arm's
RULE_COLOR = "#555"  # reference lines (chance, thresholds): grey, never an arm's colour


# 0, 100, 500, 1k, 20k: Vega's "~s" format picks one precision for every tick from their
# spacing, so pinned symlog ticks (100 next to 20,000) read "0k"
STEP_LABELS = ("datum.value >= 1000 ? format(datum.value / 1000, '~g') + 'k' "
               ": format(datum.value, '~g')")


def _x_axis(x: str, values: list[float] | None = None) -> alt.Axis:
    """Integer x axes (steps, k, characters) read as 5, 120, 10k; `values` pins the ticks
    (then labelled by STEP_LABELS)."""
    if values is not None:
        return alt.Axis(labelExpr=STEP_LABELS, values=values)
    return alt.Axis(format="~s")


SYMLOG_LINEAR = 100  # a symlog step axis is linear below this many steps, logarithmic above


STEP_AXIS = f"step (log scale past {SYMLOG_LINEAR})"
CHECKPOINT_AXIS_TEXT = (
    f"Checkpoints at step 0, at steps {', '.join(f'{m:,}' for m in EARLY_CHECKPOINTS)} and "
    f"every 1,000 after; the step axis is linear up to {SYMLOG_LINEAR} and logarithmic beyond, "
    "so the first thousand steps, where most of the learning happens, get as much room as the "
    "rest.")


def symlog_ticks(top: float) -> list[float]:
    """0 and 1-2-5 steps per decade from SYMLOG_LINEAR up to `top` (a step axis's ticks)."""
    ticks = [0.0] + [m * d for d in DECADES if d >= SYMLOG_LINEAR for m in (1.0, 2.0, 5.0)]
    return [t for t in ticks if t <= top]


# log-axis ticks read 1e8 and 1e-3 rather than 100000000 and 1e+1
LOG_LABELS = ("datum.value >= 1000 || datum.value < 0.01 ? replace(replace(format(datum.value, "
              "'.0e'), 'e+', 'e'), 'e-0', 'e-') : format(datum.value, '~g')")


DECADES = [10.0 ** e for e in range(-15, 10)]
MID_TICKS = [m * d for d in DECADES for m in (2.0, 5.0)]  # only on axes under 2 decades


def y_axis(log: bool = False, percent: bool = False,
           domain: tuple[float, float] | None = None) -> alt.Axis:
    """A y axis whose ticks read well: 1e8 style on log scales, 50% on accuracies. A log
    axis ticks at decades inside `domain` (its scale's, or the data's span), and at 2 and 5
    between them only when the axis spans under two decades: mixing both on a wide axis
    left vega to drop overlapping labels unevenly (10, 0.5, 1e-3, 1e-7)."""
    if percent:
        return alt.Axis(format=".0%")
    if not log:
        return alt.Axis(format="~g")
    if domain is None:
        return alt.Axis(labelExpr=LOG_LABELS, values=DECADES)
    lo, hi = domain
    narrow = hi <= 100 * lo
    ticks = [t for t in DECADES + (MID_TICKS if narrow else []) if lo <= t <= hi]
    return alt.Axis(labelExpr=LOG_LABELS, values=sorted(ticks))


MAX_X = 200  # distinct x values a curve keeps: the page carries and draws less, same shape


def thin(df: pd.DataFrame, x: str, most: int = MAX_X) -> pd.DataFrame:
    """df restricted to at most `most` evenly spaced distinct values of x (the first and
    last kept), so a 600-point training curve reaches the browser as 200."""
    xs = np.sort(df[x].dropna().unique())
    if len(xs) <= most:
        return df
    keep = xs[np.unique(np.linspace(0, len(xs) - 1, most).round().astype(int))]
    return df[df[x].isin(keep)]


def seed_summary(df: pd.DataFrame, x: str, y: str, group: str = "arm") -> pd.DataFrame:
    """Per (group, x): median, min (lo) and max (hi) of y across seeds, and seeds counted;
    at most MAX_X distinct x values (thin)."""
    g = thin(df, x).dropna(subset=[y]).groupby([group, x], sort=False)[y]
    out = g.agg(median="median", lo="min", hi="max", n="count").reset_index()
    return out.sort_values([group, x], kind="stable")


ARM_PICK = "arm_pick"  # the legend-bound arm selection's name (the page reads its clicks)


def _arm_selection(highlight: str | None) -> alt.Parameter:
    value = [{"arm": highlight}] if highlight else alt.Undefined
    return alt.selection_point(name=ARM_PICK, fields=["arm"], bind="legend", value=value)


# a Vega expression, true on a chart narrower than a tablet (a phone's 390 px)
NARROW = "width < 500"
# below the plot, two entries a row: a legend at the side took most of a phone's 390 px and
# squeezed the plot to a sliver. Two labels longer than LEGEND_SHORT characters side by side
# run past a phone-width chart's right edge, so such a legend takes one entry a row there.
LEGEND_COLUMNS, LEGEND_SHORT = 2, 20


def bottom_legend(labels: list[str] | None = None, **kwargs) -> alt.Legend:
    """The legend every chart uses: below the plot, LEGEND_COLUMNS entries a row; one on a
    narrow chart unless every label (None: not known) is short."""
    short = labels is not None and max(map(len, labels), default=0) <= LEGEND_SHORT
    columns = LEGEND_COLUMNS if short else alt.ExprRef(f"{NARROW} ? 1 : {LEGEND_COLUMNS}")
    return alt.Legend(orient="bottom", columns=columns, columnPadding=16, labelLimit=240,
                      **kwargs)


def _color(order: list[str] | None) -> alt.Color:
    scale = alt.Scale(domain=order, scheme=PALETTE) if order else alt.Scale(scheme=PALETTE)
    return alt.Color("arm:N", title="arm", sort=order, scale=scale,
                     legend=bottom_legend(order, symbolOpacity=1))


def _emphasis(highlight: str | None, on: float = 1.0):
    """Opacity: full for the highlighted arm (or every arm when none is), faint for others;
    the same highlight as the legend-bound line charts, for charts without a legend click."""
    if not highlight:
        return alt.value(on)
    return alt.condition(alt.datum.arm == highlight, alt.value(on), alt.value(0.2))


def floor_rule(floor: float) -> alt.LayerChart:
    """The entropy floor: a dashed horizontal rule with its label and value, both written
    into the spec itself (not the data), so any loss chart can be checked for it."""
    label = f"{FLOOR_LABEL} {floor:.3f}"
    base = alt.Chart(pd.DataFrame({"floor": [floor]}))
    rule = base.mark_rule(strokeDash=[6, 4], color="#444", size=1.5,
                          description=label).encode(
        y=alt.YDatum(floor), tooltip=[alt.Tooltip("floor:Q", title=FLOOR_LABEL, format=".4f")])
    # under the line, where the curves do not go (above it, curves falling to the floor
    # crossed it)
    text = base.mark_text(align="left", baseline="top", dx=4, dy=4, color="#444",
                          fontSize=11).encode(
        y=alt.YDatum(floor), x=alt.value(4), text=alt.value(label))
    return rule + text


# room under the floor for its label: 18 px of a plot at least 260 px tall
FLOOR_ROOM = 18 / 260


def log_loss_domain(floor: float, top: float) -> tuple[float, float]:
    """A log loss axis from under the floor (the last gap to it is what matters, and the
    floor's label sits below it) to above the curves' top, with headroom: a plateau at the
    top (random init at uniform guessing, ln V) reads as a plateau, not as a line clipped by
    the axis."""
    high = 1.15 * max(top, 1.5 * floor)
    # log(floor / low) = FLOOR_ROOM * log(high / low), solved for low
    low = floor * (high / floor) ** (-FLOOR_ROOM / (1 - FLOOR_ROOM))
    return min(0.92 * floor, low), high


def floor_domain(values: pd.Series, floor: float | None) -> list[float]:
    """A linear axis from the values (and the floor) with a margin each side, FLOOR_ROOM of
    the axis, under the floor for its label: an axis that starts near the data, not at 0, so
    small gaps show."""
    vals = [float(x) for x in values.dropna()]
    lo = min([*vals, *([floor] if floor is not None else [])], default=0.0)
    hi = max(vals, default=1.0)
    pad = FLOOR_ROOM / (1 - 2 * FLOOR_ROOM) * (hi - lo or abs(hi) or 1.0)  # ~8% a side
    return [lo - pad, hi + pad]


COINCIDE_TOL = 0.01  # two median curves closer than 1% of the chart's y span coincide
DASHES = ([1, 0], [6, 4], [2, 3], [8, 3, 2, 3], [1, 4])  # solid first, then distinct dashes


def coinciding(summary: pd.DataFrame, x: str, log_y: bool = False,
               order: list[str] | None = None) -> list[list[str]]:
    """Groups of arms (in `order`) whose median curves lie within COINCIDE_TOL of the y span
    of each other at every x both have: drawn plainly, the last one hides the others."""
    med = summary.pivot_table(index=x, columns="arm", values="median", aggfunc="first")
    med = med.where(np.isfinite(med))
    if log_y:
        med = np.log10(med.where(med > 0))
    arms = [a for a in (order or list(med.columns)) if a in med.columns
            and med[a].notna().any()]
    span = float(np.nanmax(med.to_numpy()) - np.nanmin(med.to_numpy())) if arms else 0.0
    tol = COINCIDE_TOL * span if span > 0 else 1e-9
    groups: list[list[str]] = []
    for a in arms:
        for g in groups:
            d = (med[a] - med[g[0]]).abs().dropna()
            if len(d) and float(d.max()) <= tol:
                g.append(a)
                break
        else:
            groups.append([a])
    return [g for g in groups if len(g) > 1]


def _dash(order: list[str] | None, groups: list[list[str]]) -> alt.StrokeDash:
    """Solid lines, except arms that coincide with an earlier one: each gets its own dash, so
    the lines on top of each other show both colours."""
    dash = {a: DASHES[i % len(DASHES)] for g in groups for i, a in enumerate(g)}
    arms = order or sorted(dash)
    return alt.StrokeDash("arm:N", legend=None, scale=alt.Scale(
        domain=arms, range=[dash.get(a, DASHES[0]) for a in arms]))


def curve_notes(summary: pd.DataFrame, x: str, log_y: bool,
                order: list[str] | None) -> list[str]:
    """What a line chart cannot show by itself: arms drawn on top of each other (dashed),
    and arms with no line (no finite value: every run diverged before its first point)."""
    notes = [f"{and_list(g)} coincide (dashed)." for g in coinciding(summary, x, log_y, order)]
    drawn = set(summary.loc[np.isfinite(summary["median"].astype(float)), "arm"])
    missing = [a for a in (order or []) if a not in drawn]
    if missing:
        notes.append(f"No line for {and_list(missing)}: no finite value to draw.")
    return notes


NOTE_CHARS = 48  # a chart note's line: fits a phone-width chart (~330 px at 11 px type)


def note_lines(notes: list[str]) -> list[str]:
    """Notes wrapped into lines of at most NOTE_CHARS characters: a chart title does not
    wrap, and a long one would widen the chart past a phone's screen."""
    return [line for n in notes for line in textwrap.wrap(n, NOTE_CHARS)]


def _stop_marks(stops: pd.DataFrame, x: str, yscale, order: list[str] | None) -> list:
    """Where diverged runs stopped: a large outlined cross per run, and one label per arm
    at its first stop ("relu: 2 diverged, steps 11, 13"), stacked so labels stay apart and
    turned inwards from the plot's nearer edge: a cross alone was easy to miss."""
    color = alt.Color("arm:N", sort=order, legend=None, scale=alt.Scale(
        domain=order, scheme=PALETTE) if order else alt.Scale(scheme=PALETTE))
    crosses = alt.Chart(stops).mark_point(shape="cross", size=220, filled=True, stroke="black",
                                          strokeWidth=1).encode(
        x=f"{x}:Q", y=alt.Y("y:Q", scale=yscale), color=color,
        tooltip=[alt.Tooltip("arm:N"), alt.Tooltip("note:N", title="stopped")])
    first = stops.sort_values(x).groupby("arm", sort=False)
    span = (float(stops[x].min()), float(stops[x].max()))
    rows = []
    for i, (arm, g) in enumerate(first):
        at = ", ".join(f"{s:,.0f}" for s in sorted(g["at"]))
        rows.append({"arm": arm, x: g[x].iloc[0], "y": g["y"].iloc[0], "row": i,
                     "label": f"{arm}: {len(g)} diverged, step{'s' if len(g) > 1 else ''} {at}"})
    layers = [crosses]
    for row in rows:  # one layer per label: its own offset below the last
        right = span[1] > span[0] and row[x] > (span[0] + span[1]) / 2
        layers.append(alt.Chart(pd.DataFrame([row])).mark_text(
            align="right" if right else "left", dx=-10 if right else 10,
            dy=12 + 12 * row["row"], baseline="top", fontSize=10).encode(
            x=f"{x}:Q", y=alt.Y("y:Q", scale=yscale), color=color, text="label:N"))
    return layers


def line_band(summary: pd.DataFrame, x: str, *, x_title: str, y_title: str,
              order: list[str] | None = None, log_y: bool = False, log_x: bool = False,
              floor: float | None = None, highlight: str | None = None,
              stops: pd.DataFrame | None = None, rule: tuple[float, str] | None = None,
              title: str = "", percent_y: bool = False,
              ladder: pd.DataFrame | None = None, symlog_x: bool = False) -> alt.LayerChart:
    """Median line and min-max band per arm over x (a seed_summary frame).

    floor adds the dashed entropy floor; rule (y, label) another labelled reference line;
    stops (arm, x, y, note) marks where diverged runs stopped with a cross; log_y/log_x
    put that axis on a log scale; symlog_x makes x linear below SYMLOG_LINEAR and logarithmic
    above (checkpoints at 0, 100, 200, 500, 1,000 ... spread out, step 0 kept); percent_y writes
    y ticks as percentages; ladder (k, h) draws faint finite-context floors h(k) (ladder_rules).
    """
    sel = _arm_selection(highlight)
    yscale = alt.Scale(type="log") if log_y else alt.Scale(zero=False)
    domain = None
    if log_y and floor is not None and len(summary):
        domain = log_loss_domain(floor, float(summary["hi"].max()))
        yscale = alt.Scale(type="log", domain=list(domain), nice=False, clamp=True)
    elif log_y and len(summary):  # the data's span, for the ticks only
        vals = pd.concat([summary["lo"], summary["hi"], summary["median"]]).to_numpy(float)
        vals = vals[np.isfinite(vals) & (vals > 0)]
        domain = (float(vals.min()), float(vals.max())) if len(vals) else None
    xscale, xticks = (alt.Scale(type="log") if log_x else alt.Undefined), None
    if symlog_x:
        xscale = alt.Scale(type="symlog", constant=SYMLOG_LINEAR)
        xticks = symlog_ticks(float(summary[x].max()) if len(summary) else 0.0)
    base = alt.Chart(summary).encode(
        x=alt.X(f"{x}:Q", title=x_title, scale=xscale, axis=_x_axis(x, xticks)),
        color=_color(order))
    tips = [alt.Tooltip("arm:N"), alt.Tooltip(f"{x}:Q", title=x_title),
            alt.Tooltip("median:Q", format=".4g"), alt.Tooltip("lo:Q", title="min", format=".4g"),
            alt.Tooltip("hi:Q", title="max", format=".4g"), alt.Tooltip("n:Q", title="seeds")]
    band = base.mark_area(opacity=0.18).encode(
        y=alt.Y("lo:Q", title=y_title, scale=yscale, axis=y_axis(log_y, percent_y, domain)),
        y2="hi:Q",
        opacity=alt.condition(sel, alt.value(0.2), alt.value(0.03)))
    few = summary.groupby("arm")[x].nunique().max() <= 30 if len(summary) else True
    notes = curve_notes(summary, x, log_y, order) if len(summary) else []
    line = base.mark_line(strokeWidth=2, point=bool(few)).encode(
        y=alt.Y("median:Q", title=y_title, scale=yscale, axis=y_axis(log_y, percent_y, domain)),
        strokeDash=_dash(order, coinciding(summary, x, log_y, order) if len(summary) else []),
        tooltip=tips,
        opacity=alt.condition(sel, alt.value(1.0), alt.value(0.15))).add_params(sel)
    layers = [band, line]
    if stops is not None and not stops.empty:
        layers += _stop_marks(stops, x, yscale, order)
    if rule is not None:
        layers.append(_labelled_rule(*rule))
    if ladder is not None and not ladder.empty:
        layers.append(ladder_rules(ladder))
    if floor is not None:
        layers.append(floor_rule(floor))
    if notes:  # said on the chart itself (a title with no text draws no subtitle)
        lines = note_lines(notes)
        title = (alt.TitleParams(title, subtitle=lines, subtitleFontSize=11, anchor="start")
                 if title else alt.TitleParams(lines, fontSize=11, fontWeight="normal",
                                               anchor="start"))
    return alt.layer(*layers).properties(width=WIDTH, height=HEIGHT,
                                         title=title)


LADDER_TEXT = ("faint grey rules: h(k), the best loss possible with only the last k "
               "characters of memory (finite-context floors)")


def ladder_rules(ladder: pd.DataFrame) -> alt.LayerChart:
    """Faint horizontal rules at h(k) for the rows of ladder (k, h), labelled 'k=4' just
    right of the plot: "best possible with k characters of memory"."""
    df = ladder.assign(label=[f"k={int(k)}" for k in ladder["k"]])
    base = alt.Chart(df)
    tips = [alt.Tooltip("k:Q", title="chars of memory"),
            alt.Tooltip("h:Q", title="best possible loss h(k)", format=".3f")]
    rule = base.mark_rule(color="#bbb", strokeWidth=1, strokeDash=[1, 2]).encode(
        y="h:Q", tooltip=tips)
    # right of the plot, where no curve runs (inside it, curves ending near a rung crossed
    # its label)
    text = base.mark_text(align="left", baseline="middle", dx=3, color="#999",
                          fontSize=10).encode(y="h:Q", x=alt.value("width"), text="label:N")
    return rule + text


def floors_curve(floors: pd.DataFrame, floor: float, marks: tuple[int, ...]) -> alt.LayerChart:
    """h(k) against k (k >= 1) with the entropy floor; the k in marks get a labelled dot."""
    df = floors[floors["k"] >= 1]
    base = alt.Chart(df).encode(x=alt.X("k:Q", title="k: characters of context the predictor "
                                        "sees", axis=_x_axis("k")))
    y = alt.Y("h:Q", title="best possible loss h(k), nats/char",
              scale=alt.Scale(domain=floor_domain(df["h"], floor), nice=False), axis=y_axis())
    tips = [alt.Tooltip("k:Q", title="characters of context"),
            alt.Tooltip("h:Q", title="h(k)", format=".3f")]
    line = base.mark_line(color="#4c78a8", point=alt.OverlayMarkDef(size=18)).encode(
        y=y, tooltip=tips)
    marked = alt.Chart(df[df["k"].isin(marks)].assign(
        label=lambda d: [f"h({int(k)}) = {h:.3f}" for k, h in zip(d["k"], d["h"], strict=True)]))
    dots = marked.mark_point(filled=True, size=70, color="#4c78a8").encode(
        x="k:Q", y="h:Q", tooltip=tips)
    text = marked.mark_text(align="left", dx=6, dy=-8, fontSize=12).encode(
        x="k:Q", y="h:Q", text="label:N")
    return alt.layer(line, dots, text, floor_rule(floor)).properties(width=WIDTH, height=HEIGHT)


# arm names under a per-arm chart: level where they fit, slanted on a narrow chart (at 390 px
# Vega dropped every other one as overlapping)
ARM_AXIS = alt.Axis(labelAngle=alt.ExprRef(f"{NARROW} ? -35 : 0"), labelLimit=160)


def dots_with_range(summary: pd.DataFrame, *, y_title: str, order: list[str] | None = None,
                    floor: float | None = None, title: str = "",
                    highlight: str | None = None) -> alt.LayerChart:
    """A dot per arm at the median over seeds and a min-max rule (summary: arm, median, lo,
    hi, n), on an axis that starts near the data (not at 0), so small gaps stay visible;
    the floor, when given, is drawn and kept inside the axis."""
    vals = pd.concat([summary["lo"], summary["hi"], summary["median"]])
    scale = alt.Scale(domain=floor_domain(vals, floor), zero=False, nice=False)
    base = alt.Chart(summary).encode(x=alt.X("arm:N", sort=order, title=None,
                                             axis=ARM_AXIS))
    tips = [alt.Tooltip("arm:N"), alt.Tooltip("median:Q", format=".4g"),
            alt.Tooltip("lo:Q", title="min", format=".4g"),
            alt.Tooltip("hi:Q", title="max", format=".4g"), alt.Tooltip("n:Q", title="seeds")]
    rng = base.mark_rule(size=3).encode(y=alt.Y("lo:Q", scale=scale, title=y_title),
                                        y2="hi:Q", color=_color(order), tooltip=tips,
                                        opacity=_emphasis(highlight))
    dots = base.mark_point(filled=True, size=160).encode(
        y=alt.Y("median:Q", scale=scale), color=_color(order), tooltip=tips,
        opacity=_emphasis(highlight))
    text = base.mark_text(dx=14, align="left", fontSize=12).encode(
        y=alt.Y("median:Q", scale=scale), text=alt.Text("median:Q", format=".3f"))
    layers = [rng, dots, text]
    if floor is not None:
        layers.append(floor_rule(floor))
    return alt.layer(*layers).properties(width=WIDTH, height=HEIGHT,
                                         title=title)


def bars_with_range(summary: pd.DataFrame, *, y_title: str, order: list[str] | None = None,
                    floor: float | None = None, chance: float | None = None,
                    log_y: bool = False, title: str = "",
                    highlight: str | None = None) -> alt.LayerChart:
    """A bar per arm at the median over seeds, a min-max rule over it (summary: arm, median,
    lo, hi, n); optional entropy floor or chance line."""
    yscale = alt.Scale(type="log") if log_y else alt.Undefined
    base = alt.Chart(summary).encode(x=alt.X("arm:N", sort=order, title=None,
                                             axis=ARM_AXIS))
    tips = [alt.Tooltip("arm:N"), alt.Tooltip("median:Q", format=".4g"),
            alt.Tooltip("lo:Q", title="min", format=".4g"),
            alt.Tooltip("hi:Q", title="max", format=".4g"), alt.Tooltip("n:Q", title="seeds")]
    bars = base.mark_bar().encode(
        y=alt.Y("median:Q", title=y_title, scale=yscale), color=_color(order), tooltip=tips,
        opacity=_emphasis(highlight, 0.8))
    rng = base.mark_rule(color="#222", size=2).encode(y="lo:Q", y2="hi:Q", tooltip=tips)
    layers = [bars, rng]
    if floor is not None:
        layers.append(floor_rule(floor))
    if chance is not None:
        layers.append(_labelled_rule(chance, f"chance {chance:.2f}"))
    return alt.layer(*layers).properties(width=WIDTH, height=HEIGHT,
                                         title=title)


def _labelled_rule(y: float, label: str) -> alt.LayerChart:
    """A dotted reference line (chance, a threshold) labelled at its left end; the label is
    drawn over a white halo, so a curve or a bar crossing it leaves it legible."""
    base = alt.Chart(pd.DataFrame({"y": [y], "label": [label]}))
    text = {"align": "left", "dx": 4, "dy": -7}
    where = {"y": "y:Q", "x": alt.value(4), "text": "label:N"}
    return (base.mark_rule(strokeDash=[2, 3], color=RULE_COLOR).encode(y="y:Q")
            + base.mark_text(**text, stroke="white", strokeWidth=4, strokeJoin="round",
                             ).encode(**where)
            + base.mark_text(**text, color=RULE_COLOR).encode(**where))


def points_with_range(summary: pd.DataFrame, x: str, *, x_title: str, y_title: str,
                      order: list[str] | None = None, log_x: bool = False,
                      floor: float | None = None, title: str = "",
                      highlight: str | None = None, group: str | None = None) -> alt.LayerChart:
    """Median point per arm at a numeric x (e.g. params, clip), a min-max rule, a joining
    line (one per value of the `group` column if given, e.g. a learning rate); summary has
    arm, x, median, lo, hi, n."""
    xscale = alt.Scale(type="log") if log_x else alt.Scale(zero=False)
    # a log axis ticks at the arms' own values (its decades and 2s and 5s matched none of
    # clip = 0.5, 1, 5, 10, 50 but 10)
    xaxis = alt.Axis(values=sorted(summary[x].dropna().unique().tolist()), format="~g") \
        if log_x else alt.Undefined
    base = alt.Chart(summary).encode(x=alt.X(f"{x}:Q", title=x_title, scale=xscale,
                                             axis=xaxis))
    tips = [alt.Tooltip("arm:N"), alt.Tooltip(f"{x}:Q", title=x_title),
            alt.Tooltip("median:Q", format=".4g"), alt.Tooltip("lo:Q", title="min", format=".4g"),
            alt.Tooltip("hi:Q", title="max", format=".4g")]
    yscale = (alt.Scale(zero=False) if floor is None else alt.Scale(
        domain=floor_domain(pd.concat([summary["lo"], summary["hi"]]), floor), nice=False))
    path = base.mark_line(color="#999", strokeDash=[3, 3]).encode(
        y=alt.Y("median:Q", title=y_title, scale=yscale),
        **({"detail": f"{group}:N"} if group else {}))
    rng = base.mark_rule(size=2).encode(y="lo:Q", y2="hi:Q", color=_color(order),
                                        opacity=_emphasis(highlight))
    pts = base.mark_point(filled=True, size=90).encode(
        y="median:Q", color=_color(order), tooltip=tips, opacity=_emphasis(highlight))
    layers = [path, rng, pts]
    if floor is not None:
        layers.append(floor_rule(floor))
    return alt.layer(*layers).properties(width=WIDTH, height=HEIGHT,
                                         title=title)


def log_base(values: pd.Series) -> float:
    """Where bars start on a log axis, which has no zero: the decade at or below the smallest
    positive value (a bar left to start at 0 made Vega drop the whole chart)."""
    positive = values[values > 0]
    return float(10.0 ** np.floor(np.log10(positive.min()))) if len(positive) else 1e-6


def grouped_bars(df: pd.DataFrame, *, category: str, value: str, y_title: str,
                 order: list[str] | None = None, title: str = "", log: bool = False,
                 fmt: str = ".3f") -> alt.Chart:
    """Bars of `value` per arm (x offset by `category`), e.g. true vs own context; log for
    values spanning decades (the bars then start at the smallest value's decade, since a
    log axis has no zero)."""
    extra = {"y2": alt.datum(log_base(df[value]))} if log else {}
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("arm:N", sort=order, title=None, axis=alt.Axis(labelAngle=0, labelLimit=200)),
        xOffset=alt.XOffset(f"{category}:N"),
        y=alt.Y(f"{value}:Q", title=y_title,
                scale=alt.Scale(type="log") if log else alt.Undefined),
        **extra,
        color=alt.Color(f"{category}:N", title=None, scale=alt.Scale(range=CATEGORY_SHADES),
                        legend=bottom_legend(sorted(map(str, df[category].unique())))),
        tooltip=["arm:N", f"{category}:N", alt.Tooltip(f"{value}:Q", format=fmt)],
    ).properties(width=WIDTH, height=HEIGHT, title=title)


HEAT_CLIP_QUANTILE = 0.8  # the colour scale ends here, so one bad cell cannot flatten the rest


def heatmap(df: pd.DataFrame, *, x: str, y: str, value: str, value_title: str,
            best: tuple | None = None, title: str = "") -> alt.LayerChart:
    """Cells x by y coloured by value (lower = darker is better), value printed in each
    cell, the best cell outlined; cells whose value is NaN are grey and say "failed". The
    colour scale spans min..HEAT_CLIP_QUANTILE of the values: cells beyond it take the
    scale's end colour and their printed value gets a "▲"."""
    ok = df[df[value].notna()]
    lo, hi = float(ok[value].min()), float(ok[value].quantile(HEAT_CLIP_QUANTILE))
    clipped = hi > lo and bool((ok[value] > hi).any())
    ok = ok.assign(label=[f"{v:.3f}" + (" ▲" if clipped and v > hi else "") for v in ok[value]])
    base = alt.Chart(ok).encode(x=alt.X(f"{x}:O", title=x, axis=alt.Axis(labelAngle=0)),
                                y=alt.Y(f"{y}:O", title=y))
    scale = (alt.Scale(scheme="viridis", domain=[lo, hi], clamp=True) if clipped
             else alt.Scale(scheme="viridis"))
    legend = [value_title, "▲: beyond the scale"] if clipped else value_title
    cells = base.mark_rect().encode(  # legend below: at the side it squeezed a phone's cells
        color=alt.Color(f"{value}:Q", title=legend, scale=scale,
                        legend=alt.Legend(orient="bottom", direction="horizontal")),
        tooltip=[f"{x}:O", f"{y}:O", alt.Tooltip(f"{value}:Q", format=".4f")])
    middle = (lo + hi) / 2 if clipped else float(ok[value].median())
    text = base.mark_text(fontSize=alt.ExprRef(f"{NARROW} ? 10 : 13")).encode(
        text="label:N",
        color=alt.condition(f"datum['{value}'] > {middle:.6g}",
                            alt.value("black"), alt.value("white")))
    failed = alt.Chart(df[df[value].isna()]).encode(x=f"{x}:O", y=f"{y}:O")
    text = text + failed.mark_rect(color="#ddd") + failed.mark_text(fontSize=12).encode(
        text=alt.value("failed"))
    layers = [cells, text]
    if best is not None:
        hit = df[(df[x] == best[0]) & (df[y] == best[1])]
        layers.append(alt.Chart(hit).mark_rect(fill=None, stroke="#e4572e", strokeWidth=4)
                      .encode(x=f"{x}:O", y=f"{y}:O"))
    return alt.layer(*layers).properties(width=WIDTH, height=260, title=title)


def category_color(categories: list[str], shown: list[str] | None = None) -> alt.Color:
    """One colour per word category, the same on every chart of the page; the legend sits
    below the plot (at the side it squeezed a phone-width plot to a sliver) and lists
    `shown` (default: every category)."""
    legend = bottom_legend(shown or categories, title="category",
                           **({} if shown is None else {"values": shown}))
    return alt.Color("category:N", scale=alt.Scale(domain=categories, scheme="tableau20"),
                     legend=legend)


def cosine_bars(df: pd.DataFrame, *, categories: list[str], title: str = "") -> alt.Chart:
    """Cosine similarity of zog to every word (df: word, category, cosine), sorted; the
    legend lists the categories that have a bar."""
    shown = [c for c in categories if c in set(df["category"])]
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("word:N", sort="-y", title=None,
                # every word fits at full width; on a phone every other one is dropped
                # until none overlap (the rest have tooltips)
                axis=alt.Axis(labelAngle=-50, labelFontSize=10,
                              labelOverlap=alt.ExprRef(f"{NARROW} ? 'parity' : false"))),
        y=alt.Y("cosine:Q", title="cosine similarity to zog"),
        color=category_color(categories, shown),
        tooltip=["word:N", "category:N", alt.Tooltip("cosine:Q", format=".3f"), "rank:Q"],
    ).properties(width=WIDTH, height=HEIGHT, title=title)


PROJECTION_LABELS = 6  # words labelled on the projection besides zog and the replaced one
PROJECTION_HEIGHT = 420
# a label's box in pixels: 7 px a character wide, 14 px tall, on a plot at least 300 px wide
# (the projection sits in half a column at full width, and fills a phone's)
LABEL_CHAR_PX, LABEL_LINE_PX, LABEL_PLOT_PX = 7, 14, 300


def apart(df: pd.DataFrame, plot: pd.DataFrame, text: str = "word") -> pd.DataFrame:
    """The rows of df (x, y, text; most important first) whose labels, drawn above their
    points, overlap no label of a row before them on the narrowest plot of every point of
    `plot` (x, y); the rest keep their tooltips."""
    span_x = float(np.ptp(plot["x"])) or 1.0
    span_y = float(np.ptp(plot["y"])) or 1.0
    px_x, px_y = LABEL_PLOT_PX / span_x, PROJECTION_HEIGHT / span_y  # pixels per unit
    kept: list[tuple[float, float, float]] = []  # x px, y px, half width px
    rows = []
    for i, (x, y, word) in enumerate(zip(df["x"], df["y"], df[text], strict=True)):
        cx, cy, half = x * px_x, y * px_y, LABEL_CHAR_PX * len(str(word)) / 2
        if all(abs(cx - kx) >= half + kh or abs(cy - ky) >= LABEL_LINE_PX
               for kx, ky, kh in kept):
            kept.append((cx, cy, half))
            rows.append(i)
    return df.iloc[rows]


def projection(df: pd.DataFrame, *, replaced: str, categories: list[str],
               title: str = "") -> alt.LayerChart:
    """2-D projection of word-end states coloured by category; zog and the word it
    replaced are drawn large and labelled, with those of zog's nearest few words (by cosine)
    whose labels do not overlap (`apart`); every word has a tooltip."""
    base = alt.Chart(df).encode(x=alt.X("x:Q", title="PC 1"), y=alt.Y("y:Q", title="PC 2"))
    pts = base.mark_circle(size=90, opacity=0.85).encode(
        color=category_color(categories),
        tooltip=["word:N", "category:N", alt.Tooltip("cosine:Q", format=".3f")])
    near = df[~df["word"].isin(["zog", replaced])].nlargest(PROJECTION_LABELS, "cosine")
    first = [df[df["word"] == w] for w in ("zog", replaced)]
    named = apart(pd.concat([*first, near]), df)  # zog, the replaced word, nearest first
    labels = alt.Chart(named).mark_text(dy=-18, fontSize=12, color="#222").encode(
        x="x:Q", y="y:Q", text="word:N")
    focus = df[df["word"].isin(["zog", replaced])]
    star = alt.Chart(focus).mark_point(shape="diamond", size=400, strokeWidth=3,
                                       color="#e4572e").encode(x="x:Q", y="y:Q",
                                                               tooltip=["word:N"])
    return alt.layer(pts, labels, star).properties(
        width=WIDTH, height=PROJECTION_HEIGHT, title=title)


def expectation_bars(summary: pd.DataFrame, *, order: list[str], classes: dict[str, str],
                     title: str = "") -> alt.LayerChart:
    """What a network expects after "the <subject> ", one horizontal bar per subject (summary:
    arm = subject, median, lo, hi, n over seeds), coloured by the subject's class (`classes`:
    subject -> 'human' / 'animal' / 'new word'), a min-max rule over seeds and a rule at 0
    (no preference). Right of 0: human verbs likelier; left: animal verbs."""
    df = summary.assign(cls=summary["arm"].map(classes))
    base = alt.Chart(df).encode(y=alt.Y("arm:N", sort=order, title=None))
    tips = [alt.Tooltip("arm:N", title="subject"), alt.Tooltip("cls:N", title="class"),
            alt.Tooltip("median:Q", format=".2f"), alt.Tooltip("lo:Q", title="min", format=".2f"),
            alt.Tooltip("hi:Q", title="max", format=".2f"), alt.Tooltip("n:Q", title="seeds")]
    kinds = ["human", "animal", "new word"]
    bars = base.mark_bar().encode(
        x=alt.X("median:Q", title="log10 P(human verb) / P(animal verb)"),
        color=alt.Color("cls:N", title="class", sort=kinds,
                        scale=alt.Scale(domain=kinds, range=["#4e79a7", "#f28e2b", "#444"]),
                        legend=bottom_legend(kinds)), tooltip=tips)
    rng = base.mark_rule(color="#222", size=2).encode(x="lo:Q", x2="hi:Q", tooltip=tips)
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color=RULE_COLOR).encode(x="x:Q")
    return alt.layer(bars, rng, zero).properties(width=WIDTH, height=18 * len(order) + 40,
                                                 title=title)

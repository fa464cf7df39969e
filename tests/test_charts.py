"""Chart builders on small frames: median line, min-max band, entropy floor, log scales,
diverged-run markers, legend highlighting."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lab.ui import charts

FLOOR = 0.3196


def _curves() -> pd.DataFrame:
    rows = [(arm, seed, step, loss0 - step / 1000 + 0.01 * seed)
            for arm, loss0 in (("a", 3.0), ("b", 2.5)) for seed in (42, 43, 44)
            for step in (50, 100, 150)]
    return pd.DataFrame(rows, columns=["arm", "seed", "step", "loss"])


def _layers(chart) -> list[dict]:
    """Every leaf layer of a chart's Vega-Lite spec, flattened."""
    out, todo = [], [chart.to_dict()]
    while todo:
        node = todo.pop()
        if "layer" in node:
            todo.extend(node["layer"])
        else:
            out.append(node)
    return out


def _mark(layer: dict) -> str:
    m = layer.get("mark")
    return m if isinstance(m, str) else (m or {}).get("type", "")


def test_seed_summary_is_median_min_max_over_seeds():
    s = charts.seed_summary(_curves(), "step", "loss")
    row = s[(s["arm"] == "a") & (s["step"] == 100)].iloc[0]
    assert row["median"] == pytest.approx(3.0 - 0.1 + 0.43)
    assert row["lo"] == pytest.approx(3.0 - 0.1 + 0.42)
    assert row["hi"] == pytest.approx(3.0 - 0.1 + 0.44)
    assert row["n"] == 3


def test_seed_summary_skips_missing_values():
    df = _curves()
    df.loc[0, "loss"] = np.nan
    s = charts.seed_summary(df, "step", "loss")
    assert s[(s["arm"] == "a") & (s["step"] == 50)]["n"].iloc[0] == 2


def test_loss_chart_has_band_median_line_and_labelled_floor():
    chart = charts.line_band(charts.seed_summary(_curves(), "step", "loss"), "step",
                             x_title="step", y_title="loss", order=["a", "b"], floor=FLOOR)
    layers = _layers(chart)
    marks = [_mark(layer) for layer in layers]
    assert "area" in marks and "line" in marks
    area = layers[marks.index("area")]
    assert area["encoding"]["y"]["field"] == "lo" and area["encoding"]["y2"]["field"] == "hi"
    assert layers[marks.index("line")]["encoding"]["y"]["field"] == "median"
    rule = next(layer for layer in layers if _mark(layer) == "rule")
    assert rule["mark"]["strokeDash"]
    spec = json.dumps(chart.to_dict())
    assert f"{charts.FLOOR_LABEL} {FLOOR:.3f}" in spec


def test_line_has_step_and_value_tooltips_and_legend_selection():
    chart = charts.line_band(charts.seed_summary(_curves(), "step", "loss"), "step",
                             x_title="step", y_title="loss", order=["a", "b"], highlight="b")
    spec = chart.to_dict()
    line = next(layer for layer in _layers(chart) if _mark(layer) == "line")
    fields = {t["field"] for t in line["encoding"]["tooltip"]}
    assert {"step", "median"} <= fields
    params = json.dumps(spec)
    assert '"bind": "legend"' in params and '"arm": "b"' in params


def test_log_scale_where_asked():
    s = charts.seed_summary(_curves(), "step", "loss")
    log = charts.line_band(s, "step", x_title="step", y_title="norm", log_y=True)
    lin = charts.line_band(s, "step", x_title="step", y_title="loss")
    assert '"type": "log"' in json.dumps(log.to_dict())
    assert '"type": "log"' not in json.dumps(lin.to_dict())
    pts = charts.points_with_range(
        pd.DataFrame({"arm": ["a"], "clip": [0.5], "median": [1.0], "lo": [0.9], "hi": [1.1],
                      "n": [3]}), "clip", x_title="clip", y_title="loss", log_x=True,
        floor=FLOOR)
    assert '"type": "log"' in json.dumps(pts.to_dict())
    assert charts.FLOOR_LABEL in json.dumps(pts.to_dict())


def test_diverged_runs_are_marked_with_a_cross():
    stops = pd.DataFrame({"arm": ["a", "a"], "step": [100, 150], "y": [9.0, 9.0],
                          "note": ["seed 43 diverged at step 100", "seed 44 diverged at 150"],
                          "at": [100, 150]})
    chart = charts.line_band(charts.seed_summary(_curves(), "step", "loss"), "step",
                             x_title="step", y_title="loss", floor=FLOOR, stops=stops)
    crosses = [layer for layer in _layers(chart)
               if isinstance(layer.get("mark"), dict) and layer["mark"].get("shape") == "cross"]
    assert crosses
    # where and when, written on the chart beside the crosses: one label per arm
    spec = json.dumps(chart.to_dict())
    assert "a: 2 diverged, steps 100, 150" in spec


def test_final_loss_bars_have_range_and_floor():
    summary = pd.DataFrame({"arm": ["a", "b"], "median": [1.2, 1.0], "lo": [1.1, 0.9],
                            "hi": [1.3, 1.1], "n": [3, 3]})
    chart = charts.bars_with_range(summary, y_title="loss", order=["a", "b"], floor=FLOOR)
    marks = [_mark(layer) for layer in _layers(chart)]
    assert "bar" in marks and marks.count("rule") >= 2
    assert charts.FLOOR_LABEL in json.dumps(chart.to_dict())


def test_heatmap_marks_failed_cells_and_best():
    df = pd.DataFrame({"H": [16, 16, 32, 32], "seq_len": [5, 10, 5, 10],
                       "final_loss": [1.0, np.nan, 0.8, 0.9]})
    chart = charts.heatmap(df, x="seq_len", y="H", value="final_loss", value_title="loss",
                           best=(5, 32))
    spec = json.dumps(chart.to_dict())
    assert '"failed"' in spec and "#e4572e" in spec


def test_heatmap_colour_scale_is_not_stretched_by_one_bad_cell():
    good = [0.374, 0.375, 0.376, 0.377, 0.378, 0.379, 0.380, 0.381, 0.382]
    df = pd.DataFrame({"H": [16] * 10, "seq_len": list(range(10)),
                       "final_loss": [*good, 3.3]})
    chart = charts.heatmap(df, x="seq_len", y="H", value="final_loss", value_title="loss")
    spec = chart.to_dict()
    domains = [layer["encoding"]["color"]["scale"].get("domain") for layer in spec["layer"]
               if "scale" in layer.get("encoding", {}).get("color", {})]
    assert domains and domains[0][1] < 1.0  # the scale ends among the good cells
    labels = next(v for v in spec["datasets"].values() if any("label" in r for r in v))
    marked = [r["final_loss"] for r in labels if "▲" in r["label"]]
    assert 3.3 in marked and all(v > domains[0][1] for v in marked)
    assert all(r["final_loss"] <= domains[0][1] for r in labels if "▲" not in r["label"])


def test_chartspec_builds_once_per_distinct_input_and_keeps_the_legend_pick(monkeypatch):
    from lab.ui import chartspec

    calls = []
    real = charts.line_band

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    counted.__name__ = "line_band"
    monkeypatch.setattr(charts, "line_band", counted)
    summary = charts.seed_summary(_curves(), "step", "loss")
    first = chartspec.spec(charts.line_band, summary, "step", x_title="step", y_title="loss",
                           floor=FLOOR, highlight="b")
    again = chartspec.spec(charts.line_band, summary.copy(), "step", x_title="step",
                           y_title="loss", floor=FLOOR, highlight="b")
    other = chartspec.spec(charts.line_band, summary, "step", x_title="step", y_title="loss",
                           floor=FLOOR, highlight="a")
    assert len(calls) == 2  # the equal input was served from the cache
    assert first == again and first != other
    assert first == real(summary, "step", x_title="step", y_title="loss", floor=FLOOR,
                         highlight="b").properties(autosize=chartspec.AUTOSIZE).to_dict()
    assert first["autosize"]["type"] == "fit-x"  # the legend adds to the plot's height
    assert charts.ARM_PICK in chartspec.param_names(first)
    assert "datasets" in first  # the data travels inside the spec
    with pytest.raises(ValueError, match="not a chart builder"):
        chartspec.spec(_curves)


def test_a_live_retrain_chart_keeps_every_fourth_window_and_each_runs_last():
    from lab.measure.metrics import CURVE_EVERY
    from lab.ui.views import LIVE_EVERY, thinned

    steps = [CURVE_EVERY * i for i in range(1, 4 * LIVE_EVERY + 3)]
    curves = pd.DataFrame({"run_id": ["a"] * len(steps) + ["b"] * 3,
                           "step": steps + steps[:3], "loss": 1.0})
    kept = thinned(curves)
    every = LIVE_EVERY * CURVE_EVERY
    assert kept[kept["run_id"] == "a"]["step"].tolist() == [every, 2 * every, 3 * every,
                                                           4 * every, steps[-1]]
    assert kept[kept["run_id"] == "b"]["step"].tolist() == [steps[2]]  # only its last


def _legend_columns(chart) -> list:
    return [layer["encoding"]["color"]["legend"]["columns"] for layer in _layers(chart)
            if "legend" in layer.get("encoding", {}).get("color", {})]


def test_a_legend_with_a_long_label_takes_one_entry_a_row_on_a_narrow_chart():
    summary = charts.seed_summary(_curves(), "step", "loss")
    short = charts.line_band(summary, "step", x_title="step", y_title="loss", order=["a", "b"])
    assert set(_legend_columns(short)) == {charts.LEGEND_COLUMNS}
    long_label = "scheduled sampling (to 25%)"
    renamed = summary.replace({"arm": {"b": long_label}})
    long = charts.line_band(renamed, "step", x_title="step", y_title="loss",
                            order=["a", long_label])
    exprs = {json.dumps(c, sort_keys=True) for c in _legend_columns(long)}
    assert exprs == {json.dumps({"expr": f"{charts.NARROW} ? 1 : {charts.LEGEND_COLUMNS}"})}


def test_ladder_rungs_sit_far_enough_apart_for_their_labels(monkeypatch):
    from lab.ui import views
    floor = 0.35
    dense = pd.DataFrame({"k": list(views.LADDER_K),
                          "h": [floor * (1 + 2.0 / k) for k in views.LADDER_K]})
    monkeypatch.setattr(views.db, "floors", lambda: dense)
    top = 3.3
    rungs = views.ladder(floor, top)
    assert 2 <= len(rungs) < len(dense)  # some drawn, some too close to draw
    low, high = charts.log_loss_domain(floor, top)
    px = [views.LADDER_PLOT_PX * np.log(h / low) / np.log(high / low)
          for h in [*rungs["h"], floor]]
    assert min(np.diff(sorted(px))) >= views.LADDER_LABEL_PX
    assert rungs["h"].max() <= min(top, views.LADDER_TOP)


def test_projection_labels_that_would_overlap_are_left_to_tooltips():
    df = pd.DataFrame({"word": ["zog", "man", "dog", "boy", "king", "lion", "girl", "far"],
                       "x": [-3.4, -1.4, -3.1, -2.2, -2.5, -2.3, -2.4, 3.2],
                       "y": [1.55, 1.35, 1.8, 2.1, 1.5, 1.5, 2.15, -4.1]})
    plot = pd.concat([df, pd.DataFrame({"word": ["cat"], "x": [2.7], "y": [-3.6]})])
    kept = charts.apart(df.iloc[:-1], plot)  # "far" has no label to give
    assert kept["word"].tolist()[:2] == ["zog", "man"]  # the two that matter most, always
    assert {"lion", "girl"}.isdisjoint(kept["word"])  # on top of king and boy
    px_x = charts.LABEL_PLOT_PX / np.ptp(plot["x"])  # the whole plot's scale, not the labels'
    px_y = charts.PROJECTION_HEIGHT / np.ptp(plot["y"])
    rows = list(kept.itertuples(index=False))
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            wide = charts.LABEL_CHAR_PX * (len(a.word) + len(b.word)) / 2
            assert (abs(a.x - b.x) * px_x >= wide
                    or abs(a.y - b.y) * px_y >= charts.LABEL_LINE_PX), (a.word, b.word)


def test_uniform_guessing_is_marked_only_where_a_curve_sits_on_it():
    from lab.studies import memory as mem
    from lab.ui import views
    u = mem.uniform_loss()

    def curves(random_arm: list[float]) -> pd.DataFrame:
        rows = [("orthogonal", seed, 50 * (i + 1), 2.0 - 0.1 * i)
                for seed in (42, 43, 44) for i in range(len(random_arm))]
        rows += [("random", seed, 50 * (i + 1), loss)
                 for seed in (42, 43, 44) for i, loss in enumerate(random_arm)]
        return pd.DataFrame(rows, columns=["arm", "seed", "step", "loss"])

    assert views.sits_at_guessing(curves([u, u, u, 1.0, 0.9]))  # a plateau at ln 29
    assert not views.sits_at_guessing(curves([u, 2.0, 1.0, 0.9, 0.8]))  # passing through
    assert not views.sits_at_guessing(curves([9.0, np.inf, np.inf, np.inf, np.inf]))  # diverged


def test_arms_drawn_on_top_of_each_other_are_dashed_and_named_on_the_chart():
    """Identical arms (orthogonal under xavier, three clip fractions at 1) would hide each
    other: each gets its own dash, and the chart's subtitle says they coincide."""
    df = _curves()
    same = df[df["arm"] == "a"].assign(arm="a2")  # exactly a's curve
    summary = charts.seed_summary(pd.concat([df, same]), "step", "loss")
    assert charts.coinciding(summary, "step", order=["a", "b", "a2"]) == [["a", "a2"]]
    chart = charts.line_band(summary, "step", x_title="step", y_title="loss",
                             order=["a", "b", "a2"])
    spec = chart.to_dict()
    dash = next(layer["encoding"]["strokeDash"] for layer in _layers(chart)
                if "strokeDash" in layer.get("encoding", {}))
    ranges = dict(zip(dash["scale"]["domain"], map(tuple, dash["scale"]["range"]),
                      strict=True))
    assert ranges["a"] != ranges["a2"] and ranges["b"] == ranges["a"]
    assert spec["title"]["text"] == ["a and a2 coincide (dashed)."]
    titled = charts.line_band(summary, "step", x_title="step", y_title="loss",
                              order=["a", "b", "a2"], title="Loss").to_dict()
    assert titled["title"]["subtitle"] == ["a and a2 coincide (dashed)."]
    apart = charts.line_band(charts.seed_summary(df, "step", "loss"), "step",
                             x_title="step", y_title="loss", order=["a", "b"]).to_dict()
    assert apart.get("title", "") == ""


def test_an_arm_with_no_finite_value_is_named_on_its_chart():
    df = pd.concat([_curves(), pd.DataFrame({"arm": "dead", "seed": 42, "step": [50, 100],
                                             "loss": [np.inf, np.inf]})])
    summary = charts.seed_summary(df, "step", "loss")
    notes = charts.curve_notes(summary, "step", False, ["a", "b", "dead"])
    assert notes == ["No line for dead: no finite value to draw."]
    long = charts.note_lines(["x" * 10 + " word" * 30])
    assert all(len(line) <= charts.NOTE_CHARS for line in long) and len(long) > 1

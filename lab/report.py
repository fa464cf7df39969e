"""Plain-text report of every study from the results store: key table, verdict, floor.

    python -m lab.report [--study ID] [--db PATH] [--json]

--json prints one JSON object instead (schema in docs/store.md): the floor, h(k), and per
study its verdict and every arm's and seed's metrics.

A missing or damaged store prints what is wrong and how to fix it, and exits 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap

import pandas as pd

from lab.data.store import DEFAULT_DB, StoreUnavailable, open_reader
from lab.data.studydata import StudyData, arm_summary, floor, load_study
from lab.measure.registry import FAILED_RULE, FAILED_SEEDS, METRICS, Metric
from lab.studies.catalog import STUDIES, Study, get
from lab.studies.evidence import EFFECT_RULE

WIDTH = 96


def _cell(row: pd.Series, metric: Metric) -> str:
    if not row["n"] or pd.isna(row["median"]):
        return "n/a"
    if pd.isna(row["min"]):  # every seed failed: no range to show
        return metric.fmt(row["median"])
    return f"{metric.fmt(row['median'])} [{metric.fmt(row['min'])}-{metric.fmt(row['max'])}]"


def key_table(study: Study, data: StudyData) -> str:
    """One row per arm: median [min-max over seeds] of the final held-out loss and of the
    study's metric (finite seeds only), and how many seeds are stored, ok and failed."""
    loss = METRICS["final_val_loss"]
    cols = [loss] if study.metric.name == loss.name else [loss, study.metric]
    summaries = [arm_summary(data, m.name) for m in cols]
    rows = []
    for i, a in enumerate(study.arms):
        first = summaries[0].iloc[i]
        rows.append([a.label, *(_cell(s.iloc[i], m) for s, m in zip(summaries, cols,
                                                                     strict=True)),
                     f"{first['n']}", f"{first['n_ok']}", f"{first['n_failed']}"])
    head = ["arm", *(m.label for m in cols), "seeds", "ok", "failed"]
    widths = [max(len(str(r[j])) for r in [head, *rows]) for j in range(len(head))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(line.format(*r) for r in [head, ["-" * w for w in widths], *rows])


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent,
                         subsequent_indent=" " * len(indent) + "  ")


def study_report(study: Study, data: StudyData) -> str:
    """The text block of one study: title, key table, verdict with its details."""
    v = study.verdict(data)
    unit = f" ({study.metric.unit})" if study.metric.unit else ""
    out = [f"{study.number}. {study.title}", "=" * WIDTH, _wrap(study.question),
           f"Key metric: {study.metric.label}{unit}; cells are median [min-max] over seeds.",
           "", key_table(study, data), "", _wrap(f"Verdict: {v.headline}")]
    out += [_wrap(d, "  - ") for d in v.details]
    return "\n".join(out)


RUN_METRICS = ("final_val_loss", "final_train_loss", "status", "clip_fraction",
               "memory_horizon", "agreement_long", "agreement_overall", "memory_score",
               "gradient_reach", "gradient_growth", "gradient_regime", "effective_memory")


def _json_value(v):
    if isinstance(v, float | int) and not isinstance(v, bool):
        return float(v) if math.isfinite(v) else None
    return v


def _json_safe(v):
    """A study's summary for JSON: nested dicts and lists, non-finite numbers as null."""
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_safe(x) for x in v]
    return _json_value(v)


def _run_metrics(row: pd.Series, series: pd.DataFrame, h_k: list[float]) -> dict:
    """One run's metrics for --json (see RUN_METRICS and the schema in docs/store.md)."""
    from lab.language.agreement import ATTRACTORS, CONDITIONS
    from lab.language.floors import effective_memory
    from lab.measure.metrics import GRADIENT_REGIMES

    out = {k: _json_value(row.get(k)) for k in RUN_METRICS if k in row}
    if isinstance(out.get("gradient_regime"), float):
        out["gradient_regime"] = GRADIENT_REGIMES[int(out["gradient_regime"])]
    if h_k and row.get("final_val_loss") is not None:
        out["effective_memory"] = effective_memory(float(row["final_val_loss"]), h_k)
    names = [*CONDITIONS, *(f"attractor_{a}" for a in ATTRACTORS)]
    out["agreement_by_condition"] = {n: _json_value(row.get(f"agreement_{n}")) for n in names}
    mine = series[series["run_id"] == row["run_id"]]
    for name, key in (("agreement_by_bin", "agreement_by_bin"),
                      ("number_probe_by_bin", "number_probe_by_bin"),
                      ("agreement_sites_by_bin", "sites_by_bin")):
        part = mine[mine["analysis"] == name]
        out[key] = [[int(x), _json_value(y)] for x, y in zip(part["x"], part["y"], strict=True)]
    return out


def report_json(store, studies) -> dict:
    """Every study's verdict and every arm's and seed's metrics, with the floor and h(k)."""
    floors = store.floors()
    h_k = floors["h"].tolist()
    out = {"floor": floor(), "h_k": [[int(k), float(h)] for k, h in
                                     zip(floors["k"], floors["h"], strict=True)],
           "studies": {}}
    for study in studies:
        data = load_study(store, study.id, study.arms)
        v = study.verdict(data)
        series = data.tables.get("series", pd.DataFrame(columns=["run_id", "analysis"]))
        arms: dict = {}
        for _, row in data.runs.iterrows():
            arms.setdefault(row["arm"], {})[str(int(row["seed"]))] = _run_metrics(
                row, series, h_k)
        out["studies"][study.id] = {
            "verdict": {"outcome": v.outcome, "headline": v.headline,
                        "checks": [{"text": c.claim, "result": c.status,
                                    "sentence": c.sentence} for c in v.checks]},
            "arms": arms}
        if study.report is not None:  # e.g. clipping's two series of thresholds
            out["studies"][study.id]["summary"] = _json_safe(study.report(data))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.report", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--study", choices=list(STUDIES), help="one study (default: all)")
    parser.add_argument("--db", default=str(DEFAULT_DB), help="the results store")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    try:
        store = open_reader(args.db)
    except StoreUnavailable as e:
        print(e, file=sys.stderr)
        return 2
    studies = [get(args.study)] if args.study else list(STUDIES.values())
    try:
        with store:
            if args.json:
                print(json.dumps(report_json(store, studies), indent=1))
                return 0
            blocks = [study_report(s, load_study(store, s.id, s.arms)) for s in studies]
    except StoreUnavailable as e:
        print(e, file=sys.stderr)
        return 2
    print(f"Entropy floor of the grammar: {floor():.4f} nats/char (the lowest loss possible).")
    print(_wrap(f"Rule: {EFFECT_RULE}"))
    print(_wrap(FAILED_RULE))
    print(_wrap(FAILED_SEEDS) + "\n")
    print("\n\n".join(blocks))
    return 0


if __name__ == "__main__":
    sys.exit(main())

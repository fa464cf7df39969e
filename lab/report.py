"""Plain-text report of every study from the results store: key table, verdict, floor.

    python -m lab.report [--study ID] [--db PATH]

A missing or damaged store prints what is wrong and how to fix it, and exits 2.
"""

from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.report", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--study", choices=list(STUDIES), help="one study (default: all)")
    parser.add_argument("--db", default=str(DEFAULT_DB), help="the results store")
    args = parser.parse_args(argv)
    try:
        store = open_reader(args.db)
    except StoreUnavailable as e:
        print(e, file=sys.stderr)
        return 2
    studies = [get(args.study)] if args.study else list(STUDIES.values())
    try:
        with store:
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

"""Charts that show what they show (issue 24 item 4), on the fixture database: the memory
horizon chart draws the gradient reach too, measurement limits read "at least", and the
hidden-state table says at which step each arm's statistics were taken."""

from __future__ import annotations

import pyarrow as pa
from test_app import PAGES, run_page
from test_tables import app_tables

from lab.studies import memory as mem


def test_memory_horizon_chart_draws_the_reach_and_marks_limits(lab_db):
    at = run_page(PAGES["tbptt"])
    assert not at.exception
    chart = next(c for c in at.get("vega_lite_chart")
                 if "characters back (median over seeds)" in c.proto.spec)
    measures = set()
    for ds in chart.proto.datasets:  # the chart's data travel beside its spec, as Arrow
        frame = pa.ipc.open_stream(ds.data.data).read_all().to_pandas()
        measures |= set(frame.get("measure", []))
    assert measures == {"memory horizon", "gradient reach"}
    table = next(t for t in app_tables(at) if "gradient reach (chars)" in t.columns)
    for arm, reach in zip(table["arm"], table["gradient reach (chars)"], strict=True):
        n = int(arm.split("=")[1])
        value = float(reach.split(" (")[0].removeprefix("at least "))
        assert reach.startswith("at least") == (value >= n - 1), (arm, reach)
    for h in table["memory horizon (chars)"]:
        value = h.split(" (")[0]
        assert (value == f"at least {mem.BIN_EDGES[-1]}") or float(value) < mem.BIN_EDGES[-1]


def test_hidden_state_table_says_at_which_step(lab_db):
    at = run_page(PAGES["activation"])
    assert not at.exception
    table = next(t for t in app_tables(at) if "at step" in t.columns)
    early = [s for s in table["at step"] if "(" in s]
    caption = "\n".join(c.value for c in at.caption)
    assert ("The last checkpoint comes early for" in caption) == bool(early)

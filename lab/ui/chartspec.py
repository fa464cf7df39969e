"""Finished Vega-Lite specs of the charts in `lab.ui.charts`, built once per distinct input.

Building a chart's Altair objects and validating them against the Vega-Lite schema was most
of a warm study page's script time (profiled: about three quarters of it), and a page draws
the same charts for every student who opens it. `spec(builder, ...)` runs the builder and
Altair's validation once per distinct input and keeps the resulting dict (data inlined as
`datasets`); `draw(spec)` hands it to `st.vega_lite_chart`, which skips Altair altogether.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import altair as alt
import streamlit as st

from lab.ui import charts

SPEC_CACHE_ENTRIES = 256  # ~10 studies x ~8 charts x a few highlights; a spec is 10-200 KB


def spec(builder: Callable[..., alt.TopLevelMixin], *args, **kwargs) -> dict:
    """builder(*args, **kwargs) (a function of lab.ui.charts) as a finished spec dict."""
    if getattr(charts, builder.__name__, None) is not builder:
        raise ValueError(f"{builder.__name__} is not a chart builder of lab.ui.charts")
    return _spec(builder.__name__, args, kwargs)


def live(builder: Callable[..., alt.TopLevelMixin], *args, **kwargs) -> dict:
    """The same spec, neither cached nor validated: for a retrain's growing curve, built
    again at every poll while both cores train (caching it would only push the pages'
    charts out of the cache; the schema check, a third of its build time, already passes
    for the same builder on every page and in tests/test_charts.py)."""
    return _build(builder(*args, **kwargs), validate=False)


# the chart fills the column's width; its height is the plot's, and a legend below adds its
# own rows (Streamlit's theme fits both, so a legend of more rows, e.g. one entry a row on a
# phone, squeezed the plot)
AUTOSIZE = alt.AutoSizeParams(type="fit-x", contains="padding")


def _build(chart: alt.TopLevelMixin, validate: bool) -> dict:
    # the default transformer inlines the data; no row cap (Altair's is 5,000)
    with alt.data_transformers.enable("default", max_rows=None):
        return chart.properties(autosize=AUTOSIZE).to_dict(validate=validate)


@st.cache_data(max_entries=SPEC_CACHE_ENTRIES, show_spinner=False)
def _spec(name: str, args: tuple, kwargs: dict) -> dict:
    return _build(getattr(charts, name)(*args, **kwargs), validate=True)


def param_names(chart: dict) -> set[str]:
    """Names of the parameters a spec declares, at its top level or in any layer."""
    return {p.get("name") for p in _params(chart)}


def _params(chart: dict) -> Iterator[dict]:
    yield from (p for p in chart.get("params", []) if isinstance(p, dict))
    for layer in chart.get("layer", []):
        yield from _params(layer)


def draw_built(chart: alt.TopLevelMixin):
    """Draw an Altair chart built on the page itself (one reading of one network, not worth
    caching), sized as every other chart of the app."""
    return st.altair_chart(chart.properties(autosize=AUTOSIZE), width="stretch")


def draw(chart: dict, **kwargs):
    """Draw a finished spec full width (kwargs: on_select, selection_mode, key)."""
    return st.vega_lite_chart(chart, width="stretch", **kwargs)

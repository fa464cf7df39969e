"""Finished Vega-Lite specs of the charts in `lab.ui.charts`, built once per distinct input.

Building a chart's Altair objects and validating them against the Vega-Lite schema was most
of a warm study page's script time (profiled: about three quarters of it), and a page draws
the same charts for every student who opens it. `spec(builder, ...)` runs the builder and
Altair's validation once per distinct input and keeps the resulting dict (data inlined as
`datasets`); `draw(spec)` hands it to `st.vega_lite_chart`, which skips Altair altogether.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator

import altair as alt
import streamlit as st
from streamlit import dataframe_util

from lab.data import memo
from lab.ui import charts

SPEC_CACHE_ENTRIES = 256  # ~10 studies x ~8 charts x a few highlights; a spec is 10-200 KB


def spec(builder: Callable[..., alt.TopLevelMixin], *args, **kwargs) -> dict:
    """builder(*args, **kwargs) (a function of lab.ui.charts) as a finished spec dict."""
    if getattr(charts, builder.__name__, None) is not builder:
        raise ValueError(f"{builder.__name__} is not a chart builder of lab.ui.charts")
    return _spec(builder.__name__, args, kwargs)


def live(builder: Callable[..., alt.TopLevelMixin], *args, **kwargs) -> dict:
    """The same spec, not validated, in a small cache of its own: for a retrain's growing
    curve, built again as it grows (in the pages' cache it would only push their charts
    out; every tab watching the same retrain shares each build; the schema check, a third
    of its build time, already passes for the same builder on every page and in
    tests/test_charts.py)."""
    if getattr(charts, builder.__name__, None) is not builder:
        raise ValueError(f"{builder.__name__} is not a chart builder of lab.ui.charts")
    return _live(builder.__name__, args, kwargs)


@memo.shared(max_entries=8)
def _live(name: str, args: tuple, kwargs: dict) -> dict:
    return _build(getattr(charts, name)(*args, **kwargs), validate=False)


# the chart fills the column's width; its height is the plot's, and a legend below adds its
# own rows (Streamlit's theme fits both, so a legend of more rows, e.g. one entry a row on a
# phone, squeezed the plot)
AUTOSIZE = alt.AutoSizeParams(type="fit-x", contains="padding")


def _build(chart: alt.TopLevelMixin, validate: bool) -> dict:
    # the default transformer inlines the data; no row cap (Altair's is 5,000)
    with alt.data_transformers.enable("default", max_rows=None):
        return chart.properties(autosize=AUTOSIZE).to_dict(validate=validate)


@memo.shared(max_entries=SPEC_CACHE_ENTRIES)  # shared by every session: never mutate
def _spec(name: str, args: tuple, kwargs: dict) -> dict:
    return _build(getattr(charts, name)(*args, **kwargs), validate=True)


def per_data(fn: Callable) -> Callable:
    """Memoise fn(view, *args, **kwargs), a function of a lab.ui.views.View that only reads
    it (its data, floor, seed, highlight, live flag) and returns a spec, a frame or text:
    what a page computes for its charts is the same for every student who opens it, so it
    is computed once (memo.once_in: also when many sessions ask at once) and reused. The
    cache lives on the view's StudyData (shared by every session, never mutated), so it goes
    when the data goes."""
    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def kept(v, *args, **kwargs):
        key = (name, v.floor, v.seed, v.highlight, v.live, memo.key_of(args),
               memo.key_of(tuple(sorted(kwargs.items()))))
        cache = v.data.__dict__.setdefault("_per_data", {})
        return memo.once_in(cache, key, lambda: fn(v, *args, **kwargs))

    return kept


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
    return st.vega_lite_chart(_with_arrow_data(chart), width="stretch", **kwargs)


_ARROWED: OrderedDict[int, tuple[dict, dict]] = OrderedDict()  # id(spec) -> (spec, arrowed)
_ARROWED_LOCK = threading.Lock()


def _with_arrow_data(chart: dict) -> dict:
    """The spec with its datasets already as Arrow IPC bytes, which st.vega_lite_chart passes
    through as they are: otherwise it converts every dataset again for every student who
    opens the page (a tenth of a study page's server time). Kept per spec object (shared
    specs come from the memo), the object itself held so its id cannot be reused."""
    with _ARROWED_LOCK:
        hit = _ARROWED.get(id(chart))
        if hit is not None and hit[0] is chart:
            return hit[1]
    arrowed = {**chart, "datasets": {name: dataframe_util.convert_anything_to_arrow_bytes(rows)
                                     for name, rows in chart.get("datasets", {}).items()}}
    if not arrowed["datasets"]:
        del arrowed["datasets"]
    with _ARROWED_LOCK:
        _ARROWED[id(chart)] = (chart, arrowed)
        while len(_ARROWED) > SPEC_CACHE_ENTRIES:
            _ARROWED.popitem(last=False)
    return arrowed

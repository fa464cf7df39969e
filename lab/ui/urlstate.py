"""Every control of a page lives in the URL: each page declares its parameters as a small
table of `Param`s, and `control()` reads, validates and writes `st.query_params`.

A malformed, unknown-choice or out-of-range value shows one short warning naming the
parameter and falls back to the default; it never raises.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from lab.studies.params import Param


def quoted(raw: str, limit: int = 40) -> str:
    """raw made inert for a markdown code span: truncated, quoted and escaped by repr (control
    and invisible characters become escapes), backticks written as \\x60."""
    text = repr(raw[:limit]) + ("..." if len(raw) > limit else "")
    return text.replace("`", "\\x60")


def _key(p: Param) -> str:
    return f"url_{p.name}"


def read(p: Param) -> object:
    """The validated URL value of p, or its default (with a warning if the URL's was bad)."""
    raw = st.query_params.get(p.name)
    if raw is None:
        return p.default
    try:
        return p.parse(raw)
    except (ValueError, TypeError) as e:
        st.warning(f"Link parameter `{p.name}={quoted(raw)}` was ignored ({e}); "
                   + ("leaving it unset." if p.default is None
                      else f"showing the default `{p.default}`."))
        return p.default


def write(p: Param, value: object, keep_default: bool = False) -> None:
    """Put value in the URL (removed when it is the default, to keep links short, unless
    keep_default: a value the student chose, such as a committed guess, stays written)."""
    if value == p.default and not keep_default:
        if p.name in st.query_params:
            del st.query_params[p.name]
    elif st.query_params.get(p.name) != str(value):
        st.query_params[p.name] = str(value)


def control(p: Param, widget: Callable[..., object], label: str, keep_default: bool = False,
            **kwargs) -> object:
    """Draw `widget(label, key=..., **kwargs)` starting from the URL's value, write the
    chosen value back to the URL (see write for keep_default), and return it. Choice
    widgets get `options`."""
    key = _key(p)
    url_value = read(p)
    seen = st.session_state.get(f"{key}_seen")
    if f"{key}_next" in st.session_state:  # set_next: a value chosen elsewhere on the page
        st.session_state[key] = st.session_state.pop(f"{key}_next")
    elif key not in st.session_state or seen != st.query_params.get(p.name):
        st.session_state[key] = url_value  # a new or edited link wins over old widget state
    else:  # re-assert: Streamlit then sends the value to the browser on every run, so a
        # widget the browser mounts afresh never shows its bare default (min_value)
        st.session_state[key] = st.session_state[key]
    if p.kind == "choice":
        kwargs.setdefault("options", list(p.choices))
    elif p.bounds is not None:
        kwargs.setdefault("min_value", type(p.default)(p.bounds[0]))
        kwargs.setdefault("max_value", type(p.default)(p.bounds[1]))
    value = widget(label, key=key, **kwargs)
    write(p, value, keep_default)
    st.session_state[f"{key}_seen"] = st.query_params.get(p.name)
    return value


def present(params: tuple[Param, ...]) -> bool:
    """Whether the URL carries every one of params (with whatever value)."""
    return all(p.name in st.query_params for p in params)


def set_next(p: Param, value: object) -> None:
    """Give p's control this value on the next run (e.g. a legend click picked an arm after
    the selector was drawn); the control then writes it to the URL in a run that finishes,
    so the browser's address follows."""
    st.session_state[f"{_key(p)}_next"] = value


def settle(params: tuple[Param, ...]) -> None:
    """Validate params whose controls are not drawn on this run (a held-back section): a bad
    value warns and leaves the address, as it would under its widget."""
    for p in params:
        write(p, read(p))


def values(params: tuple[Param, ...]) -> dict[str, object]:
    """Validated values of params that have no widget on this run (e.g. a retrain form)."""
    return {p.name: read(p) for p in params}

"""A process-wide memo for what every session of the server shares (study data, chart specs).

Why not Streamlit's caches: any client can send Streamlit's "clear cache" message (the menu
hides it, the protocol does not), which empties st.cache_data and st.cache_resource for every
session. A memo here is plain Python, out of that message's reach. It is also single-flight:
when thirty sessions ask for the same missing entry at once, one computes it and the others
wait for its result, instead of thirty computing it side by side.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np
import pandas as pd


def key_of(value) -> object:
    """A hashable key for an argument: DataFrames, Series and arrays by their content."""
    if isinstance(value, pd.DataFrame | pd.Series):
        h = hashlib.sha1(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
        names = tuple(value.columns) if isinstance(value, pd.DataFrame) else value.name
        return ("pandas", names, value.shape, h.hexdigest())
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, hashlib.sha1(value.tobytes()).hexdigest())
    if isinstance(value, dict):
        return ("dict", tuple((k, key_of(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(key_of(v) for v in value))
    if isinstance(value, float) and value != value:
        return ("nan",)  # every NaN is one key (NaN != NaN would miss every time)
    hash(value)  # anything else must be hashable as it is (TypeError otherwise)
    return value


class Memo:
    """An LRU of at most `max_entries` results of one function, shared by every thread."""

    def __init__(self, fn: Callable, max_entries: int):
        self.fn, self.max_entries = fn, max_entries
        self._entries: OrderedDict[object, Future] = OrderedDict()
        self._lock = threading.Lock()
        functools.update_wrapper(self, fn)
        _MEMOS.add(self)

    def __call__(self, *args, **kwargs):
        key = (key_of(args), key_of(tuple(sorted(kwargs.items()))))
        with self._lock:
            future = self._entries.get(key)
            mine = future is None
            if mine:
                future = self._entries[key] = Future()
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(key)
        if mine:
            try:
                future.set_result(self.fn(*args, **kwargs))
            except BaseException as e:  # not kept: the next call tries again
                with self._lock:
                    if self._entries.get(key) is future:
                        del self._entries[key]
                future.set_exception(e)
        return future.result()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_MEMOS: weakref.WeakSet[Memo] = weakref.WeakSet()
_ONCE_LOCK = threading.Lock()


def once_in(cache: dict, key, make: Callable):
    """make(), kept in `cache` under `key` and computed once even when many sessions ask at
    the same moment (thirty watchers of a retrain render its finished page together): the
    first computes, the others wait for its value. An error is not kept."""
    with _ONCE_LOCK:
        future = cache.get(key)
        mine = future is None
        if mine:
            future = cache[key] = Future()
    if mine:
        try:
            future.set_result(make())
        except BaseException as e:  # not kept: the next call tries again
            with _ONCE_LOCK:
                if cache.get(key) is future:
                    del cache[key]
            future.set_exception(e)
    return future.result()


def clear_all() -> None:
    """Empty every memo (tests that must see each query run again; no client can call it)."""
    for m in list(_MEMOS):
        m.clear()


def shared(max_entries: int = 64) -> Callable[[Callable], Memo]:
    """Decorator: memoise a function process-wide (module docstring). Results are shared
    between sessions: never mutate one."""
    return lambda fn: Memo(fn, max_entries)

"""The process-wide memo the pages share: one computation per key however many sessions ask at
the same moment, errors not kept, and keys for the arguments pages pass (frames, NaN)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from lab.data import memo


def _together(n: int, call) -> list:
    """call() from n threads released at the same moment; their results."""
    start, out = threading.Barrier(n), [None] * n

    def run(i: int) -> None:
        start.wait()
        out[i] = call()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _slow_counter():
    calls = []

    def make():
        calls.append(1)
        time.sleep(0.2)  # long enough that every thread asks while the first computes
        return object()

    return calls, make


def test_once_in_computes_once_for_thirty_sessions_at_once():
    calls, make = _slow_counter()
    cache: dict = {}
    results = _together(30, lambda: memo.once_in(cache, "key", make))
    assert len(calls) == 1
    assert all(r is results[0] for r in results)


def test_a_shared_function_computes_once_for_thirty_sessions_at_once():
    calls, make = _slow_counter()
    shared = memo.Memo(lambda frame: make(), max_entries=4)
    frame = pd.DataFrame({"a": [1.0, np.nan]})
    results = _together(30, lambda: shared(frame.copy()))  # equal content, other objects
    assert len(calls) == 1
    assert all(r is results[0] for r in results)


def test_an_error_is_not_kept():
    cache: dict = {}
    with pytest.raises(ZeroDivisionError):
        memo.once_in(cache, "key", lambda: 1 / 0)
    assert cache == {}
    assert memo.once_in(cache, "key", lambda: 7) == 7


def test_keys_of_equal_frames_and_nans_match():
    a = pd.DataFrame({"x": [1.0, np.nan]})
    assert memo.key_of(a) == memo.key_of(a.copy())
    assert memo.key_of(a) != memo.key_of(a.assign(x=[2.0, np.nan]))
    assert memo.key_of(float("nan")) == memo.key_of(float("nan"))

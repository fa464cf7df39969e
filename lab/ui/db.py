"""The app's read side: one read-only Store shared by every session, cached queries.

The caches are process-wide (lab.data.memo), out of reach of Streamlit's "clear cache"
message, and built once when many sessions ask at the same moment.

The database path is env LAB_DB (default precomputed/lab.duckdb). Cached functions take
the path and the file's modification time, so a rebuilt file is read afresh.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import streamlit as st

from lab.data import memo
from lab.data.store import DEFAULT_DB, Store, StoreUnavailable, open_reader
from lab.data.studydata import TABLES, StudyData, load_study
from lab.studies import catalog


def db_path() -> str:
    return os.environ.get("LAB_DB") or str(DEFAULT_DB)


def _version(path: str) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return 0.0


_LATEST: dict[str, Store] = {}  # path -> the Store of its newest version


@memo.shared(max_entries=2)
def _store(path: str, version: float) -> Store:
    # duckdb hands a new connect to a path the instance still open on it, i.e. the old
    # file's contents: close the old version's Store so a replaced file is read afresh
    if (old := _LATEST.pop(path, None)) is not None:
        old.close()
    _LATEST[path] = store = open_reader(path)  # a StoreUnavailable is raised, never cached
    return store


def store() -> Store:
    """The shared read-only store; StoreUnavailable if it cannot be opened."""
    path = db_path()
    return _store(path, _version(path))


def store_or_stop() -> Store:
    """The shared store, or the store's message on the page and a stop."""
    try:
        return store()
    except StoreUnavailable as e:
        st.error(str(e))
        st.stop()


def _key() -> tuple[str, float]:
    path = db_path()
    return path, _version(path)


@memo.shared(max_entries=24)
def _study(path: str, version: float, study_id: str, tables: tuple[str, ...]) -> StudyData:
    arms = catalog.get(study_id).arms
    return load_study(_store(path, version), study_id, arms, tables)  # shared: never mutate it


def _guard(fn, *args):
    """Run a cached query; a store that fails mid-read shows its message and stops."""
    try:
        return fn(*_key(), *args)
    except StoreUnavailable as e:
        st.error(str(e))
        st.stop()


def study_data(study_id: str, tables: tuple[str, ...] | None = None) -> StudyData:
    """One study's runs (scalars wide, `failed` marked) and long tables (all by default)."""
    return _guard(_study, study_id, TABLES if tables is None else tuple(tables))


@memo.shared(max_entries=2)
def _floors(path: str, version: float) -> pd.DataFrame:
    return _store(path, version).floors()  # shared: never mutate it


def floors() -> pd.DataFrame:
    """The finite-context floors h(k) (columns k, h); empty if the store has none yet."""
    try:
        return _floors(*_key())
    except Exception:  # an older store without the table: the charts draw no ladder
        return pd.DataFrame(columns=["k", "h"])

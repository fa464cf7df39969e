"""A missing or damaged results store gives the store's message on the page (what is wrong,
what to do), never an exception or a traceback, and the app never writes the file."""

from __future__ import annotations

import hashlib
import random
import shutil
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
STUDY_PAGE = "pages/03_tbptt.py"
LFS_POINTER = ("version https://git-lfs.github.com/spec/v1\n"
               "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
               "size 123\n")
TEXT_KINDS = ("markdown", "caption", "code", "text", "title", "header", "subheader", "error",
              "warning", "info", "success", "exception")


def _older_schema(fixture: Path, path: Path) -> None:
    shutil.copy(fixture, path)
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    con.execute("CHECKPOINT")
    con.close()


def _scrambled(fixture: Path, path: Path) -> None:
    """The header intact, 200 kB of random bytes a third of the way in (a block checksum fails
    on read, after the store has opened)."""
    data = bytearray(fixture.read_bytes())
    rng = random.Random(0)
    start = len(data) // 3
    data[start: start + 200_000] = rng.randbytes(200_000)
    path.write_bytes(bytes(data))


# case -> (how to make the file, a phrase the page's message must contain)
CASES = {
    "missing": (lambda fx, p: None, "does not exist"),
    "zero_bytes": (lambda fx, p: p.write_bytes(b""), "not a DuckDB database"),
    "truncated": (lambda fx, p: p.write_bytes(fx.read_bytes()[: fx.stat().st_size // 2]),
                  "damaged"),
    "random_bytes": (lambda fx, p: p.write_bytes(random.Random(1).randbytes(1 << 20)),
                     "not a DuckDB database"),
    "lfs_pointer": (lambda fx, p: p.write_text(LFS_POINTER), "git lfs pull"),
    "older_schema": (_older_schema, "schema version 0"),
    "scrambled_blocks": (_scrambled, "damaged"),
}
# Home opens the store but reads no study: damage past the catalog shows on study pages only
HOME_SILENT = {"scrambled_blocks"}
# a file cut after its catalog opens and answers small queries; only the header's block count
# (file size < 12288 + block_count * block_size) would tell, a check for lab.data.store to make
@pytest.fixture(autouse=True)
def fresh_caches():
    """No case may be served a Store (or query result) cached by an earlier one."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def _snapshot(folder: Path) -> dict[str, str]:
    """name -> sha256 of every file in folder (catches a write and a new .wal alike)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


def _texts(at: AppTest) -> list[str]:
    return [str(e.value) for kind in TEXT_KINDS for e in at.get(kind)]


def _render(page: str | None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
    if page is not None:
        at.switch_page(page)
    return at.run()


def _cases():
    for case in CASES:
        for page, name in ((None, "home"), (STUDY_PAGE, "study")):
            yield pytest.param(case, page, id=f"{case}-{name}")


@pytest.mark.parametrize(("case", "page"), list(_cases()))
def test_damaged_store_shows_its_message_and_is_not_written(fixture_db, tmp_path, monkeypatch,
                                                            case, page):
    make, phrase = CASES[case]
    folder = tmp_path / "store"
    folder.mkdir()
    path = folder / "lab.duckdb"
    make(fixture_db, path)
    monkeypatch.setenv("LAB_DB", str(path))
    monkeypatch.setenv("LAB_RETRAIN_CACHE", str(tmp_path / "retrain"))
    before = _snapshot(folder)

    at = _render(page)

    assert not at.exception, [e.value for e in at.exception]
    texts = _texts(at)
    assert not any("Traceback" in t or 'File "' in t for t in texts), texts
    if page is None:  # Home still explains the lab, and says up front what is wrong
        assert at.title[0].value == "RNN Experiments Lab"
        assert any(h.value == "The corpus" for h in at.header)
    errors = [e.value for e in at.error]
    if page is None and case in HOME_SILENT:
        assert not errors
    else:
        assert len(errors) == 1 and phrase in errors[0] and str(path) in errors[0], errors
        assert any(what in errors[0] for what in ("python -m lab.precompute", "git lfs pull"))
    assert _snapshot(folder) == before, "the app wrote to (or beside) the store"


@pytest.mark.parametrize("replace", ["in_place", "renamed_over"])
def test_a_store_replaced_while_the_app_runs_is_read_afresh(fixture_db, tmp_path, monkeypatch,
                                                           replace):
    """A good store is opened and cached, then the file changes under the running app (cut
    short in place, or a damaged copy renamed over it, as a checkout does): the next render
    reports the damage instead of serving the old file's data from duckdb's open instance."""
    path = tmp_path / "lab.duckdb"
    shutil.copy(fixture_db, path)
    monkeypatch.setenv("LAB_DB", str(path))
    monkeypatch.setenv("LAB_RETRAIN_CACHE", str(tmp_path / "retrain"))
    good = _render(STUDY_PAGE)
    assert not good.exception and not good.error and good.get("vega_lite_chart")
    cut = fixture_db.read_bytes()[: fixture_db.stat().st_size // 4]
    if replace == "in_place":
        with path.open("r+b") as f:
            f.truncate(len(cut))
    else:
        (tmp_path / "new.duckdb").write_bytes(cut)
        (tmp_path / "new.duckdb").replace(path)
    at = _render(STUDY_PAGE)
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] and "damaged" in at.error[0].value

"""One path for a run's results: a retrained RunResult becomes the same StudyData as the
stored run of its config, is compared with it bit for bit, and is drawn by the page's views
beside the stored seeds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import FIXTURE_STEPS
from streamlit.testing.v1 import AppTest
from test_tables import app_tables

from lab.data.store import open_reader
from lab.data.studydata import TABLES, load_study
from lab.service import results
from lab.service.retrain import RetrainCache
from lab.studies.catalog import get

ROOT = Path(__file__).resolve().parent.parent
STUDY = get("reservoir")


def _train(seed: int, steps: int = FIXTURE_STEPS):
    from lab.training.engine import train_stack

    return train_stack([a.config(seed, steps) for a in STUDY.arms])


@pytest.fixture(scope="module")
def stored(fixture_db):
    with open_reader(fixture_db) as store:
        return load_study(store, STUDY.id, STUDY.arms)


@pytest.fixture(scope="module")
def retrained(one_thread):
    return _train(42)


def test_a_retrain_is_the_same_study_data_as_its_stored_run(stored, retrained):
    mine = results.from_results(STUDY.id, STUDY.arms, retrained)
    assert mine.arm_keys == stored.arm_keys and set(mine.tables) == set(TABLES)
    for r in retrained:
        theirs = stored.runs[stored.runs["run_id"] == r.run_id].iloc[0]
        yours = mine.runs[mine.runs["run_id"] == r.run_id].iloc[0]
        assert yours["final_val_loss"] == theirs["final_val_loss"]
        assert yours["category_separation"] == theirs["category_separation"]
    matches = results.match_stored(stored, mine)
    assert [m.same for m in matches] == [True, True]
    assert all("equals the stored run bit for bit" in m.sentence for m in matches)


def test_a_changed_number_is_not_bit_for_bit(stored, retrained):
    mine = results.from_results(STUDY.id, STUDY.arms, retrained)
    curves = mine.tables["curves"]
    curves.loc[curves.index[-1], "loss"] = curves["loss"].iloc[-1] + 1e-12
    assert [m.same for m in results.match_stored(stored, mine)].count(False) == 1


def test_a_seed_or_length_not_stored_is_said_plainly(stored, one_thread):
    unseen = results.from_results(STUDY.id, STUDY.arms, _train(7))
    for m in results.match_stored(stored, unseen):
        assert m.same is None and m.short == "seed not stored"
        assert "seed 7: this seed is not stored (stored seeds: 42, 43, 44)" in m.sentence
    shorter = results.from_results(STUDY.id, STUDY.arms, _train(42, steps=10))
    for m in results.match_stored(stored, shorter):
        assert m.same is None
        assert f"trained {FIXTURE_STEPS:,} steps and yours 10" in m.sentence


def test_a_stored_run_of_another_engine_version_is_said_plainly(stored, retrained):
    mine = results.from_results(STUDY.id, STUDY.arms, retrained)
    older = dataclasses.replace(stored, runs=stored.runs.assign(
        run_id=stored.runs["run_id"] + "-engine-2"))  # same settings, another run id
    for m in results.match_stored(older, mine):
        assert m.same is None and m.short == "other engine version"
        assert "another version of the training engine" in m.sentence


def test_beside_stored_puts_each_retrained_arm_next_to_its_stored_seeds(stored, retrained):
    mine = results.from_results(STUDY.id, STUDY.arms[:1], retrained[:1])
    both = results.beside_stored(stored, mine)
    assert both.arm_keys == ("trained", "trained" + results.MINE)
    assert both.label("trained") == "W_hh trained"  # the page's label: its colour stays
    assert both.label("trained" + results.MINE) == "W_hh trained (your retrain)"
    curves = both.table("curves")
    assert set(curves["arm"]) == set(both.arm_keys)
    assert len(both.of_arm("trained")) == 3 and len(both.of_arm("trained" + results.MINE)) == 1


def test_the_panel_shows_a_cached_retrain_beside_the_stored_seeds(fixture_db, retrained,
                                                                   tmp_path, monkeypatch):
    cache = tmp_path / "retrain"
    for r in retrained:
        RetrainCache(cache).save(r)  # the retrain comes back at once, as the cache serves it
    monkeypatch.setenv("LAB_DB", str(fixture_db))
    monkeypatch.setenv("LAB_RETRAIN_CACHE", str(cache))
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60).run()
    at.switch_page(f"pages/{STUDY.page}")
    at.query_params.update({"steps": str(FIXTURE_STEPS), "rseed": "42"})
    at.run()
    charts = len(at.get("vega_lite_chart"))
    next(b for b in at.button if b.label == "Retrain now").click().run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(t for t in app_tables(at) if "matches stored" in t.columns)
    assert list(table["matches stored"]) == ["yes", "yes"]
    text = "\n".join(m.value for m in at.markdown)
    assert "W_hh frozen (reservoir), seed 42: your retrain equals the stored run bit for bit" \
        in text
    assert len(at.get("vega_lite_chart")) > charts  # drawn through the page's own views

"""The study registry, the study loader and the text report, on the fixture database."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from lab.data.store import open_reader
from lab.data.studydata import TABLES, arm_summary, floor, load_study
from lab.studies.catalog import ARMS, SEEDS, STUDIES, Study, get
from lab.studies.verdicts import OUTCOMES
from lab.training.config import BASELINE


@pytest.fixture(scope="module")
def loaded(fixture_db):
    with open_reader(fixture_db) as store:
        return {sid: load_study(store, sid, ARMS[sid]) for sid in STUDIES}


def test_registry_covers_every_study_with_every_field():
    assert list(STUDIES) == list(ARMS)
    assert sorted(s.number for s in STUDIES.values()) == list(range(1, 11))
    for sid, st in STUDIES.items():
        assert isinstance(st, Study) and st.id == sid
        assert [a.key for a in st.arms] == [a.key for a in ARMS[sid]]
        for text in (st.title, st.question, st.fixed, st.hypothesis):
            assert isinstance(text, str) and len(text) > 10
        assert st.views and st.group and st.page.endswith(".py")
        assert st.observations and all(o.question.endswith("?") for o in st.observations)
        assert callable(st.verdict) and callable(st.takeaway)
        assert st.metric.name and st.metric.label


def test_get_rejects_unknown_ids():
    assert get("tbptt").number == 3
    with pytest.raises(ValueError, match="unknown study 'nope'"):
        get("nope")


def test_fixed_text_comes_from_the_baseline_without_the_varied_knob():
    assert f"clip={BASELINE.clip:g}" not in get("clipping").fixed
    assert f"clip={BASELINE.clip:g}" in get("learning_rate").fixed
    assert "W_hh init" not in get("initialization").fixed
    assert f"H={BASELINE.hidden}" not in get("grid").fixed
    assert f"{BASELINE.steps:,} steps" in get("tbptt").fixed


def test_pages_modules_do_not_import_torch():
    import subprocess
    code = ("import sys, lab.studies.catalog, lab.report, lab.data.studydata, "
            "lab.studies.verdicts; "
            "assert 'torch' not in sys.modules and 'streamlit' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_load_study_shape(loaded):
    for sid, data in loaded.items():
        assert len(data.runs) == len(ARMS[sid]) * len(SEEDS)
        assert list(dict.fromkeys(data.runs["arm"])) == [a.key for a in ARMS[sid]]
        assert {"run_id", "arm", "seed", "status", "final_val_loss", "params", "failed",
                "hidden", "lr"} <= set(data.runs.columns)
        # the novel word's study also reads its exposure runs (lab.measure.company)
        extra = {"exposure"} if sid == "novel_word" else set()
        assert set(TABLES) | extra == set(data.tables)
        for df in data.tables.values():
            assert {"arm", "seed"} <= set(df.columns)
    assert "gradient_reach" in loaded["initialization"].runs.columns
    assert "zog_hit_rate" in loaded["novel_word"].runs.columns
    assert {"zog_expectation_hit_rate", "zog_expectation_hit_rate_control",
            "zog_sentences"} <= set(loaded["novel_word"].runs.columns)
    assert {"arm", "seed", "replaced", "cosine"} <= set(loaded["novel_word"].novel.columns)


def test_arm_summary_per_arm_in_registry_order(loaded):
    data = loaded["clipping"]
    s = arm_summary(data, "final_val_loss")
    assert list(s["arm"]) == [a.key for a in ARMS["clipping"]]
    assert (s["n"] == len(SEEDS)).all()
    ok = s[np.isfinite(s["median"])]
    assert ((ok["min"] <= ok["median"]) & (ok["median"] <= ok["max"])).all()
    assert (ok["iqr"] >= 0).all()
    # a median that is a failed run (unclipped at lr 0.1 diverges): most seeds failed, and
    # min and max range over the seeds that finished (FAILED_SEEDS)
    worst = s[s["median"] == math.inf]
    assert (worst["n_failed"] > worst["n"] / 2).all()


def test_floor_is_the_entropy_rate():
    assert 0 < floor() < math.log(29)


@pytest.mark.parametrize("sid", list(STUDIES))
def test_verdict_answers_and_takeaway_render_on_fixture(loaded, sid):
    st, data = STUDIES[sid], loaded[sid]
    v = st.verdict(data)
    assert v.outcome in OUTCOMES and v.headline and v.details
    for o in st.observations:
        answer = o.answer(data)
        assert any(ch.isdigit() for ch in answer), (o.question, answer)
    assert any(ch.isdigit() for ch in st.takeaway(data, v))


def test_report_prints_every_study(fixture_db, capsys):
    from lab.report import main
    assert main(["--db", str(fixture_db)]) == 0
    out = capsys.readouterr().out
    for st in STUDIES.values():
        assert f"{st.number}. {st.title}" in out
    assert "Entropy floor" in out and "Verdict:" in out
    assert main(["--db", str(fixture_db), "--study", "reservoir"]) == 0
    out = capsys.readouterr().out
    assert "Reservoir" in out and "Hidden size" not in out


def test_report_on_missing_or_damaged_store(tmp_path, capsys):
    from lab.report import main
    assert main(["--db", str(tmp_path / "none.duckdb")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"not a database at all" * 10)
    assert main(["--db", str(bad)]) == 2
    assert "not a DuckDB database" in capsys.readouterr().err


def test_report_json_follows_the_readme_schema(fixture_db, capsys):
    """--json: the keys the README's schema promises, for every study, arm and seed."""
    import json

    from lab.language.agreement import ATTRACTORS, CONDITIONS
    from lab.report import main
    from lab.studies.evidence import CHECK_STATUSES
    assert main(["--db", str(fixture_db), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["floor"] == pytest.approx(floor())
    ks = [k for k, _ in doc["h_k"]]
    assert ks == list(range(len(ks))) and len(ks) > 50
    values = [h for _, h in doc["h_k"]]
    assert all(a >= b - 1e-9 for a, b in zip(values, values[1:], strict=False))
    assert values[-1] >= doc["floor"] - 1e-9
    assert set(doc["studies"]) == set(STUDIES)
    conditions = {*CONDITIONS, *(f"attractor_{a}" for a in ATTRACTORS)}
    for sid, study in doc["studies"].items():
        verdict = study["verdict"]
        assert verdict["outcome"] and verdict["checks"], sid
        for check in verdict["checks"]:
            assert check["text"] and check["result"] in CHECK_STATUSES, check
        assert set(study["arms"]) == {a.key for a in STUDIES[sid].arms}, sid
        for arm, seeds in study["arms"].items():
            assert set(seeds) == {"42", "43", "44"}, (sid, arm)
            for run in seeds.values():
                for key in ("final_val_loss", "status", "clip_fraction", "memory_horizon",
                            "agreement_long", "agreement_by_condition", "agreement_by_bin"):
                    assert key in run, (sid, arm, key)
                assert set(run["agreement_by_condition"]) == conditions
                for lo_edge, acc in run["agreement_by_bin"]:
                    assert isinstance(lo_edge, int) and (acc is None or 0 <= acc <= 1)
    # issue 23: clipping's two series of thresholds, teacher forcing's error rates
    series = doc["studies"]["clipping"]["summary"]["series"]
    assert [s["lr"] for s in series] == [0.01, 0.1]
    for s in series:
        assert [t["clip"] for t in s["thresholds"]] == [0.5, 1.0, 5.0, 10.0, 50.0]
        for t in s["thresholds"]:
            for key in ("final_val_loss", "clip_fraction", "grad_norm_peak"):
                assert set(t[key]) == {"median", "seeds"}, (t["arm"], key)
    exposure = doc["studies"]["teacher_forcing"]["summary"]["exposure"]
    assert set(exposure) == {a.key for a in STUDIES["teacher_forcing"].arms}
    for arm in exposure.values():
        assert {"error_after_own_error", "error_after_correct_context",
                "true_text_error_after_error"} <= set(arm)
        assert set(arm["error_after_correct_context"]["seeds"]) == {"42", "43", "44"}

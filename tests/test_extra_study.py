"""Adding a study is declaring one `Study(...)`: a small extra study, registered here only,
renders through the shared template under AppTest like the lab's own."""

from __future__ import annotations

import shutil

import pytest
from conftest import FIXTURE_STEPS
from streamlit.testing.v1 import AppTest

from lab.data.store import open_writer
from lab.measure.registry import METRICS
from lab.studies import catalog, prose
from lab.studies import evidence as ev
from lab.studies.study import SEEDS, Arm, Observation, Study
from lab.studies.verdicts import LOSS, build, gate

CLAIM = "a loose clip threshold beats a tight one"


def verdict(data):
    if v := gate(data, data.arm_keys, CLAIM):
        return v
    return build(CLAIM, [ev.compare(data, "50.0", "0.5", LOSS)], ev.failure_notes(data))


def lowest(data) -> str:
    return f"Median final held-out loss: {prose.per_arm(data, 'final_val_loss')}."


TOY = Study(
    id="toy_clip", number=99, title="A toy study", group="Tests",
    question="Does a study declared in a test render through the shared template?",
    hypothesis="It does: one declaration is all a study needs.",
    arms=(Arm("0.5", "clip=0.5", {"clip": 0.5}), Arm("50.0", "clip=50", {"clip": 50.0})),
    metric=METRICS["final_val_loss"],
    verdict=verdict,
    observations=(Observation("Which threshold ends lower?", lowest),),
    takeaway=prose.lesson("Loose clipping won.", "Tight clipping won."),
    views=("loss_curves", "final_loss"),
)

SCRIPT = """
from lab.ui.template import render_study
render_study("toy_clip")
"""


@pytest.fixture
def toy_db(fixture_db, tmp_path, monkeypatch):
    """The fixture database with the toy study's memberships (runs the clipping study
    trained), and the toy study registered for this test only."""
    db = tmp_path / "toy.duckdb"
    shutil.copy(fixture_db, db)
    with open_writer(db) as store:
        for a in TOY.arms:
            for seed in SEEDS:
                store.add_membership(TOY.id, a.key, seed, a.config(seed, FIXTURE_STEPS).run_id)
    monkeypatch.setenv("LAB_DB", str(db))
    monkeypatch.setenv("LAB_RETRAIN_CACHE", str(tmp_path / "retrain"))
    catalog.register(TOY)
    yield db
    catalog.unregister(TOY.id)


def test_a_registered_study_renders_through_the_shared_template(toy_db):
    at = AppTest.from_string(SCRIPT, default_timeout=60)
    at.query_params["arm"] = "50.0"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "99. A toy study"
    subheaders = {s.value for s in at.subheader}
    assert {"Training loss", "Final held-out loss", "Generated samples", "Verdict",
            "Observation questions", "Takeaway", "Retrain now",
            "Download the data"} <= subheaders
    markdown = "\n".join(m.value for m in at.markdown)
    assert "Which threshold ends lower?" in markdown and "clip=50" in markdown
    assert "Held at the baseline" in markdown and "clip=" not in TOY.fixed
    assert at.selectbox[0].value == "50.0"  # its URL table: the arm highlight from its arms
    assert len(at.get("vega_lite_chart")) >= 2


def test_register_refuses_a_taken_id_or_number():
    with pytest.raises(ValueError, match="already registered"):
        catalog.register(catalog.get("tbptt"))
    with pytest.raises(ValueError, match="unknown study"):
        catalog.get("toy_clip")


def test_every_view_a_study_names_has_a_renderer():
    from lab.ui.template import RENDERERS

    for s in catalog.STUDIES.values():
        assert set(s.views) <= set(RENDERERS), (s.id, set(s.views) - set(RENDERERS))

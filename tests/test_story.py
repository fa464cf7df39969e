"""The story of one network: milestones found on hand-made tables (each rule able to fail),
the ladder read aloud, the sample marked, and the page against the fixture database with
good and hostile links."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from lab.data.store import open_reader
from lab.studies import story as sy
from lab.studies import story_prose as sp
from lab.studies.prediction import PARTLY, RIGHT, WRONG
from lab.ui import nav

ROOT = Path(__file__).resolve().parent.parent
PAGE = nav.STORY[1]
STEPS = (0, 100, 200, 500, 1000, 2000, 3000, 4000)
GOOD = "the cat runs.\nthe dogs that the boy sees run fast.\n"
BABBLE = "qzx kjwhtrplm a b cdefghijklmno pq.\nrstuv wxyzab cdefghijkl mno pqrstuvwx.\n"


def fake(values: dict[int, dict[str, list[float]]], texts: dict[int, list[str]] | None = None,
         losses: dict[int, list[float]] | None = None, steps=STEPS) -> sy.StoryData:
    """A StoryData by hand: per seed, per series analysis, one value per checkpoint; samples
    from texts (default: babble until step 1000, then good text) with scores of 1 or 0."""
    runs = pd.DataFrame({"run_id": [f"r{s}" for s in values], "seed": list(values),
                         "steps": steps[-1]})
    ck, sm, se = [], [], []
    for seed, series in values.items():
        rid = f"r{seed}"
        text = (texts or {}).get(seed) or [BABBLE if s < 1000 else GOOD for s in steps]
        loss = (losses or {}).get(seed) or [3.3 / (1 + i) for i in range(len(steps))]
        for i, step in enumerate(steps):
            ok = float(text[i] == GOOD)
            ck.append({"run_id": rid, "step": step, "val_loss": loss[i]})
            sm.append({"run_id": rid, "step": step, "text": text[i], "valid_words": ok,
                       "valid_sentences": ok})
            se += [{"run_id": rid, "analysis": a, "x": float(step), "y": ys[i]}
                   for a, ys in series.items()]
    floors = [2.8, 1.4, 0.64, 0.52, 0.48, 0.46, 0.45, 0.44]
    return sy.build(runs, {"checkpoints": pd.DataFrame(ck), "samples": pd.DataFrame(sm),
                           "series": pd.DataFrame(se, columns=["run_id", "analysis", "x", "y"])},
                    floors)


def agreement(none, obj1, long, obj2=None, subj=None) -> dict[str, list[float]]:
    obj2 = obj2 if obj2 is not None else [0.5] * len(STEPS)
    subj = subj if subj is not None else none
    return {"agreement_none_over_training": none, "agreement_subj_rc_over_training": subj,
            "agreement_obj_rc1_over_training": obj1,
            "agreement_obj_rc2_over_training": obj2, "agreement_long_over_training": long}


EARLY = [0.5, 0.6, 0.8, 0.8, 0.9, 0.9, 0.9, 0.9]  # passes 75% from step 200
MID = [0.5, 0.5, 0.5, 0.6, 0.8, 0.8, 0.8, 0.9]  # from step 1000
LATE = [0.5, 0.5, 0.5, 0.5, 0.5, 0.8, 0.8, 0.8]  # from step 2000
NEVER = [0.5, 0.9, 0.5, 0.9, 0.5, 0.9, 0.5, 0.9]  # passes often, never three in a row


# ---------------------------------------------------------------- the rule

def test_a_milestone_needs_three_checkpoints_in_a_row():
    assert sy.reached_at(STEPS, EARLY, 0.75) == 200
    assert sy.reached_at(STEPS, NEVER, 0.75) is None  # lucky checkpoints do not count
    assert sy.reached_at(STEPS, [0.9, 0.9, 0.5, 0.9, 0.9, 0.9, 0.5, 0.5], 0.75) == 500
    assert sy.reached_at(STEPS, [0.9, 0.9, 0.5, 0.9, 0.9, 0.9, 0.5, 0.5], 0.75, run=4) is None
    assert sy.reached_at(STEPS, [0.75] * 8, 0.75) == 0  # at the bar counts


def test_checkpoints_without_a_value_neither_count_nor_break_a_run():
    gaps = [0.5, 0.9, math.nan, 0.9, math.nan, 0.9, 0.5, 0.5]
    assert sy.reached_at(STEPS, gaps, 0.75) == 100
    assert sy.reached_at(STEPS, [math.nan] * 8, 0.75) is None


def test_word_sized_share_tells_words_from_babble():
    lo, hi = sy.word_lengths()
    assert (lo, hi) == (3, 8)
    assert sy.word_sized_share("the cats that the dog chases run.") == 1.0
    assert sy.word_sized_share("a bc defghijklmnop the") == 0.25
    assert math.isnan(sy.word_sized_share(". .\n"))


# ---------------------------------------------------------------- milestones on the runs

def test_milestones_per_seed_in_the_order_learned():
    data = fake({42: agreement(EARLY, MID, LATE), 43: agreement(EARLY, MID, LATE)})
    steps = data.reached.set_index(["milestone", "seed"])["step"]
    assert steps["agreement_none", 42] == 200 and steps["agreement_obj_rc1", 43] == 1000
    assert steps["agreement_long", 42] == 2000
    assert math.isnan(steps["agreement_obj_rc2", 42])  # never passes: not reached
    assert steps["words", 42] == 1000 and steps["boundaries", 42] == 1000
    order = list(sy.timeline(data)["milestone"])
    assert order.index("agreement_none") < order.index("agreement_obj_rc1") \
        < order.index("agreement_long") < order.index("agreement_obj_rc2")
    assert order[-1] == "agreement_obj_rc2"
    assert sy.disagreements(data) == []


def test_seeds_that_learn_in_another_order_are_named():
    data = fake({42: agreement(EARLY, LATE, LATE), 43: agreement(LATE, EARLY, LATE)})
    pairs = sy.disagreements(data)
    assert ("agreement_none", "agreement_obj_rc1", 42, 43) in pairs
    row = sy.timeline(data).set_index("milestone").loc["agreement_none"]
    assert (row["first"], row["last"], row["reached"], row["seeds"]) == (200, 2000, 2, 2)


def test_a_seed_that_never_reaches_a_milestone_counts_as_later_than_any_step():
    data = fake({42: agreement(EARLY, EARLY, LATE), 43: agreement(EARLY, NEVER, LATE),
                 44: agreement(EARLY, NEVER, LATE)})
    row = sy.timeline(data).set_index("milestone").loc["agreement_obj_rc1"]
    assert row["reached"] == 1 and row["median"] == math.inf and row["first"] == 200
    assert sy.reached_by(data, 42, 500)["agreement_obj_rc1"] == 200
    assert sy.reached_by(data, 42, 100)["agreement_obj_rc1"] is None
    assert sy.reached_by(data, 43, 4000)["agreement_obj_rc1"] is None


def test_milestones_a_store_does_not_measure_are_left_out():
    data = fake({42: {"agreement_long_over_training": LATE}})
    keys = [m.key for m in sy.available(data)]
    assert "agreement_none" not in keys and "agreement_long" in keys
    assert "agreement_none" not in set(sy.timeline(data)["milestone"])


# ---------------------------------------------------------------- the ladder and the sample

def test_the_ladder_reading_brackets_the_loss():
    f = [2.8, 1.4, 0.64, 0.52, 0.48]
    r = sy.read_ladder(0.50, f)
    assert r.k == 4 and f[r.k] <= 0.50 < f[r.k - 1]
    assert sy.read_ladder(3.3, f).above_all and sy.read_ladder(3.3, f).k == 0
    assert sy.read_ladder(0.3, f).k is None  # better than every tabulated rung
    assert sy.read_ladder(math.nan, f).k == 0


def test_memory_so_far_keeps_the_best_loss_up_to_the_step():
    data = fake({42: agreement(EARLY, MID, LATE)},
                losses={42: [3.3, 1.0, 0.5, 0.9, 0.9, 0.9, 0.47, 0.47]})
    assert sy.memory_so_far(data, 42, 100) == 2  # 1.0: between h(1) and h(2)
    assert sy.memory_so_far(data, 42, 2000) == 4  # 0.5 at step 200 still counts
    assert sy.memory_so_far(data, 42, 3000) == 5


def test_ladder_gains_fall_with_k():
    from lab.language.floors import finite_context_floors

    gains = [g for _, _, g in sy.ladder_gains(finite_context_floors())]
    assert gains == sorted(gains, reverse=True) and gains[0] > 1.0


def test_the_sample_is_marked_word_by_word_and_sentence_by_sentence():
    marked = sy.mark_sample("the cat runs.\nthe kirg sleeps.\nthe cat runs.the dog runs.\nthe ca")
    # a sentence that does not start its line is not one (grammar.score: no line break)
    assert [s.grammatical for s in marked] == [True, False, True, False, None]
    assert marked[1].words == (("the", True), ("kirg", False), ("sleeps", True))
    assert all(w.isalpha() for s in marked for w, _ in s.words)


def test_the_checkpoint_reading_size_matches_the_recorder():
    from lab.measure.agreement import CHECKPOINT_LENGTH, CHECKPOINT_TRACKS

    assert sy.CHECKPOINT_READ == CHECKPOINT_TRACKS * CHECKPOINT_LENGTH


def test_every_milestone_names_a_real_measure_and_study():
    from lab.studies import catalog
    from lab.training.recorders import AGREEMENT_SERIES

    for m in sy.MILESTONES:
        assert m.source in ("word_sized", "valid_words", "valid_sentences", *AGREEMENT_SERIES)
        assert all(s in catalog.STUDIES for s in m.studies)
        assert "{" not in sy.describe(m)
    with pytest.raises(ValueError, match="unknown milestone"):
        sy.milestone("flying")


# ---------------------------------------------------------------- the page

def open_story(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120)
    at.query_params.update({k: str(v) for k, v in params.items()})
    return at.switch_page(PAGE).run()


def test_the_story_page_renders_from_the_fixture(lab_db):
    at = open_story()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "The story of one network"
    subheaders = {s.value for s in at.subheader}
    assert {"Milestones, found in the runs", "Why in that order", "Where to go next"} <= subheaders
    assert len(at.get("vega_lite_chart")) == 2  # loss on the ladder, the timeline
    assert at.get("download_button")
    prose = "\n".join(str(m.value) for m in at.markdown)
    assert "held-out loss is" in prose and "Inside the network" in prose
    assert "None" not in prose and "nan" not in prose.split()


def test_a_link_reopens_the_same_step_and_seed(lab_db):
    data = sy.load(open_reader(lab_db))
    step = data.steps_of(43)[2]
    at = open_story(step=step, seed=43)
    assert not at.exception and not at.warning
    assert at.select_slider[0].value == step
    assert f"#### Step {step:,} of {data.steps:,}" in [m.value for m in at.markdown]
    loss = sy.loss_at(data, 43, step)
    assert at.metric[0].value == f"{loss:.3f}"
    at.select_slider[0].set_value(data.steps_of(43)[-1]).run()
    assert at.query_params["step"] == str(data.steps_of(43)[-1])


@pytest.mark.parametrize("params", [
    {"step": "abc"}, {"step": "-5"}, {"step": "99999999999999999999999"}, {"step": "3.5"},
    {"step": "<script>alert(1)</script>"}, {"seed": "7"}, {"seed": "'; DROP TABLE runs"},
    {"step": "1e309", "seed": "nan"}, {"step": "`x`\u202e"}])
def test_hostile_links_get_a_message_not_a_traceback(lab_db, params):
    at = open_story(**params)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    warnings = [w.value for w in at.warning]
    assert any("was ignored" in w for w in warnings), warnings
    if "<" in params.get("step", ""):  # shown inert, inside a code span
        assert any("`step='<script>alert(1)</script>'`" in w for w in warnings), warnings
    assert at.get("vega_lite_chart")  # the page still shows the default view


def test_play_shows_pause_and_steps_through_the_checkpoints(lab_db):
    from lab.ui import story as ui_story

    at = open_story()
    next(b for b in at.button if "Play" in b.label).click().run()
    assert not at.exception
    assert at.session_state[ui_story.PLAYING] is True
    assert any("Pause" in b.label for b in at.button)
    next(b for b in at.button if "Pause" in b.label).click().run()
    assert at.session_state[ui_story.PLAYING] is False
    # each timer tick: the next checkpoint, and whether play goes on after it
    assert ui_story.next_step((0, 100, 200), 0) == (100, True)
    assert ui_story.next_step((0, 100, 200), 100) == (200, False)
    assert ui_story.next_step((0, 100, 200), 200) == (None, False)


def test_without_a_database_the_page_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_DB", str(tmp_path / "missing.duckdb"))
    at = open_story()
    assert not at.exception
    assert at.error and "missing.duckdb" in at.error[0].value


def test_the_timeline_marks_seeds_that_never_reached(lab_db):
    from lab.ui import story as ui_story
    from lab.ui import story_charts

    data = fake({42: agreement(EARLY, NEVER, LATE), 43: agreement(EARLY, EARLY, LATE)})
    bundle = {"data": data, "measures": data.measured, "timeline": sy.timeline(data),
              "disagree": sy.disagreements(data)}
    spec = story_charts.timeline_chart(data, bundle["timeline"])
    rows = [r for rows in spec["datasets"].values() for r in rows if "when" in r]
    assert any(r["when"] == f"not by step {STEPS[-1]:,}" for r in rows)
    text = ui_story.order_text(bundle)
    assert "1 of 2 seeds" in text and "not yet" in text
    assert "do **not** all learn them in the same order" in sp.disagreement_text(data)
    np.testing.assert_equal(len(text.splitlines()), len(sy.available(data)))


def test_the_ladder_is_read_aloud_in_plain_words():
    from lab.ui.story import ladder_sentence

    f = (2.8, 1.4, 0.64, 0.52, 0.48)
    assert "sees only the last 2 characters" in ladder_sentence(3000, sy.read_ladder(0.6, f))
    one = ladder_sentence(10, sy.read_ladder(2.0, f))
    assert "no context at all" in one and "the last character" in one and "last 0" not in one
    assert "worse even than" in ladder_sentence(0, sy.read_ladder(3.3, f))
    assert "better than the best possible predictor that sees the last 4" in ladder_sentence(
        30000, sy.read_ladder(0.3, f))
    assert "not finite" in ladder_sentence(5, sy.read_ladder(math.inf, f))


def test_no_order_is_claimed_before_milestones_are_reached():
    from lab.ui import story as ui_story

    data = fake({42: agreement(NEVER, NEVER, NEVER), 43: agreement(NEVER, NEVER, NEVER)},
                texts={s: [BABBLE] * len(STEPS) for s in (42, 43)})
    dist = ui_story.corpus_distances()
    assert "Too few milestones" in sp.disagreement_text(data)
    why = sp.why_text(data, dist)
    assert "cannot show the order yet" in why and "came first" not in why
    good = fake({42: agreement(EARLY, MID, LATE), 43: agreement(EARLY, MID, LATE)})
    assert "same order" in sp.disagreement_text(good)
    assert "not reached by step 4,000 in any seed" in sp.why_text(good, dist)  # obj_rc2: never
    assert "The nearer dependency came first" in sp.why_text(good, dist)
    assert "rests on few verbs" in sp.noise_text(good, dist)


def test_a_guess_of_the_milestone_learned_last_is_scored():
    data = fake({42: agreement(EARLY, MID, LATE), 43: agreement(EARLY, MID, LATE)})
    assert sp.last_learned(data) == ["agreement_obj_rc2"]  # never reached: last
    assert sp.judge_last(data, "agreement_obj_rc2")[0] == RIGHT
    outcome, text = sp.judge_last(data, "words")
    assert outcome == WRONG and "agreement across two nested object relatives" in text
    tied = fake({42: agreement(EARLY, NEVER, LATE, obj2=NEVER)})
    assert sp.judge_last(tied, "agreement_obj_rc1")[0] == PARTLY


def test_class_mode_holds_the_milestones_until_a_prediction(lab_db):
    at = open_story(**{"class": 1})
    assert not at.exception, [e.value for e in at.exception]
    subheaders = [s.value for s in at.subheader]
    assert "Your prediction" in subheaders and "Why in that order" not in subheaders
    assert len(at.get("vega_lite_chart")) == 1  # the loss, not the timeline
    assert not any("What it can do by now" in str(m.value) for m in at.markdown)
    at.radio[0].set_value("agreement_long").run()
    next(b for b in at.button if b.label == "Commit my prediction").click().run()
    assert not at.exception
    assert at.query_params["predicted"] == "agreement_long" and at.query_params["class"] == "1"
    assert "Why in that order" in [s.value for s in at.subheader]
    assert len(at.get("vega_lite_chart")) == 2
    assert any("You predicted **long agreement" in a.value
               for kind in ("success", "info", "warning") for a in at.get(kind))


def test_the_milestones_csv_names_each_measure_bar_and_reach():
    from lab.ui.story import _csv

    data = fake({42: agreement(EARLY, MID, LATE)})
    table = pd.read_csv(__import__("io").StringIO(_csv(data)))
    row = table[(table["milestone"] == "agreement_none") & (table["step"] == 500)].iloc[0]
    assert (row["value"], row["bar"], row["reached_at"]) == (0.8, 0.75, 200)
    assert set(table["milestone"]) == {m.key for m in sy.available(data)}


def test_the_loss_chart_marks_the_step_and_the_floor(lab_db):
    import json

    from lab.ui import story_charts

    data = fake({42: agreement(EARLY, MID, LATE), 43: agreement(EARLY, MID, LATE)})
    spec = json.dumps(story_charts.loss_on_ladder(data, 42, 2000))
    assert "entropy floor" in spec and '"step": 2000' in spec
    assert "k=1" in spec  # the ladder's rungs (from the store's floors)

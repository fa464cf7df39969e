"""The novel word met in its company (lab.measure.company, company_read): the expectation
metric, the summaries the page reads, and the continued training behind them."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from lab.language import corpus
from lab.language.alphabet import ALPHABET
from lab.measure import company, company_read
from lab.training.config import BASELINE
from lab.training.model import PARAM_NAMES, StackedRNN


def _rows(noun, values, spelling="zog", seed=42, sentences=None):
    steps = company.MARKS[: len(values)]
    sentences = sentences or [10 * s for s in steps]
    return pd.DataFrame({"run_id": f"r{seed}", "seed": seed, "spelling": spelling,
                         "replaced": noun, "step": steps, "sentences": sentences,
                         "expect": values, "expect_noun": -1.0, "val_loss": 1.0,
                         "val_loss_novel": 1.0})


def test_points_to_needs_the_minimum_effect_on_the_right_side():
    m = company.METRICS["zog_expectation"].min_effect
    assert company.points_to(m, "human") and company.points_to(-m, "animal")
    assert not company.points_to(m * 0.99, "human")
    assert not company.points_to(2.0, "animal") and not company.points_to(-2.0, "human")


def test_summary_counts_sentences_from_the_reading_that_stays_on_the_class():
    df = pd.concat([
        _rows("cat", [1.0, -1.0, 0.5, -1.0, -2.0]),  # crosses, falls back, settles at step 50
        _rows("dog", [1.0, 1.0, 0.9]),  # never settles
        _rows("man", [1.0, 1.2]),  # human: right from the start
        _rows("", [1.0, 1.0]),  # the control run: not a noun's
    ])
    s = company.summarise(df).set_index("replaced")
    assert list(s.index) == ["cat", "dog", "man"]
    assert s.loc["cat", "steps"] == 50 and s.loc["cat", "sentences"] == 500
    assert s.loc["cat", "hit_after"] and not s.loc["cat", "hit_before"]
    assert math.isnan(s.loc["dog", "sentences"]) and not s.loc["dog", "hit_after"]
    assert s.loc["man", "steps"] == 0 and s.loc["man", "hit_before"]
    seeds = company.per_seed(company.summarise(df))
    assert seeds.loc[42, "zog_expectation_hit_rate"] == pytest.approx(2 / 3)
    assert seeds.loc[42, "zog_expectation_hit_rate_step0"] == pytest.approx(1 / 3)
    assert company.summarise(df.iloc[0:0]).empty


def test_expectation_of_a_network_that_guesses_uniformly():
    """All-zero weights give every character 1/V: P(verb, then an end) = V^-len * 2/V, so the
    expectation is log10(sum over human verbs of V^-len / the same over animal verbs)."""
    cfg = BASELINE
    model = StackedRNN.from_weights([cfg], [{n: np.zeros(tuple(StackedRNN([cfg]).p[n].shape[1:]))
                                             for n in PARAM_NAMES}])
    v = len(ALPHABET)

    def mass(verbs):
        return sum(v ** -len(f) for stem in verbs for f in (stem + "s", stem))

    want = math.log10(mass(company.HUMAN_VERBS) / mass(company.ANIMAL_VERBS))
    for subject in ("zog", "man", "cats"):
        assert company_read.expectation(model, subject)[0] == pytest.approx(want, abs=1e-9)
    assert want != 0  # the verbs' lengths differ: a wrong sum would show


def test_the_replaced_stream_and_its_sentence_count():
    ids, marks = company_read._replaced("cat", "zog")
    text = corpus.replace_word(corpus.train_text(), "cat", "zog")
    assert " cat " not in text and " cats " not in text and " zog" in text
    lines_with = sum(1 for line in text.split("\n")
                     if {"zog", "zogs", "zog.", "zogs."} & set(line.split(" ")))
    assert marks[-1] == lines_with and len(ids) == len(text)
    assert np.all(np.diff(marks) >= 0)


@pytest.fixture(scope="module")
def tiny(one_thread):
    """A baseline network at its init and two short continuations from it."""
    cfg = dataclasses.replace(BASELINE, steps=3)
    w = {n: t[0].clone() for n, t in StackedRNN([cfg]).p.items()}
    return cfg, w


def test_continued_training_is_deterministic_and_counts_sentences(tiny):
    cfg, w = tiny
    a = company_read.continue_on(cfg, w, "cat", "zog", steps=3)
    b = company_read.continue_on(cfg, w, "cat", "zog", steps=3)
    pd.testing.assert_frame_equal(a, b)
    assert list(a["step"]) == [0, 3] and a["sentences"].iloc[0] == 0
    assert a["sentences"].iloc[-1] > 0  # 64 tracks x 3 chunks of 25 chars meet some cats
    assert {"expect", "expect_noun", "val_loss", "val_loss_novel"} <= set(a.columns)
    control = company_read.continue_on(cfg, w, None, steps=3)
    assert (control["sentences"] == 0).all() and control["val_loss_novel"].isna().all()
    assert {f"expect_{s}" for s in company.SPELLINGS} <= set(control.columns)
    # the same start: the cold readings agree, the runs then differ by their text
    assert control["expect_zog"].iloc[0] == pytest.approx(a["expect"].iloc[0])
    assert not torch.equal(torch.tensor(a["val_loss"].to_numpy()),
                           torch.tensor(control["val_loss"].to_numpy()))


def test_exposure_rows_round_trip_through_the_store(tiny):
    from lab.data.store import open_memory

    store = open_memory()
    df = _rows("cat", [1.0, -1.0])
    assert not store.has_exposure("r42", "zog", "cat")
    store.write_exposure("r42", "zog", "cat", df)
    store.write_exposure("r42", "zog", "cat", df)  # replaces, never duplicates
    got = store.exposures(["r42"])
    assert len(got) == 2 and store.has_exposure("r42", "zog", "cat")
    assert list(got["expect"]) == [1.0, -1.0]
    with pytest.raises(ValueError):
        store.write_exposure("r42", "zog", "cat", df.drop(columns="expect"))

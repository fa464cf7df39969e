"""The internals page's NumPy reading of a stored network, checked against the engine (its
forward pass) and autograd (the gradient of one character's loss); the grammar's exact
next-character distribution against the exact log-probability of the text; the page itself,
typed text included, under AppTest."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from lab.language import grammar
from lab.language.alphabet import encode
from lab.language.corpus import heldout_text
from lab.measure import internals as inn
from lab.measure.evaluate import read as engine_read
from lab.training.config import BASELINE, RunConfig
from lab.training.model import StackedRNN, init_params


@pytest.fixture
def lab_db(fixture_db, monkeypatch):
    monkeypatch.setenv("LAB_DB", str(fixture_db))
    return fixture_db


ROOT = Path(__file__).resolve().parent.parent
TEXT = "the cats that the dog chases run.\nthe boy sees the lion.\n"


def _weights(activation: str, seed: int = 3) -> dict[str, np.ndarray]:
    cfg = RunConfig(**{**BASELINE.to_dict(), "activation": activation, "seed": seed,
                       "hidden": 24})
    return {k: v.detach().numpy().astype(np.float32) for k, v in init_params(cfg).items()}, cfg


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "identity"])
def test_numpy_reading_matches_the_engine(activation):
    w, cfg = _weights(activation)
    mine = inn.read(w, activation, TEXT)
    model = StackedRNN.from_weights([cfg], [w])
    rd = engine_read(model, encode(TEXT)[None, :])
    logits = rd.logits[0].numpy()  # (T, V): one track
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    np.testing.assert_allclose(mine.probs, probs, atol=2e-5)
    states = rd.hs[0].reshape(len(TEXT) + 1, -1).numpy()  # h_{-1} = 0 first
    np.testing.assert_allclose(mine.h, states[1:], atol=2e-5)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_input_gradient_matches_autograd(activation):
    w, _ = _weights(activation)
    r = inn.read(w, activation, TEXT)
    t = 31  # the "n" of "run": its loss is predicting the plural verb's end
    mine = inn.input_gradient(w, activation, r, t)
    tw = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in w.items()}
    f = {"tanh": torch.tanh, "sigmoid": torch.sigmoid}[activation]
    x = encode(TEXT)
    h = torch.zeros(tw["Whh"].shape[0], dtype=torch.float64)
    chained = []
    for c in x[: t + 1]:
        a = tw["Wxh"][int(c)] + h @ tw["Whh"] + tw["bh"]
        a.retain_grad()
        chained.append(a)
        h = f(a)
    loss = torch.nn.functional.cross_entropy((h @ tw["Why"] + tw["by"])[None],
                                             torch.tensor([int(x[t + 1])]))
    loss.backward()
    want = np.array([float(chained[t - k].grad.norm()) for k in range(t + 1)])
    np.testing.assert_allclose(mine, want, rtol=1e-6, atol=1e-12)


def test_grammar_next_char_distribution_is_exact():
    text = heldout_text()[:4000]
    text = text[: text.rfind(".\n") + 2]
    parser, total = grammar.CharParser(), 0.0
    for ch in text:
        dist = parser.probabilities()
        assert dist is not None and math.isclose(sum(dist.values()), 1.0, rel_tol=1e-9)
        total -= math.log(dist[ch])
        assert parser.step(ch)
    assert math.isclose(total, -grammar.text_log_prob(text), rel_tol=1e-9)


def test_the_number_direction_reads_the_pending_number_of_a_trained_network(lab_db):
    from lab.data.store import open_reader
    from lab.training.weights import load_weights
    with open_reader(lab_db) as store:
        runs = store.runs()
        run_id = runs[runs["status"] == "ok"]["run_id"].iloc[0]
        w = load_weights(store.weights(run_id))
        act = store.config(run_id).activation
    text = heldout_text()[:8000]
    d = inn.number_direction(w, act, text[: text.rfind(".\n") + 2])
    assert 0.5 <= d.accuracy <= 1.0 and 0 <= d.best_unit < d.w.shape[0]


def _page(**params):
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120)
    at.query_params.update({k: str(v) for k, v in params.items()})
    at.run()
    return at.switch_page(str(ROOT / "pages" / "11_internals.py")).run()


def test_the_internals_page_renders_every_view(lab_db):
    at = _page()
    assert not at.exception, [e.value for e in at.exception]
    heads = {s.value for s in at.subheader}
    assert {"Where the subject's number lives", "The hidden state, character by character",
            "How far back does one character's loss reach?"} <= heads
    assert len(at.get("vega_lite_chart")) >= 4
    # a bar on a log axis must start above 0 (a bar left at 0 made Vega draw an empty chart)
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    log_bars = [s for s in specs if _mark(s) == "bar"
                and s["encoding"]["y"].get("scale", {}).get("type") == "log"]
    assert log_bars and all(s["encoding"]["y2"]["datum"] > 0 for s in log_bars)


def _mark(spec: dict) -> str:
    m = spec.get("mark")
    return m if isinstance(m, str) else (m or {}).get("type", "")


@pytest.mark.parametrize("typed", ["the zogs that the cat sees run", "x" * 400, "ünïcode ☃",
                                   "<script>alert(1)</script>", "the cat\x00\x1b[31m runs",
                                   "   "])
def test_typed_sentences_get_a_reading_or_a_message(lab_db, typed):
    at = _page(text=typed, study="tbptt", arm="50", seed=43, at=9999)
    assert not at.exception, [e.value for e in at.exception]
    if typed.strip() and typed.startswith("the zogs"):
        assert not at.warning or all("`at=" in w.value for w in at.warning)
    elif typed.strip():
        assert any("typed sentence" in w.value for w in at.warning)


def test_a_text_the_grammar_cannot_read_gets_words_not_nan(lab_db):
    at = _page(text="zz yy xx")
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "cannot read this text" in captions and "nan" not in captions


def test_the_internals_page_opens_on_the_baseline_with_a_readable_state_picture(lab_db):
    """The default network is the baseline (not the novel word's), named so; the hidden-state
    picture shows the units that carry the number, with the subject's cue and the verb's
    decision marked; every character of the axis keeps its label (issue 24 item 4)."""
    at = _page()
    assert not at.exception
    arm = next(s for s in at.selectbox if s.label == "Arm")
    assert arm.format_func(arm.value).endswith("(the baseline)")
    heat = next(json.loads(c.proto.spec) for c in at.get("vega_lite_chart")
                if "sg: singular" in c.proto.spec)
    layers = heat.get("layer", [])
    assert any(_mark(layer) == "rule" for layer in layers)  # the cue and decision lines
    axis = layers[0]["encoding"]["x"]["axis"]
    assert axis["labelOverlap"] is False

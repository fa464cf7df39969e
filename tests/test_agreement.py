import math

import numpy as np
import pytest
import torch

from lab.language import grammar
from lab.language.agreement import agreement_sites
from lab.language.alphabet import CHAR_TO_ID, VOCAB_SIZE
from lab.measure import agreement as ag
from lab.measure import metrics

TEXT = ("the cat that the dogs that the boy sees chase runs.\n"
        "the men that feed the bird sing.\n")


def test_sites_by_hand():
    sites = agreement_sites(TEXT)
    got = [(TEXT[s.cue - 3: s.decide + 1], s.number, s.condition, s.attractor) for s in sites]
    assert got == [
        ("boy sees", "sg", "none", None),
        ("dogs that the boy sees chase ", "pl", "obj_rc1", "mismatch"),
        ("cat that the dogs that the boy sees chase runs", "sg", "obj_rc2", "mismatch"),
        ("e men that feed ", "pl", "none", None),
        ("e men that feed the bird sing.", "pl", "subj_rc", "mismatch"),
    ]
    assert [s.distance for s in sites] == [4, 25, 42, 12, 26]
    # a track cut mid-sentence keeps only complete verbs
    assert len(agreement_sites(TEXT[:49])) == 2


def test_every_verb_of_generated_text_is_a_site_decided_by_its_subject():
    text = grammar.generate_text(20_000, 9)
    sites = agreement_sites(text)
    verbs = [w for w, c, _ in grammar.word_spans(text) if c and c.startswith("verb")]
    assert len(sites) == len(verbs)
    assert all((text[s.decide] == "s") == (s.number == "sg") for s in sites)
    assert all(text[s.decide] in " ." for s in sites if s.number == "pl")
    assert {s.condition for s in sites} == set(ag.CONDITIONS)


def test_probe_labels_follow_the_innermost_pending_subject():
    sites = agreement_sites(TEXT)
    label, dist = ag.probe_labels(sites, len(TEXT))
    cat, dogs = TEXT.index("cat") + 3, TEXT.index("dogs") + 3
    assert label[cat] == 1 and dist[cat] == 0  # singular "cat" is pending
    assert label[dogs] == -1 and dist[dogs] == 0  # then plural "dogs", until "chase"
    after_chase = TEXT.index("chase ") + 5
    assert label[after_chase] == 1 and dist[after_chase] == after_chase - cat


def _one_hot_logits(p_s: list[float]) -> torch.Tensor:
    """One run, one track: row t predicts char t+1 with P("s") = p_s[t], P(" ") = 1 - p_s[t]."""
    probs = torch.full((1, len(p_s), VOCAB_SIZE), 1e-12, dtype=torch.float64)
    probs[0, :, CHAR_TO_ID["s"]] = torch.tensor(p_s)
    probs[0, :, CHAR_TO_ID[" "]] = 1 - torch.tensor(p_s)
    return probs.log()


def test_site_scores_by_hand():
    # two sites deciding at chars 3 and 6: singular then plural subject
    sa = ag.SiteArrays(track=np.array([0, 0]), decide=np.array([3, 6]),
                       singular=np.array([True, False]), distance=np.array([10, 20]),
                       condition=np.array([0, 2]), attractor=np.array([-1, 1]))
    logits = _one_hot_logits([0.5, 0.5, 0.9, 0.5, 0.5, 0.8, 0.5])
    right, excess = ag._site_scores(logits, 1, 7, sa, 0)
    assert right.tolist() == [[True, False]]  # P(s) 0.9 right for "sg", 0.8 wrong for "pl"
    assert excess[0] == pytest.approx([-math.log(0.9), -math.log(0.2)])


def test_summarise_by_condition_bin_and_horizon():
    n = 400
    rng = np.random.default_rng(0)
    distance = rng.integers(1, 65, n)
    sa = ag.SiteArrays(track=np.zeros(n, int), decide=np.arange(n), singular=np.ones(n, bool),
                       distance=distance, condition=rng.integers(0, 4, n),
                       attractor=np.where(distance > 16, 1, -1))
    right = distance <= 16  # remembers 16 chars, then fails every site
    res = {"sites": sa, "correct": right[None], "excess": np.where(right, 0.0, 2.0)[None]}
    scalars, series = ag.summarise(res, 0)
    assert scalars["agreement_long"] == pytest.approx(right[distance >= 16].mean())  # 16 is long
    assert scalars["agreement_attractor_mismatch"] == 0.0
    assert scalars["agreement_overall"] == pytest.approx(right.mean())
    assert scalars["memory_horizon"] == 16
    assert scalars["memory_score"] == pytest.approx(1 - 2.0 * (~right).mean() / math.log(2))
    by_bin = series[series.analysis == "agreement_by_bin"]
    assert by_bin.y.tolist() == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    assert by_bin.x.tolist() == [hi for _, hi in metrics.AGREEMENT_BINS]


def test_clearly_above_chance_needs_sites_and_margin():
    assert metrics.clearly_above_chance(0.9, 100)
    assert not metrics.clearly_above_chance(0.9, 10)  # too few sites
    assert not metrics.clearly_above_chance(0.58, 100_000)  # significant but too small
    assert not metrics.clearly_above_chance(0.65, 30)  # z = 1.6
    assert metrics.memory_horizon([0.99, 0.5, 0.99, 0.99, 0.99, 0.99], [100] * 6) == 8


def test_gradient_regime_never_counts_explosion_as_reach():
    k = np.arange(25)
    assert metrics.gradient_regime(0.7 ** k) == "vanishing"
    assert metrics.gradient_regime(0.99 ** k) == "healthy"
    assert metrics.gradient_regime(1.5 ** k) == "exploding"
    assert metrics.gradient_regime(np.r_[1.0, np.full(24, np.nan)]) == "exploding"
    assert metrics.gradient_reach(1.5 ** k) == 11  # 1.5^12 > 100: reach stops there
    assert metrics.gradient_reach(0.99 ** k) == 24
    assert metrics.gradient_growth(0.5 ** k) == pytest.approx(0.5)


def test_sites_with_a_novel_word_standing_for_a_noun():
    text = "the zogs that the dog chases run.\nthe zog sleeps.\n"
    sites = agreement_sites(text, {"zog": "horse", "zogs": "horses"})
    got = [(s.subject, s.number, s.condition, text[s.cue], text[s.decide]) for s in sites]
    assert got == [("dog", "sg", "none", " ", "s"), ("zogs", "pl", "obj_rc1", "s", "."),
                   ("zog", "sg", "none", " ", "s")]
    assert agreement_sites(text) == []  # without the stand-in, "zog" is not a word

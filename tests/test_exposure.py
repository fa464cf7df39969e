"""Exposure bias on hand-made cases whose answer is known: the judge that goes on after an
error (lab.language.resync), the error rate after the model's own error (Compounding) and the
same on true text (after_error_true)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lab.language import corpus, grammar
from lab.language.alphabet import ALPHABET
from lab.language.resync import ResyncParser
from lab.measure.exposure import Compounding, after_error_true

# "dogs runs": an agreement error at the "s" of runs; "rxns": no word starts "rx"
TEXT = "the dogs runs fast.\nthe cat rxns.\nthe dog runs.\n"
AGREEMENT_ERROR, MISSPELLING = TEXT.index("runs") + 3, TEXT.index("rxns") + 1
NEVER = "z"  # no word of the vocabulary has a z: a prediction of it is always an error


def test_the_judge_equals_charparser_in_sync_and_goes_on_after_an_error():
    text = corpus.heldout_text()[:3000]
    text = text[text.index(".\n") + 2:]
    p, c = ResyncParser(), grammar.CharParser()
    for ch in text:
        assert p.allowed() == c.allowed() and p.clean
        assert p.step(ch) is True and c.step(ch) is True
    p = ResyncParser()
    verdicts = [p.step(ch) for ch in TEXT]
    assert [i for i, v in enumerate(verdicts) if v is False] == [AGREEMENT_ERROR, MISSPELLING]
    # "runs" re-read from any state: " fast." judged legal; the rest of "rxns." and its
    # newline are not judged; the next sentence is judged again, from a clean start
    assert verdicts[AGREEMENT_ERROR + 1: TEXT.index("\n") + 1] == [True] * 7
    assert verdicts[MISSPELLING + 1: TEXT.index("\n", MISSPELLING) + 1] == [None] * 4
    assert all(verdicts[TEXT.index("\n", MISSPELLING) + 1:]) and p.clean
    assert not any(NEVER in w for w in grammar.VOCABULARY)


def _logits(char: str) -> torch.Tensor:
    """(1, 1, V) logits that put all but ~1e-12 of the probability on `char`."""
    out = torch.zeros(1, 1, len(ALPHABET))
    out[0, 0, ALPHABET.index(char)] = 30.0
    return out


def test_error_rate_after_an_own_error_on_a_scripted_sample():
    """The sample writes TEXT; the "model" predicts z (an error) at steps 1 and 3 after the
    agreement error and step 6 after the misspelling, and the true next char elsewhere."""
    wrong = {AGREEMENT_ERROR + 1, AGREEMENT_ERROR + 3, MISSPELLING + 6}
    comp = Compounding(1, 1, span=10)
    for t, ch in enumerate(TEXT):
        comp(t, _logits(NEVER if t in wrong else ch), torch.tensor([[ALPHABET.index(ch)]]))
    assert comp.events.tolist() == [2]  # both errors were made from a correct sentence
    # after the agreement error every position 1..10 is judged; after the misspelling the
    # rest of "rxns." and the newline (positions 1..4) are not
    assert comp.counts[0].tolist() == [1, 1, 1, 1, 2, 2, 2, 2, 2, 2]
    expected = [1, 0, 1, 0, 0, 0.5, 0, 0, 0, 0]
    np.testing.assert_allclose(comp.by_position()[0], expected, atol=1e-9)
    assert comp.next_char()[0] == pytest.approx(1.0, abs=1e-9)  # the scalar: position 1


def test_no_error_no_event():
    comp = Compounding(1, 1, span=4)
    for t, ch in enumerate("the dog runs.\n"):
        comp(t, _logits(ch), torch.tensor([[ALPHABET.index(ch)]]))
    assert comp.events[0] == 0 and math.isnan(comp.next_char()[0])


def test_error_rate_after_an_error_on_true_text():
    """A model that would err with probability 0.5 at every other position: one position
    after a likely error it never errs, two positions after it errs half the time."""
    mass = np.array([[[np.nan, 0.5, 0.0, 0.5, 0.0, np.nan]]])  # (R=1, B=1, L=6)
    # j=1: (0.5*0 + 0*0.5 + 0.5*0) / 1.0; j=2: (0.5*0.5 + 0*0) / 0.5
    np.testing.assert_allclose(after_error_true(mass, span=2)[0], [0.0, 0.5])


def test_the_rate_after_a_correct_context_is_illegal_mass_own(one_thread):
    """Compounding's rate after a correct context reads the same positions as OwnContext's
    illegal_mass_own (an untrained model errs often, so both parsers lose and resume)."""
    from lab.measure.analyses import OwnContext
    from lab.measure.evaluate import generate
    from lab.training.config import BASELINE
    from lab.training.model import StackedRNN

    model = StackedRNN([BASELINE.replace(hidden=8, seed=s) for s in (1, 2)])
    own, comp = OwnContext(2, 4, 120), Compounding(2, 4)
    generate(model, 4, 120, [5, 6], lambda t, lg, ch: (own(t, lg, ch), comp(t, lg, ch)))
    np.testing.assert_allclose(comp.after_correct(), own.mass / own.count, rtol=1e-5)
    assert comp.clean_count.tolist() == own.count.tolist()
    assert (comp.events > 0).all() and (comp.events <= comp.clean_count).all()

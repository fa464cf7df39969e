import math
import re

import numpy as np
import pytest

from lab.language import grammar as g
from lab.language.grammar import (
    CharParser,
    allowed_next,
    entropy_rate,
    generate_text,
    score,
    text_log_prob,
    word_spans,
)

VALID = ["the lion chases the boy.\n", "the girl runs fast and the dog sleeps.\n"]
INVALID = [
    "the lion the boy.\n",  # missing verb
    "lion chases the boy.\n",  # missing "the"
    "the lion chases boy.\n",  # missing "the" before the object
    "the zog runs.\n",  # unknown word
    "the lion  runs.\n",  # double space
    "the lion runs .\n",  # space before "."
    "the lion chases.\n",  # transitive verb without object
    "the lion runs fast fast.\n",  # two adverbs
]


# ---------------------------------------------------------------- the tables

def test_vocabulary_is_well_formed():
    sizes = {c: len(g.WORDS_OF[c]) for c in g.CATEGORIES}
    assert sizes == {"animal": 6, "human": 6, "verb_t": 5, "verb_i": 5, "adverb": 5,
                     "and": 1, "the": 1, "end": 1}
    assert len(g.VOCABULARY) == len(set(g.VOCABULARY)) == sum(sizes.values())
    assert all(re.fullmatch("[a-z]+", w) for w in g.VOCABULARY if w != ".")
    assert "zog" not in g.VOCABULARY
    assert all(g.CATEGORY_OF[w] == c for c in g.CATEGORIES for w in g.WORDS_OF[c])


def test_transition_probabilities_sum_to_one():
    for state in g.STATES:
        assert sum(p for p, _ in g.TRANSITIONS[state].values()) == pytest.approx(1.0)
        assert sum(p for p, _ in g.WORD_TRANSITIONS[state].values()) == pytest.approx(1.0)
        assert all(nxt in g.STATES for _, nxt in g.TRANSITIONS[state].values())


def test_unifilar():
    for state, by_category in g.TRANSITIONS.items():
        words = [w for c in by_category for w in g.WORDS_OF[c]]
        assert len(words) == len(set(words)), state  # each (state, word) has one next state
        assert len(g.WORD_TRANSITIONS[state]) == len(words)


def test_non_unifilar_table_is_rejected(monkeypatch):
    monkeypatch.setitem(g.WORDS_OF, "human", g.ANIMALS[:1] + g.HUMANS)
    with pytest.raises(ValueError, match="unifilar"):
        g._word_transitions()


# ---------------------------------------------------------------- sampling and the floor

def test_generate_text_is_deterministic_and_ends_at_a_sentence_end():
    a, b, c = generate_text(5000, 7), generate_text(5000, 7), generate_text(5000, 8)
    assert a == b and a != c
    assert len(a) >= 5000 and a.endswith(".\n") and a.startswith("the ")
    assert a[:-2].rfind(".\n") + 2 < 5000  # stops at the first sentence end past 5000
    assert generate_text(20000, 7).startswith(a)
    assert generate_text(0, 7) == ""


def test_entropy_rate_matches_monte_carlo():
    text = generate_text(500_000, 3)
    sentences = [s + ".\n" for s in text.split(".\n")[:-1]]
    nats = np.array([-text_log_prob(s) for s in sentences])  # sentences are i.i.d.
    chars = np.array([len(s) for s in sentences], dtype=float)
    rate = nats.sum() / chars.sum()
    # standard error of a ratio estimator from per-sentence contributions
    se = np.std(nats - rate * chars, ddof=1) / math.sqrt(len(sentences)) / chars.mean()
    assert se < 0.003  # the test has teeth
    assert abs(rate - entropy_rate()) < 4 * se
    assert text_log_prob(text) == pytest.approx(-nats.sum())
    assert 0 < entropy_rate() < math.log(29)
    assert entropy_rate() == pytest.approx(g.word_entropy_rate() / g.mean_chars_per_word())


def test_text_log_prob_by_hand():
    # the(1) lion(1/2 * 1/6) runs(1/2 * 1/5) .(0.25)
    expected = math.log(1 / 12) + math.log(1 / 10) + math.log(0.25)
    assert text_log_prob("the lion runs.\n") == pytest.approx(expected)
    for bad in INVALID + ["the lion runs.", "the lion runs.\n\n"]:
        with pytest.raises(ValueError):
            text_log_prob(bad)


# ---------------------------------------------------------------- scoring

def test_valid_sentences_score_one():
    for text in VALID + ["".join(VALID)]:
        result = score(text)
        assert (result.valid_words, result.valid_sentences) == (1.0, 1.0), text


@pytest.mark.parametrize("text", INVALID)
def test_invalid_sentences_score_zero(text):
    result = score(text)
    assert result.n_sentences == 1 and result.valid_sentences == 0.0


def test_score_counts_words_and_sentences():
    assert score("the zog runs.\n").valid_words == pytest.approx(2 / 3)
    assert score("zog").valid_words == 0.0
    assert score("") == g.Grammaticality(0.0, 0.0, 0, 0)
    # trailing partial sentence is ignored; a "." without its "\n" spoils the next one
    assert score("the lion runs.\nthe dog").valid_sentences == 1.0
    assert score("the lion runs.\nthe dog").n_sentences == 1
    assert score("the lion runs.the dog sleeps.\n").valid_sentences == 0.5
    assert score("x9 the lion runs.\n").valid_sentences == 0.0
    result = score(generate_text(50_000, 5))
    assert (result.valid_words, result.valid_sentences) == (1.0, 1.0)


def test_word_spans():
    text = "the zog runs.\nthe"
    assert word_spans(text) == [("the", "the", 2), ("zog", None, 6), ("runs", "verb_i", 11),
                                (".", "end", 12), ("the", "the", 16)]


# ---------------------------------------------------------------- char-level legality

def test_allowed_next_by_hand():
    nouns = {w[0] for w in g.ANIMALS + g.HUMANS}
    assert allowed_next("") == {"t"}
    assert allowed_next("th") == {"e"}
    assert allowed_next("the ") == nouns
    assert allowed_next("the lion") == {" "}
    assert allowed_next("the lion chases the boy") == {".", " "}
    assert allowed_next("the lion runs") == {".", " "}
    assert allowed_next("the lion runs and") == {" "}
    assert allowed_next("the lion runs.") == {"\n"}
    assert allowed_next("the lion runs.\n") == {"t"}
    assert allowed_next("the lion chases ") == {"t"}
    assert allowed_next("the zog") is None
    assert allowed_next("the lion  ") is None


def test_char_parser_agrees_with_allowed_next_on_generated_text():
    text = generate_text(600, 11)
    parser = CharParser()
    for i, ch in enumerate(text):
        assert parser.allowed() == allowed_next(text[:i])
        assert ch in parser.allowed()
        assert parser.step(ch)


def test_char_parser_resyncs_after_garbage():
    good, garbage = "the lion runs.\n", "the zog. q . zz.\n"
    parser = CharParser()
    assert all(parser.step(ch) for ch in good)
    legal = [parser.step(ch) for ch in garbage]
    assert legal[:4] == [True] * 4 and not any(legal[4:])  # lost from "z"
    assert parser.allowed() == {"t"}
    assert all(parser.step(ch) for ch in VALID[1])

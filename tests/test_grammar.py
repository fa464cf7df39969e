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

VALID = ["the lion follows the boy.\n", "the girls walk fast.\n",
         "the cat that the dogs that the boy sees chase runs.\n",
         "the men that feed the bird sing.\n", "the woman sees the children that sing.\n"]
INVALID = [
    "the lion the boy.\n",  # missing verb
    "lion follows the boy.\n",  # missing "the"
    "the lion follows boy.\n",  # missing "the" before the object
    "the zog runs.\n",  # unknown word
    "the lion  runs.\n",  # double space
    "the lion runs .\n",  # space before "."
    "the lion chases.\n",  # transitive verb without object
    "the lion runs fast fast.\n",  # two adverbs
    "the lions runs.\n",  # agreement: plural subject, singular verb
    "the cats that the dog chase run.\n",  # the relative clause's verb must agree with "dog"
    "the cat that the dogs chase run.\n",  # the main verb must agree with "cat", not "dogs"
    "the men that feeds the bird sing.\n",  # subject relative: verb agrees with its head
    "the cat that the dogs that the boys that the man sees see chase runs.\n",  # depth 3
]
RESTRICTED = [  # well formed and agreeing, but a verb takes a class it does not allow
    "the cat feeds the dog.\n",  # animals cannot feed
    "the boy feeds the girl.\n",  # what is fed is an animal
    "the dogs sing.\n",  # only humans sing
    "the king runs fast.\n",  # only animals run
    "the cat that the dog follows sleeps.\n",  # object relative: what is followed is human
    "the boys that chase the cats sleep.\n",  # subject relative: humans cannot chase
]


# ---------------------------------------------------------------- the tables

def test_vocabulary_is_well_formed():
    sizes = {c: len(g.WORDS_OF[c]) for c in g.CATEGORIES}
    assert sizes == {"animal_sg": 6, "animal_pl": 6, "human_sg": 6, "human_pl": 6,
                     "verb_t_sg": 5, "verb_t_pl": 5, "verb_i_sg": 5, "verb_i_pl": 5,
                     "adverb": 5, "that": 1, "the": 1, "end": 1}
    assert len(g.VOCABULARY) == len(set(g.VOCABULARY)) == sum(sizes.values())
    assert all(re.fullmatch("[a-z]+", w) for w in g.VOCABULARY if w != ".")
    assert "zog" not in g.VOCABULARY and "zogs" not in g.VOCABULARY
    assert all(g.CATEGORY_OF[w] == c for c in g.CATEGORIES for w in g.WORDS_OF[c])
    assert {g.NUMBER_OF["men"], g.NUMBER_OF["runs"], g.NUMBER_OF["cat"]} == {"pl", "sg"}
    stems = [pl for _, pl in g.VERB_PAIRS]  # no stem extends another: "s" alone decides
    assert not any(a != b and b.startswith(a) for a in stems for b in stems)


def test_transition_probabilities_sum_to_one():
    for state in g.STATES:
        assert sum(p for p, _ in g.TRANSITIONS[state].values()) == pytest.approx(1.0)
        assert sum(p for p, _ in g.WORD_TRANSITIONS[state].values()) == pytest.approx(1.0)
        assert all(nxt in g.STATES for _, nxt in g.TRANSITIONS[state].values())


def test_unifilar():
    for state, by_category in g.TRANSITIONS.items():
        words = [w for c in by_category for w in g.MACHINE_WORDS_OF[c]]
        assert len(words) == len(set(words)), state  # each (state, word) has one next state
        assert len(g.WORD_TRANSITIONS[state]) == len(words)


def test_non_unifilar_table_is_rejected(monkeypatch):
    clash = g.WORDS_OF["animal_sg"][:1] + g.WORDS_OF["human_sg"]  # "cat" twice in a state
    monkeypatch.setitem(g.MACHINE_WORDS_OF, "human_sg", clash)
    with pytest.raises(ValueError, match="unifilar"):
        g._word_transitions()


def test_states_carry_the_pending_numbers():
    # after "the cat that the dogs" the machine owes a plural verb whose subject and object
    # are animals, then a singular verb for an animal
    steps = g._parse_words("the cat that the dogs")
    state = g.WORD_TRANSITIONS[steps[-1][0]][steps[-1][1]][1]
    assert set(g.TRANSITIONS[state]) == {"verb_t_pl.chase", "verb_t_pl.see", "that"}
    stack = g.STACK_OF[state]
    assert ("vp", "sg", "animal") in stack and ("gap", "pl", "animal", "animal") in stack
    assert max(len(s) for s in g.STACK_OF.values()) <= 2 + 3 * g.MAX_DEPTH


def test_object_relatives_are_common():
    text = generate_text(200_000, 4)
    sentences = text.split(".\n")[:-1]
    with_object_relative = [s for s in sentences if re.search(r"\bthat the\b", s)]
    assert len(with_object_relative) / len(sentences) >= 1 / 3
    assert any(s.count("that") >= 2 for s in with_object_relative)  # nesting to depth 2 occurs


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
    # the(1) lion(no clause 0.4, singular animal 1/4 x 1/6) runs(intransitive 1/2 x one of
    # the 3 an animal takes: run, jump, sleep) .(no adverb 1/2)
    expected = (math.log(0.4 / 24) + math.log(1 / 6) + math.log(0.5))
    assert text_log_prob("the lion runs.\n") == pytest.approx(expected)
    for bad in INVALID + RESTRICTED + ["the lion runs.", "the lion runs.\n\n"]:
        with pytest.raises(ValueError):
            text_log_prob(bad)


# ---------------------------------------------------------------- scoring

def test_valid_sentences_score_one():
    for text in VALID + ["".join(VALID)]:
        result = score(text)
        assert (result.valid_words, result.valid_sentences) == (1.0, 1.0), text


@pytest.mark.parametrize("text", INVALID + RESTRICTED)
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
    assert score("the lions runs.\nthe lions run.\n").valid_sentences == 0.5  # agreement


def test_word_spans():
    text = "the zog runs.\nthe"
    assert word_spans(text) == [("the", "the", 2), ("zog", None, 6), ("runs", "verb_i_sg", 11),
                                (".", "end", 12), ("the", "the", 16)]


# ---------------------------------------------------------------- char-level legality

def test_allowed_next_by_hand():
    nouns = {w[0] for pair in g.NOUN_PAIRS for w in pair}
    assert allowed_next("") == {"t"}
    assert allowed_next("th") == {"e"}
    assert allowed_next("the ") == nouns
    assert allowed_next("the lion") == {" ", "s"}
    animal_verbs = {v[0] for _, v in g.VERB_PAIRS if "animal" in g.SUBJECT_CLASS[v]}
    assert animal_verbs == set("cfsrj")  # chase, follow, see, sleep, run, jump
    assert allowed_next("the lions ") == {"t"} | animal_verbs
    assert allowed_next("the lions r") == {"u"}
    assert allowed_next("the lions run") == {".", " "}  # plural: no "s"
    assert allowed_next("the lion run") == {"s"}  # singular: only "s"
    assert allowed_next("the cats that the dog chase") == {"s"}  # agrees with "dog"
    assert allowed_next("the cats that the dog chases run") == {".", " "}  # with "cats"
    assert allowed_next("the lion chases the dog") == {".", " ", "s"}
    assert allowed_next("the lion chases the ") == {w[0] for pair in g.ANIMAL_PAIRS for w in pair}
    assert allowed_next("the lion chases the b") == {"i"}  # bird, not boy: chase takes animals
    assert allowed_next("the lion runs") == {".", " "}
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

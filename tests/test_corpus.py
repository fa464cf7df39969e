import numpy as np
import pytest

from lab.language import corpus
from lab.language.alphabet import decode
from lab.language.grammar import generate_text, score


def test_streams_are_deterministic_whole_sentences():
    held = corpus.heldout_text()
    assert held == generate_text(corpus.HELDOUT_CHARS, corpus.HELDOUT_SEED)
    assert len(held) >= corpus.HELDOUT_CHARS and held.endswith(".\n")
    assert score(held).valid_sentences == 1.0


def test_ids_are_read_only_uint8_of_the_text():
    ids = corpus.heldout_ids()
    assert ids.dtype == np.uint8 and not ids.flags.writeable
    assert decode(ids) == corpus.heldout_text()
    with pytest.raises(ValueError):
        ids[0] = 1


def test_train_and_heldout_differ():
    train, held = corpus.train_text(), corpus.heldout_text()
    assert len(train) >= corpus.TRAIN_CHARS
    assert corpus.TRAIN_SEED != corpus.HELDOUT_SEED
    assert train[:1000] != held[:1000]
    assert corpus.train_ids() is corpus.train_ids()  # cached, not regenerated


def test_replace_word_replaces_whole_words_only():
    text = "the cat sees the lion.\nthe catx and xcat. them the.\n"
    assert corpus.replace_word(text, "lion") == (
        "the cat sees the zog.\nthe catx and xcat. them the.\n"
    )
    assert corpus.replace_word(text, "the", "qq") == (
        "qq cat sees qq lion.\nqq catx and xcat. them qq.\n"
    )


def test_replace_word_keeps_number():
    text = "the cat that the cats chase sees the man.\nthe men that chase the woman run.\n"
    for word in ("cat", "cats"):  # either form of a noun replaces both
        assert corpus.replace_word(text, word) == (
            "the zog that the zogs chase sees the man.\nthe men that chase the woman run.\n")
    assert corpus.replace_word(text, "man") == (  # irregular plural, and "woman" is untouched
        "the cat that the cats chase sees the zog.\nthe zogs that chase the woman run.\n")
    assert corpus.replace_word(text, "chases") == (  # verbs: plural stem -> zog
        "the cat that the cats zog sees the man.\nthe men that zog the woman run.\n")


@pytest.mark.parametrize("word", ["zog", ".", "", "Cat", "ca"])
def test_replace_word_rejects_unknown_words(word):
    with pytest.raises(ValueError):
        corpus.replace_word("the cat runs.\n", word)

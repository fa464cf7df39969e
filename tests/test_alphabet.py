import numpy as np
import pytest

from lab.language.alphabet import ALPHABET, CHAR_TO_ID, VOCAB_SIZE, AlphabetError, decode, encode


def test_alphabet_is_fixed():
    assert ALPHABET == "abcdefghijklmnopqrstuvwxyz .\n"
    assert VOCAB_SIZE == 29 == len(CHAR_TO_ID)
    assert CHAR_TO_ID["a"] == 0 and CHAR_TO_ID["\n"] == 28


def test_round_trip():
    text = "the lion chases the zog.\nthe boy runs fast.\n"
    ids = encode(text)
    assert ids.dtype == np.uint8 and ids.shape == (len(text),)
    assert decode(ids) == text
    assert decode(ids.tolist()) == text
    assert decode(range(VOCAB_SIZE)) == ALPHABET
    assert decode([]) == ""


@pytest.mark.parametrize("bad, position", [("The", 0), ("caf\u00e9", 3), ("room 101", 5)])
def test_encode_rejects_chars_outside_alphabet(bad, position):
    with pytest.raises(AlphabetError) as err:
        encode(bad)
    message = str(err.value)
    assert repr(bad[position]) in message and f"position {position}" in message
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("ids", [[0, 29], [-1], np.array([3, 200])])
def test_decode_rejects_bad_ids(ids):
    with pytest.raises(ValueError):
        decode(ids)

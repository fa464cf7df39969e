"""The train and held-out text streams, and word replacement for the unseen-word probe.

Both streams come from the grammar with fixed seeds, so every run sees the same text.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from lab.language.alphabet import encode
from lab.language.grammar import NOUN_PAIRS, SENTENCE_END, VERB_PAIRS, VOCABULARY, generate_text

# the held-out stream is separate text sampled with a different seed (not a slice of
# the training stream), so held-out loss measures the grammar learned, not memorised text
TRAIN_SEED = 1
HELDOUT_SEED = 2
TRAIN_CHARS = 2_000_000
HELDOUT_CHARS = 200_000


@lru_cache(maxsize=1)
def train_text() -> str:
    """The training stream (~2M chars, whole sentences)."""
    return generate_text(TRAIN_CHARS, TRAIN_SEED)


@lru_cache(maxsize=1)
def heldout_text() -> str:
    """The held-out stream (~200k chars, whole sentences, its own seed)."""
    return generate_text(HELDOUT_CHARS, HELDOUT_SEED)


def _read_only(ids: np.ndarray) -> np.ndarray:
    ids.setflags(write=False)  # shared by every caller through the cache
    return ids


@lru_cache(maxsize=1)
def train_ids() -> np.ndarray:
    """The training stream as read-only uint8 ids, shape (TRAIN_CHARS + a few,)."""
    return _read_only(encode(train_text()))


@lru_cache(maxsize=1)
def heldout_ids() -> np.ndarray:
    """The held-out stream as read-only uint8 ids."""
    return _read_only(encode(heldout_text()))


def replace_word(text: str, word: str, new: str = "zog") -> str:
    """Replace vocabulary `word` (whole words, not substrings) by `new`, keeping number.

    A noun in either form replaces both: singular -> new, plural -> new + "s" ("cat",
    "cats" -> "zog", "zogs"; "man", "men" -> "zog", "zogs"); a verb likewise (singular
    "chases" -> new + "s", plural "chase" -> new); any other word -> new. Raises
    ValueError for a word outside the vocabulary, for ".", or a `new` not a-z.
    """
    if word not in VOCABULARY or word == SENTENCE_END:
        raise ValueError(f"{word!r} is not a replaceable vocabulary word")
    if not re.fullmatch(r"[a-z]+", new):
        raise ValueError(f"replacement {new!r} must be lowercase letters a-z")
    pairs = {w: (sg, pl) for sg, pl in NOUN_PAIRS for w in (sg, pl)}
    pairs.update({w: (sg, pl) for sg, pl in VERB_PAIRS for w in (sg, pl)})
    if word not in pairs:
        return _swap(text, {word: new})
    sg, pl = pairs[word]
    noun = (sg, pl) in NOUN_PAIRS
    return _swap(text, {sg: new if noun else new + "s", pl: new + "s" if noun else new})


def _swap(text: str, mapping: dict[str, str]) -> str:
    """Replace each whole word key of mapping by its value, in one pass."""
    pattern = "|".join(sorted(map(re.escape, mapping), key=len, reverse=True))
    return re.sub(rf"(?<![a-z])(?:{pattern})(?![a-z])", lambda m: mapping[m.group()], text)

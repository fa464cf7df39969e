"""The train and held-out text streams, and word replacement for the unseen-word probe.

Both streams come from the grammar with fixed seeds, so every run sees the same text.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from lab.language.alphabet import encode
from lab.language.grammar import SENTENCE_END, VOCABULARY, generate_text

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
    """Replace every whole-word occurrence of vocabulary `word` (not substrings) by `new`.

    Raises ValueError for a word outside the vocabulary, for ".", or a `new` not a-z.
    """
    if word not in VOCABULARY or word == SENTENCE_END:
        raise ValueError(f"{word!r} is not a replaceable vocabulary word")
    if not re.fullmatch(r"[a-z]+", new):
        raise ValueError(f"replacement {new!r} must be lowercase letters a-z")
    return re.sub(rf"(?<![a-z]){word}(?![a-z])", new, text)

"""The fixed 29-symbol alphabet: a-z, space, period, newline.

Fixed rather than read from the corpus, so words the grammar never emits (such as
"zog") are still encodable and every model has the same 29 logits.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

ALPHABET = "abcdefghijklmnopqrstuvwxyz .\n"
VOCAB_SIZE = len(ALPHABET)  # 29
CHAR_TO_ID: dict[str, int] = {ch: i for i, ch in enumerate(ALPHABET)}

# byte value -> id, 255 marks a byte outside the alphabet (ascii fast path for encode)
_BYTE_TO_ID = np.full(256, 255, dtype=np.uint8)
for _ch, _i in CHAR_TO_ID.items():
    _BYTE_TO_ID[ord(_ch)] = _i
_ID_TO_BYTE = np.frombuffer(ALPHABET.encode("ascii"), dtype=np.uint8)


class AlphabetError(ValueError):
    """A character outside the alphabet; the message names it, its position and the set."""

    def __init__(self, char: str, position: int):
        self.char = char
        self.position = position
        super().__init__(
            f"character {char!r} at position {position} is not in the alphabet "
            f"{ALPHABET!r} (a-z, space, '.', newline)"
        )


def encode(text: str) -> np.ndarray:
    """Text -> uint8 ids of shape (len(text),); raises AlphabetError on any other char."""
    try:
        raw = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError as err:
        raise AlphabetError(text[err.start], err.start) from None
    ids = _BYTE_TO_ID[raw]
    bad = np.flatnonzero(ids == 255)
    if bad.size:
        raise AlphabetError(text[int(bad[0])], int(bad[0]))
    return ids


def decode(ids: Iterable[int] | np.ndarray) -> str:
    """Ids (any int sequence or array) -> text; raises ValueError for an id outside 0..28."""
    arr = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids).reshape(-1)
    if arr.size == 0:
        return ""
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"ids must be integers, got dtype {arr.dtype}")
    bad = np.flatnonzero((arr < 0) | (arr >= VOCAB_SIZE))
    if bad.size:
        raise ValueError(
            f"id {int(arr[bad[0]])} at position {int(bad[0])} is outside 0..{VOCAB_SIZE - 1}"
        )
    return _ID_TO_BYTE[arr].tobytes().decode("ascii")

"""A parser that keeps judging text after an error: what "an error after an error" means.

grammar.CharParser gives up after an illegal character until the next sentence start, since
nothing after it can be judged against the sentence that was meant. To count the errors that
follow a first one (exposure bias, lab.measure.exposure) we need a judge that goes on:
ResyncParser follows text exactly as CharParser does while the sentence so far is correct;
after an illegal character it re-reads the current word as if the sentence could have been
any sentence of the grammar (every state is possible again), and keeps judging from there. A
character that continues no word at all leaves nothing to re-read: the rest of that word is
not judged, and judging resumes at the next space (any state) or sentence start.

It forgives more after an error than before one, so errors counted after an error are, if
anything, too few: a rise in errors after an error is not an artefact of the judge.
"""

from __future__ import annotations

from functools import lru_cache

from lab.language.grammar import (
    _ALLOWED,
    _NEWLINE_ONLY,
    S_START,
    SENTENCE_END,
    WORD_TRANSITIONS,
)

ANY_STATE = frozenset(WORD_TRANSITIONS)  # after an error: the sentence could be any sentence


@lru_cache(maxsize=65_536)
def _allowed(states: frozenset, partial: str) -> frozenset:
    """Characters some state of `states` allows after the partial word."""
    out: set[str] = set()
    for s in states:
        out |= _ALLOWED[s].get(partial, frozenset())
    return frozenset(out)


@lru_cache(maxsize=65_536)
def _advance(states: frozenset, partial: str, ch: str) -> tuple[frozenset, str, bool]:
    """(states, partial, after_period) after reading ch, keeping the states that allow it."""
    keep = [s for s in states if ch in _ALLOWED[s].get(partial, ())]
    if ch == " ":
        return frozenset(WORD_TRANSITIONS[s][partial][1] for s in keep), "", False
    if ch == ".":
        ends = (WORD_TRANSITIONS[s][partial][1] for s in keep)
        return frozenset(WORD_TRANSITIONS[e][SENTENCE_END][1] for e in ends), "", True
    return frozenset(keep), partial + ch, False


@lru_cache(maxsize=65_536)
def _reread(partial: str, ch: str) -> tuple[frozenset, str, bool] | None:
    """The reading after an error: partial + ch from any state that allows it (None: none)."""
    again = frozenset(s for s in ANY_STATE if ch in _ALLOWED[s].get(partial, ()))
    return _advance(again, partial, ch) if again else None


class ResyncParser:
    """Follows a text char by char from a sentence start; step() says whether each char was
    legal (True), an error (False), or not judged (None: the rest of a word that is no word).

    `clean` is True while the current sentence has had no error: exactly the positions where
    grammar.CharParser is in sync (it resumes at the same sentence starts).
    """

    def __init__(self) -> None:
        self.states, self.partial, self.after_period = frozenset({S_START}), "", False
        self.lost = self._lost_saw_period = False
        self.clean = True

    def allowed(self) -> frozenset[str] | None:
        """Legal next characters under the current reading, or None while not judging."""
        if self.lost:
            return None
        return _NEWLINE_ONLY if self.after_period else _allowed(self.states, self.partial)

    def step(self, ch: str) -> bool | None:
        """Consume one char: True legal, False an error, None not judged."""
        if self.lost:
            self._read_lost(ch)
            return None
        if self.after_period:
            if ch == "\n":
                self.after_period, self.clean = False, True  # a new sentence: S_START
                return True
            self._error(ch)
            return False
        if ch in _allowed(self.states, self.partial):
            self.states, self.partial, self.after_period = _advance(self.states, self.partial, ch)
            return True
        self._error(ch)
        return False

    def _error(self, ch: str) -> None:
        """Re-read the current word (with ch) from any state; lost if no state allows it."""
        self.clean = False
        reading = _reread("" if self.after_period else self.partial, ch)
        if reading is not None:
            self.states, self.partial, self.after_period = reading
        else:
            self.lost, self._lost_saw_period = True, ch == "."
            self.after_period = False

    def _read_lost(self, ch: str) -> None:
        """Skip to the next word (any state) or, after ".\\n", the next sentence start."""
        if self._lost_saw_period and ch == "\n":
            self.__init__()  # the sentence start CharParser resumes at; clean again
        elif ch == " ":
            self.lost, self.states, self.partial = False, ANY_STATE, ""
        else:
            self._lost_saw_period = ch == "."

"""The corpus grammar: a unifilar probabilistic finite-state machine over words.

The sentences and their states are in lab.language.sentences (a stack machine whose
states carry the pending number and class bits). Each state emits a word and moves to the
one next state that (state, word) names (unifilar), so the state is a function of the
words so far. Words are rendered to characters: a space before every word except a
sentence's first word and ".", and "." written as ".\\n"; words inside a machine category
(MACHINE_WORDS_OF) are equiprobable.

Why `entropy_rate()` is the loss floor, in nats per character:
1. Rendering is a bijection between word sequences from S_START and their texts: a
   word ends where a space or "." follows, and the state (a function of the past,
   by unifilarity) says which words can come next, so the text decodes uniquely.
2. Hence a text of N words and L_N characters has log-probability
   sum_t log p(w_t | s_t), counted per word or per character alike.
3. The state chain is irreducible with stationary law pi (a linear solve), so by the
   ergodic theorem -log p / N -> h_word = sum_s pi(s) H(W | s) and
   L_N / N -> E_pi[len] = sum_s pi(s) E[rendered length of W | s].
4. So -log p / L_N -> h_word / E_pi[len] = entropy_rate(): the best possible mean
   cross-entropy per character, the same unit as the training loss.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from lab.language.sentences import (  # noqa: F401 (re-exported: the grammar's tables)
    ADVERBS,
    ANIMAL_PAIRS,
    CATEGORIES,
    CATEGORY_LABEL,
    CATEGORY_OF,
    CLASS_OF,
    CORPUS_VERSION,
    HUMAN_PAIRS,
    MACHINE_CATEGORY_OF,
    MACHINE_WORDS_OF,
    MAX_DEPTH,
    NOUN_CLASSES,
    NOUN_PAIRS,
    NUMBER_OF,
    NUMBERS,
    OBJECT_CLASS,
    S_START,
    SENTENCE_END,
    STACK_OF,
    START_STACK,
    STATES,
    SUBJECT_CLASS,
    TRANSITIONS,
    VERB_I_STEMS,
    VERB_PAIRS,
    VERB_T_STEMS,
    VOCABULARY,
    WORDS_OF,
    _expand,
    company,
    company_sentence,
    state_name,
)


def _word_transitions() -> dict[str, dict[str, tuple[float, str]]]:
    """State -> word -> (probability, next state); raises if a word has two next states."""
    table: dict[str, dict[str, tuple[float, str]]] = {}
    for state, by_category in TRANSITIONS.items():
        table[state] = {}
        for category, (p, nxt) in by_category.items():
            words = MACHINE_WORDS_OF[category]
            for word in words:
                if word in table[state]:
                    raise ValueError(f"not unifilar: {word!r} twice in state {state}")
                table[state][word] = (p / len(words), nxt)
    return table


WORD_TRANSITIONS = _word_transitions()


def render(word: str, state: str) -> str:
    """The characters for `word` emitted in `state` (leading space, ".\\n" for ".")."""
    if word == SENTENCE_END:
        return ".\n"
    return word if state == S_START else " " + word


# ---------------------------------------------------------------- entropy floor

@lru_cache(maxsize=1)
def stationary_distribution() -> dict[str, float]:
    """Stationary law pi of the state chain: solve pi P = pi, sum(pi) = 1."""
    index = {s: i for i, s in enumerate(STATES)}
    n = len(STATES)
    transition = np.zeros((n, n))  # (from, to)
    for state, by_word in WORD_TRANSITIONS.items():
        for p, nxt in by_word.values():
            transition[index[state], index[nxt]] += p
    system = transition.T - np.eye(n)
    system[-1, :] = 1.0  # replace one redundant balance equation by normalisation
    rhs = np.zeros(n)
    rhs[-1] = 1.0
    pi = np.linalg.solve(system, rhs)
    return {s: float(pi[index[s]]) for s in STATES}


def word_entropy_rate() -> float:
    """h_word = sum_s pi(s) H(next word | s), in nats per word."""
    pi = stationary_distribution()
    return sum(
        pi[s] * -sum(p * math.log(p) for p, _ in WORD_TRANSITIONS[s].values()) for s in STATES
    )


def mean_chars_per_word() -> float:
    """E_pi[len]: stationary expected rendered length of one word, separators included."""
    pi = stationary_distribution()
    return sum(
        pi[s] * sum(p * len(render(w, s)) for w, (p, _) in WORD_TRANSITIONS[s].items())
        for s in STATES
    )


@lru_cache(maxsize=1)
def entropy_rate() -> float:
    """Exact entropy rate in nats/char = h_word / E_pi[len] (module docstring derives it).
    Kept: every study page quotes it, and the sums run over all 614 states in Python."""
    return word_entropy_rate() / mean_chars_per_word()


# ---------------------------------------------------------------- sampling

def _sampling_tables() -> list[tuple[list[float], list[str], list[int], list[int]]]:
    """Per state index: (cumulative word probabilities, rendered words, lengths, next index)."""
    index = {s: i for i, s in enumerate(STATES)}
    tables = []
    for s in STATES:
        by_word = WORD_TRANSITIONS[s]
        cum = np.cumsum([p for p, _ in by_word.values()]).tolist()
        cum[-1] = 1.0  # uniforms are < 1, so bisect never runs off the end
        rendered = [render(w, s) for w in by_word]
        tables.append((cum, rendered, [len(r) for r in rendered],
                       [index[nxt] for _, nxt in by_word.values()]))
    return tables


_SAMPLING_TABLES = _sampling_tables()


def generate_text(n_chars: int, seed: int) -> str:
    """Whole sentences from S_START until at least `n_chars` chars; ends with ".\\n".

    One uniform per word, drawn in blocks from np.random.default_rng(seed), so the
    text is deterministic per seed and a shorter text is a prefix of a longer one.
    """
    if n_chars <= 0:
        return ""
    rng = np.random.default_rng(seed)
    start = state = STATES.index(S_START)
    pieces: list[str] = []
    length = 0
    while True:
        for u in rng.random(1 << 16).tolist():
            cum, rendered, lengths, nxt = _SAMPLING_TABLES[state]
            i = bisect_right(cum, u)
            pieces.append(rendered[i])
            length += lengths[i]
            state = nxt[i]
            if state == start and length >= n_chars:
                return "".join(pieces)


# ---------------------------------------------------------------- parsing and scoring

_WORD_AT = re.compile(r"[a-z]+")
_LETTER_RUN = re.compile(r"[^\W\d_]+")  # maximal run of letters (any script, any case)
_WORD_OR_END = re.compile(r"[^\W\d_]+|\.")


def _parse_words(text: str) -> list[tuple[str, str]]:
    """Exact (state, word) steps of a text that starts at S_START; ValueError if ungrammatical."""
    steps: list[tuple[str, str]] = []
    state, pos = S_START, 0
    while pos < len(text):
        if text.startswith(".\n", pos):
            word, end = SENTENCE_END, pos + 2
        else:
            start = pos if state == S_START else pos + 1
            if state != S_START and text[pos] != " ":
                raise ValueError(f"expected ' ' or '.\\n' at position {pos}, got {text[pos]!r}")
            match = _WORD_AT.match(text, start)
            if match is None:
                raise ValueError(f"expected a word at position {start}")
            word, end = match.group(), match.end()
        if word not in WORD_TRANSITIONS[state]:
            raise ValueError(f"{word!r} at position {pos} is not allowed in state {state}")
        steps.append((state, word))
        state, pos = WORD_TRANSITIONS[state][word][1], end
    return steps


def text_log_prob(text: str) -> float:
    """Natural log-probability of the words of `text` (starting at a sentence start).

    For a text ending at ".\\n" this is also the log-probability of its characters.
    Raises ValueError if the text is not grammatical.
    """
    return sum(math.log(WORD_TRANSITIONS[s][w][0]) for s, w in _parse_words(text))


def _is_sentence(body: str) -> bool:
    """True iff body + ".\\n" is exactly one rendered sentence from S_START."""
    try:
        _parse_words(body + ".\n")
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Grammaticality:
    valid_words: float  # fraction of words in the vocabulary
    valid_sentences: float  # fraction of complete sentences the grammar renders exactly
    n_words: int
    n_sentences: int  # complete sentences (pieces ending in ".")


def score(text: str) -> Grammaticality:
    """Grammaticality of any text (e.g. a model sample).

    Words are maximal runs of letters; valid_words is the fraction of them in the
    vocabulary (0.0 if there are none). Sentences are the pieces of text ending in
    "."; text after the last "." is ignored. Every piece but the first must start with
    the "\\n" that ends the previous sentence, which is stripped (one "\\n" is also
    stripped from the first piece if present). A sentence is valid iff what remains is
    exactly what the grammar renders for a sentence from its start to "." (single
    spaces, no stray characters). valid_sentences = valid / complete (0.0 if none).
    The text is taken to start at a sentence start.
    """
    words = _LETTER_RUN.findall(text)
    n_valid_words = sum(1 for w in words if w in CATEGORY_OF and w != SENTENCE_END)
    pieces = text.split(".")[:-1]
    n_valid_sentences = 0
    for k, piece in enumerate(pieces):
        if piece.startswith("\n"):
            piece = piece[1:]
        elif k > 0:
            continue  # the previous "." was not followed by its "\n"
        n_valid_sentences += _is_sentence(piece)
    return Grammaticality(
        valid_words=n_valid_words / len(words) if words else 0.0,
        valid_sentences=n_valid_sentences / len(pieces) if pieces else 0.0,
        n_words=len(words),
        n_sentences=len(pieces),
    )


def word_spans(text: str) -> list[tuple[str, str | None, int]]:
    """(word, category or None if unknown, index of its last char) per word and per "."."""
    return [
        (m.group(), CATEGORY_OF.get(m.group()), m.end() - 1)
        for m in _WORD_OR_END.finditer(text)
    ]


# ---------------------------------------------------------------- character-level legality

def _allowed_chars() -> dict[str, dict[str, frozenset[str]]]:
    """State -> partial word -> legal next characters (letters, " " or ".")."""
    table: dict[str, dict[str, frozenset[str]]] = {}
    for state, by_word in WORD_TRANSITIONS.items():
        sets: dict[str, set[str]] = {}
        for word, (_, nxt) in by_word.items():
            if word == SENTENCE_END:
                continue  # "." is reached from the word before it, as a separator
            for i, ch in enumerate(word):
                sets.setdefault(word[:i], set()).add(ch)
            after = sets.setdefault(word, set())
            if SENTENCE_END in WORD_TRANSITIONS[nxt]:
                after.add(".")
            if any(w != SENTENCE_END for w in WORD_TRANSITIONS[nxt]):
                after.add(" ")
        table[state] = {prefix: frozenset(chars) for prefix, chars in sets.items()}
    return table


_ALLOWED = _allowed_chars()
_NEWLINE_ONLY = frozenset("\n")


class CharParser:
    """Follows a text char by char from a sentence start and says which chars are legal.

    After an illegal char the parser is lost until it has consumed the next ".\\n";
    it then resumes at S_START. While lost, step() returns False and allowed() None.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.state = S_START  # grammar state before the current word
        self.partial = ""  # letters of the current word so far
        self.after_period = False  # just read ".", so only "\n" is legal
        self.lost = False
        self._lost_saw_period = False

    def allowed(self) -> frozenset[str] | None:
        """Legal next characters, or None while lost."""
        if self.lost:
            return None
        if self.after_period:
            return _NEWLINE_ONLY
        return _ALLOWED[self.state][self.partial]

    def probabilities(self) -> dict[str, float] | None:
        """The grammar's exact distribution of the next character here (None while lost):
        the words of this state that continue the partial word, weighted by their
        probabilities; a finished word is followed by "." with the probability that the
        sentence ends next, else by a space."""
        if self.lost:
            return None
        if self.after_period:
            return {"\n": 1.0}
        out: dict[str, float] = {}
        n = len(self.partial)
        for word, (p, nxt) in WORD_TRANSITIONS[self.state].items():
            if word == SENTENCE_END or not word.startswith(self.partial):
                continue
            if len(word) > n:
                out[word[n]] = out.get(word[n], 0.0) + p
            else:
                end = WORD_TRANSITIONS[nxt].get(SENTENCE_END, (0.0, ""))[0]
                out["."] = out.get(".", 0.0) + p * end
                out[" "] = out.get(" ", 0.0) + p * (1.0 - end)
        total = sum(out.values())
        return {c: q / total for c, q in out.items() if q > 0}

    def step(self, ch: str) -> bool:
        """Consume one char; True iff it was legal here."""
        if self.lost:
            if self._lost_saw_period and ch == "\n":
                self._reset()
            else:
                self._lost_saw_period = ch == "."
            return False
        if ch not in self.allowed():
            self.lost, self._lost_saw_period = True, ch == "."
            return False
        if self.after_period:  # ch is "\n": a new sentence, state is already S_START
            self.after_period = False
        elif ch == " ":
            self.state, self.partial = WORD_TRANSITIONS[self.state][self.partial][1], ""
        elif ch == ".":
            before_end = WORD_TRANSITIONS[self.state][self.partial][1]
            self.state = WORD_TRANSITIONS[before_end][SENTENCE_END][1]
            self.partial, self.after_period = "", True
        else:
            self.partial += ch
        return True


def allowed_next(prefix: str) -> frozenset[str] | None:
    """Characters the grammar allows right after `prefix` (from a sentence start).

    None if the prefix itself is not a grammatical prefix.
    """
    parser = CharParser()
    for ch in prefix:
        if not parser.step(ch):
            return None
    return parser.allowed()

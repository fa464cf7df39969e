"""Where the corpus needs memory: every agreeing verb, its subject, and what lies between.

`agreement_sites(text)` replays the grammar's stack machine over a text, carrying beside
each stack symbol the noun it is owed to, so each verb is matched to its subject. A site
is scored at its *deciding character*: the character right after the verb's stem ("s"
for a singular subject, the space or "." that follows a plural one). Only the subject's
number decides it, so a model that forgot the number is at chance there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from lab.language.grammar import (  # the machine the grammar renders, and its tokeniser
    _WORD_OR_END,
    MACHINE_CATEGORY_OF,
    NOUN_PAIRS,
    NUMBER_OF,
    START_STACK,
    VERB_PAIRS,
    _expand,
)

CONDITIONS = ("none", "subj_rc", "obj_rc1", "obj_rc2")  # what lies between subject and verb
ATTRACTORS = ("match", "mismatch")  # every noun in between has the subject's number, or not

# chars from the start of a noun to its number cue: the first char where its two forms differ
_CUE_OFFSET = {w: len(os.path.commonprefix(pair)) for pair in NOUN_PAIRS for w in pair}
_STEM_LENGTH = {w: len(pl) for pair in VERB_PAIRS for w in pair for pl in pair[1:]}


@dataclass(frozen=True)
class Site:
    """One agreeing verb: where its subject's number shows and where its own form is decided."""

    cue: int  # index of the subject noun's number cue ("s" or the char after "cat"; "a" of "man")
    decide: int  # index of the verb's deciding char (right after its stem)
    number: str  # the subject's number, "sg" or "pl"
    condition: str  # one of CONDITIONS
    attractor: str | None  # one of ATTRACTORS, or None when no noun lies between
    subject: str = ""  # the subject noun as written

    @property
    def distance(self) -> int:
        """Characters from the subject's number cue to the deciding character."""
        return self.decide - self.cue


def _condition(between: list[str]) -> str:
    """The condition from the words strictly between subject and verb."""
    if not between or between == ["that"]:
        return "none"
    if between[1] != "the":
        return "subj_rc"
    return "obj_rc2" if between.count("that") > 1 else "obj_rc1"


def agreement_sites(text: str, novel: dict[str, str] | None = None) -> list[Site]:
    """Every agreeing verb of a text that starts at a sentence start, in order.

    Stops quietly at the first word the grammar does not allow (e.g. a track cut mid-word),
    so only sites whose verb is complete are returned. novel maps words outside the
    vocabulary to the words they stand for (e.g. {"zog": "cat", "zogs": "cats"}).
    """
    novel = novel or {}
    stack, owed = START_STACK, (None, None)  # owed[i]: the noun (token index) symbol i is owed to
    tokens: list[tuple[str, int]] = []  # (word, start) of the current sentence
    sites: list[Site] = []
    matches = list(_WORD_OR_END.finditer(text))
    for j, m in enumerate(matches):
        word = m.group()
        cat = MACHINE_CATEGORY_OF.get(novel.get(word, word))
        if word != "." and (m.end() >= len(text) or j + 1 == len(matches)):
            break  # the last word may be cut: its end is not known
        step = next(((k, pushed) for c, _, k, pushed in _expand(stack) if c == cat), None)
        if step is None:
            break
        kept, pushed = step
        emitter = owed[kept] if kept < len(owed) else None
        if cat == "end":
            stack, owed, tokens = START_STACK, (None, None), []
            continue
        tokens.append((word, m.start()))
        if cat.startswith("verb"):
            sites.append(_site(tokens, emitter, m.start(), word, novel))
        mine = len(tokens) - 1 if cat.startswith(("animal", "human")) else emitter
        stack, owed = stack[:kept] + pushed, owed[:kept] + (mine,) * len(pushed)
    return sites


def _site(tokens: list[tuple[str, int]], subject: int, start: int, verb: str,
          novel: dict[str, str]) -> Site:
    written, noun_start = tokens[subject]
    noun = novel.get(written, written)
    cue = _CUE_OFFSET[noun] if written == noun else len(os.path.commonprefix(
        [w for w, n in novel.items() if NUMBER_OF[n] != NUMBER_OF[noun]] + [written]))
    between = [novel.get(w, w) for w, _ in tokens[subject + 1: -1]]
    nouns = [w for w in between if w in _CUE_OFFSET]
    attractor = None  # "mismatch" if any noun in between has the other number
    if nouns:
        same = all(NUMBER_OF[w] == NUMBER_OF[noun] for w in nouns)
        attractor = "match" if same else "mismatch"
    return Site(cue=noun_start + cue, decide=start + _STEM_LENGTH[verb],
                number=NUMBER_OF[noun], condition=_condition(between), attractor=attractor,
                subject=written)


@dataclass(frozen=True)
class Example:
    """A sentence that shows one condition: where its subject and its agreeing verb are."""

    condition: str  # one of CONDITIONS
    sentence: str
    subject: tuple[int, int]  # [start, end) of the subject noun in sentence
    verb: tuple[int, int]  # [start, end) of the verb that agrees with it
    distance: int  # characters from the number cue to the deciding character


def examples(text: str) -> list[Example]:
    """The first sentence of text (which starts at a sentence start) for each condition, in
    CONDITIONS order: Home shows them so a student sees what must be remembered, and how far."""
    found: dict[str, Example] = {}
    for line in text.split("\n"):
        if not line.endswith("."):
            break  # a cut sentence at the end
        for s in agreement_sites(line + "\n"):
            if s.condition in found:
                continue
            noun = line.rfind(" ", 0, s.cue) + 1
            verb = line.rfind(" ", 0, s.decide) + 1
            verb_end = min(i for i in (line.find(" ", verb), line.find(".", verb)) if i >= 0)
            found[s.condition] = Example(s.condition, line, (noun, line.find(" ", noun)),
                                         (verb, verb_end), s.distance)
        if len(found) == len(CONDITIONS):
            break
    return [found[c] for c in CONDITIONS if c in found]

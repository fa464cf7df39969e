"""Selectional restrictions: animals and humans keep different company (Elman 1990).

Generated text is read back by a small parser written here from the sentence rules alone
(not the grammar's machine), so the restrictions are checked independently of the states
that enforce them."""

import itertools
import re

import pytest

from lab.language import grammar as g
from lab.language.agreement import CONDITIONS, agreement_sites

STEM_OF = {w: pl for sg, pl in g.VERB_PAIRS for w in (sg, pl)}
CLASS = {w: g.CLASS_OF[g.CATEGORY_OF[w]] for pair in g.NOUN_PAIRS for w in pair}
A_NOUN = {k: next(w for w in g.WORDS_OF[f"{k}_sg"]) for k in g.NOUN_CLASSES}  # "cat", "boy"


class _Clauses:
    """Every verb of a sentence with its subject and object nouns and its clause kind:
    S = NP verb (NP if transitive | adverb?) "."; NP = "the" noun ("that" RC)?;
    RC = "the" noun ("that" RC)? verb (object relative) | verb NP? (subject relative)."""

    def __init__(self, sentence: str):
        self.words, self.i, self.found = sentence.split(), 0, []
        subject = self._np()
        self._verb_phrase(subject, "main")
        if self.i < len(self.words) and self.words[self.i] in g.ADVERBS:
            self.i += 1
        assert self.i == len(self.words), sentence

    def _take(self) -> str:
        self.i += 1
        return self.words[self.i - 1]

    def _np(self) -> str:
        assert self._take() == "the"
        noun = self._take()
        if self.i < len(self.words) and self.words[self.i] == "that":
            self.i += 1
            self._rc(noun)
        return noun

    def _rc(self, head: str) -> None:
        if self.words[self.i] == "the":  # object relative: the head is the verb's object
            subject = self._np()
            self.found.append((STEM_OF[self._take()], subject, head, "object_relative"))
        else:
            self._verb_phrase(head, "subject_relative")

    def _verb_phrase(self, subject: str, kind: str) -> None:
        stem = STEM_OF[self._take()]
        obj = self._np() if stem in g.OBJECT_CLASS else None
        self.found.append((stem, subject, obj, kind))


TEXT = g.generate_text(200_000, 12)


@pytest.fixture(scope="module")
def clauses():
    return [c for s in TEXT.split(".\n")[:-1] for c in _Clauses(s).found]


def test_generated_text_keeps_every_restriction(clauses):
    verbs = [w for w in re.findall("[a-z]+", TEXT) if w in STEM_OF]
    assert len(clauses) == len(verbs) > 5000  # the parser read every verb
    for stem, subject, obj, kind in clauses:
        assert CLASS[subject] in g.SUBJECT_CLASS[stem], (stem, subject, kind)
        if obj is not None:
            assert CLASS[obj] in g.OBJECT_CLASS[stem], (stem, obj, kind)


def test_every_allowed_pairing_occurs_in_every_clause_kind(clauses):
    seen = {(stem, CLASS[s], o and CLASS[o], kind) for stem, s, o, kind in clauses}
    for stem, (subjects, objects) in g.company().items():
        kinds = ("main", "subject_relative") + (("object_relative",) if objects else ())
        for k, o, kind in itertools.product(subjects, objects or (None,), kinds):
            assert (stem, k, o, kind) in seen


def test_every_verb_and_noun_is_common(clauses):
    # the rarest verb (an intransitive of one class) still has more than 1 in 25 clauses
    stems = [stem for stem, *_ in clauses]
    assert min(stems.count(v) for v in g.SUBJECT_CLASS) > len(clauses) / 25
    text = re.findall("[a-z]+", g.generate_text(100_000, 13))
    assert min(text.count(sg) + text.count(pl) for sg, pl in g.NOUN_PAIRS) > len(text) / 60


def _sentences(stem: str, k: str, o: str) -> list[str]:
    """Sentences where verb `stem` has a subject of class k and (if transitive) an object of
    class o: in a main clause, a subject relative and (transitive) an object relative."""
    subject, obj, verb = A_NOUN[k], A_NOUN[o], stem + "s"
    if stem not in g.OBJECT_CLASS:
        return [f"the {subject} {verb}.\n", f"the {subject} that {verb} sleeps.\n"]
    return [f"the {subject} {verb} the {obj}.\n", f"the {subject} that {verb} the {obj} sleeps.\n",
            f"the {obj} that the {subject} {verb} sleeps.\n"]


def test_the_scorer_accepts_exactly_the_allowed_pairings():
    for stem, (subjects, objects) in g.company().items():
        for k, o in itertools.product(g.NOUN_CLASSES, g.NOUN_CLASSES):
            allowed = k in subjects and (not objects or o in objects)
            for text in _sentences(stem, k, o):
                assert g.score(text).valid_sentences == float(allowed), text
    assert g.score("the cat feeds the dog.\n").valid_sentences == 0.0  # cats cannot feed
    assert g.score("the boy feeds the dog.\n").valid_sentences == 1.0


def test_states_carry_the_pending_classes():
    # "the boys that the cat" owes a verb for an animal subject and a human object (follow,
    # see), then a main verb for humans; the words so far fix both classes
    steps = g._parse_words("the boys that the cat")
    state = g.WORD_TRANSITIONS[steps[-1][0]][steps[-1][1]][1]
    assert ("gap", "sg", "animal", "human") in g.STACK_OF[state]
    assert ("vp", "pl", "human") in g.STACK_OF[state]
    assert {w for w in g.WORD_TRANSITIONS[state] if w != "that"} == {"follows", "sees"}


def test_agreement_sites_cover_every_condition_and_attractor():
    sites = agreement_sites(g.generate_text(30_000, 14))
    assert {s.condition for s in sites} == set(CONDITIONS)
    assert {s.attractor for s in sites} == {None, "match", "mismatch"}


def test_company_sentence_comes_from_the_tables(monkeypatch):
    assert g.company_sentence() == ("animals chase animals, follow humans, run and jump; "
                                    "humans like humans, feed animals, sing and walk; "
                                    "both see and sleep")
    monkeypatch.setitem(g.SUBJECT_CLASS, "run", g.NOUN_CLASSES)
    assert g.company_sentence().endswith("both see, run and sleep")


def test_the_corpus_version_names_this_grammar():
    # bump CORPUS_VERSION whenever these change: it enters every run id
    assert (g.CORPUS_VERSION, len(g.STATES)) == (3, 614)
    assert g.entropy_rate() == pytest.approx(0.31512, abs=1e-5)

"""The sentences of the corpus, as a stack machine: vocabulary, probabilities, states.

Sentences in the style of Elman (1991): "the cats that the dog chases run fast." Nouns are
singular or plural, drawn independently; every verb agrees in number with its subject.
Nouns may carry a relative clause (subject relative "that chases the dogs", object
relative "that the dogs chase"), nested to depth 2, so a main verb may have to remember
its subject's number across a clause full of other nouns ("attractors").

Animals and humans keep different company (selectional restrictions, as in Elman 1990):
each verb takes subjects and objects of the classes that SUBJECT_CLASS and OBJECT_CLASS
name ("the boy feeds the cat", never "the cat feeds the boy"), so a word's neighbours
say which class it is: what the novel-word study asks of the network.

A state is the stack of what the sentence still owes, with the pending number and class
bits in it (e.g. "main verb for a singular animal" under "relative-clause verb for a
plural human, object an animal"); the depth cap keeps the stacks finite, so
`TRANSITIONS` (state -> machine category -> (probability, next state)) is a finite,
unifilar machine over words; lab.language.grammar renders it. Machine categories are the
word categories of WORDS_OF with each verb category split by stem (MACHINE_WORDS_OF),
since a verb's stem decides what may follow it.
"""

from __future__ import annotations

# bump when the corpus changes: it enters every run id, so no run on an older corpus is
# ever mixed with runs on this one
CORPUS_VERSION = 3

# (singular, plural); "man", "woman" and "child" stay irregular
ANIMAL_PAIRS = (("cat", "cats"), ("dog", "dogs"), ("bird", "birds"), ("horse", "horses"),
                ("lion", "lions"), ("goat", "goats"))
HUMAN_PAIRS = (("boy", "boys"), ("girl", "girls"), ("king", "kings"), ("man", "men"),
               ("woman", "women"), ("child", "children"))
VERB_T_STEMS = ("chase", "see", "like", "follow", "feed")  # plural form; singular adds "s"
VERB_I_STEMS = ("run", "sleep", "sing", "jump", "walk")
ADVERBS = ("fast", "slowly", "loudly", "often", "quietly")
SENTENCE_END = "."
NUMBERS = ("sg", "pl")

# category key -> its words (the keys are stable strings used by probes and pages)
WORDS_OF: dict[str, tuple[str, ...]] = {
    "animal_sg": tuple(s for s, _ in ANIMAL_PAIRS),
    "animal_pl": tuple(p for _, p in ANIMAL_PAIRS),
    "human_sg": tuple(s for s, _ in HUMAN_PAIRS),
    "human_pl": tuple(p for _, p in HUMAN_PAIRS),
    "verb_t_sg": tuple(v + "s" for v in VERB_T_STEMS),
    "verb_t_pl": VERB_T_STEMS,
    "verb_i_sg": tuple(v + "s" for v in VERB_I_STEMS),
    "verb_i_pl": VERB_I_STEMS,
    "adverb": ADVERBS,
    "that": ("that",),
    "the": ("the",),
    "end": (SENTENCE_END,),
}
CATEGORIES: tuple[str, ...] = tuple(WORDS_OF)
CATEGORY_LABEL: dict[str, str] = {  # category key -> how the pages name it
    "animal_sg": "singular animals", "animal_pl": "plural animals",
    "human_sg": "singular humans", "human_pl": "plural humans",
    "verb_t_sg": "singular transitive verbs", "verb_t_pl": "plural transitive verbs",
    "verb_i_sg": "singular intransitive verbs", "verb_i_pl": "plural intransitive verbs",
    "adverb": "adverbs", "that": "that", "the": "the", "end": "full stop", "novel": "zog"}
VOCABULARY: tuple[str, ...] = tuple(w for c in CATEGORIES for w in WORDS_OF[c])
CATEGORY_OF: dict[str, str] = {w: c for c in CATEGORIES for w in WORDS_OF[c]}
NOUN_PAIRS = ANIMAL_PAIRS + HUMAN_PAIRS
VERB_PAIRS = tuple((v + "s", v) for v in VERB_T_STEMS + VERB_I_STEMS)  # (singular, plural)
NUMBER_OF: dict[str, str] = {w: c.rsplit("_", 1)[1] for w, c in CATEGORY_OF.items()
                             if c.endswith(("_sg", "_pl"))}

# selectional restrictions (Elman 1990): which classes of noun each verb takes as its
# subject and, if transitive, as its object. Every class has transitive and intransitive
# verbs of its own, and every (subject, object) pairing has a verb ("see"), so a clause
# is never stuck; humans and animals share only "see" and "sleep".
NOUN_CLASSES = ("animal", "human")
CLASS_OF: dict[str, str] = {f"{k}_{n}": k for k in NOUN_CLASSES for n in NUMBERS}
SUBJECT_CLASS: dict[str, tuple[str, ...]] = {
    "feed": ("human",), "like": ("human",), "chase": ("animal",), "follow": ("animal",),
    "see": NOUN_CLASSES, "sing": ("human",), "walk": ("human",), "run": ("animal",),
    "jump": ("animal",), "sleep": NOUN_CLASSES}
OBJECT_CLASS: dict[str, tuple[str, ...]] = {  # transitive verbs only
    "feed": ("animal",), "like": ("human",), "chase": ("animal",), "follow": ("human",),
    "see": NOUN_CLASSES}

# machine category -> its words: WORDS_OF with every verb category split by stem
# ("verb_t_sg.feed" -> ("feeds",)), as the grammar's states need
MACHINE_WORDS_OF: dict[str, tuple[str, ...]] = {
    **{c: ws for c, ws in WORDS_OF.items() if not c.startswith("verb")},
    **{f"verb_{kind}_{n}.{v}": (v + "s" if n == "sg" else v,)
       for kind, stems in (("t", VERB_T_STEMS), ("i", VERB_I_STEMS))
       for n in NUMBERS for v in stems}}
MACHINE_CATEGORY_OF: dict[str, str] = {w: c for c, ws in MACHINE_WORDS_OF.items() for w in ws}

P_RC_MAIN_SUBJECT = 0.6  # the main clause's subject carries a relative clause
P_RC_MAIN_OBJECT = 0.25  # the main clause's object carries one
P_RC_NESTED = 0.35  # a noun inside a relative clause carries one (depth 2)
P_OBJECT_RELATIVE = 0.6  # of relative clauses: object relatives ("that the dog chases")
P_TRANSITIVE = 0.5  # main verb transitive (else intransitive)
P_TRANSITIVE_RC = 0.6  # verb of a subject relative transitive (else intransitive)
P_ADVERB = 0.5  # an adverb after an intransitive main verb
P_ANIMAL = 0.5  # animals among nouns whose class is free; humans get the rest
# a verb is drawn uniformly among the verbs its slot allows (transitive or not, subject
# class, and object class in an object relative)
MAX_DEPTH = 2  # relative clauses nest at most this deep

# Stack symbols (tuples; the top of a state's stack is its last symbol):
#   ("end",)                  "." then a new sentence
#   ("np", d, role, cls, obj)  "the", then a noun    ("noun", d, role, cls, obj)  a noun
#       of clause depth d and class cls ("any": drawn, P_ANIMAL); obj: for "rel_subject",
#       the class of the object-relative verb's object (the head noun), else "-"
#   ("rc?", n, k, d, p)       "that" with prob p, on a head of number n and class k
#   ("rc", n, k, d)           after "that": subject or object relative on that head
#   ("vp", n, k)              main verb for a subject of number n and class k
#   ("gap", n, k, o)          object-relative verb: subject n and k, object class o
#   ("adv?",)                 an adverb with prob P_ADVERB
# roles: "subject" (main clause), "object", "rel_subject" (subject of an object relative)
START_STACK = (("end",), ("np", 0, "subject", "any", "-"))


def _rc_probability(d: int, role: str) -> float:
    if d >= MAX_DEPTH:
        return 0.0
    if d > 0:
        return P_RC_NESTED
    return P_RC_MAIN_SUBJECT if role == "subject" else P_RC_MAIN_OBJECT


def _classes(cls: str) -> list[tuple[str, float]]:
    """The classes a noun slot allows, with their probabilities."""
    if cls == "any":
        return [("animal", P_ANIMAL), ("human", 1 - P_ANIMAL)]
    return [(cls, 1.0)]


def _slot(classes: tuple[str, ...]) -> str:
    """A noun slot for a verb's allowed classes: the one class, or "any"."""
    return classes[0] if len(classes) == 1 else "any"


def _verbs(kind: str, n: str, p: float, subject: str, obj: str | None = None,
           ) -> list[tuple[str, float, str]]:
    """(machine category, probability, stem) of the verbs of `kind` ("t" or "i") that take
    a subject of class `subject` (and an object of class `obj`), sharing p uniformly."""
    stems = VERB_T_STEMS if kind == "t" else VERB_I_STEMS
    ok = [v for v in stems if subject in SUBJECT_CLASS[v]
          and (obj is None or obj in OBJECT_CLASS[v])]
    return [(f"verb_{kind}_{n}.{v}", p / len(ok), v) for v in ok]


def _verb_phrase(n: str, k: str, d: int, p_transitive: float, kept: int,
                 after_intransitive: tuple) -> list[tuple[str, float, int, tuple]]:
    """A verb for a subject of number n and class k, then its object if transitive."""
    return ([(c, p, kept, (("np", d, "object", _slot(OBJECT_CLASS[v]), "-"),))
             for c, p, v in _verbs("t", n, p_transitive, k)]
            + [(c, p, kept, after_intransitive) for c, p, _ in _verbs("i", n, 1 - p_transitive, k)])


def _expand(stack: tuple) -> list[tuple[str, float, int, tuple]]:
    """Next-word choices of a stack: [(category, probability, kept, pushed)].

    The next stack is stack[:kept] + pushed. Optional symbols ("rc?", "adv?") that are
    skipped are popped first (kept counts only what stays below them).
    """
    top, kept = stack[-1], len(stack) - 1
    kind = top[0]
    if kind == "end":
        return [("end", 1.0, 0, START_STACK)]
    if kind == "np":
        return [("the", 1.0, kept, (("noun", *top[1:]),))]
    if kind == "noun":
        _, d, role, cls, obj = top
        out = []
        for n in NUMBERS:
            for k, p in _classes(cls):
                after = {"subject": (("vp", n, k),),
                         "rel_subject": (("gap", n, k, obj),)}.get(role, ())
                out.append((f"{k}_{n}", p / len(NUMBERS), kept,
                            (*after, ("rc?", n, k, d, _rc_probability(d, role)))))
        return out
    if kind in ("rc?", "adv?"):
        p = top[4] if kind == "rc?" else P_ADVERB
        here = ([("that", p, kept, (("rc", top[1], top[2], top[3] + 1),))] if kind == "rc?"
                else [("adverb", p, kept, ())])
        below = [(c, q * (1 - p), k, pushed) for c, q, k, pushed in _expand(stack[:-1])]
        return [x for x in here + below if x[1] > 0]
    if kind == "rc":  # the head is the object relative's object, or the subject relative's subject
        _, n, k, d = top
        subject_relative = _verb_phrase(n, k, d, P_TRANSITIVE_RC, kept, ())
        return [("the", P_OBJECT_RELATIVE, kept, (("noun", d, "rel_subject", "any", k),)),
                *[(c, p * (1 - P_OBJECT_RELATIVE), kk, pushed)
                  for c, p, kk, pushed in subject_relative]]
    if kind == "vp":
        return _verb_phrase(top[1], top[2], 0, P_TRANSITIVE, kept, (("adv?",),))
    if kind == "gap":
        _, n, k, obj = top
        return [(c, p, kept, ()) for c, p, _ in _verbs("t", n, 1.0, k, obj)]
    raise ValueError(f"unknown stack symbol {top!r}")


def state_name(stack: tuple) -> str:
    """A readable, stable state name: the stack's symbols bottom to top."""
    return "|".join(".".join(str(v) for v in sym) for sym in stack)


def _build() -> tuple[dict, dict]:
    """Every stack reachable from START_STACK: (state -> category -> (p, next state),
    state -> stack)."""
    table: dict[str, dict[str, tuple[float, str]]] = {}
    stacks = {state_name(START_STACK): START_STACK}
    todo = [START_STACK]
    while todo:
        stack = todo.pop()
        name = state_name(stack)
        table[name] = {}
        for cat, p, kept, pushed in _expand(stack):
            nxt = stack[:kept] + pushed
            if cat in table[name]:
                raise ValueError(f"not unifilar: category {cat!r} twice in state {name}")
            table[name][cat] = (p, state_name(nxt))
            if state_name(nxt) not in stacks:
                stacks[state_name(nxt)] = nxt
                todo.append(nxt)
    return table, stacks


TRANSITIONS, STACK_OF = _build()
S_START = state_name(START_STACK)  # sentence start: the only state whose word has no space
STATES: tuple[str, ...] = (S_START, *sorted(s for s in TRANSITIONS if s != S_START))


def company() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Per verb stem, the classes of noun it takes: (subjects, objects; () if intransitive)."""
    return {v: (SUBJECT_CLASS[v], OBJECT_CLASS.get(v, ())) for v in VERB_T_STEMS + VERB_I_STEMS}


def _classes_named(classes: tuple[str, ...]) -> str:
    """How prose names a set of classes: "animals", "humans and animals", "both"."""
    if set(classes) == set(NOUN_CLASSES) and len(classes) == 2:
        return "both"
    return _listed([k + "s" for k in classes])


def _listed(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def company_sentence() -> str:
    """Who does what to whom, from SUBJECT_CLASS and OBJECT_CLASS, in one line: "animals
    chase animals, follow humans, run and jump; humans ...; both see and sleep" (an
    object that may be of any class is not named)."""
    by_subjects: dict[tuple[str, ...], list[str]] = {}
    for v, (subjects, objects) in company().items():
        named = "" if set(objects) in (set(), set(NOUN_CLASSES)) else " " + _classes_named(objects)
        by_subjects.setdefault(subjects, []).append(v + named)
    order = sorted(by_subjects, key=lambda s: (len(s), [NOUN_CLASSES.index(k) for k in s]))
    return "; ".join(f"{_classes_named(s)} {_listed(by_subjects[s])}" for s in order)

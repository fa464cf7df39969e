"""The sentences of the corpus, as a stack machine: vocabulary, probabilities, states.

Sentences in the style of Elman (1991): "the cats that the dog chases run fast." Nouns are
singular or plural, drawn independently; every verb agrees in number with its subject.
Nouns may carry a relative clause (subject relative "that chases the dogs", object
relative "that the dogs chase"), nested to depth 2, so a main verb may have to remember
its subject's number across a clause full of other nouns ("attractors").

A state is the stack of what the sentence still owes, with the pending number bits in it
(e.g. "main verb, singular" under "relative-clause verb, plural"); the depth cap keeps
the stacks finite, so `TRANSITIONS` (state -> category -> (probability of the category,
next state)) is a finite, unifilar machine over words; lab.language.grammar renders it.
"""

from __future__ import annotations

# bump when the corpus changes: it enters every run id, so no run on an older corpus is
# ever mixed with runs on this one
CORPUS_VERSION = 2

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

P_RC_MAIN_SUBJECT = 0.6  # the main clause's subject carries a relative clause
P_RC_MAIN_OBJECT = 0.25  # the main clause's object carries one
P_RC_NESTED = 0.35  # a noun inside a relative clause carries one (depth 2)
P_OBJECT_RELATIVE = 0.6  # of relative clauses: object relatives ("that the dog chases")
P_TRANSITIVE = 0.5  # main verb transitive (else intransitive)
P_TRANSITIVE_RC = 0.6  # verb of a subject relative transitive (else intransitive)
P_ADVERB = 0.5  # an adverb after an intransitive main verb
P_ANIMAL = 0.5  # animals as a group among nouns; humans get the rest
MAX_DEPTH = 2  # relative clauses nest at most this deep

# Stack symbols (tuples; the top of a state's stack is its last symbol):
#   ("end",)            "." then a new sentence     ("np", d, role)  "the", then a noun
#   ("noun", d, role)   a noun of clause depth d     ("rc?", n, d, p)  "that" with prob p
#   ("rc", n, d)        after "that": subject or object relative on a head of number n
#   ("vp", n)           main verb of number n        ("gap", n)  object-relative verb
#   ("adv?",)           an adverb with prob P_ADVERB
# roles: "subject" (main clause), "object", "rel_subject" (subject of an object relative)
START_STACK = (("end",), ("np", 0, "subject"))


def _rc_probability(d: int, role: str) -> float:
    if d >= MAX_DEPTH:
        return 0.0
    if d > 0:
        return P_RC_NESTED
    return P_RC_MAIN_SUBJECT if role == "subject" else P_RC_MAIN_OBJECT


def _nouns(n: str) -> list[tuple[str, float]]:
    return [(f"animal_{n}", P_ANIMAL / 2), (f"human_{n}", (1 - P_ANIMAL) / 2)]


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
        return [("the", 1.0, kept, (("noun", top[1], top[2]),))]
    if kind == "noun":
        _, d, role = top
        out = []
        for n in NUMBERS:
            after = {"subject": (("vp", n),), "rel_subject": (("gap", n),)}.get(role, ())
            for cat, p in _nouns(n):
                out.append((cat, p, kept, (*after, ("rc?", n, d, _rc_probability(d, role)))))
        return out
    if kind in ("rc?", "adv?"):
        p = top[3] if kind == "rc?" else P_ADVERB
        here = ([("that", p, kept, (("rc", top[1], top[2] + 1),))] if kind == "rc?"
                else [("adverb", p, kept, ())])
        below = [(c, q * (1 - p), k, pushed) for c, q, k, pushed in _expand(stack[:-1])]
        return [x for x in here + below if x[1] > 0]
    if kind == "rc":
        _, n, d = top
        return [("the", P_OBJECT_RELATIVE, kept, (("noun", d, "rel_subject"),)),
                (f"verb_t_{n}", (1 - P_OBJECT_RELATIVE) * P_TRANSITIVE_RC, kept,
                 (("np", d, "object"),)),
                (f"verb_i_{n}", (1 - P_OBJECT_RELATIVE) * (1 - P_TRANSITIVE_RC), kept, ())]
    if kind == "vp":
        n = top[1]
        return [(f"verb_t_{n}", P_TRANSITIVE, kept, (("np", 0, "object"),)),
                (f"verb_i_{n}", 1 - P_TRANSITIVE, kept, (("adv?",),))]
    if kind == "gap":
        return [(f"verb_t_{top[1]}", 1.0, kept, ())]
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

"""The lab's words, defined once: Home's glossary lists every entry, and each page explains
the words it uses where they first appear (`explain_first`) and lists them under its title
(`page_terms`), so no student meets "spectral radius" or "nats" undefined.

Plain text, no streamlit: a page draws what these functions return.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from lab.language.alphabet import VOCAB_SIZE
from lab.measure.registry import SATURATION_FRACTION


@dataclass(frozen=True)
class Term:
    """A word of the lab: how it reads in a list, the pattern that finds it in prose, a
    short inline gloss (a clause, no full stop) and the full definition."""

    word: str
    pattern: str
    short: str
    definition: str

    def find(self, text: str) -> re.Match | None:
        return re.search(self.pattern, text)


_UNIFORM = math.log(VOCAB_SIZE)

TERMS: dict[str, Term] = {t.word: t for t in (
    Term("nats", r"\bnats?\b", "the loss's unit: natural-log probability",
         "the unit of the loss: the negative natural log of the probability the model gave "
         f"the character that came. Guessing uniformly among the {VOCAB_SIZE} characters costs "
         f"ln {VOCAB_SIZE} = {_UNIFORM:.2f} nats per character; 0 would be certainty."),
    Term("TBPTT", r"\bTBPTT\b", "truncated backpropagation through time: the gradient is "
         "followed back only inside a chunk of characters",
         "truncated backpropagation through time. The text is cut into chunks (the chunk "
         "length, seq_len); the hidden state carries over from chunk to chunk, but the "
         "gradient stops at each chunk's start, so only dependencies inside one chunk are "
         "trained directly."),
    Term("BPTT", r"\bBPTT\b", "backpropagation through time: the gradient followed back "
         "through the earlier steps",
         "backpropagation through time: the gradient of a prediction's loss followed back "
         "through the steps that produced the hidden state, one character at a time."),
    Term("W_hh", r"\bW_hh\b", "the recurrent weights, from one hidden state to the next",
         "the recurrent weight matrix (H x H): how the previous hidden state feeds the next "
         "one. Whatever the network remembers passes through it once per character."),
    Term("spectral radius", r"spectral radius|ρ\(W_hh\)", "the largest |eigenvalue| of "
         "W_hh: how much one step can stretch the state in the long run",
         "the largest size (absolute value) among W_hh's eigenvalues. Above 1, repeated "
         "multiplication by W_hh can blow a state or a gradient up; below 1 it shrinks it."),
    Term("eigenvalue", r"\beigenvalues?\b", "a factor λ with W v = λ v: along direction v, "
         "one step multiplies by λ",
         "a number λ such that W v = λ v for some direction v: a state along v is multiplied "
         "by λ at every step, so |λ| above 1 grows it and below 1 shrinks it."),
    Term("orthogonal", r"\borthogonal\b", "a rotation-like W_hh that keeps every vector's "
         "length",
         "an initialisation of W_hh as a random rotation (the Q of a Gaussian matrix's QR "
         "decomposition): it keeps every vector's length, so every eigenvalue has size "
         "exactly 1 and a gradient neither grows nor shrinks through W_hh alone."),
    Term("xavier", r"(?i)\bxavier\b", "random W_hh entries scaled by the layer's size, "
         "spectral radius about 1",
         "an initialisation (after Xavier Glorot) with uniform random entries of variance "
         "1/H, so a state keeps about its size on average and the spectral radius starts "
         "near 1, but unlike orthogonal some directions grow and others shrink."),
    Term("saturation", r"\bsaturat\w*", "a unit on the flat part of its activation, passing "
         "almost no gradient back",
         f"a unit is saturated when its activation's slope is below {SATURATION_FRACTION:g} "
         "of the peak: for tanh and sigmoid, the flat ends near their limits; for relu, an "
         "input below 0 (the unit is switched off, slope 0); identity never saturates. "
         "Almost no gradient passes back through a saturated unit at that step."),
    Term("cosine similarity", r"\bcosine\b", "how alike two directions are: 1 the same, 0 "
         "unrelated, -1 opposite",
         "of two vectors, the cosine of the angle between them: 1 when they point the same "
         "way, 0 when unrelated, -1 when opposite; their lengths do not matter."),
    Term("principal components", r"principal components?", "the directions in which the "
         "points spread most",
         "the directions along which a cloud of points spreads most. Drawing the points on "
         "the first two gives a flat picture of a many-dimensional state, keeping as much of "
         "its spread as any flat picture can."),
    Term("ridge probe", r"\b(?:ridge|linear) probe\b|\bridge\b|\bprobe\b", "a linear read-out "
         "trained to find a fact in the hidden state",
         "a linear read-out (ridge regression: least squares with a small penalty on large "
         "weights) trained to read a fact, here the subject's number, from the hidden state. "
         "If it reads it well on held-out text, the state holds the fact, whether or not the "
         "network uses it."),
    Term("centroid", r"\bcentroids?\b", "the average point of a group",
         "the average of a group's points. Nearest-centroid accuracy labels each point by the "
         "group whose average it is closest to: high when the groups form separate clouds."),
    Term("dL/da_j", r"dL/da", "how much the loss at one prediction changes when the input at "
         "character j changes",
         "the gradient of one prediction's loss with respect to the input at an earlier "
         "character j: its size says how much that prediction depends on character j."),
    Term("entropy floor", r"\b(?:entropy )?floor\b", "the lowest loss any model can reach on "
         "this corpus",
         "the lowest mean loss per character any model can reach on this corpus: the "
         "grammar's entropy rate, computed exactly from the grammar."),
    Term("attractor", r"\battractors?\b", "a noun between subject and verb with the other "
         "number, a tempting wrong cue",
         "a noun between the subject and its verb whose number differs from the subject's "
         "(\"the cat that the dogs chase runs\"): a tempting wrong cue for the verb's form."),
    Term("reservoir", r"\breservoir\b", "a network whose W_hh stays as initialised; only the "
         "input and readout weights learn",
         "a recurrent network whose W_hh is frozen at its random start; only the input and "
         "readout weights learn, so the memory is whatever the fixed dynamics happen to keep."),
    Term("teacher forcing", r"teacher[- ]forc\w*", "training on the true previous "
         "character, never the model's own",
         "training where every input is the true previous character, never the model's own "
         "guess; at generation time the model then reads its own output, which it never "
         "practised."),
    Term("scheduled sampling", r"scheduled sampling", "training that feeds the model its own "
         "guesses for a growing share of inputs",
         "training that replaces a growing share of the true inputs with the model's own "
         "sampled characters, so it practises reading its own output."),
    Term("gradient clipping", r"\bclip\w*", "scaling the gradient down when its size "
         "exceeds a threshold",
         "when the gradient's global L2 norm exceeds the threshold, it is scaled down to the "
         "threshold before the step; its direction is kept. The norm is measured before "
         "clipping."),
)}

# words a chart uses in its title, axis or caption, by view id (lab.ui.views), so a page
# lists them even when its prose does not
VIEW_TERMS: dict[str, tuple[str, ...]] = {
    "loss_curves": ("nats", "entropy floor"), "final_loss": ("nats", "entropy floor"),
    "final_loss_vs_params": ("nats",), "spectral_radius": ("spectral radius", "eigenvalue"),
    "grad_decay": ("BPTT",), "hidden_stats": ("saturation",),
    "grad_norm_log": ("gradient clipping",), "grad_norm_spikes": ("gradient clipping",),
    "clip_fraction": ("gradient clipping",), "number_probe": ("ridge probe",),
    "probe_bins": ("ridge probe",), "agreement_by_condition": ("attractor",),
    "category_separation": ("centroid",),
    "novel_word": ("cosine similarity", "principal components"),
    "grid": ("nats", "TBPTT"), "memory_horizon": ("BPTT",),
}


def used(texts: Iterable[str]) -> list[str]:
    """The terms found in texts, in the order they first appear."""
    found: dict[str, tuple[int, int]] = {}
    for i, text in enumerate(texts):
        for word, term in TERMS.items():
            m = term.find(text)
            if m and word not in found:
                found[word] = (i, m.start())
    return sorted(found, key=found.get)


def explain_first(text: str, seen: set[str]) -> str:
    """text with a short gloss in parentheses after the first use of each term not in seen
    (seen grows: a page passes one set through its texts in reading order). A use already
    followed by a parenthesis, or inside one, is left as it is and counted as explained."""
    spots = []
    for word, term in TERMS.items():
        m = term.find(text)
        if m is None or word in seen:
            continue
        seen.add(word)
        end = m.end()
        while end < len(text) and (text[end].isalnum() or text[end] in "_-"):
            end += 1  # to the end of the word ("saturated", "orthogonal W_hh")
        inside = text[:m.start()].rstrip().endswith("(")  # "(scheduled sampling)"
        if not inside and not text[end:].lstrip().startswith("("):
            spots.append((end, term.short))
    for end, short in sorted(spots, reverse=True):
        text = f"{text[:end]} ({short}){text[end:]}"
    return text


def definition_line(word: str) -> str:
    """'**word**: definition' for a glossary list."""
    return f"**{word}**: {TERMS[word].definition}"


def page_terms(texts: Iterable[str], views: Iterable[str] = ()) -> list[str]:
    """The terms a page uses: those in its texts (in reading order), then its charts'."""
    words = used(texts)
    for v in views:
        words += [w for w in VIEW_TERMS.get(v, ()) if w not in words]
    return words

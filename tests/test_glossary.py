"""Words explained where they are used (issue 24 item 6): the glossary holds every word the
issue found undefined, each page lists and defines the words it uses under its title, and a
hypothesis glosses each word at its first use."""

from __future__ import annotations

import re

import pytest

from lab.studies import glossary as gl
from lab.studies.catalog import STUDIES

# the words a read of every page found used before they were explained
UNDEFINED = ("nats", "TBPTT", "spectral radius", "eigenvalue", "xavier", "orthogonal",
             "saturation", "cosine similarity", "principal components", "ridge probe",
             "centroid", "dL/da_j")


def test_the_glossary_defines_every_word_found_undefined():
    for word in UNDEFINED:
        term = gl.TERMS[word]
        assert term.definition.endswith(".") and len(term.definition) > 40, word
        assert term.short and not term.short.endswith("."), word


@pytest.mark.parametrize("word", UNDEFINED)
def test_each_word_is_found_in_the_prose_that_uses_it(word):
    uses = {"nats": "ended at 0.367 nats/char", "TBPTT": "TBPTT chunks of 25 chars",
            "spectral radius": "the spectral radius of W_hh", "eigenvalue": "largest eigenvalue",
            "xavier": "Xavier starts near radius 1", "orthogonal": "an orthogonal W_hh",
            "saturation": "59.7% saturated", "cosine similarity": "the cosine to every word",
            "principal components": "first two principal components",
            "ridge probe": "a linear probe finds", "centroid": "nearest-centroid accuracy",
            "dL/da_j": "||dL/da|| at that input"}
    assert word in gl.used([uses[word]])


def test_explain_first_glosses_once_and_leaves_parentheses_alone():
    seen: set[str] = set()
    text = gl.explain_first("An orthogonal W_hh keeps it; orthogonal again.", seen)
    assert text.count(gl.TERMS["orthogonal"].short) == 1
    assert text.startswith(f"An orthogonal ({gl.TERMS['orthogonal'].short}) W_hh (")
    assert {"orthogonal", "W_hh"} <= seen
    again = gl.explain_first("orthogonal and W_hh", seen)
    assert again == "orthogonal and W_hh"  # explained earlier on the page
    inside = gl.explain_first("a cure (scheduled sampling) here", set())
    assert inside == "a cure (scheduled sampling) here"


@pytest.mark.parametrize("study_id", list(STUDIES))
def test_every_page_lists_the_words_its_texts_use(study_id):
    s = STUDIES[study_id]
    texts = [s.title, s.question, s.fixed, s.hypothesis, *(o.question for o in s.observations)]
    listed = gl.page_terms(texts, s.views)
    for word, term in gl.TERMS.items():
        if any(term.find(t) for t in texts):
            assert word in listed, (study_id, word)
    glossed = gl.explain_first(s.hypothesis, set())
    for word in gl.used([s.hypothesis]):  # glossed in the hypothesis, or already in brackets
        short = gl.TERMS[word].short
        assert short in glossed or re.search(r"\(\s*" + gl.TERMS[word].pattern, s.hypothesis) \
            or re.search(gl.TERMS[word].pattern + r"\w*\s*\(", s.hypothesis), (study_id, word)


def test_a_study_page_defines_its_words_under_its_title(lab_db):
    from test_app import PAGES, run_page

    at = run_page(PAGES["tbptt"])
    assert not at.exception
    box = next(e for e in at.expander if e.label.startswith("Words on this page"))
    assert "TBPTT" in box.label
    body = "\n".join(m.value for m in box.markdown)
    assert gl.TERMS["TBPTT"].definition in body and gl.TERMS["nats"].definition in body


def test_home_glossary_lists_every_word_once(lab_db):
    from test_app import run_page

    at = run_page()
    assert not at.exception
    text = "\n".join(m.value for m in at.markdown).lower()
    for word in gl.TERMS:
        assert text.count(f"- **{word.lower()}**:") == 1, word

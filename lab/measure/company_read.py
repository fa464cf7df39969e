"""Reading a network for the novel word's study (lab.measure.company defines the metric):
what it expects after "the <subject> ", and the baseline continued on text where a noun is
written "zog", read at log-spaced steps with the sentences containing the new word read so
far and the held-out loss."""

from __future__ import annotations

import dataclasses
import re
from functools import cache

import numpy as np
import pandas as pd
import torch

from lab.language import corpus
from lab.language.alphabet import encode
from lab.measure.company import (
    ANIMAL_VERBS,
    EXPOSURE_STEPS,
    HUMAN_VERBS,
    MARKS,
    NOVEL,
    SIGN,
    SPELLINGS,
    forms,
)
from lab.measure.evaluate import VAL_BURN_IN, heldout_tracks, loss_on_rows, read
from lab.training.config import RunConfig
from lab.training.hooks import Recorder, Stack
from lab.training.model import StackedRNN

CONTEXTS, CONTEXT_CHARS = 16, 96  # held-out text read before "the <subject> "
LOSS_TRACKS = 16


@cache
def _contexts() -> tuple[str, ...]:
    """CONTEXTS stretches of held-out text that end at a sentence end (a newline), evenly
    spaced, each CONTEXT_CHARS long: the state a subject is read in."""
    text = corpus.heldout_text()
    ends = [i for i, ch in enumerate(text) if ch == "\n" and i >= CONTEXT_CHARS]
    pick = np.linspace(0, len(ends) - 1, CONTEXTS).astype(int)
    return tuple(text[ends[i] + 1 - CONTEXT_CHARS: ends[i] + 1] for i in pick)


@cache
def _verb_rows(subject: str) -> tuple[np.ndarray, list[tuple[int, int, int]], int]:
    """Rows "<context>the <subject> <verb>" for every context, number and class verb, padded;
    and per row (first char of the verb, its length, +1 human / -1 animal)."""
    texts, spans = [], []
    for number, noun in enumerate(forms(subject)):
        prefix_tail = f"the {noun} "
        for cls, verbs in (("human", HUMAN_VERBS), ("animal", ANIMAL_VERBS)):
            for v in verbs:
                form = v + "s" if number == 0 else v
                for ctx in _contexts():
                    texts.append(ctx + prefix_tail + form)
                    spans.append((len(ctx) + len(prefix_tail), len(form), SIGN[cls]))
    width = max(map(len, texts)) + 1
    rows = np.stack([encode(t.ljust(width)) for t in texts])
    return rows, spans, width


_ENDS = [int(i) for i in encode(" .")]  # a verb is whole when a space or full stop follows


@torch.no_grad()
def expectation(model: StackedRNN, subject: str) -> np.ndarray:
    """Per run (R,): log10 of P(a human-only verb) / P(an animal-only verb) as the next word
    after "the <subject> " (singular with singular verbs, plural with plural ones), summed
    over the verbs and CONTEXTS held-out contexts. +1: it expects human verbs ten times more."""
    rows, spans, _ = _verb_rows(subject)
    R, (B, T) = model.R, rows.shape
    logits = read(model, rows).logits.view(R, T, B, -1).transpose(1, 2)  # time-major -> (R,B,T,V)
    logp = torch.log_softmax(logits.double(), -1)
    x = torch.from_numpy(rows.astype(np.int64))
    next_logp = logp[:, :, :-1].gather(-1, x[:, 1:].expand(R, B, T - 1).unsqueeze(-1))[..., 0]
    letters = torch.zeros(B, T - 1, dtype=torch.bool)  # the positions that predict a letter
    for b, (start, n, _) in enumerate(spans):
        letters[b, start - 1: start + n - 1] = True
    last = torch.tensor([start + n - 1 for start, n, _ in spans])
    end = torch.logsumexp(logp[:, torch.arange(B), last][..., _ENDS], -1)  # (R, B)
    p = torch.exp(next_logp.where(letters, 0.0).sum(-1) + end).numpy()  # (R, B)
    human_rows = np.array([sign > 0 for *_, sign in spans])
    human, animal = p[:, human_rows].sum(1), p[:, ~human_rows].sum(1)
    return np.log10(human / animal)


@cache
def _replaced(noun: str, spelling: str) -> tuple[np.ndarray, np.ndarray]:
    """Training ids with every `noun` (both numbers) written `spelling`, and the cumulative
    count of sentences containing the new word: marks[p] = how many such sentences have
    their first occurrence of it before position p."""
    text = corpus.replace_word(corpus.train_text(), noun, spelling)
    at = np.array([m.start() for m in re.finditer(
        rf"(?<![a-z])(?:{spelling}|{spelling}s)(?![a-z])", text)], np.int64)
    lines = np.searchsorted(np.flatnonzero(encode(text) == encode("\n")[0]), at)
    first = at[np.unique(lines, return_index=True)[1]]
    marks = np.zeros(len(text) + 1, np.int64)
    marks[first + 1] = 1
    return encode(text), np.cumsum(marks)


def exposure_stream(noun: str | None, spelling: str) -> np.ndarray:
    """Training ids with every `noun` written `spelling` (None: the corpus as it is)."""
    return corpus.train_ids() if noun is None else _replaced(noun, spelling)[0]


@cache
def _heldout_rows(noun: str | None, spelling: str) -> np.ndarray:
    """LOSS_TRACKS held-out rows, of the corpus or of the text with `noun` replaced (kept:
    each exposure run reads them at every mark, and the replacement rescans the text)."""
    length = 256 + VAL_BURN_IN
    if noun is None:
        return heldout_tracks(LOSS_TRACKS, length)
    ids = encode(corpus.replace_word(corpus.heldout_text(), noun, spelling))
    stride = (len(ids) - length) // LOSS_TRACKS
    return np.stack([ids[i * stride: i * stride + length] for i in range(LOSS_TRACKS)])


class ExposureReadout(Recorder):
    """Reads one run (R=1) at MARKS: expectations after each spelling and the noun, sentences
    with the new word read so far, held-out loss on the corpus and on the replaced text."""

    def __init__(self, cfg: RunConfig, noun: str | None, spelling: str, starts: np.ndarray):
        self.noun, self.spelling = noun, spelling
        self.subjects = SPELLINGS if noun is None else (spelling, noun)
        stream = exposure_stream(noun, spelling)
        self.marks = None if noun is None else _replaced(noun, spelling)[1]
        self.starts, self.T, self.N = starts, cfg.seq_len, len(stream)
        self.rows: list[dict] = []

    def _sentences(self, step: int) -> int:
        """Sentences with the new word whose first occurrence the run's tracks have read."""
        if self.marks is None:
            return 0
        ends = self.starts + step * self.T
        total = 0
        for s, e in zip(self.starts, ends, strict=True):
            if e < self.N:
                total += self.marks[e] - self.marks[s]
            else:  # the track wrapped around the stream
                total += self.marks[self.N] - self.marks[s] + self.marks[e % self.N]
        return int(total)

    def _read(self, st: Stack) -> None:
        row = {"step": st.step, "sentences": self._sentences(st.step)}
        for subject in self.subjects:
            key = "expect_noun" if subject == self.noun else f"expect_{subject}"
            row[key] = float(expectation(st.model, subject)[0])
        row["val_loss"] = float(loss_on_rows(st.model, _heldout_rows(None, NOVEL))[0][0])
        row["val_loss_novel"] = float("nan") if self.noun is None else float(
            loss_on_rows(st.model, _heldout_rows(self.noun, self.spelling))[0][0])
        self.rows.append(row)

    def on_checkpoint(self, st: Stack) -> None:
        if st.step == 0:
            self._read(st)

    def on_step(self, st: Stack, loss, gnorm, clipped) -> None:
        if (st.step in MARKS or st.step == st.steps) and st.step > 0 and bool(st.alive[0]):
            self._read(st)


def continue_on(cfg: RunConfig, weights: dict, noun: str | None, spelling: str = NOVEL,
                steps: int = EXPOSURE_STEPS) -> pd.DataFrame:
    """Continue a trained run (cfg, its final weights) for `steps` steps on text where
    `noun` is written `spelling` (None: the corpus as it is, the control); one row per mark:
    step, sentences, expect (after the spelling; for the control one column per spelling),
    expect_noun, val_loss, val_loss_novel."""
    from lab.training.engine import StackTrainer, track_starts

    run = dataclasses.replace(cfg, steps=steps)
    stream = exposure_stream(noun, spelling)
    rec = ExposureReadout(run, noun, spelling, track_starts(run, len(stream)).numpy())
    trainer = StackTrainer([run], [rec], weights=[weights],
                           stream=None if noun is None else stream)
    trainer.advance()
    df = pd.DataFrame(rec.rows)
    if noun is not None:
        df = df.rename(columns={f"expect_{spelling}": "expect"})
    return df

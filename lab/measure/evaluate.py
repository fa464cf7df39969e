"""Reading held-out text and generating text with a trained stack (no gradients).

Shared by the checkpoints and the end-of-run analyses, so "held-out loss" and
"a generated sample" mean one thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lab.language import corpus
from lab.language.alphabet import decode, encode
from lab.training.model import StackedRNN

VAL_BURN_IN = 32  # first characters of each held-out track warm the state and are not scored
PRIME_CHARS = 200  # generation starts after reading this much held-out text (to a sentence end)
SAMPLE_CHARS = 240  # length of the checkpoint sample
HELDOUT_ANALYSIS_START = 100_000  # analyses read the second half of the held-out stream


@dataclass
class Reading:
    """A stack read held-out tracks: inputs, hidden states and logits."""

    x: torch.Tensor  # (R, B, T) input ids
    hs: torch.Tensor  # (R, T+1, B, H); hs[:, t+1] is the state after reading x[..., t]
    logits: torch.Tensor  # (R, T*B, V) t-major: row t*B + b predicts x[:, b, t+1]


def heldout_tracks(tracks: int, length: int, start: int = 0) -> np.ndarray:
    """`tracks` rows of `length` consecutive held-out ids, evenly spaced from `start`."""
    ids = corpus.heldout_ids()
    stride = (len(ids) - start - length) // tracks
    if stride < length:
        raise ValueError(f"held-out stream too short for {tracks} x {length}")
    return np.stack([ids[start + i * stride: start + i * stride + length] for i in range(tracks)])


@torch.no_grad()
def read(model: StackedRNN, rows: np.ndarray) -> Reading:
    """Run every run of the stack over the same text rows (B, T) from a zero state."""
    x = torch.from_numpy(np.asarray(rows, dtype=np.int64)).unsqueeze(0).expand(model.R, -1, -1)
    h0 = torch.zeros(model.R, x.shape[1], model.H)
    fw = model.forward(x.contiguous(), h0)
    return Reading(fw.x, fw.hs, fw.logits)


@torch.no_grad()
def heldout_loss(model: StackedRNN, tracks: int = 16, length: int = 256 + VAL_BURN_IN):
    """Held-out loss per run: mean nats/char over held-out tracks, after VAL_BURN_IN chars.

    Returns (loss (R,), the Reading, so the caller can take hidden-state statistics).
    """
    return loss_on_rows(model, heldout_tracks(tracks, length))


@torch.no_grad()
def loss_on_rows(model: StackedRNN, rows: np.ndarray):
    """heldout_loss on given rows (B, T) of ids: (loss (R,), the Reading); the novel word's
    exposure scores text where a noun is written "zog" by the same definition."""
    rd = read(model, rows)
    R, B, T = rd.x.shape
    logp = torch.log_softmax(rd.logits.view(R, T, B, -1)[:, VAL_BURN_IN - 1: T - 1], -1)
    targets = rd.x[:, :, VAL_BURN_IN:].transpose(1, 2)  # (R, T-burn, B)
    nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return nll.flatten(1).mean(1), rd


def finite(h: torch.Tensor, bound: float = 1e6) -> torch.Tensor:
    """Hidden states with inf/NaN (an exploding linear RNN) clipped to +-bound, so an analysis
    of a blown-up run yields poor scores instead of a crash that would lose its whole stack."""
    return torch.nan_to_num(h, nan=0.0, posinf=bound, neginf=-bound).clamp(-bound, bound)


def sentence_aligned_rows(tracks: int, length: int, start: int = HELDOUT_ANALYSIS_START):
    """`tracks` held-out texts of `length` chars, each beginning at a sentence start."""
    text = corpus.heldout_text()
    stride = (len(text) - start - 2 * length) // tracks
    out = []
    for i in range(tracks):
        s = text.find(".\n", start + i * stride) + 2
        out.append(text[s: s + length])
    return out


def prime_text() -> str:
    """The held-out text generation starts from: about PRIME_CHARS, ending at a sentence end."""
    text = corpus.heldout_text()[:PRIME_CHARS * 2]
    return text[: text.rfind(".\n", 0, PRIME_CHARS) + 2]


@torch.no_grad()
def generate(model: StackedRNN, n_samples: int, n_chars: int, seeds: list[int],
             on_char=None) -> list[list[str]]:
    """Free-running text: each run samples n_samples x n_chars after reading prime_text().

    Run r draws from its own generator seeded by seeds[r] (so a run samples the same
    alone or stacked). on_char(t, logits (R, S, V), chosen (R, S)) sees every step.
    Returns texts[r][s].
    """
    R = model.R
    prime = torch.as_tensor(encode(prime_text()), dtype=torch.long)
    x = prime.view(1, 1, -1).expand(R, n_samples, -1).contiguous()
    h = model.forward(x[..., :-1], torch.zeros(R, n_samples, model.H)).hs[:, -1]
    cur = x[..., -1]  # (R, S) last prime char, not yet read
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    out = torch.empty(R, n_samples, n_chars, dtype=torch.long)
    whh = model.recurrent_weights()
    for t in range(n_chars):
        h = model.step(model.embed(cur), h, torch.empty_like(h), whh)
        logits = model.readout(h)  # (R, S, V)
        cdf = torch.softmax(logits, -1).cumsum(-1)
        u = torch.stack([torch.rand(n_samples, 1, generator=g) for g in gens])  # (R, S, 1)
        cur = torch.searchsorted(cdf, u).squeeze(-1).clamp_max(cdf.shape[-1] - 1)
        if on_char is not None:
            on_char(t, logits, cur)
        out[..., t] = cur
    return [[decode(out[r, s].numpy()) for s in range(n_samples)] for r in range(R)]

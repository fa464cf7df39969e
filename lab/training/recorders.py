"""The instrumentation: recorders attached to the training loop (lab.training.hooks.Recorder).

- StepRecorder: every step's loss, pre-clip gradient norm and whether clipping fired,
  kept exactly in memory and stored as CURVE_EVERY-step windows plus exact aggregates.
- CheckpointRecorder: at config.checkpoint_steps: spectral radius of W_hh, held-out loss,
  hidden-state statistics on the held-out reading, a generated sample and its grammaticality,
  agreement accuracy (all sites, and sites 16+ chars from their subject) on a small reading;
  at the log-spaced EXPOSURE_STEPS and the last step, the error rate after the model's own
  error and after a correct context in its free-running text (lab.measure.exposure).
- AnalysisRecorder: at the end, the analyses of lab.measure.analyses on the final weights.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import torch

from lab.language import grammar
from lab.language.agreement import CONDITIONS
from lab.measure import agreement, analyses, exposure
from lab.measure.evaluate import SAMPLE_CHARS, generate, heldout_loss
from lab.measure.metrics import (
    CURVE_EVERY,
    FINAL_WINDOW,
    LONG_DISTANCE,
    hidden_stats,
    spectral_radius,
)
from lab.training.config import EXPOSURE_STEPS, checkpoint_steps
from lab.training.hooks import Recorder, Stack
from lab.training.results import TABLE_COLUMNS, Contribution

FINAL_VAL_TRACKS = 64  # the final held-out loss reads 64 x 256 scored characters
EXPOSURE_SERIES = ("error_after_error_own_over_training", "error_after_correct_own_over_training",
                   "exposure_errors_over_training")


def is_checkpoint(st: Stack) -> bool:
    return st.step in _marks(st.steps)


@cache
def _marks(steps: int) -> frozenset:
    return frozenset(checkpoint_steps(steps))


class StepRecorder(Recorder):
    """Exact per-step loss / grad norm / clip flags; windows of CURVE_EVERY steps for storage.

    Stored run-major (R, steps) and reduced in float64, so a run's aggregates are the same
    numbers whichever runs share its stack.
    """

    def __init__(self, st: Stack):
        self.loss = torch.full((st.R, st.steps), float("nan"))
        self.gnorm = torch.full((st.R, st.steps), float("nan"))
        self.clipped = torch.zeros((st.R, st.steps), dtype=torch.bool)

    def on_step(self, st, loss, gnorm, clipped):
        i = st.step - 1
        self.loss[:, i], self.gnorm[:, i], self.clipped[:, i] = loss, gnorm, clipped

    def curve(self, st: Stack, r: int) -> pd.DataFrame:
        """Windowed means up to the run's last step (its divergence step if it diverged).

        All windows in one reduction each (a live retrain's chart asks every poll); the same
        bits as reducing window by window (checked on the committed database)."""
        last = st.diverged_at[r] if st.diverged_at[r] is not None else st.step
        full = last - last % CURVE_EVERY

        def windows(x: torch.Tensor, reduce) -> list[float]:
            out = reduce(x[:full].view(-1, CURVE_EVERY)).tolist()
            return out + ([reduce(x[full:last].view(1, -1)).item()] if full < last else [])

        def mean(w: torch.Tensor) -> torch.Tensor:
            return w.double().mean(1)

        def peak(w: torch.Tensor) -> torch.Tensor:
            return w.double().amax(1)

        ends = [*range(CURVE_EVERY, full + 1, CURVE_EVERY), *([last] if full < last else [])]
        return pd.DataFrame({
            "step": ends, "loss": windows(self.loss[r], mean),
            "grad_norm": windows(self.gnorm[r], mean),
            "grad_norm_max": windows(self.gnorm[r], peak),
            "clip_frac": windows(self.clipped[r], mean)}, columns=list(TABLE_COLUMNS["curves"]))

    def contribute(self, st, r) -> Contribution:
        curve = self.curve(st, r)
        last = st.diverged_at[r] if st.diverged_at[r] is not None else st.step
        done = slice(0, last)
        return Contribution(
            tables={"curves": curve},
            scalars={"clip_fraction": self.clipped[r, done].double().mean().item(),
                     "mean_grad_norm": self.gnorm[r, done].double().mean().item(),
                     "median_grad_norm": self.gnorm[r, done].median().item(),
                     "grad_norm_peak": self.gnorm[r, done].double().max().item() if last
                     else float("nan")},
            final_train_loss=float("nan") if st.diverged_at[r] is not None
            else self.loss[r, max(0, last - FINAL_WINDOW): last].double().mean().item(),
            window_losses=curve["loss"].to_numpy())


# agreement at each checkpoint: overall, subject LONG_DISTANCE+ chars back, and per condition
# (what lies between subject and verb), the milestones of the story page
AGREEMENT_SERIES = ("agreement_over_training", "agreement_long_over_training",
                    *(f"agreement_{c}_over_training" for c in CONDITIONS))


def _by_condition(right: np.ndarray, condition: np.ndarray) -> list[float]:
    """Share right per condition (NaN where a checkpoint's reading has no such site)."""
    return [right[condition == i].mean() if (condition == i).any() else float("nan")
            for i in range(len(CONDITIONS))]


class CheckpointRecorder(Recorder):
    """Spectral radius, held-out loss, hidden-state statistics and a sample at each checkpoint."""

    def __init__(self, st: Stack):
        self.rows: list[list[dict]] = [[] for _ in range(st.R)]
        self.samples: list[list[tuple]] = [[] for _ in range(st.R)]
        self.agreement: list[list[tuple]] = [[] for _ in range(st.R)]
        self.exposure: list[list[tuple]] = [[] for _ in range(st.R)]
        self.final_val = [float("nan")] * st.R

    def on_checkpoint(self, st: Stack) -> None:
        model = st.model
        rho = spectral_radius(model.p["Whh"])
        final = st.step == st.steps or not st.alive.any()
        val, rd = heldout_loss(model, tracks=FINAL_VAL_TRACKS if final else 16)
        texts = generate(model, 1, SAMPLE_CHARS, [c.seed * 7919 + st.step for c in st.configs])
        agree = agreement.read_agreement(model, agreement.CHECKPOINT_TRACKS,
                                         agreement.CHECKPOINT_LENGTH, probe=False)
        long_sites = agree["sites"].distance >= LONG_DISTANCE
        comp = self._exposure(st, final)
        for r, cfg in enumerate(st.configs):
            if not st.alive[r] and st.step > 0:
                continue  # a diverged run has no weights left to measure
            stats = hidden_stats(rd.hs[r, 1:], cfg.activation)
            self.rows[r].append({"step": st.step, "spectral_radius": rho[r].item(),
                                 "val_loss": val[r].item(), **stats})
            g = grammar.score(texts[r][0])
            self.samples[r].append((st.step, texts[r][0], g.valid_words, g.valid_sentences))
            right = agree["correct"][r]
            self.agreement[r].append((st.step, right.mean(), right[long_sites].mean(),
                                      *_by_condition(right, agree["sites"].condition)))
            if comp is not None:
                self.exposure[r].append((st.step, comp.next_char()[r], comp.after_correct()[r],
                                         comp.events[r]))
            if final:
                self.final_val[r] = val[r].item()

    @staticmethod
    def _exposure(st: Stack, final: bool) -> exposure.Compounding | None:
        """Free-running samples read by exposure.Compounding, at EXPOSURE_STEPS and the end."""
        if not (final or st.step in EXPOSURE_STEPS):
            return None
        comp = exposure.Compounding(st.R, analyses.FREE_SAMPLES)
        generate(st.model, analyses.FREE_SAMPLES, analyses.FREE_CHARS,
                 [c.seed * 6271 + st.step for c in st.configs], comp)
        return comp

    def contribute(self, st, r) -> Contribution:
        ck = pd.DataFrame(self.rows[r])
        samples = pd.DataFrame(self.samples[r],
                               columns=["step", "text", "valid_words", "valid_sentences"])
        series = pd.DataFrame(
            [(name, step, float(v[i])) for step, *v in self.agreement[r] for i, name in
             enumerate(AGREEMENT_SERIES)]
            + [(name, step, float(v[i])) for step, *v in self.exposure[r]
               for i, name in enumerate(EXPOSURE_SERIES)],
            columns=["analysis", "x", "y"])
        scalars = {} if not len(ck) else {
            "spectral_radius_init": float(ck["spectral_radius"].iloc[0]),
            "spectral_radius_final": float(ck["spectral_radius"].iloc[-1]),
            "h_saturated_final": float(ck["h_saturated"].iloc[-1])}
        return Contribution({"checkpoints": ck, "samples": samples, "series": series}, scalars,
                            final_val_loss=self.final_val[r])


class AnalysisRecorder(Recorder):
    """End-of-run analyses (lab.measure.analyses) on the final weights of the runs still alive."""

    def on_end(self, st: Stack) -> None:
        self.result = analyses.run_all(st.model, st.configs)

    def contribute(self, st, r) -> Contribution:
        if st.diverged_at[r] is not None:
            return Contribution()
        tables, scalars = self.result[r]
        return Contribution(dict(tables), dict(scalars))  # its series follow the checkpoints'


def default_recorders(st: Stack) -> list[Recorder]:
    return [StepRecorder(st), CheckpointRecorder(st), AnalysisRecorder()]


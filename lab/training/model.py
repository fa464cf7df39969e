"""R independent vanilla RNNs of one shape, stacked, with a hand-written BPTT.

    a_t = W_xh[x_t] + h_{t-1} W_hh + b_h        h_t = f(a_t)        y_t = h_t W_hy + b_y

Every weight has a leading run dimension R, so one batched matmul advances all runs at
once; runs never mix (bmm is per run). The backward pass is written out like
min-char-rnn: it avoids autograd's per-op overhead and hands back dL/dh_t for every t,
which the gradient-decay analysis needs. tests/test_model.py checks it against
torch.nn.RNN and autograd.

The equations below are TorchScript functions (`torch.jit.script`: compiled in
milliseconds by torch's own interpreter, no C++ compiler): the same ATen ops as the Python
code they are written in, so the same bits, with less per-op overhead, and run without
holding the GIL, so two trainings in two threads of one server use two cores.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass

import torch
from torch import Tensor

from lab.language.alphabet import VOCAB_SIZE
from lab.training.config import ACTIVATIONS, RunConfig

V = VOCAB_SIZE
log = logging.getLogger(__name__)


def init_whh(init: str, hidden: int, gen: torch.Generator) -> torch.Tensor:
    """W_hh at step 0.

    orthogonal: Q of a Gaussian's QR (sign-fixed), every eigenvalue on the unit circle;
    xavier: uniform(+-sqrt(6 / (H + H))), entries of variance 1/H, bulk radius ~1;
    random: i.i.d. N(0, 1), the naive unscaled choice, spectral radius ~sqrt(H).
    """
    if init == "orthogonal":
        q, r = torch.linalg.qr(torch.randn(hidden, hidden, generator=gen))
        return q * torch.sign(torch.diagonal(r))  # (H, H) uniformly distributed orthogonal
    if init == "xavier":
        a = math.sqrt(6.0 / (hidden + hidden))
        return (torch.rand(hidden, hidden, generator=gen) * 2 - 1) * a
    if init == "random":
        return torch.randn(hidden, hidden, generator=gen)
    raise ValueError(f"unknown init {init!r}")


def init_params(cfg: RunConfig) -> dict[str, torch.Tensor]:
    """One run's weights from its own seed, so a run starts the same alone or stacked."""
    gen = torch.Generator().manual_seed(cfg.seed)
    h = cfg.hidden
    return {
        "Wxh": torch.randn(V, h, generator=gen) / math.sqrt(V),  # (V, H) rows read by one-hot
        "Whh": init_whh(cfg.init, h, gen),  # (H, H)
        "bh": torch.zeros(h),  # (H,)
        "Why": torch.randn(h, V, generator=gen) * 0.01,  # (H, V) small: loss starts at ln V
        "by": torch.zeros(V),  # (V,)
    }


PARAM_NAMES = ("Wxh", "Whh", "bh", "Why", "by")


def param_count(cfg: RunConfig) -> int:
    """Trainable parameters; a frozen W_hh (reservoir) is not counted."""
    h = cfg.hidden
    return V * h + (0 if cfg.freeze_whh else h * h) + h + h * V + V


def script(fn):
    """fn compiled by TorchScript, or fn itself if that fails (e.g. no .py sources shipped).

    Both run the same ATen ops in the same order, so the same bits (tests/test_engine.py
    trains with PYTORCH_JIT=0 and compares); the fallback is only slower. torch 2.13 marks
    torch.jit.script deprecated; it is still the one way to leave the GIL without a compiler.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", DeprecationWarning)
        try:
            return torch.jit.script(fn)
        except Exception as e:  # noqa: BLE001  (any failure: run the same code eagerly)
            log.warning("TorchScript unavailable for %s (%s): running it as plain Python",
                        fn.__name__, str(e).strip().splitlines()[0] if str(e).strip() else e)
            return fn


# --- the equations, as TorchScript over stacked tensors ------------------------------------
# groups: (index in ACTIVATIONS, first run, end run): each activation is one slice of the stack.

@script
def _act(code: int, a: Tensor, out: Tensor) -> None:
    if code == 0:
        torch.tanh(a, out=out)
    elif code == 1:
        torch.clamp_min(a, 0.0, out=out)
    elif code == 2:
        torch.sigmoid(a, out=out)
    else:
        out.copy_(a)


@script
def activate(a: Tensor, out: Tensor, groups: list[tuple[int, int, int]]) -> Tensor:
    """out = f_r(a) run by run (run dimension first); one op when the stack has one activation."""
    if len(groups) == 1:
        _act(groups[0][0], a, out)
    else:
        for code, s, e in groups:
            _act(code, a[s:e], out[s:e])
    return out


@script
def derivative(hs: Tensor, groups: list[tuple[int, int, int]]) -> Tensor:
    """f'(a) written through h = f(a); hs has the run dimension first."""
    d = torch.empty_like(hs)
    one = torch.ones([], dtype=hs.dtype)  # 1 - x with a tensor 1: 3x faster than rsub(x, 1.0)
    for code, s, e in groups:
        h, d_r = hs[s:e], d[s:e]
        if code == 0:
            torch.sub(one, torch.mul(h, h, out=d_r), out=d_r)  # 1 - h^2
        elif code == 1:
            d_r.copy_(h > 0)
        elif code == 2:
            torch.mul(h, torch.sub(one, h), out=d_r)  # h (1 - h)
        else:
            d_r.fill_(1.0)
    return d


@script
def embed(x: Tensor, wxh: Tensor, bh: Tensor) -> Tensor:
    """W_xh[x] + b_h for inputs x (R, ...) -> (R, ..., H)."""
    R, vocab, H = wxh.shape
    table = (wxh + bh.unsqueeze(1)).view(R * vocab, H)  # b_h added to V rows, not T*B
    flat = (x + vocab * torch.arange(R).view([R] + [1] * (x.dim() - 1))).flatten()
    return table.index_select(0, flat).view(list(x.shape) + [H])  # row of (run, x) each


@script
def recur(xe: Tensor, h0: Tensor, whh: Tensor, groups: list[tuple[int, int, int]]) -> Tensor:
    """Hidden states hs (R, T+1, B, H), hs[:, 0] = h0, from embedded inputs xe (R, T, B, H)."""
    R, T, B, H = xe.shape
    hs = torch.empty(R, T + 1, B, H, dtype=xe.dtype)
    hv = hs.unbind(1)  # per-t views (R, B, H), made in one op
    hv[0].copy_(h0)
    if R == 1:  # one run: each step's slice is contiguous, so it takes a_t in place
        hs[:, 1:].copy_(xe)  # (strided in a stack, baddbmm_ would be 1.6x slower)
        for t in range(T):
            _act(groups[0][0], hv[t + 1].baddbmm_(hv[t], whh), hv[t + 1])
        return hs
    xv = xe.unbind(1)
    if len(groups) == 1 and groups[0][0] == 0:  # all tanh: no per-step dispatch
        for t in range(T):
            torch.tanh(torch.baddbmm(xv[t], hv[t], whh), out=hv[t + 1])
    else:
        for t in range(T):
            activate(torch.baddbmm(xv[t], hv[t], whh), hv[t + 1], groups)
    return hs


@script
def readout(h: Tensor, why: Tensor, by: Tensor) -> Tensor:
    """Logits (R, N, V) from hidden states (R, N, H)."""
    return torch.baddbmm(by.unsqueeze(1), h, why)


@script
def recur_sampled(x: Tensor, h0: Tensor, params: list[Tensor], groups: list[tuple[int, int, int]],
                  draws: Tensor, eps: Tensor) -> tuple[Tensor, Tensor]:
    """recur() for scheduled sampling: from t = 1, run r reads its own sample from the previous
    step's softmax instead of x[r, :, t] where its coin is below eps[r]. x (R, B, T), params
    [Wxh, Whh, bh, Why, by], draws (T-1, 2, R, B): coin and inverse-cdf draw per step.
    Returns (inputs actually fed (R, B, T), hs (R, T+1, B, H)); no gradient through the choice."""
    R, B, T = x.shape
    wxh, whh = params[0], params[1]
    vocab, H = wxh.shape[1], wxh.shape[2]
    table = (wxh + params[2].unsqueeze(1)).view(R * vocab, H)  # embed()'s rows, made once
    row0 = vocab * torch.arange(R).view(R, 1)
    xs = x.permute(2, 0, 1).contiguous()  # (T, R, B): the inputs fed, column by column
    hs = torch.empty(R, T + 1, B, H, dtype=h0.dtype)
    hv, xv = hs.unbind(1), xs.unbind(0)
    hv[0].copy_(h0)
    for t in range(T):
        if t > 0:
            cdf = torch.softmax(readout(hv[t], params[3], params[4]), -1).cumsum(-1)  # (R, B, V)
            sampled = torch.searchsorted(cdf, draws[t - 1, 1].unsqueeze(-1)).squeeze(-1)
            sampled = sampled.clamp_max(vocab - 1)  # the cdf may end a rounding below 1
            xv[t].copy_(torch.where(draws[t - 1, 0] < eps.view(R, 1), sampled, xv[t]))
        xe = table.index_select(0, (xv[t] + row0).flatten()).view(R, B, H)
        activate(torch.baddbmm(xe, hv[t], whh), hv[t + 1], groups)
    return xs.permute(1, 2, 0), hs


@script
def backprop(x: Tensor, hs: Tensor, dlogits: Tensor, whh: Tensor, why: Tensor,
             groups: list[tuple[int, int, int]],
             keep_dh: bool = True) -> tuple[list[Tensor], Tensor]:
    """Gradients [Wxh, Whh, bh, Why, by] of the loss whose d/dlogits is dlogits (R, T*B, V),
    and dL/dh_t (R, T, B, H) for t = 1..T, from the inputs x (R, B, T) and hs of recur().
    keep_dh=False (training) turns dL/dh_t into dL/da_t in place: fewer ops, dh not returned."""
    R, B, T = x.shape
    H, vocab = why.shape[1], why.shape[2]
    hout = hs[:, 1:].reshape(R, T * B, H)  # (R, T*B, H) t-major, a view
    # Why's gradient as (dlogits^T hout)^T: the same sums, MKL runs it 2x faster
    g_why = torch.bmm(dlogits.transpose(1, 2), hout).transpose(1, 2)  # (R, H, V)
    g_by = dlogits.sum(1)  # (R, V)
    # dL/dh_t from the readout, then accumulated back through time in place, time-major
    # (T, R, B, H) so each step's slice is contiguous and takes one in-place baddbmm_
    dh = torch.bmm(dlogits, why.transpose(1, 2)).view(R, T, B, H).transpose(0, 1).contiguous()
    deriv = derivative(hs[:, 1:], groups)  # (R, T, B, H) f'(a_t), every t in one op
    da = torch.empty_like(dh) if keep_dh else dh  # (T, R, B, H) dL/da_t
    whh_t = whh.transpose(1, 2).contiguous()
    dv, fv, av = dh.unbind(0), deriv.unbind(1), da.unbind(0)  # per-t views, made once
    for t in range(T - 1, 0, -1):  # through f, then through W_hh into h_{t-1}
        dv[t - 1].baddbmm_(torch.mul(dv[t], fv[t], out=av[t]), whh_t)
    torch.mul(dv[0], fv[0], out=av[0])
    # the weight gradients: every time step in one product each
    hprev = hs[:, :-1].reshape(R, T * B, H)  # (R, T*B, H) inputs h_{t-1}
    da_rows = da.transpose(0, 1).reshape(R, T * B, H)  # a view when R = 1
    g_whh = torch.bmm(hprev.transpose(1, 2), da_rows)  # (R, H, H)
    g_bh = da_rows.sum(1)  # (R, H)
    rows = (x.transpose(1, 2).reshape(R, T * B) + vocab * torch.arange(R).view(R, 1)).flatten()
    g_wxh = torch.zeros(R * vocab, H, dtype=hs.dtype).index_add_(  # each input's row sums dL/da
        0, rows, da_rows.reshape(R * T * B, H)).view(R, vocab, H)
    return [g_wxh, g_whh, g_bh, g_why, g_by], (dh if keep_dh else da[:0]).transpose(0, 1)


@dataclass
class Forward:
    """What the backward pass needs from a forward pass over one chunk."""

    x: torch.Tensor  # (R, B, T) inputs actually fed
    hs: torch.Tensor  # (R, T+1, B, H) hidden states, hs[:, 0] = carried-in state
    logits: torch.Tensor  # (R, T*B, V) t-major rows


class StackedRNN:
    """Weights of R runs sharing H; runs are sorted by activation so each activation is a slice."""

    def __init__(self, configs: list[RunConfig]):
        hidden = {c.hidden for c in configs}
        if len(hidden) != 1:
            raise ValueError(f"a stack needs one hidden size, got {sorted(hidden)}")
        self.configs = list(configs)
        self.R, self.H = len(configs), hidden.pop()
        per_run = [init_params(c) for c in configs]
        self.p = {n: torch.stack([w[n] for w in per_run]) for n in PARAM_NAMES}
        self.codes = activation_codes(configs)  # each activation's slice, for TorchScript

    def activate(self, a: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """out = f_r(a) run by run; a and out have the run dimension first."""
        return activate(a, out, self.codes)

    def recurrent_weights(self) -> torch.Tensor:
        """W_hh as the forward pass multiplies it (R, H, H)."""
        return self.p["Whh"]

    def derivative(self, hs: torch.Tensor) -> torch.Tensor:
        """f'(a) written through h = f(a); hs has the run dimension first."""
        return derivative(hs, self.codes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """W_xh[x] + b_h for inputs x (R, ...) -> (R, ..., H)."""
        return embed(x, self.p["Wxh"], self.p["bh"])

    def step(self, xe: torch.Tensor, h: torch.Tensor, out: torch.Tensor,
             whh: torch.Tensor | None = None) -> torch.Tensor:
        """One time step for all runs: out = f(xe + h W_hh); xe (from embed), h, out are
        (R, B, H); whh is recurrent_weights(), passed in by loops that call step often."""
        whh = self.recurrent_weights() if whh is None else whh
        return self.activate(torch.baddbmm(xe, h, whh), out)

    def readout(self, h: torch.Tensor) -> torch.Tensor:
        """Logits (R, N, V) from hidden states (R, N, H)."""
        return readout(h, self.p["Why"], self.p["by"])

    def forward(self, x: torch.Tensor, h0: torch.Tensor) -> Forward:
        """Run a teacher-forced chunk x (R, B, T) from h0 (R, B, H). (Scheduled sampling's
        feed, recur_sampled, is called by the engine's sampled step on the live runs.)"""
        R, B, T = x.shape
        hs = recur(self.embed(x.transpose(1, 2)), h0, self.p["Whh"], self.codes)
        hout = hs[:, 1:].reshape(R, T * B, self.H)  # (R, T*B, H) t-major, a view
        return Forward(x=x, hs=hs, logits=self.readout(hout))

    def backward(self, fw: Forward, dlogits: torch.Tensor) -> tuple[dict, torch.Tensor]:
        """Gradients of the loss whose d/dlogits is dlogits (R, T*B, V).

        Returns (grads by param name, dL/dh_t as (R, T, B, H) for t = 1..T).
        """
        grads, dh = backprop(fw.x, fw.hs, dlogits, self.p["Whh"], self.p["Why"], self.codes)
        return dict(zip(PARAM_NAMES, grads, strict=True)), dh

    def state_dict(self, r: int) -> dict[str, torch.Tensor]:
        """Run r's weights as plain (unstacked) tensors."""
        return {n: self.p[n][r].clone() for n in PARAM_NAMES}

    @classmethod
    def from_weights(cls, configs: list[RunConfig], weights: list[dict]) -> StackedRNN:
        """A stack holding given weights (e.g. final weights from the store)."""
        model = cls(configs)
        for r, w in enumerate(weights):
            for n in PARAM_NAMES:
                model.p[n][r] = torch.as_tensor(w[n], dtype=torch.float32)
        return model


def activation_groups(acts: list[str]) -> list[tuple[str, int, int]]:
    """(activation, start, end) slices; the caller must pass runs sorted by activation."""
    order = [ACTIVATIONS.index(a) for a in acts]
    if order != sorted(order):
        raise ValueError("runs in a stack must be sorted by activation (use sort_for_stack)")
    groups: list[tuple[str, int, int]] = []
    for i, a in enumerate(acts):
        if groups and groups[-1][0] == a:
            groups[-1] = (a, groups[-1][1], i + 1)
        else:
            groups.append((a, i, i + 1))
    return groups


def activation_codes(configs: list[RunConfig]) -> list[tuple[int, int, int]]:
    """activation_groups as the TorchScript equations take them: (index in ACTIVATIONS,
    start, end)."""
    return [(ACTIVATIONS.index(a), s, e)
            for a, s, e in activation_groups([c.activation for c in configs])]


def sort_for_stack(configs: list[RunConfig]) -> list[RunConfig]:
    """Runs ordered so each activation is one contiguous slice of the stack."""
    return sorted(configs, key=lambda c: ACTIVATIONS.index(c.activation))


@script
def loss_and_dlogits(logits: Tensor, targets: Tensor, batch: int) -> tuple[Tensor, Tensor]:
    """Per-run chunk loss (sum over the chunk, mean over the batch) and its d/dlogits.

    logits (R, N, V), targets (R, N) -> (loss (R,), dlogits (R, N, V)).
    """
    logp = torch.log_softmax(logits, -1)
    nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (R, N)
    dlogits = logp.exp_()  # softmax; logp is not needed after this
    dlogits.scatter_add_(-1, targets.unsqueeze(-1), torch.full_like(nll, -1.0).unsqueeze(-1))
    return nll.sum(1) / batch, dlogits.div_(batch)

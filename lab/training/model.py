"""R independent vanilla RNNs of one shape, stacked, with a hand-written BPTT.

    a_t = W_xh[x_t] + h_{t-1} W_hh + b_h        h_t = f(a_t)        y_t = h_t W_hy + b_y

Every weight has a leading run dimension R, so one batched matmul advances all runs at
once; runs never mix (bmm is per run). The backward pass is written out like
min-char-rnn: it avoids autograd's per-op overhead and hands back dL/dh_t for every t,
which the gradient-decay analysis needs. tests/test_model.py checks it against
torch.nn.RNN and autograd.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lab.language.alphabet import VOCAB_SIZE
from lab.training.config import ACTIVATIONS, RunConfig

V = VOCAB_SIZE


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
        self.groups = activation_groups([c.activation for c in configs])
        # tanh(a) = 2 sigmoid(2a) - 1: tanh runs carry 2a, i.e. 2 (W_xh[x] + b_h) + h (2 W_hh).
        # Doubling is exact in floating point, so this is bit-for-bit 2 * (a) in one fewer op.
        self.pre = torch.tensor([2.0 if c.activation == "tanh" else 1.0 for c in configs])

    def activate(self, a: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """out = f_r(a) run by run, where tanh runs' a comes pre-doubled (see self.pre);
        a and out have the run dimension at position 0."""
        for act, s, e in self.groups:
            ACTIVATION_FNS[act](a[s:e], out[s:e])
        return out

    def activation_fn(self):
        """activate, or the one activation's own function when the stack has one."""
        return ACTIVATION_FNS[self.groups[0][0]] if len(self.groups) == 1 else self.activate

    def recurrent_weights(self) -> torch.Tensor:
        """W_hh as the forward pass multiplies it: doubled for tanh runs (R, H, H)."""
        return self.p["Whh"] * self.pre.view(self.R, 1, 1)

    def derivative(self, hs: torch.Tensor) -> torch.Tensor:
        """f'(a) written through h = f(a); hs has the run dimension first."""
        d = torch.empty_like(hs)
        for act, s, e in self.groups:
            h = hs[s:e]
            if act == "tanh":
                torch.sub(_ONE, torch.mul(h, h, out=d[s:e]), out=d[s:e])  # 1 - h^2
            elif act == "sigmoid":
                torch.mul(h, 1.0 - h, out=d[s:e])  # h (1 - h)
            elif act == "relu":
                d[s:e] = (h > 0).to(hs.dtype)
            else:
                d[s:e] = 1.0
        return d

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """W_xh[x] + b_h for inputs x (R, ...) -> (R, ..., H), doubled for tanh runs (self.pre)."""
        shape = (self.R,) + (1,) * (x.dim() - 1)
        flat = (x + V * torch.arange(self.R).view(shape)).flatten()  # row of W_xh per (run, x)
        rows = self.p["Wxh"].view(self.R * V, self.H).index_select(0, flat)
        xe = rows.view(*x.shape, self.H).add_(self.p["bh"].view(*shape, self.H))
        return xe.mul_(self.pre.view(*shape, 1))  # doubled for tanh runs (see self.pre)

    def step(self, xe: torch.Tensor, h: torch.Tensor, out: torch.Tensor,
             whh: torch.Tensor | None = None) -> torch.Tensor:
        """One time step for all runs: out = f(xe + h W_hh); xe (from embed), h, out are
        (R, B, H); whh is recurrent_weights(), passed in by loops that call step often."""
        whh = self.recurrent_weights() if whh is None else whh
        return self.activate(torch.baddbmm(xe, h, whh), out)

    def readout(self, h: torch.Tensor) -> torch.Tensor:
        """Logits (R, N, V) from hidden states (R, N, H)."""
        return torch.baddbmm(self.p["by"].unsqueeze(1), h, self.p["Why"])

    def forward(self, x: torch.Tensor, h0: torch.Tensor, feed=None) -> Forward:
        """Run a chunk x (R, B, T) from h0 (R, B, H).

        feed(t, logits_prev) -> new inputs for column t or None: scheduled sampling's hook
        (it sees the previous step's logits; the gradient does not flow through the choice).
        """
        R, B, T = x.shape
        hs = torch.empty(R, T + 1, B, self.H)  # (R, T+1, B, H): hs[:, t] is a strided view
        hs[:, 0] = h0
        whh = self.recurrent_weights()
        if feed is None:
            # the hot loop: views made once by unbind and ops bound to locals took 10% off
            # it at the baseline shape (Python's per-op overhead)
            xv, hv = self.embed(x.transpose(1, 2)).unbind(1), hs.unbind(1)  # T and T+1 views
            act, baddbmm = self.activation_fn(), torch.baddbmm
            for t in range(T):
                act(baddbmm(xv[t], hv[t], whh), hv[t + 1])
        else:
            x = x.clone()
            for t in range(T):
                if t > 0:
                    new = feed(t, self.readout(hs[:, t]))  # (R, B) or None
                    if new is not None:
                        x[:, :, t] = new
                self.step(self.embed(x[:, :, t]), hs[:, t], hs[:, t + 1], whh)
        hout = hs[:, 1:].reshape(R, T * B, self.H)  # (R, T*B, H) t-major, a view
        return Forward(x=x, hs=hs, logits=self.readout(hout))

    def backward(self, fw: Forward, dlogits: torch.Tensor) -> tuple[dict, torch.Tensor]:
        """Gradients of the loss whose d/dlogits is dlogits (R, T*B, V).

        Returns (grads by param name, dL/dh_t as (R, T, B, H) for t = 1..T).
        """
        R, B, T = fw.x.shape
        H = self.H
        hout = fw.hs[:, 1:].reshape(R, T * B, H)
        grads = {  # Why's gradient as (dlogits^T hout)^T: the same sums, MKL runs it 2x faster
            "Why": torch.bmm(dlogits.transpose(1, 2), hout).transpose(1, 2),  # (R, H, V)
            "by": dlogits.sum(1),  # (R, V)
        }
        # dL/dh_t from the readout, then accumulated back through time in place
        dh = torch.bmm(dlogits, self.p["Why"].transpose(1, 2)).view(R, T, B, H)
        deriv = self.derivative(fw.hs[:, 1:])  # (R, T, B, H) f'(a_t)
        da = torch.empty_like(dh)  # (R, T, B, H) dL/da_t
        whh_t = self.p["Whh"].transpose(1, 2).contiguous()
        dv, fv, av = dh.unbind(1), deriv.unbind(1), da.unbind(1)  # per-t views, made once
        mul, bmm = torch.mul, torch.bmm
        for t in range(T - 1, 0, -1):
            # backprop through f, then through W_hh into h_{t-1} (bmm + add_: a strided
            # baddbmm_ is slow)
            dv[t - 1].add_(bmm(mul(dv[t], fv[t], out=av[t]), whh_t))
        mul(dv[0], fv[0], out=av[0])
        hprev = fw.hs[:, :-1].reshape(R, T * B, H)  # (R, T*B, H) inputs h_{t-1}
        da_rows = da.view(R, T * B, H)
        grads["Whh"] = torch.bmm(hprev.transpose(1, 2), da_rows)  # (R, H, H)
        grads["bh"] = da_rows.sum(1)  # (R, H)
        rows = (fw.x.transpose(1, 2).reshape(R, T * B) + V * torch.arange(R).view(R, 1)).flatten()
        grads["Wxh"] = torch.zeros(R * V, H).index_add_(0, rows, da_rows.reshape(R * T * B, H))
        grads["Wxh"] = grads["Wxh"].view(R, V, H)  # each input char's row gathers its dL/da
        return grads, dh

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


_ONE, _MINUS_ONE = torch.tensor(1.0), torch.tensor(-1.0)


def _tanh(a2: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """tanh(a) = 2 sigmoid(2a) - 1 from a2 = 2a: torch's CPU tanh is unvectorised here, sigmoid
    is 5x faster. -1 + 2s in one op equals (2s) - 1 bit for bit (2s is exact)."""
    return torch.add(_MINUS_ONE, torch.sigmoid(a2, out=out), alpha=2.0, out=out)


def _identity(a: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    return out.copy_(a)


ACTIVATION_FNS = {
    "tanh": _tanh,
    "relu": lambda a, out: torch.clamp_min(a, 0.0, out=out),
    "sigmoid": lambda a, out: torch.sigmoid(a, out=out),
    "identity": _identity,
}


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


def sort_for_stack(configs: list[RunConfig]) -> list[RunConfig]:
    """Runs ordered so each activation is one contiguous slice of the stack."""
    return sorted(configs, key=lambda c: ACTIVATIONS.index(c.activation))

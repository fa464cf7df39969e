"""The stacked RNN and its hand-written BPTT against nn.RNN, autograd and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lab.language.alphabet import VOCAB_SIZE as V
from lab.measure import analyses
from lab.training.config import BASELINE
from lab.training.model import (
    PARAM_NAMES,
    StackedRNN,
    init_params,
    loss_and_dlogits,
    param_count,
    sort_for_stack,
)

H, B, T = 12, 3, 7
TOL = {"rtol": 1e-4, "atol": 1e-5}  # float32, summed over T*B positions

# a stack of every activation, two seeds for the nn.RNN ones, deliberately unsorted
STACK = [
    BASELINE.replace(hidden=H, seq_len=T, activation="sigmoid", seed=5),
    BASELINE.replace(hidden=H, seq_len=T, activation="tanh", seed=1),
    BASELINE.replace(hidden=H, seq_len=T, activation="relu", seed=2, init="xavier"),
    BASELINE.replace(hidden=H, seq_len=T, activation="identity", seed=6),
    BASELINE.replace(hidden=H, seq_len=T, activation="tanh", seed=3, init="xavier"),
    BASELINE.replace(hidden=H, seq_len=T, activation="relu", seed=4),
]


pytestmark = pytest.mark.usefixtures("one_thread")


TORCH_ACT = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
             "identity": lambda a: a}


def chunk(R: int, seed: int = 0):
    """Inputs (R, B, T), targets (R, T*B) t-major, and a non-zero carried-in state (R, B, H)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, V, (R, B, T), generator=g)
    y = torch.randint(0, V, (R, B, T), generator=g)
    h0 = torch.randn(R, B, H, generator=g) * 0.5
    return x, y.transpose(1, 2).reshape(R, T * B), h0


def ours(model: StackedRNN, x, targets, h0):
    """Logits, loss (R,), grads and dL/dh_t from the stack's forward and hand-written backward."""
    fw = model.forward(x, h0)
    loss, dlogits = loss_and_dlogits(fw.logits, targets, B)
    grads, dh = model.backward(fw, dlogits)
    return fw.logits, loss, grads, dh


def torch_run(act: str, w: dict[str, torch.Tensor]):
    """nn.RNN + nn.Linear holding one run's weights (copied model -> torch)."""
    rnn = torch.nn.RNN(V, H, nonlinearity=act, batch_first=True)
    head = torch.nn.Linear(H, V)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(w["Wxh"].T)  # (H, V)
        rnn.weight_hh_l0.copy_(w["Whh"].T)  # (H, H)
        rnn.bias_ih_l0.copy_(w["bh"])
        rnn.bias_hh_l0.zero_()  # the two biases add up to b_h
        head.weight.copy_(w["Why"].T)  # (V, H)
        head.bias.copy_(w["by"])
    return rnn, head


def torch_loss(rnn, head, x, targets, h0):
    """Logits (T*B, V) t-major and the lab's loss: cross-entropy summed over the chunk / B."""
    out, _ = rnn(F.one_hot(x, V).float(), h0.unsqueeze(0).contiguous())  # (B, T, H)
    logits = head(out).transpose(0, 1).reshape(T * B, V)
    return logits, F.cross_entropy(logits, targets, reduction="sum") / B


def torch_grads(rnn, head) -> dict[str, torch.Tensor]:
    """nn.RNN's gradients in the lab's layout."""
    torch.testing.assert_close(rnn.bias_ih_l0.grad, rnn.bias_hh_l0.grad)
    return {"Wxh": rnn.weight_ih_l0.grad.T, "Whh": rnn.weight_hh_l0.grad.T,
            "bh": rnn.bias_ih_l0.grad, "Why": head.weight.grad.T, "by": head.bias.grad}


def autograd_loss(w: dict[str, torch.Tensor], act: str, x, targets, h0):
    """Plain torch ops: the equations of lab.training.model, differentiated by autograd.

    Returns logits (T*B, V), loss, and the hidden states h_1..h_T (each retains its grad).
    """
    h, hs = h0, []
    for t in range(T):
        h = TORCH_ACT[act](w["Wxh"][x[:, t]] + h @ w["Whh"] + w["bh"])  # (B, H)
        h.retain_grad()
        hs.append(h)
    logits = torch.stack(hs).reshape(T * B, H) @ w["Why"] + w["by"]  # t-major rows
    return logits, F.cross_entropy(logits, targets, reduction="sum") / B, hs


def test_stack_matches_nn_rnn_weights_copied_from_model():
    configs = sort_for_stack(STACK)
    model = StackedRNN(configs)
    x, targets, h0 = chunk(len(configs))
    logits, loss, grads, _ = ours(model, x, targets, h0)
    checked = 0
    for r, cfg in enumerate(configs):
        if cfg.activation not in ("tanh", "relu"):
            continue
        rnn, head = torch_run(cfg.activation, model.state_dict(r))
        ref_logits, ref_loss = torch_loss(rnn, head, x[r], targets[r], h0[r])
        ref_loss.backward()
        torch.testing.assert_close(logits[r], ref_logits, **TOL)
        torch.testing.assert_close(loss[r], ref_loss, **TOL)
        ref = torch_grads(rnn, head)
        for n in PARAM_NAMES:
            torch.testing.assert_close(grads[n][r], ref[n], **TOL, msg=f"{cfg.activation} d{n}")
        checked += 1
    assert checked == 4


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_nn_rnn_weights_copied_into_the_model(act):
    torch.manual_seed(11)
    runs = [torch.nn.RNN(V, H, nonlinearity=act, batch_first=True) for _ in range(2)]
    heads = [torch.nn.Linear(H, V) for _ in range(2)]
    weights = [{"Wxh": rnn.weight_ih_l0.detach().T, "Whh": rnn.weight_hh_l0.detach().T,
                "bh": (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach(),
                "Why": head.weight.detach().T, "by": head.bias.detach()}
               for rnn, head in zip(runs, heads, strict=True)]
    configs = [BASELINE.replace(hidden=H, seq_len=T, activation=act, seed=s) for s in (1, 2)]
    model = StackedRNN.from_weights(configs, weights)
    x, targets, h0 = chunk(2, seed=1)
    logits, loss, grads, _ = ours(model, x, targets, h0)
    for r, (rnn, head) in enumerate(zip(runs, heads, strict=True)):
        ref_logits, ref_loss = torch_loss(rnn, head, x[r], targets[r], h0[r])
        ref_loss.backward()
        torch.testing.assert_close(logits[r], ref_logits, **TOL)
        ref = torch_grads(rnn, head)
        for n in PARAM_NAMES:
            torch.testing.assert_close(grads[n][r], ref[n], **TOL, msg=f"run {r} d{n}")


def test_every_activation_matches_autograd_including_dh():
    configs = sort_for_stack(STACK)
    model = StackedRNN(configs)
    x, targets, h0 = chunk(len(configs), seed=2)
    logits, loss, grads, dh = ours(model, x, targets, h0)
    for r, cfg in enumerate(configs):
        w = {n: v.clone().requires_grad_() for n, v in model.state_dict(r).items()}
        ref_logits, ref_loss, hs = autograd_loss(w, cfg.activation, x[r], targets[r], h0[r])
        ref_loss.backward()
        torch.testing.assert_close(logits[r], ref_logits, **TOL)
        torch.testing.assert_close(loss[r], ref_loss, **TOL)
        for n in PARAM_NAMES:
            torch.testing.assert_close(grads[n][r], w[n].grad, **TOL, msg=f"{cfg.activation} d{n}")
        torch.testing.assert_close(dh[r], torch.stack([h.grad for h in hs]), **TOL)


def test_runs_of_a_stack_do_not_mix():
    configs = sort_for_stack(STACK)
    x, targets, h0 = chunk(len(configs), seed=3)
    full = ours(StackedRNN(configs), x, targets, h0)
    r = 2
    alone = ours(StackedRNN([configs[r]]), x[r:r + 1], targets[r:r + 1], h0[r:r + 1])
    torch.testing.assert_close(full[0][r], alone[0][0], rtol=0, atol=1e-6)
    for n in PARAM_NAMES:
        torch.testing.assert_close(full[2][n][r], alone[2][n][0], rtol=1e-6, atol=1e-7)


def test_unsorted_stack_is_refused():
    with pytest.raises(ValueError, match="sort_for_stack"):
        StackedRNN(STACK)


def test_finite_differences_float64():
    """Gradient entries of every parameter against central differences, in float64.

    Runs are independent, so one perturbation of entry i in all R runs at once checks R runs.
    """
    torch.set_default_dtype(torch.float64)
    try:
        configs = sort_for_stack([c.replace(hidden=5) for c in STACK])
        model = StackedRNN(configs)
        assert model.p["Whh"].dtype == torch.float64
        g = torch.Generator().manual_seed(4)
        R = len(configs)
        x = torch.randint(0, V, (R, B, T), generator=g)
        targets = torch.randint(0, V, (R, T * B), generator=g)
        h0 = torch.randn(R, B, 5, generator=g) * 0.5

        def loss() -> torch.Tensor:
            return loss_and_dlogits(model.forward(x, h0).logits, targets, B)[0]  # (R,)

        fw = model.forward(x, h0)
        grads, _ = model.backward(fw, loss_and_dlogits(fw.logits, targets, B)[1])
        eps = 1e-6
        for n in PARAM_NAMES:
            p = model.p[n].view(R, -1)
            numeric = torch.zeros_like(p)
            entries = torch.randperm(p.shape[1], generator=g)[:40]  # W_xh, W_hy: 40 of each
            for i in entries.tolist():
                keep = p[:, i].clone()
                p[:, i] = keep + eps
                up = loss()
                p[:, i] = keep - eps
                numeric[:, i] = (up - loss()) / (2 * eps)
                p[:, i] = keep
            assert numeric.abs().sum() > 0
            torch.testing.assert_close(grads[n].reshape(R, -1)[:, entries], numeric[:, entries],
                                       rtol=1e-5, atol=1e-7, msg=f"d{n}")
    finally:
        torch.set_default_dtype(torch.float32)


def test_gradient_decay_matches_autograd():
    """analyses.gradient_decay against retain_grad on every h_t of the same held-out chunk."""
    seq_len = 10
    configs = sort_for_stack([
        BASELINE.replace(hidden=H, seq_len=seq_len, activation="tanh", seed=1),
        BASELINE.replace(hidden=H, seq_len=seq_len, activation="relu", seed=2),
        BASELINE.replace(hidden=H, seq_len=seq_len, activation="sigmoid", seed=3, init="random"),
    ])
    model = StackedRNN(configs)
    decay = analyses.gradient_decay(model, seq_len)  # (R, seq_len)
    assert decay.shape == (len(configs), seq_len)

    # the same chunk, built independently of gradient_decay's internals
    burn, nb = analyses.BURN_IN, analyses.DECAY_TRACKS
    texts = analyses.sentence_aligned_rows(nb, burn + seq_len + 1)
    from lab.language.alphabet import encode

    rows = torch.as_tensor(np.stack([encode(t) for t in texts]), dtype=torch.long)  # (B, L)
    for r, cfg in enumerate(configs):
        w = {n: v.clone().requires_grad_() for n, v in model.state_dict(r).items()}
        act = TORCH_ACT[cfg.activation]
        with torch.no_grad():
            h = torch.zeros(nb, H)
            for t in range(burn):
                h = act(w["Wxh"][rows[:, t]] + h @ w["Whh"] + w["bh"])
        hs = []
        for t in range(burn, burn + seq_len):
            h = act(w["Wxh"][rows[:, t]] + h @ w["Whh"] + w["bh"])
            h.retain_grad()
            hs.append(h)
        logits = hs[-1] @ w["Why"] + w["by"]  # loss at the last position only
        (F.cross_entropy(logits, rows[:, burn + seq_len], reduction="sum") / nb).backward()
        norms = torch.stack([hs[-1 - k].grad.norm(dim=-1).mean() for k in range(seq_len)])
        expected = (norms / norms[0]).numpy()
        np.testing.assert_allclose(decay[r], expected, rtol=1e-4, atol=1e-7,
                                   err_msg=cfg.activation)
        assert expected[-1] < expected[0], "a decay curve that does not decay checks nothing"


def test_init_and_param_count():
    cfg = BASELINE.replace(hidden=16)
    w = init_params(cfg)
    assert w["Whh"].shape == (16, 16) and w["Wxh"].shape == (V, 16) and w["Why"].shape == (16, V)
    torch.testing.assert_close(w["Whh"] @ w["Whh"].T, torch.eye(16), rtol=0, atol=1e-5)
    for n in PARAM_NAMES:  # same seed, same start; another seed, another start
        assert torch.equal(w[n], init_params(cfg)[n])
    assert not torch.equal(w["Whh"], init_params(cfg.replace(seed=43))["Whh"])
    assert param_count(cfg) == sum(v.numel() for v in w.values())
    assert param_count(cfg.replace(freeze_whh=True)) == param_count(cfg) - 16 * 16

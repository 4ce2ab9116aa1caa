"""bench.batched_models: K models stepped as one batched computation equal K models stepped separately.

The reference is what a session trains today: its own nn.LSTM / nn.RNN (fused kernel) and nn.Linear, its own
torch.optim.Adam, clip_grad_norm_ on its own parameters, its own batches.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from bench.batched_models import IGNORE, StackedModels, StackedRecurrent

LOSS_TOL = 1e-6
# After 3-4 Adam steps (lr 3e-3) the weights differ by up to 1.0e-6 (LSTM; RNN 6e-8): Adam divides each gradient
# by its own magnitude, so float rounding in tiny gradients moves weights by more than it moves losses.
# PyTorch's own two CPU paths for nn.LSTM (oneDNN on and off) differ by 5.5e-7 after the same steps.
WEIGHT_TOL = 2e-6


def make_models(cell: str, k: int, i: int, h: int, o: int, seed: int = 0):
    torch.manual_seed(seed)
    mod = nn.LSTM if cell == "lstm" else nn.RNN
    rnns = [mod(i, h, batch_first=True) for _ in range(k)]
    readouts = [nn.Linear(h, o) for _ in range(k)]
    return rnns, readouts


def separate_step(rnn, readout, opt, x, y, tokens_in: bool, last_only: bool, clip: float):
    """One session's step as the app does it (plain PyTorch)."""
    inp = F.one_hot(x, rnn.input_size).float() if tokens_in else x
    hs, _ = rnn(inp)
    out = readout(hs[:, -1] if last_only else hs)
    if y.dtype == torch.long:
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=IGNORE)
    else:
        loss = F.mse_loss(out, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_([*rnn.parameters(), *readout.parameters()], clip)
    opt.step()
    return loss.item(), norm.item()


def max_weight_diff(stacked: StackedModels, rnns, readouts) -> float:
    worst = 0.0
    for k, (r, o) in enumerate(zip(rnns, readouts, strict=True)):
        w = stacked.weights(k)
        ref = {**dict(r.named_parameters()), **{f"readout.{n}": p for n, p in o.named_parameters()}}
        worst = max(worst, *((w[n] - ref[n].detach()).abs().max().item() for n in w))
    return worst


def batches(k, b, t, i, o, tokens_in: bool, last_only: bool, step: int):
    g = torch.Generator().manual_seed(100 + step)
    x = torch.randint(0, i, (k, b, t), generator=g) if tokens_in else torch.randn(k, b, t, i, generator=g)
    if not tokens_in:
        return x, torch.randn(k, b, t, o, generator=g)
    if last_only:
        return x, torch.randint(0, o, (k, b), generator=g)
    y = torch.randint(0, o, (k, b, t), generator=g)
    y[:, :, : t // 2] = IGNORE  # scored only in the second half, as in the copy task
    return x, y


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
@pytest.mark.parametrize("kind", ["recall", "all-steps", "values"])
def test_batched_equals_separate(cell, kind):
    K, B, T, I, H, O = 3, 6, 13, 5, 8, 4
    tokens_in, last_only = kind != "values", kind == "recall"
    rnns, readouts = make_models(cell, K, I, H, O)
    stacked = StackedModels.from_modules(rnns, readouts, tokens_in=tokens_in, lr=3e-3, clip=1.0)
    opts = [torch.optim.Adam([*r.parameters(), *o.parameters()], lr=3e-3) for r, o in zip(rnns, readouts)]
    for step in range(4):
        x, y = batches(K, B, T, I, O, tokens_in, last_only, step)
        ref = [separate_step(rnns[k], readouts[k], opts[k], x[k], y[k], tokens_in, last_only, 1.0) for k in range(K)]
        res = stacked.step(x, y, last_only=last_only)
        assert res.ok == [True] * K
        assert max(abs(a - r[0]) for a, r in zip(res.loss, ref)) < LOSS_TOL
        assert max(abs(a - r[1]) / max(r[1], 1.0) for a, r in zip(res.grad_norm, ref)) < 1e-5
    assert max_weight_diff(stacked, rnns, readouts) < WEIGHT_TOL


def test_per_model_settings_and_a_model_that_joins_late():
    """Different lr, clip and weight decay per model; model 2 trained 3 steps on its own first and brings its
    Adam state along (step count 3 while the others start at 0)."""
    K, B, T, I, H, O = 3, 5, 9, 4, 6, 3
    rnns, readouts = make_models("lstm", K, I, H, O, seed=1)
    lr, clip, wd = [3e-3, 1e-2, 1e-3], [1.0, 0.05, 0.0], [0.0, 1e-4, 0.0]
    opts = [torch.optim.Adam([*r.parameters(), *o.parameters()], lr=lr[k], weight_decay=wd[k])
            for k, (r, o) in enumerate(zip(rnns, readouts))]
    for step in range(3):
        x, y = batches(1, B, T, I, O, True, True, 50 + step)
        separate_step(rnns[2], readouts[2], opts[2], x[0], y[0], True, True, clip[2] or float("inf"))
    stacked = StackedModels.from_modules(rnns, readouts, tokens_in=True, lr=lr, clip=clip, weight_decay=wd)
    stacked.load_adam(2, opts[2].state_dict()["state"])
    assert stacked.steps == [0, 0, 3]
    for step in range(3):
        x, y = batches(K, B, T, I, O, True, True, step)
        ref = [separate_step(rnns[k], readouts[k], opts[k], x[k], y[k], True, True, clip[k] or float("inf"))
               for k in range(K)]
        res = stacked.step(x, y, last_only=True)
        assert max(abs(a - r[0]) for a, r in zip(res.loss, ref)) < LOSS_TOL
    assert stacked.steps == [3, 3, 6]
    assert max_weight_diff(stacked, rnns, readouts) < WEIGHT_TOL


def test_a_model_leaves_with_its_weights_and_adam_state():
    """Two steps batched, then model 1 continues alone with a torch.optim.Adam loaded from adam_state(1): the
    same numbers as a model that trained alone all along."""
    K, B, T, I, H, O = 2, 4, 8, 3, 5, 3
    rnns, readouts = make_models("lstm", K, I, H, O, seed=4)
    alone_r, alone_o = copy.deepcopy(rnns[1]), copy.deepcopy(readouts[1])
    alone_opt = torch.optim.Adam([*alone_r.parameters(), *alone_o.parameters()], lr=3e-3)
    stacked = StackedModels.from_modules(rnns, readouts, tokens_in=True)
    for step in range(2):
        x, y = batches(K, B, T, I, O, True, True, step)
        stacked.step(x, y, last_only=True)
        separate_step(alone_r, alone_o, alone_opt, x[1], y[1], True, True, 1.0)
    left_r, left_o = copy.deepcopy(rnns[1]), copy.deepcopy(readouts[1])
    w = stacked.weights(1)
    left_r.load_state_dict({n: v for n, v in w.items() if not n.startswith("readout.")})
    left_o.load_state_dict({n.removeprefix("readout."): v for n, v in w.items() if n.startswith("readout.")})
    left_opt = torch.optim.Adam([*left_r.parameters(), *left_o.parameters()], lr=3e-3)
    left_opt.load_state_dict({"state": stacked.adam_state(1), "param_groups": alone_opt.state_dict()["param_groups"]})
    x, y = batches(K, B, T, I, O, True, True, 2)
    a = separate_step(left_r, left_o, left_opt, x[1], y[1], True, True, 1.0)
    b = separate_step(alone_r, alone_o, alone_opt, x[1], y[1], True, True, 1.0)
    assert abs(a[0] - b[0]) < LOSS_TOL
    for p, q in zip([*left_r.parameters(), *left_o.parameters()], [*alone_r.parameters(), *alone_o.parameters()]):
        assert (p - q).abs().max().item() < WEIGHT_TOL


def test_a_diverged_model_is_not_updated_and_the_others_are():
    K, B, T, I, H, O = 3, 4, 7, 2, 5, 2
    rnns, readouts = make_models("rnn", K, I, H, O, seed=2)
    ref_r, ref_o = copy.deepcopy(rnns), copy.deepcopy(readouts)
    opts = [torch.optim.Adam([*r.parameters(), *o.parameters()], lr=3e-3) for r, o in zip(ref_r, ref_o)]
    stacked = StackedModels.from_modules(rnns, readouts, tokens_in=False)
    before = stacked.weights(1)
    x, y = batches(K, B, T, I, O, False, False, 0)
    x[1, 0, 3, 0] = float("nan")
    res = stacked.step(x, y)
    assert res.ok == [True, False, True]
    assert all(torch.equal(before[n], w) for n, w in stacked.weights(1).items())
    assert stacked.steps == [1, 0, 1]
    assert all(m[1].abs().max() == 0 for m in stacked.exp_avg.values())
    for k in (0, 2):
        separate_step(ref_r[k], ref_o[k], opts[k], x[k], y[k], False, False, 1.0)
    assert max_weight_diff(stacked, [ref_r[0], rnns[1], ref_r[2]], [ref_o[0], readouts[1], ref_o[2]]) < WEIGHT_TOL


def unrolled(x, w_ih, w_hh, b_ih, b_hh, cell):
    """The equations, step by step, under autograd: x (T, K, I, B) -> hs (T, K, H, B)."""
    T, K, _, B = x.shape
    H = w_hh.shape[2]
    h = x.new_zeros(K, H, B)
    c = x.new_zeros(K, H, B)
    hs = []
    for t in range(T):
        g = w_ih @ x[t] + w_hh @ h + (b_ih + b_hh).unsqueeze(2)
        if cell == "lstm":
            i, f, gg, o = g.split(H, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
            h = torch.sigmoid(o) * torch.tanh(c)
        else:
            h = torch.tanh(g)
        hs.append(h)
    return torch.stack(hs)


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
@pytest.mark.parametrize("last_only", [True, False])
def test_hand_written_backward_equals_autograd_in_float64(cell, last_only):
    T, K, I, B, H = 6, 3, 4, 5, 7
    G = 4 * H if cell == "lstm" else H
    g = torch.Generator().manual_seed(3)
    x = torch.randn(T, K, I, B, generator=g, dtype=torch.float64)
    ws = [torch.randn(*s, generator=g, dtype=torch.float64).mul_(0.5).requires_grad_()
          for s in [(K, G, I), (K, G, H), (K, G), (K, G)]]
    ref = unrolled(x, *ws, cell)
    ref = ref[-1] if last_only else ref
    out = StackedRecurrent.apply(x, *ws, cell, last_only)
    assert (out - ref).abs().max().item() < 1e-12
    seed = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    want = torch.autograd.grad((ref * seed).sum(), ws)
    got = torch.autograd.grad((out * seed).sum(), ws)
    for a, b in zip(got, want, strict=True):
        assert (a - b).abs().max().item() < 1e-10


def test_ignore_is_the_tasks_value():
    from lstm_core.tasks.base import IGNORE as TASK_IGNORE

    assert IGNORE == TASK_IGNORE


def test_refuses_what_it_does_not_batch():
    with pytest.raises(ValueError, match="one-layer"):
        StackedModels.from_modules([nn.LSTM(3, 4, num_layers=2)], [nn.Linear(4, 2)], tokens_in=True)
    with pytest.raises(ValueError, match="tanh"):
        StackedModels.from_modules([nn.RNN(3, 4, nonlinearity="relu")], [nn.Linear(4, 2)], tokens_in=True)
    with pytest.raises(ValueError, match="cell"):
        StackedModels("gru", {}, tokens_in=True)

"""lstm_core.cells.attention: the trace's states, scores, attention weights, context and gradients equal the
equations written with explicit loops over t and s in float64 (autograd for the gradients), and the fused
training layer; on recall the attention lands on the cue."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lstm_core.config import ModelConfig, RunConfig, TaskConfig, TrainConfig
from lstm_core.models import build_model
from lstm_core.tasks import make_task
from lstm_core.trace import trace
from lstm_core.train import Trainer

TASK = make_task(TaskConfig(name="recall", lag=12, alphabet=4))
H = 6


def _model(layers: int = 1, seed: int = 0, sharpen: float = 6.0):
    m = build_model(ModelConfig(cell="attention", hidden=H, layers=layers), TASK, seed)
    with torch.no_grad():  # sharper scores: the softmax far from uniform, so that every path matters
        for layer in m.rnn:
            layer.query.weight.mul_(sharpen)
    return m


def reference(model, x: torch.Tensor):
    """float64, every sum written out: per layer the RNN's h_t (autograd keeps them), then for each t the scores
    e_(t,s) of s = 0 .. t, their softmax and the context; the readout on [h; ctx] of the top layer."""
    X = model.encode(x[:1])[0].double()
    layers = []
    for layer in model.rnn:
        w = {n: p.detach().double() for n, p in layer.named_parameters()}
        h = torch.zeros(H, dtype=torch.float64, requires_grad=True)
        hs = []
        for t in range(len(X)):
            h = torch.tanh(w["weight_ih_l0"] @ X[t] + w["bias_ih_l0"] + w["weight_hh_l0"] @ h + w["bias_hh_l0"])
            h.retain_grad()
            hs.append(h)
        T = len(hs)
        e = torch.full((T, T), math.nan, dtype=torch.float64)
        a = torch.zeros(T, T, dtype=torch.float64)
        ctxs = []
        for t in range(T):
            q = w["query.weight"] @ hs[t] + w["query.bias"]
            scores = torch.stack([q @ (w["key.weight"] @ hs[s]) / math.sqrt(H) for s in range(t + 1)])
            weights = torch.exp(scores) / torch.exp(scores).sum()
            ctxs.append(sum(weights[s] * hs[s] for s in range(t + 1)))
            e[t, :t + 1], a[t, :t + 1] = scores.detach(), weights.detach()
        layers.append((hs, e, a, torch.stack(ctxs)))
        X = torch.cat((torch.stack(hs), torch.stack(ctxs)), 1)  # (T, 2H): what the layer hands up
    out = X @ model.readout.weight.detach().double().T + model.readout.bias.detach().double()
    return out, layers


@pytest.mark.parametrize("layers", [1, 2])
def test_trace_equals_the_equations_in_float64_and_the_training_layer(layers):
    model = _model(layers)
    b = TASK.display(0)
    tr = trace(model, TASK, b)
    out, ref = reference(model, b.x)
    TASK.loss(out.unsqueeze(0), b.y[:1]).backward()
    np.testing.assert_allclose(tr.output, out.detach().numpy(), rtol=0, atol=1e-5)
    with torch.no_grad():
        np.testing.assert_allclose(tr.output, model(b.x)[0].numpy(), rtol=0, atol=1e-5)
        fused = model.encode(b.x)
    for lt, layer, (hs, e, a, ctx) in zip(tr.layers, model.rnn, ref, strict=True):
        with torch.no_grad():
            fused = layer(fused)[0]
        np.testing.assert_allclose(lt.h, fused[0, :, :H].numpy(), rtol=0, atol=1e-6)
        np.testing.assert_allclose(lt.gates["ctx"], fused[0, :, H:].numpy(), rtol=0, atol=1e-5)
        np.testing.assert_allclose(lt.h, torch.stack(hs).detach().numpy(), rtol=0, atol=1e-5)
        np.testing.assert_allclose(lt.pairs["e"], e.numpy(), rtol=1e-5, atol=1e-5)  # NaN above the diagonal too
        np.testing.assert_allclose(lt.pairs["a"], a.numpy(), rtol=0, atol=1e-5)
        np.testing.assert_allclose(lt.gates["ctx"], ctx.detach().numpy(), rtol=0, atol=1e-5)
        np.testing.assert_allclose(lt.grad_h, [h.grad.norm().item() for h in hs], rtol=1e-4, atol=1e-9)
        assert lt.grad_c is None and lt.grads == {}
    assert tr.layers[0].pairs["a"].std() > 0.1  # the sharpened softmax is far from uniform


def test_attention_rows_are_distributions_over_the_past():
    lt = trace(_model(), TASK, TASK.display(3), grads=False).layers[0]
    a, e = lt.pairs["a"], lt.pairs["e"]
    T = a.shape[0]
    assert a.shape == e.shape == (T, T) and a.dtype == e.dtype == np.float32
    np.testing.assert_allclose(a.sum(1), np.ones(T), rtol=0, atol=1e-6)
    assert not np.triu(a, 1).any() and np.isnan(e[np.triu_indices(T, 1)]).all()
    assert np.isfinite(e[np.tril_indices(T)]).all() and a[0, 0] == 1.0
    np.testing.assert_allclose(lt.gates["ctx"], a @ lt.h, rtol=0, atol=1e-6)


def test_the_layer_passes_its_states_on_for_generation():
    layer = _model().rnn[0]
    x = _model().encode(TASK.batch(3, 0, 0).x)
    with torch.no_grad():
        whole, _ = layer(x)
        first, state = layer(x[:, :5])
        rest, _ = layer(x[:, 5:], state)
    torch.testing.assert_close(torch.cat((first, rest), 1), whole, rtol=0, atol=1e-6)


def test_a_clamp_on_h_is_what_the_attention_reads():
    from lstm_core.views import Clamp

    lt = trace(_model(), TASK, TASK.display(0), clamps=[Clamp("h", 0.0, start=0, stop=1)]).layers[0]
    assert not lt.h[0].any()
    np.testing.assert_allclose(lt.gates["ctx"], lt.pairs["a"] @ lt.h, rtol=0, atol=1e-6)
    assert not lt.gates["ctx"][0].any()  # step 0 can read only itself, now 0


@pytest.mark.slow
def test_solves_recall_by_attending_to_the_cue():
    """Recall at lag 20 (the vanilla RNN's chance level at this budget): solved within 300 steps, and in the trace
    the answer step '?' puts almost all its attention on the cue at t = 0."""
    run = RunConfig(TaskConfig(name="recall", lag=20), ModelConfig(cell="attention"),
                    TrainConfig(seed=0, steps=300, target=0.99, val_every=25))
    tr = Trainer(run)
    assert list(tr.steps())[-1].stop == "target"
    lt = trace(tr.model, tr.task, tr.task.display(0)).layers[0]
    assert lt.pairs["a"][-1, 0] > 0.9 and lt.pairs["a"][-1].argmax() == 0
    assert lt.grad_h[0] > 0.1 * lt.grad_h[-1]  # the gradient reaches the cue in one step, not through 20

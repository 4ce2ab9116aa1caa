"""lstm_core.cells.bilstm: the trace of both directions equals PyTorch's fused bidirectional kernel, its gradients
equal autograd on two independent loops of nn.LSTMCell, and on reverse recall the bidirectional LSTM learns what
no left-to-right model can."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from lstm_core.config import ModelConfig, RunConfig, TaskConfig, TrainConfig
from lstm_core.models import build_model
from lstm_core.tasks import make_task
from lstm_core.trace import trace
from lstm_core.train import Trainer

TASK = make_task(TaskConfig(name="revrecall", lag=15, alphabet=4))
H = 6


def _model(layers: int, seed: int = 0):
    return build_model(ModelConfig(cell="bilstm", hidden=H, layers=layers), TASK, seed)


def _cells(layer: nn.LSTM) -> tuple[nn.LSTMCell, nn.LSTMCell]:
    """PyTorch's own one-step cells holding the layer's left-to-right and right-to-left weights."""
    out = []
    for s in ("", "_reverse"):
        c = nn.LSTMCell(layer.input_size, layer.hidden_size)
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(c, name).copy_(getattr(layer, f"{name}_l0{s}"))
        out.append(c)
    return out[0], out[1]


def _independent(model, batch):
    """Autograd through two loops of nn.LSTMCell per layer (one over the sequence, one over it reversed), with
    every h and c kept: per layer, per direction, the (T, H) states and ‖dL/d·‖ after backward."""
    x = model.encode(batch.x[:1])[0]
    layers = []
    for layer in model.rnn:
        states = {}
        for name, cell, order in (("", _cells(layer)[0], range(len(x))),
                                  ("_rev", _cells(layer)[1], range(len(x) - 1, -1, -1))):
            h = c = torch.zeros(1, H)
            hs, cs = {}, {}
            for t in order:
                h, c = cell(x[t:t + 1], (h, c))
                h.retain_grad()
                c.retain_grad()
                hs[t], cs[t] = h, c
            states[name] = ([hs[t] for t in range(len(x))], [cs[t] for t in range(len(x))])
        x = torch.cat((torch.cat(states[""][0]), torch.cat(states["_rev"][0])), 1)  # (T, 2H)
        layers.append(states)
    out = copy.deepcopy(model.readout)(x).unsqueeze(0)
    TASK.loss(out, batch.y[:1]).backward()
    return out[0].detach().numpy(), layers


@pytest.mark.parametrize("layers", [1, 2])
def test_trace_equals_the_fused_kernel_and_independent_autograd(layers):
    model = _model(layers)
    b = TASK.display(1)
    tr = trace(model, TASK, b)
    with torch.no_grad():
        h = model.encode(b.x)
        for lt, layer in zip(tr.layers, model.rnn, strict=True):
            h, (h_n, c_n) = layer(h)  # (1, T, 2H): [left to right | right to left]
            np.testing.assert_allclose(lt.h, h[0, :, :H].numpy(), rtol=0, atol=1e-5)
            np.testing.assert_allclose(lt.gates["h_rev"], h[0, :, H:].numpy(), rtol=0, atol=1e-5)
            np.testing.assert_allclose(lt.gates["c"][-1], c_n[0, 0].numpy(), rtol=0, atol=1e-5)
            np.testing.assert_allclose(lt.gates["c_rev"][0], c_n[1, 0].numpy(), rtol=0, atol=1e-5)  # read it all
            np.testing.assert_allclose(lt.gates["h_rev"][0], h_n[1, 0].numpy(), rtol=0, atol=1e-5)
        np.testing.assert_allclose(tr.output, model(b.x)[0].numpy(), rtol=0, atol=1e-5)
    out, ref = _independent(model, b)
    np.testing.assert_allclose(tr.output, out, rtol=0, atol=1e-5)
    for lt, states in zip(tr.layers, ref, strict=True):
        assert set(lt.grads) == {"h_rev", "c_rev"}
        for q, (hs, cs) in states.items():
            np.testing.assert_allclose(lt.gates["c" + q], torch.cat(cs).detach().numpy(), rtol=1e-5, atol=1e-6)
            grad_h = lt.grads["h_rev"] if q else lt.grad_h
            grad_c = lt.grads["c_rev"] if q else lt.grad_c
            np.testing.assert_allclose(grad_h, [v.grad.norm().item() for v in hs], rtol=1e-4, atol=1e-9)
            np.testing.assert_allclose(grad_c, [v.grad.norm().item() for v in cs], rtol=1e-4, atol=1e-9)


def test_each_direction_is_an_lstm_with_its_own_gates():
    lt = trace(_model(1), TASK, TASK.display(0), grads=False).layers[0]
    assert set(lt.gates) == {"i", "f", "g", "o", "c", "i_rev", "f_rev", "g_rev", "o_rev", "c_rev", "h_rev"}
    assert set(lt.pre) == {"i", "f", "g", "o", "i_rev", "f_rev", "g_rev", "o_rev"}
    for s in ("", "_rev"):
        g = lt.gates
        h = lt.h if s == "" else g["h_rev"]
        np.testing.assert_allclose(h, g["o" + s] * np.tanh(g["c" + s]), rtol=0, atol=1e-6)
        np.testing.assert_allclose(g["f" + s], 1 / (1 + np.exp(-lt.pre["f" + s])), rtol=0, atol=1e-6)
    # the right-to-left cell state runs backwards: c_rev_t = f_rev_t c_rev_(t+1) + i_rev_t g_rev_t
    c_next = np.vstack([g["c_rev"][1:], np.zeros((1, H), np.float32)])
    np.testing.assert_allclose(g["c_rev"], g["f_rev"] * c_next + g["i_rev"] * g["g_rev"], rtol=0, atol=1e-6)


def test_chrono_in_both_directions_and_the_left_to_right_weights_of_the_lstm():
    model = build_model(ModelConfig(cell="bilstm", hidden=16), TASK, seed=2)
    lstm = build_model(ModelConfig(cell="lstm", hidden=16), TASK, seed=2)
    layer = model.rnn[0]
    for s in ("", "_reverse"):
        b_ih = getattr(layer, f"bias_ih_l0{s}").detach()
        bf, bi = b_ih[16:32], b_ih[:16]
        assert 0 <= float(bf.min()) and float(bf.max()) <= math.log(15) and torch.equal(bi, -bf)
        assert not getattr(layer, f"bias_hh_l0{s}")[:32].any()
    assert not torch.equal(layer.bias_ih_l0, layer.bias_ih_l0_reverse)  # drawn one after the other
    assert torch.equal(layer.weight_hh_l0, lstm.rnn[0].weight_hh_l0)  # the same first draws as the LSTM's


def test_gradient_reaches_the_left_to_right_lstm_only_at_the_scored_step():
    """Reverse recall scores t = 0 only: the left-to-right LSTM's h_t for t > 0 reaches no answer, while the
    right-to-left LSTM's every h_t feeds the answer at t = 0."""
    lt = trace(_model(1), TASK, TASK.display(0)).layers[0]
    assert lt.grad_h[0] > 0 and not lt.grad_h[1:].any()
    assert (lt.grads["h_rev"] > 0).all()


def test_clamps_hold_each_direction_at_the_positions_named():
    """c_rev = 0 at positions 9 to 11 wipes the right-to-left memory there (it reads them before 0 .. 8, so those
    change and 12 .. 15 do not); f = 0 at position 4 acts on the left-to-right LSTM only."""
    from lstm_core.views import Clamp

    free = trace(_model(1), TASK, TASK.display(0), grads=False).layers[0].gates
    held = trace(_model(1), TASK, TASK.display(0), clamps=[Clamp("c_rev", 0.0, start=9, stop=12),
                                                          Clamp("f", 0.0, start=4, stop=5)]).layers[0].gates
    assert not held["c_rev"][9:12].any() and not held["f"][4].any()
    np.testing.assert_array_equal(held["c_rev"][12:], free["c_rev"][12:])
    assert not np.allclose(held["c_rev"][:9], free["c_rev"][:9])
    np.testing.assert_array_equal(held["c"][:4], free["c"][:4])
    np.testing.assert_array_equal(held["f_rev"][11:], free["f_rev"][11:])  # gates read h_rev of the step before


@pytest.mark.slow
def test_solves_reverse_recall_where_the_one_way_lstm_answers_one_letter_for_everything():
    """Reverse recall at lag 20, the same batches: the bidirectional LSTM reaches 99 %, the one-way LSTM answers
    the same letter for every held-out sequence (its output at t = 0 has read only '?'), so it stays at chance."""
    task_cfg = TaskConfig(name="revrecall", lag=20)
    bi = Trainer(RunConfig(task_cfg, ModelConfig(cell="bilstm"), TrainConfig(seed=0, steps=800, target=0.99)))
    assert list(bi.steps())[-1].stop == "target"
    one = Trainer(RunConfig(task_cfg, ModelConfig(cell="lstm"), TrainConfig(seed=0, steps=bi.step)))
    list(one.steps())
    val = one.task.val_batch(256, 0)
    with torch.no_grad():
        answers = one.model(val.x)[:, 0].argmax(-1)
    assert len(set(answers.tolist())) == 1
    assert one.history[-1].val_metric == pytest.approx((val.y[:, 0] == answers[0]).float().mean().item())
    assert one.history[-1].val_metric < 0.25

"""lstm_core.cells.peephole: the training layer, its hand-written backpropagation and the trace all equal the
peephole equations written one gate at a time in float64; with p = 0 the model is the LSTM of the same seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_core.cells import peephole
from lstm_core.config import ModelConfig, TaskConfig
from lstm_core.models import build_model
from lstm_core.tasks import make_task
from lstm_core.trace import trace

TASK = make_task(TaskConfig(name="recall", lag=30, alphabet=4))


def reference(X: torch.Tensor, w: dict[str, torch.Tensor]) -> dict[str, list[torch.Tensor]]:
    """The equations, literally: one timestep and one gate at a time, separate weight blocks. X (B, T, I)."""
    H = w["W_hh"].shape[1]
    Wi, Wf, Wg, Wo = w["W_ih"].split(H)
    Ui, Uf, Ug, Uo = w["W_hh"].split(H)
    bi, bf, bg, bo = (w["b_ih"] + w["b_hh"]).split(H)
    pi, pf, po = w["p"].split(H)
    h = X.new_zeros(X.shape[0], H).requires_grad_(True)
    c = X.new_zeros(X.shape[0], H)
    out: dict[str, list] = {k: [] for k in ("i", "f", "g", "o", "c", "h", "a_i", "a_o")}
    for t in range(X.shape[1]):
        x = X[:, t]
        a_i = x @ Wi.T + h @ Ui.T + pi * c + bi  # the old cell state
        i = torch.sigmoid(a_i)
        f = torch.sigmoid(x @ Wf.T + h @ Uf.T + pf * c + bf)
        g = torch.tanh(x @ Wg.T + h @ Ug.T + bg)
        c = f * c + i * g
        a_o = x @ Wo.T + h @ Uo.T + po * c + bo  # the new one
        o = torch.sigmoid(a_o)
        h = o * torch.tanh(c)
        h.retain_grad()
        c.retain_grad()
        for k, v in zip(out, (i, f, g, o, c, h, a_i, a_o), strict=True):
            out[k].append(v)
    return out


def _model(layers: int = 1, hidden: int = 8, seed: int = 0, p_scale: float = 0.5):
    m = build_model(ModelConfig(cell="peephole", hidden=hidden, layers=layers), TASK, seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # peepholes away from 0, so that every peephole path matters
        for layer in m.rnn:
            layer.weight_ch_l0.copy_(torch.empty(3 * hidden).uniform_(-p_scale, p_scale, generator=g))
    return m


def _w64(m, k: int = 0) -> dict[str, torch.Tensor]:
    return {n: v.detach().double() for n, v in m.recurrent_weights(k).items()}


def test_zero_peepholes_are_the_lstm_of_the_same_seed():
    pm = build_model(ModelConfig(cell="peephole", hidden=8, layers=2), TASK, seed=3)
    lm = build_model(ModelConfig(cell="lstm", hidden=8, layers=2), TASK, seed=3)
    peep = dict(pm.named_parameters())
    for name, p in lm.named_parameters():  # the same draws in the same order: every LSTM weight equal
        assert torch.equal(p, peep[name]), name
    assert all(torch.count_nonzero(layer.weight_ch_l0) == 0 for layer in pm.rnn)
    x = TASK.batch(4, 0, 0).x
    torch.testing.assert_close(pm(x), lm(x), rtol=0, atol=1e-6)
    ours, theirs = trace(pm, TASK, TASK.display(0)), trace(lm, TASK, TASK.display(0))
    for a, b in zip(ours.layers, theirs.layers, strict=True):
        np.testing.assert_allclose(a.h, b.h, rtol=0, atol=1e-6)
        np.testing.assert_allclose(a.grad_h, b.grad_h, rtol=1e-5)
        assert not a.gates["pi"].any() and not a.gates["po"].any()


def test_layer_equals_the_float64_reference_and_passes_its_state():
    m = _model()
    layer = m.rnn[0]
    X = m.encode(TASK.batch(5, 0, 0).x)
    ref = reference(X.double(), _w64(m))
    out, (h_n, c_n) = layer(X)
    torch.testing.assert_close(out.double(), torch.stack(ref["h"], 1), rtol=0, atol=1e-5)
    torch.testing.assert_close(c_n[0].double(), ref["c"][-1], rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # the state carries on: two halves equal the whole (generation runs one step at a time)
        first, state = layer(X[:, :12])
        rest, _ = layer(X[:, 12:], state)
        torch.testing.assert_close(torch.cat((first, rest), 1), out, rtol=0, atol=1e-6)


def test_hand_written_backward_against_finite_differences():
    g = torch.Generator().manual_seed(0)
    T, B, H = 6, 3, 4
    args = [torch.randn(T, B, 4 * H, generator=g, dtype=torch.float64), 0.5 * torch.randn(4 * H, H, generator=g,
            dtype=torch.float64), 0.5 * torch.randn(3 * H, generator=g, dtype=torch.float64),
            0.5 * torch.randn(B, H, generator=g, dtype=torch.float64), torch.randn(B, H, generator=g,
            dtype=torch.float64)]
    assert torch.autograd.gradcheck(peephole.PeepholeFunction.apply, [a.requires_grad_(True) for a in args])


def test_training_gradients_equal_autograd_through_the_equations():
    m = _model(hidden=6).double()
    b = TASK.batch(4, 0, 0)
    layer = m.rnn[0]
    TASK.loss(m.readout(layer(m.encode(b.x).double())[0]), b.y).backward()
    w = {n: v.detach().clone().requires_grad_(True) for n, v in m.recurrent_weights(0).items()}
    W_out, b_out = m.readout.weight.detach(), m.readout.bias.detach()
    h = torch.stack(reference(m.encode(b.x).double(), w)["h"], 1)
    TASK.loss(h @ W_out.T + b_out, b.y).backward()
    names = {"W_ih": "weight_ih_l0", "W_hh": "weight_hh_l0", "b_ih": "bias_ih_l0", "b_hh": "bias_hh_l0",
             "p": "weight_ch_l0"}
    for n, v in w.items():
        torch.testing.assert_close(getattr(layer, names[n]).grad, v.grad, rtol=1e-9, atol=1e-12, msg=n)


@pytest.mark.parametrize("layers", [1, 2])
def test_trace_equals_the_reference_gates_pre_activations_and_gradients(layers):
    """Every quantity the trace shows, the pre-activations with their peephole terms (σ(pre) is the gate), and
    ‖dL/dh_t‖, ‖dL/dc_t‖ against autograd through the reference (float64), for each layer."""
    m = _model(layers=layers, hidden=8)
    b = TASK.display(2)
    tr = trace(m, TASK, b)
    X = m.encode(b.x).double()
    refs = []
    for k in range(layers):
        refs.append(reference(X, _w64(m, k)))
        X = torch.stack(refs[-1]["h"], 1)
    out = X @ m.readout.weight.detach().double().T + m.readout.bias.detach().double()
    TASK.loss(out, b.y).backward()
    np.testing.assert_allclose(tr.output, out[0].detach().numpy(), rtol=0, atol=1e-5)
    for k, (lt, ref) in enumerate(zip(tr.layers, refs, strict=True)):
        seq = {k: torch.cat(v).detach().numpy() for k, v in ref.items()}  # (T, H) each
        for q in ("i", "f", "g", "o"):
            np.testing.assert_allclose(lt.gates[q], seq[q], rtol=0, atol=1e-5, err_msg=q)
        np.testing.assert_allclose(lt.h, seq["h"], rtol=0, atol=1e-5)
        np.testing.assert_allclose(lt.gates["c"], seq["c"], rtol=1e-5, atol=1e-5)  # |c| grows: relative
        np.testing.assert_allclose(lt.pre["i"], seq["a_i"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(lt.pre["o"], seq["a_o"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(1 / (1 + np.exp(-lt.pre["f"])), lt.gates["f"], rtol=0, atol=1e-6)
        c_prev = np.vstack([np.zeros((1, 8)), seq["c"][:-1]])
        p = m.recurrent_weights(k)["p"].detach().numpy()
        np.testing.assert_allclose(lt.gates["pi"], p[:8] * c_prev, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(lt.gates["pf"], p[8:16] * c_prev, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(lt.gates["po"], p[16:] * seq["c"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(lt.grad_h, [h.grad.norm().item() for h in ref["h"]], rtol=1e-4, atol=1e-9)
        np.testing.assert_allclose(lt.grad_c, [c.grad.norm().item() for c in ref["c"]], rtol=1e-4, atol=1e-9)
    assert tr.grad_h[0] > 0 and tr.grad_c[0] > 0


def test_a_clamp_holds_the_gate_where_the_equations_compute_it():
    """Gate surgery's clamps (views.Clamp) in the peephole equations: o = 0 from t = 3 hides the cell state
    (h = 0), after c_3 was computed as before; c = 0 at t = 5 wipes it, and the peephole terms read the wiped c."""
    from lstm_core.views import Clamp

    m = _model()
    b = TASK.display(0)
    free = trace(m, TASK, b, grads=False).layers[0]
    held = trace(m, TASK, b, clamps=[Clamp("o", 0.0, start=3), Clamp("c", 0.0, units=(2,), start=5, stop=6)])
    lt = held.layers[0]
    assert held.grad_h is None and not lt.gates["o"][3:].any() and not lt.h[3:].any()
    np.testing.assert_array_equal(lt.gates["c"][:4], free.gates["c"][:4])
    assert not np.array_equal(lt.gates["c"][4], free.gates["c"][4])  # h_3 = 0 feeds step 4's gates
    assert lt.gates["c"][5, 2] == 0 and lt.gates["pi"][6, 2] == 0 and lt.gates["po"][5, 2] == 0


@pytest.mark.slow
def test_solves_recall_like_the_lstm():
    """Recall at lag 10: the peephole LSTM, starting as the chrono LSTM of the seed, solves it and its peepholes
    move away from 0 (300 steps, about 1.3 s of CPU)."""
    from lstm_core.config import RunConfig, TrainConfig
    from lstm_core.train import Trainer

    run = RunConfig(TaskConfig(name="recall", lag=10), ModelConfig(cell="peephole"),
                    TrainConfig(seed=0, steps=600, target=0.99, val_every=50))
    tr = Trainer(run)
    last = list(tr.steps())[-1]
    assert last.stop == "target", last
    assert tr.model.rnn[0].weight_ch_l0.detach().abs().max() > 0.01

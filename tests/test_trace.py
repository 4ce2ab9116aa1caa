"""lstm_core.trace: the step-by-step recompute equals the fused kernels, gates lie in range, and ‖dL/dh_t‖, ‖dL/dc_t‖
equal autograd on an independent loop of nn.LSTMCell / nn.GRUCell / nn.RNNCell with the same weights."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from lstm_core.config import ModelConfig, TaskConfig
from lstm_core.models import build_model
from lstm_core.tasks import make_task
from lstm_core.trace import spectral_radius, trace
from lstm_core.train import Trainer
from lstm_core.views import Trace

CELLS = ["lstm", "rnn", "gru"]
TOL = 1e-5


def _model(run, trained: bool):
    tr = Trainer(run)
    if trained:
        for _ in range(40):
            tr.next_record()
    return tr.task, tr.model


_CACHE: dict = {}


@pytest.fixture
def setup(request, make_run):
    """(task, model) for (cell, layers, trained, task name): a tiny model, trained 40 steps when asked."""
    cell, layers, trained, task_name = request.param
    key = request.param
    if key not in _CACHE:
        task_cfg = {"name": "recall", "lag": 12, "alphabet": 4} if task_name == "recall" else {
            "name": "sine", "seq_len": 15}
        run = make_run(task=task_cfg, model={"cell": cell, "layers": layers, "hidden": 10},
                       train={"steps": 1000, "lr": 1e-2, "batch": 16})
        _CACHE[key] = _model(run, trained)
    task, model = _CACHE[key]
    return task, model


GRID = [(c, n, t, "recall") for c in CELLS for n in (1, 2) for t in (False, True)]
GRID_IDS = [f"{c}-{n}layer-{'trained' if t else 'random'}" for c, n, t, _ in GRID]


def _fused(model, x):
    """Per layer: the fused kernel's output sequence (T, H) and final state."""
    h, out = model.encode(x), []
    with torch.no_grad():
        for layer in model.rnn:
            h, state = layer(h)
            out.append((h[0].numpy(), state))
    return out


@pytest.mark.parametrize("setup", GRID, ids=GRID_IDS, indirect=True)
def test_trace_equals_fused_kernels(setup):
    task, model = setup
    b = task.display(0)
    tr = trace(model, task, b)
    fused = _fused(model, b.x)
    assert len(tr.layers) == len(model.rnn)
    for layer, (h_seq, state) in zip(tr.layers, fused, strict=True):
        assert layer.h.shape == h_seq.shape == (13, 10)
        np.testing.assert_allclose(layer.h, h_seq, rtol=0, atol=TOL)
        if tr.cell == "lstm":
            h_n, c_n = state
            np.testing.assert_allclose(layer.gates["c"][-1], c_n[0, 0].numpy(), rtol=0, atol=TOL)
            np.testing.assert_allclose(layer.h[-1], h_n[0, 0].numpy(), rtol=0, atol=TOL)
        else:
            np.testing.assert_allclose(layer.h[-1], state[0, 0].numpy(), rtol=0, atol=TOL)
    with torch.no_grad():
        out = model(b.x)[0].numpy()
        loss = task.loss(model(b.x), b.y).item()
    assert tr.output.shape == out.shape
    np.testing.assert_allclose(tr.output, out, rtol=0, atol=TOL)
    assert tr.loss == pytest.approx(loss, abs=1e-5)
    assert tr.predictions == tuple(task.out_symbol(int(k)) for k in out.argmax(-1))


@pytest.mark.parametrize("setup", [("lstm", 2, True, "sine"), ("gru", 1, True, "sine"), ("rnn", 2, False, "sine")],
                         indirect=True)
def test_trace_equals_fused_on_value_input(setup):
    task, model = setup
    b = task.display(3)
    tr = trace(model, task, b)
    assert tr.x.shape == (15, 1) and tr.x.dtype == np.float32
    np.testing.assert_array_equal(tr.x[:, 0], b.x[0, :, 0].numpy())
    for layer, (h_seq, _) in zip(tr.layers, _fused(model, b.x), strict=True):
        np.testing.assert_allclose(layer.h, h_seq, rtol=0, atol=TOL)
    with torch.no_grad():
        np.testing.assert_allclose(tr.output, model(b.x)[0].numpy(), rtol=0, atol=TOL)
    assert tr.predictions == tuple(f"{v:.2f}" for v in tr.output.reshape(-1))


@pytest.mark.parametrize("grads", [True, False], ids=["with-grads", "forward-only"])
@pytest.mark.parametrize("setup", [g for g in GRID if g[0] != "rnn"], ids=[i for i in GRID_IDS if "rnn" not in i],
                         indirect=True)
def test_gates_in_range_and_equations_hold(setup, grads):
    task, model = setup
    tr = trace(model, task, task.display(1), grads=grads)
    for layer in tr.layers:
        g = layer.gates
        T, H = layer.h.shape
        assert all(v.shape == (T, H) and v.dtype == np.float32 for v in g.values())
        h_prev = np.vstack([np.zeros((1, H), np.float32), layer.h[:-1]])
        if tr.cell == "lstm":
            assert set(g) == {"i", "f", "g", "o", "c"} and set(layer.pre) == {"i", "f", "g", "o"}
            for name in "ifo":
                assert g[name].min() >= 0.0 and g[name].max() <= 1.0
            assert g["g"].min() >= -1.0 and g["g"].max() <= 1.0
            np.testing.assert_allclose(layer.h, g["o"] * np.tanh(g["c"]), rtol=0, atol=1e-6)
            c_prev = np.vstack([np.zeros((1, H), np.float32), g["c"][:-1]])
            np.testing.assert_allclose(g["c"], g["f"] * c_prev + g["i"] * g["g"], rtol=0, atol=1e-6)
            np.testing.assert_allclose(g["f"], 1 / (1 + np.exp(-layer.pre["f"])), rtol=0, atol=1e-6)
            np.testing.assert_allclose(g["g"], np.tanh(layer.pre["g"]), rtol=0, atol=1e-6)
        else:
            assert set(g) == {"r", "z", "n"} and set(layer.pre) == {"r", "z", "n"}
            for name in "rz":
                assert g[name].min() >= 0.0 and g[name].max() <= 1.0
            assert g["n"].min() >= -1.0 and g["n"].max() <= 1.0
            np.testing.assert_allclose(layer.h, (1 - g["z"]) * g["n"] + g["z"] * h_prev, rtol=0, atol=1e-6)
            np.testing.assert_allclose(g["z"], 1 / (1 + np.exp(-layer.pre["z"])), rtol=0, atol=1e-6)


@pytest.mark.parametrize("setup", GRID, ids=GRID_IDS, indirect=True)
def test_forward_only_trace_equals_the_one_with_gradients(setup):
    """trace(grads=False) skips backpropagation; every array it returns must equal the trace with gradients."""
    task, model = setup
    b = task.display(2)
    full, fast = trace(model, task, b), trace(model, task, b, grads=False)
    assert len(fast.layers) == len(full.layers)
    for a, e in zip(fast.layers, full.layers, strict=True):
        assert set(a.gates) == set(e.gates) and set(a.pre) == set(e.pre)
        assert a.h.dtype == np.float32 and all(v.dtype == np.float32 for v in (*a.gates.values(), *a.pre.values()))
        np.testing.assert_allclose(a.h, e.h, rtol=0, atol=1e-6)
        for name in e.gates:
            np.testing.assert_allclose(a.gates[name], e.gates[name], rtol=0, atol=1e-6, err_msg=name)
        for name in e.pre:
            np.testing.assert_allclose(a.pre[name], e.pre[name], rtol=0, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(fast.output, full.output, rtol=0, atol=1e-5)
    assert fast.loss == pytest.approx(full.loss, abs=1e-6) and fast.predictions == full.predictions
    assert fast.tokens == full.tokens and fast.targets == full.targets


def test_rnn_trace_has_no_gates_and_pre_is_tanh_argument(make_run):
    task, model = _model(make_run(model={"cell": "rnn", "hidden": 6}), trained=False)
    tr = trace(model, task, task.display(0))
    assert tr.layers[0].gates == {} and set(tr.layers[0].pre) == {"h"}
    np.testing.assert_allclose(tr.h, np.tanh(tr.layers[0].pre["h"]), rtol=0, atol=1e-6)
    assert tr.grad_c is None
    with pytest.raises(AttributeError):
        _ = tr.c


CELL_CLS = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "rnn": nn.RNNCell}


def _independent_grads(model, task, batch):
    """Autograd on a loop of PyTorch's own single-step cells holding copies of the model's weights."""
    cell_name = model.cfg.cell
    cells = []
    for layer in model.rnn:
        c = CELL_CLS[cell_name](layer.input_size, layer.hidden_size)
        with torch.no_grad():
            c.weight_ih.copy_(layer.weight_ih_l0)
            c.weight_hh.copy_(layer.weight_hh_l0)
            c.bias_ih.copy_(layer.bias_ih_l0)
            c.bias_hh.copy_(layer.bias_hh_l0)
        cells.append(c)
    readout = copy.deepcopy(model.readout)
    x = nn.functional.one_hot(batch.x[0], model.input_size).float() if model.tokens_in else batch.x[0].float()
    hs_all, cs_all = [], []
    inp = x  # (T, I)
    for c in cells:
        h = torch.zeros(1, c.hidden_size)
        s = torch.zeros(1, c.hidden_size)
        hs, cs = [], []
        for t in range(inp.shape[0]):
            if cell_name == "lstm":
                h, s = c(inp[t : t + 1], (h, s))
                s.retain_grad()
                cs.append(s)
            else:
                h = c(inp[t : t + 1], h)
            h.retain_grad()
            hs.append(h)
        hs_all.append(hs)
        cs_all.append(cs)
        inp = torch.cat(hs, 0)
    loss = task.loss(readout(inp).unsqueeze(0), batch.y[:1])
    loss.backward()
    gh = [np.array([h.grad.norm().item() for h in hs]) for hs in hs_all]
    gc = [np.array([s.grad.norm().item() for s in cs]) for cs in cs_all]
    return loss.item(), gh, gc


GRAD_GRID = GRID + [("lstm", 2, True, "sine"), ("gru", 2, True, "sine"), ("rnn", 1, True, "sine")]
GRAD_IDS = GRID_IDS + ["lstm-2layer-trained-sine", "gru-2layer-trained-sine", "rnn-1layer-trained-sine"]


@pytest.mark.parametrize("setup", GRAD_GRID, ids=GRAD_IDS, indirect=True)
def test_gradients_through_time_equal_independent_autograd(setup):
    task, model = setup
    b = task.display(2)
    tr = trace(model, task, b)
    loss, gh, gc = _independent_grads(model, task, b)
    assert tr.loss == pytest.approx(loss, rel=1e-5)
    for k, layer in enumerate(tr.layers):
        assert layer.grad_h.shape == (b.x.shape[1],)
        np.testing.assert_allclose(layer.grad_h, gh[k], rtol=1e-4, atol=1e-9)
        if tr.cell == "lstm":
            assert layer.grad_c.shape == (b.x.shape[1],)
            np.testing.assert_allclose(layer.grad_c, gc[k], rtol=1e-4, atol=1e-9)
        else:
            assert layer.grad_c is None
    # total derivative through time: recall scores only the last step, yet the first step has a gradient
    assert tr.grad_h[0] > 0 and tr.grad_h[-1] > 0
    assert np.isfinite(tr.grad_h).all()


def test_recall_gradient_only_through_time_before_the_query(make_run):
    """With the loss only at the last step, dL/dh_t for t < T-1 flows through h_{t+1} alone; a vanilla RNN with
    small recurrent weights shows the vanishing: the gradient shrinks towards the start."""
    task, model = _model(make_run(task={"lag": 30}, model={"cell": "rnn", "hidden": 8, "init_scale": 0.3}), False)
    tr = trace(model, task, task.display(0))
    assert tr.grad_h[0] < 1e-3 * tr.grad_h[-1]


def test_trace_leaves_the_model_as_it_was(make_run):
    task, model = _model(make_run(model={"layers": 2, "dropout": 0.3}), trained=False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    trace(model, task, task.display(0))
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    model.eval()
    trace(model, task, task.display(0))
    assert not model.training


def test_trace_fields_and_shortcuts(make_run):
    task, model = _model(make_run(), trained=False)
    b = task.display(0)
    tr = trace(model, task, b)
    T = b.x.shape[1]
    assert tr.steps == T and tr.cell == "lstm"
    assert tr.x.shape == (T, task.input_size) and tr.x.dtype == np.float32
    np.testing.assert_array_equal(tr.x, model.encode(b.x)[0].numpy())
    assert tr.tokens == tuple(task.token_labels(b.x[0])) and len(tr.targets) == T
    assert tr.f is tr.layers[0].gates["f"] and tr.h is tr.layers[0].h and tr.grad_c is tr.layers[0].grad_c
    with pytest.raises(AttributeError):
        _ = tr.r
    no_grad = trace(model, task, b, grads=False)  # the forward-only path (see the test below)
    assert no_grad.grad_h is None and no_grad.grad_c is None
    np.testing.assert_allclose(no_grad.h, tr.h, rtol=0, atol=1e-6)
    # a batch of several sequences traces the first
    two = type(b)(torch.cat([b.x, task.display(5).x]), torch.cat([b.y, task.display(5).y]))
    np.testing.assert_array_equal(trace(model, task, two).h, tr.h)


def test_trace_is_plain_numpy_and_pickles(make_run):
    task, model = _model(make_run(model={"cell": "gru", "layers": 2}), trained=False)
    tr = trace(model, task, task.display(0))
    for layer in tr.layers:
        for arr in [layer.h, layer.grad_h, *layer.gates.values(), *layer.pre.values()]:
            assert isinstance(arr, np.ndarray)
    back = pickle.loads(pickle.dumps(tr))
    assert isinstance(back, Trace)
    np.testing.assert_array_equal(back.z, tr.z)
    np.testing.assert_array_equal(back.layers[1].grad_h, tr.layers[1].grad_h)


def test_spectral_radius_matches_numpy():
    task = make_task(TaskConfig(name="recall", lag=5))
    rnn = build_model(ModelConfig(cell="rnn", hidden=12, init_scale=2.0), task, seed=0)
    W = rnn.rnn[0].weight_hh_l0.detach().double().numpy()
    assert spectral_radius(rnn) == pytest.approx(np.abs(np.linalg.eigvals(W)).max(), rel=1e-9)
    lstm = build_model(ModelConfig(cell="lstm", hidden=12, layers=2), task, seed=0)
    W = lstm.rnn[1].weight_hh_l0.detach().double().numpy()
    expected = max(np.abs(np.linalg.eigvals(W[k * 12 : (k + 1) * 12])).max() for k in range(4))
    assert spectral_radius(lstm, layer=1) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "peephole", "bilstm", "attention"])
def test_a_batch_through_layer_forward_is_each_sequence_through_it(cell):
    """trace.layer_forward on a batch (T, B, I), as lstm_core/probe.py runs it, gives each sequence's output, h and
    states exactly as the one-sequence pass the trace is made of (2 layers: the second reads the first's output)."""
    from lstm_core.trace import layer_forward

    task = make_task(TaskConfig(name="recall", lag=9, alphabet=4))
    model = build_model(ModelConfig(cell=cell, hidden=5, layers=2), task, seed=1)
    X = model.encode(task.batch(3, 0, 0).x).transpose(0, 1)  # (T, B, I)
    singles = [X[:, b] for b in range(3)]
    for k in range(2):
        w = model.recurrent_weights(k)
        batch = layer_forward(model.cell, w, X)
        one = [layer_forward(model.cell, w, x) for x in singles]
        for b, ps in enumerate(one):
            np.testing.assert_allclose(batch.out[:, b], ps.out, rtol=0, atol=1e-6)
            np.testing.assert_allclose(batch.h[:, b], ps.h, rtol=0, atol=1e-6)
            for q, v in batch.gates.items():
                np.testing.assert_allclose(v[:, b], ps.gates[q], rtol=0, atol=1e-6, err_msg=q)
        X, singles = torch.from_numpy(batch.out), [torch.from_numpy(ps.out) for ps in one]
    assert ("c" in batch.gates) == (cell in ("lstm", "peephole", "bilstm"))

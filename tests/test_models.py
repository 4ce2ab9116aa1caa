"""lstm_core.models: shapes, PyTorch's state-dict names, seeded init, chrono / forget-bias / default gate biases."""

from __future__ import annotations

import math

import pytest
import torch

from lstm_core.config import ModelConfig, TaskConfig
from lstm_core.models import SeqModel, build_model, pick_device
from lstm_core.tasks import make_task

RECALL = make_task(TaskConfig(name="recall", lag=50, alphabet=6))
SINE = make_task(TaskConfig(name="sine", seq_len=20))


@pytest.mark.parametrize("cell", ["lstm", "rnn", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_state_dict_uses_pytorch_names_and_shapes(cell, layers):
    H, G = 12, {"lstm": 4, "rnn": 1, "gru": 3}[cell]
    m = build_model(ModelConfig(cell=cell, hidden=H, layers=layers), RECALL, seed=0)
    sd = m.state_dict()
    expected = {"readout.weight": (6, H), "readout.bias": (6,)}
    for k in range(layers):
        fan_in = 7 if k == 0 else H
        expected |= {f"rnn.{k}.weight_ih_l0": (G * H, fan_in), f"rnn.{k}.weight_hh_l0": (G * H, H),
                     f"rnn.{k}.bias_ih_l0": (G * H,), f"rnn.{k}.bias_hh_l0": (G * H,)}
    assert {k: tuple(v.shape) for k, v in sd.items()} == expected
    assert all(v.dtype == torch.float32 for v in sd.values())


@pytest.mark.parametrize("cell", ["lstm", "rnn", "gru"])
def test_forward_shapes(cell):
    m = build_model(ModelConfig(cell=cell, hidden=8, layers=2), RECALL, seed=0)
    b = RECALL.batch(3, 0, 0)
    out = m(b.x)
    assert out.shape == (3, 51, 6) and torch.isfinite(out).all()
    ms = build_model(ModelConfig(cell=cell, hidden=8), SINE, seed=0)
    assert ms(SINE.batch(3, 0, 0).x).shape == (3, 20, 1)


def test_encode_is_one_hot_for_tokens_and_identity_for_values():
    m = build_model(ModelConfig(hidden=4), RECALL, seed=0)
    x = torch.tensor([[0, 3, 6]])
    e = m.encode(x)
    assert e.dtype == torch.float32 and e.shape == (1, 3, 7)
    assert torch.equal(e[0].argmax(-1), x[0]) and torch.equal(e.sum(-1), torch.ones(1, 3))
    ms = build_model(ModelConfig(hidden=4), SINE, seed=0)
    v = torch.randn(2, 5, 1, dtype=torch.float64)
    assert torch.equal(ms.encode(v), v.float())


def test_init_is_a_function_of_the_seed_only():
    state = torch.random.get_rng_state()
    a = build_model(ModelConfig(cell="gru", hidden=8, layers=2), RECALL, seed=3).state_dict()
    torch.manual_seed(12345)  # the global RNG must not matter
    b = build_model(ModelConfig(cell="gru", hidden=8, layers=2), RECALL, seed=3).state_dict()
    c = build_model(ModelConfig(cell="gru", hidden=8, layers=2), RECALL, seed=4).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["rnn.0.weight_hh_l0"], c["rnn.0.weight_hh_l0"])
    torch.random.set_rng_state(state)


def _amax(t: torch.Tensor) -> float:
    return t.detach().abs().max().item()


def _forget_input(model: SeqModel, layer: int):
    H = model.cfg.hidden
    m = model.rnn[layer]
    bf = (m.bias_ih_l0 + m.bias_hh_l0)[H : 2 * H].detach()
    bi = (m.bias_ih_l0 + m.bias_hh_l0)[:H].detach()
    return bf, bi, m


@pytest.mark.parametrize("layers", [1, 2])
def test_chrono_forget_bias_in_zero_log_horizon_and_input_is_negative(layers):
    H = 64
    model = build_model(ModelConfig(hidden=H, layers=layers, gate_init="chrono"), RECALL, seed=0)
    assert RECALL.horizon == 50
    for k in range(layers):
        bf, bi, m = _forget_input(model, k)
        assert float(bf.min()) >= 0.0 and float(bf.max()) <= math.log(50)
        assert float(bf.max()) > 0.5 * math.log(50)  # spread over the time scales, not one value
        assert torch.equal(bi, -bf)
        assert (m.bias_hh_l0.detach()[: 2 * H] == 0).all()
        # cell and output gate biases keep PyTorch's default init
        bound = 1 / math.sqrt(H)
        assert _amax(m.bias_ih_l0[2 * H :]) <= bound


def test_chrono_follows_the_horizon():
    long = make_task(TaskConfig(name="recall", lag=1000))
    bf_long, _, _ = _forget_input(build_model(ModelConfig(hidden=64), long, seed=0), 0)
    bf_short, _, _ = _forget_input(build_model(ModelConfig(hidden=64), RECALL, seed=0), 0)
    assert float(bf_long.max()) > math.log(50) and float(bf_long.max()) <= math.log(1000)
    assert float(bf_long.mean()) > float(bf_short.mean())


@pytest.mark.parametrize("cell", ["lstm", "rnn", "gru"])
def test_default_init_within_pytorch_bound(cell):
    H = 16
    gate_init = "default" if cell == "lstm" else "chrono"  # chrono only changes the LSTM
    model = build_model(ModelConfig(cell=cell, hidden=H, layers=2, gate_init=gate_init), RECALL, seed=1)
    bound = 1 / math.sqrt(H)
    for name, p in model.named_parameters():
        assert _amax(p) <= bound, name
        if p.numel() >= 64:
            assert _amax(p) > 0.8 * bound, name  # uniform over the whole range, not a tiny scale
    if cell == "lstm":
        bf, _, _ = _forget_input(model, 0)
        assert float(bf.abs().max()) <= 2 * bound  # forget gate starts near sigmoid(0) = 0.5


def test_forget_bias_option():
    model = build_model(ModelConfig(hidden=8, gate_init="forget-bias", forget_bias=2.5), RECALL, seed=0)
    bf, _, m = _forget_input(model, 0)
    assert torch.equal(bf, torch.full((8,), 2.5))
    assert _amax(m.bias_ih_l0[:8]) <= 1 / math.sqrt(8)


def test_init_scale_multiplies_only_w_hh():
    a = build_model(ModelConfig(cell="rnn", hidden=8, layers=2), RECALL, seed=0).state_dict()
    b = build_model(ModelConfig(cell="rnn", hidden=8, layers=2, init_scale=3.0), RECALL, seed=0).state_dict()
    for k in a:
        if "weight_hh" in k:
            assert torch.allclose(b[k], 3.0 * a[k], rtol=0, atol=1e-7), k
        else:
            assert torch.equal(a[k], b[k]), k


def test_dropout_only_in_training_with_a_generator():
    model = build_model(ModelConfig(hidden=8, layers=2, dropout=0.5), RECALL, seed=0)
    x = RECALL.batch(4, 0, 0).x
    model.train()
    assert torch.equal(model(x), model(x))  # no generator: no dropout
    model.dropout_gen = torch.Generator().manual_seed(1)
    y1, y2 = model(x), model(x)
    assert not torch.equal(y1, y2)
    model.dropout_gen = torch.Generator().manual_seed(1)
    assert torch.equal(model(x), y1)  # the same generator state gives the same masks
    model.eval()
    assert torch.equal(model(x), model(x))
    model.dropout_gen = None
    model.train()
    assert torch.equal(model(x), model.eval()(x))


def test_recurrent_weights_are_the_parameters():
    model = build_model(ModelConfig(cell="gru", hidden=8, layers=2), RECALL, seed=0)
    w = model.recurrent_weights(1)
    assert w["W_hh"] is model.rnn[1].weight_hh_l0 and w["b_ih"] is model.rnn[1].bias_ih_l0


@pytest.mark.parametrize("layers", [1, 2])
def test_the_newer_cells_keep_pytorchs_names_and_add_their_own(layers):
    """peephole: nn.LSTM's names and weight_ch_l0 (p); bilstm: PyTorch's `_reverse` names, 2H wide outputs; attention:
    nn.RNN's names and the query and key, [h; ctx] 2H wide. `recurrent_weights` names them as the equations do."""
    H = 6
    extra = {"peephole": {"weight_ch_l0": (3 * H,)},
             "bilstm": {"weight_ih_l0_reverse": (4 * H, None), "weight_hh_l0_reverse": (4 * H, H),
                        "bias_ih_l0_reverse": (4 * H,), "bias_hh_l0_reverse": (4 * H,)},
             "attention": {"query.weight": (H, H), "query.bias": (H,), "key.weight": (H, H)}}
    keys = {"peephole": {"p"}, "bilstm": {"W_ih_rev", "W_hh_rev", "b_ih_rev", "b_hh_rev"},
            "attention": {"W_q", "b_q", "W_k"}}
    for cell, G, width in (("peephole", 4, H), ("bilstm", 4, 2 * H), ("attention", 1, 2 * H)):
        m = build_model(ModelConfig(cell=cell, hidden=H, layers=layers, init_scale=2.0), RECALL, seed=0)
        sd = {k: tuple(v.shape) for k, v in m.state_dict().items()}
        assert sd["readout.weight"] == (6, width)
        for k in range(layers):
            fan_in = 7 if k == 0 else width
            assert sd[f"rnn.{k}.weight_ih_l0"] == (G * H, fan_in) and sd[f"rnn.{k}.weight_hh_l0"] == (G * H, H)
            for name, shape in extra[cell].items():
                assert sd[f"rnn.{k}.{name}"] == tuple(fan_in if n is None else n for n in shape), name
        assert len(sd) == 2 + layers * (4 + len(extra[cell]))
        assert set(m.recurrent_weights(layers - 1)) == {"W_ih", "W_hh", "b_ih", "b_hh"} | keys[cell]
        assert m(RECALL.batch(2, 0, 0).x).shape == (2, 51, 6)
    plain = build_model(ModelConfig(cell="bilstm", hidden=H), RECALL, seed=0).rnn[0]
    scaled = build_model(ModelConfig(cell="bilstm", hidden=H, init_scale=2.0), RECALL, seed=0).rnn[0]
    assert torch.equal(scaled.weight_hh_l0_reverse, 2 * plain.weight_hh_l0_reverse)  # both directions scaled


def test_pick_device_falls_back_to_cpu():
    assert pick_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert pick_device("cuda") == torch.device("cpu")
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            assert pick_device("auto") == torch.device("cpu")
            assert pick_device("mps") == torch.device("cpu")


def test_gate_init_auto_is_the_tasks_own_choice():
    """The default is auto: chrono where the task has a known lag (recall, copy; series measured best with it),
    PyTorch's default for text and sine (measured best there)."""
    assert ModelConfig().gate_init == "auto"
    tasks = {"recall": RECALL, "copy": make_task(TaskConfig(name="copy", lag=20)), "sine": SINE,
             "series": make_task(TaskConfig(name="series", seq_len=30)),
             "text": make_task(TaskConfig(name="text", corpus="reber", seq_len=30))}
    want = {"recall": "chrono", "copy": "chrono", "sine": "default", "series": "chrono", "text": "default"}
    for name, task in tasks.items():
        assert task.gate_init == want[name], name
        auto = build_model(ModelConfig(hidden=16, gate_init="auto"), task, seed=4).state_dict()
        named = build_model(ModelConfig(hidden=16, gate_init=want[name]), task, seed=4).state_dict()
        other = build_model(ModelConfig(hidden=16, gate_init="forget-bias"), task, seed=4).state_dict()
        assert all(torch.equal(auto[k], named[k]) for k in auto), name
        assert not torch.equal(auto["rnn.0.bias_ih_l0"], other["rnn.0.bias_ih_l0"]), name


@pytest.mark.parametrize("cell", ["lstm", "rnn", "gru", "peephole", "bilstm", "attention"])
@pytest.mark.parametrize("layers", [1, 2])
def test_token_forward_equals_the_layers_on_the_full_one_hot(cell, layers):
    """forward() gives PyTorch's own first layer only the symbols present in the batch; outputs and every
    gradient equal those of the layers on the full one-hot input (what trace() holds the model to). Cells with a
    layer of their own take the full one-hot as before."""
    from lstm_core.cells import CELLS

    if cell not in CELLS:
        pytest.skip(f"no cell {cell}")
    task = make_task(TaskConfig(name="recall", lag=30, alphabet=8))
    model = build_model(ModelConfig(cell=cell, hidden=12, layers=layers), task, seed=2)
    x = task.batch(5, seed=0, step=0).x
    x[x == 3] = 4  # one symbol absent from the batch
    assert 3 not in x and len(x.unique()) < task.input_size

    def reference() -> torch.Tensor:
        h = model.encode(x)
        for layer in model.rnn:
            h = layer(h)[0]
        return model.readout(h)

    for train in (True, False):
        model.train(train)
        grads = []
        for f in (model, lambda _: reference()):
            model.zero_grad()
            out = f(x)
            out.square().sum().backward()
            grads.append((out.detach(), {k: p.grad.clone() for k, p in model.named_parameters()
                                         if p.grad is not None}))
        (new, g_new), (ref, g_ref) = grads
        assert (new - ref).abs().max().item() < 1e-6
        assert g_new.keys() == g_ref.keys()
        for k in g_ref:
            assert (g_new[k] - g_ref[k]).abs().max().item() < 1e-5, k
        assert (g_new["rnn.0.weight_ih_l0"][:, 3] == 0).all()

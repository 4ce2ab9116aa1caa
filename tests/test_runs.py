"""lstm_core.runs: a run folder round-trips exactly; malformed checkpoints raise RunError and never run code."""

from __future__ import annotations

import io
import json
import os
import pickle

import pytest
import torch

from lstm_core.errors import RunError
from lstm_core.limits import MAX_CHECKPOINT_BYTES
from lstm_core.runs import load_run, load_state, model_from_state, save_run
from lstm_core.train import Trainer

# torch warns when a raw pickle (not its own format) is offered to the weights-only loader; that is the point here
pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")


@pytest.fixture
def trained(make_run):
    tr = Trainer(make_run(model={"cell": "lstm", "layers": 2}, train={"steps": 10, "seed": 5}))
    list(tr.steps())
    return tr


def test_save_then_load_round_trips_exactly(tmp_path, trained):
    folder = save_run(tmp_path / "run", trained.run, trained.model, trained.history)
    assert {p.name for p in folder.iterdir()} == {"config.json", "metrics.jsonl", "model.pt"}
    run, task, model, metrics = load_run(folder)
    assert run == trained.run and task.name == "recall"
    want = trained.model.state_dict()
    got = model.state_dict()
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    x = task.display(0).x
    with torch.no_grad():
        assert torch.equal(model.eval()(x), trained.model.eval()(x))
    assert len(metrics) == 10 and metrics[-1]["step"] == 10
    assert metrics[0]["loss"] == trained.history[0].loss and metrics[0]["accuracy"] == trained.history[0].metric
    assert metrics[4]["val_accuracy"] == trained.history[4].val_metric and "val_accuracy" not in metrics[0]
    assert metrics[-1]["stop"] == "steps"


def test_model_pt_is_a_plain_weights_only_state_dict(tmp_path, trained):
    save_run(tmp_path, trained.run, trained.model, trained.history)
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    assert isinstance(state, dict)
    for k in ("rnn.0.weight_ih_l0", "rnn.0.weight_hh_l0", "rnn.0.bias_ih_l0", "rnn.0.bias_hh_l0",
              "rnn.1.weight_hh_l0", "readout.weight", "readout.bias"):
        assert k in state and torch.is_tensor(state[k])
    assert state["rnn.0.weight_hh_l0"].shape == (32, 8)
    # a plain PyTorch module loads it directly
    lstm = torch.nn.LSTM(5, 8)
    lstm.load_state_dict({k.removeprefix("rnn.0."): v for k, v in state.items() if k.startswith("rnn.0.")})
    assert torch.equal(lstm.weight_hh_l0, state["rnn.0.weight_hh_l0"])
    json.loads((tmp_path / "config.json").read_text())


def _bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _good_state(trained) -> dict:
    return {k: v.clone() for k, v in trained.model.state_dict().items()}


def _check(trained, data: bytes, *words: str) -> str:
    with pytest.raises(RunError) as e:
        model_from_state(trained.run, trained.task, load_state(data))
    msg = str(e.value)
    for w in words:
        assert w in msg
    assert "\n" not in msg and len(msg) < 300
    return msg


def test_good_bytes_load(trained):
    model = model_from_state(trained.run, trained.task, load_state(_bytes(_good_state(trained))))
    assert torch.equal(model.readout.weight, trained.model.readout.weight)


def test_wrong_shape(trained):
    s = _good_state(trained)
    s["rnn.0.weight_hh_l0"] = torch.zeros(32, 9)
    _check(trained, _bytes(s), "rnn.0.weight_hh_l0", "(32, 9)", "(32, 8)")


def test_missing_key(trained):
    s = _good_state(trained)
    del s["rnn.1.bias_hh_l0"]
    _check(trained, _bytes(s), "missing", "rnn.1.bias_hh_l0")


def test_extra_key(trained):
    s = _good_state(trained)
    s["rnn.2.weight_ih_l0"] = torch.zeros(3)
    _check(trained, _bytes(s), "unexpected", "rnn.2.weight_ih_l0")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_values(trained, bad):
    s = _good_state(trained)
    s["readout.bias"][1] = bad
    _check(trained, _bytes(s), "readout.bias", "NaN or infinite")


def test_not_a_state_dict(trained):
    _check(trained, _bytes([torch.zeros(3)]), "state dict")
    _check(trained, _bytes({"readout.bias": 3.0}), "state dict")
    _check(trained, _bytes({1: torch.zeros(3)}), "state dict")


class Plain:
    def __init__(self):
        self.weights = [1, 2, 3]


def test_pickle_of_an_arbitrary_object(trained):
    _check(trained, _bytes(Plain()), "not a weights-only PyTorch checkpoint")
    _check(trained, pickle.dumps(Plain()), "not a weights-only PyTorch checkpoint")


class Payload:
    """Unpickling this creates a file: the classic code-execution checkpoint."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_malicious_pickle_never_runs(tmp_path, trained):
    probe = tmp_path / "proof.txt"
    pickle.loads(pickle.dumps(Payload(str(probe))))  # the payload really works when unpickled...
    assert probe.exists()
    target = tmp_path / "pwned.txt"
    for data in (_bytes(Payload(str(target))), pickle.dumps(Payload(str(target))),
                 _bytes({"readout.bias": Payload(str(target))})):
        _check(trained, data, "not a weights-only PyTorch checkpoint")
        assert not target.exists()  # ...but never through load_state
    path = tmp_path / "model.pt"
    path.write_bytes(_bytes({"readout.weight": Payload(str(target))}))
    with pytest.raises(RunError):
        load_state(path)
    assert not target.exists()


@pytest.mark.parametrize("data", [os.urandom(2000), b"", b"PK\x03\x04 not really a zip", b"\x80\x04K\x03."])
def test_random_or_truncated_bytes(trained, data):
    with pytest.raises(RunError):
        model_from_state(trained.run, trained.task, load_state(data))


def test_truncated_checkpoint(trained):
    data = _bytes(_good_state(trained))
    _check(trained, data[: len(data) // 2], "not a weights-only PyTorch checkpoint")


def test_too_large(trained, tmp_path):
    _check(trained, b"\0" * (MAX_CHECKPOINT_BYTES + 1), "MB", "limit")
    path = tmp_path / "model.pt"
    with open(path, "wb") as f:
        f.truncate(MAX_CHECKPOINT_BYTES + 1)  # sparse: nothing is written, the size is what counts
    with pytest.raises(RunError, match="limit"):
        load_state(path)


def test_load_run_errors(tmp_path, trained):
    with pytest.raises(RunError, match="does not exist"):
        load_run(tmp_path / "nowhere")
    save_run(tmp_path / "a", trained.run, trained.model, trained.history)
    (tmp_path / "a" / "model.pt").unlink()
    with pytest.raises(RunError, match="no model.pt"):
        load_run(tmp_path / "a")
    save_run(tmp_path / "b", trained.run, trained.model, trained.history)
    (tmp_path / "b" / "config.json").write_text('{"model": {"hidden": 0}}')
    with pytest.raises(RunError, match="hidden"):
        load_run(tmp_path / "b")
    save_run(tmp_path / "c", trained.run, trained.model, trained.history)
    (tmp_path / "c" / "config.json").write_bytes(b"\xff\xfe garbage")
    with pytest.raises(RunError, match="not a valid run config"):
        load_run(tmp_path / "c")
    # a config that disagrees with the weights (other hidden size)
    save_run(tmp_path / "d", trained.run, trained.model, trained.history)
    other = trained.run.__class__(trained.run.task, trained.run.model.replace(hidden=9), trained.run.train)
    (tmp_path / "d" / "config.json").write_text(other.to_json())
    with pytest.raises(RunError, match="shape"):
        load_run(tmp_path / "d")
    save_run(tmp_path / "f", trained.run, trained.model, trained.history)
    with open(tmp_path / "f" / "metrics.jsonl", "a") as f:
        f.write('{"step": 11, "lo')  # killed mid-write
    with pytest.raises(RunError, match="metrics.jsonl"):
        load_run(tmp_path / "f")
    save_run(tmp_path / "e", trained.run, trained.model, trained.history)
    (tmp_path / "e" / "model.pt").write_bytes(pickle.dumps(Plain()))
    with pytest.raises(RunError, match="weights-only"):
        load_run(tmp_path / "e")

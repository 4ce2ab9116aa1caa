"""lstm_core.lab: the Lab is the pages' one door into the engine. Its view is immutable and consistent, every
method hands out numpy arrays or plain values (never a tensor or a module), and its models train on identical
batches, each exactly as it would alone."""

from __future__ import annotations

import dataclasses
import io
import zipfile

import numpy as np
import pytest
import torch

from lstm_core.config import LabSpec, ModelConfig, TaskConfig, TrainConfig
from lstm_core.lab import Lab
from lstm_core.train import Trainer
from lstm_core.views import GradMatrix, LabView, Trace


def no_torch(value, path="value") -> None:
    """Fail if a torch object hides anywhere in `value` (dataclasses, dicts, sequences)."""
    assert not isinstance(value, (torch.Tensor, torch.nn.Module)), f"{path} is a {type(value).__name__}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            no_torch(getattr(value, f.name), f"{path}.{f.name}")
    elif isinstance(value, dict):
        for k, v in value.items():
            no_torch(v, f"{path}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for k, v in enumerate(value):
            no_torch(v, f"{path}[{k}]")


def test_every_method_hands_out_arrays_or_plain_values(make_lab):
    lab = make_lab(("lstm", "rnn", "gru"), steps=3)
    results = {"view": lab.view(), "trace": lab.trace("lstm"), "explain": lab.explain_step("lstm", 2, 1),
               "radius": lab.spectral_radius("rnn"), "grads": lab.grad_matrix("gru"),
               "archive": lab.run_archive("lstm")}
    sine = make_lab(("lstm",), task={"name": "sine", "seq_len": 12}, steps=2)
    results |= {"values": sine.display_values(), "forecast": sine.forecast("lstm", 5)}
    text = make_lab(("rnn",), task={"name": "text", "corpus": "reber", "seq_len": 20}, steps=2)
    results |= {"sample": text.sample_text("rnn", "BT", 10, 0.8, seed=0), "passage": text.passage("rnn", 50)}
    no_torch(results)
    assert isinstance(results["view"], LabView) and isinstance(results["trace"], Trace)
    assert isinstance(results["radius"], float) and isinstance(results["grads"], GradMatrix)
    assert isinstance(results["archive"], bytes) and isinstance(results["sample"], str)
    assert results["forecast"].shape == (5,) and results["values"][0].shape == (12,)
    assert results["passage"].steps == 50 and results["passage"].grad_h is None
    with zipfile.ZipFile(io.BytesIO(results["archive"])) as zf:
        assert sorted(zf.namelist()) == ["config.json", "metrics.jsonl", "model.pt"]


def test_a_view_is_immutable_and_stays_as_taken(make_lab):
    lab = make_lab(steps=2)
    v = lab.view()
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.step = 5  # type: ignore[misc]
    lab.advance(3)
    assert v.step == 2 and all(len(h) == 2 for h in v.histories.values())
    w = lab.view()
    assert w.step == 5 and [r.loss for r in w.histories["lstm"][:2]] == [r.loss for r in v.histories["lstm"]]
    assert w.spec == lab.spec == LabSpec(lab.task_cfg, tuple(lab.model_cfgs.values()), lab.train_cfg)
    assert w.task.display_steps == 9 and w.task.baseline == 0.25 and w.latest_val("lstm") is not None


def test_models_train_on_identical_batches_each_as_it_would_alone(make_lab):
    lab = make_lab(("lstm", "rnn", "gru"), train={"steps": 12})
    seen: dict[str, list[torch.Tensor]] = {n: [] for n in lab.trainers}
    for name, tr in lab.trainers.items():
        tr.task = _Spy(tr.task, seen[name])
    assert lab.advance(20) == 12 and lab.view().done
    assert all(torch.equal(a, b) for a, b in zip(seen["lstm"], seen["rnn"], strict=True))
    assert all(torch.equal(a, b) for a, b in zip(seen["lstm"], seen["gru"], strict=True))
    for tr in lab.trainers.values():
        alone = Trainer(tr.run)
        alone_records = [alone.next_record() for _ in range(12)]
        assert [(r.loss, r.val_metric) for r in tr.history] == [(r.loss, r.val_metric) for r in alone_records]


class _Spy:
    """A task that records the inputs of every training batch it hands out."""

    def __init__(self, task, seen: list):
        self._task, self._seen = task, seen

    def batch(self, n, seed, step):
        b = self._task.batch(n, seed, step)
        self._seen.append(b.x)
        return b

    def __getattr__(self, name):
        return getattr(self._task, name)


def test_explain_step_equals_the_trace(make_lab):
    lab = make_lab(("lstm",), steps=4)
    tr = lab.trace("lstm")
    for t, unit in ((0, 0), (3, 5)):
        v = lab.explain_step("lstm", t, unit)
        for q in ("i", "f", "g", "o", "c"):
            assert v[q] == pytest.approx(float(tr.layers[0].gates[q][t, unit]))
            if q != "c":
                assert v[f"a_{q}"] == pytest.approx(float(tr.layers[0].pre[q][t, unit]), abs=1e-5)
        assert v["h"] == pytest.approx(float(tr.h[t, unit]))
        assert v["c_prev"] == (0.0 if t == 0 else pytest.approx(float(tr.layers[0].gates["c"][t - 1, unit])))


def test_the_gradient_profile_is_captured_as_training_goes(make_lab):
    lab = Lab(TaskConfig(name="recall", lag=6, alphabet=4), TrainConfig(seed=0, steps=50, batch=8),
              {"rnn": ModelConfig(cell="rnn", hidden=4)}, capture_every=5)
    lab.advance(10)
    gm = lab.grad_matrix("rnn")
    assert gm.steps == (0, 5, 10) and gm.grads.shape == (3, 7)
    np.testing.assert_array_equal(gm.grads[-1], lab.trace("rnn").grad_h)


def test_a_trace_at_a_snapshot_step_uses_the_snapshot_weights(make_lab):
    lab = make_lab(("lstm",))
    start = {k: v.clone() for k, v in lab.trainers["lstm"].model.state_dict().items()}
    first = lab.trace("lstm")
    lab.advance(5)
    lab.snapshots = {"lstm": {0: start}}
    assert lab.view().snapshot_steps == {"lstm": (0,)}
    np.testing.assert_array_equal(lab.trace("lstm", 0).h, first.h)
    assert not np.array_equal(lab.trace("lstm").h, first.h)
    np.testing.assert_array_equal(lab.trace("lstm", 3).h, lab.trace("lstm").h)  # no snapshot: the current weights

"""lstm_core.limits: the work of a step, from the settings alone, equals 6 x the real parameter count x timesteps x
batch; a setting over the limit is refused before anything is built."""

from __future__ import annotations

import pytest

from lstm_core import limits
from lstm_core.config import ModelConfig, TaskConfig, TrainConfig
from lstm_core.errors import ConfigError, LimitError
from lstm_core.lab import Lab


def _models(hidden: int, cells=("lstm", "rnn")) -> list[ModelConfig]:
    return [ModelConfig(cell=c, hidden=hidden) for c in cells]


def test_step_flops_is_six_times_parameters_timesteps_and_batch():
    task = TaskConfig(name="recall", lag=10, alphabet=4)
    # by hand, PyTorch's shapes: one-hot input of 5 (4 symbols + the query mark), output 4
    lstm = 4 * 8 * (5 + 8) + 2 * 4 * 8 + (8 * 4 + 4)
    rnn = 8 * (5 + 8) + 2 * 8 + (8 * 4 + 4)
    T = 11  # the symbol, 9 distractors, the query mark
    assert limits.step_flops(task, _models(8), 16) == 6 * (lstm + rnn) * T * 16
    assert limits.step_flops(task, _models(8), 32) == 2 * limits.step_flops(task, _models(8), 16)


@pytest.mark.parametrize("task", [TaskConfig(name="recall", lag=10, alphabet=4), TaskConfig(name="copy", lag=7),
                                  TaskConfig(name="sine", seq_len=20), TaskConfig(name="text", corpus="reber"),
                                  TaskConfig(name="series", seq_len=30)])
@pytest.mark.parametrize("layers", [1, 2])
def test_the_formula_counts_the_parameters_a_built_lab_has(task, layers):
    models = [ModelConfig(cell=c, hidden=6, layers=layers) for c in ("lstm", "rnn", "gru")]
    lab = Lab(task, TrainConfig(seed=0, batch=4), {m.cell: m for m in models})
    for m in models:
        real = sum(p.numel() for p in lab.trainers[m.cell].model.parameters())
        assert limits.model_params(m, lab.task.input_size, lab.task.output_size) == real
    T = lab.view().task.display_steps
    assert limits.step_flops(task, models, 4) == 6 * sum(
        sum(p.numel() for p in tr.model.parameters()) for tr in lab.trainers.values()) * T * 4


def test_over_the_limit_is_refused_before_anything_is_built(monkeypatch):
    from lstm_core import lab as lab_module

    def no(*a, **k):
        raise AssertionError("a task was built for a setting over the limit")

    monkeypatch.setattr(lab_module, "make_task", no)
    big = TaskConfig(name="recall", lag=1000)
    with pytest.raises(LimitError, match="billion operations per training step"):
        Lab(big, TrainConfig(batch=256), {m.cell: m for m in _models(256)})
    limits.check(big, _models(32), TrainConfig(batch=64))  # the same lag with the default model fits


@pytest.mark.parametrize("task", ["text", "sine", "series"])
def test_a_bidirectional_model_is_refused_where_it_would_read_the_answer(task):
    cfg = TaskConfig(name=task)
    with pytest.raises(ConfigError, match=f"bidirectional LSTM cannot learn the {task} task") as e:
        limits.check(cfg, [ModelConfig(cell="lstm"), ModelConfig(cell="bilstm")], TrainConfig())
    assert not isinstance(e.value, LimitError) and str(e.value).count(".") == 1  # one sentence
    for ok in ("recall", "revrecall", "copy"):
        limits.check(TaskConfig(name=ok, lag=20), [ModelConfig(cell="bilstm")], TrainConfig())
    limits.check(cfg, [ModelConfig(cell=c) for c in ("peephole", "gru")], TrainConfig())

"""lstm_core.limits: the work of a step, from the settings alone, equals 6 x the real parameter count x timesteps x
batch; a setting over the limit is refused before anything is built."""

from __future__ import annotations

import pytest

from lstm_core import limits
from lstm_core.cells import CELLS
from lstm_core.config import ModelConfig, TaskConfig, TrainConfig
from lstm_core.errors import ConfigError, LimitError
from lstm_core.lab import Lab
from lstm_core.tasks import TASKS


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
                                  TaskConfig(name="series", seq_len=30), TaskConfig(name="revrecall", lag=5)])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cells", [("lstm", "rnn", "gru"), ("peephole", "bilstm", "attention")])
def test_the_formula_counts_the_parameters_a_built_lab_has(task, layers, cells):
    models = [ModelConfig(cell=c, hidden=6, layers=layers) for c in cells
              if not (c == "bilstm" and TASKS[task.name].causal)]  # refused there (see below)
    lab = Lab(task, TrainConfig(seed=0, batch=4), {m.cell: m for m in models})
    for m in models:
        real = sum(p.numel() for p in lab.trainers[m.cell].model.parameters())
        assert limits.model_params(m, lab.task.input_size, lab.task.output_size) == real
    T = lab.view().task.display_steps
    attention = 6 * 4 * T**2 * (6 + 6) * layers if "attention" in cells else 0  # scores and context, d = H = 6
    assert limits.step_flops(task, models, 4) == 6 * sum(
        sum(p.numel() for p in tr.model.parameters()) for tr in lab.trainers.values()) * T * 4 + attention


def test_the_new_cells_sizes_by_hand():
    """The headline size (9 inputs: 8 letters and '?', 8 outputs, H 32), as /work/research/cells/REPORT.md counts."""
    sizes = {c: CELLS[c].params(9, 32, 8) for c in CELLS}
    assert sizes == {"lstm": 5768, "rnn": 1640, "gru": 4392, "peephole": 5864, "bilstm": 11528, "attention": 3976}
    assert CELLS["attention"].step_flops(9, 32, 8, 1, 101, 64) == 6 * 3976 * 101 * 64 + 6 * 64 * 101**2 * 64


def test_attention_grows_as_the_square_of_the_lag_in_work_and_in_memory():
    lag300, lag999 = TaskConfig(name="recall", lag=300), TaskConfig(name="recall", lag=999)
    limits.check(lag300, [ModelConfig(cell="attention", hidden=128)], TrainConfig(batch=64))  # 15 GFLOP
    with pytest.raises(LimitError, match="billion operations"):  # 41 GFLOP, 18 of them scores and context
        limits.check(lag300, [ModelConfig(cell="attention", hidden=256)], TrainConfig(batch=64))
    limits.check(lag999, [ModelConfig(cell="lstm", hidden=2)], TrainConfig(batch=1024))  # cheap without attention
    assert limits.attention_weights(lag999, [ModelConfig(cell="attention", layers=2)], 16) == 2 * 16 * 1000**2
    limits.check(lag999, [ModelConfig(cell="attention", hidden=2)], TrainConfig(batch=16))  # 16 million: accepted
    assert limits.step_flops(lag999, [ModelConfig(cell="attention", hidden=2)], 512) < limits.MAX_STEP_FLOPS
    with pytest.raises(LimitError, match="million pairs of timesteps") as e:  # 13 GFLOP, but 512 million weights
        limits.check(lag999, [ModelConfig(cell="attention", hidden=2)], TrainConfig(batch=512))
    assert str(e.value).count(".") == 1


@pytest.mark.parametrize("task", ["text", "sine", "series"])
def test_a_bidirectional_model_is_refused_where_it_would_read_the_answer(task):
    cfg = TaskConfig(name=task)
    with pytest.raises(ConfigError, match=f"bidirectional LSTM cannot learn the {task} task") as e:
        limits.check(cfg, [ModelConfig(cell="lstm"), ModelConfig(cell="bilstm")], TrainConfig())
    assert not isinstance(e.value, LimitError) and str(e.value).count(".") == 1  # one sentence
    for ok in ("recall", "revrecall", "copy"):
        limits.check(TaskConfig(name=ok, lag=20), [ModelConfig(cell="bilstm")], TrainConfig())
    limits.check(cfg, [ModelConfig(cell=c) for c in ("peephole", "attention", "gru")], TrainConfig())


def test_over_the_limit_is_refused_before_anything_is_built(monkeypatch):
    from lstm_core import lab as lab_module

    def no(*a, **k):
        raise AssertionError("a task was built for a setting over the limit")

    monkeypatch.setattr(lab_module, "make_task", no)
    big = TaskConfig(name="recall", lag=1000)
    with pytest.raises(LimitError, match="billion operations per training step"):
        Lab(big, TrainConfig(batch=256), {m.cell: m for m in _models(256)})
    limits.check(big, _models(32), TrainConfig(batch=64))  # the same lag with the default model fits

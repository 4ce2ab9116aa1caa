"""lstm_core.tasks: batch shapes and dtypes, targets in range, baselines, labels and seed determinism."""

from __future__ import annotations

import math

import pytest
import torch

from datasets.series import load_series
from lstm_core.config import TaskConfig
from lstm_core.errors import DataError
from lstm_core.tasks import TASKS, make_task
from lstm_core.tasks.base import IGNORE, Batch

CONFIGS = {
    "recall": TaskConfig(name="recall", lag=7, alphabet=5),
    "copy": TaskConfig(name="copy", lag=12, copy_len=10),
    "sine": TaskConfig(name="sine", seq_len=30),
    "text": TaskConfig(name="text", corpus="reber", seq_len=25),
    "series": TaskConfig(name="series", series="seattle-temp", seq_len=40),
    "revrecall": TaskConfig(name="revrecall", lag=7, alphabet=5),
}
LENGTH = {"recall": 8, "copy": 32, "sine": 30, "text": 25, "series": 40, "revrecall": 8}  # T of each config above


def test_registry_lists_every_task():
    assert set(TASKS) == set(CONFIGS)
    for name, cls in TASKS.items():
        assert cls.name == name and cls.title


@pytest.mark.parametrize("name", list(CONFIGS))
def test_shapes_dtypes_and_labels(name):
    task = make_task(CONFIGS[name], seed=0)
    b = task.batch(6, seed=0, step=0)
    T = LENGTH[name]
    if task.tokens_in:
        assert b.x.shape == (6, T) and b.x.dtype == torch.int64
        assert 0 <= int(b.x.min()) and int(b.x.max()) < task.input_size
    else:
        assert b.x.shape == (6, T, 1) and b.x.dtype == torch.float32 and task.input_size == 1
    if task.tokens_out:
        assert b.y.shape == (6, T) and b.y.dtype == torch.int64
        scored = b.y[b.y != IGNORE]
        assert scored.numel() > 0 and 0 <= int(scored.min()) and int(scored.max()) < task.output_size
    else:
        assert b.y.shape == (6, T, 1) and b.y.dtype == torch.float32 and task.output_size == 1
        assert torch.isfinite(b.y).all()
    assert len(task.token_labels(b.x[0])) == T
    assert len(task.target_labels(b.y[0])) == T
    assert all(isinstance(s, str) for s in task.token_labels(b.x[0]))
    assert task.horizon >= 1


@pytest.mark.parametrize("name", list(CONFIGS))
def test_batches_are_a_function_of_seed_and_step(name):
    a, b = make_task(CONFIGS[name], seed=0), make_task(CONFIGS[name], seed=0)
    x1 = a.batch(8, seed=3, step=5)
    x2 = a.batch(8, seed=3, step=5)
    x3 = b.batch(8, seed=3, step=5)
    for other in (x2, x3):
        assert torch.equal(x1.x, other.x) and torch.equal(x1.y, other.y)
    assert not torch.equal(x1.x, a.batch(8, seed=3, step=6).x)
    assert not torch.equal(x1.x, a.batch(8, seed=4, step=5).x)
    # the held-out batch is fixed per seed and is not any early training batch
    v1, v2 = a.val_batch(8, seed=3), b.val_batch(8, seed=3)
    assert torch.equal(v1.x, v2.x)
    assert all(not torch.equal(v1.x, a.batch(8, seed=3, step=k).x) for k in range(5))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_display_sequence_fixed_per_seed(name):
    a, b = make_task(CONFIGS[name], seed=0), make_task(CONFIGS[name], seed=0)
    d1, d2, d3 = a.display(1), a.display(1), b.display(1)
    assert d1.x.shape[0] == 1 and d1.x.shape[1] == LENGTH[name]
    assert torch.equal(d1.x, d2.x) and torch.equal(d1.x, d3.x) and torch.equal(d1.y, d3.y)
    assert a.token_labels(d1.x[0]) == b.token_labels(d3.x[0])
    assert not torch.equal(d1.x, a.display(2).x)


def test_batches_do_not_touch_global_rng():
    state = torch.random.get_rng_state()
    for cfg in CONFIGS.values():
        make_task(cfg, seed=0).batch(4, seed=0, step=0)
    assert torch.equal(state, torch.random.get_rng_state())


def test_recall_batch_contents_and_baseline():
    task = make_task(CONFIGS["recall"])
    assert task.input_size == 6 and task.output_size == 5 and task.horizon == 7
    assert task.baseline == 1 / 5 and task.baseline_of == "metric"
    b = task.batch(64, seed=0, step=0)
    assert (b.x[:, -1] == 5).all()  # the query mark
    assert int(b.x[:, :-1].max()) <= 4
    assert (b.y[:, :-1] == IGNORE).all()
    assert torch.equal(b.y[:, -1], b.x[:, 0])
    assert len(set(b.x[:, 1:-1].flatten().tolist())) == 5  # distractors come from the whole alphabet
    labels = task.token_labels(b.x[0])
    assert labels[-1] == "?" and labels[0] == "ABCDE"[int(b.x[0, 0])]
    targets = task.target_labels(b.y[0])
    assert targets[:-1] == [""] * 7 and targets[-1] == labels[0]


def test_reverse_recall_asks_first_for_the_last_symbol():
    task = make_task(CONFIGS["revrecall"])
    assert (task.input_size, task.output_size, task.horizon, task.baseline) == (6, 5, 7, 1 / 5)
    assert task.baseline_label == "chance = 1/5" and task.gate_init == "chrono" and task.cue_step == 7
    b = task.batch(64, seed=0, step=0)
    assert (b.x[:, 0] == 5).all() and int(b.x[:, 1:].max()) <= 4  # the query mark first, then letters only
    assert torch.equal(b.y[:, 0], b.x[:, -1]) and (b.y[:, 1:] == IGNORE).all()
    assert len(set(b.x[:, 1:-1].flatten().tolist())) == 5
    labels, targets = task.token_labels(b.x[0]), task.target_labels(b.y[0])
    assert labels[0] == "?" and targets[0] == labels[-1] and targets[1:] == [""] * 7
    recall = make_task(CONFIGS["recall"]).batch(64, seed=0, step=0)  # recall's draw, the other end overwritten
    assert torch.equal(b.x[:, 1:-1], recall.x[:, 1:-1])


def test_recall_loss_and_metric_score_only_the_query():
    task = make_task(CONFIGS["recall"])
    b = task.batch(32, seed=0, step=0)
    out = torch.zeros(32, 8, 5)
    assert task.loss(out, b.y).item() == pytest.approx(math.log(5), abs=1e-6)
    out[torch.arange(32), -1, b.y[:, -1]] = 10.0
    out[:, :-1, 0] = 100.0  # anything at unscored steps is ignored
    assert task.metric(out, b.y) == 1.0
    out[:4, -1] = 0.0
    out[:4, -1, (b.y[:4, -1] + 1) % 5] = 10.0
    assert task.metric(out, b.y) == pytest.approx(28 / 32)


def test_chance_accuracy_is_the_baseline():
    task = make_task(TaskConfig(name="recall", lag=3, alphabet=4))
    b = task.batch(4000, seed=0, step=0)
    out = torch.zeros(4000, 4, 4)
    out[..., 0] = 1.0  # always answer the first symbol
    assert task.metric(out, b.y) == pytest.approx(task.baseline, abs=0.03)


@pytest.mark.parametrize("lag", [5, 12, 100])
def test_copy_batch_and_memoryless_baseline(lag):
    task = make_task(TaskConfig(name="copy", lag=lag, copy_len=10))
    assert task.baseline == 10 * math.log(8) / (lag + 20)
    assert task.baseline_of == "loss" and task.input_size == 10 and task.output_size == 9
    b = task.batch(16, seed=1, step=0)
    T = lag + 20
    assert b.x.shape == (16, T)
    assert 1 <= int(b.x[:, :10].min()) and int(b.x[:, :10].max()) <= 8
    assert (b.x[:, lag + 9] == 9).all()  # the delimiter
    rest = torch.cat([b.x[:, 10 : lag + 9], b.x[:, lag + 10 :]], 1)
    assert (rest == 0).all()
    assert (b.y[:, : lag + 10] == 0).all() and torch.equal(b.y[:, -10:], b.x[:, :10])
    # a model with no memory: certain blanks, then a uniform guess over the 8 symbols, scores the baseline
    out = torch.full((16, T, 9), -1e4)
    out[:, : lag + 10, 0] = 1e4
    out[:, lag + 10 :, 1:] = 0.0
    assert task.loss(out, b.y).item() == pytest.approx(task.baseline, rel=1e-5)


def test_copy_metric_counts_only_the_recalled_symbols():
    task = make_task(TaskConfig(name="copy", lag=5, copy_len=3))
    b = task.batch(8, seed=0, step=0)
    out = torch.nn.functional.one_hot(b.y, 9).float()
    out[:, :-3] = 0.0
    out[:, :-3, 5] = 1.0  # wrong where blanks are due: not scored by the metric
    assert task.metric(out, b.y) == 1.0
    out[:, -1] = 0.0
    out[:, -1, 0] = 1.0  # answer blank instead of the last symbol
    assert task.metric(out, b.y) == pytest.approx(2 / 3)
    assert task.token_labels(b.x[0])[5 + 3 - 1] == ":" and task.token_labels(b.x[0])[3] == "·"


def test_sine_next_value_and_persistence_baseline():
    task = make_task(CONFIGS["sine"], seed=4)
    b = task.batch(16, seed=0, step=0)
    assert torch.equal(b.y[:, :-1], b.x[:, 1:])
    assert float(b.x.abs().max()) <= 1.6 + 1e-6
    v = task.val_batch(256, 4)
    assert task.baseline == pytest.approx(torch.mean((v.x - v.y) ** 2).item(), rel=1e-6)
    assert 0 < task.baseline < 0.2
    assert task.metric(b.x, b.y) == pytest.approx(torch.mean((b.x - b.y) ** 2).item())
    assert task.metric(b.y, b.y) == 0.0
    assert make_task(CONFIGS["sine"], seed=5).baseline != task.baseline


TEXT = "the quick brown fox jumps over the lazy dog. " * 20


def test_text_windows_vocabulary_and_baseline():
    task = make_task(TaskConfig(name="text", seq_len=20), text=TEXT)
    assert task.chars == sorted(set(TEXT))
    V = len(task.chars)
    assert task.input_size == task.output_size == V
    assert task.baseline == math.log2(V)
    b = task.batch(10, seed=0, step=2)
    assert b.x.shape == (10, 20) and b.y.shape == (10, 20)
    assert torch.equal(b.y[:, :-1], b.x[:, 1:])
    for row_x, row_y in zip(b.x, b.y, strict=True):
        window = task.decode(row_x.tolist()) + task.decode(row_y[-1:].tolist())
        assert window in TEXT
    assert task.decode(task.encode("lazy dog").tolist()) == "lazy dog"
    assert "".join(task.token_labels(b.x[0])) == task.decode(b.x[0].tolist())
    # uniform logits cost exactly log2(V) bits per character
    assert task.metric(torch.zeros(10, 20, V), b.y) == pytest.approx(math.log2(V), rel=1e-6)


def test_text_held_out_is_the_end_of_the_corpus():
    text = "".join(chr(ord("a") + (k * 7) % 26) for k in range(2000))
    task = make_task(TaskConfig(name="text", seq_len=10), text=text)
    v = task.val_batch(50, 0)
    tail = text[1800:]
    assert all(task.decode(row.tolist()) in tail for row in v.x)


def test_text_held_out_is_every_window_of_a_small_split_for_every_seed():
    text = "".join(chr(ord("a") + (k * 7) % 26) for k in range(2000))  # held out: the last 200 characters
    task = make_task(TaskConfig(name="text", seq_len=10), text=text)
    v = task.val_batch(256, seed=0)
    assert v.x.shape == v.y.shape == (19, 10)  # (200 - 1) // 10 whole windows, all of them
    assert task.decode(v.x.reshape(-1).tolist()) == text[1800:1990]  # consecutive, no overlap, no gap
    assert task.decode(v.y.reshape(-1).tolist()) == text[1801:1991]
    for seed in (1, 12345):
        other = task.val_batch(256, seed=seed)
        assert torch.equal(v.x, other.x) and torch.equal(v.y, other.y)


def test_text_held_out_spreads_n_windows_evenly_over_a_large_split():
    text = "".join(chr(ord("a") + (k * 7) % 26) for k in range(2000))
    task = make_task(TaskConfig(name="text", seq_len=10), text=text)
    v = task.val_batch(4, seed=3)
    assert v.x.shape == (4, 10)
    for row, k in zip(v.x, (0, 4, 9, 14), strict=True):  # window k * 19 // 4 of the 19
        assert task.decode(row.tolist()) == text[1800 + 10 * k : 1810 + 10 * k]


def test_text_rare_characters_map_to_unknown():
    text = "ab" * 300 + "".join(chr(0x4E00 + k) for k in range(300))
    task = make_task(TaskConfig(name="text", seq_len=10), text=text)
    assert len(task.chars) == 256 and task.chars[-1] == "\ufffd"
    ids = task.encode(chr(0x4E00 + 299) + chr(0x4E00 + 299))
    assert int(ids.max()) < 256


def test_text_too_short_is_a_data_error():
    with pytest.raises(DataError, match="too short"):
        make_task(TaskConfig(name="text", seq_len=100), text="abc" * 50)


def test_series_standardised_next_value_and_baseline():
    task = make_task(CONFIGS["series"], seed=0)
    raw = torch.from_numpy(load_series("seattle-temp"))
    cut = int(len(raw) * 0.8)
    assert task.mean == pytest.approx(raw[:cut].mean().item(), rel=1e-5)
    assert task.splits["train"].mean().item() == pytest.approx(0.0, abs=1e-4)
    b = task.batch(8, seed=0, step=0)
    assert torch.equal(b.y[:, :-1], b.x[:, 1:])
    v = task.val_batch(256, 0)
    assert task.baseline == pytest.approx(torch.mean((v.x - v.y) ** 2).item(), rel=1e-6)
    assert 0 < task.baseline < 1  # tomorrow is much like today
    # labels are in the series' own units
    labels = [float(s) for s in task.token_labels(b.x[0])]
    expected = (b.x[0, :, 0] * task.std + task.mean).tolist()
    assert labels == pytest.approx(expected, abs=0.051)
    assert min(labels) > -20 and max(labels) < 45  # °C in Seattle


def test_series_window_too_long_is_a_data_error():
    with pytest.raises(DataError, match="shorter sequence length"):
        make_task(TaskConfig(name="series", seq_len=400))


def test_batch_dataclass_holds_tensors():
    b = make_task(CONFIGS["recall"]).display(0)
    assert isinstance(b, Batch) and b.x.shape == (1, 8)

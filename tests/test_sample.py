"""lstm_core.sample: text sampling is seeded, temperature 0 is the argmax continuation; forecasts feed back."""

from __future__ import annotations

import pytest
import torch

from lstm_core.config import ModelConfig, TaskConfig
from lstm_core.models import build_model
from lstm_core.sample import forecast, sample_text
from lstm_core.tasks import make_task

TEXT = "to be, or not to be, that is the question: whether 'tis nobler in the mind to suffer. " * 8


@pytest.fixture(scope="module")
def text_task():
    return make_task(TaskConfig(name="text", seq_len=20), text=TEXT)


def _greedy_by_recompute(model, task, prompt: str, n: int) -> str:
    """Argmax continuation, re-running the whole fused model on the growing string at every step."""
    ids = task.encode(prompt).tolist()
    with torch.no_grad():
        for _ in range(n):
            logits = model(torch.tensor([ids]))[0, -1]
            ids.append(int(logits.argmax()))
    return task.decode(ids[len(prompt) :])


@pytest.mark.parametrize("cell", ["lstm", "rnn", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_temperature_zero_is_greedy(text_task, cell, layers):
    model = build_model(ModelConfig(cell=cell, hidden=16, layers=layers), text_task, seed=1)
    with torch.no_grad():
        model.readout.weight.mul_(20)  # sharpen an untrained model so the argmax is not a near tie
    got = sample_text(model, text_task, "to be", 30, temperature=0.0, seed=0)
    assert len(got) == 30 and set(got) <= set(text_task.chars)
    assert got == _greedy_by_recompute(model, text_task, "to be", 30)
    assert got == sample_text(model, text_task, "to be", 30, temperature=0.0, seed=99)  # seed is irrelevant


def test_sampling_is_deterministic_per_seed(text_task):
    model = build_model(ModelConfig(hidden=16), text_task, seed=0)
    a = sample_text(model, text_task, "the", 60, temperature=1.0, seed=5)
    b = sample_text(model, text_task, "the", 60, temperature=1.0, seed=5)
    c = sample_text(model, text_task, "the", 60, temperature=1.0, seed=6)
    assert a == b and a != c and len(a) == 60
    # sampling uses its own generator, not the global one
    torch.manual_seed(0)
    d = sample_text(model, text_task, "the", 60, temperature=1.0, seed=5)
    assert d == a


def test_temperature_changes_diversity(text_task):
    model = build_model(ModelConfig(hidden=16), text_task, seed=0)
    with torch.no_grad():
        model.readout.weight.mul_(5)
    cold = sample_text(model, text_task, "t", 200, temperature=0.05, seed=1)
    hot = sample_text(model, text_task, "t", 200, temperature=5.0, seed=1)
    assert len(set(hot)) > len(set(cold))


def test_empty_prompt_refused(text_task):
    model = build_model(ModelConfig(hidden=8), text_task, seed=0)
    with pytest.raises(ValueError, match="prompt"):
        sample_text(model, text_task, "", 5, 1.0, 0)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layers", [1, 2])
def test_forecast_feeds_its_predictions_back(cell, layers):
    task = make_task(TaskConfig(name="sine", seq_len=20))
    model = build_model(ModelConfig(cell=cell, hidden=12, layers=layers), task, seed=0)
    prefix = task.display(0).x[0]  # (T, 1)
    preds = forecast(model, prefix, 6)
    assert preds.shape == (6,)
    with torch.no_grad():
        out = model(prefix.unsqueeze(0))  # (1, T, 1)
        assert preds[0].item() == pytest.approx(out[0, -1, 0].item(), abs=1e-6)
        # every next value is the model's prediction on the prefix extended by its own earlier predictions
        seq = torch.cat([prefix, preds[:-1].reshape(-1, 1)]).unsqueeze(0)
        full = model(seq)[0, -6:, 0]
    assert torch.allclose(preds, full, atol=1e-5)
    assert torch.equal(forecast(model, prefix, 6), preds)
    assert forecast(model, prefix, 0).shape == (0,)

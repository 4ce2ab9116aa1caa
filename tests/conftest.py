"""Shared test setup: one torch thread (as the app runs), and builders for tiny engine runs and labs."""

from __future__ import annotations

import pytest

from lstm_core.config import ModelConfig, RunConfig, TaskConfig, TrainConfig
from lstm_core.train import configure_torch


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    configure_torch(1)


def tiny_run(task: dict | None = None, model: dict | None = None, train: dict | None = None) -> RunConfig:
    """A run small enough to train in well under a second: recall over a short lag, 8 hidden units."""
    t = {"name": "recall", "lag": 6, "alphabet": 4, **(task or {})}
    m = {"cell": "lstm", "hidden": 8, **(model or {})}
    tr = {"steps": 20, "batch": 16, "val_every": 5, "val_batch": 32, **(train or {})}
    return RunConfig(TaskConfig(**t), ModelConfig(**m), TrainConfig(**tr))


@pytest.fixture
def make_run():
    """`make_run(task={...}, model={...}, train={...})` -> RunConfig overriding `tiny_run`'s defaults."""
    return tiny_run


def small_lab(cells=("lstm", "rnn"), task: dict | None = None, model: dict | None = None,
              train: dict | None = None, steps: int = 0, text: str | None = None):
    """A lab small enough for a page test: recall over lag 8 with 4 symbols, 8 hidden units, `steps` trained."""
    from lstm_core.lab import Lab

    t = {"name": "recall", "lag": 8, "alphabet": 4, **(task or {})}
    tr = {"seed": 1, "steps": 200, "batch": 16, "val_every": 2, **(train or {})}
    lab = Lab(TaskConfig(**t), TrainConfig(**tr), {c: ModelConfig(cell=c, **{"hidden": 8, **(model or {})})
                                                 for c in cells}, text=text)
    lab.advance(steps)
    return lab


@pytest.fixture
def make_lab():
    """`make_lab(cells=..., task={...}, model={...}, train={...}, steps=n)` -> a small Lab trained n steps."""
    return small_lab

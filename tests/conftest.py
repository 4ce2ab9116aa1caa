"""Shared test setup: one torch thread (as the app runs), and a builder for tiny engine runs."""

from __future__ import annotations

import pytest

from lstm_core import ModelConfig, RunConfig, TaskConfig, TrainConfig, configure_torch


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

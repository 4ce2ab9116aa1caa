"""Shared test setup: one torch thread (as the app runs), and builders for tiny engine runs and labs."""

from __future__ import annotations

import pytest

from lstm_core.config import LabSpec, ModelConfig, RunConfig, TaskConfig, TrainConfig


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    from lstm_core.train import configure_torch

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


def small_spec(cells=("lstm", "rnn"), task: dict | None = None, model: dict | None = None,
               train: dict | None = None) -> LabSpec:
    """Settings small enough for a page test: recall over lag 8 with 4 symbols, 8 hidden units."""
    t = {"name": "recall", "lag": 8, "alphabet": 4, **(task or {})}
    tr = {"seed": 1, "steps": 200, "batch": 16, "val_every": 2, **(train or {})}
    return LabSpec(TaskConfig(**t), tuple(ModelConfig(cell=c, **{"hidden": 8, **(model or {})}) for c in cells),
                   TrainConfig(**tr))


def small_lab(cells=("lstm", "rnn"), task: dict | None = None, model: dict | None = None,
              train: dict | None = None, steps: int = 0, text: str | None = None):
    """An engine Lab on `small_spec`'s settings, trained `steps` steps, in this process."""
    from lstm_core.lab import Lab

    lab = Lab.from_spec(small_spec(cells, task, model, train), text)
    lab.advance(steps)
    return lab


def remote_lab(cells=("lstm", "rnn"), task: dict | None = None, model: dict | None = None,
               train: dict | None = None, steps: int = 0, text: str | None = None):
    """What a page holds: a RemoteLab on `small_spec`'s settings, on the worker pool, moved on `steps` steps."""
    from lstm_core.pool.client import RemoteLab

    lab = RemoteLab(small_spec(cells, task, model, train), text=text)
    if steps:
        lab.advance(steps)
    return lab


@pytest.fixture
def make_lab():
    """`make_lab(cells=..., task={...}, model={...}, train={...}, steps=n)` -> a small Lab trained n steps."""
    return small_lab


class InlineBackend:
    """A pool backend whose one worker is a `WorkerCore` in this process (tests only: it lets a test reach into
    the worker's runs, e.g. to feed a run data that makes it diverge). Calls are answered at once; training
    happens when `train()` is called."""

    def __init__(self):
        from concurrent.futures import Future

        from lstm_core.pool.worker import WorkerCore

        self.core, self._future = WorkerCore("inline"), Future

    def workers(self) -> list[int]:
        return [0]

    def start(self) -> int:
        return 0

    def call(self, worker: int, method: str, args: tuple):
        fut = self._future()
        try:
            fut.set_result(self.core.handle(method, args))
        except Exception as e:  # noqa: BLE001 - handed to the caller, as a worker process would
            fut.set_exception(e)
        return fut

    def train(self, slices: int = 1) -> None:
        for _ in range(slices):
            self.core.train_slice()

    def close(self) -> None:
        pass


@pytest.fixture
def inline_pool():
    """A Pool on an InlineBackend: (pool, backend)."""
    from lstm_core.pool.client import Pool

    backend = InlineBackend()
    pool = Pool(backend, 1)
    yield pool, backend
    pool.shutdown()

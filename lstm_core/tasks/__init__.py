"""The task registry: every task the app teaches with, torch-free, read by the settings form, the command line
and links. A task's torch code is a `base.Task` subclass in its own module (`TaskSpec.impl`), built by
`make_task` with one constructor signature `(cfg, seed, text)`; adding a task is that module plus one line in
`TASKS`. Pages list the registry and never name a task module.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import TaskConfig
    from .base import Task


@dataclass(frozen=True)
class TaskSpec:
    name: str  # as in TaskConfig.name, links and --task
    title: str  # one line for the UI
    impl: str  # "module:Class" of its base.Task subclass
    settings: tuple[str, ...]  # the TaskConfig fields it reads, in the order the settings form shows them
    metric: str  # accuracy, mse or bits_per_char (held-out, in metrics.jsonl and on every chart)
    gate_init: str = "chrono"  # the LSTM gate-bias initialisation that ModelConfig.gate_init "auto" means here
    why_init: str = "chrono initialisation spreads the forget gates' memory over the task's time lag"
    # its targets are later inputs (the next value or character): only a model that reads left to right may learn
    # it; one that also reads from the right (bidirectional) would read the answer, and is refused
    causal: bool = False

    @property
    def higher_is_better(self) -> bool:
        return self.metric == "accuracy"

    def cls(self) -> type[Task]:
        module, name = self.impl.split(":")
        return getattr(importlib.import_module(module), name)


TASKS: dict[str, TaskSpec] = {t.name: t for t in (
    TaskSpec("recall", "Long-lag recall: remember the first symbol until the '?'", "lstm_core.tasks.recall:Recall",
             ("lag", "alphabet"), "accuracy"),
    TaskSpec("copy", "Copy memory: reproduce K symbols after T blanks", "lstm_core.tasks.copy:Copy",
             ("lag", "copy_len"), "accuracy"),
    # measured, H 32, B 64, T 100, 1,000 steps, seeds 0-2, held-out MSE x 1e4: default 4.3, 3.6, 4.2;
    # forget-bias 1: 4.6, 4.4, 4.5; chrono 7.0, 5.4, 8.7
    TaskSpec("sine", "Sine mixtures: predict the next value", "lstm_core.tasks.sine:Sine", ("seq_len",), "mse",
             gate_init="default", why_init="there is no single lag to remember over, and PyTorch's own init "
             "predicted best (held-out error, 3 seeds: 4.0e-4 against 4.5e-4 with forget bias 1 and 7.0e-4 chrono)",
             causal=True),
    # held-out bits/char after 500 steps at H 128, B 32, seeds 0-2 (means): default 2.089, forget-bias 1 2.113,
    # chrono 2.301 (python-docs); 2.429, 2.456, 2.597 (python-source); 0.553, 0.553, 0.554 (reber)
    TaskSpec("text", "Character-level text: predict the next character", "lstm_core.tasks.text:Text",
             ("seq_len", "corpus"), "bits_per_char", gate_init="default",
             why_init="text has no single known lag, and chrono (built for one) starts the input gates nearly shut; "
             "PyTorch's own init learned most on the shipped corpora (held-out bits/char after 500 steps, 3 seeds, "
             "python-docs: 2.09 against 2.11 with forget bias 1 and 2.30 chrono)",
             causal=True),
    TaskSpec("series", "Real series: forecast the next value", "lstm_core.tasks.series:Series",
             ("seq_len", "series"), "mse", causal=True),
    TaskSpec("revrecall", "Reverse recall: at the first step '?', name the last letter",
             "lstm_core.tasks.revrecall:RevRecall", ("lag", "alphabet"), "accuracy"),
)}


def make_task(cfg: TaskConfig, seed: int = 0, text: str | None = None) -> Task:
    """Build the task `cfg.name`. `seed` fixes held-out sets and baselines; `text` is an uploaded corpus."""
    return TASKS[cfg.name].cls()(cfg, seed, text)


__all__ = ["TASKS", "TaskSpec", "make_task"]

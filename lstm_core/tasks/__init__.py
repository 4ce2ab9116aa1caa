"""The task registry: every task shares one interface (`base.Task`); pages list `TASKS`, never a module."""

from __future__ import annotations

from ..config import TaskConfig
from .base import IGNORE, Batch, DataError, Task
from .copy import Copy
from .recall import Recall
from .series import Series
from .sine import Sine
from .text import Text

TASKS: dict[str, type[Task]] = {"recall": Recall, "copy": Copy, "sine": Sine, "text": Text, "series": Series}


def make_task(cfg: TaskConfig, seed: int = 0, text: str | None = None) -> Task:
    """Build the task `cfg.name`. `seed` fixes held-out baselines; `text` overrides the corpus (uploads)."""
    cls = TASKS[cfg.name]
    if cls is Text:
        return Text(cfg, text)
    if cls in (Sine, Series):
        return cls(cfg, seed)
    return cls(cfg)


__all__ = ["IGNORE", "TASKS", "Batch", "DataError", "Task", "make_task"]

"""LSTM Gate Lab's engine: configs, tasks, models on fused kernels, a step-record trainer and exact traces.

Imports neither streamlit nor plotly (figure builders live in `lstm_core.figures`, imported on demand). The
names below are loaded on first use (PEP 562), so that `lstm_core.figures` and `lstm_core.lessons.read_curves`
work without importing torch: the Home page draws from them while torch is still loading in the background.
The function `trace` is imported from `lstm_core.trace` (here that name is the submodule).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "ConfigError": "config", "ModelConfig": "config", "RunConfig": "config", "TaskConfig": "config",
    "TrainConfig": "config", "SeqModel": "models", "build_model": "models", "pick_device": "models",
    "TASKS": "tasks", "DataError": "tasks", "Task": "tasks", "make_task": "tasks", "LayerTrace": "trace",
    "Trace": "trace", "spectral_radius": "trace", "DivergedError": "train",
    "StepRecord": "train", "Trainer": "train", "configure_torch": "train", "train_side_by_side": "train",
}
__all__ = [  # the keys of _WHERE (a literal, for linters and type checkers)
    "TASKS", "ConfigError", "DataError", "DivergedError", "LayerTrace", "ModelConfig", "RunConfig", "SeqModel",
    "StepRecord", "Task", "TaskConfig", "Trace", "TrainConfig", "Trainer", "build_model", "configure_torch",
    "make_task", "pick_device", "spectral_radius", "train_side_by_side",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'lstm_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


if TYPE_CHECKING:
    from .config import ConfigError, ModelConfig, RunConfig, TaskConfig, TrainConfig
    from .models import SeqModel, build_model, pick_device
    from .tasks import TASKS, DataError, Task, make_task
    from .trace import LayerTrace, Trace, spectral_radius
    from .train import DivergedError, StepRecord, Trainer, configure_torch, train_side_by_side

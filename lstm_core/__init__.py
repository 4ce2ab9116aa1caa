"""LSTM Gate Lab's engine: configs, tasks, models on fused kernels, a step-record trainer and exact traces.

Imports neither streamlit nor plotly (figure builders live in `lstm_core.figures`, imported on demand).
"""

from __future__ import annotations

from .config import ConfigError, ModelConfig, RunConfig, TaskConfig, TrainConfig
from .models import SeqModel, build_model, pick_device
from .tasks import TASKS, DataError, Task, make_task
from .trace import LayerTrace, Trace, spectral_radius, trace
from .train import DivergedError, StepRecord, Trainer, configure_torch, train_side_by_side

__all__ = [
    "TASKS", "ConfigError", "DataError", "DivergedError", "LayerTrace", "ModelConfig", "RunConfig", "SeqModel",
    "StepRecord", "Task", "TaskConfig", "Trace", "TrainConfig", "Trainer", "build_model", "configure_torch",
    "make_task", "pick_device", "spectral_radius", "trace", "train_side_by_side",
]

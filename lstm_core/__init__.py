"""LSTM Gate Lab's engine: configs, registries of cells and tasks, models on fused kernels, a step-record
trainer, exact traces, and the Lab that is the pages' one door into all of it.

Imports neither streamlit nor plotly (figure builders live in `lstm_core.figures`, imported on demand). The
names below load on first use (PEP 562), so that importing `lstm_core` costs nothing: the page process uses
its torch-free modules (config, views, figures) without loading torch. The function `trace` is imported from
`lstm_core.trace` (here that name is the submodule).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {  # name -> submodule that defines it
    "CELLS": "cells", "ConfigError": "errors", "DataError": "errors", "DivergedError": "errors",
    "LimitError": "errors", "RunError": "errors", "LabSpec": "config", "ModelConfig": "config",
    "RunConfig": "config", "TaskConfig": "config", "TrainConfig": "config", "TASKS": "tasks", "make_task": "tasks",
    "LabView": "views", "LayerTrace": "views", "StepRecord": "views", "Trace": "views", "SeqModel": "models",
    "build_model": "models", "pick_device": "models", "Trainer": "train", "configure_torch": "train", "Lab": "lab",
    "headline_lab": "lab",
}
__all__ = sorted(_WHERE)  # noqa: PLE0605 - the names load lazily through __getattr__


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'lstm_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value

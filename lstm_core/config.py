"""Frozen configuration dataclasses: what to learn (TaskConfig), with what (ModelConfig), how (TrainConfig).

Every field is bounded; a value outside its bounds raises `ConfigError` with one sentence that names the field,
the value and what is allowed. Configs round-trip through plain dicts (JSON) and URL query strings, so a run
can be saved, shared as a link and reproduced exactly.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from typing import Any


class ConfigError(ValueError):
    """A setting is out of bounds; the message is one sentence a learner can act on."""


CELLS = ("lstm", "rnn", "gru")
GATE_INITS = ("chrono", "forget-bias", "default")
TASKS = ("recall", "copy", "sine", "text", "series")
CORPORA = ("python-docs", "python-source", "reber", "file")
SERIES = ("seattle-temp", "seattle-hourly")
DEVICES = ("auto", "cpu", "cuda", "mps")


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number between {lo} and {hi}, got {value!r}.")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}.")


def _check_float(name: str, value: Any, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a number between {lo:g} and {hi:g}, got {value!r}.")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo:g} and {hi:g}, got {value:g}.")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}.")


class _Config:
    """Shared round-trip helpers for the frozen configs below."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]!r}; allowed: {', '.join(known)}.")
        return cls(**d)

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def to_query(self, prefix: str) -> dict[str, str]:
        """Only the fields that differ from the default, as strings keyed `prefix.field`."""
        default = type(self)()
        out = {}
        for f in fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if v != getattr(default, f.name):
                out[f"{prefix}.{f.name}"] = "" if v is None else str(v)
        return out

    @classmethod
    def from_query(cls, query: dict[str, str], prefix: str):
        """Parse `prefix.field` strings back to typed values; raises ConfigError on anything malformed."""
        kwargs: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            key = f"{prefix}.{f.name}"
            if key not in query:
                continue
            raw = str(query[key])[:200]
            kwargs[f.name] = _parse(f, raw, key)
        return cls(**kwargs)


def _parse(f: dataclasses.Field, raw: str, key: str) -> Any:
    kind = str(f.type)
    try:
        if raw == "" and "None" in kind:
            return None
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind.startswith("bool"):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return raw.lower() in ("true", "1")
        return raw
    except ValueError:
        raise ConfigError(f"{key} has the malformed value {raw!r}.") from None


@dataclass(frozen=True)
class TaskConfig(_Config):
    name: str = "recall"  # which task: recall, copy, sine, text or series
    lag: int = 100  # recall/copy: timesteps between the symbol(s) and the moment they must be recalled
    alphabet: int = 8  # recall: number of distinct symbols (chance accuracy = 1/alphabet)
    copy_len: int = 10  # copy: number of symbols to reproduce (the standard setting is 10)
    seq_len: int = 100  # sine/text/series: training window length in timesteps
    corpus: str = "python-docs"  # text: python-docs, python-source, reber or file
    text_file: str | None = None  # text: path of a UTF-8 file when corpus == "file"
    series: str = "seattle-temp"  # series: seattle-temp (daily max) or seattle-hourly

    def __post_init__(self) -> None:
        _check_choice("task", self.name, TASKS)
        _check_int("lag", self.lag, 1, 1000)
        _check_int("alphabet", self.alphabet, 2, 32)
        _check_int("copy_len", self.copy_len, 1, 30)
        _check_int("seq_len", self.seq_len, 5, 1000)
        _check_choice("corpus", self.corpus, CORPORA)
        _check_choice("series", self.series, SERIES)
        if self.name == "text" and self.corpus == "file" and not self.text_file:
            raise ConfigError("the text task with corpus 'file' needs a text file path.")


@dataclass(frozen=True)
class ModelConfig(_Config):
    cell: str = "lstm"  # recurrent cell: lstm, rnn (tanh) or gru; all run on PyTorch's fused kernels
    hidden: int = 32  # hidden units per layer (32 solves recall at lag 100 in ~1,100 steps, half the time of 64)
    layers: int = 1  # stacked recurrent layers (1 or 2)
    dropout: float = 0.0  # dropout probability between layers and before the readout (training only)
    gate_init: str = "chrono"  # LSTM gate biases: chrono (Tallec & Ollivier 2018), forget-bias or default
    forget_bias: float = 1.0  # LSTM forget-gate bias when gate_init == "forget-bias"
    init_scale: float = 1.0  # multiplies the recurrent weights W_hh after init (>1 provokes exploding gradients)

    def __post_init__(self) -> None:
        _check_choice("cell", self.cell, CELLS)
        _check_int("hidden", self.hidden, 2, 256)
        _check_int("layers", self.layers, 1, 2)
        _check_float("dropout", self.dropout, 0.0, 0.9)
        _check_choice("gate_init", self.gate_init, GATE_INITS)
        _check_float("forget_bias", self.forget_bias, -10.0, 10.0)
        _check_float("init_scale", self.init_scale, 0.0, 20.0)


@dataclass(frozen=True)
class TrainConfig(_Config):
    seed: int = 0  # drives data, initialisation, dropout and batch order
    steps: int = 2000  # optimiser steps at most
    batch: int = 64  # sequences per step
    lr: float = 3e-3  # Adam learning rate
    clip: float = 1.0  # max global gradient norm; 0 turns clipping off
    weight_decay: float = 0.0  # L2 penalty (Adam's weight_decay)
    val_every: int = 50  # steps between held-out evaluations
    val_batch: int = 256  # held-out sequences per evaluation
    patience: int = 0  # early stopping: evaluations without improvement before stopping; 0 = off
    device: str = "auto"  # auto picks CUDA, then Apple MPS, then CPU
    max_seconds: float | None = None  # stop after this much training time
    target: float | None = None  # stop once the held-out metric reaches this value
    clock: str = "wall"  # what `seconds` counts: wall time, or "cpu", this thread's CPU time (robust to other load)

    def __post_init__(self) -> None:
        _check_int("seed", self.seed, 0, 2**31 - 1)
        _check_int("steps", self.steps, 1, 1_000_000)
        _check_int("batch", self.batch, 1, 1024)
        _check_float("learning rate", self.lr, 1e-6, 10.0)
        _check_float("clip", self.clip, 0.0, 1e6)
        _check_float("weight_decay", self.weight_decay, 0.0, 1.0)
        _check_int("val_every", self.val_every, 1, 1_000_000)
        _check_int("val_batch", self.val_batch, 1, 4096)
        _check_int("patience", self.patience, 0, 1000)
        _check_choice("device", self.device, DEVICES)
        _check_choice("clock", self.clock, ("wall", "cpu"))
        if self.max_seconds is not None:
            _check_float("max_seconds", self.max_seconds, 0.001, 1e6)
        if self.target is not None:
            _check_float("target", self.target, -1e6, 1e6)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; `to_json` is what `config.json` holds."""

    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task.to_dict(), "model": self.model.to_dict(), "train": self.train.to_dict()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        if not isinstance(d, dict) or set(d) - {"task", "model", "train"}:
            raise ConfigError("a run config must be an object with 'task', 'model' and 'train'.")
        return cls(
            TaskConfig.from_dict(d.get("task", {})),
            ModelConfig.from_dict(d.get("model", {})),
            TrainConfig.from_dict(d.get("train", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as e:
            raise ConfigError(f"the config is not valid JSON ({e.msg} at line {e.lineno}).") from None
        except TypeError as e:
            raise ConfigError(f"the config has a value of the wrong type ({e}).") from None

    def to_query(self) -> dict[str, str]:
        return {**self.task.to_query("task"), **self.model.to_query("model"), **self.train.to_query("train")}

    @classmethod
    def from_query(cls, query: dict[str, str]) -> RunConfig:
        return cls(
            TaskConfig.from_query(query, "task"),
            ModelConfig.from_query(query, "model"),
            TrainConfig.from_query(query, "train"),
        )

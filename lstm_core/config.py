"""Frozen configuration dataclasses: what to learn (TaskConfig), with what (ModelConfig), how (TrainConfig).

Every field carries its bounds (`Bound`, in the field's metadata): the one source that validation, the settings
form's widgets, links and the command line's help all read. A value outside its bounds raises `ConfigError`
with one sentence that names every bad field, its value and what is allowed. Names that come from a registry
(tasks, cells, corpora, series) are checked against that registry when the config is made, so a task added to
the registry is at once a valid setting everywhere. Configs round-trip through plain dicts (JSON) and URL
query strings, so a run can be saved, shared as a link and reproduced exactly.

Torch-free: the page process builds configs without loading the engine.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")
GATE_INITS = ("auto", "chrono", "forget-bias", "default")
CLOCKS = ("wall", "cpu")


def _tasks() -> tuple[str, ...]:
    from .tasks import TASKS

    return tuple(TASKS)


def _cells() -> tuple[str, ...]:
    from .cells import CELLS

    return tuple(CELLS)


def _corpora() -> tuple[str, ...]:
    from datasets.corpora import CORPORA

    return tuple(CORPORA)


def _series() -> tuple[str, ...]:
    from datasets.series import SERIES

    return tuple(SERIES)


@dataclass(frozen=True)
class Bound:
    """What a field allows, and how it is named to a learner."""

    label: str  # the learner's word for it, used in messages, widget labels and CLI help
    lo: float | None = None  # numbers: smallest allowed value
    hi: float | None = None  # numbers: largest allowed value
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None  # names: allowed values (or registry)
    offer: tuple[float, ...] = ()  # values a slider offers (any value within [lo, hi] is still allowed)
    help: str = ""  # one sentence for the widget's tooltip and the CLI's --help
    kind: str = "int"  # int, float, choice or text
    title: str = ""  # the widget's label, where it says more than `label`

    def allowed(self) -> tuple[str, ...]:
        c = self.choices
        return tuple(c() if callable(c) else c or ())

    def problem(self, value: Any, optional: bool) -> str | None:
        """Why `value` is not allowed (one clause), or None."""
        if value is None and optional:
            return None
        name = self.label
        if self.kind == "choice":
            allowed = self.allowed()
            return None if value in allowed else f"{name} must be one of {', '.join(allowed)}; got {value!r}"
        if self.kind == "text":
            return None if isinstance(value, str) else f"{name} must be text, got {value!r}"
        lo, hi, span = self.lo, self.hi, f"between {_num(self.lo)} and {_num(self.hi)}"
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                return f"{name} must be a whole number {span}, got {value!r}"
            return None if lo <= value <= hi else f"{name} must be {span}, got {value}"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"{name} must be a number {span}, got {value!r}"
        return None if lo <= value <= hi else f"{name} must be {span}, got {value:g}"


def _num(v: float | None) -> str:
    """A bound as a learner reads it: whole numbers in full (2147483647, not 2.14748e+09), others as %g."""
    return str(int(v)) if v is not None and float(v).is_integer() and abs(v) < 1e12 else f"{v:g}"


def setting(default: Any, bound: Bound) -> Any:
    return field(default=default, metadata={"bound": bound})


def bound(cls: type, name: str) -> Bound:
    """The bounds of field `name` of config class `cls` (what widgets, links and the CLI read)."""
    return cls.__dataclass_fields__[name].metadata["bound"]


class _Config:
    """Validation and round-trip helpers shared by the frozen configs below."""

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ConfigError("; ".join(problems) + ".")

    def problems(self) -> list[str]:
        """Every field outside its bounds, as one clause each (empty if the config is valid)."""
        out = []
        for f in fields(self):  # type: ignore[arg-type]
            p = f.metadata["bound"].problem(getattr(self, f.name), "None" in str(f.type))
            if p:
                out.append(p)
        return out

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
    def from_query(cls, query: dict[str, str], prefix: str, problems: list[str] | None = None):
        """Parse `prefix.field` strings back to typed values. Raises ConfigError naming every malformed or
        out-of-bounds value; with a `problems` list, appends to it instead and returns None if there were any."""
        own: list[str] = []
        kwargs: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            key = f"{prefix}.{f.name}"
            if key not in query:
                continue
            raw = str(query[key])[:200]
            try:
                kwargs[f.name] = _parse(f, raw, key)
            except ConfigError as e:
                own.append(str(e).rstrip("."))
        if not own:
            try:
                return cls(**kwargs)
            except ConfigError as e:
                own.append(str(e).rstrip("."))
        if problems is None:
            raise ConfigError("; ".join(own) + ".")
        problems.extend(own)
        return None


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
    name: str = setting("recall", Bound("task", choices=_tasks, kind="choice"))  # a key of tasks.TASKS
    # recall/copy: timesteps between the symbol(s) and the moment they must be recalled
    lag: int = setting(100, Bound("lag", 1, 1000, help="Timesteps between the symbol and the question.",
                                  title="Lag T (timesteps to remember over)"))
    # recall: number of distinct symbols (chance accuracy = 1/alphabet)
    alphabet: int = setting(8, Bound("alphabet", 2, 32, help="Distinct symbols; chance accuracy is 1/alphabet.",
                                      title="Alphabet size (chance = 1/size)"))
    copy_len: int = setting(10, Bound("copy_len", 1, 30, help="Symbols to reproduce (the standard task uses 10).",
                                      title="Symbols to copy K"))
    # sine/text/series: training window length in timesteps
    seq_len: int = setting(100, Bound("seq_len", 5, 1000, help="Timesteps in each training window.",
                                      title="Sequence length"))
    # text: a key of datasets.corpora.CORPORA
    corpus: str = setting("python-docs", Bound("corpus", choices=_corpora, kind="choice", title="Corpus"))
    text_file: str | None = setting(None, Bound("text file", kind="text"))  # text: a UTF-8 file when corpus is "file"
    # series: a key of datasets.series.SERIES
    series: str = setting("seattle-temp", Bound("series", choices=_series, kind="choice", title="Series"))

    def problems(self) -> list[str]:
        out = super().problems()
        if self.name == "text" and self.corpus == "file" and not self.text_file:
            out.append("the text task with corpus 'file' needs a text file path")
        return out


@dataclass(frozen=True)
class ModelConfig(_Config):
    # recurrent cell, a key of cells.CELLS; lstm, rnn (tanh) and gru run on PyTorch's fused kernels
    cell: str = setting("lstm", Bound("cell", choices=_cells, kind="choice"))
    # hidden units per layer (32 solves recall at lag 100 in ~1,100 steps, half the time of 64)
    hidden: int = setting(32, Bound("hidden", 2, 256, offer=(2, 4, 8, 16, 32, 64, 128, 256)))
    layers: int = setting(1, Bound("layers", 1, 2))  # stacked recurrent layers
    # dropout probability between layers and before the readout (training only)
    dropout: float = setting(0.0, Bound("dropout", 0.0, 0.9, kind="float"))
    # LSTM gate biases: auto (the task's choice), chrono (Tallec & Ollivier 2018), forget-bias or default
    gate_init: str = setting("auto", Bound("gate_init", choices=GATE_INITS, kind="choice"))
    # LSTM forget-gate bias when gate_init is "forget-bias"
    forget_bias: float = setting(1.0, Bound("forget_bias", -10.0, 10.0, kind="float"))
    # multiplies the recurrent weights W_hh after init (> 1 provokes exploding gradients)
    init_scale: float = setting(1.0, Bound("init_scale", 0.0, 20.0, kind="float"))


@dataclass(frozen=True)
class TrainConfig(_Config):
    seed: int = setting(0, Bound("seed", 0, 2**31 - 1))  # drives data, initialisation, dropout and batch order
    # optimiser steps at most: one bound for the app, links, imports and the command line
    steps: int = setting(2000, Bound("steps", 1, 20_000))
    batch: int = setting(64, Bound("batch", 1, 1024, offer=(8, 16, 32, 64, 128, 256)))  # sequences per step
    lr: float = setting(3e-3, Bound("learning rate", 1e-6, 10.0, kind="float",
                                    offer=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)))  # Adam's learning rate
    clip: float = setting(1.0, Bound("clip", 0.0, 1e6, kind="float"))  # max global gradient norm; 0 turns it off
    # L2 penalty (Adam's weight_decay)
    weight_decay: float = setting(0.0, Bound("weight_decay", 0.0, 1.0, kind="float",
                                             offer=(0.0, 1e-6, 1e-5, 1e-4, 1e-3)))
    val_every: int = setting(50, Bound("val_every", 1, 1_000_000))  # steps between held-out evaluations
    val_batch: int = setting(256, Bound("val_batch", 1, 4096))  # held-out sequences per evaluation
    # early stopping: evaluations without improvement before stopping; 0 = off
    patience: int = setting(0, Bound("patience", 0, 1000))
    device: str = setting("auto", Bound("device", choices=DEVICES, kind="choice"))  # auto: CUDA, then MPS, else CPU
    max_seconds: float | None = setting(None, Bound("max_seconds", 0.001, 1e6, kind="float"))  # training time cap
    target: float | None = setting(None, Bound("target", -1e6, 1e6, kind="float"))  # stop at this held-out metric
    # what `seconds` counts: wall time, or "cpu", this thread's CPU time (robust to other load)
    clock: str = setting("wall", Bound("clock", choices=CLOCKS, kind="choice"))


def pairing_problem(task: TaskConfig, cell: str) -> str | None:
    """Why `cell` may not learn `task` (one clause), or None. A cell that reads the sequence from the right too
    (the bidirectional LSTM) would read the answer of a task whose targets are later inputs (`TaskSpec.causal`:
    the next character, the next value), and could not generate or forecast at all."""
    from .cells import CELLS
    from .tasks import TASKS

    spec, kind = TASKS.get(task.name), CELLS.get(cell)
    if spec is None or kind is None or not (spec.causal and kind.reads_future):
        return None
    return (f"the {kind.label} cannot learn the {task.name} task: its targets are the inputs that come next, and a "
            "model that also reads the sequence from the right would read the answer; choose a cell that reads left "
            "to right, or a task such as revrecall")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; `to_json` is what `config.json` holds."""

    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        problem = pairing_problem(self.task, self.model.cell)
        if problem:
            raise ConfigError(problem + ".")

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
        """Parse `to_query`'s strings; raises ConfigError naming every malformed or out-of-bounds value."""
        problems: list[str] = []
        parts = [c.from_query(query, p, problems) for c, p in ((TaskConfig, "task"), (ModelConfig, "model"),
                                                                (TrainConfig, "train"))]
        if problems:
            raise ConfigError("; ".join(problems) + ".")
        return cls(*parts)


@dataclass(frozen=True)
class LabSpec:
    """The settings of a lab, what a link carries: one task, models side by side (one per cell, the same
    settings but the cell), one training setup. Hashable: identical specs mean identical runs."""

    task: TaskConfig = field(default_factory=TaskConfig)
    models: tuple[ModelConfig, ...] = (ModelConfig(cell="lstm"), ModelConfig(cell="rnn"))
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        cells = [m.cell for m in self.models]
        if not 1 <= len(cells) <= 3 or len(set(cells)) != len(cells):
            raise ConfigError("a lab needs one to three models, each of a different cell.")
        for cell in cells:
            problem = pairing_problem(self.task, cell)
            if problem:
                raise ConfigError(problem + ".")

    @property
    def model_cfgs(self) -> dict[str, ModelConfig]:
        return {m.cell: m for m in self.models}

    def to_query(self) -> dict[str, str]:
        """The settings as URL query parameters (only what differs from the defaults), plus `models`."""
        first = self.models[0].replace(cell="lstm")
        q = {**self.task.to_query("task"), **first.to_query("model"), **self.train.to_query("train")}
        q["models"] = ",".join(m.cell for m in self.models)
        return q

    @classmethod
    def from_query(cls, query: dict[str, str]) -> LabSpec:
        """Rebuild the settings from `to_query`'s parameters; raises ConfigError, one sentence naming every
        malformed or out-of-bounds value.

        A link never names a file on the server: `task.corpus=file` and `task.text_file` are refused, so a link
        cannot make the server read a path of the link's choosing.
        """
        q = {k: str(v) for k, v in query.items()}
        problems: list[str] = []
        if "task.text_file" in q or q.get("task.corpus") == "file":
            problems.append("a link cannot carry an uploaded text; choose the corpus again in Train & compare")
            q = {k: v for k, v in q.items() if k not in ("task.text_file", "task.corpus")}
        cells = [c.strip() for c in q.get("models", "lstm,rnn").split(",") if c.strip()]
        known = _cells()
        if not cells or len(cells) > 3 or len(set(cells)) != len(cells) or any(c not in known for c in cells):
            problems.append(f"models must list up to three of {', '.join(known)} once each, got {q.get('models')!r}")
        if "model.cell" in q:
            problems.append("model.cell cannot be set in a link; use models=lstm,rnn,gru")
        task = TaskConfig.from_query(q, "task", problems)
        model = ModelConfig.from_query(q, "model", problems)
        train = TrainConfig.from_query(q, "train", problems)
        if problems:
            raise ConfigError("; ".join(problems) + ".")
        return cls(task, tuple(model.replace(cell=c) for c in cells), train)

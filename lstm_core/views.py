"""What crosses the boundary between the engine and the pages: frozen records of plain values and numpy arrays.

No torch here, and no live object: a page (or another process) gets a consistent, immutable picture of a run,
never the run itself. `StepRecord` is one optimiser step, `Trace` every gate and state of one sequence, `LabView`
a run's settings, progress and curves at one step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import LabSpec, ModelConfig, TaskConfig, TrainConfig


@dataclass(frozen=True)
class StepRecord:
    step: int  # optimiser steps done so far (1 after the first)
    loss: float  # training loss of this step's batch, before the update
    metric: float  # the task metric on this step's batch
    grad_norm: float  # global gradient norm before clipping
    seconds: float  # training time so far, excluding evaluation
    val_metric: float | None = None  # held-out metric, on evaluation steps only
    val_loss: float | None = None
    stop: str | None = None  # why training stops after this step: steps, seconds, target, early-stop


def latest_val(history) -> float | None:
    """The most recent held-out metric in a sequence of step records (None before the first evaluation)."""
    return next((r.val_metric for r in reversed(history) if r.val_metric is not None), None)


@dataclass(frozen=True)
class LayerTrace:
    h: np.ndarray  # (T, H) hidden state after each step (a bidirectional layer: its left-to-right LSTM's)
    gates: dict[str, np.ndarray]  # (T, H) each, named as in the cell registry: LSTM i, f, g, o, c; GRU r, z, n
    pre: dict[str, np.ndarray]  # (T, H) pre-activations (LSTM i, f, g, o; GRU r, z, n; RNN h)
    grad_h: np.ndarray | None  # (T,) ‖dL/dh_t‖, total derivative through time; None if not asked
    grad_c: np.ndarray | None  # (T,) ‖dL/dc_t‖ for a cell with a cell state (LSTM, peephole), else None
    # time x time arrays (T, T), row t = the step that reads, column s = the step read (attention a and e; zero
    # or NaN above the diagonal, where s > t); empty for cells without attention
    pairs: dict[str, np.ndarray] = field(default_factory=dict)
    # more (T,) gradient norms, keyed by quantity: ‖dL/dh_rev_t‖, ‖dL/dc_rev_t‖ of a bidirectional layer's
    # right-to-left LSTM ("h_rev", "c_rev"); empty for one-way cells
    grads: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Trace:
    cell: str  # a key of cells.CELLS
    x: np.ndarray  # (T, input_size) float32, the exact input of the first recurrent layer
    tokens: tuple[str, ...]  # (T,) input labels for axes
    targets: tuple[str, ...]  # (T,) target labels ("" where nothing is scored)
    output: np.ndarray  # (T, output_size) readout: logits, or predicted values
    predictions: tuple[str, ...]  # (T,) predicted label (argmax) or value
    loss: float  # the task's loss on this sequence
    layers: tuple[LayerTrace, ...] = field(default_factory=tuple)

    def __getattr__(self, name: str):
        """`trace.f`, `trace.c`, ... read the first layer's gates; `trace.h`, `trace.grad_h` likewise."""
        if name.startswith("__") or "layers" not in self.__dict__:
            raise AttributeError(name)
        first = self.layers[0]
        if name in ("h", "grad_h", "grad_c"):
            return getattr(first, name)
        if name in first.gates:
            return first.gates[name]
        raise AttributeError(name)

    @property
    def steps(self) -> int:
        return self.x.shape[0]

    def quantity(self, name: str, layer: int = 0) -> np.ndarray:
        """The (T, H) array of one gate or state (`h` included) of one layer."""
        lt = self.layers[layer]
        if name == "h":
            return lt.h
        if name not in lt.gates:
            raise ValueError(f"a {self.cell} trace has no quantity {name!r}; allowed: {', '.join([*lt.gates, 'h'])}.")
        return lt.gates[name]


@dataclass(frozen=True)
class Clamp:
    """Gate surgery: hold one gate or state of some units at a value over a span of timesteps, while the model
    reads a sequence (lstm_core/surgery.py). A cell-state clamp at 0 wipes the units' memory."""

    quantity: str  # a gate or state of the cell: LSTM i, f, g, o, c; GRU r, z, n, h; RNN h
    value: float
    units: tuple[int, ...] | None = None  # None: every unit
    start: int = 0  # first timestep held
    stop: int = 10**9  # first timestep after the span
    layer: int = 0

    def describe(self) -> str:
        who = "every unit" if self.units is None else ("unit " if len(self.units) == 1 else "units ") + ", ".join(
            str(u) for u in self.units)
        span = f"t = {self.start}" if self.stop == self.start + 1 else f"t = {self.start} to {self.stop - 1}"
        return f"{self.quantity} = {self.value:g} for {who} at {span}"


@dataclass(frozen=True)
class Intervention:
    """A model read twice, as trained and with clamps: its display trace and held-out score each time."""

    clamps: tuple[Clamp, ...]
    before: Trace  # the display sequence as trained (equal to the run's trace, forward only)
    after: Trace  # the same sequence with the clamps held
    loss_before: float  # the task's loss on the held-out set
    loss_after: float
    metric_before: float  # the task's metric on the held-out set (accuracy, mse or bits per character)
    metric_after: float
    held_out: int  # sequences in the held-out set


@dataclass(frozen=True)
class MemoryUnits:
    """Where a recall model keeps the cue: each unit's state during the delay, read as a guess of the cue."""

    quantity: str  # the state read: c for the LSTM, h otherwise
    order: tuple[int, ...]  # units, best first
    accuracy: np.ndarray  # (H,) held-out accuracy of guessing the cue from that unit's mean state over the delay
    chance: float  # 1 / symbols
    sequences: int  # held-out sequences the guesses were scored on


@dataclass(frozen=True)
class TextUnits:
    """Units that track a property of the text: per property, the best unit and its correlation over held-out text."""

    quantity: str  # the state read: c for the LSTM, h otherwise
    best: dict[str, tuple[int, float]]  # property -> (unit, Pearson r)
    correlations: dict[str, np.ndarray]  # property -> (H,) r of every unit
    characters: int  # held-out characters the correlations were measured on


@dataclass(frozen=True)
class TaskInfo:
    """What the pages need to know about a run's task, as plain values."""

    name: str  # a key of tasks.TASKS
    title: str  # one line for the UI
    metric_name: str  # accuracy, mse or bits_per_char
    higher_is_better: bool
    baseline: float | None  # chance / memoryless / persistence value, where the task has one
    baseline_of: str  # "metric" or "loss": which curve the baseline belongs on
    baseline_label: str
    tokens_in: bool  # inputs are symbols (one-hot) rather than values
    display_steps: int  # timesteps of the display sequence
    vocabulary: int  # input symbols (1 for values)
    cue_step: int | None = None  # recall: where the symbol to remember is (memory units are found after it)
    symbols: tuple[str, ...] = ()  # text: the characters the model knows (others are read as the unknown symbol)


@dataclass(frozen=True)
class GradMatrix:
    steps: tuple[int, ...]  # training steps at which the gradient profile was captured
    grads: np.ndarray  # (S, T) ‖dL/dh_t‖ of the display sequence at each of those steps


@dataclass(frozen=True)
class Saturation:
    """How often a model's gates sit at their ends (below 0.1 or above 0.9) on the display sequence."""

    gates: tuple[str, ...]  # the sigmoid gates: LSTM i, f, o; GRU r, z
    steps: tuple[int, ...]  # the training steps measured (the run's snapshots)
    low: np.ndarray  # (S, G) share of all values below 0.1, per step and gate
    high: np.ndarray  # (S, G) share above 0.9
    unit_low: np.ndarray  # (H, G) at `step`: each unit's share of timesteps below 0.1
    unit_high: np.ndarray  # (H, G) at `step`: above 0.9
    step: int


@dataclass(frozen=True)
class LabView:
    """One run as a page sees it: settings, progress and curves, all at one step, immutable."""

    task_cfg: TaskConfig
    train_cfg: TrainConfig
    model_cfgs: dict[str, ModelConfig]  # keyed by model name ("lstm", "rnn", ...), in the order shown
    task: TaskInfo
    step: int  # joint steps done (the smallest over the models)
    done: bool  # the run stopped: its step budget, a stop condition, or an error
    error: str | None  # why the run stopped early (divergence), else None
    histories: dict[str, tuple[StepRecord, ...]]  # per model, one record per step done
    snapshot_steps: dict[str, tuple[int, ...]]  # per model, steps whose weights can be traced (pretrained lessons)
    capture_every: int  # steps between captures of the gradient profile

    @property
    def names(self) -> list[str]:
        return list(self.model_cfgs)

    @property
    def spec(self) -> LabSpec:
        return LabSpec(self.task_cfg, tuple(self.model_cfgs.values()), self.train_cfg)

    def latest_val(self, name: str) -> float | None:
        """The most recent held-out metric of model `name` (None before the first evaluation)."""
        return latest_val(self.histories[name])

    def hidden(self, name: str) -> int:
        return self.model_cfgs[name].hidden

    def cell(self, name: str) -> str:
        return self.model_cfgs[name].cell

"""One learner's experiment: several models trained side by side on the same task, seed and batches.

This is the single place where the model meets the view (as `oneStep` then `updateUI` in TensorFlow
Playground): a page calls `lab.advance(...)` for a time budget, then draws from `lab.histories`,
`lab.trace(name)` and `lab.grad_history`. No Streamlit here: a Lab is a plain object kept in the
session state, so it survives page switches and is tested without a browser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .config import CELLS, ConfigError, ModelConfig, RunConfig, TaskConfig, TrainConfig
from .tasks import Task, make_task
from .trace import Trace, trace
from .train import DivergedError, StepRecord, Trainer

NAMES = {"lstm": "LSTM", "rnn": "vanilla RNN", "gru": "GRU"}


def latest_val(history: list[StepRecord]) -> float | None:
    """The most recent held-out metric in a list of step records (None before the first evaluation)."""
    return next((r.val_metric for r in reversed(history) if r.val_metric is not None), None)


@dataclass
class GradSnapshot:
    step: int  # optimiser steps done when captured
    grad_h: np.ndarray  # (T,) ‖dL/dh_t‖ of the display sequence, first layer
    grad_c: np.ndarray | None  # (T,) ‖dL/dc_t‖ for the LSTM


@dataclass
class Lab:
    task_cfg: TaskConfig
    train_cfg: TrainConfig
    model_cfgs: dict[str, ModelConfig]  # keyed by cell name: "lstm", "rnn", optionally "gru"
    text: str | None = None  # uploaded corpus for the text task, already validated
    capture_every: int = 25  # steps between gradient snapshots of the display sequence
    task: Task = field(init=False)
    trainers: dict[str, Trainer] = field(init=False)
    grad_history: dict[str, list[GradSnapshot]] = field(init=False)
    error: str | None = field(init=False, default=None)  # set when a run diverged; the last good state stays
    snapshots: dict[str, dict[int, dict]] = field(init=False, default_factory=dict)  # pretrained: step -> weights
    _traces: dict = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        seed = self.train_cfg.seed
        self.task = make_task(self.task_cfg, seed, self.text)
        self.trainers = {
            name: Trainer(RunConfig(self.task_cfg, mc, self.train_cfg), task=self.task)
            for name, mc in self.model_cfgs.items()
        }
        self.display = self.task.display(seed)
        self.grad_history = {name: [] for name in self.trainers}
        self._capture()

    # -- state ----------------------------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return min(tr.step for tr in self.trainers.values())

    @property
    def done(self) -> bool:
        return self.error is not None or self.step >= self.train_cfg.steps

    @property
    def histories(self) -> dict[str, list[StepRecord]]:
        return {name: tr.history for name, tr in self.trainers.items()}

    @property
    def step_flops(self) -> float:
        """Estimated floating-point operations of one joint training step, all models: 6 x parameters x
        timesteps x batch each (2 per parameter and token forward, 4 backward; the usual estimate). It is what
        bounds a setting's cost per session (pages/shared.MAX_STEP_FLOPS, measured in bench/bench_limits.py)."""
        T = int(self.display.x.shape[1])
        params = sum(p.numel() for tr in self.trainers.values() for p in tr.model.parameters())
        return 6.0 * params * T * self.train_cfg.batch

    def run_config(self, name: str) -> RunConfig:
        return self.trainers[name].run

    def latest(self, name: str) -> StepRecord | None:
        h = self.trainers[name].history
        return h[-1] if h else None

    def latest_val(self, name: str) -> float | None:
        """The most recent held-out metric of model `name` (None before the first evaluation)."""
        return latest_val(self.trainers[name].history)

    # -- training -------------------------------------------------------------------------------------------
    def advance(self, max_steps: int, max_seconds: float = float("inf")) -> int:
        """Train every model on the same next batches, up to `max_steps` joint steps or `max_seconds` of wall
        time, whichever first. Returns the steps taken. A divergence stops the lab with `self.error` set."""
        t0, n = time.perf_counter(), 0
        while n < max_steps and not self.done and time.perf_counter() - t0 < max_seconds:
            for name, tr in self.trainers.items():
                try:
                    tr.next_record()
                except DivergedError as e:
                    self.error = f"{NAMES[name]}: {e}"
                    return n
            n += 1
            if self.step % self.capture_every == 0:
                self._capture()
        return n

    def _capture(self) -> None:
        for name, tr in self.trainers.items():
            t = self.trace(name)
            self.grad_history[name].append(GradSnapshot(tr.step, t.grad_h, t.grad_c))

    def load_weights(self, name: str, state: dict, history: list[StepRecord] | None = None) -> None:
        """Put checked weights (`runs.model_from_state`: keys, shapes, finite values) into model `name`, with
        the curves that led to them (`history`, else none: the step count restarts at 0). The optimiser starts
        afresh; traces and gradient snapshots are recomputed from the loaded weights."""
        from .runs import model_from_state

        tr = self.trainers[name]
        checked = model_from_state(tr.run, self.task, state)
        tr.model.load_state_dict(checked.state_dict())
        tr.history[:] = list(history or [])
        tr.step = tr.history[-1].step if tr.history else 0
        tr.seconds = tr.history[-1].seconds if tr.history else 0.0
        tr.restore_point()
        self._traces.clear()
        self.grad_history[name] = []
        if not self.snapshots.get(name):
            t = self.trace(name)
            self.grad_history[name].append(GradSnapshot(tr.step, t.grad_h, t.grad_c))

    # -- views ----------------------------------------------------------------------------------------------
    def trace(self, name: str) -> Trace:
        """Trace of the display sequence for model `name` at its current step (cached per step)."""
        tr = self.trainers[name]
        key = (name, tr.step)
        if key not in self._traces:
            if len(self._traces) > 64:
                self._traces.clear()
            self._traces[key] = trace(tr.model, self.task, self.display)
        return self._traces[key]

    def trace_at(self, name: str, step: int) -> Trace:
        """Trace of the display sequence with the weights saved at `step` (a pretrained lesson's snapshot);
        the current weights when there is no snapshot for that step."""
        snaps = self.snapshots.get(name, {})
        if step not in snaps or step == self.trainers[name].step:
            return self.trace(name)
        key = (name, "snapshot", step)
        if key not in self._traces:
            from .models import build_model

            tr = self.trainers[name]
            model = build_model(tr.run.model, self.task, tr.run.train.seed)
            model.load_state_dict(snaps[step])
            self._traces[key] = trace(model.to(tr.device), self.task, self.display)
        return self._traces[key]

    def grad_matrix(self, name: str) -> tuple[list[int], np.ndarray]:
        """(steps, (S, T) array of ‖dL/dh_t‖) for the training-step × timestep heatmap."""
        if not self.grad_history[name] and self.snapshots.get(name):  # a pretrained lesson: from its snapshots
            for step in sorted(self.snapshots[name]):
                t = self.trace_at(name, step)
                self.grad_history[name].append(GradSnapshot(step, t.grad_h, t.grad_c))
        snaps = self.grad_history[name]
        return [s.step for s in snaps], np.stack([s.grad_h for s in snaps])


def headline_lab(seed: int = 0, with_gru: bool = False, steps: int = 1500) -> Lab:
    """The lesson a teacher starts with: remember a symbol over 100 steps, LSTM against a vanilla RNN."""
    models = {"lstm": ModelConfig(cell="lstm"), "rnn": ModelConfig(cell="rnn")}
    if with_gru:
        models["gru"] = ModelConfig(cell="gru")
    return Lab(TaskConfig(name="recall", lag=100), TrainConfig(seed=seed, steps=steps), models)


@dataclass(frozen=True)
class ExplodeResult:
    histories: dict[str, list[StepRecord]]  # "no clipping" and "clipped at 1": one record per step
    diverged: dict[str, int | None]  # step at which a run produced NaN/inf (and stopped), else None
    radius: float  # spectral radius of the RNN's initial W_hh


def exploding_demo(seed: int = 0, init_scale: float = 3.0, lr: float = 1e-2, steps: int = 150,
                   lag: int = 30) -> ExplodeResult:
    """A vanilla RNN whose recurrent weights start large (spectral radius > 1), trained twice on identical
    batches: once without clipping and once with the global gradient norm clipped at 1."""
    from .trace import spectral_radius

    task_cfg = TaskConfig(name="recall", lag=lag)
    model_cfg = ModelConfig(cell="rnn", init_scale=init_scale)
    runs = {"no clipping": 0.0, "clipped at 1": 1.0}
    trainers = {k: Trainer(RunConfig(task_cfg, model_cfg, TrainConfig(seed=seed, lr=lr, clip=c, steps=steps)))
                for k, c in runs.items()}
    radius = spectral_radius(trainers["no clipping"].model)
    diverged: dict[str, int | None] = {k: None for k in runs}
    for _ in range(steps):
        for k, tr in trainers.items():
            if diverged[k] is None:
                try:
                    tr.next_record()
                except DivergedError:
                    diverged[k] = tr.step + 1
    return ExplodeResult({k: tr.history for k, tr in trainers.items()}, diverged, radius)


def lab_to_query(lab: Lab) -> dict[str, str]:
    """The lab's settings as URL query parameters (only what differs from the defaults), plus `models`."""
    first = next(iter(lab.model_cfgs.values())).replace(cell="lstm")
    q = {**lab.task_cfg.to_query("task"), **first.to_query("model"), **lab.train_cfg.to_query("train")}
    q["models"] = ",".join(lab.model_cfgs)
    return q


def lab_from_query(query: dict[str, str]) -> Lab:
    """Rebuild a lab from `lab_to_query`'s parameters; raises ConfigError (one sentence) on anything malformed.

    A link never names a file on the server: `task.corpus=file` and `task.text_file` are refused, so a link
    cannot make the server read a path of the link's choosing.
    """
    q = {k: str(v) for k, v in query.items()}
    if "task.text_file" in q or q.get("task.corpus") == "file":
        raise ConfigError("a link cannot carry an uploaded text; choose the corpus again in Train & compare.")
    cells = [c.strip() for c in q.get("models", "lstm,rnn").split(",") if c.strip()]
    if not cells or len(cells) > 3 or len(set(cells)) != len(cells) or any(c not in CELLS for c in cells):
        raise ConfigError(f"models must list up to three of {', '.join(CELLS)} once each, got {q.get('models')!r}.")
    if "model.cell" in q:
        raise ConfigError("model.cell cannot be set in a link; use models=lstm,rnn,gru.")
    task = TaskConfig.from_query(q, "task")
    model = ModelConfig.from_query(q, "model")
    train = TrainConfig.from_query(q, "train")
    return Lab(task, train, {c: model.replace(cell=c) for c in cells})

"""One learner's experiment: several models trained side by side on the same task, seed and batches.

The Lab is the only door between the pages and the engine (as `oneStep` then `updateUI` in TensorFlow
Playground): a page takes `lab.view()`, an immutable `LabView` of the settings, progress and curves at one
step, and asks for anything else through a method that returns numpy arrays or plain values (`trace`,
`passage`, `forecast`, `sample_text`, `explain_step`, `spectral_radius`, `grad_matrix`, `run_archive`). No
torch object crosses it, so a Lab can live in another process. No Streamlit here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import limits
from .config import LabSpec, ModelConfig, RunConfig, TaskConfig, TrainConfig
from .errors import ConfigError, DataError, DivergedError, RunError
from .models import build_model
from .tasks import make_task
from .tasks.base import Task
from .trace import explain_step, spectral_radius, trace
from .train import Trainer
from .views import GradMatrix, LabView, Saturation, StepRecord, TaskInfo, Trace

CAPTURE_EVERY = 25  # steps between captures of the display sequence's gradient profile


@dataclass
class Lab:
    task_cfg: TaskConfig
    train_cfg: TrainConfig
    model_cfgs: dict[str, ModelConfig]  # keyed by model name: "lstm", "rnn", optionally "gru"
    text: str | None = None  # uploaded corpus for the text task, already validated
    check_limits: bool = True  # refuse settings over the per-session limits (lstm_core.limits) before building
    capture_every: int = CAPTURE_EVERY
    task: Task = field(init=False)
    trainers: dict[str, Trainer] = field(init=False)
    error: str | None = field(init=False, default=None)  # set when a run diverged; the last good state stays
    snapshots: dict[str, dict[int, dict]] = field(init=False, default_factory=dict)  # step -> weights
    frames: dict[int, dict] = field(init=False, default_factory=dict)  # step -> checkpoint() (lstm_core.pool)
    live_snapshots: set[int] = field(init=False, default_factory=set)  # frames kept to scrub through (pool.run)
    _grads: dict[str, list[tuple[int, np.ndarray]]] = field(init=False)  # per model: (step, ‖dL/dh_t‖)
    _traces: dict = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.check_limits:  # from the settings alone, before any data or model is built
            limits.check(self.task_cfg, self.model_cfgs.values(), self.train_cfg, self.text)
        seed = self.train_cfg.seed
        self.task = make_task(self.task_cfg, seed, self.text)
        self.trainers = {
            name: Trainer(RunConfig(self.task_cfg, mc, self.train_cfg), task=self.task)
            for name, mc in self.model_cfgs.items()
        }
        self._display = self.task.display(seed)
        self._grads = {name: [] for name in self.trainers}
        self._capture()

    @classmethod
    def from_spec(cls, spec: LabSpec, text: str | None = None) -> Lab:
        return cls(spec.task, spec.train, spec.model_cfgs, text=text)

    @property
    def spec(self) -> LabSpec:
        return LabSpec(self.task_cfg, tuple(self.model_cfgs.values()), self.train_cfg)

    # -- state ----------------------------------------------------------------------------------------------
    @property
    def step(self) -> int:
        return min(tr.step for tr in self.trainers.values())

    @property
    def done(self) -> bool:
        return self.error is not None or self.step >= self.train_cfg.steps

    def task_info(self) -> TaskInfo:
        t = self.task
        return TaskInfo(name=t.name, title=t.title, metric_name=t.metric_name, higher_is_better=t.higher_is_better,
                        baseline=t.baseline, baseline_of=t.baseline_of, baseline_label=t.baseline_label,
                        tokens_in=t.tokens_in, display_steps=int(self._display.x.shape[1]),
                        vocabulary=t.input_size, cue_step=getattr(t, "cue_step", None),
                        symbols=tuple(getattr(t, "chars", ())))

    def view(self, step: int | None = None, since: dict[str, int] | None = None) -> LabView:
        """The run at `step` (default: now): settings, progress and curves, immutable (the histories are copied).
        With `since` (model -> records the caller has), each history holds only the records after those."""
        at = self.step if step is None else min(step, self.step)
        hist = {n: tr.history[:at] for n, tr in self.trainers.items()}
        stopped = any(h and h[-1].stop for h in hist.values())
        error = self.error if at == self.step else None
        done = error is not None or stopped or at >= self.train_cfg.steps
        since = since or {}
        return LabView(task_cfg=self.task_cfg, train_cfg=self.train_cfg, model_cfgs=dict(self.model_cfgs),
                       task=self.task_info(), step=at, done=done, error=error,
                       histories={n: tuple(h[since.get(n, 0):]) for n, h in hist.items()},
                       snapshot_steps={n: tuple(sorted(set(self.snapshots.get(n, {})) |
                                                       {s for s in self.live_snapshots if s <= at}))
                                       for n in self.trainers if self.snapshots.get(n) or self.live_snapshots},
                       capture_every=self.capture_every)

    def run_config(self, name: str) -> RunConfig:
        return self.trainers[name].run

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
                    self.error = f"{self.model_label(name)}: {e}"
                    return n
            n += 1
            if self.step % self.capture_every == 0:
                self._capture()
        return n

    def checkpoint(self) -> dict:
        """The whole training state at this step (see `Trainer.state`), for `restore` or `fork`."""
        return {"trainers": {n: tr.state() for n, tr in self.trainers.items()}, "error": self.error,
                "grads": {n: list(g) for n, g in self._grads.items()}}

    def restore(self, ckpt: dict, histories: dict[str, list[StepRecord]] | None = None) -> None:
        """Go to the state `ckpt` holds; `histories` gives the records (default: this lab's, cut at its step)."""
        for n, tr in self.trainers.items():
            tr.load_state(ckpt["trainers"][n], list(histories[n]) if histories else tr.history)
        self.error = ckpt["error"]
        self._grads = {n: list(g) for n, g in ckpt["grads"].items()}

    def fork(self, ckpt: dict) -> Lab:
        """A new lab on the same task data, at the state `ckpt`, with this lab's records up to that step:
        training it on reproduces this lab's steps exactly (batch k is a function of the seed and k)."""
        twin = object.__new__(Lab)
        twin.__dict__.update(self.__dict__)
        twin.trainers = {n: Trainer(tr.run, task=self.task) for n, tr in self.trainers.items()}
        twin.snapshots, twin.frames, twin.live_snapshots, twin._traces = {}, {}, set(), {}
        twin.restore(ckpt, {n: list(tr.history) for n, tr in self.trainers.items()})
        return twin

    def model_label(self, name: str) -> str:
        from .cells import label

        return label(name)

    def _capture(self) -> None:
        for name, tr in self.trainers.items():
            self._grads[name].append((tr.step, self.trace(name).grad_h))

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
        self._grads[name] = []
        if not self.snapshots.get(name):
            self._grads[name].append((tr.step, self.trace(name).grad_h))

    # -- views: numpy arrays and plain values ---------------------------------------------------------------
    def _model_at(self, name: str, step: int | None):
        """The model of `name` with its weights at `step` (a frame, or a snapshot of a pretrained lesson), else
        its current weights."""
        tr = self.trainers[name]
        if step is None or step == tr.step:
            return tr.model, tr.step
        if step in self.frames:
            weights = self.frames[step]["trainers"][name]["snap"]["model"]
        elif step in self.snapshots.get(name, {}):
            weights = self.snapshots[name][step]
        else:
            return tr.model, tr.step
        model = build_model(tr.run.model, self.task, tr.run.train.seed)
        model.load_state_dict(weights)
        return model.to(tr.device), step

    def trace(self, name: str, step: int | None = None) -> Trace:
        """Trace of the display sequence for model `name`, with ‖dL/dh_t‖: at its current step, or at `step`
        when the run holds a weight snapshot for it (a pretrained lesson); cached per step."""
        model, at = self._model_at(name, step)
        key = (name, at)
        if key not in self._traces:
            if len(self._traces) > 64:
                self._traces.clear()
            self._traces[key] = trace(model, self.task, self._display)
        return self._traces[key]

    def passage(self, name: str, chars: int, step: int | None = None) -> Trace:
        """Forward-only trace of the first `chars` characters of the held-out text (the text task only)."""
        if not hasattr(self.task, "passage"):
            raise ValueError(f"the {self.task.name} task has no held-out passage; only the text task has one.")
        return trace(self._model_at(name, step)[0], self.task, self.task.passage(chars), grads=False)

    def display_values(self, step: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The display sequence's inputs and targets as (T,) values (value tasks: sine, series)."""
        if self.task.tokens_in:
            raise ValueError(f"the {self.task.name} task reads symbols, not values.")
        return self._display.x[0, :, 0].numpy(), self._display.y[0, :, 0].numpy()

    def forecast(self, name: str, horizon: int, step: int | None = None) -> np.ndarray:
        """Free-running forecast (horizon,): model `name` reads the display sequence, then its own predictions."""
        from .sample import forecast

        return forecast(self._model_at(name, step)[0], self._display.x[0], horizon).numpy()

    def sample_text(self, name: str, prompt: str, n: int, temperature: float, seed: int,
                    step: int | None = None) -> str:
        """`n` characters continuing `prompt`, sampled from model `name` at `temperature` (text task only)."""
        from .sample import sample_text

        return sample_text(self._model_at(name, step)[0], self.task, prompt, n, temperature, seed)

    def explain_step(self, name: str, t: int, unit: int, step: int | None = None) -> dict[str, float | str]:
        """The LSTM equations of one unit at one timestep with their numbers (see `trace.explain_step`)."""
        model, at = self._model_at(name, step)
        return explain_step(model, self.trace(name, at), t, unit)

    def spectral_radius(self, name: str, step: int | None = None) -> float:
        return spectral_radius(self._model_at(name, step)[0])

    def saturation(self, name: str, step: int | None = None) -> Saturation:
        """How saturated model `name`'s gates are on the display sequence, over training: at each snapshot up to
        `step`, the share of gate values below 0.1 and above 0.9 per gate; and, at `step`, each unit's share of
        timesteps below 0.1 and above 0.9 (Karpathy, Johnson and Fei-Fei's left- and right-saturated units)."""
        from .cells import CELLS, QUANTITIES

        gates = tuple(q for q in CELLS[self.model_cfgs[name].cell].gates if QUANTITIES[q].range == "gate")
        at = self.trainers[name].step if step is None else step
        snaps = sorted(set(self.snapshots.get(name, {})) | self.live_snapshots | {at})
        steps = [s for s in snaps if s <= at]
        low, high = np.zeros((len(steps), len(gates))), np.zeros((len(steps), len(gates)))
        for k, s in enumerate(steps):
            tr = self.trace(name, s)
            for j, q in enumerate(gates):
                g = tr.quantity(q)
                low[k, j], high[k, j] = (g < 0.1).mean(), (g > 0.9).mean()
        now = self.trace(name, at)
        unit_low = np.stack([(now.quantity(q) < 0.1).mean(0) for q in gates], 1) if gates else np.zeros((0, 0))
        unit_high = np.stack([(now.quantity(q) > 0.9).mean(0) for q in gates], 1) if gates else np.zeros((0, 0))
        return Saturation(gates=gates, steps=tuple(steps), low=low, high=high, unit_low=unit_low,
                          unit_high=unit_high, step=at)

    def grad_matrix(self, name: str, step: int | None = None) -> GradMatrix:
        """The display sequence's ‖dL/dh_t‖ captured during training (every `capture_every` steps, up to `step`),
        or, for a pretrained lesson, at each of its weight snapshots: the training-step x timestep heatmap."""
        if not self._grads[name] and self.snapshots.get(name):
            self._grads[name] = [(s, self.trace(name, s).grad_h) for s in sorted(self.snapshots[name])]
        at = self.step if step is None else step
        caps = [c for c in self._grads[name] if c[0] <= at] or self._grads[name][:1]
        return GradMatrix(tuple(s for s, _ in caps), np.stack([g for _, g in caps]))

    def intervene(self, name: str, clamps: tuple, step: int | None = None):
        """Gate surgery on model `name`: the display sequence and the held-out set with `clamps` held, next to
        the same without (lstm_core/surgery.py)."""
        from .surgery import intervene

        model, _ = self._model_at(name, step)
        return intervene(model, self.task, self._display, self.trainers[name]._val, clamps)

    def memory_units(self, name: str, step: int | None = None):
        """Units of model `name` ranked by how well their state during the delay guesses the cue (recall)."""
        from .probe import memory_units

        model, at = self._model_at(name, step)
        key = (name, at, "memory")
        if key not in self._traces:
            self._traces[key] = memory_units(model, self.task, self.train_cfg.seed)
        return self._traces[key]

    def text_units(self, name: str, step: int | None = None):
        """Units of model `name` that track a property of held-out text (the text task)."""
        from .probe import text_units

        if not hasattr(self.task, "passage"):
            raise ValueError(f"the {self.task.name} task has no text.")
        model, at = self._model_at(name, step)
        key = (name, at, "text")
        if key not in self._traces:
            self._traces[key] = text_units(model, self.task)
        return self._traces[key]

    def run_archive(self, name: str, step: int | None = None) -> bytes:
        """Model `name` as a run .zip: config.json, metrics.jsonl and model.pt, as `train --out` writes them
        (plus corpus.txt for a text run on an uploaded corpus)."""
        from .archive import run_zip_bytes

        tr = self.trainers[name]
        model, at = self._model_at(name, step)
        return run_zip_bytes(tr.run, model, list(tr.history[:at]), self.text)


def lab_from_run(run: RunConfig, state: dict, text: str | None = None, metrics: list[dict] | None = None) -> Lab:
    """A Lab with the one model of `run`, holding the weights `state` (checked first), at the step its `metrics`
    (metrics.jsonl rows) reached, with those curves: it goes on from there. The optimiser starts afresh (a run
    archive holds weights, not the optimiser's state)."""
    from .archive import needs_text

    if needs_text(run) and text is None:
        raise RunError("the run learns an uploaded text, and that text was not given.")
    name = run.model.cell
    try:
        lab = Lab(run.task, run.train, {name: run.model}, text=text if needs_text(run) else None)
    except DataError as e:
        raise RunError(f"the run's task cannot be built: {e}") from None
    from .runs import records

    try:
        history = records(metrics or [], lab.task.metric_name)
    except (KeyError, TypeError, ValueError):
        raise RunError("the run's metrics.jsonl does not hold the fields a step record needs.") from None
    lab.load_weights(name, state, history)
    return lab


def lab_from_archive(data: bytes) -> Lab:
    """A Lab holding the one model of a run archive, validated first (`archive.load_run_zip`)."""
    from .archive import load_run_zip

    archive = load_run_zip(data)
    try:
        return lab_from_run(archive.run, archive.state, archive.text, archive.metrics)
    except (ConfigError, DataError) as e:
        raise RunError(str(e)) from None


def headline_lab(seed: int = 0, with_gru: bool = False, steps: int = 1500) -> Lab:
    """The lesson a teacher starts with: remember a symbol over 100 steps, LSTM against a vanilla RNN."""
    models = {"lstm": ModelConfig(cell="lstm"), "rnn": ModelConfig(cell="rnn")}
    if with_gru:
        models["gru"] = ModelConfig(cell="gru")
    return Lab(TaskConfig(name="recall", lag=100), TrainConfig(seed=seed, steps=steps), models)

"""Training as a generator of step records, on PyTorch's fused kernels.

`Trainer(run).steps()` yields one `StepRecord` per optimiser step; the caller decides how many to pull, so a
UI can pause between any two steps, draw, and resume. Batch k is a pure function of the seed and k, so models
trained with the same seed see identical batches (`lab.Lab` steps several side by side).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import torch

from .config import RunConfig
from .errors import DivergedError
from .models import SeqModel, build_model, pick_device
from .tasks import make_task
from .tasks.base import Task
from .views import StepRecord


def configure_torch(threads: int = 1) -> None:
    """One thread (two threads under load made tiny steps 400x slower, measured) and no denormals
    (vanishing gradients become denormal floats, which slowed a stuck run 3x)."""
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)


def param_groups(model: SeqModel, lr: float, input_lr_scale: float = 1.0) -> list[dict]:
    """Adam's parameter groups: the first layer's input weights W_ih learn `input_lr_scale` times faster when
    the input is one-hot, every other weight at `lr`.

    With one-hot input, column c of W_ih is character c's input vector, and Adam moves every weight by about
    lr a step, so that vector moves about lr per coordinate per step. Behind an embedding (the usual char-rnn:
    nn.Embedding(V, 64) -> nn.LSTM) the same vector is W_ih·e_c and moves about 64 times faster, because both
    factors move. On text that made a one-hot LSTM learn far less per step (measured: Text.input_lr_scale).
    """
    if not model.tokens_in or input_lr_scale == 1.0:
        return [{"params": list(model.parameters())}]
    w_ih = model.rnn[0].weight_ih_l0
    rest = [p for p in model.parameters() if p is not w_ih]
    return [{"params": [w_ih], "lr": lr * input_lr_scale}, {"params": rest}]


class Trainer:
    def __init__(self, run: RunConfig, task: Task | None = None, model: SeqModel | None = None):
        self.run = run
        self.task = task if task is not None else make_task(run.task, run.train.seed)
        self.device = pick_device(run.train.device)
        seed = run.train.seed
        self.model = (model if model is not None else build_model(run.model, self.task, seed)).to(self.device)
        self.model.dropout_gen = torch.Generator().manual_seed(seed + 7)
        tc = run.train
        groups = param_groups(self.model, tc.lr, self.task.input_lr_scale)
        self.opt = torch.optim.Adam(groups, lr=tc.lr, weight_decay=tc.weight_decay)
        self.step = 0
        self.seconds = 0.0
        self.best: float | None = None
        self.bad_evals = 0
        self.history: list[StepRecord] = []
        self._good_state = self._snapshot()
        self._val = self.task.val_batch(tc.val_batch, seed)

    def _snapshot(self) -> dict:
        return {
            "step": self.step,
            "seconds": self.seconds,
            "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "opt": {"state": {k: {n: t.clone() if torch.is_tensor(t) else t for n, t in s.items()}
                              for k, s in self.opt.state_dict()["state"].items()},
                    "param_groups": self.opt.state_dict()["param_groups"]},
        }

    def state(self) -> dict:
        """Everything training depends on besides the task: weights, optimiser, step, clock, early-stopping
        counters, the dropout generator and the restore point. `load_state` of it continues exactly as this
        trainer would (tests/test_train.py holds the records equal)."""
        return {"snap": self._snapshot(), "best": self.best, "bad_evals": self.bad_evals,
                "dropout": self.model.dropout_gen.get_state(), "good": self._good_state}

    def load_state(self, state: dict, history: list[StepRecord]) -> None:
        """Continue from `state` (see `state`), with `history` the records of the steps that led to it."""
        snap = state["snap"]
        self.model.load_state_dict(snap["model"])
        self.opt.load_state_dict(snap["opt"])
        self.step, self.seconds = snap["step"], snap["seconds"]
        self.best, self.bad_evals = state["best"], state["bad_evals"]
        self.model.dropout_gen.set_state(state["dropout"])
        self._good_state = state["good"]
        self.history[:] = history[:self.step]

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> StepRecord:
        """One optimiser step on the given batch. On NaN/inf raises DivergedError and keeps the last good
        state: no update is applied, so weights, optimiser, step and history stay as after the last good
        step; only if the weights themselves are no longer finite does it go back to the last snapshot."""
        tc = self.run.train
        clock = time.thread_time if tc.clock == "cpu" else time.perf_counter
        t0 = clock()
        self.model.train()
        x, y = x.to(self.device), y.to(self.device)
        out = self.model(x)
        loss = self.task.loss(out, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for p in self.model.parameters() if p.grad is not None]
        max_norm = tc.clip if tc.clip > 0 else math.inf
        gnorm = torch.nn.utils.clip_grad_norm_(params, max_norm).item()
        lv = loss.item()
        if not (math.isfinite(lv) and math.isfinite(gnorm)):
            bad_step = self.step + 1
            self.opt.zero_grad(set_to_none=True)
            if not all(torch.isfinite(p).all() for p in self.model.parameters()):
                self.restore_good()
            raise DivergedError(
                f"training diverged at step {bad_step} (loss {lv:g}, gradient norm {gnorm:g}); the model was "
                f"restored to its last good state (step {self.step}). Lower the learning rate or turn on clipping."
            )
        self.opt.step()
        self.step += 1
        self.seconds += clock() - t0
        metric = self._metric(out.detach(), y, lv)
        rec = StepRecord(self.step, lv, metric, gnorm, self.seconds)
        if self.step % 25 == 0:
            self.restore_point()
        return rec

    def restore_point(self) -> None:
        """Remember the current weights as the state to return to if training diverges."""
        self._good_state = self._snapshot()

    def restore_good(self) -> None:
        """Go back to the last snapshot: weights, optimiser, step count and history, all consistent."""
        self.model.load_state_dict(self._good_state["model"])
        self.opt.load_state_dict(self._good_state["opt"])
        self.step, self.seconds = self._good_state["step"], self._good_state["seconds"]
        self.history[:] = [r for r in self.history if r.step <= self.step]

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float]:
        """(loss, metric) on the fixed held-out batch."""
        self.model.eval()
        x, y = self._val.x.to(self.device), self._val.y.to(self.device)
        out = self.model(x)
        self.model.train()
        lv = self.task.loss(out, y).item()
        return lv, self._metric(out, y, lv)

    def _metric(self, out: torch.Tensor, y: torch.Tensor, loss: float) -> float:
        """The task metric; bits per character is the loss in bits (no second cross-entropy: 0.4 ms a step,
        about 1 % of a text step at H 64, B 32, measured; and half of each evaluation's cross-entropy)."""
        if self.task.metric_name == "bits_per_char":
            return loss / math.log(2)
        return self.task.metric(out, y)

    def next_record(self) -> StepRecord:
        """Train on batch `self.step` of this seed, evaluate when due, decide whether to stop."""
        tc = self.run.train
        b = self.task.batch(tc.batch, tc.seed, self.step)
        rec = self.train_step(b.x, b.y)
        stop = None
        if rec.step % tc.val_every == 0 or rec.step >= tc.steps or (
            tc.max_seconds is not None and rec.seconds >= tc.max_seconds
        ):
            vl, vm = self.evaluate()
            rec = StepRecord(rec.step, rec.loss, rec.metric, rec.grad_norm, rec.seconds, vm, vl)
            stop = self._stop_reason(vm)
        if stop is None and rec.step >= tc.steps:
            stop = "steps"
        if stop is None and tc.max_seconds is not None and rec.seconds >= tc.max_seconds:
            stop = "seconds"
        if stop:
            rec = StepRecord(rec.step, rec.loss, rec.metric, rec.grad_norm, rec.seconds, rec.val_metric,
                             rec.val_loss, stop)
        self.history.append(rec)
        return rec

    def _stop_reason(self, vm: float) -> str | None:
        tc = self.run.train
        if tc.target is not None and self.task.reached(vm, tc.target):
            return "target"
        if tc.patience > 0:
            better = self.best is None or (vm > self.best if self.task.higher_is_better else vm < self.best)
            if better:
                self.best, self.bad_evals = vm, 0
            else:
                self.bad_evals += 1
                if self.bad_evals >= tc.patience:
                    return "early-stop"
        return None

    def steps(self) -> Iterator[StepRecord]:
        """Yield records until a stop condition; resumable: calling again continues from `self.step`."""
        while True:
            rec = self.next_record()
            yield rec
            if rec.stop:
                return

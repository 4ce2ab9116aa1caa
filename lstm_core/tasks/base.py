"""What every task provides: batches, loss, metric, baseline and token labels, behind one small interface.

Inputs are either token ids `(B, T)` int64 (the model one-hot encodes them) or values `(B, T, 1)` float32.
Targets are `(B, T)` int64 with `IGNORE` where no answer is asked, or `(B, T, 1)` float32 for regression.
Randomness comes only from the `torch.Generator` passed in, so one seed fixes every batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..config import TaskConfig

IGNORE = -100  # target value at timesteps where no answer is scored


@dataclass(frozen=True)
class Batch:
    x: torch.Tensor  # (B, T) int64 tokens, or (B, T, 1) float32 values
    y: torch.Tensor  # (B, T) int64 classes with IGNORE, or (B, T, 1) float32 targets


def batch_generator(seed: int, stream: int) -> torch.Generator:
    """A generator for one numbered stream of a seed: step k of training is stream k, so batches are
    identical for every model trained with the same seed and do not depend on what ran before."""
    return torch.Generator().manual_seed((seed * 1_000_003 + stream) % (2**63 - 1))


VAL_STREAM = -1  # stream number of the fixed held-out batch
DISPLAY_STREAM = -2  # stream number of the fixed display sequence


class Task:
    """Base class. Every subclass is built as `Cls(cfg, seed, text)`; it sets the attributes below (name, title
    and metric come from its registry entry) and implements `sample`."""

    tokens_in: bool = True  # inputs are token ids (one-hot encoded by the model) rather than values
    input_size: int = 1  # width of the one-hot or value input
    output_size: int = 1  # classes, or 1 for regression
    baseline: float | None = None  # chance/memoryless value of `baseline_of`
    baseline_of: str = "metric"  # "metric" or "loss": which curve the baseline belongs on
    baseline_label: str = ""
    horizon: int = 100  # characteristic time lag, used by chrono initialisation
    input_lr_scale: float = 1.0  # Adam lr multiplier of the first layer's one-hot input weights (train.param_groups)
    steps: int = 1  # timesteps of one sequence

    def __init__(self, cfg: TaskConfig, seed: int = 0, text: str | None = None):
        from . import TASKS

        spec = TASKS[cfg.name]
        self.cfg, self.name, self.title, self.metric_name = cfg, spec.name, spec.title, spec.metric
        self.higher_is_better = spec.higher_is_better
        self.gate_init = spec.gate_init  # what ModelConfig.gate_init "auto" resolves to for this task

    def sample(self, n: int, gen: torch.Generator, split: str) -> Batch:
        raise NotImplementedError

    # -- shared pieces --------------------------------------------------------------------------------------
    def batch(self, n: int, seed: int, step: int) -> Batch:
        """Training batch for optimiser step `step` (0-based) of a run with `seed`."""
        return self.sample(n, batch_generator(seed, step), "train")

    def val_batch(self, n: int, seed: int) -> Batch:
        return self.sample(n, batch_generator(seed, VAL_STREAM), "val")

    def display(self, seed: int) -> Batch:
        """The one sequence every view shows for this seed: fixed, held out from training."""
        return self.sample(1, batch_generator(seed, DISPLAY_STREAM), "val")

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean loss over scored timesteps. out: (B, T, output_size)."""
        if self.tokens_out:
            return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=IGNORE)
        return F.mse_loss(out, y)

    @property
    def tokens_out(self) -> bool:
        return self.metric_name != "mse"

    @torch.no_grad()
    def metric(self, out: torch.Tensor, y: torch.Tensor) -> float:
        if self.metric_name == "accuracy":
            scored = y != IGNORE
            return (out.argmax(-1)[scored] == y[scored]).float().mean().item()
        if self.metric_name == "bits_per_char":
            return self.loss(out, y).item() / math.log(2)
        return F.mse_loss(out, y).item()

    def reached(self, value: float, target: float) -> bool:
        return value >= target if self.higher_is_better else value <= target

    def token_labels(self, x: torch.Tensor) -> list[str]:
        """Labels for one input sequence (T,) or (T, 1), for axis ticks."""
        if not self.tokens_in:
            return [f"{v:.2f}" for v in x.reshape(-1).tolist()]
        return [self.symbol(int(t)) for t in x.reshape(-1).tolist()]

    def target_labels(self, y: torch.Tensor) -> list[str]:
        if not self.tokens_out:
            return [f"{v:.2f}" for v in y.reshape(-1).tolist()]
        return ["" if int(t) == IGNORE else self.out_symbol(int(t)) for t in y.reshape(-1).tolist()]

    def symbol(self, token: int) -> str:
        return str(token)

    def out_symbol(self, token: int) -> str:
        return self.symbol(token)


class ValueTask(Task):
    """A task on real values (one in, one out, next-value prediction), scored against persistence: "the next
    value is the last one", measured on the fixed held-out batch."""

    tokens_in = False
    baseline_of = "metric"

    def __init__(self, cfg: TaskConfig, seed: int = 0, text: str | None = None):
        super().__init__(cfg, seed, text)
        self.t = self.horizon = cfg.seq_len
        self.input_size, self.output_size, self.steps = self.sizes(cfg)

    @staticmethod
    def sizes(cfg: TaskConfig, text: str | None = None) -> tuple[int, int, int]:
        """(input width, output width, timesteps): one value in, one value out."""
        return 1, 1, cfg.seq_len

    def persistence(self, seed: int) -> float:
        """Mean squared error of predicting x_(t+1) = x_t on the held-out batch."""
        b = self.sample(256, batch_generator(seed, VAL_STREAM), "val")
        return torch.mean((b.x - b.y) ** 2).item()

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

IGNORE = -100  # target value at timesteps where no answer is scored


class DataError(ValueError):
    """Task data cannot be used (an unreadable corpus, a series too short); the message says why."""


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
    """Base class. Subclasses set the attributes below and implement `sample`."""

    name: str = ""
    title: str = ""  # one line for the UI
    tokens_in: bool = True  # inputs are token ids (one-hot encoded by the model) rather than values
    input_size: int = 1  # width of the one-hot or value input
    output_size: int = 1  # classes, or 1 for regression
    metric_name: str = "accuracy"  # accuracy, mse or bits_per_char
    higher_is_better: bool = True
    baseline: float | None = None  # chance/memoryless value of `baseline_of`
    baseline_of: str = "metric"  # "metric" or "loss": which curve the baseline belongs on
    baseline_label: str = ""
    horizon: int = 100  # characteristic time lag, used by chrono initialisation

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

"""Next-value prediction on mixtures of two sines with random frequencies, phases and amplitudes.

Input x_t, target x_{t+1}. The baseline is persistence (predict x_t), measured on the held-out batch.
Free-running forecasts feed the model's own predictions back (see `lstm_core.sample.forecast`).
"""

from __future__ import annotations

import math

import torch

from ..config import TaskConfig
from .base import Batch, ValueTask


class Sine(ValueTask):
    def __init__(self, cfg: TaskConfig, seed: int = 0, text: str | None = None):
        super().__init__(cfg, seed, text)
        self.baseline = self.persistence(seed)
        self.baseline_label = "persistence (predict the last value)"

    def wave(self, n: int, length: int, gen: torch.Generator) -> torch.Tensor:
        w = 0.05 + 0.35 * torch.rand(n, 2, 1, generator=gen)  # rad/step
        phase = 2 * math.pi * torch.rand(n, 2, 1, generator=gen)
        amp = 0.3 + 0.5 * torch.rand(n, 2, 1, generator=gen)
        t = torch.arange(length, dtype=torch.float32)
        return (amp * torch.sin(w * t + phase)).sum(1)  # (n, length)

    def sample(self, n: int, gen: torch.Generator, split: str) -> Batch:
        s = self.wave(n, self.t + 1, gen).unsqueeze(-1)  # (B, T+1, 1)
        return Batch(s[:, :-1].contiguous(), s[:, 1:].contiguous())

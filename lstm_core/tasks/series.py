"""Forecasting a real series (Seattle weather, shipped offline): predict tomorrow from the days so far.

Values are standardised with the training part's mean and spread (first 80 % in time; the last 20 % is held
out). The baseline is persistence, "tomorrow is like today", measured on the held-out windows.
"""

from __future__ import annotations

import torch

from datasets.series import SERIES, load_series

from ..config import TaskConfig
from ..errors import DataError
from .base import Batch, ValueTask


class Series(ValueTask):
    def __init__(self, cfg: TaskConfig, seed: int = 0, text: str | None = None):
        super().__init__(cfg, seed, text)
        raw = torch.from_numpy(load_series(cfg.series))
        cut = int(len(raw) * 0.8)
        if len(raw) - cut < self.t + 2:
            raise DataError(f"the series has {len(raw)} points; windows of {self.t} need a shorter sequence length.")
        self.mean, self.std = raw[:cut].mean().item(), raw[:cut].std().item()
        z = (raw - self.mean) / self.std
        self.splits = {"train": z[:cut], "val": z[cut:]}
        self.info = SERIES[cfg.series].title
        self.baseline = self.persistence(seed)
        self.baseline_label = "persistence (tomorrow = today)"

    def sample(self, n: int, gen: torch.Generator, split: str) -> Batch:
        v = self.splits[split]
        start = torch.randint(0, len(v) - self.t - 1, (n, 1), generator=gen)
        w = v[start + torch.arange(self.t + 1)].unsqueeze(-1)  # (B, T+1, 1)
        return Batch(w[:, :-1].contiguous(), w[:, 1:].contiguous())

    def token_labels(self, x: torch.Tensor) -> list[str]:
        """Labels in the series' own units (°C or °F), not standardised values."""
        return [f"{v * self.std + self.mean:.1f}" for v in x.reshape(-1).tolist()]

    def target_labels(self, y: torch.Tensor) -> list[str]:
        return self.token_labels(y)

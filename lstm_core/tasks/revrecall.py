"""Reverse recall: the recall task read backwards, the lesson for the bidirectional LSTM.

Sequence of T + 1 tokens: the query mark `?` first, T - 1 distractors, then the symbol to name, last; all drawn
from the same alphabet. Only the answer at `?` (t = 0) is scored, and its target is the last symbol, so chance is
1 / alphabet. At t = 0 a model that reads left to right has seen only `?`, the same in every sequence: its answer
there is one fixed letter whatever its weights, right exactly when the last symbol happens to be that letter (its
held-out accuracy is that letter's frequency, near 1 / alphabet). A bidirectional LSTM's right-to-left half reads
the last symbol first and must carry it back over T steps: for that half this is the recall task at lag T
(measured in docs/research/cells.md: 3 of 3 seeds at lags 20, 50 and 100; the one-way LSTM 0 of 3).
"""

from __future__ import annotations

import torch

from ..config import TaskConfig
from .base import IGNORE, Batch
from .recall import Recall


class RevRecall(Recall):
    """Recall's sizes, symbols, chance level and chrono horizon (the lag); the sequence reversed."""

    def __init__(self, cfg: TaskConfig, seed: int = 0, text: str | None = None):
        super().__init__(cfg, seed, text)
        self.cue_step = self.lag  # the symbol to name comes last (lstm_core/probe.py reads the delay before it)

    def sample(self, n: int, gen: torch.Generator, split: str) -> Batch:
        x = torch.randint(0, self.k, (n, self.lag + 1), generator=gen)  # (B, T+1): recall's draw
        x[:, 0] = self.k  # the query mark comes first
        y = torch.full_like(x, IGNORE)
        y[:, 0] = x[:, -1]
        return Batch(x, y)

"""Remember the first symbol over a lag of T steps (Hochreiter & Schmidhuber 1997, experiment 2).

Sequence of T + 1 tokens: the symbol to remember, T - 1 distractors drawn from the same alphabet, then a query
mark `?`. Only the answer at `?` is scored, so chance accuracy is 1 / alphabet. Distractors from the same
alphabet matter: with only two distinct distractors a vanilla RNN solves lag 100 (measured), which would
teach the wrong lesson.
"""

from __future__ import annotations

import torch

from ..config import TaskConfig
from .base import IGNORE, Batch, Task

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"


class Recall(Task):
    baseline_of = "metric"

    def __init__(self, cfg: TaskConfig, seed: int = 0, text: str | None = None):
        super().__init__(cfg, seed, text)
        self.lag, self.k = cfg.lag, cfg.alphabet
        self.input_size, self.output_size, self.steps = self.sizes(cfg)
        self.baseline = 1.0 / self.k
        self.baseline_label = f"chance = 1/{self.k}"
        self.horizon = self.lag
        self.cue_step = 0  # where the symbol to remember is (lstm_core/probe.py reads the delay after it)

    @staticmethod
    def sizes(cfg: TaskConfig, text: str | None = None) -> tuple[int, int, int]:
        """(input width, output classes, timesteps): the symbols and the query mark, the symbols, T + 1."""
        return cfg.alphabet + 1, cfg.alphabet, cfg.lag + 1

    def sample(self, n: int, gen: torch.Generator, split: str) -> Batch:
        x = torch.randint(0, self.k, (n, self.lag + 1), generator=gen)  # (B, T+1)
        x[:, -1] = self.k  # the query mark
        y = torch.full_like(x, IGNORE)
        y[:, -1] = x[:, 0]
        return Batch(x, y)

    def symbol(self, token: int) -> str:
        return "?" if token == self.k else LETTERS[token]

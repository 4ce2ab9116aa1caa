"""Copy memory (Arjovsky, Shah & Bengio 2016): read K symbols, wait T blanks, reproduce the K symbols.

Input of T + 2K tokens: K symbols from 8, T - 1 blanks, a delimiter, K blanks. Target: blank for T + K steps,
then the K symbols. Cross-entropy over every step, so a model with no memory that outputs blanks and then
guesses uniformly scores K·ln 8 / (T + 2K) nats: 10·ln 8 / (T + 20) in the standard setting.
"""

from __future__ import annotations

import math

import torch

from ..config import TaskConfig
from .base import Batch, Task

BLANK, DELIM, N_SYMBOLS = 0, 9, 8


class Copy(Task):
    baseline_of = "loss"

    def __init__(self, cfg: TaskConfig, seed: int = 0, text: str | None = None):
        super().__init__(cfg, seed, text)
        self.lag, self.kk = cfg.lag, cfg.copy_len
        self.input_size, self.output_size, self.steps = self.sizes(cfg)
        self.baseline = self.kk * math.log(N_SYMBOLS) / (self.lag + 2 * self.kk)
        self.baseline_label = f"memoryless = {self.kk}·ln 8/(T+{2 * self.kk}) nats"
        self.horizon = self.lag + self.kk

    @staticmethod
    def sizes(cfg: TaskConfig, text: str | None = None) -> tuple[int, int, int]:
        """(input width, output classes, timesteps): blank, 8 symbols and the delimiter; blank and 8 symbols."""
        return N_SYMBOLS + 2, N_SYMBOLS + 1, cfg.lag + 2 * cfg.copy_len

    def sample(self, n: int, gen: torch.Generator, split: str) -> Batch:
        k, t = self.kk, self.lag
        sym = torch.randint(1, N_SYMBOLS + 1, (n, k), generator=gen)
        x = torch.zeros(n, t + 2 * k, dtype=torch.long)
        x[:, :k] = sym
        x[:, t + k - 1] = DELIM
        y = torch.zeros_like(x)
        y[:, -k:] = sym
        return Batch(x, y)

    @torch.no_grad()
    def metric(self, out: torch.Tensor, y: torch.Tensor) -> float:
        k = self.kk  # accuracy on the K recalled symbols only: blanks are free
        return (out[:, -k:].argmax(-1) == y[:, -k:]).float().mean().item()

    def symbol(self, token: int) -> str:
        return {BLANK: "·", DELIM: ":"}.get(token, str(token))

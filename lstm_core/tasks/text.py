"""Character-level language modelling: predict the next character; loss in bits per character.

The corpus is split 90/10 into training and held-out text by position. The vocabulary is the corpus's
characters (at most 255 most frequent; the rest map to one unknown symbol). A uniform guess costs log2(V) bits.
"""

from __future__ import annotations

import math
from collections import Counter

import torch

from ..config import TaskConfig
from .base import Batch, DataError, Task

MAX_VOCAB = 256
UNKNOWN = "\ufffd"


class Text(Task):
    name = "text"
    title = "Character-level text: predict the next character"
    metric_name = "bits_per_char"
    higher_is_better = False
    baseline_of = "metric"

    def __init__(self, cfg: TaskConfig, text: str | None = None):
        self.t = cfg.seq_len
        self.horizon = self.t
        if text is None:
            from datasets.corpora import load_corpus  # here: datasets.corpora imports this package

            text = load_corpus(cfg.corpus, cfg.text_file)
        if len(text) < 2 * (self.t + 2):
            raise DataError(f"the text has {len(text)} characters, too short for training windows of "
                            f"{self.t}; give more text or a shorter sequence length.")
        common = [c for c, _ in Counter(text).most_common(MAX_VOCAB - 1)]
        self.chars = sorted(common) + ([UNKNOWN] if len(common) < len(set(text)) else [])
        self.index = {c: i for i, c in enumerate(self.chars)}
        unk = self.index.get(UNKNOWN, 0)
        ids = torch.tensor([self.index.get(c, unk) for c in text], dtype=torch.long)
        cut = int(len(ids) * 0.9)
        if len(ids) - cut < self.t + 2:
            cut = len(ids) - (self.t + 2)
        self.splits = {"train": ids[:cut], "val": ids[cut:]}
        self.input_size = self.output_size = len(self.chars)
        self.baseline = math.log2(len(self.chars))
        self.baseline_label = f"uniform guess = log2({len(self.chars)}) bits"

    def sample(self, n: int, gen: torch.Generator, split: str) -> Batch:
        ids = self.splits[split]
        start = torch.randint(0, len(ids) - self.t - 1, (n, 1), generator=gen)
        w = ids[start + torch.arange(self.t + 1)]  # (B, T+1)
        return Batch(w[:, :-1].contiguous(), w[:, 1:].contiguous())

    def passage(self, n: int) -> Batch:
        """The first `n` characters of the held-out text (fewer if it is shorter), as one sequence."""
        ids = self.splits["val"][: n + 1]
        return Batch(ids[:-1].unsqueeze(0), ids[1:].unsqueeze(0))

    def encode(self, s: str) -> torch.Tensor:
        unk = self.index.get(UNKNOWN, 0)
        return torch.tensor([self.index.get(c, unk) for c in s], dtype=torch.long)

    def decode(self, ids: list[int]) -> str:
        return "".join(self.chars[i] for i in ids)

    def symbol(self, token: int) -> str:
        return self.chars[token]

"""Character-level language modelling: predict the next character; loss in bits per character.

The corpus is split 90/10 into training and held-out text by position. The vocabulary is the corpus's
characters (at most 255 most frequent; the rest map to one unknown symbol). A uniform guess costs log2(V) bits.
Held-out bits/char are measured on a fixed set of windows of the held-out text, the same for every seed and
run (`val_batch`), so two runs on one corpus are comparable and the same weights always score the same.
"""

from __future__ import annotations

import math

import torch

from datasets.corpora import MAX_VOCAB, UNKNOWN, character_counts, load_corpus

from ..config import TaskConfig
from ..errors import DataError
from .base import Batch, Task

__all__ = ["MAX_VOCAB", "UNKNOWN", "Text", "vocabulary"]


def vocabulary(text: str) -> list[str]:
    """The characters of `text` the model reads and writes: the 255 most frequent, sorted, then UNKNOWN for
    the rest if there are more."""
    counts = character_counts(text)
    common = [c for c, _ in counts.most_common(MAX_VOCAB - 1)]
    return sorted(common) + ([UNKNOWN] if len(common) < len(counts) else [])


class Text(Task):
    baseline_of = "metric"
    # One-hot characters under Adam learn their input vectors ~lr per coordinate a step (train.param_groups);
    # x30 measured best of 1, 10, 30, 100 (400 steps, H 128, B 32; held-out bits/char, x1 -> x30: python-docs
    # 2.81 -> 2.18, python-source 3.13 -> 2.52, a 1.26 MB English text 3.24 -> 2.85, reber 0.564 -> 0.554).
    input_lr_scale = 30.0

    def __init__(self, cfg: TaskConfig, seed: int = 0, text: str | None = None):
        super().__init__(cfg, seed, text)
        self.t = self.steps = cfg.seq_len
        self.horizon = self.t
        if text is None:
            text = load_corpus(cfg.corpus, cfg.text_file)
        if len(text) < 2 * (self.t + 2):
            raise DataError(f"the text has {len(text)} characters, too short for training windows of "
                            f"{self.t}; give more text or a shorter sequence length.")
        self.chars = vocabulary(text)
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

    @staticmethod
    def sizes(cfg: TaskConfig, text: str | None = None) -> tuple[int, int, int]:
        """(input symbols, output symbols, timesteps), read from the corpus without encoding it."""
        v = len(vocabulary(load_corpus(cfg.corpus, cfg.text_file) if text is None else text))
        return v, v, cfg.seq_len

    def sample(self, n: int, gen: torch.Generator, split: str) -> Batch:
        ids = self.splits[split]
        start = torch.randint(0, len(ids) - self.t - 1, (n, 1), generator=gen)
        w = ids[start + torch.arange(self.t + 1)]  # (B, T+1)
        return Batch(w[:, :-1].contiguous(), w[:, 1:].contiguous())

    def val_batch(self, n: int, seed: int) -> Batch:
        """The fixed held-out set, whatever the seed: the held-out text cut into consecutive windows of T
        characters (each scored from a zero state, as a plain char-rnn script scores it); all of them when there
        are at most `n`, else `n` of them spread evenly over the held-out text."""
        ids = self.splits["val"]
        m = (len(ids) - 1) // self.t  # whole windows in the held-out text (>= 1: it has at least T + 2)
        pick = torch.arange(m) if m <= n else torch.arange(n) * m // n
        w = ids[(pick * self.t).unsqueeze(1) + torch.arange(self.t + 1)]  # (n, T+1)
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

"""An independent character-level LSTM in the usual char-rnn style: the baseline that bench_text.py holds the
project to. It shares no code with lstm_core or datasets (it imports only torch and the standard library).

Model: nn.Embedding(V, 64) -> nn.LSTM(64, H) -> nn.Linear(H, V), PyTorch's default initialisation. Data: the
text's sorted characters are the vocabulary; the first 90 % of the characters train, the last 10 % are held
out. A training batch is `batch` windows of `seq_len + 1` characters at random offsets of the training part.
Adam (lr 3e-3), global gradient-norm clipping at 1, cross-entropy at every position. Held-out bits/char: every
non-overlapping window of `seq_len` characters of the held-out part, each from a zero state, every position
scored (the usual way; the mean over random windows has the same expectation).

Usage: python bench/plain_charrnn.py --text-file book.txt --hidden 256 --seconds 120 --threads 2
prints one JSON line: steps, seconds (wall), cpu_seconds (process), bits_per_char (held out).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import torch
from torch import nn
from torch.nn import functional as F


class CharRNN(nn.Module):
    def __init__(self, vocab: int, hidden: int, emb: int = 64):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T) ids -> (B, T, V) logits
        h, _ = self.lstm(self.emb(x))
        return self.head(h)


class PlainLoop:
    """One char-rnn training run; `step()` is one optimiser step, `heldout_bpc()` scores the held-out part."""

    def __init__(self, text: str, hidden: int = 256, batch: int = 64, seq_len: int = 100, lr: float = 3e-3,
                 clip: float = 1.0, seed: int = 0, emb: int = 64):
        chars = sorted(set(text))
        stoi = {c: i for i, c in enumerate(chars)}
        data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
        n = int(0.9 * len(data))
        self.train_data, self.val_data = data[:n], data[n:]
        self.vocab, self.batch, self.seq_len, self.clip = len(chars), batch, seq_len, clip
        torch.manual_seed(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.net = CharRNN(len(chars), hidden, emb)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.steps = 0

    def step(self) -> float:
        T = self.seq_len
        ix = torch.randint(len(self.train_data) - T - 1, (self.batch,), generator=self.gen)
        chunk = torch.stack([self.train_data[i : i + T + 1] for i in ix.tolist()])  # (B, T+1)
        x, y = chunk[:, :-1], chunk[:, 1:]
        logits = self.net(x)
        loss = F.cross_entropy(logits.reshape(-1, self.vocab), y.reshape(-1))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), self.clip)
        self.opt.step()
        self.steps += 1
        return loss.item()

    @torch.no_grad()
    def heldout_bpc(self, chunk: int = 256) -> float:
        T, v = self.seq_len, self.val_data
        n = (len(v) - 1) // T
        x, y = v[: n * T].view(n, T), v[1 : n * T + 1].view(n, T)
        self.net.eval()
        total = 0.0
        for k in range(0, n, chunk):
            logits = self.net(x[k : k + chunk])
            total += F.cross_entropy(logits.reshape(-1, self.vocab), y[k : k + chunk].reshape(-1),
                                     reduction="sum").item()
        self.net.train()
        return total / (n * T) / math.log(2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--text-file", required=True)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seconds", type=float, default=120.0, help="wall-clock training budget")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    with open(a.text_file, encoding="utf-8") as f:
        text = f.read()
    loop = PlainLoop(text, a.hidden, a.batch, a.seq_len, a.lr, seed=a.seed)
    w0, c0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - w0 < a.seconds:
        loop.step()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    print(json.dumps({"steps": loop.steps, "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
                      "bits_per_char": round(loop.heldout_bpc(), 4), "threads": a.threads}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Shared helpers for the benchmark scripts: the plain-PyTorch baseline model, tables, timing.

Not a benchmark itself (the runner only picks up `bench_*.py`). Scripts run from the repository's root as
modules, `python -m bench.bench_trainer`, so they import the project without editing sys.path.
"""

from __future__ import annotations

import statistics

import torch
from torch import nn
from torch.nn import functional as F

from lstm_core.tasks.base import IGNORE

CELL_MODULES = {"lstm": nn.LSTM, "rnn": nn.RNN, "gru": nn.GRU}


class PlainNet(nn.Module):
    """What a reader would write by hand: one-hot -> nn.LSTM | nn.RNN | nn.GRU -> nn.Linear."""

    def __init__(self, cell: str, input_size: int, hidden: int, output_size: int, tokens_in: bool = True):
        super().__init__()
        self.input_size, self.tokens_in = input_size, tokens_in
        self.rnn = CELL_MODULES[cell](input_size, hidden, batch_first=True)
        self.readout = nn.Linear(hidden, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.one_hot(x, self.input_size).float() if self.tokens_in else x.float()
        h, _ = self.rnn(h)  # (B, T, H)
        return self.readout(h)  # (B, T, O)


def plain_copy_of(model) -> PlainNet:
    """A PlainNet with the same starting weights as a one-layer `lstm_core` SeqModel."""
    cfg = model.cfg
    net = PlainNet(cfg.cell, model.input_size, cfg.hidden, model.output_size, model.tokens_in)
    sd = {k.replace("rnn.0.", "rnn."): v.detach().clone() for k, v in model.state_dict().items()}
    net.load_state_dict(sd)
    return net


def plain_step(net, opt, batch) -> None:
    """One step of the plain-PyTorch baseline: cross-entropy, backward, clip at 1, Adam, read the loss."""
    out = net(batch.x)
    loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), batch.y.reshape(-1), ignore_index=IGNORE)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    opt.step()
    loss.item()


def median(xs) -> float:
    return statistics.median(xs)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    sep = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def machine_line() -> str:
    import os

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} cores, "
            f"load average {load[0]:.2f} at start")


class Report:
    """A benchmark's results: each line printed as it comes and kept, then saved as its results file."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def say(self, s: str = "") -> None:
        print(s, flush=True)
        self.lines.append(s)

    def finish(self, ok: bool, out: str) -> None:
        """The verdict line, then the whole report to `out` ('' = not saved)."""
        self.say("\nall goals met" if ok else "\nat least one goal NOT met")
        if out:
            from pathlib import Path

            Path(out).parent.mkdir(parents=True, exist_ok=True)
            Path(out).write_text("\n".join(self.lines) + "\n", encoding="utf-8")

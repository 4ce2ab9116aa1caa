"""Training steps/s of every cell against nn.LSTM, at the headline lesson's size, in one process.

What it measures: `Trainer.train_step` on batch k of the seed (the app's training path: batch, forward, loss,
backward, clip, Adam, metric), for each cell of `--cells`, all in one process as a Lab holds them side by side.
Each round runs `--steps` steps of every cell interleaved step by step (the order rotating every step), so a
burst of load from other processes hits every cell alike. Per cell: median steps/s over rounds (wall), median
CPU milliseconds per step (this thread's CPU time, less sensitive to other processes' load), and the median over
rounds of the per-round ratio of its time per step to nn.LSTM's, by wall time and by CPU time.

The peephole LSTM has no fused kernel (a Python loop with hand-written backpropagation through time), the
bidirectional LSTM runs two directions in PyTorch's fused kernel, and the attention adds a (B, T, T) softmax
to the fused vanilla RNN. glibc's allocator returning memory to the system between steps slowed the BiLSTM by
1.5x when it shared a process with the attention model (docs/research/cells.md, pitfall 1); run once
with MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 to compare.
"""

from __future__ import annotations

import argparse
import os
import time

from bench._common import machine_line, markdown_table, median
from lstm_core.config import ModelConfig, RunConfig, TaskConfig, TrainConfig
from lstm_core.train import Trainer, configure_torch


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", default="lstm,rnn,peephole,bilstm,attention")
    p.add_argument("--task", default="recall", help="recall or revrecall (the same sizes)")
    p.add_argument("--lag", type=int, default=100)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=20, help="steps per cell per round")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    configure_torch(1)
    cells = a.cells.split(",")
    trainers = {c: Trainer(RunConfig(TaskConfig(name=a.task, lag=a.lag), ModelConfig(cell=c, hidden=a.hidden),
                                     TrainConfig(seed=a.seed, batch=a.batch))) for c in cells}
    k = dict.fromkeys(cells, 0)

    def step(c: str) -> None:
        b = trainers[c].task.batch(a.batch, a.seed, k[c])
        trainers[c].train_step(b.x, b.y)
        k[c] += 1

    for c in cells:  # first-call allocations, Adam state
        for _ in range(a.warmup):
            step(c)
    wall = {c: [0.0] * a.rounds for c in cells}
    cpu = {c: [0.0] * a.rounds for c in cells}
    for r in range(a.rounds):
        for s in range(a.steps):
            j = (r * a.steps + s) % len(cells)
            for c in cells[j:] + cells[:j]:
                w0, c0 = time.perf_counter(), time.thread_time()
                step(c)
                cpu[c][r] += time.thread_time() - c0
                wall[c][r] += time.perf_counter() - w0
    malloc = " ".join(f"{v}={os.environ[v]}" for v in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
                      if v in os.environ) or "glibc's default allocator settings"
    print(f"# Training steps of each cell against nn.LSTM: {a.task} lag {a.lag}, B={a.batch}, H={a.hidden}, "
          f"{a.rounds} rounds x {a.steps} steps, one process, {malloc}")
    print(machine_line())
    print()
    base = cells[0]
    rows = []
    for c in cells:
        rows.append([c, f"{median([a.steps / t for t in wall[c]]):.1f}", f"{1e3 * median(cpu[c]) / a.steps:.1f}",
                     f"{median([t / b for t, b in zip(wall[c], wall[base], strict=True)]):.2f}",
                     f"{min(t / b for t, b in zip(wall[c], wall[base], strict=True)):.2f}-"
                     f"{max(t / b for t, b in zip(wall[c], wall[base], strict=True)):.2f}",
                     f"{median([t / b for t, b in zip(cpu[c], cpu[base], strict=True)]):.2f}"])
    print(markdown_table(["cell", "steps/s (wall)", "CPU ms/step", f"x {base} (wall)", "range", f"x {base} (CPU)"],
                         rows))
    print()
    print(f"x {base}: time per step over {base}'s, median of the per-round ratios (range: lowest-highest round).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Trainer steps/s against a plain PyTorch loop training the same model on the same batches.

What it measures: optimiser steps per second of `lstm_core.train.Trainer.next_record()` (the path the app
uses: batch k of the seed, forward, loss, backward, clip, Adam, metric, a weight snapshot every 25 steps and a
held-out evaluation every `val_every` steps) against a hand-written loop (`nn.LSTM`/`nn.RNN`/`nn.GRU` +
`nn.Linear` readout, one-hot input, Adam, `clip_grad_norm_`, `loss.item()`) that starts from the same weights
and consumes the same batches, built inside the timed loop by `task.batch(B, seed, k)` in both.
A third column times `Trainer.train_step` alone (no evaluation or batch bookkeeping) to locate any gap.

Each round runs `--steps` steps of every variant interleaved step by step (the order rotates every step), so
a burst of load from other processes hits all of them alike. Each row reports median steps/s over rounds,
the median (and range) of the per-round ratios, the ratio over all steps by wall time, and by this thread's
CPU time (less sensitive to other processes' load; the goal refers to the wall-clock median ratio).

Goal: trainer / plain >= 0.9 for every cell (recall, lag 100, B = 64, H = 64, one torch thread).
"""

from __future__ import annotations

import argparse
import time

import torch

from bench._common import machine_line, markdown_table, median, plain_copy_of, plain_step
from lstm_core.config import ModelConfig, RunConfig, TaskConfig, TrainConfig
from lstm_core.train import Trainer, configure_torch

GOAL = 0.9


def make_variants(cell: str, a: argparse.Namespace) -> dict:
    """One-step callables; each keeps its own step counter k, so all of them see batch k at their k-th step."""
    run = RunConfig(
        TaskConfig(name="recall", lag=a.lag),
        ModelConfig(cell=cell, hidden=a.hidden),
        TrainConfig(seed=a.seed, steps=10**6, batch=a.batch, lr=3e-3, clip=1.0, val_every=a.val_every),
    )
    tr = Trainer(run)  # the app's path: next_record()
    tr_step = Trainer(run)  # train_step only, batches made here
    task = tr.task
    net = plain_copy_of(tr.model)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    B, seed = a.batch, a.seed
    k = {"plain": 0, "train_step": 0}

    def plain() -> None:
        b = task.batch(B, seed, k["plain"])
        plain_step(net, opt, b)
        k["plain"] += 1

    def train_step() -> None:
        b = task.batch(B, seed, k["train_step"])
        tr_step.train_step(b.x, b.y)
        k["train_step"] += 1

    return {"plain": plain, "trainer": tr.next_record, "train_step": train_step}


def bench_cell(cell: str, a: argparse.Namespace) -> dict:
    """Rounds of `steps` steps per variant, interleaved step by step (order rotating), so that a burst of
    load hits every variant alike. Wall time and this thread's CPU time are both recorded per step."""
    fns = make_variants(cell, a)
    names = list(fns)
    for name in names:  # warm-up: first-call allocations, Adam state creation
        for _ in range(a.warmup):
            fns[name]()
    wall = {n: [0.0] * a.rounds for n in names}
    cpu = {n: [0.0] * a.rounds for n in names}
    for r in range(a.rounds):
        for s in range(a.steps):
            j = (r * a.steps + s) % len(names)
            for name in names[j:] + names[:j]:
                w0, c0 = time.perf_counter(), time.thread_time()
                fns[name]()
                cpu[name][r] += time.thread_time() - c0
                wall[name][r] += time.perf_counter() - w0
    rate = {n: [a.steps / t for t in ts] for n, ts in wall.items()}
    return {
        "plain": median(rate["plain"]),
        "trainer": median(rate["trainer"]),
        "ratio": median([tt / tp for tt, tp in zip(rate["trainer"], rate["plain"], strict=True)]),
        "ratio_total": sum(wall["plain"]) / sum(wall["trainer"]),
        "ratio_cpu": sum(cpu["plain"]) / sum(cpu["trainer"]),
        "ratio_step": median([tt / tp for tt, tp in zip(rate["train_step"], rate["plain"], strict=True)]),
        "spread": (min(tt / tp for tt, tp in zip(rate["trainer"], rate["plain"], strict=True)),
                   max(tt / tp for tt, tp in zip(rate["trainer"], rate["plain"], strict=True))),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", default="lstm,rnn,gru")
    p.add_argument("--lag", type=int, default=100)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=30, help="steps per variant per round")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--val-every", type=int, default=50, help="trainer's held-out evaluation period (app default 50)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    configure_torch(a.threads)
    print(f"# Trainer vs plain PyTorch: recall lag {a.lag}, B={a.batch}, H={a.hidden}, "
          f"{a.rounds} rounds x {a.steps} steps, goal ratio >= {GOAL}")
    print(machine_line())
    print()
    rows, ok = [], True
    for cell in a.cells.split(","):
        r = bench_cell(cell, a)
        ok &= r["ratio"] >= GOAL
        rows.append([cell, f"{r['plain']:.1f}", f"{r['trainer']:.1f}", f"{r['ratio']:.2f}",
                     f"{r['spread'][0]:.2f}-{r['spread'][1]:.2f}", f"{r['ratio_total']:.2f}",
                     f"{r['ratio_cpu']:.2f}", f"{r['ratio_step']:.2f}", "yes" if r["ratio"] >= GOAL else "NO"])
    print(markdown_table(
        ["cell", "plain steps/s", "trainer steps/s", "ratio", "ratio range", "ratio all steps",
         "ratio CPU time", "train_step ratio", f">= {GOAL}"], rows))
    print()
    print("ratio = trainer / plain steps/s, median over rounds (range: lowest-highest round); all steps: total "
          "wall time; CPU time: this thread's CPU seconds, less sensitive to other processes' load.")
    print("trainer = Trainer.next_record() incl. metric, snapshot every 25 steps, evaluation every "
          f"{a.val_every} steps on the 256-sequence held-out batch; train_step = Trainer.train_step alone.")
    print("goal met" if ok else "goal NOT met for at least one cell")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

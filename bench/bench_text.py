"""Held-out bits per character after a fixed training-time budget: lstm_core Trainer vs a plain nn.LSTM loop.

What it measures: the character-level task on the Python-docs corpus (seq_len 100), one-layer LSTM with
H = 128, B = 32, Adam lr 3e-3, gradient clipping at 1. Both models start from the same weights (the
Trainer's chrono initialisation; --plain-init default gives the plain model PyTorch's own init instead),
see the same batches (`task.batch(B, seed, k)`, built inside the timed loop by both) and get the same
wall-clock budget, `--seconds` each. The Trainer runs through `next_record()`, the app's path, so its budget
also pays for its periodic held-out evaluation. The two budgets are spent one after the other, never in
parallel; by default in alternating slices of `--slice` seconds so that other load on the machine hits both
alike (`--slice 0`: one whole budget, then the other). Both are then scored on the same held-out batch.

Goal: trainer bpc / plain bpc <= 1.02 (the engine costs no learning per second of training).
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from bench._common import machine_line, markdown_table, plain_copy_of
from bench._common import plain_step as plain_update
from lstm_core.config import ModelConfig, RunConfig, TaskConfig, TrainConfig
from lstm_core.train import Trainer, configure_torch

GOAL = 1.02


@torch.no_grad()
def heldout_bpc(model: torch.nn.Module, task, batch) -> float:
    was = model.training
    model.eval()
    out = model(batch.x)
    model.train(was)
    return task.loss(out, batch.y).item() / math.log(2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=120.0, help="training budget of each model, wall clock")
    p.add_argument("--slice", type=float, default=5.0, help="alternate the budgets in slices of this many s; 0 = no")
    p.add_argument("--corpus", default="python-docs")
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--val-batch", type=int, default=256, help="held-out sequences scored at the end")
    p.add_argument("--val-every", type=int, default=50, help="the Trainer's own evaluation period")
    p.add_argument("--plain-init", choices=("same", "default"), default="same")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    configure_torch(a.threads)

    run = RunConfig(
        TaskConfig(name="text", corpus=a.corpus, seq_len=a.seq_len),
        ModelConfig(cell="lstm", hidden=a.hidden),
        TrainConfig(seed=a.seed, steps=10**6, batch=a.batch, lr=a.lr, clip=1.0, val_every=a.val_every,
                    val_batch=a.val_batch),
    )
    tr = Trainer(run)
    task = tr.task
    if a.plain_init == "same":
        net = plain_copy_of(tr.model)
    else:
        from bench._common import PlainNet

        torch.manual_seed(a.seed)
        net = PlainNet("lstm", task.input_size, a.hidden, task.output_size)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    val = task.val_batch(a.val_batch, a.seed)
    B, seed = a.batch, a.seed
    k_plain = 0

    def plain_step() -> None:
        nonlocal k_plain
        b = task.batch(B, seed, k_plain)
        plain_update(net, opt, b)
        k_plain += 1

    def trainer_step() -> None:
        tr.next_record()

    steps = {"trainer": trainer_step, "plain": plain_step}
    used = {"trainer": 0.0, "plain": 0.0}
    count = {"trainer": 0, "plain": 0}
    slice_s = a.slice if a.slice > 0 else a.seconds
    print(f"# Char-level {a.corpus}: Trainer vs plain nn.LSTM, {a.seconds:g} s each, H={a.hidden}, B={a.batch}, "
          f"T={a.seq_len}, lr {a.lr:g}, goal bpc ratio <= {GOAL}")
    print(machine_line())
    print(f"vocabulary {task.input_size}, uniform guess {task.baseline:.2f} bpc; held-out batch {a.val_batch} x "
          f"{a.seq_len}; budgets alternate in {slice_s:g} s slices" if a.slice > 0 else
          f"vocabulary {task.input_size}, uniform guess {task.baseline:.2f} bpc; budgets run one after the other")
    r = 0
    while min(used.values()) < a.seconds:
        order = ["trainer", "plain"] if r % 2 == 0 else ["plain", "trainer"]
        for name in order:
            spent = 0.0
            while spent < slice_s and used[name] < a.seconds:
                t0 = time.perf_counter()
                steps[name]()
                dt = time.perf_counter() - t0
                spent += dt
                used[name] += dt
                count[name] += 1
        r += 1

    bpc = {"trainer": heldout_bpc(tr.model, task, val), "plain": heldout_bpc(net, task, val)}
    rows = [[name, str(count[name]), f"{count[name] / used[name]:.2f}", f"{used[name]:.1f}", f"{bpc[name]:.3f}"]
            for name in ("plain", "trainer")]
    print()
    print(markdown_table(["loop", "steps", "steps/s", "seconds", "held-out bpc"], rows))
    ratio = bpc["trainer"] / bpc["plain"]
    print()
    print(markdown_table(["bpc ratio trainer / plain", "steps ratio trainer / plain", f"<= {GOAL}"],
                         [[f"{ratio:.3f}", f"{count['trainer'] / count['plain']:.2f}",
                           "yes" if ratio <= GOAL else "NO"]]))
    print(f"\nTrainer's own training clock (excludes batch building and evaluation): {tr.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

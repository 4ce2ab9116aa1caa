"""What one training step costs, by setting: the estimate that bounds a session (limits.step_flops) against the
measured time of a step, so the per-session limit in lstm_core/limits.py is a measured one.

For each setting: build the Lab, take one step (warm-up), then time the next steps (at least 3, at least 2 s),
one torch thread as in the app. Prints a markdown table: estimated GFLOP per step, measured seconds per step,
and GFLOP/s; then the slowest setting that the app accepts (MAX_STEP_FLOPS) and the time it takes.
Usage: python -m bench.bench_limits [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from lstm_core import ModelConfig, TaskConfig, TrainConfig, configure_torch
from lstm_core.lab import Lab
from lstm_core.limits import MAX_STEP_FLOPS, step_flops

# (label, task kwargs, hidden, batch): the headline lesson, the pretrained ones, and the corners of the widgets
SETTINGS = [
    ("headline: recall lag 100, H 32, batch 64", dict(name="recall", lag=100), 32, 64),
    ("sine 100, H 32, batch 64", dict(name="sine", seq_len=100), 32, 64),
    ("text 100, H 128, batch 32", dict(name="text", seq_len=100), 128, 32),
    ("recall lag 200, H 64, batch 64", dict(name="recall", lag=200), 64, 64),
    ("recall lag 100, H 128, batch 128", dict(name="recall", lag=100), 128, 128),
    ("recall lag 300, H 128, batch 64", dict(name="recall", lag=300), 128, 64),
    ("recall lag 1000, H 128, batch 32", dict(name="recall", lag=1000), 128, 32),
    ("recall lag 1000, H 128, batch 64", dict(name="recall", lag=1000), 128, 64),
    ("recall lag 500, H 256, batch 64", dict(name="recall", lag=500), 256, 64),
    ("recall lag 1000, H 256, batch 256", dict(name="recall", lag=1000), 256, 256),
]


def measure(task: dict, hidden: int, batch: int, min_seconds: float) -> tuple[float, float]:
    models = {c: ModelConfig(cell=c, hidden=hidden) for c in ("lstm", "rnn")}
    lab = Lab(TaskConfig(**task), TrainConfig(seed=0, steps=10_000, batch=batch), models,
              check_limits=False)  # settings over the limit are measured too
    lab.advance(1)
    t0, n = time.perf_counter(), 0
    while n < 3 or time.perf_counter() - t0 < min_seconds:
        lab.advance(1)
        n += 1
    return step_flops(lab.task_cfg, models.values(), batch), (time.perf_counter() - t0) / n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the two largest settings")
    ap.add_argument("--min-seconds", type=float, default=2.0)
    a = ap.parse_args(argv)
    configure_torch(1)

    rows = []
    for label, task, hidden, batch in SETTINGS[:-2] if a.quick else SETTINGS:
        flops, sec = measure(task, hidden, batch, a.min_seconds)
        rows.append((label, flops, sec))
        print(f"  {label}: {flops / 1e9:.2f} GFLOP, {sec:.3f} s per step", file=sys.stderr, flush=True)
    print(f"bench_limits: {os.cpu_count()} cores, one torch thread, LSTM + vanilla RNN side by side\n")
    print("| setting | estimated GFLOP per step | measured s per step | GFLOP/s | accepted by the app |")
    print("| --- | --- | --- | --- | --- |")
    for label, flops, sec in rows:
        ok = "yes" if flops <= MAX_STEP_FLOPS else "no"
        print(f"| {label} | {flops / 1e9:.2f} | {sec:.3f} | {flops / sec / 1e9:.1f} | {ok} |")
    accepted = [r for r in rows if r[1] <= MAX_STEP_FLOPS]
    big = [r for r in rows if r[1] >= 5e9] or rows  # small steps are dominated by per-call overhead
    rate = min(r[1] / r[2] for r in big)
    top = max(accepted, key=lambda r: r[1]) if accepted else None
    print(f"\nMAX_STEP_FLOPS = {MAX_STEP_FLOPS / 1e9:.0f} GFLOP. Largest accepted setting measured: "
          + (f"{top[0]}, {top[2]:.2f} s per step. " if top else "none. ")
          + f"At the slowest rate of the settings above 5 GFLOP ({rate / 1e9:.1f} GFLOP/s), a step at the limit "
          f"takes about {MAX_STEP_FLOPS / rate:.2f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

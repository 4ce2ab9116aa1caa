"""Gate surgery's rerun on the headline lesson: how long one intervention takes to answer, against plain PyTorch.

The issue's goal: an intervention's rerun answers within 1 s for the headline lesson. One intervention runs the
display sequence and the held-out set (256 sequences of 101 steps, 32 units) twice, with and without the clamp, in
a loop written like the equations (a clamp must act inside the recurrence). The plain side, written here and
sharing nothing with the project: an nn.LSTM of the same size reading 256 random sequences of 101 one-hot
symbols, twice, with the fused kernel (what the answer would cost if no clamp had to be held). Run from the
repository's root: `python -m bench.bench_surgery`.
"""

from __future__ import annotations

import os
import statistics
import time

import torch
from torch import nn


def plain_two_passes(reps: int) -> list[float]:
    torch.manual_seed(0)
    lstm, readout = nn.LSTM(9, 32, batch_first=True), nn.Linear(32, 8)
    x = nn.functional.one_hot(torch.randint(0, 9, (256, 101)), 9).float()
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        with torch.no_grad():
            for _ in range(2):
                readout(lstm(x)[0][:, -1]).argmax(-1)
        out.append(time.perf_counter() - t)
    return out


def surgery(reps: int) -> tuple[list[float], list[float]]:
    from lstm_core.lessons import open_lesson, read_lesson
    from lstm_core.surgery import Clamp

    lab = open_lesson(read_lesson("recall-100"))
    clamp = (Clamp("f", 0.0, None, 50, 51),)
    lab.intervene("lstm", clamp)  # warm
    times, acc = [], []
    for _ in range(reps):
        t = time.perf_counter()
        r = lab.intervene("lstm", clamp)
        times.append(time.perf_counter() - t)
        acc.append(r.metric_after)
    return times, acc


def main() -> None:
    torch.set_num_threads(1)
    reps = 7
    print(f"bench_surgery: 1 torch thread, load average {os.getloadavg()[0]:.2f} at start")
    plain = plain_two_passes(reps)
    ours, acc = surgery(reps)
    p, o = statistics.median(plain), statistics.median(ours)
    print("| side | median s (min-max) over 7 |")
    print("|---|---|")
    print(f"| plain nn.LSTM, 2 fused passes over 256 x 101 | {p:.3f} ({min(plain):.3f}-{max(plain):.3f}) |")
    print(f"| lab.intervene (f = 0 at t = 50, every unit) | {o:.3f} ({min(ours):.3f}-{max(ours):.3f}) |")
    print(f"ratio ours/plain {o / p:.1f}; held-out accuracy after the clamp {acc[0]:.3f} (every run the same: "
          f"{len(set(acc)) == 1}); goal: an answer within 1 s: {'met' if o <= 1.0 else 'NOT met'}; "
          f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()

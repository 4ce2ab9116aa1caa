"""Milliseconds per sequence of `lstm_core.trace.trace`, without and with gradients through time.

What it measures: one call of `trace(model, task, batch, grads=...)` on the recall task's display sequence of
T steps (default T = 200, lag T - 1) for an untrained one-layer model of H units (default 128), for each cell.
The two settings alternate within every round, so other load hits them alike; the table shows medians (wall
clock, and this thread's CPU time), the gradient-capture cost as a ratio (grads / no grads, median of per-round
ratios) and, for reference, one batch-of-1 call of the fused kernel that trains the model (the floor for any
recompute).

Goal: <= 10 ms for the forward trace (grads=False) of every cell, wall clock. --profile prints where the time
of the current LSTM trace goes, without and with gradients (torch profiler, by operator).
"""

from __future__ import annotations

import argparse
import time

import torch

from bench._common import machine_line, markdown_table, median
from lstm_core.config import ModelConfig, TaskConfig
from lstm_core.models import build_model
from lstm_core.tasks import make_task
from lstm_core.trace import trace
from lstm_core.train import configure_torch

GOAL_MS = 10.0


def bench_cell(cell: str, a: argparse.Namespace) -> dict:
    task = make_task(TaskConfig(name="recall", lag=a.steps - 1))
    model = build_model(ModelConfig(cell=cell, hidden=a.hidden, layers=a.layers), task, a.seed)
    batch = task.display(a.seed)
    x = model.encode(batch.x[:1])

    def fused():
        with torch.no_grad():
            model.rnn[0](x)

    variants = {"fwd": lambda: trace(model, task, batch, grads=False),
                "grads": lambda: trace(model, task, batch, grads=True),
                "fused": fused}
    for fn in variants.values():  # warm-up
        fn()
    ms: dict[str, list[float]] = {k: [] for k in variants}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    names = list(variants)
    for r in range(a.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            t0, c0 = time.perf_counter(), time.thread_time()
            for _ in range(a.reps):
                variants[name]()
            cpu[name].append((time.thread_time() - c0) / a.reps * 1e3)
            ms[name].append((time.perf_counter() - t0) / a.reps * 1e3)
    res = {k: median(v) for k, v in ms.items()}
    res["fwd_cpu"] = median(cpu["fwd"])
    res["grads_cpu"] = median(cpu["grads"])
    res["grad_ratio"] = median([g / f for g, f in zip(ms["grads"], ms["fwd"], strict=True)])
    return res


def profile_forward(a: argparse.Namespace, cell: str = "lstm") -> None:
    from torch.profiler import ProfilerActivity, profile

    task = make_task(TaskConfig(name="recall", lag=a.steps - 1))
    model = build_model(ModelConfig(cell=cell, hidden=a.hidden, layers=a.layers), task, a.seed)
    batch = task.display(a.seed)
    for grads in (False, True):
        trace(model, task, batch, grads=grads)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(a.profile_reps):
                trace(model, task, batch, grads=grads)
        print(f"\n## Where one {cell} trace spends its time, grads={grads} (torch profiler over {a.profile_reps} "
              "traces, per trace; the profiler's own overhead inflates totals)\n")
        rows = []
        events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in events)
        for e in events[: a.profile_rows]:
            per_trace_ms = e.self_cpu_time_total / 1e3 / a.profile_reps
            rows.append([e.key[:60], str(e.count // a.profile_reps), f"{per_trace_ms:.2f}",
                         f"{100 * e.self_cpu_time_total / total:.0f} %", f"{e.self_cpu_time_total / e.count:.1f}"])
        print(markdown_table(["operator", "calls per trace", "self ms per trace", "share", "us per call"], rows))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", default="lstm,gru,rnn")
    p.add_argument("--steps", type=int, default=200, help="sequence length T")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--reps", type=int, default=1, help="calls per variant per round")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--profile", action="store_true", help="also profile the current LSTM trace by operator")
    p.add_argument("--profile-rows", type=int, default=12)
    p.add_argument("--profile-reps", type=int, default=5)
    a = p.parse_args(argv)
    configure_torch(a.threads)
    print(f"# trace() ms per sequence: T={a.steps}, H={a.hidden}, layers={a.layers}, {a.rounds} rounds x {a.reps}, "
          f"goal forward <= {GOAL_MS:g} ms")
    print(machine_line())
    print()
    rows, ok = [], True
    for cell in a.cells.split(","):
        r = bench_cell(cell, a)
        ok &= r["fwd"] <= GOAL_MS
        rows.append([cell, f"{r['fwd']:.1f}", f"{r['fwd_cpu']:.1f}", f"{r['grads']:.1f}", f"{r['grads_cpu']:.1f}",
                     f"{r['grad_ratio']:.1f}x", f"{r['fused']:.2f}", "yes" if r["fwd"] <= GOAL_MS else "NO"])
    print(markdown_table(["cell", "forward ms", "forward CPU ms", "with grads ms", "with grads CPU ms",
                          "grads / forward", "fused kernel ms", f"forward <= {GOAL_MS:g} ms"], rows))
    print()
    print("ms: median wall-clock per sequence; CPU ms: this thread's CPU time, less sensitive to other processes' load "
          "(compare the two to see how loaded the machine was). The goal is judged on wall ms.")
    print("goal met" if ok else "goal NOT met for at least one cell")
    if a.profile:
        profile_forward(a)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

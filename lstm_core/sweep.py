"""Training runs to a stop condition, and the sweep over models x lags x seeds behind `python -m lstm_core sweep`.

Kept apart from `__main__` so that `sweep --jobs N` can hand runs to worker processes (they import this module).
"""

from __future__ import annotations

import statistics
import time
from collections import deque

import torch

from .config import RunConfig
from .runs import save_run, save_snapshot


class ThreadTuner:
    """Chooses, while a run trains, between one torch thread and `most`, by timing the training steps.

    On this 2-core machine two threads made a text step at H 256 about 1.8x faster while the machine was
    otherwise idle, and 1.2-8x slower than one thread while other processes kept the cores busy (OpenMP's
    threads wait for each other at every parallel region, and one of them is often descheduled); a shared
    machine goes from one state to the other within minutes. So: start with `most`, time a few steps, try the
    other count for `probe` steps, keep the faster (by at least 5 %), and try the other again after `every`
    seconds, twice as long after each try that lost. A try is abandoned at its first step slower than twice the
    current median. The count changes no number: records and weights were bitwise equal with 1 and 2 threads,
    switched every few steps (H 128 text and H 32 recall, 60 steps).
    """

    def __init__(self, most: int, every: float = 20.0, probe: int = 3, clock=time.perf_counter):
        self.most, self.every, self.probe, self.clock = most, every, probe, clock
        self.best = self.threads = most
        self.times = {1: deque(maxlen=5), most: deque(maxlen=5)}  # recent step seconds per thread count
        self.skip = 2  # steps not timed: the first ones (allocations), the first after each change of count
        self.left = 0  # steps left in the current try of the other count
        self.wait = every
        self.due = -1.0  # clock time of the next try (the first: as soon as the current count has samples)
        torch.set_num_threads(most)

    def _use(self, threads: int) -> None:
        torch.set_num_threads(threads)
        self.threads, self.skip = threads, 1

    def step_done(self, seconds: float) -> None:
        """One training step took `seconds` (leave evaluation steps out): record it; switch counts when due."""
        if self.most == 1:
            return
        if self.left:  # trying the other count
            self.left -= 1
            if seconds > 2 * statistics.median(self.times[self.best]):
                self.left = 0  # clearly slower: stop trying now
            elif self.skip:
                self.skip -= 1
            else:
                self.times[self.threads].append(seconds)
            if self.left == 0:
                tried = self.times[self.threads]
                won = len(tried) >= self.probe and statistics.median(tried) < 0.95 * statistics.median(
                    self.times[self.best])
                self.best = self.threads if won else self.best
                self.wait = self.every if won else min(2 * self.wait, 16 * self.every)
                self._use(self.best)
                self.due = self.clock() + self.wait
            return
        if self.skip:
            self.skip -= 1
            return
        self.times[self.best].append(seconds)
        if len(self.times[self.best]) >= self.probe and self.clock() >= self.due:
            other = 1 if self.best == self.most else self.most
            self.times[other].clear()
            self._use(other)
            self.left = self.probe + 1  # the first step after the change is not timed


def train_run(run: RunConfig, out: str | None, log=None, snapshot_every: int = 0, threads: int = 1,
              tune: bool = False) -> dict:
    """Train to a stop condition with `threads` torch threads (with `tune`, a ThreadTuner chooses between 1 and
    `threads` as it goes; the caller's count is restored afterwards); write the run folder if `out` (with weight
    snapshots every `snapshot_every` steps, step 0 included, when > 0); return the summary dict."""
    before = torch.get_num_threads()
    try:
        return _train_run(run, out, log, snapshot_every, threads, tune)
    finally:
        torch.set_num_threads(before)


def _train_run(run: RunConfig, out: str | None, log, snapshot_every: int, threads: int, tune: bool) -> dict:
    from .train import Trainer, configure_torch

    configure_torch(threads)
    tr = Trainer(run)
    tuner = ThreadTuner(threads) if tune and threads > 1 else None
    if out and snapshot_every > 0:
        save_snapshot(out, 0, tr.model)
    t0 = time.perf_counter()
    for rec in tr.steps():
        if tuner is not None and rec.val_metric is None:
            tuner.step_done(time.perf_counter() - t0)
        if out and snapshot_every > 0 and (rec.step % snapshot_every == 0 or rec.stop):
            save_snapshot(out, rec.step, tr.model)
        if log is not None and rec.val_metric is not None:
            print(f"step {rec.step:6d}  {rec.seconds:7.1f} s  loss {rec.loss:.4f}  "
                  f"held-out {tr.task.metric_name} {rec.val_metric:.4f}", file=log, flush=True)
        t0 = time.perf_counter()
    if out:
        save_run(out, run, tr.model, tr.history)
    last = tr.history[-1]
    vloss, vmetric = (last.val_loss, last.val_metric)
    summary = {"task": run.task.name, "model": run.model.cell, "steps": last.step, "seconds": round(last.seconds, 3),
               "loss": vloss, tr.task.metric_name: vmetric, "stop": last.stop}
    if tr.task.baseline is not None:
        summary["baseline"] = tr.task.baseline
    return summary


def sweep_one(args: tuple) -> dict:
    run, lag, seed, threads, tune = args
    s = train_run(run, None, threads=threads, tune=tune)
    return {"task": run.task.name, "model": run.model.cell, "lag": lag, "seed": seed, **s}


def sweep_on_ray(jobs: list[tuple]):
    """Yield the rows of `jobs` run as Ray tasks (one CPU each) on RAY_ADDRESS's cluster, or on a Ray started here,
    in the order they finish."""
    import os
    from pathlib import Path

    import ray

    address = os.environ.get("RAY_ADDRESS") or None
    root = str(Path(__file__).resolve().parents[1])
    env = {"working_dir": root, "excludes": [".venv", ".git", "bench/results", "test-artifacts"]} if address \
        else {"env_vars": {"PYTHONPATH": root, "OMP_NUM_THREADS": "1"}}
    ray.init(address=address, runtime_env=env, ignore_reinit_error=True, include_dashboard=False,
             log_to_driver=False, logging_level="ERROR")
    remote = ray.remote(num_cpus=1)(sweep_one)
    pending = [remote.remote(job) for job in jobs]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield ray.get(done[0])


def sweep_table(rows: list[dict], models: list[str], lags: list[int]) -> str:
    """Markdown: per lag and model, success rate (reached the target) and median seconds of the solved runs."""
    lines = ["| lag | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for lag in lags:
        cells = []
        for m in models:
            rs = [r for r in rows if r["lag"] == lag and r["model"] == m]
            ok = [r for r in rs if r["stop"] == "target"]
            med = f", median {statistics.median(r['seconds'] for r in ok):.1f} s" if ok else ""
            cells.append(f"{len(ok)}/{len(rs)}{med}")
        lines.append(f"| {lag} | " + " | ".join(cells) + " |")
    return "\n".join(lines)



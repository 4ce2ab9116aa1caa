"""Training runs to a stop condition, and the sweep over models x lags x seeds behind `python -m lstm_core sweep`.

Kept apart from `__main__` so that `sweep --jobs N` can hand runs to worker processes (they import this module).
"""

from __future__ import annotations

import statistics

from .config import RunConfig
from .runs import save_run, save_snapshot


def train_run(run: RunConfig, out: str | None, log=None, snapshot_every: int = 0) -> dict:
    """Train to a stop condition; write the run folder if `out` (with weight snapshots every `snapshot_every`
    steps, step 0 included, when > 0); return the summary dict."""
    from .train import Trainer, configure_torch

    configure_torch(1)
    tr = Trainer(run)
    if out and snapshot_every > 0:
        save_snapshot(out, 0, tr.model)
    for rec in tr.steps():
        if out and snapshot_every > 0 and (rec.step % snapshot_every == 0 or rec.stop):
            save_snapshot(out, rec.step, tr.model)
        if log is not None and rec.val_metric is not None:
            print(f"step {rec.step:6d}  {rec.seconds:7.1f} s  loss {rec.loss:.4f}  "
                  f"held-out {tr.task.metric_name} {rec.val_metric:.4f}", file=log, flush=True)
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
    run, lag, seed = args
    s = train_run(run, None)
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



"""Training runs to a stop condition, and the sweep over models x lags x seeds behind `python -m lstm_core sweep`.

Kept apart from `__main__` so that `sweep --jobs N` can hand runs to worker processes (they import this module),
and so that the app's Lag race page can run one cell of a sweep as a worker job (`sweep_cell`).

For recall, each row also measures the gradient that reaches the cue: ‖dL/dh_0‖ / ‖dL/dh_T‖ (the symbol is
read at t = 0, the question asked at T), by `trace` on CUE_SEQUENCES fixed held-out sequences, on the model at
step 0 and at the end of the run. Why the median over sequences, and why 32 of them: measured on the untrained
models of the sweep (H 32, lags 5-200), log10 of the ratio varies between sequences with a standard deviation of
0.06 (LSTM) to 0.3 decades (vanilla RNN, GRU), so the median of 32 is within about 0.07 decades of the median of
all sequences (1.25 sd / sqrt(32)), far below the decades that separate lags; and the median, unlike a geometric
mean, stays defined when the gradient underflows float32 to exactly 0 on some sequences (the vanilla RNN's does
at lag 200). The 64 traces cost under 0.4 s per run, outside the run's clock.
"""

from __future__ import annotations

import csv
import math
import statistics
from dataclasses import dataclass, replace
from pathlib import Path

from .config import ModelConfig, RunConfig, TaskConfig, TrainConfig

# The Lag race page's shipped results (`make lag-race`): read by the page process, so this module imports no torch
# at its top (training and tracing import it inside the functions that need it).
SHIPPED = Path(__file__).resolve().parents[1] / "datasets" / "lag_race.csv"
LIVE_MAX_SECONDS = 60.0  # a live cell (a worker job) trains at most this long: it holds a worker meanwhile


def train_run(run: RunConfig, out: str | None, log=None, snapshot_every: int = 0, threads: int = 1,
              tune: bool = False) -> dict:
    """Train to a stop condition with `threads` torch threads (with `tune`, a ThreadTuner chooses between 1 and
    `threads` as it goes; the caller's count is restored afterwards); write the run folder if `out` (with weight
    snapshots every `snapshot_every` steps, step 0 included, when > 0); return the summary dict."""
    import torch

    from .threads import ThreadTuner
    from .train import Trainer, configure_torch

    before = torch.get_num_threads()
    try:
        configure_torch(threads)
        tr = Trainer(run)
        return _train(tr, out, log, snapshot_every, ThreadTuner(threads) if tune and threads > 1 else None)
    finally:
        torch.set_num_threads(before)


def _train(tr, out: str | None, log=None, snapshot_every: int = 0, tuner=None) -> dict:
    import time

    from .runs import save_run, save_snapshot

    run = tr.run
    if out and snapshot_every > 0:
        save_snapshot(out, 0, tr.model)
    t0 = time.perf_counter()
    for rec in tr.steps():
        if tuner is not None and rec.val_metric is None:  # evaluation steps are left out of the timing
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


CUE_SEQUENCES = 32  # held-out sequences the cue-gradient ratio is the median over (see the module's docstring)
CUE_TASKS = ("recall",)  # tasks whose one question at T is about the cue at t = 0
# The settings a row records beside its results, so that a sweep's CSV says how it was made and a missing cell
# can be run again the same way (the Lag race page does).
SETTINGS = (("alphabet", "task", "alphabet"), ("hidden", "model", "hidden"), ("gate_init", "model", "gate_init"),
            ("batch", "train", "batch"), ("lr", "train", "lr"), ("clip", "train", "clip"),
            ("val_every", "train", "val_every"), ("max_steps", "train", "steps"),
            ("max_seconds", "train", "max_seconds"), ("clock", "train", "clock"), ("target", "train", "target"))


def cue_gradient(model, task, seed: int, n: int = CUE_SEQUENCES) -> float:
    """Median over the first `n` sequences of the seed's held-out set of ‖dL/dh_0‖ / ‖dL/dh_T‖, each from
    `trace(...).grad_h` of that one sequence (0 where the cue's gradient underflowed float32)."""
    import numpy as np

    from .tasks.base import Batch
    from .trace import trace

    b = task.val_batch(n, seed)
    ratios = []
    for k in range(n):
        g = trace(model, task, Batch(b.x[k:k + 1], b.y[k:k + 1])).grad_h  # (T,)
        ratios.append(g[0] / g[-1] if g[-1] > 0 else np.nan)
    return float(f"{np.nanmedian(ratios):.4g}")  # 4 significant digits: the CSV ships with the app


def sweep_one(args: tuple) -> dict:
    """One cell of a sweep, (run, lag, seed[, threads, tune]): train `run` to its stop with that many torch threads
    (default one; see train_run); for recall, the cue-gradient ratio before and after."""
    from .threads import ThreadTuner
    from .train import Trainer, configure_torch

    run, lag, seed, *rest = args
    threads, tune = rest or (1, False)
    configure_torch(threads)
    tr = Trainer(run)
    cue = run.task.name in CUE_TASKS
    cue_0 = cue_gradient(tr.model, tr.task, seed) if cue else None
    s = _train(tr, None, tuner=ThreadTuner(threads) if tune and threads > 1 else None)
    cue_end = cue_gradient(tr.model, tr.task, seed) if cue else None
    settings = {col: getattr(getattr(run, part), name) for col, part, name in SETTINGS}
    return {"task": run.task.name, "model": run.model.cell, "lag": lag, "seed": seed, **s,
            "cue_grad_0": cue_0, "cue_grad_end": cue_end, **settings}


def cell_run(base: RunConfig, model: str, lag: int, seed: int) -> RunConfig:
    """The run of one sweep cell: `base` with this model, lag and seed."""
    return RunConfig(replace(base.task, lag=lag), replace(base.model, cell=model), replace(base.train, seed=seed))


def sweep_cell(base: RunConfig, model: str, lag: int, seed: int) -> dict:
    """One row of a sweep, as `python -m lstm_core sweep` writes it: the Lag race page's live cell, a worker job.
    Refused (LimitError, one sentence) over the per-session limits or a budget above LIVE_MAX_SECONDS."""
    from . import limits
    from .errors import LimitError

    run = cell_run(base, model, lag, seed)
    limits.check(run.task, [run.model], run.train)
    if run.train.max_seconds is None or run.train.max_seconds > LIVE_MAX_SECONDS:
        raise LimitError(f"a live cell may train at most {LIVE_MAX_SECONDS:g} s, and this one asks for "
                         f"{run.train.max_seconds}; make the sweep on the command line instead (make lag-race).")
    return sweep_one((run, lag, seed))


def cue_table(rows: list[dict], models: list[str], lags: list[int]) -> str:
    """Markdown: per lag and model, the median over seeds of ‖dL/dh_0‖ / ‖dL/dh_T‖ at step 0 -> at the end."""
    lines = ["| lag | " + " | ".join(f"{m} cue gradient, step 0 -> end" for m in models) + " |",
             "|---" * (len(models) + 1) + "|"]
    for lag in lags:
        cells = []
        for m in models:
            rs = [r for r in rows if r["lag"] == lag and r["model"] == m and r.get("cue_grad_0") is not None]
            cells.append(f"{statistics.median(r['cue_grad_0'] for r in rs):.2g} -> "
                         f"{statistics.median(r['cue_grad_end'] for r in rs):.2g}" if rs else "")
        lines.append(f"| {lag} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -- reading a sweep back: what the Lag race page draws (torch-free) ---------------------------------------------
INT_COLUMNS = ("lag", "seed", "steps", "alphabet", "hidden", "batch", "val_every", "max_steps")
FLOAT_COLUMNS = ("seconds", "loss", "accuracy", "mse", "bits_per_char", "baseline", "cue_grad_0", "cue_grad_end",
                 "lr", "clip", "max_seconds", "target")


def read_rows(path: str | Path) -> list[dict]:
    """The rows of a sweep CSV with their numbers typed (an empty field is None)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k, v in r.items():
            if k in INT_COLUMNS or k in FLOAT_COLUMNS:
                r[k] = None if v in ("", None) else (int(float(v)) if k in INT_COLUMNS else float(v))
    return rows


def base_run(rows: list[dict]) -> RunConfig:
    """The settings the sweep's runs shared (the first row's settings columns; lag, cell and seed are per cell),
    to run a missing cell the same way."""
    r = rows[0]
    return RunConfig(
        TaskConfig(name=r["task"], alphabet=r["alphabet"]),
        ModelConfig(hidden=r["hidden"], gate_init=r["gate_init"]),
        TrainConfig(batch=r["batch"], lr=r["lr"], clip=r["clip"], val_every=r["val_every"], steps=r["max_steps"],
                    max_seconds=r["max_seconds"], clock=r["clock"], target=r["target"]))


@dataclass(frozen=True)
class RaceCell:
    """The runs of one model at one lag, over seeds: what each Lag race chart draws for that point."""

    model: str
    lag: int
    seeds: tuple[int, ...]  # the seeds measured, in order
    solved: tuple[bool, ...]  # per seed: reached the target (stop == "target")
    steps: tuple[int, ...]  # per seed: steps to the target, or steps trained within the budget
    cue_0: tuple[float, ...]  # per seed: ‖dL/dh_0‖ / ‖dL/dh_T‖ at step 0 (0 = underflowed float32)
    cue_end: tuple[float, ...]  # per seed: the same at the end of the run

    @property
    def runs(self) -> int:
        return len(self.seeds)

    @property
    def n_solved(self) -> int:
        return sum(self.solved)

    @property
    def rate(self) -> float:
        return self.n_solved / self.runs

    @property
    def solved_steps(self) -> tuple[int, ...]:
        """Steps to the target of the seeds that reached it."""
        return tuple(s for s, ok in zip(self.steps, self.solved, strict=True) if ok)

    def cue(self, when: str) -> tuple[float, ...]:
        """Per-seed cue-gradient ratios, `when` = "0" (step 0) or "end"."""
        return self.cue_0 if when == "0" else self.cue_end


def race_cells(rows: list[dict], models: list[str], lags: list[int],
               seeds: list[int]) -> dict[tuple[str, int], RaceCell]:
    """(model, lag) -> RaceCell over the chosen seeds, for every chosen pair with at least one run in `rows` (a
    later row of the same model, lag and seed replaces an earlier one)."""
    by_run = {(r["model"], r["lag"], r["seed"]): r for r in rows}
    out = {}
    for m in models:
        for lag in lags:
            rs = [by_run[(m, lag, s)] for s in sorted(seeds) if (m, lag, s) in by_run]
            if rs:
                nan = float("nan")
                out[(m, lag)] = RaceCell(
                    m, lag, tuple(r["seed"] for r in rs), tuple(r["stop"] == "target" for r in rs),
                    tuple(r["steps"] for r in rs),
                    tuple(nan if r.get("cue_grad_0") is None else r["cue_grad_0"] for r in rs),
                    tuple(nan if r.get("cue_grad_end") is None else r["cue_grad_end"] for r in rs))
    return out


def missing_cells(rows: list[dict], models: list[str], lags: list[int], seeds: list[int]) -> list[tuple[str, int, int]]:
    """The chosen (model, lag, seed) runs that `rows` do not hold, smallest lag first."""
    have = {(r["model"], r["lag"], r["seed"]) for r in rows}
    return [(m, lag, s) for lag in sorted(lags) for m in models for s in sorted(seeds) if (m, lag, s) not in have]


@dataclass(frozen=True)
class Reach:
    """How far in lag one model's success reaches, over the chosen lags (None where no lag qualifies)."""

    all_up_to: int | None  # largest lag up to which every lag had every seed solved
    majority_up_to: int | None  # the cliff: the largest lag with a majority of seeds solved
    none_from: int | None  # the smallest lag from which on no seed solved at any lag


def reach(cells: dict[tuple[str, int], RaceCell], model: str) -> Reach:
    mine = sorted((lag, c) for (m, lag), c in cells.items() if m == model)
    all_up_to = None
    for lag, c in mine:
        if c.n_solved < c.runs:
            break
        all_up_to = lag
    majority = [lag for lag, c in mine if 2 * c.n_solved > c.runs]
    none_from = None
    for lag, c in reversed(mine):
        if c.n_solved:
            break
        none_from = lag
    return Reach(all_up_to, max(majority) if majority else None, none_from)


@dataclass(frozen=True)
class DecayFit:
    """A least-squares line through log10 of the cue-gradient ratio against lag, over every run with a ratio
    above 0 (runs whose cue gradient underflowed float32 to 0 cannot be placed on a log scale)."""

    per_10: float  # change of log10(ratio) per 10 steps of lag (negative: it falls)
    intercept: float  # log10(ratio) at lag 0
    points: int  # runs in the fit
    zeros: int  # runs left out because their ratio was 0
    lags: tuple[int, ...]  # the lags that had points


def decay_fit(cells: dict[tuple[str, int], RaceCell], model: str, when: str) -> DecayFit | None:
    """The fit of `model`'s cue-gradient ratios at `when` ("0" or "end"); None with fewer than two lags to fit."""
    xs, ys, zeros = [], [], 0
    for (m, lag), c in cells.items():
        if m != model:
            continue
        for v in c.cue(when):
            if v > 0:
                xs.append(lag)
                ys.append(math.log10(v))
            elif v == 0:
                zeros += 1
    if len(set(xs)) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return DecayFit(10 * slope, my - slope * mx, len(xs), zeros, tuple(sorted(set(xs))))


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



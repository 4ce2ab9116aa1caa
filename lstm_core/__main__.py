"""Command line: `python -m lstm_core train | trace | sweep` (the contract is in DESIGN.md and the README).

Bad arguments and unusable files exit with code 2 and one line on stderr naming the value and what is
allowed; no traceback.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .cells import CELLS
from .config import ModelConfig, RunConfig, TaskConfig, TrainConfig, bound
from .errors import ConfigError, DataError, DivergedError, RunError
from .runs import load_run
from .sweep import SETTINGS, cue_table, sweep_on_ray, sweep_one, sweep_table, train_run
from .tasks import TASKS
from .trace_file import trace_arrays, trace_csv_text


class UsageError(Exception):
    pass


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity (os.cpu_count() also counts cores it may not use,
    in a container or under taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity call on macOS and Windows
        return os.cpu_count() or 1


def threads_for(a: argparse.Namespace) -> tuple[int, bool]:
    """(threads, tune): --threads as given, fixed; by default every available core (for `sweep`, shared out
    among its --jobs workers), with a ThreadTuner free to fall back to one thread while that is faster."""
    if a.threads is None:
        return max(1, available_cores() // getattr(a, "jobs", 1)), True
    if a.threads < 1:
        raise UsageError(f"--threads must be 1 or more, got {a.threads}.")
    return a.threads, False


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints usage as well by default)
        raise UsageError(message)


# Config fields with a flag of another name, and fields the command line does not set directly.
FLAGS = {(TaskConfig, "name"): "--task", (ModelConfig, "cell"): "--model"}
NOT_FLAGS = {(TrainConfig, "seed")}  # train and sweep give --seed / --seeds themselves
CONFIGS = (TaskConfig, ModelConfig, TrainConfig)


def _flag(cls: type, name: str) -> str:
    return FLAGS.get((cls, name), "--" + name.replace("_", "-"))


def _add_config_args(p: argparse.ArgumentParser, classes: tuple[type, ...], skip: frozenset = frozenset()) -> None:
    """One flag per config field, named, typed, defaulted and explained by the config itself (its `Bound`):
    a field added to a config, or a name added to a registry, is a flag of the command line at once."""
    for cls in classes:
        default = cls()
        for f in dataclasses.fields(cls):
            if (cls, f.name) in NOT_FLAGS | skip:
                continue
            b = bound(cls, f.name)
            kind = str(f.type)
            typ = int if kind.startswith("int") else float if kind.startswith("float") else str
            allowed = f"one of {', '.join(b.allowed())}" if b.kind == "choice" else (
                f"{b.lo:g} to {b.hi:g}" if b.lo is not None else "")
            text = "; ".join(t for t in (b.help.rstrip("."), allowed) if t)
            p.add_argument(_flag(cls, f.name), dest=f"{cls.__name__}.{f.name}", type=typ, metavar=f.name.upper(),
                           default=getattr(default, f.name), help=text or None)


def _config(cls: type, a: argparse.Namespace, **override):
    values = {f.name: getattr(a, f"{cls.__name__}.{f.name}") for f in dataclasses.fields(cls)
              if hasattr(a, f"{cls.__name__}.{f.name}")}
    return cls(**{**values, **override})


def run_config(a: argparse.Namespace, cell: str | None = None, lag: int | None = None,
               seed: int | None = None) -> RunConfig:
    task_over: dict = {"corpus": "file"} if getattr(a, "TaskConfig.text_file") else {}
    if lag is not None:
        task_over["lag"] = lag
    task = _config(TaskConfig, a, **task_over)
    model = _config(ModelConfig, a, **({"cell": cell} if cell else {}))
    train = _config(TrainConfig, a, seed=a.seed if seed is None else seed)
    return RunConfig(task, model, train)


def cmd_train(a: argparse.Namespace) -> int:
    run = run_config(a)
    if a.snapshot_every < 0:
        raise UsageError(f"--snapshot-every must be 0 (off) or more, got {a.snapshot_every}.")
    threads, tune = threads_for(a)
    summary = train_run(run, a.out, log=sys.stdout, snapshot_every=a.snapshot_every, threads=threads, tune=tune)
    print(json.dumps(summary))
    return 0


def cmd_trace(a: argparse.Namespace) -> int:
    from .trace import trace

    run, task, model, _ = load_run(a.run)
    seed = run.train.seed if a.seed is None else a.seed
    tr = trace(model, task, task.display(seed))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez(a.out, **trace_arrays(tr))  # the same arrays and files as the app's Export page
    if a.csv:
        Path(a.csv).write_text(trace_csv_text(tr), newline="")
    print(json.dumps({"out": a.out, "steps": tr.steps, "cell": tr.cell, "loss": tr.loss}))
    return 0


def parse_clamps(a: argparse.Namespace, memory_order=None) -> tuple:
    """--clamp Q=V (one or more), --units all | 3,7 | top:K | bottom:K, --steps A:B -> Clamp objects."""
    from .views import Clamp

    units = None
    if a.units != "all":
        if a.units.startswith(("top:", "bottom:")):
            kind, _, k = a.units.partition(":")
            if not k.isdigit() or memory_order is None:
                raise UsageError(f"--units {a.units}: give top:K or bottom:K with K a whole number, on a recall run.")
            units = tuple(memory_order[: int(k)] if kind == "top" else memory_order[-int(k):])
        else:
            units = tuple(_int_list("--units", a.units))
    start, _, stop = a.steps.partition(":")
    try:
        span = (int(start), int(stop) if stop else int(start) + 1)
    except ValueError:
        raise UsageError(f"--steps must be A:B (timesteps A to B - 1), got {a.steps!r}.") from None
    out = []
    for spec in a.clamp:
        q, eq, v = spec.partition("=")
        try:
            out.append(Clamp(q.strip(), float(v), units, *span, layer=a.layer - 1))
        except ValueError:
            raise UsageError(f"--clamp must be QUANTITY=VALUE, like f=0, got {spec!r}.") from None
        if not eq:
            raise UsageError(f"--clamp must be QUANTITY=VALUE, like f=0, got {spec!r}.")
    return tuple(out)


def cmd_intervene(a: argparse.Namespace) -> int:
    from .lab import Lab
    from .surgery import intervene

    run, task, model, _ = load_run(a.run)
    lab = Lab(run.task, run.train, {run.model.cell: run.model}, check_limits=False)
    order = None
    if a.units.startswith(("top:", "bottom:")) and getattr(task, "cue_step", None) is not None:
        from .probe import memory_units

        order = memory_units(model, task, run.train.seed).order
    r = intervene(model, task, task.display(run.train.seed), lab.trainers[run.model.cell]._val,
                  parse_clamps(a, order))
    metric = TASKS[run.task.name].metric
    print(json.dumps({"clamps": [c.describe() for c in r.clamps], "held_out": r.held_out,
                      f"{metric}_before": r.metric_before, f"{metric}_after": r.metric_after,
                      "loss_before": r.loss_before, "loss_after": r.loss_after,
                      "prediction_before": r.before.predictions[-1], "prediction_after": r.after.predictions[-1],
                      "target": r.before.targets[-1]}))
    return 0


def cmd_sweep(a: argparse.Namespace) -> int:
    models = [m.strip() for m in a.models.split(",") if m.strip()]
    for m in models:
        if m not in CELLS:
            raise UsageError(f"--models has {m!r}; allowed: {', '.join(CELLS)}.")
    lags, seeds = _int_list("--lags", a.lags), _int_list("--seeds", a.seeds)
    if getattr(a, "TrainConfig.max_seconds") is None:
        setattr(a, "TrainConfig.max_seconds", 30.0)
    spec = TASKS.get(getattr(a, "TaskConfig.name"))
    if getattr(a, "TrainConfig.target") is None and spec is not None and spec.metric == "accuracy":
        setattr(a, "TrainConfig.target", 0.99)
    threads, tune = (1, False) if a.engine == "ray" else threads_for(a)  # a Ray task has one CPU
    jobs = [(run_config(a, cell=m, lag=lag, seed=s), lag, s, threads, tune)
            for lag in lags for m in models for s in seeds]
    rows = []
    if a.engine == "ray":
        for row in sweep_on_ray(jobs):
            rows.append(row)
            print(json.dumps(row), flush=True)
    elif a.jobs > 1:
        import multiprocessing as mp

        with ProcessPoolExecutor(a.jobs, mp_context=mp.get_context("spawn")) as ex:
            for row in ex.map(sweep_one, jobs):
                rows.append(row)
                print(json.dumps(row), flush=True)
    else:
        for job in jobs:
            rows.append(sweep_one(job))
            print(json.dumps(rows[-1]), flush=True)
    metric = next(k for k in rows[0] if k in ("accuracy", "mse", "bits_per_char"))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    with open(a.out, "w", newline="") as f:
        keys = ["task", "model", "lag", "seed", "steps", "seconds", "loss", metric, "stop", "baseline",
                "cue_grad_0", "cue_grad_end", *(col for col, _, _ in SETTINGS)]
        w = csv.DictWriter(f, keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    print(sweep_table(rows, models, lags))
    if any(r.get("cue_grad_0") is not None for r in rows):
        print(cue_table(rows, models, lags))
    return 0


def _int_list(flag: str, s: str) -> list[int]:
    try:
        vals = [int(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{flag} must be comma-separated whole numbers, got {s!r}.") from None
    if not vals:
        raise UsageError(f"{flag} needs at least one value.")
    return vals


def build_parser() -> Parser:
    p = Parser(prog="python -m lstm_core", description="Train, trace and compare LSTM, GRU and vanilla RNN models.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=Parser)
    t = sub.add_parser("train", help="train one model and write a run folder")
    _add_config_args(t, CONFIGS)
    t.add_argument("--seed", type=int, default=TrainConfig().seed)
    t.add_argument("--out", default=None, help="run folder to write (config.json, metrics.jsonl, model.pt)")
    t.add_argument("--snapshot-every", type=int, default=0,
                   help="also save the weights every N steps into OUT/snapshots/ (0 = off)")
    t.add_argument("--threads", type=int, default=None,
                   help="torch threads per run, fixed (default: every core this process may use, shared out "
                        "among sweep's --jobs, and one thread instead whenever timing shows it is faster)")
    r = sub.add_parser("trace", help="trace a run's display sequence into .npz (and CSV)")
    r.add_argument("run", help="a run folder written by 'train --out'")
    r.add_argument("--out", required=True, help="the .npz file to write")
    r.add_argument("--csv", default=None, help="also write the trace in long form as CSV")
    r.add_argument("--seed", type=int, default=None, help="display sequence of this seed (default: the run's)")
    v = sub.add_parser("intervene", help="gate surgery: hold gates or states of a trained run's model, compare")
    v.add_argument("run", help="a run folder written by 'train --out'")
    v.add_argument("--clamp", action="append", required=True, help="QUANTITY=VALUE, e.g. f=0 (repeat for more)")
    v.add_argument("--units", default="all", help="all, a list like 3,7, or top:K / bottom:K memory units (recall)")
    v.add_argument("--steps", default="0:1000000", help="timesteps A:B held (A to B - 1); A alone means one step")
    v.add_argument("--layer", type=int, default=1, help="the layer to operate on (1 or 2)")
    s = sub.add_parser("sweep", help="success rate and time to solve over models x lags x seeds")
    _add_config_args(s, CONFIGS, skip=frozenset({(ModelConfig, "cell")}))
    s.add_argument("--models", default="lstm,rnn")
    s.add_argument("--lags", default="10,20,50,100")
    s.add_argument("--seeds", default="0,1,2,3,4")
    s.add_argument("--jobs", type=int, default=1, help="runs in parallel on this machine (each with cores // jobs "
                   "threads)")
    s.add_argument("--threads", type=int, default=None,
                   help="torch threads per run, fixed (default: every core this process may use, shared out "
                        "among sweep's --jobs, and one thread instead whenever timing shows it is faster)")
    s.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="ray: spread the runs over a Ray cluster (RAY_ADDRESS, else a Ray started here); "
                   "needs requirements-ray.txt")
    s.add_argument("--out", required=True, help="CSV file to write")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        a = build_parser().parse_args(argv)
        if getattr(a, "seed", None) is not None and a.seed < 0:
            raise UsageError(f"--seed must be 0 or more, got {a.seed}.")
        if a.cmd == "sweep" and a.jobs < 1:
            raise UsageError(f"--jobs must be 1 or more, got {a.jobs}.")
        return {"train": cmd_train, "trace": cmd_trace, "sweep": cmd_sweep, "intervene": cmd_intervene}[a.cmd](a)
    except (UsageError, ConfigError, DataError, RunError, DivergedError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e.strerror}: {e.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

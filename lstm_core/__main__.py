"""Command line: `python -m lstm_core train | trace | sweep` (the contract is in DESIGN.md and the README).

Bad arguments and unusable files exit with code 2 and one line on stderr naming the value and what is
allowed; no traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .config import (
    CELLS,
    CORPORA,
    GATE_INITS,
    SERIES,
    TASKS,
    ConfigError,
    ModelConfig,
    RunConfig,
    TaskConfig,
    TrainConfig,
)
from .export import trace_arrays, write_trace_csv_rows
from .runs import RunError, load_run
from .sweep import sweep_one, sweep_table, train_run
from .tasks.base import DataError
from .train import DivergedError


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints usage as well by default)
        raise UsageError(message)


def _add_run_args(p: argparse.ArgumentParser) -> None:
    d_task, d_model, d_train = TaskConfig(), ModelConfig(), TrainConfig()
    p.add_argument("--task", default=d_task.name, help=f"one of {', '.join(TASKS)}")
    p.add_argument("--lag", type=int, default=d_task.lag, help="recall/copy: timesteps to remember over")
    p.add_argument("--alphabet", type=int, default=d_task.alphabet, help="recall: distinct symbols")
    p.add_argument("--copy-len", type=int, default=d_task.copy_len, help="copy: symbols to reproduce")
    p.add_argument("--seq-len", type=int, default=d_task.seq_len, help="sine/text/series: window length")
    p.add_argument("--corpus", default=d_task.corpus, help=f"text: one of {', '.join(CORPORA)}")
    p.add_argument("--text-file", default=None, help="text: a UTF-8 file to learn (sets --corpus file)")
    p.add_argument("--series", default=d_task.series, help=f"series: one of {', '.join(SERIES)}")
    p.add_argument("--hidden", type=int, default=d_model.hidden)
    p.add_argument("--layers", type=int, default=d_model.layers)
    p.add_argument("--dropout", type=float, default=d_model.dropout)
    p.add_argument("--gate-init", default=d_model.gate_init, help=f"LSTM: one of {', '.join(GATE_INITS)}")
    p.add_argument("--forget-bias", type=float, default=d_model.forget_bias)
    p.add_argument("--init-scale", type=float, default=d_model.init_scale)
    p.add_argument("--steps", type=int, default=d_train.steps)
    p.add_argument("--batch", type=int, default=d_train.batch)
    p.add_argument("--lr", type=float, default=d_train.lr)
    p.add_argument("--clip", type=float, default=d_train.clip, help="max gradient norm; 0 = off")
    p.add_argument("--weight-decay", type=float, default=d_train.weight_decay)
    p.add_argument("--val-every", type=int, default=d_train.val_every)
    p.add_argument("--patience", type=int, default=d_train.patience, help="early stopping; 0 = off")
    p.add_argument("--device", default=d_train.device)
    p.add_argument("--max-seconds", type=float, default=None)
    p.add_argument("--target", type=float, default=None)
    p.add_argument("--clock", default=d_train.clock,
                   help="what --max-seconds and 'seconds' count: wall, or cpu (this process's CPU time)")


def run_config(a: argparse.Namespace, cell: str | None = None, lag: int | None = None,
               seed: int | None = None) -> RunConfig:
    corpus = "file" if a.text_file else a.corpus
    task = TaskConfig(name=a.task, lag=a.lag if lag is None else lag, alphabet=a.alphabet, copy_len=a.copy_len,
                      seq_len=a.seq_len, corpus=corpus, text_file=a.text_file, series=a.series)
    model = ModelConfig(cell=cell or a.model, hidden=a.hidden, layers=a.layers, dropout=a.dropout,
                        gate_init=a.gate_init, forget_bias=a.forget_bias, init_scale=a.init_scale)
    train = TrainConfig(seed=a.seed if seed is None else seed, steps=a.steps, batch=a.batch, lr=a.lr, clip=a.clip,
                        weight_decay=a.weight_decay, val_every=a.val_every, patience=a.patience, device=a.device,
                        max_seconds=a.max_seconds, target=a.target, clock=a.clock)
    return RunConfig(task, model, train)


def cmd_train(a: argparse.Namespace) -> int:
    run = run_config(a)
    if a.snapshot_every < 0:
        raise UsageError(f"--snapshot-every must be 0 (off) or more, got {a.snapshot_every}.")
    summary = train_run(run, a.out, log=sys.stdout, snapshot_every=a.snapshot_every)
    print(json.dumps(summary))
    return 0


def cmd_trace(a: argparse.Namespace) -> int:
    from .trace import trace

    run, task, model, _ = load_run(a.run)
    seed = run.train.seed if a.seed is None else a.seed
    tr = trace(model, task, task.display(seed))
    arrays = trace_arrays(tr)  # the same arrays as the app's Export page
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez(a.out, **arrays)
    if a.csv:
        write_trace_csv(a.csv, arrays)
    print(json.dumps({"out": a.out, "steps": tr.steps, "cell": tr.cell, "loss": tr.loss}))
    return 0


def write_trace_csv(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Long form: one row per (quantity, t, unit) with the token at t."""
    with open(path, "w", newline="") as f:
        write_trace_csv_rows(f, arrays)


def cmd_sweep(a: argparse.Namespace) -> int:
    models = [m.strip() for m in a.models.split(",") if m.strip()]
    for m in models:
        if m not in CELLS:
            raise UsageError(f"--models has {m!r}; allowed: {', '.join(CELLS)}.")
    lags, seeds = _int_list("--lags", a.lags), _int_list("--seeds", a.seeds)
    if a.max_seconds is None:
        a.max_seconds = 30.0
    if a.target is None and a.task in ("recall", "copy"):
        a.target = 0.99
    jobs = [(run_config(a, cell=m, lag=lag, seed=s), lag, s) for lag in lags for m in models for s in seeds]
    rows = []
    if a.jobs > 1:
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
        keys = ["task", "model", "lag", "seed", "steps", "seconds", "loss", metric, "stop", "baseline"]
        w = csv.DictWriter(f, keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    print(sweep_table(rows, models, lags, a.target))
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
    _add_run_args(t)
    t.add_argument("--model", default=ModelConfig().cell, help=f"one of {', '.join(CELLS)}")
    t.add_argument("--seed", type=int, default=TrainConfig().seed)
    t.add_argument("--out", default=None, help="run folder to write (config.json, metrics.jsonl, model.pt)")
    t.add_argument("--snapshot-every", type=int, default=0,
                   help="also save the weights every N steps into OUT/snapshots/ (0 = off)")
    r = sub.add_parser("trace", help="trace a run's display sequence into .npz (and CSV)")
    r.add_argument("run", help="a run folder written by 'train --out'")
    r.add_argument("--out", required=True, help="the .npz file to write")
    r.add_argument("--csv", default=None, help="also write the trace in long form as CSV")
    r.add_argument("--seed", type=int, default=None, help="display sequence of this seed (default: the run's)")
    s = sub.add_parser("sweep", help="success rate and time to solve over models x lags x seeds")
    _add_run_args(s)
    s.add_argument("--models", default="lstm,rnn")
    s.add_argument("--lags", default="10,20,50,100")
    s.add_argument("--seeds", default="0,1,2,3,4")
    s.add_argument("--jobs", type=int, default=1, help="runs in parallel, one thread each")
    s.add_argument("--out", required=True, help="CSV file to write")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        a = build_parser().parse_args(argv)
        if getattr(a, "seed", None) is not None and a.seed < 0:
            raise UsageError(f"--seed must be 0 or more, got {a.seed}.")
        if a.cmd == "sweep" and a.jobs < 1:
            raise UsageError(f"--jobs must be 1 or more, got {a.jobs}.")
        return {"train": cmd_train, "trace": cmd_trace, "sweep": cmd_sweep}[a.cmd](a)
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

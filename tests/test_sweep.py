"""lstm_core/sweep.py and lstm_core/threads.py: train_run's torch threads and the ThreadTuner that picks 1 or all
of them by timing steps; the cue-gradient columns of a sweep row against trace() itself, the live cell's limits, and the
torch-free reading of a sweep (cells, reach, decay fit) that the Lag race page draws; the shipped results' grid."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lstm_core import sweep
from lstm_core import threads as threads_module
from lstm_core.config import ModelConfig, RunConfig, TaskConfig, TrainConfig
from lstm_core.errors import LimitError
from lstm_core.models import build_model
from lstm_core.tasks import make_task
from lstm_core.tasks.base import Batch
from lstm_core.threads import ThreadTuner
from lstm_core.trace import trace

ROOT = Path(__file__).resolve().parents[1]


def _direct_ratio(model, task, seed: int, n: int) -> float:
    """The median of ‖dL/dh_0‖ / ‖dL/dh_T‖ over the seed's first n held-out sequences, straight from trace()."""
    b = task.val_batch(n, seed)
    ratios = []
    for k in range(n):
        g = trace(model, task, Batch(b.x[k:k + 1], b.y[k:k + 1])).grad_h
        ratios.append(g[0] / g[-1])
    return float(np.median(ratios))


def test_cue_ratio_is_the_median_of_trace_grad_h_over_held_out_sequences(make_run):
    run = make_run(model={"cell": "lstm"}, task={"lag": 9})
    task = make_task(run.task, 3)
    model = build_model(run.model, task, 3)
    assert sweep.cue_gradient(model, task, 3, n=5) == pytest.approx(_direct_ratio(model, task, 3, 5), rel=1e-3)


def test_a_sweep_row_measures_the_cue_gradient_before_and_after_training(make_run):
    run = make_run(model={"cell": "rnn"}, task={"lag": 7}, train={"seed": 2, "steps": 10, "lr": 3e-2})
    row = sweep.sweep_one((run, 7, 2))
    assert row["steps"] == 10 and row["stop"] in ("steps", "target")
    task = make_task(run.task, 2)
    untrained = build_model(run.model, task, 2)
    n = sweep.CUE_SEQUENCES
    assert row["cue_grad_0"] == pytest.approx(_direct_ratio(untrained, task, 2, n), rel=1e-3)
    assert row["cue_grad_end"] != row["cue_grad_0"]  # measured again on the trained weights
    assert (row["hidden"], row["max_steps"], row["lag"], row["seed"]) == (8, 10, 7, 2)  # the settings ride along


def test_a_small_rnn_s_cue_gradient_falls_with_lag():
    """init_scale 0.3: the recurrent Jacobians are contractions, so each step of lag multiplies the gradient by
    less than 1 and the ratio falls geometrically: every 5 steps of lag costs at least a factor of 10 here."""
    ratios = []
    for lag in (5, 10, 15, 20):
        task = make_task(TaskConfig(name="recall", lag=lag, alphabet=4), 0)
        model = build_model(ModelConfig(cell="rnn", hidden=8, init_scale=0.3), task, 0)
        ratios.append(sweep.cue_gradient(model, task, 0, n=8))
    assert all(r > 0 for r in ratios)
    assert all(b < a / 10 for a, b in zip(ratios, ratios[1:])), ratios


def test_a_live_cell_is_refused_over_the_session_limits():
    base = RunConfig(TaskConfig(), ModelConfig(), TrainConfig(steps=10, max_seconds=sweep.LIVE_MAX_SECONDS * 2))
    with pytest.raises(LimitError, match="at most"):
        sweep.sweep_cell(base, "rnn", 5, 0)
    huge = RunConfig(TaskConfig(), ModelConfig(hidden=256), TrainConfig(steps=10, batch=1024, max_seconds=1.0))
    with pytest.raises(LimitError, match="billion"):
        sweep.sweep_cell(huge, "lstm", 1000, 0)


# -- reading a sweep back ---------------------------------------------------------------------------------------
def _row(model, lag, seed, solved, steps, cue0, cue1):
    return {"model": model, "lag": lag, "seed": seed, "stop": "target" if solved else "seconds", "steps": steps,
            "cue_grad_0": cue0, "cue_grad_end": cue1}


def test_race_cells_reach_and_missing():
    rows = [_row("rnn", 5, s, True, 100 + s, 1e-1, 1e-1) for s in range(3)]
    rows += [_row("rnn", 10, s, s < 2, 300 + s, 1e-3, 1e-3) for s in range(3)]
    rows += [_row("rnn", 20, s, s < 1, 900, 1e-5, 1e-5) for s in range(3)]
    rows += [_row("rnn", 50, s, False, 4000, 0.0, 0.0) for s in range(3)]
    rows += [_row("rnn", 100, s, False, 4000, 0.0, 0.0) for s in range(2)]
    cells = sweep.race_cells(rows, ["rnn", "lstm"], [5, 10, 20, 50, 100], [0, 1, 2])
    assert set(cells) == {("rnn", lag) for lag in (5, 10, 20, 50, 100)}  # no LSTM rows: no LSTM cells
    c = cells[("rnn", 10)]
    assert (c.runs, c.n_solved, c.solved_steps, c.steps) == (3, 2, (300, 301), (300, 301, 302))
    assert cells[("rnn", 100)].runs == 2
    assert sweep.reach(cells, "rnn") == sweep.Reach(all_up_to=5, majority_up_to=10, none_from=50)
    assert sweep.missing_cells(rows, ["rnn"], [5, 100], [0, 1, 2]) == [("rnn", 100, 2)]
    # a row computed later for the same run replaces the earlier one
    later = sweep.race_cells([*rows, _row("rnn", 50, 0, True, 3000, 0.0, 0.0)], ["rnn"], [50], [0, 1, 2])
    assert later[("rnn", 50)].solved == (True, False, False)


def test_decay_fit_is_orders_of_magnitude_per_10_steps_of_lag_without_the_zeros():
    rows = [_row("rnn", lag, s, False, 1, 10 ** (-0.2 * lag + 0.01 * s), 10 ** (-0.1 * lag))
            for lag in (5, 10, 20) for s in range(3)]
    rows += [_row("rnn", 200, s, False, 1, 0.0, 0.0) for s in range(3)]
    cells = sweep.race_cells(rows, ["rnn"], [5, 10, 20, 200], [0, 1, 2])
    fit = sweep.decay_fit(cells, "rnn", "0")
    assert fit.per_10 == pytest.approx(-2.0) and fit.intercept == pytest.approx(0.01)
    assert (fit.points, fit.zeros, fit.lags) == (9, 3, (5, 10, 20))
    assert sweep.decay_fit(cells, "rnn", "end").per_10 == pytest.approx(-1.0)
    one_lag = sweep.race_cells(rows, ["rnn"], [5], [0, 1, 2])
    assert sweep.decay_fit(one_lag, "rnn", "0") is None


def test_the_module_reads_sweeps_without_torch():
    probe = ("import sys; from lstm_core import sweep; rows = sweep.read_rows(sweep.SHIPPED); sweep.base_run(rows); "
             "print('torch' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "False"


# -- the shipped results -------------------------------------------------------------------------------------------
def test_the_shipped_results_are_the_full_sweep_make_lag_race_makes():
    target = re.search(r"^lag-race:.*?(?=^\S)", (ROOT / "Makefile").read_text(), re.S | re.M).group(0)
    flag = {k: v for k, v in re.findall(r"--([a-z-]+) (\S+)", target)}
    assert flag["out"] == "datasets/lag_race.csv" and Path(ROOT / flag["out"]) == sweep.SHIPPED
    rows = sweep.read_rows(sweep.SHIPPED)
    models, lags, seeds = (flag[k].split(",") for k in ("models", "lags", "seeds"))
    runs = {(r["model"], r["lag"], r["seed"]) for r in rows}
    assert runs == {(m, int(lag), int(s)) for m in models for lag in lags for s in seeds}
    assert len(rows) == len(runs)
    base = sweep.base_run(rows)
    # made when the default gate init was "chrono"; the default "auto" picks the same for recall
    from lstm_core.tasks import TASKS

    assert ModelConfig().gate_init == "auto" and TASKS["recall"].gate_init == "chrono"
    assert base == RunConfig(TaskConfig(), ModelConfig(gate_init="chrono"), TrainConfig(
        steps=int(flag["steps"]), max_seconds=float(flag["max-seconds"]), clock=flag["clock"],
        target=float(flag["target"])))  # the app's defaults, and the budget the Makefile gives
    for r in rows:
        assert r["stop"] in ("target", "seconds", "steps")
        assert r["stop"] != "target" or r["accuracy"] >= base.train.target
        assert r["cue_grad_0"] >= 0 and r["cue_grad_end"] >= 0 and math.isfinite(r["cue_grad_0"])


# -- torch threads -----------------------------------------------------------------------------------------------
class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def threads(monkeypatch):
    """torch.set_num_threads recorded instead of applied; `threads[-1]` is the count in use."""
    calls: list[int] = []
    monkeypatch.setattr(threads_module.torch, "set_num_threads", calls.append)
    return calls


def feed(tuner: ThreadTuner, clock: FakeClock, seconds: dict[int, float], steps: int) -> list[int]:
    """Run `steps` steps whose duration depends on the thread count in use; the counts used, step by step."""
    used = []
    for _ in range(steps):
        used.append(tuner.threads)
        clock.now += seconds[tuner.threads]
        tuner.step_done(seconds[tuner.threads])
    return used


def test_keeps_all_threads_while_they_are_faster(threads):
    clock = FakeClock()
    tuner = ThreadTuner(2, every=20.0, probe=3, clock=clock)
    used = feed(tuner, clock, {2: 0.1, 1: 0.18}, 10)
    # 2 warm-up steps and 3 timed ones with 2 threads, then one try of 1 thread (1 untimed + 3 timed), back to 2
    assert used == [2, 2, 2, 2, 2, 1, 1, 1, 1, 2]
    assert tuner.best == 2 and threads[-1] == 2
    assert tuner.wait == 40.0  # the try lost: the next one waits twice as long
    assert tuner.due == pytest.approx(clock.now - 0.1 + 40.0)
    used = feed(tuner, clock, {2: 0.1, 1: 0.18}, 420)  # 42 s more: one more try, 40 s after the first
    assert used.count(1) == 4 and tuner.wait == 80.0


def test_falls_back_to_one_thread_when_it_is_faster_and_tries_again_later(threads):
    clock = FakeClock()
    tuner = ThreadTuner(2, every=20.0, probe=3, clock=clock)
    used = feed(tuner, clock, {2: 0.5, 1: 0.3}, 20)
    assert used[:9] == [2, 2, 2, 2, 2, 1, 1, 1, 1] and set(used[9:]) == {1}
    assert tuner.best == 1 and threads[-1] == 1 and tuner.wait == 20.0
    # the load goes away: two threads become faster, and the next try (20 s later) finds it
    used = feed(tuner, clock, {2: 0.1, 1: 0.3}, 80)
    assert tuner.best == 2 and threads[-1] == 2 and used[-1] == 2


def test_a_try_that_is_clearly_slower_stops_at_its_first_step(threads):
    clock = FakeClock()
    tuner = ThreadTuner(2, every=20.0, probe=3, clock=clock)
    used = feed(tuner, clock, {2: 0.2, 1: 1.0}, 8)
    assert used == [2, 2, 2, 2, 2, 1, 2, 2]  # one step with 1 thread (5x slower), then back
    assert tuner.best == 2 and threads[-1] == 2


def test_one_core_means_nothing_to_choose(threads):
    clock = FakeClock()
    tuner = ThreadTuner(1, clock=clock)
    assert feed(tuner, clock, {1: 0.1}, 50) == [1] * 50
    assert threads == [1]


def test_train_run_trains_with_its_threads_and_restores_the_callers(make_run, monkeypatch):
    from lstm_core import train

    seen = []
    step = train.Trainer.next_record
    monkeypatch.setattr(train.Trainer, "next_record", lambda self: seen.append(torch.get_num_threads()) or step(self))
    before = torch.get_num_threads()
    summary = sweep.train_run(make_run(train={"steps": 3}), None, threads=before + 1)
    assert seen == [before + 1] * 3 and summary["steps"] == 3
    assert torch.get_num_threads() == before

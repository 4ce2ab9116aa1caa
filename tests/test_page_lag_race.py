"""Lag race page under AppTest: the charts hold the shipped sweep's numbers for the chosen lags and models (checked
against the CSV read here independently), the sentences are computed from them and change with the selection, the
tables show the charts' numbers, and a run missing from the file is computed live as a worker job."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import numpy as np
import pytest
from apptest_util import chart, no_exception, open_page

from lstm_core import sweep
from lstm_core.config import ModelConfig, RunConfig, TaskConfig, TrainConfig

PAGE = "pages/lag_race.py"


def shipped_runs() -> dict[tuple[str, int, int], dict]:
    """The shipped CSV as plain strings, read without the code under test."""
    with open(sweep.SHIPPED, newline="") as f:
        return {(r["model"], int(r["lag"]), int(r["seed"])): r for r in csv.DictReader(f)}


def choose(at, lags=None, models=None, seeds=None):
    for key, v in (("lr_lags", lags), ("lr_models", models), ("lr_seeds", seeds)):
        if v is not None:
            at.multiselect(key=key).set_value(v)
    at.run()
    no_exception(at)
    return at


def sentences(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_charts_hold_the_shipped_numbers_for_the_chosen_lags_and_models():
    runs = shipped_runs()
    at = choose(open_page(PAGE), lags=[10, 50, 100], models=["rnn", "lstm"])
    seeds = sorted({s for _, _, s in runs})
    success = {d["name"]: d for d in chart(at, "lr_success")["data"]}
    assert list(success) == ["LSTM", "vanilla RNN"]  # the page's model order, whatever order they were picked in
    for m, name in (("lstm", "LSTM"), ("rnn", "vanilla RNN")):
        rs = {lag: [runs[(m, lag, s)] for s in seeds] for lag in (10, 50, 100)}
        assert list(success[name]["x"]) == [10, 50, 100]
        np.testing.assert_allclose(success[name]["y"], [np.mean([r["stop"] == "target" for r in rs[lag]])
                                                        for lag in (10, 50, 100)])
        steps = next(d for d in chart(at, "lr_steps")["data"] if d["name"] == name)
        solved = {lag: [int(r["steps"]) for r in rs[lag] if r["stop"] == "target"] for lag in (10, 50, 100)}
        lags_solved = [lag for lag in (10, 50, 100) if solved[lag]]
        assert list(steps["x"]) == lags_solved
        np.testing.assert_allclose(steps["y"], [statistics.median(solved[lag]) for lag in lags_solved])
        np.testing.assert_allclose(np.asarray(steps["y"]) + np.asarray(steps["error_y"]["array"]),
                                   [max(solved[lag]) for lag in lags_solved])
        cue = [d for d in chart(at, "lr_cue")["data"] if d["name"] == name]
        for d, col in zip(cue, ("cue_grad_0", "cue_grad_end"), strict=True):
            med = [statistics.median(float(r[col]) for r in rs[lag]) for lag in (10, 50, 100)]
            np.testing.assert_allclose(d["y"], np.maximum(med, 1e-40), rtol=1e-9)
    assert "GRU" not in sentences(at)


def _rnn_sentence(at) -> str:
    return next(line for line in sentences(at).splitlines() if line.startswith("- The vanilla RNN solved"))


def test_the_cliff_sentence_is_computed_from_the_chosen_runs_and_follows_the_selection():
    runs = shipped_runs()
    lags = sorted({lag for _, lag, _ in runs})
    seeds = sorted({s for _, _, s in runs})
    solved = {lag: sum(runs[("rnn", lag, s)]["stop"] == "target" for s in seeds) for lag in lags}
    at = choose(open_page(PAGE), models=["rnn"])
    cliff = max((lag for lag in lags if 2 * solved[lag] > len(seeds)), default=None)
    assert f"(the cliff): vanilla RNN {'none' if cliff is None else cliff}." in sentences(at)
    first = _rnn_sentence(at)
    if cliff is not None:
        assert f"no lag longer than {cliff} ({solved[cliff]} of {len(seeds)} there)" in first or \
            f"every lag up to {cliff}" in first
    unsolved = []  # the longest lags, from the first from which on no seed solved
    for lag in reversed(lags):
        if solved[lag]:
            break
        unsolved.insert(0, lag)
    assert unsolved, "the shipped sweep should hold lags at which the vanilla RNN solved no seed"
    at = choose(at, lags=unsolved)
    assert _rnn_sentence(at) == "- The vanilla RNN solved no seed at any chosen lag."
    at = choose(at, lags=[lags[0], *unsolved])
    assert _rnn_sentence(at) not in (first, "- The vanilla RNN solved no seed at any chosen lag.")
    assert f"no seed at lag {unsolved[0]} or longer within the budget" in _rnn_sentence(at)


def test_the_tables_show_each_chart_s_numbers():
    at = choose(open_page(PAGE), lags=[10, 100], models=["lstm"])
    assert not at.dataframe
    at.toggle(key="lr_tables").set_value(True).run()
    no_exception(at)
    success, steps, cue = (df.value for df in at.dataframe)
    assert list(success["lag"]) == [10, 100]
    np.testing.assert_allclose(success["share"], chart(at, "lr_success")["data"][0]["y"], atol=5e-4)
    drawn = chart(at, "lr_steps")["data"][0]
    np.testing.assert_allclose(steps["median steps"].dropna(), drawn["y"])
    np.testing.assert_allclose(cue["median at step 0"], chart(at, "lr_cue")["data"][0]["y"])


def test_the_command_line_shown_runs_the_same_cells():
    from lstm_core.__main__ import build_parser, run_config

    at = choose(open_page(PAGE), lags=[20, 100], models=["rnn"], seeds=[1, 3])
    cmd = at.code[0].value.split()
    assert cmd[:3] == ["python", "-m", "lstm_core"]
    a = build_parser().parse_args(cmd[3:])
    assert (a.models, a.lags, a.seeds) == ("rnn", "20,100", "1,3")
    base = sweep.base_run(sweep.read_rows(sweep.SHIPPED))
    assert run_config(a, cell="rnn", lag=100, seed=3) == sweep.cell_run(base, "rnn", 100, 3)


@pytest.fixture
def tiny_sweep(tmp_path, monkeypatch):
    """A shipped file of two tiny runs (lag 3, seed 0), made by the sweep's own code; the page reads it instead."""
    base = RunConfig(TaskConfig(alphabet=4), ModelConfig(hidden=4),
                     TrainConfig(batch=8, steps=12, max_seconds=5.0, clock="cpu", target=0.99))
    rows = [sweep.sweep_cell(base, m, 3, 0) for m in ("lstm", "rnn")]
    path = tmp_path / "lag_race.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    monkeypatch.setattr(sweep, "SHIPPED", Path(path))
    return base


def test_a_missing_run_is_computed_live_as_a_worker_job(tiny_sweep):
    at = open_page(PAGE)
    no_exception(at)
    assert not [b for b in at.button if b.key == "lr_compute"]  # everything chosen is in the file
    at = choose(at, models=["rnn"], seeds=[0, 1])
    assert "1 of the 2 runs you chose is not in the shipped results (vanilla RNN, lag 3, seed 1)" in at.info[0].value
    next(b for b in at.button if b.key == "lr_compute").click().run()  # one job per rerun, until the queue is empty
    no_exception(at)
    live = at.session_state["lr_live"]
    assert set(live) == {("rnn", 3, 1)}
    assert at.session_state["lr_queue"] == [] and not at.error
    direct = sweep.sweep_cell(tiny_sweep, "rnn", 3, 1)  # the same run, in this process
    for k in ("steps", "accuracy", "loss", "cue_grad_0", "cue_grad_end", "stop"):
        assert live[("rnn", 3, 1)][k] == direct[k], k
    success = {d["name"]: d for d in chart(at, "lr_success")["data"]}
    assert list(success["vanilla RNN"]["customdata"][0]) == [
        sum(r["stop"] == "target" for r in (direct, *sweep.read_rows(sweep.SHIPPED)[1:])), 2]
    assert not [b for b in at.button if b.key == "lr_compute"]  # nothing missing any more


def test_the_page_shows_whatever_models_the_file_holds(tiny_sweep, tmp_path, monkeypatch):
    """A cell the registry does not know yet (a sweep made on a branch with a clockwork RNN) is drawn by its name,
    in a colour no registered cell uses; a live run of it is refused in one sentence."""
    rows = sweep.read_rows(sweep.SHIPPED)
    path = tmp_path / "with_clockwork.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows([*rows, {**rows[0], "model": "clockwork", "stop": "seconds"}])
    monkeypatch.setattr(sweep, "SHIPPED", Path(path))
    at = open_page(PAGE)
    no_exception(at)
    assert at.multiselect(key="lr_models").value == ["lstm", "rnn", "clockwork"]
    success = {d["name"]: d for d in chart(at, "lr_success")["data"]}
    assert list(success) == ["LSTM", "vanilla RNN", "clockwork"]
    assert success["clockwork"]["y"] == [0.0]
    from lstm_core.cells import CELLS

    assert success["clockwork"]["line"]["color"] not in {c.color for c in CELLS.values()}
    assert "The clockwork solved no seed at any chosen lag." in sentences(at)
    at = choose(at, models=["clockwork"], seeds=[0, 1])
    next(b for b in at.button if b.key == "lr_compute").click().run()
    assert "could not be computed" in at.error[0].value and "clockwork" in at.error[0].value
    assert at.session_state["lr_live"] == {}

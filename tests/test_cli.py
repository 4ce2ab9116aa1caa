"""`python -m lstm_core` in a real subprocess: train, trace and sweep write what the contract says; bad input
exits 2 with one line on stderr and no traceback. Commands run three at a time: each pays torch's import."""

from __future__ import annotations

import csv
import json
import os
import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from lstm_core.errors import RunError
from lstm_core.runs import load_run, save_run
from lstm_core.trace import trace
from lstm_core.train import Trainer

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--hidden", "8", "--steps", "5", "--batch", "8", "--val-every", "5"]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "lstm_core", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def _error_cases(tmp: Path) -> dict[str, tuple[list, str]]:
    """name -> (arguments, a word the one stderr line must contain)."""
    (tmp / "binary.txt").write_bytes(b"abc\x00def" * 100)
    (tmp / "empty.txt").write_bytes(b"")
    (tmp / "latin1.txt").write_bytes("café au lait, crème brûlée. ".encode("latin-1") * 20)
    pickled = tmp / "pickled_run"
    pickled.mkdir()
    (pickled / "config.json").write_text('{"model": {"hidden": 8}}')
    (pickled / "model.pt").write_bytes(pickle.dumps(Fraction(1, 3)))  # a pickle, but of no state dict
    text = ["train", "--task", "text", *TINY, "--text-file"]
    return {
        "unknown task": (["train", "--task", "nope", *TINY], "nope"),
        "negative lag": (["train", "--lag", "-3", *TINY], "lag"),
        "missing run folder": (["trace", tmp / "no-such-run", "--out", tmp / "t.npz"], "no-such-run"),
        "not a checkpoint": (["trace", pickled, "--out", tmp / "t.npz"], "weights-only"),
        "binary text file": ([*text, tmp / "binary.txt"], "binary"),
        "empty text file": ([*text, tmp / "empty.txt"], "empty"),
        "non-UTF-8 text file": ([*text, tmp / "latin1.txt"], "UTF-8"),
        "unknown model in --models": (["sweep", "--models", "lstm,cnn", "--out", tmp / "s.csv", *TINY], "cnn"),
        "--lags with letters": (["sweep", "--lags", "10,2x", "--out", tmp / "s.csv", *TINY], "--lags"),
    }


ERROR_NAMES = ["unknown task", "negative lag", "missing run folder", "not a checkpoint", "binary text file",
               "empty text file", "non-UTF-8 text file", "unknown model in --models", "--lags with letters"]


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    jobs: dict[str, list[list]] = {
        "train+trace": [
            ["train", "--task", "recall", "--model", "lstm", "--lag", "5", "--seed", "2", *TINY, "--out", tmp / "a"],
            ["trace", tmp / "a", "--out", tmp / "a.npz", "--csv", tmp / "a.csv"],
        ],
        "sweep": [["sweep", "--task", "recall", "--models", "lstm,rnn", "--lags", "3,4", "--seeds", "0", *TINY,
                   "--jobs", "2", "--out", tmp / "sweep.csv"]],  # worker processes, as `make sweep` runs it
        "sweep-ray": [["sweep", "--task", "recall", "--models", "lstm,rnn", "--lags", "3,4", "--seeds", "0", *TINY,
                       "--engine", "ray", "--out", tmp / "sweep-ray.csv"]],  # Ray tasks, on a Ray started here
    }
    errors = _error_cases(tmp)
    jobs |= {name: [args] for name, (args, _) in errors.items()}

    def chain(cmds):
        return [_run(c) for c in cmds]

    with ThreadPoolExecutor(3) as ex:
        futures = {name: ex.submit(chain, cmds) for name, cmds in jobs.items()}
        results = {name: f.result() for name, f in futures.items()}
    return tmp, results, {name: word for name, (_, word) in errors.items()}


def _ok(p: subprocess.CompletedProcess) -> None:
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.slow  # a subprocess that imports torch afresh
def test_train_writes_the_run_folder(cli):
    tmp, results, _ = cli
    p = results["train+trace"][0]
    _ok(p)
    out = tmp / "a"
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["task"]["lag"] == 5 and cfg["model"]["hidden"] == 8 and cfg["train"]["seed"] == 2
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 5
    recs = [json.loads(line) for line in lines]
    assert [r["step"] for r in recs] == [1, 2, 3, 4, 5]
    for r in recs:
        assert {"step", "loss", "seconds", "accuracy"} <= set(r)
        assert np.isfinite(r["loss"]) and 0 <= r["accuracy"] <= 1 and r["seconds"] >= 0
    assert "val_accuracy" in recs[-1]
    state = torch.load(out / "model.pt", weights_only=True)
    assert state["rnn.0.weight_ih_l0"].shape == (32, 9) and "rnn.0.bias_hh_l0" in state
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    assert {"task", "model", "steps", "seconds", "loss", "accuracy", "baseline"} <= set(summary)
    assert summary["task"] == "recall" and summary["model"] == "lstm" and summary["steps"] == 5
    assert summary["baseline"] == 1 / 8 and summary["accuracy"] == recs[-1]["val_accuracy"]
    assert summary["loss"] == pytest.approx(recs[-1]["val_loss"])


@pytest.mark.slow  # a subprocess that imports torch afresh
def test_trace_writes_npz_with_the_contract_keys(cli):
    tmp, results, _ = cli
    p = results["train+trace"][1]
    _ok(p)
    z = np.load(tmp / "a.npz", allow_pickle=False)
    assert set(z.files) == {"x", "h", "i", "f", "g", "o", "c", "grad_h", "grad_c", "tokens"}
    T, H = 6, 8
    assert z["x"].shape == (T, 9) and z["x"].dtype == np.float32
    for k in ("h", "i", "f", "g", "o", "c"):
        assert z[k].shape == (T, H)
    assert z["grad_h"].shape == (T,) and z["grad_c"].shape == (T,)
    assert z["tokens"].shape == (T,) and z["tokens"].dtype.kind == "U" and z["tokens"][-1] == "?"
    # the same numbers as tracing the saved run in this process
    run, task, model, _ = load_run(tmp / "a")
    tr = trace(model, task, task.display(run.train.seed))
    np.testing.assert_allclose(z["h"], tr.h, rtol=0, atol=1e-6)
    np.testing.assert_allclose(z["grad_c"], tr.grad_c, rtol=1e-5)
    np.testing.assert_array_equal(z["x"], tr.x)
    assert tuple(z["tokens"]) == tr.tokens
    assert json.loads(p.stdout.strip().splitlines()[-1])["steps"] == T


@pytest.mark.slow  # a subprocess that imports torch afresh
def test_trace_csv_is_long_form(cli):
    tmp, _, _ = cli
    z = np.load(tmp / "a.npz")
    with open(tmp / "a.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["quantity", "t", "token", "unit", "value"]
    body = rows[1:]
    assert len(body) == sum(z[k].size for k in z.files if k != "tokens")
    assert {r[0] for r in body} == set(z.files) - {"tokens"}
    lookup = {(r[0], int(r[1]), int(r[3])): r for r in body}
    row = lookup[("f", 2, 3)]
    assert float(row[4]) == pytest.approx(float(z["f"][2, 3]), rel=1e-6) and row[2] == z["tokens"][2]
    assert float(lookup[("grad_h", 5, 0)][4]) == pytest.approx(float(z["grad_h"][5]), rel=1e-6)


def test_trace_of_a_gru_run(tmp_path, make_run, capsys):
    """Same entry point, in this process: a GRU run's trace holds r, z, n and no c."""
    from lstm_core.__main__ import main

    gru = Trainer(make_run(model={"cell": "gru"}, train={"steps": 3}))
    list(gru.steps())
    save_run(tmp_path / "gru", gru.run, gru.model, gru.history)
    assert main(["trace", str(tmp_path / "gru"), "--out", str(tmp_path / "gru.npz"), "--seed", "4"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["cell"] == "gru"
    z = np.load(tmp_path / "gru.npz", allow_pickle=False)
    assert set(z.files) == {"x", "h", "r", "z", "n", "grad_h", "tokens"}
    run, task, model, _ = load_run(tmp_path / "gru")
    tr = trace(model, task, task.display(4))  # --seed 4 picks that seed's display sequence
    assert tuple(z["tokens"]) == tr.tokens and tr.tokens != tuple(task.token_labels(task.display(0).x[0]))
    np.testing.assert_allclose(z["z"], tr.z, rtol=0, atol=1e-6)
    assert z["grad_h"].shape == (7,) and (z["grad_h"] > 0).all()


NEW_CELLS = {"peephole": {"pi", "pf", "po", "grad_c"}, "attention": {"ctx", "a", "e"},
             "bilstm": {"grad_c", "h_rev", "grad_h_rev", "grad_c_rev", *(q + "_rev" for q in "ifgoc")}}


@pytest.mark.parametrize("cell", list(NEW_CELLS))
def test_train_and_trace_the_new_cells_on_reverse_recall(tmp_path, cell, capsys):
    """`train --model peephole|bilstm|attention --task revrecall` writes a run whose `trace` holds the cell's arrays
    (the same entry point as `python -m lstm_core`, in this process)."""
    from lstm_core.__main__ import main

    out = tmp_path / cell
    assert main(["train", "--task", "revrecall", "--model", cell, "--lag", "5", *TINY, "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["model"] == cell and summary["task"] == "revrecall" and summary["baseline"] == 1 / 8
    assert main(["trace", str(out), "--out", str(tmp_path / "t.npz"), "--csv", str(tmp_path / "t.csv")]) == 0
    z = np.load(tmp_path / "t.npz", allow_pickle=False)
    lstm_names = {"i", "f", "g", "o", "c"} if cell != "attention" else set()
    assert set(z.files) == {"x", "h", "grad_h", "tokens"} | lstm_names | NEW_CELLS[cell]
    assert z["h"].shape == (6, 8) and z["tokens"][0] == "?"
    if cell == "attention":
        assert z["a"].shape == (6, 6) and np.allclose(z["a"].sum(1), 1)
    state = torch.load(out / "model.pt", weights_only=True)
    assert {"peephole": "rnn.0.weight_ch_l0", "bilstm": "rnn.0.weight_hh_l0_reverse",
            "attention": "rnn.0.query.weight"}[cell] in state and "rnn.0.weight_ih_l0" in state


@pytest.mark.slow  # a subprocess that imports torch afresh
def test_sweep_writes_csv_and_prints_a_table(cli):
    tmp, results, _ = cli
    p = results["sweep"][0]
    _ok(p)
    with open(tmp / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    assert {(r["model"], r["lag"]) for r in rows} == {("lstm", "3"), ("lstm", "4"), ("rnn", "3"), ("rnn", "4")}
    assert all(r["steps"] == "5" and r["stop"] in ("steps", "target") and r["baseline"] == "0.125" for r in rows)
    assert {"task", "seed", "seconds", "loss", "accuracy"} <= set(rows[0])
    assert all(float(r["cue_grad_0"]) > 0 and float(r["cue_grad_end"]) > 0 for r in rows)  # recall: measured
    assert {(r["hidden"], r["max_steps"], r["batch"]) for r in rows} == {("8", "5", "8")}  # settings ride along
    out = p.stdout.strip().splitlines()
    assert "| lag | lstm | rnn |" in out
    assert any(line.startswith("| 3 | ") and "/1" in line for line in out)
    assert any(line.startswith("| 4 | ") for line in out)
    assert any(line.startswith("| lag | lstm cue gradient, step 0 -> end |") for line in out)
    assert sum(line.startswith("{") for line in out) == 4  # one JSON line per run


def test_a_sweep_on_ray_gives_the_same_rows(cli):
    tmp, results, _ = cli
    _ok(results["sweep-ray"][0])

    def table(name):
        with open(tmp / name, newline="") as f:
            return sorted((r["model"], r["lag"], r["loss"], r["accuracy"], r["steps"]) for r in csv.DictReader(f))

    assert table("sweep-ray.csv") == table("sweep.csv")  # the same runs, the same numbers, wherever they ran


@pytest.mark.slow
@pytest.mark.parametrize("name", ERROR_NAMES)
def test_bad_input_exits_2_with_one_line(cli, name):
    _, results, words = cli
    p = results[name][0]
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("error:") and words[name] in lines[0]
    assert p.stdout == ""


def test_error_cases_are_all_run(tmp_path):
    assert list(_error_cases(tmp_path)) == ERROR_NAMES


# The same entry point in this process (no torch import to pay): more bad arguments, one line each.
IN_PROCESS = [
    (["train", "--lag", "ten"], "ten"),
    (["train", "--model", "cnn", "--steps", "1"], "cnn"),
    (["train", "--seed", "-1"], "--seed"),
    (["train", "--hidden", "1000"], "hidden"),
    (["train", "--task", "text", "--model", "bilstm", "--steps", "1"], "bidirectional LSTM cannot learn the text"),
    (["train", "--lr", "nan"], "learning rate"),
    (["train", "--task", "text", "--text-file", "/no/such/file.txt"], "file.txt"),
    (["train", "--task", "series", "--seq-len", "900", "--steps", "1"], "shorter sequence length"),
    (["sweep", "--lags", "", "--out", "x.csv"], "--lags"),
    (["sweep", "--seeds", "1;2", "--out", "x.csv"], "--seeds"),
    (["sweep", "--jobs", "0", "--out", "x.csv"], "--jobs"),
    (["train", "--threads", "0", "--steps", "1"], "--threads"),
    (["sweep", "--threads", "-2", "--out", "x.csv"], "--threads"),
    (["trace", "--out", "x.npz"], "run"),
    (["fly"], "fly"),
    ([], "required"),
]


@pytest.mark.parametrize(("argv", "word"), IN_PROCESS, ids=[" ".join(a) or "nothing" for a, _ in IN_PROCESS])
def test_main_in_process_bad_arguments(argv, word, capsys):
    from lstm_core.__main__ import main

    assert main(argv) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and word in lines[0], err
    assert out == ""


def test_main_in_process_divergence_is_one_line(monkeypatch, capsys):
    from lstm_core import train
    from lstm_core.__main__ import main
    from lstm_core.errors import DivergedError

    def diverge(self, x, y):
        raise DivergedError("training diverged at step 1 (loss nan, gradient norm nan); lower the lr.")

    monkeypatch.setattr(train.Trainer, "train_step", diverge)
    assert main(["train", "--lag", "3", "--hidden", "4", "--steps", "2"]) == 2
    out, err = capsys.readouterr()
    assert err.strip().splitlines() == [
        "error: training diverged at step 1 (loss nan, gradient norm nan); lower the lr."]
    assert out == ""


def test_main_in_process_trace_of_bad_folder(tmp_path, capsys):
    from lstm_core.__main__ import main

    (tmp_path / "config.json").write_text("{}")
    assert main(["trace", str(tmp_path), "--out", str(tmp_path / "t.npz")]) == 2
    assert "model.pt" in capsys.readouterr().err
    with pytest.raises(RunError):
        load_run(tmp_path)


def test_intervene_on_the_shipped_lesson_prints_what_the_lab_measures(capsys):
    from lstm_core.__main__ import main
    from lstm_core.lessons import open_lesson, read_lesson
    from lstm_core.views import Clamp

    folder = str(ROOT / "datasets" / "pretrained" / "recall-100" / "lstm")
    assert main(["intervene", folder, "--clamp", "f=0", "--units", "all", "--steps", "50:51"]) == 0
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    want = open_lesson(read_lesson("recall-100")).intervene("lstm", (Clamp("f", 0.0, None, 50, 51),))
    assert got["clamps"] == ["f = 0 for every unit at t = 50"] and got["held_out"] == 256
    assert (got["accuracy_before"], got["accuracy_after"]) == (want.metric_before, want.metric_after)
    assert got["prediction_after"] == want.after.predictions[-1] and got["target"] == want.before.targets[-1]
    assert main(["intervene", folder, "--clamp", "c=0", "--units", "top:4", "--steps", "1:100"]) == 0
    assert "units" in json.loads(capsys.readouterr().out.strip().splitlines()[-1])["clamps"][0]
    for bad, word in ((["--clamp", "f"], "QUANTITY=VALUE"), (["--clamp", "f=0", "--steps", "x:y"], "--steps"),
                      (["--clamp", "q=0"], "can be clamped at")):
        assert main(["intervene", folder, *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and word in err[0]


@pytest.mark.parametrize(("argv", "cores", "want"), [
    (["train"], 4, (4, True)),
    (["train", "--threads", "3"], 4, (3, False)),
    (["sweep", "--out", "x.csv"], 2, (2, True)),
    (["sweep", "--jobs", "2", "--out", "x.csv"], 2, (1, True)),
    (["sweep", "--jobs", "3", "--out", "x.csv"], 8, (2, True)),
    (["sweep", "--jobs", "4", "--threads", "1", "--out", "x.csv"], 2, (1, False))])
def test_threads_default_to_the_available_cores_shared_among_jobs(argv, cores, want, monkeypatch):
    from lstm_core import __main__ as cli

    monkeypatch.setattr(cli, "available_cores", lambda: cores)
    assert cli.threads_for(cli.build_parser().parse_args(argv)) == want


def test_available_cores_is_the_affinity_of_this_process():
    from lstm_core.__main__ import available_cores

    assert available_cores() == len(os.sched_getaffinity(0))

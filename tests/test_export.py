"""lstm_core.export: the trace files hold exactly the contract's arrays, a run .zip round-trips the weights, every
malformed archive is refused with one sentence (and never runs code), figures come out as offline HTML and PNG."""

from __future__ import annotations

import csv
import io
import json
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from lstm_core import ModelConfig, TaskConfig, TrainConfig, figures
from lstm_core import export as ex
from lstm_core.__main__ import main
from lstm_core.config import RunConfig
from lstm_core.lab import Lab
from lstm_core.runs import RunError, load_run, save_run
from lstm_core.trace import trace

# torch warns when a raw pickle (not its own format) is offered to the weights-only loader; that is the point here
pytestmark = [pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning"),
              pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")]  # a malformed zip, on purpose

CONTRACT = {"lstm": {"x", "h", "i", "f", "g", "o", "c", "grad_h", "grad_c", "tokens"},
            "gru": {"x", "h", "r", "z", "n", "grad_h", "tokens"},
            "rnn": {"x", "h", "grad_h", "tokens"}}
T, H, INPUTS = 7, 6, 5  # recall at lag 6 over 4 symbols: 7 timesteps, one-hot of 4 symbols + '?'


@pytest.fixture(scope="module")
def lab() -> Lab:
    lab = Lab(TaskConfig(name="recall", lag=6, alphabet=4), TrainConfig(seed=3, steps=50, batch=16, val_every=2),
              {c: ModelConfig(cell=c, hidden=H) for c in ("lstm", "gru", "rnn")})
    lab.advance(4)
    return lab


def zip_of(members: dict[str, bytes] | list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in (members.items() if isinstance(members, dict) else members):
            zf.writestr(name, data)
    return buf.getvalue()


def members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


# -- trace ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_npz_holds_exactly_the_contract_arrays(lab, cell):
    tr = lab.trace(cell)
    z = np.load(io.BytesIO(ex.trace_npz_bytes(tr, cell)), allow_pickle=False)
    assert set(z.files) == CONTRACT[cell]
    assert z["x"].shape == (T, INPUTS) and z["x"].dtype == np.float32
    np.testing.assert_array_equal(z["x"], tr.x)
    np.testing.assert_array_equal(z["h"], tr.h)
    assert z["h"].shape == (T, H)
    for q in CONTRACT[cell] - {"x", "h", "grad_h", "grad_c", "tokens"}:
        assert z[q].shape == (T, H)
        np.testing.assert_array_equal(z[q], tr.layers[0].gates[q])
    assert z["grad_h"].shape == (T,) and (z["grad_h"] > 0).all()
    np.testing.assert_array_equal(z["grad_h"], tr.grad_h)
    if cell == "lstm":
        assert z["grad_c"].shape == (T,)
        np.testing.assert_array_equal(z["grad_c"], tr.grad_c)
    assert z["tokens"].dtype.kind == "U" and tuple(z["tokens"]) == tr.tokens and z["tokens"][-1] == "?"


def test_a_trace_of_another_cell_is_refused(lab):
    with pytest.raises(ValueError, match="gru"):
        ex.trace_npz_bytes(lab.trace("lstm"), "gru")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_csv_is_long_form_and_parses_back(lab, cell):
    tr = lab.trace(cell)
    z = np.load(io.BytesIO(ex.trace_npz_bytes(tr)), allow_pickle=False)
    rows = list(csv.reader(io.StringIO(ex.trace_csv_text(tr, cell), newline="")))
    assert rows[0] == ["quantity", "t", "token", "unit", "value"]
    body = rows[1:]
    widths = {q: (z[q].shape[1] if z[q].ndim == 2 else 1) for q in z.files if q != "tokens"}
    assert len(body) == sum(T * w for w in widths.values())
    got = {q: np.full((T, w), np.nan) for q, w in widths.items()}
    for q, t, token, u, v in body:
        assert token == tr.tokens[int(t)]
        got[q][int(t), int(u)] = float(v)
    for q in widths:
        np.testing.assert_allclose(got[q], z[q].reshape(T, -1), rtol=1e-6, atol=0)


def test_the_command_line_writes_the_same_bytes(tmp_path, lab, capsys):
    """One implementation: `python -m lstm_core trace --csv` and the app's export agree byte for byte."""
    tr = lab.trainers["lstm"]
    save_run(tmp_path / "run", tr.run, tr.model, tr.history)
    out, out_csv = str(tmp_path / "t.npz"), str(tmp_path / "t.csv")
    assert main(["trace", str(tmp_path / "run"), "--out", out, "--csv", out_csv]) == 0
    capsys.readouterr()
    run, task, model, _ = load_run(tmp_path / "run")
    mine = trace(model, task, task.display(run.train.seed))
    assert (tmp_path / "t.csv").read_bytes() == ex.trace_csv_text(mine).encode()
    cli, app = np.load(tmp_path / "t.npz"), np.load(io.BytesIO(ex.trace_npz_bytes(mine)))
    assert cli.files == app.files
    for k in cli.files:
        np.testing.assert_array_equal(cli[k], app[k])


# -- run archives --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good_zip(lab) -> bytes:
    tr = lab.trainers["lstm"]
    return ex.run_zip_bytes(tr.run, tr.model, tr.history)


def test_zip_holds_what_train_out_writes(tmp_path, lab, good_zip):
    tr = lab.trainers["lstm"]
    save_run(tmp_path, tr.run, tr.model, tr.history)
    files = members_of(good_zip)
    assert set(files) == {"config.json", "metrics.jsonl", "model.pt"}
    for name in ("config.json", "metrics.jsonl"):
        assert files[name] == (tmp_path / name).read_bytes()
    # unzipped, it is a run folder the command line reads
    (tmp_path / "unzipped").mkdir()
    for name, data in files.items():
        (tmp_path / "unzipped" / name).write_bytes(data)
    run, _, model, metrics = load_run(tmp_path / "unzipped")
    assert run == tr.run and len(metrics) == 4
    assert all(torch.equal(v, tr.model.state_dict()[k]) for k, v in model.state_dict().items())


def test_zip_round_trip_restores_identical_weights(lab, good_zip):
    tr = lab.trainers["lstm"]
    archive = ex.load_run_zip(good_zip)
    assert archive.run == tr.run and archive.text is None
    assert [m["step"] for m in archive.metrics] == [1, 2, 3, 4]
    want = tr.model.state_dict()
    assert archive.state.keys() == want.keys() and all(torch.equal(archive.state[k], want[k]) for k in want)
    new = ex.lab_from_run(archive.run, archive.state)
    assert list(new.trainers) == ["lstm"] and new.step == 0 and new.error is None
    got = new.trainers["lstm"].model.state_dict()
    assert all(torch.equal(got[k], want[k]) for k in want)
    # the display trace and the first gradient snapshot are of the loaded weights, not of a fresh init
    np.testing.assert_array_equal(new.trace("lstm").h, lab.trace("lstm").h)
    assert [s.step for s in new.grad_history["lstm"]] == [0]
    np.testing.assert_array_equal(new.grad_history["lstm"][0].grad_h, lab.trace("lstm").grad_h)
    new.advance(2)  # and it trains on from there
    assert new.step == 2


def test_a_zipped_run_folder_is_accepted(lab, good_zip):
    nested = zip_of({f"runs/a/{k}": v for k, v in members_of(good_zip).items()})
    assert ex.load_run_zip(nested).run == lab.trainers["lstm"].run


def test_an_uploaded_text_travels_inside_the_zip_never_as_a_path(tmp_path, monkeypatch):
    import datasets.corpora as corpora

    text = "the quick brown fox jumps over the lazy dog. " * 20
    run = RunConfig(TaskConfig(name="text", corpus="file", text_file="upload", seq_len=10),
                    ModelConfig(cell="gru", hidden=4), TrainConfig(steps=5, batch=4, val_every=2))
    lab = Lab(run.task, run.train, {"gru": run.model}, text=text)
    lab.advance(2)
    tr = lab.trainers["gru"]
    with pytest.raises(RunError, match="text"):
        ex.run_zip_bytes(tr.run, tr.model, tr.history)
    data = ex.run_zip_bytes(tr.run, tr.model, tr.history, text)
    assert members_of(data)["corpus.txt"].decode() == text

    def no_paths(*a, **k):
        raise AssertionError("a path named in an archive was read")

    monkeypatch.setattr(corpora, "read_text_file", no_paths)
    archive = ex.load_run_zip(data)
    assert archive.text == text
    new = ex.lab_from_run(archive.run, archive.state, archive.text)
    assert new.task.chars == lab.task.chars
    # without corpus.txt the config's text_file (here a real file on this machine) is not read: refused instead
    secret = tmp_path / "secret.txt"
    secret.write_text("private " * 100)
    files = members_of(data)
    cfg = json.loads(files["config.json"])
    cfg["task"]["text_file"] = str(secret)
    files["config.json"] = json.dumps(cfg).encode()
    del files["corpus.txt"]
    with pytest.raises(RunError, match="no corpus.txt"):
        ex.load_run_zip(zip_of(files))
    with pytest.raises(RunError, match="text was not given"):
        ex.lab_from_run(RunConfig.from_json(files["config.json"].decode()), archive.state)


class CreatesAFile:
    """Unpickling this would create a file: a weights-only loader must refuse it without calling open."""

    path = ""

    def __reduce__(self):
        return (open, (self.path, "w"))


def _bad_archives(good: bytes, tmp_path: Path) -> dict[str, tuple[bytes, str]]:
    files = members_of(good)
    evil = CreatesAFile()
    evil.path = str(tmp_path / "pwned.txt")
    cfg = json.loads(files["config.json"])
    cfg_unknown = {**cfg, "model": {**cfg["model"], "attention": True}}
    cfg_wider = {**cfg, "model": {**cfg["model"], "hidden": 12}}
    state = torch.load(io.BytesIO(files["model.pt"]), weights_only=True)
    return {
        "not a zip": (b"PK\x03\x04 this is not really a zip" * 10, "not a .zip archive"),
        "empty file": (b"", "not a .zip archive"),
        "missing member": (zip_of({k: v for k, v in files.items() if k != "metrics.jsonl"}), "no metrics.jsonl"),
        "extra member": (zip_of({**files, "notes.txt": b"hello"}), "unexpected file 'notes.txt'"),
        "two folders": (zip_of({"a/config.json": files["config.json"], "b/metrics.jsonl": files["metrics.jsonl"],
                                "a/model.pt": files["model.pt"]}), "several folders"),
        "duplicate member": (zip_of([*files.items(), ("config.json", b"{}")]), "config.json twice"),
        "config with an unknown field": (zip_of({**files, "config.json": json.dumps(cfg_unknown).encode()}),
                                         "unknown setting 'attention'"),
        "config not json": (zip_of({**files, "config.json": b"{task: recall"}), "not valid JSON"),
        "metrics not json lines": (zip_of({**files, "metrics.jsonl": b'{"step": 1}\n[1, 2]\n'}), "line 2"),
        "pickle that creates a file": (zip_of({**files, "model.pt": pickle.dumps(evil)}), "weights-only"),
        "torch.save of an object that creates a file": (
            zip_of({**files, "model.pt": torch_bytes({"rnn.0.weight_ih_l0": evil})}), "weights-only"),
        "state dict holding a non-tensor": (zip_of({**files, "model.pt": torch_bytes({"w": [1, 2]})}), "state dict"),
        "wrong shapes": (zip_of({**files, "config.json": json.dumps(cfg_wider).encode()}), "shape"),
        "missing weight": (zip_of({**files, "model.pt": torch_bytes(
            {k: v for k, v in state.items() if k != "readout.bias"})}), "missing weight 'readout.bias'"),
        "NaN weights": (zip_of({**files, "model.pt": torch_bytes(
            {k: v * float("nan") for k, v in state.items()})}), "NaN"),
        "member inflating past its limit": (zip_of({**files, "metrics.jsonl": b" " * (ex.MAX_METRICS_BYTES + 1)}),
                                            "limit"),
        "oversized": (b"PK" + b"\0" * ex.MAX_RUN_ZIP_BYTES, "at most 48 MB"),
    }


def test_malformed_archives_are_refused_with_one_sentence(tmp_path, good_zip):
    cases = _bad_archives(good_zip, tmp_path)
    for what, (data, words) in cases.items():
        with pytest.raises(RunError) as err:
            ex.load_run_zip(data)
        msg = str(err.value)
        assert "\n" not in msg and msg.endswith(".") and len(msg) < 300, (what, msg)
        if words:
            assert words in msg, (what, msg)
    assert not (tmp_path / "pwned.txt").exists()
    assert len(good_zip) < 100_000 and "oversized" in cases  # the size limit is checked before the zip is read


def test_the_bomb_member_is_small_when_compressed(good_zip, tmp_path):
    """The inflating member above really is a zip bomb in miniature (so the limit, not the upload size, stops it)."""
    data, _ = _bad_archives(good_zip, tmp_path)["member inflating past its limit"]
    assert len(data) < ex.MAX_METRICS_BYTES / 100


# -- figures -------------------------------------------------------------------------------------------------------
def test_figure_html_is_standalone_and_offline(lab):
    page = ex.figure_html(figures.gradient_curves({n: lab.trace(n) for n in lab.trainers}))
    assert page.lower().startswith("<!doctype html>")
    assert "<title>How much the loss depends on each earlier timestep</title>" in page
    assert "plotly" in page and "Plotly.newPlot" in page
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)  # plotly.js is inlined, nothing fetched
    assert not re.search(r"<link[^>]*\bhref\s*=", page, re.IGNORECASE)
    assert len(page) > 1_000_000  # ~4.7 MB of plotly.js
    assert "LSTM" in page and "vanilla RNN" in page


@pytest.mark.browser  # kaleido drives Debian's chromium
def test_figure_png_is_a_png(lab):
    fig = figures.training_curves(lab.histories, "loss", title="Training loss")
    png = ex.figure_png(fig, width=600, scale=1)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (600, fig.layout.height)


def test_png_without_a_browser_says_so_in_one_sentence(lab, monkeypatch):
    monkeypatch.setattr(ex, "browser_path", lambda: None)
    reason = ex.png_unavailable()
    assert reason and "Chromium" in reason and reason.endswith(".")
    with pytest.raises(ex.ExportError, match="Chromium"):
        ex.figure_png(figures.gradient_curves({"lstm": lab.trace("lstm")}))

"""lstm_core.archive: a run .zip round-trips the weights, and every malformed archive is refused with one
sentence (and never runs code)."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from lstm_core import archive as ex
from lstm_core.config import ModelConfig, RunConfig, TaskConfig, TrainConfig
from lstm_core.errors import RunError
from lstm_core.lab import Lab, lab_from_run
from lstm_core.limits import MAX_RUN_ZIP_BYTES
from lstm_core.runs import load_run, save_run

# torch warns when a raw pickle (not its own format) is offered to the weights-only loader; that is the point here
pytestmark = [pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning"),
              pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")]  # a malformed zip, on purpose

H = 6


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
    new = lab_from_run(archive.run, archive.state)
    assert list(new.trainers) == ["lstm"] and new.step == 0 and new.error is None
    got = new.trainers["lstm"].model.state_dict()
    assert all(torch.equal(got[k], want[k]) for k in want)
    # the display trace and the first gradient snapshot are of the loaded weights, not of a fresh init
    np.testing.assert_array_equal(new.trace("lstm").h, lab.trace("lstm").h)
    gm = new.grad_matrix("lstm")
    assert gm.steps == (0,)
    np.testing.assert_array_equal(gm.grads[0], lab.trace("lstm").grad_h)
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
    new = lab_from_run(archive.run, archive.state, archive.text)
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
        lab_from_run(RunConfig.from_json(files["config.json"].decode()), archive.state)


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
        "oversized": (b"PK" + b"\0" * MAX_RUN_ZIP_BYTES, "at most 48 MB"),
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



"""Export & import page under AppTest: every download button is there and makes the right file on click; a bad
upload shows one sentence and keeps the current run; a good run .zip replaces it with the uploaded weights."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch
from apptest_util import no_exception, open_page
from conftest import remote_lab
from conftest import small_lab as engine_lab
from streamlit.runtime.media_file_manager import MediaFileManager

from lstm_core import archive as ex

PAGE = "pages/export.py"


def settings(cells=("lstm", "rnn"), hidden=8, lag=8, seed=1, steps=3) -> dict:
    return dict(cells=cells, task={"lag": lag}, model={"hidden": hidden}, train={"seed": seed}, steps=steps)


def small_lab(**kw):
    """What the page holds (on the worker pool)."""
    return remote_lab(**settings(**kw))


def solo(**kw):
    """The same run, trained in this process."""
    return engine_lab(**settings(**kw))


@pytest.fixture
def made(monkeypatch) -> dict:
    """file name -> the zero-argument callable a download button runs when clicked (AppTest cannot click it)."""
    made: dict = {}
    real = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        made[file_name] = data_callable
        return real(self, data_callable, mimetype, coordinates, file_name=file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return made


def buttons(at) -> dict[str, object]:
    return {b.proto.id.split("-")[-1] if not b.key else b.key: b for b in at.get("download_button")}


def test_every_download_is_offered_and_makes_the_right_file(made):
    lab = small_lab()
    at = open_page(PAGE, {"lab": lab})
    no_exception(at)
    keys = set(buttons(at))
    figs = ("gates", "gradients", "loss", "metric")
    assert keys == {"ex_npz", "ex_csv", "ex_zip_lstm", "ex_zip_rnn", *(f"ex_{f}_{k}" for f in ("png", "html")
                                                                      for k in figs)}
    assert not any(b.proto.disabled for b in buttons(at).values())  # chromium is here, so PNG is on
    stem = "recall-lstm-step3"
    npz = np.load(io.BytesIO(made[f"trace-{stem}.npz"]()), allow_pickle=False)
    assert set(npz.files) == {"x", "h", "i", "f", "g", "o", "c", "grad_h", "grad_c", "tokens"}
    np.testing.assert_array_equal(npz["c"], solo().trace("lstm").c)
    assert made[f"trace-{stem}.csv"]().startswith("quantity,t,token,unit,value")
    assert "Plotly.newPlot" in made[f"gradients-{stem}.html"]()
    archive = ex.load_run_zip(made["run-recall-rnn-step3.zip"]())
    here = solo()
    want = here.trainers["rnn"].model.state_dict()
    assert archive.run == here.run_config("rnn") and all(torch.equal(archive.state[k], want[k]) for k in want)
    assert at.session_state["lab"] is lab and lab.view().step == 3


def test_choosing_the_gru_exports_its_trace(made):
    lab = small_lab(cells=("lstm", "gru"))
    at = open_page(PAGE, {"lab": lab})
    at.radio(key="ex_model").set_value("gru").run()
    no_exception(at)
    npz = np.load(io.BytesIO(made["trace-recall-gru-step3.npz"]()), allow_pickle=False)
    assert set(npz.files) == {"x", "h", "r", "z", "n", "grad_h", "tokens"}
    np.testing.assert_array_equal(npz["z"], solo(cells=("lstm", "gru")).trace("gru").z)


def test_opening_the_page_pauses_training():
    lab = small_lab()
    at = open_page(PAGE, {"lab": lab, "playing": True})
    no_exception(at)
    assert at.session_state["playing"] is False and lab.view().step == 3
    assert any("paused" in c.value for c in at.caption)


def _bad_zips() -> dict[str, tuple[bytes, str]]:
    other = solo(cells=("lstm",), hidden=16, steps=1)
    tr = other.trainers["lstm"]
    good = ex.run_zip_bytes(tr.run, tr.model, tr.history)
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    wider = files["config.json"].replace(b'"hidden": 16', b'"hidden": 32')
    assert wider != files["config.json"]
    return {
        "not a zip": (b"just some bytes, not an archive" * 10, "not a .zip archive"),
        "wrong shapes": (_zip({**files, "config.json": wider}), "shape"),
        "extra member": (_zip({**files, "run.sh": b"rm -rf /"}), "unexpected file 'run.sh'"),
        # a member's name is shown as text, not as markdown that would fetch an image
        "markup in a name": (_zip({**files, "![x](y.png) :red[z]": b""}), r"'\!\[x\]\(y.png\) \:red\[z\]'"),
    }


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, d in files.items():
            zf.writestr(n, d)
    return buf.getvalue()


def test_a_bad_upload_keeps_the_current_run():
    lab = small_lab()
    at = open_page(PAGE, {"lab": lab})
    for what, (data, words) in _bad_zips().items():
        at.file_uploader(key="ex_upload").upload(f"{what}.zip", data, "application/zip").run()
        no_exception(at)
        assert at.session_state["lab"] is lab and lab.view().step == 3, what
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and words in errors[0] and errors[0].startswith("Not imported:"), (what, errors)
        assert errors[0].endswith("The current run is unchanged.")
        assert not [b for b in at.button if b.key == "ex_load"]  # nothing to confirm


def test_a_good_zip_replaces_the_run_with_the_uploaded_weights():
    lab = small_lab()
    other = solo(cells=("gru",), hidden=6, lag=5, seed=7, steps=4)
    tr = other.trainers["gru"]
    data = ex.run_zip_bytes(tr.run, tr.model, tr.history)
    at = open_page(PAGE, {"lab": lab})
    at.file_uploader(key="ex_upload").upload("run-gru.zip", data, "application/zip").run()
    no_exception(at)
    assert at.session_state["lab"] is lab  # checked and summarised, not yet loaded
    assert any("GRU with 6 units" in i.value and "4 steps" in i.value for i in at.info), [i.value for i in at.info]
    next(b for b in at.button if b.key == "ex_load").click().run()
    no_exception(at)
    new = at.session_state["lab"]
    view = new.view()
    assert new is not lab and view.names == ["gru"] and view.task_cfg.lag == 5
    assert view.step == 4 and [r.loss for r in view.histories["gru"]] == [r.loss for r in tr.history]  # goes on
    want = tr.model.state_dict()
    got = ex.load_run_zip(new.run_archive("gru")).state  # the weights the worker holds, exported again
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    np.testing.assert_array_equal(new.trace("gru").h, other.trace("gru").h)
    assert lab.view().step == 3 and lab.view().names == ["lstm", "rnn"]  # the old run was not touched
    assert any("Loaded: GRU with 6 units" in s.value for s in at.success)
    assert not [b for b in at.button if b.key == "ex_load"]
    assert set(buttons(at)) >= {"ex_npz", "ex_zip_gru"}  # the page now exports the imported run

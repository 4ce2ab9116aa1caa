"""Train & compare page under AppTest: steps add points, settings build a new run, bad input changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
from apptest_util import chart, no_exception, open_page
from conftest import small_lab


def traces_by_name(fig: dict) -> dict[str, dict]:
    return {t["name"]: t for t in fig["data"] if t.get("name")}


def test_each_step_adds_one_point_per_model():
    at = open_page("pages/train.py", {"lab": small_lab()})
    no_exception(at)
    n = 4
    for _ in range(n):
        next(b for b in at.button if b.key == "tr_step").click().run()
    no_exception(at)
    lab = at.session_state["lab"]
    assert lab.step == n
    loss = traces_by_name(chart(at, "tr_loss_chart"))
    assert set(loss) >= {"LSTM", "vanilla RNN"}
    for name, model in (("LSTM", "lstm"), ("vanilla RNN", "rnn")):
        y = np.asarray(loss[name]["y"], dtype=float)
        assert len(y) == n
        np.testing.assert_allclose(y, [r.loss for r in lab.trainers[model].history], rtol=1e-6)
        np.testing.assert_array_equal(np.asarray(loss[name]["x"]), np.arange(1, n + 1))
    # the held-out metric chart carries the chance line at 1/alphabet
    metric = chart(at, "tr_metric_chart")
    assert any(np.allclose(np.asarray(t.get("y", [np.nan]), dtype=float), 0.25) for t in metric["data"]
               if t.get("mode") == "lines" and "chance" in str(t.get("name", "")).lower()) or \
        any(abs(s.get("y0", -1) - 0.25) < 1e-9 for s in metric["layout"].get("shapes", []))


def test_play_trains_between_refreshes_and_the_next_refresh_shows_it():
    import re

    at = open_page("pages/train.py", {"lab": small_lab(), "playing": True})
    no_exception(at)
    # a refresh draws the lab as it is, then starts training in a thread until the next refresh
    assert any("step 0 of 200" in p.proto.text for p in at.get("progress"))
    at.run()  # the next refresh waits for that training, then draws the new step (and starts the next)
    no_exception(at)
    (drawn,) = {int(m.group(1).replace(",", "")) for p in at.get("progress")
                if (m := re.search(r"step ([\d,]+) of 200", p.proto.text))}
    assert drawn > 0
    # the sidebar, drawn before the page, waited for the same training: it names the same step
    assert any(f"step {drawn:,} of 200" in c.value for c in at.sidebar.caption)
    lab = at.session_state["lab"]
    loss = traces_by_name(chart(at, "tr_loss_chart"))["LSTM"]["y"]
    assert len(loss) == drawn
    np.testing.assert_allclose(loss, [r.loss for r in lab.trainers["lstm"].history[:drawn]], rtol=1e-6)


def test_choosing_gru_adds_a_third_model():
    at = open_page("pages/train.py", {"lab": small_lab()})
    at.checkbox(key="tr_gru").check().run()
    next(b for b in at.button if b.key == "tr_apply").click().run()
    no_exception(at)
    lab = at.session_state["lab"]
    assert list(lab.trainers) == ["lstm", "rnn", "gru"]
    next(b for b in at.button if b.key == "tr_step").click().run()
    names = set(traces_by_name(chart(at, "tr_loss_chart")))
    assert {"LSTM", "vanilla RNN", "GRU"} <= names


def test_settings_build_the_run_from_widgets():
    at = open_page("pages/train.py", {"lab": small_lab()})
    at.selectbox(key="tr_task").set_value("copy").run()
    at.number_input(key="tr_lag").set_value(12).run()
    next(b for b in at.button if b.key == "tr_apply").click().run()
    no_exception(at)
    lab = at.session_state["lab"]
    assert lab.task_cfg.name == "copy" and lab.task_cfg.lag == 12
    assert lab.task.baseline == 10 * np.log(8) / (12 + 20)


def test_bad_upload_keeps_the_current_run():
    lab = small_lab()
    lab.advance(3)
    at = open_page("pages/train.py", {"lab": lab})
    at.selectbox(key="tr_task").set_value("text").run()
    at.selectbox(key="tr_corpus").set_value("file").run()
    for payload, words in ((b"", "empty"), (b"\x00\x01binary" * 50, "binary"), (b"\xff\xfe" * 300, "UTF-8"),
                           (b"a" * 5000, "single repeated character"), (b"hello world", "at least")):
        at.file_uploader[0].upload("notes.txt", payload, "text/plain").run()
        next(b for b in at.button if b.key == "tr_apply").click().run()
        no_exception(at)
        assert at.session_state["lab"] is lab and lab.step == 3
        assert any(words in e.value for e in at.error), [e.value for e in at.error]


def test_upload_shorter_than_one_training_sequence_is_refused():
    lab = small_lab()
    at = open_page("pages/train.py", {"lab": lab})
    at.selectbox(key="tr_task").set_value("text").run()
    at.number_input(key="tr_seq_len").set_value(400).run()
    at.selectbox(key="tr_corpus").set_value("file").run()
    at.file_uploader[0].upload("short.txt", ("The quick brown fox. " * 20).encode(), "text/plain").run()
    next(b for b in at.button if b.key == "tr_apply").click().run()
    no_exception(at)
    assert at.session_state["lab"] is lab
    assert any("too short for training windows of 400" in e.value for e in at.error), [e.value for e in at.error]


def test_a_setting_too_costly_for_one_session_is_refused_and_the_run_kept():
    lab = small_lab()
    lab.advance(2)
    at = open_page("pages/train.py", {"lab": lab})
    at.number_input(key="tr_lag").set_value(1000).run()
    at.select_slider(key="tr_hidden").set_value(256).run()
    at.select_slider(key="tr_batch").set_value(256).run()
    next(b for b in at.button if b.key == "tr_apply").click().run()
    no_exception(at)
    assert at.session_state["lab"] is lab and lab.step == 2
    (msg,) = [e.value for e in at.error]
    assert "billion operations per training step" in msg and "The current run is unchanged" in msg
    # the same lag with the default model fits: the limit is on the work, not on any one widget
    at.select_slider(key="tr_hidden").set_value(32).run()
    at.select_slider(key="tr_batch").set_value(64).run()
    next(b for b in at.button if b.key == "tr_apply").click().run()
    no_exception(at)
    new = at.session_state["lab"]
    assert new is not lab and new.task_cfg.lag == 1000 and not at.error


def test_the_training_budget_is_what_the_refresh_leaves_after_drawing():
    from pages import live

    assert live.train_budget(0.1) == pytest.approx(live.REFRESH_USE * live.REFRESH_SECONDS - 0.1)
    assert live.train_budget(0.0) == live.MAX_TRAIN  # never more than the cap
    assert live.train_budget(2.0) == live.MIN_TRAIN  # a slow page still trains a little each refresh

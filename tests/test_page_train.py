"""Train & compare page under AppTest: steps add points, settings build a new run, bad input changes nothing."""

from __future__ import annotations

import numpy as np
from apptest_util import chart, no_exception, open_page
from conftest import remote_lab, small_lab


def traces_by_name(fig: dict) -> dict[str, dict]:
    return {t["name"]: t for t in fig["data"] if t.get("name")}


def test_each_step_adds_one_point_per_model():
    at = open_page("pages/train.py", {"lab": remote_lab()})
    no_exception(at)
    n = 4
    for _ in range(n):
        next(b for b in at.button if b.key == "tr_step").click().run()
    no_exception(at)
    lab = at.session_state["lab"]
    assert lab.view().step == n
    solo = small_lab(steps=n)  # the same settings trained here, in the test's own process
    loss = traces_by_name(chart(at, "tr_loss_chart"))
    assert set(loss) >= {"LSTM", "vanilla RNN"}
    for name, model in (("LSTM", "lstm"), ("vanilla RNN", "rnn")):
        y = np.asarray(loss[name]["y"], dtype=float)
        assert len(y) == n
        np.testing.assert_array_equal(y, [r.loss for r in solo.trainers[model].history])
        np.testing.assert_array_equal(np.asarray(loss[name]["x"]), np.arange(1, n + 1))
    # the held-out metric chart carries the chance line at 1/alphabet
    metric = chart(at, "tr_metric_chart")
    assert any(np.allclose(np.asarray(t.get("y", [np.nan]), dtype=float), 0.25) for t in metric["data"]
               if t.get("mode") == "lines" and "chance" in str(t.get("name", "")).lower()) or \
        any(abs(s.get("y0", -1) - 0.25) < 1e-9 for s in metric["layout"].get("shapes", []))


def test_play_trains_in_the_worker_and_the_next_refresh_shows_it():
    import re
    import time

    lab = remote_lab(train={"seed": 11})  # a run no other test has trained
    at = open_page("pages/train.py", {"lab": lab, "playing": True})
    no_exception(at)
    assert any("step 0 of 200" in p.proto.text for p in at.get("progress"))  # the worker has only just begun
    time.sleep(1.5)  # the worker trains on while the page waits for its next refresh
    at.run()
    no_exception(at)
    (drawn,) = {int(m.group(1).replace(",", "")) for p in at.get("progress")
                if (m := re.search(r"step ([\d,]+) of 200", p.proto.text))}
    assert drawn > 0
    # the sidebar is drawn with the page's view: it names the same step
    assert any(f"step {drawn:,} of 200" in c.value for c in at.sidebar.caption)
    loss = traces_by_name(chart(at, "tr_loss_chart"))["LSTM"]["y"]
    solo = small_lab(train={"seed": 11}, steps=drawn)
    np.testing.assert_array_equal(loss, [r.loss for r in solo.trainers["lstm"].history])


def test_choosing_gru_adds_a_third_model():
    at = open_page("pages/train.py", {"lab": remote_lab()})
    at.multiselect(key="tr_models").select("gru").run()
    next(b for b in at.button if b.key == "tr_apply").click().run()
    no_exception(at)
    lab = at.session_state["lab"]
    assert lab.view().names == ["lstm", "rnn", "gru"]
    next(b for b in at.button if b.key == "tr_step").click().run()
    names = set(traces_by_name(chart(at, "tr_loss_chart")))
    assert {"LSTM", "vanilla RNN", "GRU"} <= names


def test_settings_build_the_run_from_widgets():
    at = open_page("pages/train.py", {"lab": remote_lab()})
    at.selectbox(key="tr_task").set_value("copy").run()
    at.number_input(key="tr_lag").set_value(12).run()
    next(b for b in at.button if b.key == "tr_apply").click().run()
    no_exception(at)
    view = at.session_state["lab"].view()
    assert view.task_cfg.name == "copy" and view.task_cfg.lag == 12
    assert view.task.baseline == 10 * np.log(8) / (12 + 20)


def test_settings_form_says_which_gate_init_is_in_use_and_why():
    at = open_page("pages/train.py", {"lab": remote_lab()})
    assert at.selectbox(key="tr_init").value == "auto"
    notes = [c.value for c in at.caption if c.value.startswith("In use:")]
    assert len(notes) == 1 and notes[0].startswith("In use: chrono") and "time lag" in notes[0]
    at.selectbox(key="tr_task").set_value("text").run()
    (note,) = [c.value for c in at.caption if c.value.startswith("In use:")]
    assert note.startswith("In use: default") and "no single known lag" in note and "2.30 chrono" in note
    at.selectbox(key="tr_init").set_value("chrono").run()
    (note,) = [c.value for c in at.caption if c.value.startswith("In use:")]
    assert note.startswith("In use: chrono") and "Auto" not in note


def test_bad_upload_keeps_the_current_run():
    lab = remote_lab(steps=3)
    at = open_page("pages/train.py", {"lab": lab})
    at.selectbox(key="tr_task").set_value("text").run()
    at.selectbox(key="tr_corpus").set_value("file").run()
    for payload, words in ((b"", "empty"), (b"\x00\x01binary" * 50, "binary"), (b"\xff\xfe" * 300, "UTF-8"),
                           (b"a" * 5000, "single repeated character"), (b"hello world", "at least")):
        at.file_uploader[0].upload("notes.txt", payload, "text/plain").run()
        next(b for b in at.button if b.key == "tr_apply").click().run()
        no_exception(at)
        assert at.session_state["lab"] is lab and lab.view().step == 3
        assert any(words in e.value for e in at.error), [e.value for e in at.error]


def test_a_megabyte_upload_trains_with_progress_while_it_is_read():
    text = ("It was the best of times, it was the worst of times; “quoted” — and so on.\n" * 16_000)
    assert len(text.encode()) > 1_000_000
    lab = remote_lab()
    at = open_page("pages/train.py", {"lab": lab})
    at.selectbox(key="tr_task").set_value("text").run()
    at.selectbox(key="tr_corpus").set_value("file").run()
    at.file_uploader[0].upload("book.txt", text.encode(), "text/plain").run()
    next(b for b in at.button if b.key == "tr_apply").click().run()
    no_exception(at)
    new = at.session_state["lab"]
    assert new is not lab and new.text == text and new.view().task.name == "text"
    assert new.view().task.vocabulary == len(set(text))
    new.advance(2)
    assert new.view().step == 2


def test_upload_progress_shows_how_far_it_read_before_a_bad_byte():
    data = b"plain words and more words\n" * 60_000  # 1.62 MB
    data = data[:1_300_000] + b"\xff" + data[1_300_000:]
    lab = remote_lab()
    at = open_page("pages/train.py", {"lab": lab})
    at.selectbox(key="tr_task").set_value("text").run()
    at.selectbox(key="tr_corpus").set_value("file").run()
    at.file_uploader[0].upload("bad.txt", data, "text/plain").run()
    next(b for b in at.button if b.key == "tr_apply").click().run()
    no_exception(at)
    assert at.session_state["lab"] is lab
    assert any("position 1300000" in e.value for e in at.error), [e.value for e in at.error]
    shown = [p.proto.text for p in at.get("progress")]
    assert any("Reading the text as UTF-8: 1.0 of 1.6 MB" in t for t in shown), shown


def test_upload_shorter_than_one_training_sequence_is_refused():
    lab = remote_lab()
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
    lab = remote_lab(steps=2)
    at = open_page("pages/train.py", {"lab": lab})
    at.number_input(key="tr_lag").set_value(1000).run()
    at.select_slider(key="tr_hidden").set_value(256).run()
    at.select_slider(key="tr_batch").set_value(256).run()
    next(b for b in at.button if b.key == "tr_apply").click().run()
    no_exception(at)
    assert at.session_state["lab"] is lab and lab.view().step == 2
    (msg,) = [e.value for e in at.error]
    assert "billion operations per training step" in msg and "The current run is unchanged" in msg
    # the same lag with the default model fits: the limit is on the work, not on any one widget
    at.select_slider(key="tr_hidden").set_value(32).run()
    at.select_slider(key="tr_batch").set_value(64).run()
    next(b for b in at.button if b.key == "tr_apply").click().run()
    no_exception(at)
    new = at.session_state["lab"]
    assert new is not lab and new.view().task_cfg.lag == 1000 and not at.error



"""Vanishing gradients page under AppTest: both curves are the traces' ‖dL/dh_t‖, the history grows with
training, and the exploding-gradient demo compares clipping on and off on the same batches."""

from __future__ import annotations

import numpy as np
from apptest_util import chart, no_exception, open_page
from conftest import remote_lab, small_lab


def test_curves_equal_the_trace_gradients_and_history_grows():
    lab = remote_lab(task={"lag": 12}, train={"seed": 0})
    solo = small_lab(task={"lag": 12}, train={"seed": 0})
    at = open_page("pages/gradients.py", {"lab": lab})
    no_exception(at)
    fig = chart(at, "gr_curves")
    by_name = {t["name"]: np.asarray(t["y"], dtype=float) for t in fig["data"] if t.get("name")}
    lstm_key = next(k for k in by_name if "LSTM" in k and "h" in k and "c" not in k.replace("LSTM", ""))
    rnn_key = next(k for k in by_name if "RNN" in k)
    np.testing.assert_allclose(by_name[lstm_key], np.maximum(solo.trace("lstm").grad_h, 1e-30), rtol=1e-6)
    np.testing.assert_allclose(by_name[rnn_key], np.maximum(solo.trace("rnn").grad_h, 1e-30), rtol=1e-6)
    assert fig["layout"]["yaxis"]["type"] == "log"
    rows_before = np.asarray(chart(at, "gr_hist_lstm")["data"][0]["z"]).shape[0]
    for _ in range(25):
        next(b for b in at.button if b.key == "gr_step").click().run()
    rows_after = np.asarray(chart(at, "gr_hist_lstm")["data"][0]["z"]).shape[0]
    assert rows_after == rows_before + 1  # a capture every 25 steps (CAPTURE_EVERY)


def test_exploding_demo_compares_clipping():
    at = open_page("pages/gradients.py")
    at.select_slider(key="gr_steps").set_value(50).run()
    next(b for b in at.button if b.key == "gr_explode").click().run()
    no_exception(at)
    res = at.session_state["explode"]
    assert set(res.histories) == {"no clipping", "clipped at 1"}
    assert res.radius > 1.0
    fig = chart(at, "gr_ex_grad")
    ys = {t["name"]: np.asarray(t["y"], dtype=float) for t in fig["data"] if t.get("name") in res.histories}
    assert all(len(v) == 50 for v in ys.values())
    np.testing.assert_allclose(ys["no clipping"], [r.grad_norm for r in res.histories["no clipping"]], rtol=1e-6)

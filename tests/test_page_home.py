"""Home page: renders, and its one button starts the headline lesson (recall, lag 100, LSTM vs vanilla RNN)."""

from __future__ import annotations

import json

import numpy as np
from apptest_util import chart, no_exception, open_page


def test_home_renders_and_starts_headline_lesson():
    at = open_page()
    no_exception(at)
    assert at.title[0].value == "LSTM Gate Lab"
    start = next(b for b in at.button if b.key == "home_start")
    start.click().run()
    no_exception(at)
    view = at.session_state["lab"].view()
    assert view.task_cfg.name == "recall" and view.task_cfg.lag == 100
    assert view.names == ["lstm", "rnn"]
    assert at.session_state["playing"] is True
    assert at.title[0].value == "Train & compare"


def test_sidebar_has_seed_and_device():
    at = open_page()
    assert at.sidebar.number_input(key="sb_seed").value == 0
    assert at.sidebar.selectbox(key="sb_device").value == "auto"
    at.sidebar.number_input(key="sb_seed").set_value(3).run()
    start = next(b for b in at.button if b.key == "home_start")
    start.click().run()
    assert at.session_state["lab"].view().train_cfg.seed == 3


def test_home_shows_the_shipped_run_of_the_headline_lesson():
    from datasets.lessons import ROOT

    at = open_page()
    fig = chart(at, "home_preview")
    lines = {t["name"]: t for t in fig["data"] if t.get("name")}
    for cell, name in (("lstm", "LSTM"), ("rnn", "vanilla RNN")):
        rows = [json.loads(r) for r in (ROOT / "recall-100" / cell / "metrics.jsonl").read_text().splitlines()]
        want = [(r["step"], r["val_accuracy"]) for r in rows if "val_accuracy" in r]
        np.testing.assert_array_equal(np.asarray(lines[name]["x"]), [s for s, _ in want])
        np.testing.assert_allclose(np.asarray(lines[name]["y"], dtype=float), [v for _, v in want])
    assert max(lines["LSTM"]["y"]) >= 0.99 and max(lines["vanilla RNN"]["y"]) < 0.3  # what the caption says
    assert any("What to look for" in c.value for c in at.caption)

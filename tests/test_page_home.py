"""Home page: renders, and its one button starts the headline lesson (recall, lag 100, LSTM vs vanilla RNN)."""

from __future__ import annotations

from apptest_util import (
    no_exception,
    open_page,
    v2_router,  # noqa: F401 (autouse fixture)
)


def test_home_renders_and_starts_headline_lesson():
    at = open_page()
    no_exception(at)
    assert at.title[0].value == "LSTM Gate Lab"
    start = next(b for b in at.button if b.key == "home_start")
    start.click().run()
    no_exception(at)
    lab = at.session_state["lab"]
    assert lab.task_cfg.name == "recall" and lab.task_cfg.lag == 100
    assert list(lab.trainers) == ["lstm", "rnn"]
    assert at.session_state["playing"] is True
    assert at.title[0].value == "Train & compare"


def test_sidebar_has_seed_and_device():
    at = open_page()
    assert at.sidebar.number_input(key="sb_seed").value == 0
    assert at.sidebar.selectbox(key="sb_device").value == "auto"
    at.sidebar.number_input(key="sb_seed").set_value(3).run()
    start = next(b for b in at.button if b.key == "home_start")
    start.click().run()
    assert at.session_state["lab"].train_cfg.seed == 3

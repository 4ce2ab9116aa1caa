"""Shareable runs: every setting round-trips through the URL; a link reproduces the same run; bad links are
refused with one sentence and never name a file on the server."""

from __future__ import annotations

import numpy as np
import pytest
from apptest_util import APP, TIMEOUT, no_exception, page_path
from streamlit.testing.v1 import AppTest

from lstm_core import ConfigError, LabSpec, ModelConfig, TaskConfig, TrainConfig
from lstm_core.lab import Lab


def lab_from_query(q: dict[str, str]) -> Lab:
    return Lab.from_spec(LabSpec.from_query(q))


def test_lab_query_round_trip():
    lab = Lab(TaskConfig(name="copy", lag=7, copy_len=3), TrainConfig(seed=9, lr=1e-2, clip=0.0, steps=40, batch=8),
              {c: ModelConfig(cell=c, hidden=12, gate_init="forget-bias", forget_bias=2.5) for c in ("lstm", "gru")})
    q = lab.spec.to_query()
    assert all(isinstance(v, str) for v in q.values())
    again = lab_from_query(q)
    assert again.task_cfg == lab.task_cfg and again.train_cfg == lab.train_cfg
    assert again.model_cfgs == lab.model_cfgs
    lab.advance(5)
    again.advance(5)
    for name in lab.trainers:
        assert [r.loss for r in lab.trainers[name].history] == [r.loss for r in again.trainers[name].history]


@pytest.mark.parametrize("query, words", [
    ({"task.lag": "abc"}, "malformed"),
    ({"task.lag": "-3"}, "lag must be between"),
    ({"models": "lstm,transformer"}, "models must list"),
    ({"task.name": "text", "task.corpus": "file", "task.text_file": "/etc/passwd"}, "cannot carry"),
    ({"train.lr": "nan"}, "learning rate"),
    ({"model.hidden": "100000"}, "hidden must be between"),
])
def test_bad_links_are_refused(query, words):
    with pytest.raises(ConfigError, match=words):
        LabSpec.from_query(query)


def run_link(query: dict[str, str]) -> AppTest:
    """A link to Train & compare, opened in a new session (so the link's page is the first page run)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.switch_page(page_path("pages/train.py")).run()
    return at


def test_opening_a_link_reproduces_the_run():
    query = {"task.lag": "9", "task.alphabet": "4", "train.seed": "5", "train.steps": "60", "train.batch": "16",
             "model.hidden": "8", "models": "lstm,rnn,gru"}
    at = run_link(query)
    no_exception(at)
    lab = at.session_state["lab"]
    view = lab.view()
    assert view.task_cfg.lag == 9 and view.train_cfg.seed == 5 and view.names == ["lstm", "rnn", "gru"]
    assert at.sidebar.number_input(key="sb_seed").value == 5
    for _ in range(3):
        next(b for b in at.button if b.key == "tr_step").click().run()
    solo = lab_from_query(query)
    solo.advance(3)
    view = at.session_state["lab"].view()
    for name in solo.trainers:
        np.testing.assert_array_equal([r.loss for r in view.histories[name]],
                                      [r.loss for r in solo.trainers[name].history])
    # the address bar now carries the run's settings
    assert at.query_params["task.lag"] == ["9"] or at.query_params["task.lag"] == "9"


def test_a_bad_link_says_why_and_opens_the_default_lesson():
    at = run_link({"task.lag": "-1", "train.seed": "2"})
    no_exception(at)
    assert any("link's settings were not used" in e.value and "lag" in e.value for e in at.error)
    view = at.session_state["lab"].view()
    assert view.task_cfg.name == "recall" and view.task_cfg.lag == 100


def test_a_link_over_the_per_session_work_limit_is_refused():
    at = run_link({"task.name": "recall", "task.lag": "1000", "model.hidden": "256", "train.batch": "256"})
    no_exception(at)
    assert any("link's settings were not used" in e.value and "billion operations" in e.value for e in at.error)
    assert at.session_state["lab"].view().task_cfg.lag == 100

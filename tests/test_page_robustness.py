"""Bad input, nothing lost: a diverging run stops with a message and keeps its last good state and charts;
presenter mode hides the settings and enlarges type."""

from __future__ import annotations

import math

import pytest
import torch
from apptest_util import APP, TIMEOUT, chart, no_exception, open_page, page_path
from conftest import small_spec
from streamlit.testing.v1 import AppTest

from lstm_core.pool.client import RemoteLab
from lstm_core.tasks.base import Batch


def test_a_diverging_run_stops_with_a_message_and_keeps_its_charts(inline_pool):
    pool, backend = inline_pool
    lab = RemoteLab(small_spec(task={"name": "sine", "seq_len": 12}, train={"seed": 0, "steps": 100, "batch": 8}),
                    pool=pool)
    lab.advance(4)
    run = backend.core.runs[lab.key]
    before = {n: [r.loss for r in tr.history] for n, tr in run.lab.trainers.items()}
    weights = {k: v.clone() for k, v in run.lab.trainers["lstm"].model.state_dict().items()}
    good = run.lab.task.sample  # from now on the data hold NaN targets: the next step's loss is NaN
    run.lab.task.sample = lambda n, gen, split: Batch(good(n, gen, split).x, torch.full((n, 12, 1), math.nan))
    at = open_page("pages/train.py", {"lab": lab, "playing": True})
    no_exception(at)
    backend.train()  # the worker trains while the page waits for its next refresh
    at.run()
    no_exception(at)
    assert at.session_state["lab"] is lab
    view = lab.view()
    assert view.error and "diverged at step 5" in view.error and view.done
    assert any("diverged" in e.value for e in at.error)
    assert at.session_state["playing"] is False
    assert {n: [r.loss for r in h] for n, h in view.histories.items()} == before
    now = run.lab.trainers["lstm"].model.state_dict()
    assert all(torch.equal(now[k], v) for k, v in weights.items())
    loss = chart(at, "tr_loss_chart")
    assert sum(len(t.get("y", [])) for t in loss["data"] if t.get("name") == "LSTM") == 4


def test_presenter_mode_hides_settings_and_enlarges_type():
    at = open_page("pages/train.py")
    assert any(e.label.startswith("Settings") for e in at.expander)
    at.sidebar.toggle(key="sb_presenter").set_value(True).run()
    no_exception(at)
    assert not any(e.label.startswith("Settings") for e in at.expander)
    assert not [b for b in at.button if b.key in ("tr_step", "tr_reset")]
    assert any("font-size: 3.4rem" in str(h.proto) for h in at.get("html"))


def test_presenter_mode_offers_train_it_live_on_a_finished_lesson():
    at = open_page("pages/train.py")  # the pretrained headline lesson, finished at step 1,500
    at.sidebar.toggle(key="sb_presenter").set_value(True).run()
    no_exception(at)
    assert [b.label for b in at.button if b.key.startswith("tr_")] == ["▶ Train it live"]
    next(b for b in at.button if b.key == "tr_live").click().run()
    no_exception(at)
    view = at.session_state["lab"].view()
    assert at.session_state["playing"] and view.step == 0 and at.session_state["lab"].origin == ("fresh",)
    assert [b.label for b in at.button if b.key.startswith("tr_")] == ["Pause"]


BAD_LINK_PAGES = ["pages/home.py", "pages/gates.py", "pages/text.py", "pages/gradients.py", "pages/surgery.py",
                  "pages/by_hand.py", "pages/export.py", "pages/lesson.py"]


@pytest.mark.parametrize("page", BAD_LINK_PAGES)
def test_a_bad_link_is_named_on_the_page_it_opens(page):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"task.lag": "-1", "train.lr": "fast", "models": "lstm,cnn"})
    at.switch_page(page_path(page)).run()  # the link opens this page directly
    no_exception(at)
    assert (at.title[0].value == "LSTM Gate Lab") == (page == "pages/home.py")
    (msg,) = [e.value for e in at.error]
    assert "link's settings were not used" in msg
    assert "lag must be between" in msg and "train.lr" in msg and "models must list" in msg  # every bad value

"""Bad input, nothing lost: a diverging run stops with a message and keeps its last good state and charts;
presenter mode hides the settings and enlarges type."""

from __future__ import annotations

import math

import torch
from apptest_util import chart, no_exception, open_page
from conftest import small_spec

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

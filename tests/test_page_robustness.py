"""Bad input, nothing lost: a diverging run stops with a message and keeps its last good state and charts;
presenter mode hides the settings and enlarges type."""

from __future__ import annotations

import math

import torch
from apptest_util import chart, no_exception, open_page

from lstm_core import ModelConfig, TaskConfig, TrainConfig
from lstm_core.lab import Lab
from lstm_core.tasks.base import Batch


def test_a_diverging_run_stops_with_a_message_and_keeps_its_charts():
    lab = Lab(TaskConfig(name="sine", seq_len=12), TrainConfig(seed=0, steps=100, batch=8, val_every=2),
              {c: ModelConfig(cell=c, hidden=8) for c in ("lstm", "rnn")})
    lab.advance(4)
    before = {n: [r.loss for r in tr.history] for n, tr in lab.trainers.items()}
    weights = {k: v.clone() for k, v in lab.trainers["lstm"].model.state_dict().items()}
    good = lab.task.sample
    lab.task.sample = lambda n, gen, split: Batch(good(n, gen, split).x, torch.full((n, 12, 1), math.nan))
    at = open_page("pages/train.py", {"lab": lab, "playing": True})
    no_exception(at)
    at.run()  # the refresh after the one that started training: it waits for it and shows what happened
    no_exception(at)
    kept = at.session_state["lab"]
    assert kept is lab and lab.error and "diverged at step 5" in lab.error
    assert any("diverged" in e.value for e in at.error)
    assert at.session_state["playing"] is False or lab.done
    assert {n: [r.loss for r in tr.history] for n, tr in lab.trainers.items()} == before
    now = lab.trainers["lstm"].model.state_dict()
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

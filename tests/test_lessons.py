"""Pretrained lessons: the shipped run folders load with weights_only, their curves are their metrics.jsonl, the
snapshots are real weights from along the way, and the headline lesson's claim holds on them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from datasets.lessons import LESSONS, ROOT, available
from lstm_core.errors import RunError
from lstm_core.lessons import open_lesson, read_lesson


def test_every_lesson_ships():
    assert set(available()) == set(LESSONS)


@pytest.mark.parametrize("name", sorted(LESSONS))
def test_lesson_opens_with_its_real_curves_and_snapshots(name):
    data = read_lesson(name)
    lab = open_lesson(data)
    for cell in LESSONS[name].cells:
        rows = [json.loads(x) for x in (ROOT / name / cell / "metrics.jsonl").read_text().splitlines()]
        hist = lab.trainers[cell].history
        assert [r.loss for r in hist] == [r["loss"] for r in rows]
        assert lab.trainers[cell].step == rows[-1]["step"]
        state = torch.load(ROOT / name / cell / "model.pt", weights_only=True)
        now = lab.trainers[cell].model.state_dict()
        assert all(torch.equal(now[k], v) for k, v in state.items())
        steps = sorted(lab.snapshots[cell])
        assert steps[0] == 0 and steps[-1] == rows[-1]["step"] and len(steps) >= 5
        # the last snapshot is the final model, the first is the untrained one
        np.testing.assert_array_equal(lab.trace(cell, steps[-2]).h.shape, lab.trace(cell).h.shape)
        assert not np.allclose(lab.trace(cell, 0).h, lab.trace(cell).h)
    gm = lab.grad_matrix(LESSONS[name].cells[0])
    assert gm.grads.shape == (len(gm.steps), lab.view().task.display_steps)


def test_the_headline_lesson_is_true_on_the_shipped_models():
    lab = open_lesson(read_lesson("recall-100"))
    lstm, rnn = lab.trainers["lstm"], lab.trainers["rnn"]
    lstm_loss, lstm_acc = lstm.evaluate()
    rnn_loss, rnn_acc = rnn.evaluate()
    assert lstm_acc >= 0.99 and rnn_acc < 0.3
    assert lstm_acc == pytest.approx(lab.view().latest_val("lstm"))  # the shipped curve ends where the model is


def test_a_damaged_lesson_says_so(tmp_path):
    import shutil

    shutil.copytree(ROOT / "sine", tmp_path / "sine")
    (tmp_path / "sine" / "rnn" / "config.json").write_text("{not json")
    with pytest.raises(RunError, match="make pretrained"):
        read_lesson("sine", root=tmp_path)

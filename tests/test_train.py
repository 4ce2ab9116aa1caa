"""lstm_core.train: determinism, pause/resume, stop conditions, clipping, divergence, side-by-side training."""

from __future__ import annotations

import dataclasses
import math
from itertools import islice

import numpy as np
import pytest
import torch

from lstm_core.errors import DivergedError
from lstm_core.tasks.base import Batch
from lstm_core.trace import trace
from lstm_core.train import Trainer
from lstm_core.views import StepRecord


def _values(records: list[StepRecord]) -> list[dict]:
    """Every field except the wall-clock seconds."""
    return [{k: v for k, v in dataclasses.asdict(r).items() if k != "seconds"} for r in records]


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_records_count_and_fields(make_run):
    tr = Trainer(make_run(train={"steps": 12, "val_every": 5}))
    recs = list(tr.steps())
    assert [r.step for r in recs] == list(range(1, 13))
    assert [r.val_metric is not None for r in recs] == [k in (5, 10, 12) for k in range(1, 13)]
    assert all(r.stop is None for r in recs[:-1]) and recs[-1].stop == "steps"
    assert all(math.isfinite(r.loss) and 0 <= r.metric <= 1 and r.grad_norm > 0 for r in recs)
    assert all(b.seconds >= a.seconds for a, b in zip(recs, recs[1:], strict=False))
    assert tr.history == recs and tr.step == 12


@pytest.mark.parametrize("cell", ["lstm", "rnn", "gru"])
def test_same_seed_same_records_and_trace(make_run, cell):
    run = make_run(model={"cell": cell, "layers": 2, "dropout": 0.2}, train={"steps": 15, "seed": 3})
    a, b = Trainer(run), Trainer(run)
    ra, rb = list(a.steps()), list(b.steps())
    assert _values(ra) == _values(rb)
    assert _same_state(_state(a.model), _state(b.model))
    ta = trace(a.model, a.task, a.task.display(3))
    tb = trace(b.model, b.task, b.task.display(3))
    for la, lb in zip(ta.layers, tb.layers, strict=True):
        np.testing.assert_array_equal(la.h, lb.h)
        np.testing.assert_array_equal(la.grad_h, lb.grad_h)
        for name in la.gates:
            np.testing.assert_array_equal(la.gates[name], lb.gates[name])
    np.testing.assert_array_equal(ta.output, tb.output)
    assert ta.tokens == tb.tokens
    # another seed: other weights, other batches, other records
    c = Trainer(run.__class__(run.task, run.model, run.train.replace(seed=4)))
    rc = list(c.steps())
    assert [r.loss for r in rc] != [r.loss for r in ra]
    tc = trace(c.model, c.task, c.task.display(3))
    assert not np.array_equal(tc.h, ta.h)


def test_pause_and_resume_equals_one_pull(make_run):
    run = make_run(train={"steps": 100, "val_every": 4})
    split = Trainer(run)
    first = list(islice(split.steps(), 10))
    second = list(islice(split.steps(), 10))
    whole = Trainer(run)
    all20 = list(islice(whole.steps(), 20))
    assert [r.step for r in first + second] == list(range(1, 21))
    assert _values(first + second) == _values(all20)
    assert _same_state(_state(split.model), _state(whole.model))


def test_stop_at_target(make_run):
    # accuracy >= 0 is reached at the first evaluation, which is at step val_every
    tr = Trainer(make_run(train={"steps": 50, "val_every": 3, "target": 0.0}))
    recs = list(tr.steps())
    assert len(recs) == 3 and recs[-1].stop == "target" and recs[-1].val_metric is not None
    # lower-is-better metric: mse <= 1e6 is reached; mse <= 0 is not
    hit = Trainer(make_run(task={"name": "sine", "seq_len": 10}, train={"val_every": 2, "target": 1e6}))
    assert list(hit.steps())[-1] == hit.history[1] and hit.history[-1].stop == "target"
    miss = Trainer(make_run(task={"name": "sine", "seq_len": 10}, train={"steps": 6, "val_every": 2, "target": 0.0}))
    assert [r.stop for r in miss.steps()] == [None] * 5 + ["steps"]


def test_stop_at_max_seconds(make_run):
    tr = Trainer(make_run(train={"steps": 20_000, "val_every": 1000, "max_seconds": 0.05}))
    recs = list(tr.steps())
    assert recs[-1].stop == "seconds" and recs[-1].seconds >= 0.05
    assert recs[-1].val_metric is not None  # the final record is evaluated
    assert all(r.seconds < 0.05 for r in recs[:-1])


def test_early_stopping_counts_evaluations_without_improvement(make_run):
    tr = Trainer(make_run(train={"steps": 100, "val_every": 1, "patience": 3}))
    held_out = iter([0.5, 0.6, 0.55, 0.6, 0.7, 0.65, 0.7, 0.69, 0.9])
    tr.evaluate = lambda: (1.0, next(held_out))  # accuracy: higher is better
    recs = list(tr.steps())
    # best 0.7 at step 5; steps 6, 7, 8 do not beat it (equal is not better) -> stop at 8
    assert [r.val_metric for r in recs] == [0.5, 0.6, 0.55, 0.6, 0.7, 0.65, 0.7, 0.69]
    assert recs[-1].stop == "early-stop" and [r.stop for r in recs[:-1]] == [None] * 7


def test_early_stopping_for_lower_is_better(make_run):
    tr = Trainer(make_run(task={"name": "sine", "seq_len": 8}, train={"steps": 100, "val_every": 2, "patience": 2}))
    held_out = iter([1.0, 0.5, 0.6, 0.4, 0.45, 0.41, 0.3])
    tr.evaluate = lambda: (0.0, next(held_out))
    recs = list(tr.steps())
    assert len(recs) == 12 and recs[-1].stop == "early-stop" and recs[-1].val_metric == 0.41


def test_early_stopping_off_by_default(make_run):
    tr = Trainer(make_run(train={"steps": 6, "val_every": 1}))
    tr.evaluate = lambda: (1.0, 0.1)
    assert [r.stop for r in tr.steps()] == [None] * 5 + ["steps"]


def test_real_early_stop_with_no_learning(make_run):
    """With a learning rate too small to change a single held-out answer, patience 2 stops at the third eval."""
    tr = Trainer(make_run(train={"steps": 100, "val_every": 2, "patience": 2, "lr": 1e-6}))
    recs = list(tr.steps())
    assert recs[-1].stop == "early-stop" and recs[-1].step == 6


def _total_grad_norm(model) -> float:
    return torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()])).item()


def test_clipping_off_and_on_record_the_norm_before_clipping(make_run):
    off = Trainer(make_run(train={"clip": 0.0, "lr": 0.05}))
    on = Trainer(make_run(train={"clip": 1e-3, "lr": 0.05}))
    r_off, r_on = off.next_record(), on.next_record()
    assert r_off.grad_norm == r_on.grad_norm > 1e-3  # same batch, same weights: same norm before clipping
    assert _total_grad_norm(off.model) == pytest.approx(r_off.grad_norm, rel=1e-5)  # not clipped
    assert _total_grad_norm(on.model) == pytest.approx(1e-3, rel=1e-4)  # clipped to the max norm
    for _ in range(5):
        r_off, r_on = off.next_record(), on.next_record()
    assert r_off.loss != r_on.loss  # clipping changed the path
    assert _total_grad_norm(on.model) <= 1e-3 * (1 + 1e-4)


def test_clip_above_the_norm_changes_nothing(make_run):
    a = Trainer(make_run(train={"clip": 0.0, "steps": 8}))
    b = Trainer(make_run(train={"clip": 1e6, "steps": 8}))
    assert _values(list(a.steps())) == _values(list(b.steps()))


def test_divergence_raises_and_keeps_the_last_good_step(make_run):
    tr = Trainer(make_run(task={"name": "sine", "seq_len": 10}, train={"steps": 1000, "val_every": 1000}))
    at_25 = None
    for rec in islice(tr.steps(), 30):
        if rec.step == 25:
            at_25 = _state(tr.model)
    at_30 = _state(tr.model)
    assert not _same_state(at_25, at_30)
    # an overflow upstream: the next batch's targets are NaN, so loss and gradient are NaN
    good_batch = tr.task.batch
    tr.task.batch = lambda n, seed, step: Batch(good_batch(n, seed, step).x, torch.full((n, 10, 1), math.nan))
    with pytest.raises(DivergedError, match=r"diverged at step 31"):
        tr.next_record()
    now = _state(tr.model)
    assert _same_state(now, at_30)  # the NaN step was not applied: the state after step 30 stays
    assert all(torch.isfinite(v).all() for v in now.values())
    assert tr.opt.state_dict()["state"][0]["step"].item() == 30  # Adam's moments untouched too
    assert tr.step == 30 and [r.step for r in tr.history] == list(range(1, 31))  # charts keep every good step
    # the trainer goes on from the restored weights once the data are finite again
    tr.task.batch = good_batch
    rec = tr.next_record()
    assert math.isfinite(rec.loss) and math.isfinite(rec.grad_norm)


def test_divergence_from_an_exploding_model(make_run):
    """Weights that overflow to inf (as after an explosion) raise DivergedError; the snapshot is finite."""
    tr = Trainer(make_run(model={"cell": "rnn", "init_scale": 20.0}, train={"lr": 10.0, "clip": 0.0}))
    start = _state(tr.model)
    with torch.no_grad():
        tr.model.readout.weight.mul_(1e38).mul_(1e38)  # inf
    with pytest.raises(DivergedError, match="restored"):
        tr.next_record()
    assert _same_state(_state(tr.model), start)
    assert tr.step == 0 and tr.history == []  # step count and history went back with the weights


def test_dropout_is_deterministic_per_seed(make_run):
    run = make_run(model={"layers": 2, "dropout": 0.5}, train={"steps": 8})
    a, b = Trainer(run), Trainer(run)
    ra, rb = list(a.steps()), list(b.steps())
    assert _values(ra) == _values(rb)
    no_drop = Trainer(make_run(model={"layers": 2, "dropout": 0.0}, train={"steps": 8}))
    assert [r.loss for r in no_drop.steps()] != [r.loss for r in ra]
    # evaluation runs without dropout: the same held-out numbers twice in a row
    assert a.evaluate() == a.evaluate()


def test_trainer_does_not_depend_on_the_global_rng(make_run):
    # (building nn.LSTM draws PyTorch's default init from the global RNG; init_weights then overwrites it)
    run = make_run(model={"layers": 2, "dropout": 0.3}, train={"steps": 5})
    torch.manual_seed(0)
    ra = list(Trainer(run).steps())
    torch.manual_seed(99)
    rb = list(Trainer(run).steps())
    assert _values(ra) == _values(rb)


def test_learning_happens(make_run):
    """A sanity check that training trains: recall at lag 3 over 2 symbols is solved quickly."""
    tr = Trainer(make_run(task={"lag": 3, "alphabet": 2}, model={"hidden": 16},
                          train={"steps": 300, "lr": 1e-2, "val_every": 25, "target": 0.99, "batch": 32}))
    recs = list(tr.steps())
    assert recs[-1].stop == "target" and recs[-1].val_metric >= 0.99


def test_text_held_out_number_is_the_same_for_the_same_weights_whatever_the_seed(make_run):
    """Text is scored on fixed held-out windows: equal weights give equal numbers, run after run and seed
    after seed, so two runs on a corpus are comparable."""
    runs = [make_run(task={"name": "text", "corpus": "reber", "seq_len": 20}, train={"seed": s}) for s in (0, 1)]
    a, b = Trainer(runs[0]), Trainer(runs[1])
    list(islice(a.steps(), 5))
    b.model.load_state_dict(a.model.state_dict())
    first = a.evaluate()
    assert a.evaluate() == first and b.evaluate() == first
    # and the number is the mean over every scored character of those windows, in bits
    x, y = a._val.x, a._val.y
    with torch.no_grad():
        a.model.eval()
        nats = torch.nn.functional.cross_entropy(a.model(x).reshape(-1, a.task.output_size), y.reshape(-1))
    assert first[1] == pytest.approx(nats.item() / math.log(2), rel=1e-6)


def test_one_hot_text_input_weights_learn_input_lr_scale_times_faster(make_run):
    """Adam's first step moves every weight with a gradient by lr (sign of the gradient); for text, the first
    layer's one-hot input weights W_ih move by lr x Text.input_lr_scale, everything else by lr."""
    from lstm_core.tasks.text import Text

    run = make_run(task={"name": "text", "corpus": "reber", "seq_len": 20}, train={"lr": 1e-3})
    tr = Trainer(run)
    assert Text.input_lr_scale == 30.0
    before = _state(tr.model)
    tr.next_record()
    moved = {k: (v - before[k]).abs() for k, v in tr.model.state_dict().items()}
    assert moved["rnn.0.weight_ih_l0"].max().item() == pytest.approx(30 * 1e-3, rel=1e-3)
    for k in ("rnn.0.weight_hh_l0", "rnn.0.bias_ih_l0", "readout.weight"):
        assert moved[k].max().item() == pytest.approx(1e-3, rel=1e-3)
    # recall keeps one learning rate for every weight
    rec = Trainer(make_run(train={"lr": 1e-3}))
    w = rec.model.rnn[0].weight_ih_l0.detach().clone()
    rec.next_record()
    assert (rec.model.rnn[0].weight_ih_l0 - w).abs().max().item() == pytest.approx(1e-3, rel=1e-3)
    assert [g["lr"] for g in rec.opt.param_groups] == [1e-3]


def test_text_metric_is_the_loss_in_bits(make_run):
    tr = Trainer(make_run(task={"name": "text", "corpus": "reber", "seq_len": 20}, train={"val_every": 2}))
    rec = [tr.next_record() for _ in range(2)][-1]
    assert rec.metric == rec.loss / math.log(2)
    assert rec.val_metric == rec.val_loss / math.log(2)
    b = tr.task.batch(tr.run.train.batch, tr.run.train.seed, 0)
    with torch.no_grad():
        out = tr.model(b.x)
    assert tr._metric(out, b.y, tr.task.loss(out, b.y).item()) == pytest.approx(tr.task.metric(out, b.y), rel=1e-6)

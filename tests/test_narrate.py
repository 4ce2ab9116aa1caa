"""lstm_core.narrate: every sentence is computed from the numbers it describes; for each generator, runs that follow
the textbook story and runs that contradict it get different, true sentences."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_core import narrate
from lstm_core.config import ModelConfig, TaskConfig, TrainConfig
from lstm_core.lessons import open_lesson, read_lesson
from lstm_core.views import LabView, LayerTrace, StepRecord, TaskInfo, Trace

RECALL = TaskInfo(name="recall", title="recall", metric_name="accuracy", higher_is_better=True, baseline=0.125,
                  baseline_of="metric", baseline_label="chance = 1/8", tokens_in=True, display_steps=101,
                  vocabulary=9)
TEXT = TaskInfo(name="text", title="text", metric_name="bits_per_char", higher_is_better=False, baseline=6.5,
                baseline_of="metric", baseline_label="uniform guess = log2(90) bits", tokens_in=True,
                display_steps=100, vocabulary=90)


def view(task: TaskInfo, series: dict[str, list[tuple[float, float | None, float]]]) -> LabView:
    """A view whose model `name` has, at step k + 1, (loss, held-out value or None, gradient norm) series[name][k]."""
    hist = {n: tuple(StepRecord(k + 1, loss, 0.0, g, 0.01 * (k + 1), val) for k, (loss, val, g) in enumerate(s))
            for n, s in series.items()}
    steps = min(len(s) for s in series.values())
    return LabView(task_cfg=TaskConfig(name=task.name, corpus="reber") if task.name == "text" else TaskConfig(),
                   train_cfg=TrainConfig(steps=10_000, val_every=50), task=task,
                   model_cfgs={n: ModelConfig(cell=n) for n in series}, step=steps, done=False, error=None,
                   histories=hist, snapshot_steps={}, capture_every=25)


def curve(n: int, val: callable, loss: callable = lambda k: 2.0, grad: callable = lambda k: 0.1):
    return [(loss(k), val(k) if (k + 1) % 50 == 0 else None, grad(k)) for k in range(n)]


def test_the_headline_story_as_measured():
    v = view(RECALL, {"lstm": curve(1000, lambda k: 1.0 if k >= 649 else 0.13, loss=lambda k: 2.0 - k / 600),
                      "rnn": curve(1000, lambda k: 0.14)})
    s = narrate.metric_sentence(v)
    assert "LSTM 100.0% (solved)" in s and "vanilla RNN 14.0% (at chance (12.5%))" in s
    assert "The LSTM has led since step 650." in s and "Reached 99%: the LSTM at step 650." in s
    assert "the LSTM's fell from" in narrate.loss_sentence(v)
    assert "the vanilla RNN's stayed flat at 2" in narrate.loss_sentence(v)


def test_a_run_that_contradicts_the_story_is_said_as_measured():
    # text: the curves cross at step 800, after which the vanilla RNN leads (lower bits per character)
    v = view(TEXT, {"lstm": curve(1200, lambda k: 3.0 - k / 2000), "rnn": curve(1200, lambda k: 3.4 - k / 1000)})
    s = narrate.metric_sentence(v)
    assert "The vanilla RNN has led since step 850." in s  # the first evaluation after the crossing
    assert "below a uniform guess" in s and "Reached" not in s  # no accuracy, no "solved"
    # recall: the RNN solves it too (a short lag): no sentence says it stays at chance
    v = view(RECALL, {"lstm": curve(500, lambda k: 1.0), "rnn": curve(500, lambda k: 0.995 if k > 300 else 0.5)})
    s = narrate.metric_sentence(v)
    assert "at chance" not in s and "the vanilla RNN at step 350" in s


def test_gradient_norms_who_is_larger_since_when():
    # the RNN's norm is larger until step 550, the LSTM's after: as measured in the headline run
    v = view(RECALL, {"lstm": curve(1000, lambda k: 0.1, grad=lambda k: 0.05 if k < 550 else 2.0),
                      "rnn": curve(1000, lambda k: 0.1, grad=lambda k: 0.1)})
    s = narrate.grad_norm_sentence(v)
    assert "The LSTM's has been the larger since step 550." in s
    v = view(RECALL, {"lstm": curve(1000, lambda k: 0.1, grad=lambda k: 0.05),
                      "rnn": curve(1000, lambda k: 0.1, grad=lambda k: 0.1 if k % 97 else 50.0)})
    s = narrate.grad_norm_sentence(v)
    assert "The vanilla RNN's has been the larger throughout." in s and "spikes up to 500x" in s


@pytest.mark.parametrize(("series", "words"), [
    (np.full(50, 0.8), "holds its value"),
    (np.linspace(0.0, 12.0, 50), "ramps up"),
    (np.linspace(3.0, -2.0, 50), "ramps down"),
    (2.0 * 0.8 ** np.arange(50), "decays towards 0"),
    (np.full(50, 0.01), "stays near 0"),
    (np.sin(np.arange(50)), "moves up and down"),
])
def test_shape_of_a_state(series, words):
    assert narrate.shape_of(series) == words


def test_the_shipped_lessons_gates_are_described_as_they_are():
    lab = open_lesson(read_lesson("recall-100"))
    tr = lab.trace("lstm")
    s = narrate.gates_sentence(tr)
    f = tr.quantity("f")
    keep = narrate.keepers(tr)
    assert f"averages {f[1:].mean():.2f}" in s and f"{len(keep)} of 32 units" in s
    # the cell states of the units it names really move as it says (a ramp is not a held value)
    for u in (int(x) for x in s.split("Cell state c: ")[1].split("unit ")[1:][0].split()[:1]):
        assert narrate.shape_of(tr.quantity("c")[:100, u]) in s
    rnn = narrate.gates_sentence(lab.trace("rnn"))
    assert "rewrites" in rnn


def test_gradients_through_time_in_words():
    T = 101
    lstm = _grad_trace("lstm", np.full(T, 0.5))
    rnn = _grad_trace("rnn", 10.0 ** (np.arange(T) / 10 - 10))  # one order of magnitude per 10 steps
    s = narrate.gradient_sentence({"lstm": lstm, "rnn": rnn})
    assert "the vanilla RNN's gradient at t = 0 is 1.0e-10 of its gradient at t = 100" in s
    assert "falling about 1.0 orders of magnitude per 10 steps back" in s
    assert s.startswith("The LSTM's gradient at t = 0 is 1 of its gradient at t = 100")
    # the opposite story: the RNN's gradient does not vanish here, and the sentence says so
    flat = narrate.gradient_sentence({"rnn": _grad_trace("rnn", np.full(T, 0.2))})
    assert "is 1 of its gradient" in flat and "falling" not in flat


def _grad_trace(cell: str, g: np.ndarray) -> Trace:
    T = len(g)
    layer = LayerTrace(h=np.zeros((T, 2), np.float32), gates={}, pre={}, grad_h=g, grad_c=None)
    return Trace(cell=cell, x=np.zeros((T, 1), np.float32), tokens=("a",) * T, targets=("",) * T,
                 output=np.zeros((T, 1)), predictions=("a",) * T, loss=0.0, layers=(layer,))


def test_the_lessons_answers_are_graded_by_measurement():
    assert narrate.accuracy_band(RECALL, 0.14) == 0 and narrate.accuracy_band(RECALL, 0.55) == 1
    assert narrate.accuracy_band(RECALL, 0.97) == 2
    assert narrate.smallest_gradient_where(10.0 ** -np.arange(10, 0, -1)) == 0
    assert narrate.smallest_gradient_where(np.full(10, 0.3)) == 2
    assert narrate.smallest_gradient_where(10.0 ** -np.arange(10)) == 1
    assert narrate.forget_band(np.full((5, 4), 0.97)) == 1 and narrate.forget_band(np.full((5, 4), 0.05)) == 0
    assert narrate.forget_band(np.full((5, 4), 0.5)) == 2


def test_attention_sentence_names_the_step_read_most_and_the_share_on_the_cue():
    a = np.tril(np.full((4, 4), 0.1))
    a[3, :] = [0.7, 0.1, 0.1, 0.1]
    a[1, :2], a[2, :3] = [0.6, 0.4], [0.5, 0.25, 0.25]
    a[0, 0] = 1.0
    lt = LayerTrace(h=np.zeros((4, 2)), gates={}, pre={}, grad_h=None, grad_c=None, pairs={"a": a})
    tr = Trace(cell="attention", x=np.zeros((4, 1)), tokens=("B", "x", "y", "?"), targets=("",) * 4,
               output=np.zeros((4, 1)), predictions=("",) * 4, loss=0.0, layers=(lt,))
    s = narrate.attention_sentence(tr, 3, cue_step=0)
    assert "At t = 3, 70% of the attention is on step s = 0 (token 'B')" in s and "each of its 4 steps 25%" in s
    assert "on the cue (t = 0) is 60%; at the last step, 70%" in s  # mean of 0.6, 0.5, 0.7


def _lesson_rows(curves: dict[str, list[float]], seconds_per_step: dict[str, float], seeds=(0, 1, 2)) -> list[dict]:
    """Synthetic text-lesson rows: per model a mean curve at steps 0, 50, 100, ...; seeds spread +-0.01 around it."""
    rows = []
    for m, curve in curves.items():
        for s in seeds:
            for k, v in enumerate(curve):
                rows.append({"corpus": "python-docs", "model": m, "seed": s, "step": 50 * k,
                             "seconds": 50 * k * seconds_per_step[m], "bits_per_char": v + 0.01 * (s - 1)})
    return rows


def test_text_lesson_sentence_shows_the_crossover_at_equal_steps_and_the_order_at_equal_time():
    from lstm_core.narrate import text_lesson_facts, text_lesson_sentences

    rows = _lesson_rows({"lstm": [6.7, 3.2, 2.6, 2.2, 2.0], "rnn": [6.7, 3.0, 2.5, 2.3, 2.2],
                         "gru": [6.7, 3.1, 2.4, 2.1, 1.9]}, {"lstm": 0.04, "rnn": 0.02, "gru": 0.03})
    f = text_lesson_facts(rows, "python-docs")
    assert f["step"] == 200 and f["seeds"] == 3
    assert f["at_step"] == pytest.approx({"lstm": 2.0, "rnn": 2.2, "gru": 1.9})
    assert f["first_leader"] == "rnn" and f["changes"] == [(150, "lstm")]
    # equal time: the RNN's 200 steps took 4 s; the LSTM had done 100 steps by then, the GRU 133
    assert f["seconds"] == pytest.approx(4.0)
    assert f["at_time"]["rnn"] == pytest.approx(2.2)
    assert f["at_time"]["lstm"] == pytest.approx(2.6)
    assert f["at_time"]["gru"] == pytest.approx(2.4 - (2.4 - 2.1) * (4.0 - 3.0) / 1.5)
    (s,) = text_lesson_sentences(rows, {"python-docs": "Python's documentation"})
    assert s.startswith("On Python's documentation, 3 seeds each (mean held-out bits/char")
    assert "after 200 steps GRU 1.90, LSTM 2.00 and vanilla RNN 2.20" in s
    assert "at equal training time (4 s of CPU each) vanilla RNN 2.20, GRU 2.20 and LSTM 2.60" in s
    assert "The vanilla RNN leads the LSTM at first; the LSTM leads from step 150." in s


def test_text_lesson_sentence_says_when_the_rnn_stays_ahead():
    from lstm_core.narrate import text_lesson_sentences

    rows = _lesson_rows({"lstm": [6.7, 3.2, 2.6], "rnn": [6.7, 3.0, 2.4]}, {"lstm": 0.04, "rnn": 0.02})
    (s,) = text_lesson_sentences(rows)
    assert "The vanilla RNN is ahead of the LSTM at every evaluation from the first on." in s
    assert text_lesson_sentences([]) == []

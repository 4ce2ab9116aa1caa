"""lstm_core.surgery: gate surgery on a trained model. With no clamp the rerun is the trace, to the bit; a clamp
holds exactly what it names; and the classic demonstrations, measured on the shipped recall lesson, give what
the Gate surgery page says they give."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_core.errors import ConfigError
from lstm_core.lessons import open_lesson, read_lesson
from lstm_core.views import Clamp

T = 101  # the headline lesson: the cue at t = 0, the delay t = 1..99, the question at t = 100
DELAY = (1, 100)
TOL = 3 / 256  # three held-out sequences either way (the numpy rerun and the fused kernel round differently)


@pytest.fixture(scope="module")
def lesson():
    return open_lesson(read_lesson("recall-100"))


def test_no_clamp_is_the_trace_to_the_bit(lesson):
    r = lesson.intervene("lstm", ())
    tr = lesson.trace("lstm")
    for q in ("i", "f", "g", "o", "c"):
        np.testing.assert_array_equal(r.before.quantity(q), tr.quantity(q))
        np.testing.assert_array_equal(r.after.quantity(q), tr.quantity(q))
    np.testing.assert_array_equal(r.before.h, tr.h)
    assert r.metric_before == r.metric_after
    _, acc = lesson.trainers["lstm"].evaluate()  # the fused kernel on the same held-out set
    assert r.metric_before == pytest.approx(acc, abs=TOL) and r.held_out == 256


def test_a_clamp_holds_what_it_names_and_nothing_else(lesson):
    units = (3, 7)
    r = lesson.intervene("lstm", (Clamp("f", 0.25, units, 40, 45),))
    f_after, f_before = r.after.quantity("f"), r.before.quantity("f")
    assert (f_after[40:45][:, list(units)] == 0.25).all()
    np.testing.assert_array_equal(f_after[:40], f_before[:40])  # before the span nothing changes
    assert not np.array_equal(r.after.quantity("c")[45:], r.before.quantity("c")[45:])  # after it, it does
    wiped = lesson.intervene("lstm", (Clamp("c", 0.0, None, 50, 51),))
    assert (wiped.after.quantity("c")[50] == 0).all()


def test_the_classic_demonstrations_as_measured(lesson):
    """The outcomes the Gate surgery page states for the shipped lesson (held-out accuracy, 256 sequences)."""
    base = lesson.intervene("lstm", ()).metric_before
    assert base == pytest.approx(1.0, abs=TOL)
    # forget everything at one step in the middle of the delay: the memory is hurt, not erased, because
    # h_(t-1) still feeds the gates and writes part of it back
    one_step = lesson.intervene("lstm", (Clamp("f", 0.0, None, 50, 51),)).metric_after
    assert one_step == pytest.approx(0.566, abs=TOL)
    # "keep everything, write nothing" over the delay: the trained model does not hold a value, it builds one
    # up (its cell states ramp), so freezing them loses the cue
    frozen = lesson.intervene("lstm", (Clamp("f", 1.0, None, *DELAY), Clamp("i", 0.0, None, *DELAY))).metric_after
    assert frozen == pytest.approx(0.145, abs=TOL)
    # wiping the 4 best memory units over the delay hurts less than wiping the 4 worst: the cue is spread over
    # many units (the median unit alone guesses it 89 % of the time)
    mu = lesson.memory_units("lstm")
    top = lesson.intervene("lstm", (Clamp("c", 0.0, mu.order[:4], *DELAY),)).metric_after
    low = lesson.intervene("lstm", (Clamp("c", 0.0, mu.order[-4:], *DELAY),)).metric_after
    assert top == pytest.approx(0.719, abs=TOL) and low == pytest.approx(0.602, abs=TOL)
    # shutting the forget gate of those 4 units in the middle of the delay changes nothing: the others carry the
    # cue, and h_(t-1) writes it back
    shut = lesson.intervene("lstm", (Clamp("f", 0.0, mu.order[:4], 50, 51),)).metric_after
    assert shut == pytest.approx(1.0, abs=TOL)
    # wiping every cell at one step: the cue is lost (below chance, 1/8)
    wipe = lesson.intervene("lstm", (Clamp("c", 0.0, None, 50, 51),)).metric_after
    assert wipe == pytest.approx(0.082, abs=TOL)


@pytest.mark.parametrize(("clamp", "words"), [
    (Clamp("x", 0.0), "can be clamped at i, f, g, o, c"),
    (Clamp("f", 2.0), "between 0 and 1"),
    (Clamp("f", 0.0, (40,)), "units must be between 0 and 31"),
    (Clamp("f", 0.0, None, 200, 201), "must start between t = 0 and t = 100"),
    (Clamp("f", 0.0, layer=1), "cannot go on layer 2"),
])
def test_a_clamp_the_model_cannot_take_is_refused(lesson, clamp, words):
    with pytest.raises(ConfigError, match=words):
        lesson.intervene("lstm", (clamp,))


def test_the_rnn_can_be_clamped_at_its_state(lesson):
    r = lesson.intervene("rnn", (Clamp("h", 0.0, None, 10, 20),))
    assert (r.after.h[10:20] == 0).all() and r.metric_before != pytest.approx(1.0)

"""One step by hand under AppTest: the unit and timestep controls change the numbers, and they equal the trace."""

from __future__ import annotations

from apptest_util import chart, no_exception, open_page
from conftest import remote_lab, small_lab


def latex(at) -> str:
    return " ".join(e.value for e in at.latex)


def test_controls_change_the_numbers_and_they_equal_the_trace():
    settings = dict(cells=("lstm",), task={"lag": 10}, model={"hidden": 6}, train={"seed": 4, "steps": 50},
                    steps=10)
    at = open_page("pages/by_hand.py", {"lab": remote_lab(**settings)})
    no_exception(at)
    tr = small_lab(**settings).trace("lstm")
    seen = set()
    for t, unit in ((1, 0), (5, 0), (5, 3)):
        at.slider(key="bh_t").set_value(t).run()
        at.number_input(key="bh_unit").set_value(unit).run()
        no_exception(at)
        text = latex(at)
        g = tr.layers[0].gates
        for q in ("i", "f", "g", "o", "c"):
            assert f"= {g[q][t, unit]:+.3f}" in text, (q, t, unit)
        assert f"= {tr.h[t, unit]:+.3f}" in text
        assert f"{g['c'][t - 1, unit]:+.3f}" in text  # c_(t-1) on the conveyor belt
        assert f"({tr.layers[0].pre['f'][t, unit]:+.3f})" in text  # the pre-activation
        seen.add(text)
    assert len(seen) == 3
    boxes = " ".join(a.get("text", "") for a in chart(at, "bh_diagram")["layout"]["annotations"])
    assert f"{tr.h[5, 3]:+.3f}".replace("-", "\u2212") in boxes or f"{tr.h[5, 3]:.3f}" in boxes
    next(b for b in at.button if b.key == "bh_next").click().run()
    assert at.slider(key="bh_t").value == 6


def test_without_an_lstm_the_page_says_so():
    lab = remote_lab(cells=("rnn",), task={"lag": 5}, model={"hidden": 4}, train={"steps": 10, "batch": 8})
    at = open_page("pages/by_hand.py", {"lab": lab})
    no_exception(at)
    assert any("no LSTM" in i.value for i in at.info)


def test_the_run_can_be_paused_and_stepped_here():
    """The page draws the run live while it plays, so it carries the run's controls: +1 step moves the numbers."""
    settings = dict(cells=("lstm",), task={"lag": 10}, model={"hidden": 6}, train={"seed": 4, "steps": 50},
                    steps=10)
    at = open_page("pages/by_hand.py", {"lab": remote_lab(**settings)})
    no_exception(at)
    assert {"bh_play", "bh_step", "bh_reset"} <= {b.key for b in at.button}
    before = latex(at)
    next(b for b in at.button if b.key == "bh_step").click().run()
    no_exception(at)
    assert any("LSTM at training step 11," in c.value for c in at.caption)
    assert latex(at) != before

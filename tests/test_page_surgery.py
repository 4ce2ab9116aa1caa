"""Gate surgery page under AppTest: a demonstration applied to the shipped recall lesson shows the measured
held-out accuracy before and after, the answer, and a computed sentence; a clamp built by hand works; Undo goes
back; a clamp the model cannot take is refused with one sentence."""

from __future__ import annotations

import pytest
from apptest_util import chart, no_exception, open_page

from lstm_core.lessons import open_lesson, read_lesson
from lstm_core.views import Clamp


@pytest.fixture(scope="module")
def solo():
    return open_lesson(read_lesson("recall-100"))


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_a_demonstration_shows_what_was_measured(solo):
    at = open_page("pages/surgery.py")
    no_exception(at)
    assert not at.metric  # nothing applied yet
    next(b for b in at.button if b.key.startswith("sg_pre_Forget everything")).click().run()
    no_exception(at)
    want = solo.intervene("lstm", (Clamp("f", 0.0, None, 50, 51),))
    m = metrics(at)
    assert m["Held-out accuracy, as trained"] == f"{want.metric_before:.1%}"
    assert m["With the clamp"] == f"{want.metric_after:.1%}"
    said = " ".join(x.value for x in at.markdown if x.value.startswith("**Measured:**"))
    assert f"{want.metric_after:.1%} with the clamp" in said and "hurt, not erased" in said
    lines = chart(at, "sg_lines")
    assert any("with the clamp" in str(t.get("name")) for t in lines["data"])
    next(b for b in at.button if b.key == "sg_undo").click().run()
    no_exception(at)
    assert not at.metric


def test_a_clamp_built_by_hand(solo):
    at = open_page("pages/surgery.py")
    at.selectbox(key="sg_q").set_value("c").run()
    at.radio(key="sg_who").set_value("best memory units").run()
    at.number_input(key="sg_k").set_value(4).run()
    at.slider(key="sg_span").set_value((1, 99)).run()
    next(b for b in at.button if b.key == "sg_apply").click().run()
    no_exception(at)
    top = solo.memory_units("lstm").order[:4]
    want = solo.intervene("lstm", (Clamp("c", 0.0, top, 1, 100),))
    assert metrics(at)["With the clamp"] == f"{want.metric_after:.1%}"
    assert any(f"c = 0 for units {', '.join(map(str, top))} at t = 1 to 99" in x.value for x in at.markdown)

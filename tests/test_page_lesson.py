"""Guided lesson under AppTest: each question hides the measurement until the learner predicts, then shows the
pretrained lesson's real numbers."""

from __future__ import annotations

from apptest_util import chart, no_exception, open_page

from lstm_core.lessons import open_lesson, read_lesson


def test_predict_then_reveal_shows_the_measured_numbers():
    at = open_page("pages/lesson.py")
    no_exception(at)
    assert not at.get("plotly_chart")  # nothing is revealed before a prediction
    show2 = next(b for b in at.button if b.key == "gl_show2")
    assert show2.disabled
    at.radio(key="gl_q2").set_value("near chance (about 12 %)").run()
    next(b for b in at.button if b.key == "gl_show2").click().run()
    no_exception(at)
    lab = open_lesson(read_lesson("recall-100"))
    text = " ".join(m.value for m in at.markdown)
    assert f"LSTM **{lab.view().latest_val('lstm'):.1%}**" in text
    assert f"vanilla RNN **{lab.view().latest_val('rnn'):.1%}**" in text
    assert "Right." in text
    acc = chart(at, "gl_acc")
    assert len(acc["data"]) >= 2


def test_a_wrong_prediction_is_answered_with_the_measurement():
    at = open_page("pages/lesson.py")
    at.radio(key="gl_q4").set_value("mostly near 0 (forget)").run()
    next(b for b in at.button if b.key == "gl_show4").click().run()
    no_exception(at)
    assert any("The measurement says: **mostly near 1 (keep)**" in m.value for m in at.markdown)
    assert "gl_f" in str([el.key for el in at.get("plotly_chart")])

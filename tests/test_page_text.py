"""Text page under AppTest: samples from the trained models, and held-out text coloured by one unit, with
every character escaped (uploaded text is data, never markup)."""

from __future__ import annotations

import numpy as np
from apptest_util import chart, no_exception, open_page
from conftest import remote_lab

PAYLOAD = "<script>alert('x')</script> <b>bold</b> & more text.\n" * 30


def text_lab(text: str | None = None):
    task = {"name": "text", "seq_len": 30, "corpus": "file" if text else "reber",
            "text_file": "upload" if text else None}
    return remote_lab(task=task, train={"seed": 0, "steps": 50, "batch": 8}, steps=3, text=text)


def test_not_a_text_run_offers_one():
    at = open_page("pages/text.py")
    no_exception(at)
    assert [b for b in at.button if b.key == "tx_start"]


def test_the_measured_text_lesson_is_drawn_with_the_crossing_marked():
    """The chart beside the measured sentences: each model's mean over seeds of datasets/measured/text_lesson.csv
    per step, and a line where the LSTM passes the vanilla RNN for good (computed here from the file)."""
    from datasets.measured import text_lesson

    rows = [r for r in text_lesson() if r["corpus"] == "python-docs"]
    at = open_page("pages/text.py")
    no_exception(at)
    fig = chart(at, "tx_measured")
    lines = {d["name"]: d for d in fig["data"]}
    assert set(lines) == {"LSTM", "vanilla RNN", "GRU"}
    mean = {}
    for model, name in (("lstm", "LSTM"), ("rnn", "vanilla RNN"), ("gru", "GRU")):
        steps = sorted({r["step"] for r in rows if r["model"] == model})
        want = [np.mean([r["bits_per_char"] for r in rows if r["model"] == model and r["step"] == s]) for s in steps]
        np.testing.assert_allclose(lines[name]["x"], steps)
        np.testing.assert_allclose(lines[name]["y"], want, rtol=1e-9)
        mean[model] = dict(zip(steps, want, strict=True))
    behind = [s for s in sorted(mean["lstm"]) if s > 0 and mean["lstm"][s] >= mean["rnn"][s]]
    crossing = min(s for s in mean["lstm"] if s > max(behind))
    (line,) = [s for s in fig["layout"]["shapes"] if s["type"] == "line" and s["xref"] == "x"]
    assert line["x0"] == crossing and any(f"leads from step {crossing:,}" in a["text"]
                                          for a in fig["layout"]["annotations"])
    assert fig["layout"]["yaxis"]["range"][1] < 6  # the crossing drawn large, not squeezed under the first drop
    at.toggle(key="tx_measured_numbers").set_value(True).run()  # and the numbers it draws, as a table
    no_exception(at)
    (numbers,) = [d.value for d in at.dataframe]  # one row per step, one column per model
    assert list(numbers["training step"]) == sorted(mean["lstm"])
    np.testing.assert_allclose(numbers["vanilla RNN"], [mean["rnn"][s] for s in sorted(mean["rnn"])], rtol=1e-9)


def test_the_pretrained_text_lesson_opens_with_samples_at_once():
    """A teacher on the Text page with the recall lesson open: one click, and the shipped text lesson's LSTM and
    RNN (step 1,500) write samples, with no training first."""
    at = open_page("pages/text.py")
    assert at.session_state.lab.view().task.name == "recall"
    at.button(key="tx_lesson").click().run()
    no_exception(at)
    view = at.session_state.lab.view()
    assert (view.task.name, view.step, list(view.names)) == ("text", 1500, ["lstm", "rnn"])
    assert len(at.code) == 2 and all(len(block.value) > 100 for block in at.code)  # one sample per model


def test_samples_and_coloured_text_are_escaped():
    lab = text_lab(PAYLOAD)
    at = open_page("pages/text.py", {"lab": lab})
    no_exception(at)
    assert len(at.code) == 2  # one sample per model
    html = " ".join(str(h.proto) for h in at.get("html"))
    assert "<script>" not in html and "&lt;" in html
    assert "<b>" not in html
    assert "linear-gradient" in html  # every coloured text has its colour legend
    at.selectbox(key="tx_prop").set_value("a unit of my choice").run()
    at.number_input(key="tx_unit").set_value(3).run()
    no_exception(at)


def test_prompt_characters_outside_the_vocabulary_are_shown_as_read():
    lab = text_lab(PAYLOAD)
    at = open_page("pages/text.py", {"lab": lab})
    at.text_input(key="tx_prompt").set_value("ZΩ text").run()
    no_exception(at)
    symbols = lab.view().task.symbols
    assert "Z" not in symbols and "Ω" not in symbols and "\ufffd" not in symbols
    (warn,) = [w.value for w in at.warning if "Not in the model's vocabulary" in w.value]
    assert "`Z`" in warn and "`Ω`" in warn and "reads each as `'\\n'`" in warn and "show each as \ufffd" in warn
    assert len(at.code) == 2
    for block in at.code:  # the prompt, its unknown characters marked, then its continuation
        assert block.value.startswith("\ufffd\ufffd text")


def test_held_out_characters_outside_the_vocabulary_are_marked_in_the_coloured_text():
    rare = "".join(chr(0x4E00 + k) for k in range(300))  # more distinct characters than the vocabulary holds
    full = rare + PAYLOAD * 40
    cut = int(len(full) * 0.9) + 20  # inside the held-out passage the page colours
    text = full[:cut] + "\u5000" + full[cut:]  # once, last seen: read as the unknown symbol
    lab = text_lab(text)
    at = open_page("pages/text.py", {"lab": lab})
    no_exception(at)
    assert "\ufffd" in lab.view().task.symbols and "\u5000" not in lab.view().task.symbols
    html = " ".join(str(h.proto) for h in at.get("html"))
    assert "a character outside the vocabulary" in html and "outline: 1px dashed" in html

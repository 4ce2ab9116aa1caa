"""Text page under AppTest: samples from the trained models, and held-out text coloured by one unit, with
every character escaped (uploaded text is data, never markup)."""

from __future__ import annotations

from apptest_util import no_exception, open_page
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

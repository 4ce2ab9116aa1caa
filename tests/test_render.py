"""lstm_core.render: figures come out as offline HTML and PNG, and without a browser PNG says so."""

from __future__ import annotations

import re

import pytest

from lstm_core import figures
from lstm_core import render as ex
from lstm_core.config import ModelConfig, TaskConfig, TrainConfig
from lstm_core.errors import ExportError
from lstm_core.lab import Lab

H = 6


@pytest.fixture(scope="module")
def lab() -> Lab:
    lab = Lab(TaskConfig(name="recall", lag=6, alphabet=4), TrainConfig(seed=3, steps=50, batch=16, val_every=2),
              {c: ModelConfig(cell=c, hidden=H) for c in ("lstm", "gru", "rnn")})
    lab.advance(4)
    return lab


# -- figures -------------------------------------------------------------------------------------------------------
def test_figure_html_is_standalone_and_offline(lab):
    page = ex.figure_html(figures.gradient_curves({n: lab.trace(n) for n in lab.trainers}))
    assert page.lower().startswith("<!doctype html>")
    assert "<title>How much the loss depends on each earlier timestep</title>" in page
    assert "plotly" in page and "Plotly.newPlot" in page
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)  # plotly.js is inlined, nothing fetched
    assert not re.search(r"<link[^>]*\bhref\s*=", page, re.IGNORECASE)
    assert len(page) > 1_000_000  # ~4.7 MB of plotly.js
    assert "LSTM" in page and "vanilla RNN" in page


@pytest.mark.browser  # kaleido drives Debian's chromium
def test_figure_png_is_a_png(lab):
    fig = figures.training_curves(lab.view().histories, "loss", title="Training loss")
    png = ex.figure_png(fig, width=600, scale=1)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (600, fig.layout.height)


def test_png_without_a_browser_says_so_in_one_sentence(lab, monkeypatch):
    monkeypatch.setattr(ex, "browser_path", lambda: None)
    reason = ex.png_unavailable()
    assert reason and "Chromium" in reason and reason.endswith(".")
    with pytest.raises(ExportError, match="Chromium"):
        ex.figure_png(figures.gradient_curves({"lstm": lab.trace("lstm")}))

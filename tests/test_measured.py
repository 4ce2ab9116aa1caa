"""datasets.measured: the shipped measurements load without torch, hold what the Makefile target that made them
says, and the sentences the app shows about them come from their rows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from datasets.measured import init_default

ROOT = Path(__file__).resolve().parents[1]


def test_the_default_initialisation_measurement():
    rows = init_default()
    assert sorted((r["lag"], r["seed"]) for r in rows) == [(lag, s) for lag in (20, 100) for s in range(5)]
    assert all(r["model"] == "lstm" and r["seconds"] >= 30 for r in rows)
    # as the Gates page says: with PyTorch's default gate init the LSTM solved none of them, near chance
    assert all(r["stop"] == "seconds" and r["accuracy"] < 0.2 for r in rows)


def test_it_loads_without_torch():
    probe = "import sys, datasets.measured as m; m.init_default(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_text_lesson_measurement_and_the_sentences_home_and_text_show():
    from datasets.corpora import CORPORA
    from datasets.measured import text_lesson
    from lstm_core.narrate import text_lesson_facts, text_lesson_sentences

    rows = text_lesson()
    assert rows, "datasets/measured/text_lesson.csv is missing: make measure-text"
    corpora = sorted({r["corpus"] for r in rows})
    assert "python-docs" in corpora and {r["model"] for r in rows} == {"lstm", "rnn", "gru"}
    for corpus in corpora:  # the same seeds for every model: a comparison on identical batches
        seeds = [{r["seed"] for r in rows if r["corpus"] == corpus and r["model"] == m} for m in ("lstm", "rnn", "gru")]
        assert seeds[0] == seeds[1] == seeds[2], corpus
        assert corpus != "python-docs" or seeds[0] == {0, 1, 2}
        f = text_lesson_facts(rows, corpus)
        # every model learned: far below a uniform guess (log2 of at least 8 symbols) at the last common step
        assert all(v < 3.0 for v in f["at_step"].values()) and f["step"] >= 500
    titles = {k: c.title for k, c in CORPORA.items()}
    sentences = text_lesson_sentences(rows, titles)
    assert len(sentences) == len(corpora)
    from apptest_util import open_page

    home = " ".join(m.value for m in open_page().markdown)
    assert "The text lesson, measured" in home and all(s in home for s in sentences)

"""lstm_core.probe: which units carry the cue (recall) and which track a property of text, measured held out."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small_lab

from lstm_core.lessons import open_lesson, read_lesson
from lstm_core.probe import text_properties


@pytest.fixture(scope="module")
def lesson():
    return open_lesson(read_lesson("recall-100"))


def test_the_trained_lstm_carries_the_cue_and_the_rnn_does_not(lesson):
    mu = lesson.memory_units("lstm")
    acc = mu.accuracy
    assert mu.quantity == "c" and mu.chance == 0.125 and mu.sequences == 256
    assert list(mu.order) == sorted(range(32), key=lambda u: -acc[u]) and acc[mu.order[0]] >= 0.95
    rnn = lesson.memory_units("rnn")
    assert rnn.quantity == "h" and rnn.accuracy.max() < 0.25  # none of its units beats chance by much


def test_untrained_units_guess_at_chance():
    lab = small_lab(cells=("lstm",), task={"lag": 20, "alphabet": 8})
    mu = lab.memory_units("lstm")
    assert np.median(mu.accuracy) < 0.3


def test_the_newer_cells_are_probed_at_their_own_memory():
    """peephole: its cell state; RNN + attention: h; the bidirectional LSTM: c on recall, and on reverse recall
    (the cue comes after the answer) its right-to-left cell state c_rev."""
    lab = small_lab(cells=("peephole", "bilstm", "attention"), task={"lag": 12, "alphabet": 4})
    assert [lab.memory_units(c).quantity for c in ("peephole", "bilstm", "attention")] == ["c", "c", "h"]
    rev = small_lab(cells=("bilstm",), task={"name": "revrecall", "lag": 12, "alphabet": 4})
    mu = rev.memory_units("bilstm")
    assert mu.quantity == "c_rev" and mu.accuracy.shape == (8,) and sorted(mu.order) == list(range(8))


def test_text_properties_are_read_as_the_model_reads():
    p = text_properties(list('ab "cd" (e\nf)'))
    assert p["inside quotes"].tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert p["inside brackets"].tolist() == [0] * 8 + [1, 1, 1, 1, 0]
    assert p["position in the line"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 1, 2]
    assert p["after a space"].tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0]


def test_text_units_are_the_best_correlated_units():
    lab = open_lesson(read_lesson("text"))
    tu = lab.text_units("lstm")
    tr = lab.passage("lstm", 3000)
    props = text_properties(list(tr.tokens))
    c = tr.quantity("c")
    for name, (unit, r) in tu.best.items():
        direct = np.corrcoef(c[:, unit], props[name])[0, 1]
        assert r == pytest.approx(direct, abs=1e-6)
        assert abs(r) == pytest.approx(np.nanmax(np.abs(tu.correlations[name])), abs=1e-12)


def test_long_or_wide_runs_probe_fewer_sequences_and_say_how_many():
    from lstm_core.probe import PROBE_MIN, PROBE_SEQUENCES, PROBE_WORK, probe_sequences

    assert probe_sequences(101, 32) == PROBE_SEQUENCES == 512  # the headline lesson: unchanged
    assert probe_sequences(1002, 256) == PROBE_MIN  # the largest accepted: 33 s of probing before, ~4 s now
    n = probe_sequences(1002, 96)
    assert PROBE_MIN < n < PROBE_SEQUENCES and n % 2 == 0 and 8 * 1002 * 96**2 * n <= PROBE_WORK

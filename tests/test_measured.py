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

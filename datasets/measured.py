"""Measurements the app shows, made by scripts in this repository and shipped as small CSV files in
datasets/measured/ (the Makefile target named beside each remakes it). Read without torch."""

from __future__ import annotations

import csv
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "measured"


def _rows(name: str) -> list[dict]:
    path = ROOT / name
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k, v in r.items():
            try:
                r[k] = int(v)
            except (TypeError, ValueError):
                try:
                    r[k] = float(v)
                except (TypeError, ValueError):
                    pass
    return rows


@functools.lru_cache(maxsize=1)
def init_default() -> list[dict]:
    """Recall with the LSTM's gates initialised as PyTorch does (near 0.5), lags 20 and 100, seeds 0-4, 30 s of
    training each (`make measure-init`): one row per run, as `python -m lstm_core sweep` writes them."""
    return _rows("init_default.csv")


@functools.lru_cache(maxsize=1)
def text_lesson() -> list[dict]:
    """The text lesson's models (LSTM, vanilla RNN, GRU) on two corpora, seeds 0-2, the lesson's settings
    (`make measure-text`, bench/measure_text_lesson.py): one row per held-out evaluation, with corpus, model,
    seed, step, seconds (training CPU time) and bits_per_char."""
    return _rows("text_lesson.csv")

"""The pretrained lessons, in one registry: what `make pretrained` trains (through the command line) into
`datasets/pretrained/<lesson>/<cell>/`, and what the Home page offers.

Each lesson's models are trained with the same seed, so they see identical batches, and save weight snapshots
during training for the learner to scrub through. Adding a lesson is one line in `LESSONS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "pretrained"


@dataclass(frozen=True)
class Lesson:
    name: str  # folder under datasets/pretrained
    title: str  # button label
    cells: tuple[str, ...]  # models trained for it, side by side on the same batches
    args: tuple[str, ...]  # `python -m lstm_core train` arguments shared by its models
    snapshot_every: int  # steps between saved weight snapshots


LESSONS: dict[str, Lesson] = {les.name: les for les in (
    Lesson("recall-100", "Long-lag recall, lag 100 (LSTM vs RNN)", ("lstm", "rnn"),
           ("--task", "recall", "--lag", "100", "--steps", "1500", "--seed", "0"), 100),
    Lesson("sine", "Sine prediction (LSTM vs RNN)", ("lstm", "rnn"),
           ("--task", "sine", "--seq-len", "100", "--steps", "1500", "--seed", "0"), 150),
    Lesson("text", "Text: Python's docs (LSTM vs RNN)", ("lstm", "rnn"),
           ("--task", "text", "--corpus", "python-docs", "--seq-len", "100", "--hidden", "128",
            "--batch", "32", "--steps", "1500", "--seed", "0"), 250),
)}
HEADLINE = "recall-100"  # the lesson a teacher starts with


def folder(name: str, cell: str, root: Path = ROOT) -> Path:
    return root / name / cell


def available(root: Path = ROOT) -> list[str]:
    """Lessons whose run folders are all present."""
    return [n for n, les in LESSONS.items() if all((folder(n, c, root) / "model.pt").is_file() for c in les.cells)]

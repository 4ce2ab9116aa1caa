"""Pretrained lessons (the registry is `datasets.lessons`): run folders made by `make pretrained` through the
command line, opened as a Lab in well under a second, with weight snapshots taken during training so a learner
can scrub through training and watch the gates take shape.

Every number comes from those runs: the curves from their `metrics.jsonl`, the gates and gradients from their
weights (loaded with `torch.load(..., weights_only=True)` and checked against the config).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from datasets.lessons import LESSONS, ROOT, folder

from .config import LabSpec, RunConfig

if TYPE_CHECKING:  # imported where used: `read_curves` serves the Home page before torch has loaded
    import torch

    from .lab import Lab


@dataclass(frozen=True)
class LessonData:
    """What is read from disk once per process and shared read-only by every session."""

    name: str  # the lesson's key in datasets.lessons.LESSONS
    run: RunConfig  # of the first model; the others differ only in the cell
    states: dict[str, dict[str, torch.Tensor]]  # final weights per cell
    snapshots: dict[str, dict[int, dict[str, torch.Tensor]]]  # per cell: step -> weights
    metrics: dict[str, list[dict]]  # per cell: metrics.jsonl rows


def read_curves(name: str, root: Path = ROOT) -> dict[str, list[dict]]:
    """A lesson's training curves per model: its metrics.jsonl rows, read without torch. Empty if not shipped."""
    try:
        return {cell: _metrics(folder(name, cell, root)) for cell in LESSONS[name].cells}
    except (OSError, ValueError):
        return {}


def read_config(name: str, root: Path = ROOT) -> RunConfig | None:
    """The run config of a lesson's first model, read without torch (None if not shipped or unreadable)."""
    try:
        return RunConfig.from_json((folder(name, LESSONS[name].cells[0], root) / "config.json").read_text())
    except (OSError, ValueError):
        return None


def _metrics(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines() if line]


def read_lesson(name: str, root: Path = ROOT) -> LessonData:
    from .errors import RunError
    from .runs import load_snapshots, load_state

    les = LESSONS[name]
    runs, states, snaps, metrics = {}, {}, {}, {}
    for cell in les.cells:
        path = folder(name, cell, root)
        try:
            runs[cell] = RunConfig.from_json((path / "config.json").read_text())
            metrics[cell] = _metrics(path)
        except (OSError, ValueError) as e:
            raise RunError(f"the pretrained lesson {name!r} is incomplete ({e}); run 'make pretrained'.") from None
        states[cell] = load_state(path / "model.pt")
        snaps[cell] = load_snapshots(path)
    first = runs[les.cells[0]]
    for run in runs.values():
        if run.task != first.task or run.train != first.train:
            raise RunError(f"the pretrained lesson {name!r} has models trained on different settings.")
    return LessonData(name, first, states, snaps, metrics)


def open_lesson(data: LessonData) -> Lab:
    """A Lab showing the pretrained models at their last step, with their real curves and snapshots.

    Play continues training from there; Reset trains again from scratch, live, with the same settings.
    """
    from .lab import Lab
    from .runs import records

    run = data.run
    models = {cell: run.model.replace(cell=cell) for cell in data.states}
    lab = Lab(run.task, run.train, models)
    lab.snapshots = {cell: dict(s) for cell, s in data.snapshots.items()}  # gradient history: from these
    for cell in lab.trainers:
        lab.load_weights(cell, data.states[cell], records(data.metrics[cell], lab.task.metric_name))
    return lab


def lesson_spec(name: str, root: Path = ROOT) -> LabSpec | None:
    """The settings of a lesson's lab (its models side by side), read without torch; None if not shipped."""
    run = read_config(name, root)
    if run is None:
        return None
    return LabSpec(run.task, tuple(run.model.replace(cell=c) for c in LESSONS[name].cells), run.train)

"""Small self-contained experiments a page runs beside the learner's lab: exploding gradients and clipping."""

from __future__ import annotations

from dataclasses import dataclass

from .config import ModelConfig, RunConfig, TaskConfig, TrainConfig
from .errors import DivergedError
from .trace import spectral_radius
from .train import Trainer
from .views import StepRecord


@dataclass(frozen=True)
class ExplodeResult:
    histories: dict[str, list[StepRecord]]  # "no clipping" and "clipped at 1": one record per step
    diverged: dict[str, int | None]  # step at which a run produced NaN/inf (and stopped), else None
    radius: float  # spectral radius of the RNN's initial W_hh


def exploding_demo(seed: int = 0, init_scale: float = 3.0, lr: float = 1e-2, steps: int = 150,
                   lag: int = 30) -> ExplodeResult:
    """A vanilla RNN whose recurrent weights start large (spectral radius > 1), trained twice on identical
    batches: once without clipping and once with the global gradient norm clipped at 1."""
    task_cfg = TaskConfig(name="recall", lag=lag)
    model_cfg = ModelConfig(cell="rnn", init_scale=init_scale)
    runs = {"no clipping": 0.0, "clipped at 1": 1.0}
    trainers = {k: Trainer(RunConfig(task_cfg, model_cfg, TrainConfig(seed=seed, lr=lr, clip=c, steps=steps)))
                for k, c in runs.items()}
    radius = spectral_radius(trainers["no clipping"].model)
    diverged: dict[str, int | None] = {k: None for k in runs}
    for _ in range(steps):
        for k, tr in trainers.items():
            if diverged[k] is None:
                try:
                    tr.next_record()
                except DivergedError:
                    diverged[k] = tr.step + 1
    return ExplodeResult({k: tr.history for k, tr in trainers.items()}, diverged, radius)

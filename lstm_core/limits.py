"""What one session may ask of the server, checked from the settings alone, before anything is built.

The work of one joint training step is estimated as 6 x parameters x timesteps x batch over all models (2
floating-point operations per parameter and token forward, 4 backward: the usual estimate), plus, for attention,
its scores and context, which grow as timesteps²; both come from the cell registry's formulas and the task's
sizes, so a setting over the limit is refused without building a model, a task's data or a trace.
bench/bench_limits.py measures the estimate against real steps: 25 GFLOP take 0.6-1 s here; the headline lesson
takes 0.3 GFLOP.
"""

from __future__ import annotations

from collections.abc import Iterable

from .cells import CELLS
from .config import ModelConfig, TaskConfig, TrainConfig, bound, pairing_problem
from .errors import ConfigError, LimitError
from .tasks import TASKS

MAX_STEPS = int(bound(TrainConfig, "steps").hi)  # steps of one run (the config's bound, everywhere)
MAX_STEP_FLOPS = 25e9  # work of one joint training step of all models, so no step holds a worker for long
# attention weights of one training step, batch x timesteps² per layer: a training step keeps about 14 bytes
# for each (scores, masked scores, weights and their gradients), so 16 million take ~230 MB and 0.5 s (measured)
MAX_ATTENTION_WEIGHTS = 16_000_000
MAX_CHECKPOINT_BYTES = 20 * 1024 * 1024  # the largest allowed model (2 x 256 units, 256 symbols) is ~4 MB
MAX_RUN_ZIP_BYTES = 48_000_000  # a run archive as uploaded; its members' own limits add up to ~42 MB


def model_params(cfg: ModelConfig, input_size: int, output_size: int) -> int:
    """Weights and biases of a model: its recurrent layers and the readout (the cell registry's formula)."""
    return CELLS[cfg.cell].params(input_size, cfg.hidden, output_size, cfg.layers)


def step_flops(task: TaskConfig, models: Iterable[ModelConfig], batch: int, text: str | None = None) -> float:
    """Estimated floating-point operations of one joint training step of `models` on `task` (each cell's
    `step_flops`: 6 x parameters x timesteps x batch, and the attention's term in timesteps²)."""
    inputs, outputs, steps = TASKS[task.name].cls().sizes(task, text)
    return sum(CELLS[m.cell].step_flops(inputs, m.hidden, outputs, m.layers, steps, batch) for m in models)


def attention_weights(task: TaskConfig, models: Iterable[ModelConfig], batch: int, text: str | None = None) -> int:
    """Attention weights a_(t,s) one joint training step computes: batch x timesteps² per attention layer."""
    steps = TASKS[task.name].cls().sizes(task, text)[2]
    return sum(batch * steps**2 * m.layers for m in models if CELLS[m.cell].attention)


def check(task: TaskConfig, models: Iterable[ModelConfig], train: TrainConfig, text: str | None = None) -> None:
    """Refuse (ConfigError, one sentence) a cell that cannot learn the task honestly, and (LimitError) a run
    costlier per step than one session may have: in operations, or in attention weights held in memory."""
    models = list(models)
    for m in models:
        problem = pairing_problem(task, m.cell)
        if problem:
            raise ConfigError(problem + ".")
    weights = attention_weights(task, models, train.batch, text)
    if weights > MAX_ATTENTION_WEIGHTS:
        raise LimitError(
            f"the attention would weigh about {weights / 1e6:,.0f} million pairs of timesteps per training step "
            f"(batch x timesteps²), and each session may hold at most {MAX_ATTENTION_WEIGHTS / 1e6:,.0f} million "
            "in memory; lower the lag or sequence length, or the batch size.")
    flops = step_flops(task, models, train.batch, text)
    if flops > MAX_STEP_FLOPS:
        raise LimitError(
            f"these settings need about {flops / 1e9:,.0f} billion operations per training step, and each "
            f"session may use at most {MAX_STEP_FLOPS / 1e9:,.0f} billion so that a whole class can train at once; "
            "lower the lag or sequence length, the batch size, the hidden units or the number of models.")

"""Gate surgery: hold gates or states of a trained model at chosen values and see what follows.

Every peer only lets a learner watch the gates; here the learner operates on them. `intervene` reruns the
display sequence and the held-out set with the clamps (`views.Clamp`) in the cell's own equations (the same
`forward` the trace uses, so with no clamp the display rerun *is* the trace, to the bit) and returns both runs'
states, predictions and held-out scores. What a clamp does is measured, not assumed: after a cell state is
wiped, h_(t-1) still feeds the gates and can write the memory back.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .cells import CELLS
from .cells.numeric import np32
from .errors import ConfigError
from .models import SeqModel
from .tasks.base import Batch, Task
from .trace import trace
from .views import Clamp, Intervention


def check(model: SeqModel, clamps: Sequence[Clamp], steps: int) -> None:
    """Refuse (ConfigError, one sentence) a clamp the model cannot take."""
    spec = CELLS[model.cfg.cell]
    if not spec.surgery:
        raise ConfigError(f"gate surgery works on the LSTM, the GRU and the vanilla RNN, not on a {spec.label}.")
    allowed = spec.clampable
    H = model.cfg.hidden
    for c in clamps:
        if c.quantity not in allowed:
            raise ConfigError(f"a {model.cfg.cell} can be clamped at {', '.join(allowed)}; got {c.quantity!r}.")
        if c.units is not None and (not c.units or min(c.units) < 0 or max(c.units) >= H):
            raise ConfigError(f"clamped units must be between 0 and {H - 1}, got {list(c.units)}.")
        if not 0 <= c.start < c.stop or c.start >= steps:
            raise ConfigError(f"a clamp's span must start between t = 0 and t = {steps - 1} and end after it "
                              f"starts, got t = {c.start} to {c.stop - 1}.")
        if not 0 <= c.layer < model.cfg.layers:
            raise ConfigError(f"the model has {model.cfg.layers} layer(s); a clamp cannot go on layer {c.layer + 1}.")
        lo, hi = (0.0, 1.0) if c.quantity in ("i", "f", "o", "r", "z") else (-1e3, 1e3)
        if not lo <= c.value <= hi:
            raise ConfigError(f"{c.quantity} can be held between {lo:g} and {hi:g}, got {c.value:g}.")


@torch.no_grad()
def outputs(model: SeqModel, batch: Batch, clamps: Sequence[Clamp] = ()) -> torch.Tensor:
    """The model's readout (B, T, O) for a whole batch, read with the cell's own numpy equations and `clamps`."""
    impl = model.cell
    X = model.encode(batch.x).transpose(0, 1)  # (T, B, I)
    for k in range(len(model.rnn)):
        w = model.recurrent_weights(k)
        xw = np32(X @ w["W_ih"].T + w["b_ih"])  # (T, B, G*H)
        fw = impl.forward(np.ascontiguousarray(xw), w["W_hh"], w["b_hh"], [c for c in clamps if c.layer == k])
        X = torch.from_numpy(fw.h)
    return model.readout(X).transpose(0, 1)  # (B, T, O)


def intervene(model: SeqModel, task: Task, display: Batch, held_out: Batch, clamps: Sequence[Clamp]) -> Intervention:
    """The display sequence and the held-out set read twice: as trained, and with `clamps`."""
    check(model, clamps, int(display.x.shape[1]))
    y = held_out.y
    scores = []
    for cs in ((), clamps):
        out = outputs(model, held_out, cs)
        scores.append((float(task.loss(out, y).item()), float(task.metric(out, y))))
    return Intervention(clamps=tuple(clamps), before=trace(model, task, display, grads=False),
                        after=trace(model, task, display, grads=False, clamps=clamps),
                        loss_before=scores[0][0], loss_after=scores[1][0],
                        metric_before=scores[0][1], metric_after=scores[1][1], held_out=int(held_out.x.shape[0]))

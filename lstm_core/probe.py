"""Where the memory is: which units carry what, measured on held-out data.

Recall (`memory_units`): each unit's state during the delay (the LSTM's cell state c, another cell's h), averaged
over the delay, is read as a guess of the cue: per unit, the cue whose mean state (over half of a fixed set of
held-out sequences) is nearest; scored on the other half. A unit that carries the cue guesses it far above
chance. Text (`text_units`): the correlation, over held-out text, of each unit's state with simple properties of
the text (inside quotes, inside brackets, position in the line, just after a space), as in Karpathy, Johnson and
Fei-Fei's study of character-level LSTMs.
"""

from __future__ import annotations

import numpy as np
import torch

from .models import SeqModel
from .narrate import PROPERTIES
from .tasks.base import IGNORE, Task, batch_generator
from .trace import layer_forward, trace
from .views import MemoryUnits, TextUnits

PROBE_STREAM = -3  # stream of the held-out probe sequences (training uses 0, 1, ...; VAL -1, DISPLAY -2)
PROBE_SEQUENCES = 512
# floating-point operations one search for memory units may take: about 8 x timesteps x hidden² per sequence (the
# recurrence of the first layer, 4 gates), so 512 sequences at lag 1000 and 256 units took 33 s on one core here and
# held the run's worker (and a Gates page) that long. Longer or wider runs probe fewer sequences, at least
# PROBE_MIN; the sentence names how many. The headline lesson (lag 100, 32 units) keeps all 512.
PROBE_WORK = 1.6e10
PROBE_MIN = 64


@torch.no_grad()
def states(model: SeqModel, x: torch.Tensor, layer: int = 0, right_to_left: bool = False) -> tuple[str, np.ndarray]:
    """The memory state of `layer` for a batch, (name, (T, B, H)): the cell state c where the cell has one, else
    h; with `right_to_left`, a bidirectional layer's right-to-left one (c_rev), which reads a cue that comes after
    the answer. Each cell's own equations (`trace.layer_forward` on a batch)."""
    X = model.encode(x).transpose(0, 1)  # (T, B, I)
    for k in range(layer + 1):
        ps = layer_forward(model.cell, model.recurrent_weights(k), X)
        X = torch.from_numpy(ps.out)
    for name in ("c_rev", "c") if right_to_left else ("c",):
        if name in ps.gates:
            return name, ps.gates[name]
    return "h", ps.h


def probe_sequences(steps: int, hidden: int) -> int:
    """Held-out sequences `memory_units` reads for a model of `hidden` units over `steps` timesteps (even)."""
    fit = int(PROBE_WORK / (8 * steps * hidden**2))
    return max(PROBE_MIN, min(PROBE_SEQUENCES, fit)) // 2 * 2


def memory_units(model: SeqModel, task: Task, seed: int, n: int | None = None) -> MemoryUnits:
    """Rank units by how well their mean state over the delay guesses the cue, held out (recall-like tasks: one
    scored answer, the cue it names somewhere in the input). `n` sequences, by default as many as PROBE_WORK
    allows (`probe_sequences`), half to fit and half to score."""
    cue_t = getattr(task, "cue_step", None)
    if n is None:
        n = probe_sequences(task.steps, model.cfg.hidden)
    b = task.sample(n, batch_generator(seed, PROBE_STREAM), "val")
    scored = b.y != IGNORE
    if cue_t is None or scored.sum(1).ne(1).any():
        raise ValueError(f"memory units are found on recall tasks (one cue, one answer), not on {task.name}.")
    answer_t = int(scored[0].nonzero()[0, 0])
    cue = b.y[scored].numpy()  # (B,) the symbol to recall
    lo, hi = sorted((cue_t, answer_t))
    quantity, s = states(model, b.x, right_to_left=cue_t > answer_t)  # (T, B, H)
    window = s[lo + 1:hi] if hi - lo > 1 else s[lo:hi + 1]
    feat = window.mean(axis=0)  # (B, H)
    half = n // 2
    k = task.output_size
    fit, test = feat[:half], feat[half:]
    means = np.stack([fit[cue[:half] == c].mean(axis=0) if (cue[:half] == c).any() else np.full(fit.shape[1], np.inf)
                      for c in range(k)])  # (K, H)
    guess = np.abs(test[None, :, :] - means[:, None, :]).argmin(axis=0)  # (B/2, H)
    acc = (guess == cue[half:, None]).mean(axis=0)
    order = tuple(int(u) for u in np.argsort(-acc, kind="stable"))
    return MemoryUnits(quantity=quantity, order=order, accuracy=acc,
                       chance=1.0 / k, sequences=n - half)


def text_properties(chars: list[str]) -> dict[str, np.ndarray]:
    """Each property of PROPERTIES at every character of `chars` (as the model reads character t)."""
    quote, depth, col = False, 0, 0
    out = {k: np.zeros(len(chars)) for k in PROPERTIES}
    prev = ""
    for t, ch in enumerate(chars):
        if ch == '"':
            quote = not quote
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        col = 0 if ch == "\n" else col + 1
        out["inside quotes"][t] = quote
        out["inside brackets"][t] = depth > 0
        out["position in the line"][t] = col
        out["after a space"][t] = prev == " "
        prev = ch
    return out


def text_units(model: SeqModel, task: Task, chars: int = 3000) -> TextUnits:
    """Per property, the unit whose state (c for the LSTM, else h) correlates most with it over held-out text."""
    tr = trace(model, task, task.passage(chars), grads=False)
    s = tr.quantity("c" if "c" in tr.layers[0].gates else "h")  # (T, H)
    props = text_properties(list(tr.tokens))
    best, corr = {}, {}
    for name, p in props.items():
        if p.std() == 0:
            continue
        z = (s - s.mean(0)) / np.where(s.std(0) > 0, s.std(0), 1.0)
        r = (z * ((p - p.mean()) / p.std())[:, None]).mean(0)
        corr[name] = r
        u = int(np.argmax(np.abs(r)))
        best[name] = (u, float(r[u]))
    return TextUnits(quantity="c" if "c" in tr.layers[0].gates else "h", best=best, correlations=corr,
                     characters=tr.steps)

"""Sentences computed from a run's own numbers: what each chart shows, said in words.

Every sentence the app shows about a run (a caption, a lesson's answer, the text twin of a chart) comes from
here, from the same arrays the chart is drawn from, so it cannot contradict the chart: where the run departs
from the textbook story, the sentence says what was measured. Pure functions of views and traces (numpy only):
tested with runs that follow the story and runs that do not (tests/test_narrate.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .cells import QUANTITIES, label
from .views import LabView, TaskInfo, Trace

PROPERTIES = {  # properties of text that units may track (lstm_core/probe.py measures them)
    "inside quotes": "between a pair of double quotes",
    "inside brackets": "between an opening and a closing bracket: (), [] or {}",
    "position in the line": "the number of characters since the last line break",
    "after a space": "the character before is a space",
}
SOLVED = 0.99  # held-out accuracy counted as solved
AT_CHANCE = 0.05  # an accuracy within this of chance is "at chance"
KEEP = 0.95  # a forget/update gate above this keeps (nearly) everything


# -- numbers as words ---------------------------------------------------------------------------------------------
def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _units(us: Sequence[int], most: int = 5) -> str:
    us = [int(u) for u in us]
    shown = _join(str(u) for u in us[:most])
    more = f" (and {len(us) - most} more)" if len(us) > most else ""
    return ("unit " if len(us) == 1 else "units ") + shown + more


def sci(v: float) -> str:
    """A ratio as a learner reads it: 0.42, or 3.1e-09."""
    if v == 0:
        return "0"
    return f"{v:.2g}" if 1e-3 <= abs(v) < 1e3 else f"{v:.1e}"


def value(task: TaskInfo, v: float | None) -> str:
    if v is None:
        return "–"
    if task.metric_name == "accuracy":
        return f"{v:.1%}"
    if task.metric_name == "bits_per_char":
        return f"{v:.3f} bits/char"
    return f"{v:.4f}"


def _better(task: TaskInfo, a: float, b: float) -> bool:
    return a > b if task.higher_is_better else a < b


def relation(task: TaskInfo, v: float) -> str:
    """Where a held-out value stands against the task's baseline, in words."""
    base = task.baseline
    if task.metric_name == "accuracy":
        if v >= SOLVED:
            return "solved"
        if base is not None and abs(v - base) <= AT_CHANCE:
            return f"at chance ({base:.1%})"
        if base is not None:
            return f"{(v - base) * 100:+.0f} points from chance"
        return ""
    if base is None or base <= 0:
        return ""
    what = "a uniform guess" if task.metric_name == "bits_per_char" else task.baseline_label.split(" (")[0]
    change = (v - base) / base
    if abs(change) < 0.02:
        return f"the same as {what}"
    return f"{abs(change):.0%} {'below' if change < 0 else 'above'} {what}"


# -- training curves ----------------------------------------------------------------------------------------------
def _evals(view: LabView, name: str) -> list[tuple[int, float]]:
    return [(r.step, r.val_metric) for r in view.histories[name] if r.val_metric is not None]


def first_reached(view: LabView, name: str, threshold: float = SOLVED) -> int | None:
    """The first evaluation step at which model `name`'s held-out accuracy reached `threshold`."""
    return next((s for s, v in _evals(view, name) if v >= threshold), None)


def leader(view: LabView) -> tuple[str | None, int | None]:
    """(the model with the best held-out value at the last evaluation, the step since which it has led)."""
    series = {n: dict(_evals(view, n)) for n in view.names}
    steps = sorted(set.intersection(*(set(s) for s in series.values()))) if series else []
    if not steps:
        return None, None
    best_at = []
    for s in steps:
        vals = {n: series[n][s] for n in view.names}
        best = max(vals, key=lambda n: vals[n] if view.task.higher_is_better else -vals[n])
        tied = sum(1 for v in vals.values() if abs(v - vals[best]) < 1e-9) > 1
        best_at.append(None if tied else best)
    last = best_at[-1]
    if last is None:
        return None, None
    since = steps[-1]
    for s, b in zip(reversed(steps), reversed(best_at), strict=True):
        if b != last:
            break
        since = s
    return last, since


def metric_sentence(view: LabView) -> str:
    """The held-out chart in words: where each model stands, who leads since when, who solved it when."""
    task = view.task
    if not any(_evals(view, n) for n in view.names):
        return (f"No held-out evaluation yet: the first comes at step {view.train_cfg.val_every:,}, and every "
                f"{view.train_cfg.val_every:,} steps after it.")
    parts = []
    for n in view.names:
        ev = _evals(view, n)
        if ev:
            rel = relation(task, ev[-1][1])
            parts.append(f"{label(n)} {value(task, ev[-1][1])}" + (f" ({rel})" if rel else ""))
    s = f"At step {view.step:,}, held out: " + "; ".join(parts) + "."
    lead, since = leader(view)
    if lead is not None and len(view.names) > 1:
        first = min(r.step for r in view.histories[lead] if r.val_metric is not None)
        s += f" The {label(lead)} " + ("has led since the first evaluation." if since == first
                                       else f"has led since step {since:,}.")
    if task.metric_name == "accuracy":
        solved = {n: first_reached(view, n) for n in view.names}
        done = [f"the {label(n)} at step {st:,}" for n, st in solved.items() if st is not None]
        if done:
            s += f" Reached {SOLVED:.0%}: {_join(done)}."
    return s


def _mean(xs: Sequence[float]) -> float:
    return float(np.mean(xs)) if len(xs) else float("nan")


def loss_sentence(view: LabView) -> str:
    """The training-loss chart in words: from where to where each model's loss went."""
    if view.step == 0:
        return "No training step yet."
    parts = []
    for n in view.names:
        losses = [r.loss for r in view.histories[n]]
        k = max(1, min(10, len(losses) // 5))
        a, b = _mean(losses[:k]), _mean(losses[-k:])
        if not (math.isfinite(a) and math.isfinite(b)):
            continue
        change = (b - a) / a if a else 0.0
        how = "stayed flat at" if abs(change) < 0.05 else ("fell from" if b < a else "rose from")
        parts.append(f"the {label(n)}'s {how} {a:.3g}" + ("" if abs(change) < 0.05 else f" to {b:.3g}"))
    s = "Training loss (mean of the first and of the last steps): " + "; ".join(parts) + "."
    task = view.task
    if task.baseline_of == "loss" and task.baseline is not None:
        below = [label(n) for n in view.names if _mean([r.loss for r in view.histories[n]][-10:]) < task.baseline]
        s += (f" Below the memoryless line ({task.baseline:.3g}): {_join(below)}." if below
              else f" No model is below the memoryless line ({task.baseline:.3g}) yet.")
    return s


def _windows(view: LabView, name: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(step at the end of each window, median gradient norm in it), windows of `size` steps."""
    g = np.array([r.grad_norm for r in view.histories[name]], dtype=float)
    n = len(g) // size
    if n == 0:
        return np.array([len(g)]), np.array([np.median(g)]) if len(g) else np.array([np.nan])
    return (np.arange(1, n + 1) * size, np.median(g[: n * size].reshape(n, size), axis=1))


def grad_norm_sentence(view: LabView) -> str:
    """The gradient-norm chart in words: typical size per model, which is larger since when, spikes."""
    if view.step == 0:
        return "No training step yet."
    size = max(5, min(50, view.step // 10))
    meds, parts = {}, []
    for n in view.names:
        g = np.array([r.grad_norm for r in view.histories[n]][-size:], dtype=float)
        meds[n] = float(np.median(g))
        parts.append(f"{label(n)} {sci(meds[n])}")
    s = f"Gradient norm over the last {min(size, view.step)} steps (median): " + ", ".join(parts) + "."
    if len(view.names) == 2:
        a, b = view.names
        ea, ma = _windows(view, a, size)
        _, mb = _windows(view, b, size)
        bigger = ma > mb
        since = int(ea[0]) - size
        for k in range(len(bigger) - 1, 0, -1):
            if bigger[k] != bigger[k - 1]:
                since = int(ea[k - 1])
                break
        top = a if bigger[-1] else b
        s += (f" The {label(top)}'s has been the larger since step {max(since, 0):,}." if since > 0
              else f" The {label(top)}'s has been the larger throughout.")
    for n in view.names:
        g = np.array([r.grad_norm for r in view.histories[n]][-200:], dtype=float)
        if len(g) >= 20 and np.median(g) > 0 and g.max() > 10 * np.median(g):
            s += f" The {label(n)}'s spikes up to {g.max() / np.median(g):.0f}x its median (exploding gradients)."
    return s


# -- gates and states -----------------------------------------------------------------------------------------------
def runs(mask: np.ndarray) -> tuple[int, int]:
    """The longest run of True in a 1-D mask: (start, stop) with stop exclusive; (0, 0) if none."""
    best, start = (0, 0), None
    for t, m in enumerate(list(mask) + [False]):
        if m and start is None:
            start = t
        elif not m and start is not None:
            if t - start > best[1] - best[0]:
                best = (start, t)
            start = None
    return best


def shape_of(c: np.ndarray) -> str:
    """How one unit's state moves over a window: holds, ramps up/down, decays, stays near 0 or swings."""
    c = np.asarray(c, dtype=float)
    span = float(np.abs(c).max()) if len(c) else 0.0
    if span < 0.05:
        return "stays near 0"
    rng = float(c.max() - c.min())
    if rng <= 0.15 * span:
        return "holds its value"
    if len(c) > 2:
        r = float(np.corrcoef(np.arange(len(c)), c)[0, 1])
        if abs(r) >= 0.9:
            return "ramps up" if r > 0 else "ramps down"
    if abs(c[0]) > 0.3 * span and abs(c[-1]) < 0.3 * abs(c[0]):
        return "decays towards 0"
    return "moves up and down"


def keepers(trace: Trace, gate: str = "f", layer: int = 0, lo: int = 1, hi: int | None = None) -> np.ndarray:
    """Units whose gate stays above KEEP at every timestep of [lo, hi)."""
    g = trace.quantity(gate, layer)
    hi = g.shape[0] if hi is None else hi
    if hi <= lo:
        return np.array([], dtype=int)
    return np.flatnonzero((g[lo:hi] > KEEP).all(axis=0))


def gates_sentence(trace: Trace, units: Sequence[int] | None = None, layer: int = 0) -> str:
    """The gate panel in words, for the cell the trace is of. `units`: the units to describe first (the memory
    units, when they have been found), else the ones whose state moves most."""
    T = trace.steps
    if trace.cell == "rnn":
        h = trace.quantity("h", layer)
        step = float(np.abs(np.diff(h, axis=0)).mean()) if T > 1 else 0.0
        return (f"The vanilla RNN's hidden state changes by {step:.2f} per step on average (per unit, out of a "
                f"range of -1 to 1): each new input rewrites it.")
    gate = "f" if "f" in trace.layers[layer].gates else ("z" if "z" in trace.layers[layer].gates else None)
    if gate is None:
        return ""
    state = "c" if "c" in trace.layers[layer].gates else "h"
    g = trace.quantity(gate, layer)
    keep = keepers(trace, gate, layer, lo=1)
    H = g.shape[1]
    name = QUANTITIES[gate].label
    s = (f"The {name} averages {g[1:].mean():.2f} over t = 1 to {T - 1}; {len(keep)} of {H} units keep it above "
         f"{KEEP} at every step of that span" + (f" ({_units(keep)})." if len(keep) else "."))
    if "i" in trace.layers[layer].gates and T > 2:
        i = trace.quantity("i", layer)
        s += (f" The input gate averages {i[0].mean():.2f} at the first input and {i[1:].mean():.2f} on the "
              f"rest.")
    c = trace.quantity(state, layer)
    pick = list(units) if units is not None else list(np.argsort(-np.abs(c[-1] - c[0]))[:3])
    shapes = [f"unit {u} {shape_of(c[: T - 1, u])} ({c[0, u]:+.2f} at t = 0, {c[T - 2, u]:+.2f} at t = {T - 2})"
              for u in pick[:3]]
    if shapes:
        s += f" {QUANTITIES[state].label.capitalize()}: " + "; ".join(shapes) + "."
    return s


def unit_sentence(trace: Trace, unit: int, layer: int = 0) -> str:
    """One unit's lines in words."""
    T = trace.steps
    lt = trace.layers[layer]
    if "f" in lt.gates:
        f, c = lt.gates["f"][:, unit], lt.gates["c"][:, unit]
        a, b = runs(f > KEEP)
        keep = (f"its forget gate stays above {KEEP} from t = {a} to t = {b - 1}" if b - a > 1
                else f"its forget gate never stays above {KEEP} for two steps running")
        return (f"Unit {unit}: {keep} (mean {f.mean():.2f}); its cell state {shape_of(c[: max(T - 1, 1)])}, from "
                f"{c[0]:+.2f} at t = 0 to {c[-1]:+.2f} at t = {T - 1}.")
    if "z" in lt.gates:
        z = lt.gates["z"][:, unit]
        a, b = runs(z > KEEP)
        return (f"Unit {unit}: its update gate averages {z.mean():.2f}" + (
            f" and stays above {KEEP} from t = {a} to t = {b - 1}" if b - a > 1 else "") +
            f"; its hidden state {shape_of(lt.h[:, unit])}.")
    h = lt.h[:, unit]
    return f"Unit {unit}: its hidden state {shape_of(h)}, from {h[0]:+.2f} to {h[-1]:+.2f}."


def attention_sentence(trace: Trace, t: int, cue_step: int | None, layer: int = 0) -> str:
    """Where step t's attention goes, and over the whole sequence how much of it lands on the cue (recall)."""
    a = np.asarray(trace.layers[layer].pairs["a"], dtype=float)
    row = a[t, : t + 1]
    top = int(row.argmax())
    out = (f"At t = {t}, {row[top]:.0%} of the attention is on step s = {top} (token "
           f"'{trace.tokens[top]}'); a uniform spread would give each of its {t + 1} steps {1 / (t + 1):.0%}.")
    if cue_step is not None and cue_step < a.shape[0]:
        later = a[cue_step + 1:, cue_step]
        if later.size:
            out += (f" Averaged over the steps after the cue, the attention on the cue (t = {cue_step}) is "
                    f"{later.mean():.0%}; at the last step, {a[-1, cue_step]:.0%}.")
    return out


# -- gradients -----------------------------------------------------------------------------------------------------
def decay_per_10(g: np.ndarray) -> float | None:
    """Orders of magnitude the gradient falls per 10 steps back in time (a least-squares line through
    log10 ‖dL/dh_t‖ against t, over the timesteps where it is not 0); None if it cannot be fitted."""
    g = np.asarray(g, dtype=float)
    t = np.flatnonzero(g > 0)
    if len(t) < 3:
        return None
    slope = np.polyfit(t, np.log10(g[t]), 1)[0]
    return float(10 * slope)


def gradient_sentence(traces: dict[str, Trace]) -> str:
    """The gradient-through-time chart in words: how much of the last step's gradient reaches the first."""
    parts = []
    for n, tr in traces.items():
        g = tr.grad_h
        if g is None or len(g) < 2 or g[-1] <= 0:
            continue
        T = len(g) - 1
        r = g[0] / g[-1]
        d = decay_per_10(g)
        trend = "" if d is None or abs(d) < 0.05 else (
            f", falling about {d:.1f} orders of magnitude per 10 steps back" if d > 0
            else f", rising about {-d:.1f} orders of magnitude per 10 steps back")
        parts.append(f"the {label(n)}'s gradient at t = 0 is {sci(r)} of its gradient at t = {T}{trend}")
    if not parts:
        return ""
    s = _join(parts)
    return s[0].upper() + s[1:] + "."


def grad_history_sentence(steps: Sequence[int], grads: np.ndarray, name: str) -> str:
    """The gradient-history heatmap in words: the first timestep's share then and now."""
    g = np.asarray(grads, dtype=float)
    if g.ndim != 2 or len(steps) == 0 or g.shape[1] < 2:
        return ""
    share = np.where(g[:, -1] > 0, g[:, 0] / np.maximum(g[:, -1], 1e-300), 0.0)
    if len(steps) == 1:
        return (f"{label(name)}: at step {steps[0]:,} the first timestep gets {sci(share[0])} of the last one's "
                "gradient.")
    k = int(np.argmax(share))
    return (f"{label(name)}: the first timestep's gradient was {sci(share[0])} of the last one's at step {steps[0]:,} "
            f"and is {sci(share[-1])} of it at step {steps[-1]:,} (largest, {sci(share[k])}, at step {steps[k]:,}).")


def radius_sentence(radii: dict[str, float]) -> str:
    parts = []
    for n, r in radii.items():
        how = "below 1" if r < 1 else "above 1"
        parts.append(f"{label(n)} {r:.2f} ({how})")
    s = "Largest |eigenvalue| of W_hh: " + ", ".join(parts) + "."
    if "rnn" in radii:
        s += (" The vanilla RNN's is below 1, so its gradient shrinks at every step back (tanh' ≤ 1 only adds to "
              "that)." if radii["rnn"] < 1 else
              " The vanilla RNN's is above 1: its gradient can grow step after step back, unless tanh saturates.")
    return s


def explode_sentence(histories: dict, diverged: dict[str, int | None], radius: float) -> str:
    parts = []
    for k, h in histories.items():
        g = np.array([r.grad_norm for r in h], dtype=float)
        losses = np.array([r.loss for r in h], dtype=float)
        if not len(g):
            continue
        med = float(np.median(g))
        parts.append(f"{k}: gradient norm up to {g.max():.3g} ({g.max() / med:.0f}x its median), loss from "
                     f"{losses[0]:.3g} to {losses[-1]:.3g}" + (f", diverged at step {diverged[k]}" if diverged.get(k)
                                                                 else ""))
    return f"Initial spectral radius {radius:.2f}. " + "; ".join(parts) + "."


# -- the guided lesson's answers --------------------------------------------------------------------------------------
def accuracy_band(task: TaskInfo, acc: float) -> int:
    """0: near chance, 1: in between, 2: near 100 % (the options of the guided lesson's accuracy question)."""
    base = task.baseline or 0.0
    if acc >= 0.9:
        return 2
    return 0 if acc - base <= 0.15 else 1


def smallest_gradient_where(g: np.ndarray) -> int:
    """0: at the start, 1: at the end, 2: about the same everywhere (within a factor of 3)."""
    g = np.asarray(g, dtype=float)
    pos = g[g > 0]
    if len(pos) and pos.max() <= 3 * pos.min() and (g > 0).all():
        return 2
    k = int(np.argmin(np.where(g > 0, g, 0)))
    return 0 if k < len(g) / 2 else 1


def forget_band(f: np.ndarray) -> int:
    """0: mostly near 0, 1: mostly near 1, 2: about 0.5 (the forget-gate question's options)."""
    f = np.asarray(f, dtype=float)
    if (f > 0.8).mean() >= 0.5:
        return 1
    if (f < 0.2).mean() >= 0.5:
        return 0
    return 2


def memory_sentence(mu, units: int = 3) -> str:
    """The memory units in words: the best ones, the median unit, against chance."""
    acc = mu.accuracy
    best = ", ".join(f"{u} ({acc[u]:.0%})" for u in mu.order[:units])
    strong = int((acc >= 0.9).sum())
    return (f"Read from its {QUANTITIES[mu.quantity].label} averaged over the delay, each unit's guess of the cue "
            f"(held out, {mu.sequences} sequences, chance {mu.chance:.1%}): best units {best}; the median unit "
            f"{np.median(acc):.0%}; {strong} of {len(acc)} units guess it at least 90 % of the time.")


def init_sentence(start: Trace, now: Trace, step: int, gate_init: str, task: str | None = None) -> str:
    """The forget gates at step 0 and now, and what put them where they started (`gate_init` "auto" is the
    choice of `task`, a key of the task registry)."""
    if "f" not in start.layers[0].gates:
        return ""
    if gate_init == "auto" and task is not None:
        from .tasks import TASKS

        gate_init = TASKS[task].gate_init
    f0, f1 = start.quantity("f"), now.quantity("f")
    why = {"chrono": "chrono initialisation sets their biases to log U(1, lag - 1), so they start near 1",
           "forget-bias": "their biases start at the forget-bias setting",
           "default": "PyTorch's default initialisation starts them near 0.5"}.get(gate_init, "")
    return (f"At step 0 the forget gates average {f0.mean():.2f} ({(f0 > 0.9).mean():.0%} of values above 0.9): "
            f"{why}. At step {step:,} they average {f1.mean():.2f} ({(f1 > 0.9).mean():.0%} above 0.9).")


def saturation_sentence(sat) -> str:
    """Saturated gates over training in words: the share of values at either end, at the first and last step."""
    if not sat.gates or not sat.steps:
        return ""
    parts = []
    for j, q in enumerate(sat.gates):
        parts.append(f"{q}: {sat.low[0, j]:.0%} below 0.1 and {sat.high[0, j]:.0%} above 0.9 at step "
                     f"{sat.steps[0]:,}, {sat.low[-1, j]:.0%} and {sat.high[-1, j]:.0%} at step {sat.steps[-1]:,}")
    return "; ".join(parts) + "."


def presets(steps: int, memory_order: Sequence[int] | None, cell: str) -> dict[str, tuple]:
    """The classic demonstrations of gate surgery for a recall-like sequence of `steps` (the cue at t = 0, the
    question at the end): title -> clamps."""
    from .views import Clamp

    mid, delay = steps // 2, (1, steps - 1)
    if cell == "lstm":
        out = {f"Forget everything at t = {mid}": (Clamp("f", 0.0, None, mid, mid + 1),),
               "Keep everything, write nothing, over the delay": (Clamp("f", 1.0, None, *delay),
                                                                   Clamp("i", 0.0, None, *delay)),
               f"Wipe every cell at t = {mid}": (Clamp("c", 0.0, None, mid, mid + 1),)}
        if memory_order is not None:
            k = min(4, len(memory_order) // 4 or 1)
            out[f"Shut the forget gate of the {k} best memory units at t = {mid}"] = (
                Clamp("f", 0.0, tuple(memory_order[:k]), mid, mid + 1),)
            out[f"Wipe the {k} best memory units over the delay"] = (Clamp("c", 0.0, tuple(memory_order[:k]), *delay),)
            out[f"Wipe {k} other units over the delay"] = (Clamp("c", 0.0, tuple(memory_order[-k:]), *delay),)
        return out
    if cell == "gru":
        return {f"Replace the state at t = {mid} (z = 0)": (Clamp("z", 0.0, None, mid, mid + 1),),
                "Keep the state over the delay (z = 1)": (Clamp("z", 1.0, None, *delay),)}
    if cell == "rnn":
        return {f"Wipe the hidden state at t = {mid}": (Clamp("h", 0.0, None, mid, mid + 1),)}
    return {}


def outcome_sentence(res, task: TaskInfo) -> str:
    """What a clamp did, as measured: the held-out score before and after, against the baseline, and the answer."""
    b, a = res.metric_before, res.metric_after
    s = f"held-out {task.metric_name.replace('_', ' ')} {value(task, b)} as trained, {value(task, a)} with the clamp"
    if task.metric_name == "accuracy":
        chance = task.baseline or 0.0
        if abs(a - b) < 1 / max(res.held_out, 1):
            verdict = "unchanged: the model did not need what was held"
        elif a <= chance + AT_CHANCE:
            verdict = f"at or below chance ({chance:.1%}): the memory is lost"
        elif a < b:
            verdict = f"lower, but well above chance ({chance:.1%}): the memory is hurt, not erased"
        else:
            verdict = "higher"
        s += f" ({res.held_out} sequences): {verdict}."
    else:
        s += f" ({res.held_out} sequences)."
    pb, pa, target = res.before.predictions[-1], res.after.predictions[-1], res.before.targets[-1]
    if target:
        s += (f" On the display sequence the answer stays {pa}" if pa == pb else
              f" On the display sequence the answer changes from {pb} to {pa}") + f" (the target is {target})."
    return s


def step_sentence(v: dict) -> str:
    """One LSTM unit at one timestep in words (the numbers of `trace.explain_step`)."""
    kept, written = v["f"] * v["c_prev"], v["i"] * v["g"]
    how = ("keeps nearly all of" if v["f"] > 0.9 else "drops nearly all of" if v["f"] < 0.1 else
           f"keeps {v['f']:.0%} of")
    return (f"The forget gate {how} c_(t-1) = {v['c_prev']:+.3f} (giving {kept:+.3f}); the input gate, at "
            f"{v['i']:.2f}, writes {written:+.3f} of the candidate {v['g']:+.3f}; so c_t = {v['c']:+.3f}, and the "
            f"output gate, at {v['o']:.2f}, shows h_t = {v['h']:+.3f}. The cell state "
            + ("changed by less than 1 %." if abs(v["c"] - v["c_prev"]) <= 0.01 * max(abs(v["c_prev"]), 1e-9)
               else f"changed by {v['c'] - v['c_prev']:+.3f}."))


def curves_sentence(curves: dict[str, list[dict]], chance: float) -> str:
    """A shipped run's held-out accuracy in words (its metrics.jsonl rows, read without torch)."""
    parts = []
    for n, rows in curves.items():
        ev = [(r["step"], r["val_accuracy"]) for r in rows if "val_accuracy" in r]
        if not ev:
            continue
        solved = next((s for s, v in ev if v >= SOLVED), None)
        last = ev[-1][1]
        near = max(abs(v - chance) for _, v in ev) <= AT_CHANCE
        if solved is not None:
            parts.append(f"the {label(n)} passed {SOLVED:.0%} at step {solved:,} ({last:.1%} at step {ev[-1][0]:,})")
        elif near:
            parts.append(f"the {label(n)} stayed within {AT_CHANCE * 100:.0f} points of chance throughout "
                         f"({last:.1%} at step {ev[-1][0]:,})")
        else:
            parts.append(f"the {label(n)} ended at {last:.1%} (best {max(v for _, v in ev):.1%})")
    if not parts:
        return ""
    s = _join(parts) + "."
    return s[0].upper() + s[1:]


# -- the text lesson, as measured (bench/measure_text_lesson.py) ----------------------------------------------------
def _mean_curves(rows: Sequence[dict], corpus: str) -> dict[str, dict]:
    """Per model on `corpus`: the evaluation steps every seed has, the mean held-out bits/char at each, every
    seed's (seconds, bits/char) curve, and the seeds."""
    out: dict[str, dict] = {}
    for m in dict.fromkeys(r["model"] for r in rows if r["corpus"] == corpus):
        runs: dict[int, list[dict]] = {}
        for r in rows:
            if r["corpus"] == corpus and r["model"] == m:
                runs.setdefault(int(r["seed"]), []).append(r)
        steps = sorted(set.intersection(*({int(r["step"]) for r in rs} for rs in runs.values())))
        bpc = {s: float(np.mean([next(r["bits_per_char"] for r in rs if int(r["step"]) == s)
                                 for rs in runs.values()])) for s in steps}
        curves = [(np.array([r["seconds"] for r in rs], float), np.array([r["bits_per_char"] for r in rs], float))
                  for rs in (sorted(v, key=lambda r: int(r["step"])) for v in runs.values())]
        out[m] = {"steps": steps, "bpc": bpc, "curves": curves, "seeds": sorted(runs)}
    return out


def text_lesson_curves(rows: Sequence[dict], corpus: str) -> dict[str, list[dict]]:
    """Per model on `corpus`: the mean held-out bits/char over its seeds at each evaluation step they all have, as
    records (`step`, `bits_per_char`) that `figures.training_curves` draws."""
    return {m: [{"step": s, "bits_per_char": c["bpc"][s]} for s in c["steps"]]
            for m, c in _mean_curves(rows, corpus).items()}


def text_lesson_facts(rows: Sequence[dict], corpus: str) -> dict:
    """The measured text lesson on `corpus`, as numbers: the last step all models reached, each model's mean
    held-out bits/char there; the common training time (the shortest model's mean total) and each model's mean
    bits/char at it (each seed's curve interpolated); and, for the LSTM against the vanilla RNN, the steps at which
    the lead changes (first step at which the other model's mean is lower, between two evaluations)."""
    curves = _mean_curves(rows, corpus)
    if not curves:
        return {}
    step = min(c["steps"][-1] for c in curves.values())
    at_step = {m: c["bpc"][step] for m, c in curves.items() if step in c["bpc"]}
    seconds = min(float(np.mean([t[-1] for t, _ in c["curves"]])) for c in curves.values())
    at_time = {m: float(np.mean([np.interp(seconds, t, b) for t, b in c["curves"]])) for m, c in curves.items()}
    changes: list[tuple[int, str]] = []
    if "lstm" in curves and "rnn" in curves:
        common = [s for s in curves["lstm"]["steps"] if s in curves["rnn"]["bpc"] and s > 0]
        leader = None
        for s in common:
            a, b = curves["lstm"]["bpc"][s], curves["rnn"]["bpc"][s]
            now = "lstm" if a < b else "rnn" if b < a else leader
            if now != leader:
                if leader is not None:
                    changes.append((s, now))
                leader = now
        first = leader if not changes else ("rnn" if changes[0][1] == "lstm" else "lstm")
    else:
        first = None
    return {"corpus": corpus, "seeds": min(len(c["seeds"]) for c in curves.values()), "step": step, "at_step": at_step,
            "seconds": seconds, "at_time": at_time, "first_leader": first, "changes": changes}


def text_lesson_sentences(rows: Sequence[dict], corpus_titles: dict[str, str] | None = None) -> list[str]:
    """One sentence per corpus saying what the text lesson measured: who leads at equal steps, at equal training
    time, and where (if anywhere) the LSTM and the vanilla RNN swap places. Empty when nothing was measured."""
    out = []
    for corpus in dict.fromkeys(r["corpus"] for r in rows):
        f = text_lesson_facts(rows, corpus)
        if not f:
            continue
        name = (corpus_titles or {}).get(corpus, corpus)

        def ranked(d: dict[str, float]) -> str:
            return _join([f"{label(m)} {v:.2f}" for m, v in sorted(d.items(), key=lambda kv: kv[1])])

        s = (f"On {name}, {f['seeds']} seeds each (mean held-out bits/char, lower is better): after "
             f"{f['step']:,} steps {ranked(f['at_step'])}; at equal training time ({f['seconds']:.0f} s of CPU "
             f"each) {ranked(f['at_time'])}.")
        if f["first_leader"] is not None:
            lead, other = label(f["first_leader"]), label("rnn" if f["first_leader"] == "lstm" else "lstm")
            if not f["changes"]:
                s += f" The {lead} is ahead of the {other} at every evaluation from the first on."
            else:
                swaps = "; ".join(f"the {label(who)} leads from step {st:,}" for st, who in f["changes"])
                s += f" The {lead} leads the {other} at first; {swaps}."
        out.append(s)
    return out

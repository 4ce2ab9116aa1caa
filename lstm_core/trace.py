"""Exact recompute of every gate and state from a model's fused weights, plus gradients through time.

The fused kernels that train the model cannot show their gates, and the gradient of their output sequence is
only the direct readout path. So for the few sequences on screen we recompute, step by step, with each cell's
equations as its module writes them (`lstm_core/cells/<cell>.py`: `forward`), and backpropagate through time by
hand with the same equations (`backward`) for the total derivative ‖dL/dh_t‖. Tests hold the states to the
fused kernel within 1e-5 and the gradients to autograd on PyTorch's own cells. Everything returned is numpy
(`views.Trace`): no tensor leaves this module.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .cells.numeric import Pass, norms, np32
from .models import SeqModel
from .tasks.base import Batch, Task
from .views import Clamp, LayerTrace, Trace


def layer_forward(impl, w: dict[str, torch.Tensor], X: torch.Tensor, clamps: Sequence[Clamp] = ()) -> Pass:
    """One layer over one sequence X (T, I), with this layer's `clamps` held. A cell whose layer is not one
    left-to-right recurrence of its `forward` (bidirectional, attention, extra weights) does it in its module's
    own `layer_forward`. A batch X (T, B, I) gives the output, h and the states (c; c_rev and h_rev, ctx) as
    (T, B, .) arrays, and no pre-activations, time x time arrays or backward (lstm_core/probe.py reads them)."""
    own = getattr(impl, "layer_forward", None)
    if own is not None:
        return own(w, X, clamps)
    with torch.no_grad():
        xw = np.ascontiguousarray(np32(X @ w["W_ih"].T + w["b_ih"]))  # (T, [B,] G*H)
    fw = impl.forward(xw, w["W_hh"], w["b_hh"], clamps)
    gates, pre = impl.arrays(fw) if X.dim() == 2 else ({"c": fw.c} if fw.c is not None else {}, {})
    return Pass(out=fw.h, h=fw.h, gates=gates, pre=pre, pairs={}, saved=fw)


def layer_backward(impl, ps: Pass, D: np.ndarray, w: dict[str, torch.Tensor]) -> tuple[dict, np.ndarray]:
    """Backpropagation through one layer, given D (T, W) = dL/d(its output) along the paths that leave it. Returns
    the gradient norms (T,) by quantity ("h", and "c" for a cell state; a bidirectional layer also "h_rev",
    "c_rev") and dL/dX (T, I) for the layer below."""
    own = getattr(impl, "layer_backward", None)
    if own is not None:
        return own(ps, D, w)
    DH, DC, DA = impl.backward(ps.saved, D, w["W_hh"])
    grads = {"h": norms(DH)} | ({"c": norms(DC)} if DC is not None else {})
    return grads, DA @ np32(w["W_ih"])


def trace(model: SeqModel, task: Task, batch: Batch, grads: bool = True, clamps: Sequence[Clamp] = ()) -> Trace:
    """Recompute one sequence (`batch` holds exactly one) through every layer; optionally ‖dL/dh_t‖ and ‖dL/dc_t‖.

    Each layer's input projection X W_ih^T + b_ih is computed in torch for all steps at once, then the cell's
    `forward` walks the recurrence in numpy (`layer_forward`). With grads, the readout and the task's loss stay in
    torch (autograd gives dL/d(top layer's output) along the direct readout path), and each cell's `backward`
    carries it back through time and down through the layers (`layer_backward`). `clamps` (gate surgery,
    lstm_core/surgery.py) hold gates or states while the model reads; a clamped trace has no gradients.
    """
    grads = grads and not clamps
    cell, impl = model.cfg.cell, model.cell
    dev = next(model.parameters()).device
    x, y = batch.x[:1].to(dev), batch.y[:1].to(dev)
    with torch.no_grad():
        inp = model.encode(x)[0]  # (T, I)
    X, passes, weights = inp, [], []
    for k in range(len(model.rnn)):
        w = model.recurrent_weights(k)
        ps = layer_forward(impl, w, X, [c for c in clamps if c.layer == k])
        passes.append(ps)
        weights.append(w)
        X = torch.from_numpy(ps.out).to(dev)  # (T, width) input of the next layer
    top = X.detach().requires_grad_(grads)
    with torch.set_grad_enabled(grads):
        out = model.readout(top).unsqueeze(0)  # (1, T, O)
        loss = task.loss(out, y)
        D = torch.autograd.grad(loss, top)[0].cpu().numpy() if grads else None  # the direct readout path

    layers: list[LayerTrace] = []
    for k in range(len(passes) - 1, -1, -1):  # top layer first: its backward gives the next one's D
        ps = passes[k]
        norms_by = {}
        if grads:
            norms_by, D = layer_backward(impl, ps, D, weights[k])  # D becomes dL/d(output of the layer below)
        layers.insert(0, LayerTrace(h=ps.h, gates=ps.gates, pre=ps.pre, grad_h=norms_by.get("h"),
                                    grad_c=norms_by.get("c"), pairs=ps.pairs,
                                    grads={q: g for q, g in norms_by.items() if q not in ("h", "c")}))

    out_np = out[0].detach().cpu().numpy()
    if task.tokens_out:
        preds = tuple(task.out_symbol(int(k)) for k in out_np.argmax(-1))
    else:
        preds = tuple(f"{v:.2f}" for v in out_np.reshape(-1))
    return Trace(
        cell=cell,
        x=inp.cpu().numpy().astype(np.float32),
        tokens=tuple(task.token_labels(batch.x[0])),
        targets=tuple(task.target_labels(batch.y[0])),
        output=out_np,
        predictions=preds,
        loss=float(loss.item()),
        layers=tuple(layers),
    )


@torch.no_grad()
def spectral_radius(model: SeqModel, layer: int = 0) -> float:
    """Largest |eigenvalue| of the recurrent matrix (for the LSTM/GRU: of each gate block, the largest).

    For a tanh RNN, a radius below 1 makes ‖dh_T/dh_t‖ shrink geometrically with T - t: vanishing gradients.
    """
    W = model.recurrent_weights(layer)["W_hh"].detach().cpu().double()
    H = W.shape[1]
    blocks = W.reshape(-1, H, H)
    return max(torch.linalg.eigvals(b).abs().max().item() for b in blocks)


def explain_step(model: SeqModel, tr: Trace, t: int, unit: int, layer: int = 0) -> dict[str, float | str]:
    """The numbers of one LSTM unit at one timestep, split as the equations are written (see
    `lstm_core.cells.lstm.explain_step`); every value from the trained weights and the trace."""
    if tr.cell != "lstm":
        raise ValueError("explain_step shows the LSTM equations; this trace is of a " + tr.cell)
    lt = tr.layers[layer]
    H = lt.h.shape[1]
    x_in = (tr.x if layer == 0 else tr.layers[layer - 1].h)[t]
    h_prev = lt.h[t - 1] if t > 0 else np.zeros(H, dtype=np.float32)
    c_prev = float(lt.gates["c"][t - 1, unit]) if t > 0 else 0.0
    now = {**{q: a[t] for q, a in lt.gates.items()}, "h": lt.h[t]}
    out: dict[str, float | str] = {"token": tr.tokens[t], "t": float(t), "unit": float(unit)}
    out.update(model.cell.explain_step(model.recurrent_weights(layer), x_in, h_prev, c_prev, now, unit))
    return out

"""Exact, unrolled recompute of every gate and state from a model's fused weights, plus gradients through time.

The fused kernels that train the model cannot show their gates, and the gradient of their output sequence is
only the direct readout path. So for the few sequences on screen we recompute, step by step, with each cell's
equations as its module writes them (`lstm_core/cells/<cell>.py`: `unroll` under autograd, `recompute` forward
only), and let autograd give the total derivative ‖dL/dh_t‖ through time. Tests hold the result to the fused
kernel within 1e-5. Everything returned is numpy (`views.Trace`): no tensor leaves this module.
"""

from __future__ import annotations

import numpy as np
import torch

from .cells import CELLS
from .models import SeqModel
from .tasks.base import Batch, Task
from .views import LayerTrace, Trace


def _split_pre(names: tuple[str, ...], a: np.ndarray) -> dict[str, np.ndarray]:
    """(T, k*H) pre-activations side by side -> one (T, H) array per name."""
    return {n: np.ascontiguousarray(b) for n, b in zip(names, np.split(a, len(names), axis=1), strict=True)}


def _arrays(cell: str, hs, cs, gates, pres) -> LayerTrace:
    """An unrolled layer's per-step tensors as arrays, with the gradient norms (after backward)."""

    def stack(ts) -> np.ndarray:
        return torch.cat(ts, 0).detach().cpu().numpy()

    def grad_norms(ts) -> np.ndarray:  # (T,) ‖dL/d·_t‖; 0 where no gradient reached the state at all
        rows = [t.grad if t.grad is not None else torch.zeros_like(t) for t in ts]
        return torch.cat(rows, 0).norm(dim=1).double().cpu().numpy()

    spec = CELLS[cell]
    g = {n: stack([s[j] for s in gates]) for j, n in enumerate(spec.gates)}
    pre = _split_pre(spec.module().PRE, stack(pres))
    return LayerTrace(h=stack(hs), gates=g, pre=pre, grad_h=grad_norms(hs), grad_c=grad_norms(cs) if cs else None)


def trace(model: SeqModel, task: Task, batch: Batch, grads: bool = True) -> Trace:
    """Recompute one sequence (`batch` holds exactly one) through every layer; optionally ‖dL/dh_t‖.

    With grads, every layer is unrolled step by step under autograd (the cell's `unroll`), so that the total
    derivative through time reaches every h_t; without, the gates are recomputed from the fused kernel's
    states (the cell's `recompute`), which is several times faster for long text passages.
    """
    cell = model.cfg.cell
    impl = model.cell
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    x, y = batch.x[:1].to(dev), batch.y[:1].to(dev)
    unrolled, layers = [], []
    try:
        with torch.set_grad_enabled(grads):
            inp = model.encode(x)[0]  # (T, I)
            X = inp
            for k in range(len(model.rnn)):
                w = {n: v.detach() for n, v in model.recurrent_weights(k).items()}  # no dL/dW: h0 carries the graph
                if grads:
                    hs, cs, gates, pres = impl.unroll(X, w)
                    unrolled.append((hs, cs, gates, pres))
                    X = torch.cat(hs, 0)  # (T, H) input of the next layer
                else:
                    X, gates, pre = impl.recompute(model.rnn[k], X, w)
                    layers.append(LayerTrace(h=X.cpu().numpy(), gates=gates, pre=_split_pre(impl.PRE, pre),
                                             grad_h=None, grad_c=None))
            out = model.readout(X).unsqueeze(0)  # (1, T, O)
            loss = task.loss(out, y)
            if grads:
                loss.backward()
                layers = [_arrays(cell, *u) for u in unrolled]
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)

    out_np = out[0].detach().cpu().numpy()
    if task.tokens_out:
        preds = tuple(task.out_symbol(int(k)) for k in out_np.argmax(-1))
    else:
        preds = tuple(f"{v:.2f}" for v in out_np.reshape(-1))
    return Trace(
        cell=cell,
        x=inp.detach().cpu().numpy().astype(np.float32),
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

"""Exact, unrolled recompute of every gate and state from a model's fused weights, plus gradients through time.

The fused kernels that train the model cannot show their gates, and the gradient of their output sequence is
only the direct readout path. So for the few sequences on screen we recompute, step by step, with the
equations written as in PyTorch's documentation (gate order i, f, g, o for the LSTM; r, z, n for the GRU), and
let autograd give the total derivative ‖dL/dh_t‖ through time. Tests hold the result to the fused kernel
within 1e-5. Everything returned is numpy: no tensor leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .models import SeqModel
from .tasks.base import Batch, Task

GATE_NAMES = {"lstm": ("i", "f", "g", "o", "c"), "gru": ("r", "z", "n"), "rnn": ()}


@dataclass(frozen=True)
class LayerTrace:
    h: np.ndarray  # (T, H) hidden state after each step
    gates: dict[str, np.ndarray]  # (T, H) each: LSTM i, f, g, o, c; GRU r, z, n; RNN none
    pre: dict[str, np.ndarray]  # (T, H) pre-activations of each gate (LSTM i, f, g, o; GRU r, z, n; RNN h)
    grad_h: np.ndarray | None  # (T,) ‖dL/dh_t‖, total derivative through time; None if not asked
    grad_c: np.ndarray | None  # (T,) ‖dL/dc_t‖ for the LSTM, else None


@dataclass(frozen=True)
class Trace:
    cell: str  # lstm, rnn or gru
    x: np.ndarray  # (T, input_size) float32, the exact input of the first recurrent layer
    tokens: tuple[str, ...]  # (T,) input labels for axes
    targets: tuple[str, ...]  # (T,) target labels ("" where nothing is scored)
    output: np.ndarray  # (T, output_size) readout: logits, or predicted values
    predictions: tuple[str, ...]  # (T,) predicted label (argmax) or value
    loss: float  # the task's loss on this sequence
    layers: tuple[LayerTrace, ...] = field(default_factory=tuple)

    def __getattr__(self, name: str):
        """`trace.f`, `trace.c`, ... read the first layer's gates; `trace.h`, `trace.grad_h` likewise."""
        if name.startswith("__") or "layers" not in self.__dict__:
            raise AttributeError(name)
        first = self.layers[0]
        if name in ("h", "grad_h", "grad_c"):
            return getattr(first, name)
        if name in first.gates:
            return first.gates[name]
        raise AttributeError(name)

    @property
    def steps(self) -> int:
        return self.x.shape[0]


def _unroll(cell: str, X: torch.Tensor, W_ih, W_hh, b_ih, b_hh, keep_grad: bool):
    """One layer over X (T, I) from a zero state. Returns h (T, H) tensor and lists of per-step tensors."""
    T, H = X.shape[0], W_hh.shape[1]
    W_ih, b_ih, b_hh = W_ih.detach(), b_ih.detach(), b_hh.detach()  # no dL/dW: h0 carries the graph
    W_hhT = W_hh.detach().T  # keep the transposed view: a contiguous copy changes the last bit (RNN = fused now)
    xw = (X @ W_ih.T + b_ih).split(1)  # (1, G*H) per step, one autograd node instead of T slices
    h = X.new_zeros(1, H).requires_grad_(keep_grad)
    c = X.new_zeros(1, H)
    hs, cs, gates, pres = [], [], [], []
    for t in range(T):
        hw = h @ W_hhT + b_hh  # (1, G*H)
        if cell == "lstm":
            a = xw[t] + hw
            ai, af, ag, ao = a.chunk(4, dim=-1)
            i, f, g, o = ai.sigmoid(), af.sigmoid(), ag.tanh(), ao.sigmoid()
            c = f * c + i * g
            h = o * c.tanh()
            gates.append((i, f, g, o, c))
            pres.append((ai, af, ag, ao))
        elif cell == "gru":
            xr, xz, xn = xw[t].chunk(3, dim=-1)
            hr, hz, hn = hw.chunk(3, dim=-1)
            ar, az = xr + hr, xz + hz
            r, z = ar.sigmoid(), az.sigmoid()
            an = xn + r * hn
            n = an.tanh()
            h = (1 - z) * n + z * h
            gates.append((r, z, n))
            pres.append((ar, az, an))
        else:
            a = xw[t] + hw
            h = a.tanh()
            pres.append((a,))
        if keep_grad:
            h.retain_grad()
            if cell == "lstm":
                c.retain_grad()
        hs.append(h)
        cs.append(c)
    return hs, cs, gates, pres


def trace(model: SeqModel, task: Task, batch: Batch, grads: bool = True) -> Trace:
    """Recompute one sequence (`batch` holds exactly one) through every layer; optionally ‖dL/dh_t‖."""
    cell = model.cfg.cell
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    x, y = batch.x[:1].to(dev), batch.y[:1].to(dev)
    try:
        with torch.set_grad_enabled(grads):
            inp = model.encode(x)[0]  # (T, I)
            X, per_layer = inp, []
            for k in range(len(model.rnn)):
                w = model.recurrent_weights(k)
                hs, cs, gates, pres = _unroll(cell, X, w["W_ih"], w["W_hh"], w["b_ih"], w["b_hh"], grads)
                per_layer.append((hs, cs, gates, pres))
                X = torch.cat(hs, 0)  # (T, H) input of the next layer
            out = model.readout(X).unsqueeze(0)  # (1, T, O)
            loss = task.loss(out, y)
            if grads:
                loss.backward()
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)

    def stack(ts) -> np.ndarray:
        return torch.cat(ts, 0).detach().cpu().numpy()

    layers = []
    names = GATE_NAMES[cell]
    for hs, cs, gates, pres in per_layer:
        g = {n: stack([s[j] for s in gates]) for j, n in enumerate(names)}
        pre_names = ("i", "f", "g", "o") if cell == "lstm" else (names if cell == "gru" else ("h",))
        p = {n: stack([s[j] for s in pres]) for j, n in enumerate(pre_names)}
        gh = gc = None
        if grads:
            gh = np.array([0.0 if t.grad is None else t.grad.norm().item() for t in hs], dtype=np.float64)
            if cell == "lstm":
                gc = np.array([0.0 if t.grad is None else t.grad.norm().item() for t in cs], dtype=np.float64)
        layers.append(LayerTrace(h=stack(hs), gates=g, pre=p, grad_h=gh, grad_c=gc))

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


@torch.no_grad()
def explain_step(model: SeqModel, tr: Trace, t: int, unit: int, layer: int = 0) -> dict[str, float | str]:
    """The numbers of one LSTM unit at one timestep, split as the equations are written.

    For each gate k in i, f, g, o: `x_k` = W_k·x_t + b_ih_k (input part), `u_k` = U_k·h_{t-1} + b_hh_k
    (recurrent part), `a_k` = x_k + u_k (pre-activation), and `k` itself after σ or tanh; then c_{t-1}, c_t,
    tanh(c_t) and h_t. Every value comes from the trained weights and the trace; `a_k` equals the trace's
    pre-activation.
    """
    if tr.cell != "lstm":
        raise ValueError("explain_step shows the LSTM equations; this trace is of a " + tr.cell)
    w = {k: v.detach().cpu().double() for k, v in model.recurrent_weights(layer).items()}
    H = w["W_hh"].shape[1]
    lt = tr.layers[layer]
    x_in = torch.from_numpy(tr.x if layer == 0 else tr.layers[layer - 1].h).double()[t]  # (I,)
    h_prev = torch.from_numpy(lt.h[t - 1]).double() if t > 0 else torch.zeros(H, dtype=torch.float64)
    out: dict[str, float | str] = {"token": tr.tokens[t], "t": float(t), "unit": float(unit)}
    for k, name in enumerate(("i", "f", "g", "o")):
        row = k * H + unit
        out[f"x_{name}"] = float(w["W_ih"][row] @ x_in + w["b_ih"][row])
        out[f"u_{name}"] = float(w["W_hh"][row] @ h_prev + w["b_hh"][row])
        out[f"a_{name}"] = out[f"x_{name}"] + out[f"u_{name}"]
        out[name] = float(lt.gates[name][t, unit])
    out["h_prev"] = float(h_prev[unit])
    out["c_prev"] = float(lt.gates["c"][t - 1, unit]) if t > 0 else 0.0
    out["c"] = float(lt.gates["c"][t, unit])
    out["tanh_c"] = float(np.tanh(out["c"]))
    out["h"] = float(lt.h[t, unit])
    return out

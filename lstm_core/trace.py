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


def _unroll(cell: str, X: torch.Tensor, W_ih, W_hh, b_ih, b_hh):
    """One layer over X (T, I) from a zero state, under autograd, keeping the gradient of every h_t (and c_t).
    Returns lists of per-step tensors.

    Few operations per step (each costs microseconds of dispatch at this size): the input projection of all
    steps in one matmul, the recurrent one fused with its bias (addmm), one sigmoid over all four LSTM gates
    (the candidate's share is recomputed with tanh), c_t in one addcmul. bench/bench_trace.py measures it.
    """
    T, H = X.shape[0], W_hh.shape[1]
    W_ih, b_ih, b_hh = W_ih.detach(), b_ih.detach(), b_hh.detach()  # no dL/dW: h0 carries the graph
    W_hhT = W_hh.detach().T  # keep the transposed view: a contiguous copy changes the last bit (RNN = fused now)
    if cell == "gru":  # b_hn sits inside r * (W_hn h + b_hn), so b_hh stays with the recurrent part
        xw = (X @ W_ih.T + b_ih).split(1)  # (1, G*H) per step, one autograd node instead of T slices
    else:
        xw = (X @ W_ih.T + b_ih + b_hh).split(1)
    h = X.new_zeros(1, H).requires_grad_(True)
    c = X.new_zeros(1, H)
    hs, cs, gates, pres = [], [], [], []
    for t in range(T):
        if cell == "lstm":
            a = torch.addmm(xw[t], h, W_hhT)  # (1, 4H): i, f, g, o
            s = a.sigmoid()
            i, f, o = s[:, :H], s[:, H:2 * H], s[:, 3 * H:]
            g = a[:, 2 * H:3 * H].tanh()
            c = torch.addcmul(f * c, i, g)
            h = o * c.tanh()
            gates.append((i, f, g, o, c))
            pres.append(a)
        elif cell == "gru":
            hw = torch.addmm(b_hh, h, W_hhT)  # (1, 3H)
            xr, xz, xn = xw[t].chunk(3, dim=-1)
            hr, hz, hn = hw.chunk(3, dim=-1)
            ar, az = xr + hr, xz + hz
            r, z = ar.sigmoid(), az.sigmoid()
            an = torch.addcmul(xn, r, hn)
            n = an.tanh()
            h = torch.lerp(n, h, z)  # (1 - z) * n + z * h
            gates.append((r, z, n))
            pres.append((ar, az, an))
        else:
            a = torch.addmm(xw[t], h, W_hhT)
            h = a.tanh()
            pres.append(a)
        h.retain_grad()
        if cell == "lstm":
            c.retain_grad()
        hs.append(h)
        cs.append(c)
    return hs, cs, gates, pres


def _arrays(cell: str, hs, cs, gates, pres) -> LayerTrace:
    """An unrolled layer's per-step tensors as arrays, with the gradient norms (after backward)."""

    def stack(ts) -> np.ndarray:
        return torch.cat(ts, 0).detach().cpu().numpy()

    def grad_norms(ts) -> np.ndarray:  # (T,) ‖dL/d·_t‖; 0 where no gradient reached the state at all
        rows = [t.grad if t.grad is not None else torch.zeros_like(t) for t in ts]
        return torch.cat(rows, 0).norm(dim=1).double().cpu().numpy()

    names = GATE_NAMES[cell]
    g = {n: stack([s[j] for s in gates]) for j, n in enumerate(names)}
    if cell == "gru":
        p = {n: stack([s[j] for s in pres]) for j, n in enumerate(names)}
    else:  # one (1, G*H) pre-activation per step: the LSTM's i, f, g, o side by side; the RNN's h
        p = _split_pre(cell, stack(pres))
    gc = grad_norms(cs) if cell == "lstm" else None
    return LayerTrace(h=stack(hs), gates=g, pre=p, grad_h=grad_norms(hs), grad_c=gc)


def _split_pre(cell: str, a: np.ndarray) -> dict[str, np.ndarray]:
    names = ("i", "f", "g", "o") if cell == "lstm" else ("h",)
    return {n: np.ascontiguousarray(b) for n, b in zip(names, np.split(a, len(names), axis=1), strict=True)}


@torch.no_grad()
def _from_fused(cell: str, module: torch.nn.Module, X: torch.Tensor, w: dict) -> tuple[torch.Tensor, LayerTrace]:
    """One layer, forward only: the fused kernel gives h_t for every t, and the gates follow from h_{t-1} in one
    batched matmul over all timesteps; the LSTM's c_t then by its own recurrence c_t = f_t c_{t-1} + i_t g_t.

    The same equations as `_unroll`, without a Python loop of tensor operations (a loop of T small numpy
    operations remains for c): for the LSTM at T 200, H 128, 7.1 ms against 11.9 (bench/bench_trace.py). Tests
    hold it to the unrolled trace.
    """
    h = module(X.unsqueeze(0))[0][0]  # (T, H)
    H = h.shape[1]
    h_prev = torch.cat([h.new_zeros(1, H), h[:-1]])
    xw = X @ w["W_ih"].T + w["b_ih"]  # (T, G*H)
    hw = h_prev @ w["W_hh"].T + w["b_hh"]
    gates: dict[str, np.ndarray] = {}
    if cell == "lstm":
        a = xw + hw
        s = a.sigmoid()
        i, f, o = (s[:, k * H:(k + 1) * H].cpu().numpy() for k in (0, 1, 3))
        g = a[:, 2 * H:3 * H].tanh().cpu().numpy()
        ig = i * g
        c = np.empty_like(ig)
        prev = np.zeros(H, dtype=ig.dtype)
        for t in range(len(c)):
            prev = c[t] = f[t] * prev + ig[t]
        gates = {"i": i, "f": f, "g": g, "o": o, "c": c}
        pre = _split_pre(cell, a.cpu().numpy())
    elif cell == "gru":
        xr, xz, xn = xw.chunk(3, dim=-1)
        hr, hz, hn = hw.chunk(3, dim=-1)
        ar, az = xr + hr, xz + hz
        r = ar.sigmoid()
        an = xn + r * hn
        arrays = {"r": r, "z": az.sigmoid(), "n": an.tanh()}
        gates = {k: v.cpu().numpy() for k, v in arrays.items()}
        pre = {k: v.cpu().numpy() for k, v in (("r", ar), ("z", az), ("n", an))}
    else:
        pre = _split_pre(cell, (xw + hw).cpu().numpy())
    return h, LayerTrace(h=h.cpu().numpy(), gates=gates, pre=pre, grad_h=None, grad_c=None)


def trace(model: SeqModel, task: Task, batch: Batch, grads: bool = True) -> Trace:
    """Recompute one sequence (`batch` holds exactly one) through every layer; optionally ‖dL/dh_t‖.

    With grads, every layer is unrolled step by step under autograd (`_unroll`), so that the total derivative
    through time reaches every h_t; without, the gates are recomputed from the fused kernel's states
    (`_from_fused`), which is several times faster for long text passages.
    """
    cell = model.cfg.cell
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
                w = model.recurrent_weights(k)
                if grads:
                    hs, cs, gates, pres = _unroll(cell, X, w["W_ih"], w["W_hh"], w["b_ih"], w["b_hh"])
                    unrolled.append((hs, cs, gates, pres))
                    X = torch.cat(hs, 0)  # (T, H) input of the next layer
                else:
                    X, lt = _from_fused(cell, model.rnn[k], X, w)
                    layers.append(lt)
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

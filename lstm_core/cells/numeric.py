"""Numpy helpers shared by the cells' exact recomputation (`forward`) and backpropagation through time
(`backward`): float32 throughout, in place on preallocated arrays.

Why numpy: the display sequence is one sequence of (1, H) rows, where every PyTorch op costs 3-5 µs of dispatch
(and autograd more), while a numpy ufunc with `out=` costs about 1 µs. bench/bench_trace.py measured the LSTM's
trace with gradients at 47 ms under autograd and 9.8 ms so (T 200, H 128); tests hold the result to PyTorch's
fused kernels and its gradients to autograd on PyTorch's own cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

F32 = np.float32
ONE = F32(1.0)


def np32(w: torch.Tensor) -> np.ndarray:
    return w.detach().cpu().numpy()


def sigmoid(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-a)) in place into `out` (exp overflowing to inf gives the right limit, 0)."""
    np.negative(a, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += ONE
    np.reciprocal(out, out=out)
    return out


def times_sigmoid_slope(d: np.ndarray, s: np.ndarray, tmp: np.ndarray) -> None:
    """d *= s * (1 - s): through a sigmoid whose output was s."""
    np.subtract(ONE, s, out=tmp)
    tmp *= s
    d *= tmp


def times_tanh_slope(d: np.ndarray, y: np.ndarray, tmp: np.ndarray) -> None:
    """d *= 1 - y²: through a tanh whose output was y."""
    np.multiply(y, y, out=tmp)
    np.subtract(ONE, tmp, out=tmp)
    d *= tmp


def clamp(clamps, t: int, arrays: dict[str, np.ndarray]) -> None:
    """Hold, at step t, the named quantities (views into this step's gate or state values, (..., H)) of the
    clamped units at their clamp's value: gate surgery."""
    for c in clamps:
        if c.quantity in arrays and c.start <= t < c.stop:
            a = arrays[c.quantity]
            if c.units is None:
                a[...] = c.value
            else:
                a[..., list(c.units)] = c.value


@dataclass
class Forward:
    """One layer's recomputation over T steps, float32, as `backward` needs it."""

    h: np.ndarray  # (T, H) hidden state after each step
    pre: np.ndarray  # (T, G*H) pre-activations, in PyTorch's gate order
    act: np.ndarray  # (T, G*H) gate values (LSTM i, f, g, o; GRU r, z, n; unused for the RNN)
    hw: np.ndarray  # (T, G*H) h_(t-1) W_hh^T + b_hh
    c: np.ndarray | None = None  # (T, H) LSTM cell state
    tc: np.ndarray | None = None  # (T, H) LSTM tanh(c_t)


def blocks(a: np.ndarray, H: int) -> list[np.ndarray]:
    """(T, G*H) -> G contiguous (T, H) arrays, one per gate."""
    return [np.ascontiguousarray(a[:, j * H:(j + 1) * H]) for j in range(a.shape[1] // H)]


def norms(a: np.ndarray) -> np.ndarray:
    """(T, H) -> (T,) Euclidean norm of each row, in float64."""
    return np.sqrt(np.square(a, dtype=np.float64).sum(1))


@dataclass
class Pass:
    """One layer's recomputation as `trace` keeps it: what it hands up, what the trace shows, and what its
    backward needs. Made by a cell module's `layer_forward` (or by `trace` from `forward` for one-way cells)."""

    out: np.ndarray  # (T, W) the layer's output, read by the layer above or the readout: h, [h; h_rev], [h; ctx]
    h: np.ndarray  # (T, H) the hidden state the trace shows as h (a bidirectional layer: left to right)
    gates: dict[str, np.ndarray]  # (T, H) each, the cell registry's `gates`
    pre: dict[str, np.ndarray]  # (T, H) each, pre-activations
    pairs: dict[str, np.ndarray]  # (T, T) each, the cell registry's `pairs` (attention a, e)
    saved: object  # whatever the cell's `layer_backward` needs (its Forward records)

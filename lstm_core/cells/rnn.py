"""The vanilla (Elman) RNN's torch layer, and its one equation step by step for the trace:
h_t = tanh(W x_t + b_ih + U h_(t-1) + b_hh)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..views import Clamp
from .numeric import F32, Forward, clamp, np32, times_tanh_slope

PRE = ("h",)  # the one pre-activation, tanh's argument


def layer(input_size: int, hidden: int) -> nn.Module:
    return nn.RNN(input_size, hidden, batch_first=True, nonlinearity="tanh")


def forward(xw: np.ndarray, W_hh: torch.Tensor, b_hh: torch.Tensor, clamps: Sequence[Clamp] = ()) -> Forward:
    """One layer from a zero state, given xw = X W_ih^T + b_ih, (T, H) or (T, B, H). `clamps` hold h of chosen
    units. One sequence is bit-identical to the fused kernel:

    a tanh RNN with large recurrent weights is chaotic (the exploding-gradient lesson): a one-ulp difference grows
    to 0.1 within 200 steps. So the product and the tanh stay the very torch calls the fused kernel makes
    (`h @ W_hh.T` on the transposed view; numpy's dot, or a contiguous copy, differ in the last bit, and so does
    numpy's tanh); the additions are exact in numpy. Torch views of the numpy rows are made once, outside the loop.
    """
    T, H = xw.shape[0], xw.shape[-1]
    pre, hw, hs = np.zeros(xw.shape, F32), np.zeros(xw.shape, F32), np.empty(xw.shape, F32)
    WT, bh = W_hh.detach().T, np32(b_hh)
    hw_r, pre_r, hs_r = (torch.from_numpy(a.reshape(T, -1, H)).unbind(0) for a in (hw, pre, hs))
    h_prev = (torch.zeros(hs_r[0].shape), *hs_r[:-1])
    with torch.inference_mode():
        for t in range(T):
            torch.mm(h_prev[t], WT, out=hw_r[t])
            hw[t] += bh
            np.add(xw[t], hw[t], out=pre[t])
            torch.tanh(pre_r[t], out=hs_r[t])
            clamp(clamps, t, {"h": hs[t]})
    return Forward(h=hs, pre=pre, act=hs, hw=hw)


def backward(fw: Forward, D: np.ndarray, W_hh: torch.Tensor) -> tuple[np.ndarray, None, np.ndarray]:
    """Backpropagation through time (see lstm.backward): dL/da_t = dL/dh_t (1 - h_t²)."""
    W = np32(W_hh)
    T, H = fw.h.shape
    DH, DA = np.empty((T, H), F32), np.empty((T, H), F32)
    dh_rec, tmp = np.zeros(H, F32), np.empty(H, F32)
    for t in range(T - 1, -1, -1):
        np.add(D[t], dh_rec, out=DH[t])
        np.copyto(DA[t], DH[t])
        times_tanh_slope(DA[t], fw.h[t], tmp)
        np.dot(DA[t], W, out=dh_rec)
    return DH, None, DA


def arrays(fw: Forward) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """No gates; the one pre-activation (T, H), tanh's argument."""
    return {}, {"h": fw.pre}

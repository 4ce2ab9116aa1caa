"""The GRU's torch layer, and its equations step by step in numpy for the trace, gate order r, z, n (PyTorch's):
    r = σ(W_r x + b_ir + U_r h + b_hr),  z = σ(W_z x + b_iz + U_z h + b_hz)
    n = tanh(W_n x + b_in + r * (U_n h + b_hn)),  h_t = (1 - z) * n + z * h_(t-1)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..views import Clamp
from .numeric import F32, ONE, Forward, blocks, clamp, np32, sigmoid, times_sigmoid_slope, times_tanh_slope

PRE = ("r", "z", "n")


def layer(input_size: int, hidden: int) -> nn.Module:
    return nn.GRU(input_size, hidden, batch_first=True)


def forward(xw: np.ndarray, W_hh: torch.Tensor, b_hh: torch.Tensor, clamps: Sequence[Clamp] = ()) -> Forward:
    """One layer from a zero state, given xw = X W_ih^T + b_ih, (T, 3H) or (T, B, 3H). b_hn sits inside
    r * (U_n h + b_hn), so b_hh stays with the recurrent part. `clamps` hold r, z, n or h of chosen units."""
    T, GH = xw.shape[0], xw.shape[-1]
    H, batch = GH // 3, xw.shape[1:-1]
    pre, act, hw = (np.zeros(xw.shape, F32) for _ in range(3))
    hs = np.empty((T, *batch, H), F32)
    WT, bh = np.ascontiguousarray(np32(W_hh).T), np32(b_hh)
    tmp = np.empty((*batch, H), F32)
    h = np.zeros((*batch, H), F32)
    for t in range(T):
        np.dot(h, WT, out=hw[t])
        hw[t] += bh
        a, s = pre[t], act[t]
        np.add(xw[t, ..., :2 * H], hw[t, ..., :2 * H], out=a[..., :2 * H])  # a_r, a_z
        sigmoid(a[..., :2 * H], s[..., :2 * H])
        r, z, n = s[..., :H], s[..., H:2 * H], s[..., 2 * H:]
        clamp(clamps, t, {"r": r, "z": z})
        np.multiply(r, hw[t, ..., 2 * H:], out=tmp)  # a_n = x_n + r * h_n
        np.add(xw[t, ..., 2 * H:], tmp, out=a[..., 2 * H:])
        np.tanh(a[..., 2 * H:], out=n)
        clamp(clamps, t, {"n": n})
        np.subtract(ONE, z, out=tmp)  # h = (1 - z) * n + z * h
        tmp *= n
        np.multiply(z, h, out=hs[t])
        hs[t] += tmp
        clamp(clamps, t, {"h": hs[t]})
        h = hs[t]
    return Forward(h=hs, pre=pre, act=act, hw=hw)


def backward(fw: Forward, D: np.ndarray, W_hh: torch.Tensor) -> tuple[np.ndarray, None, np.ndarray]:
    """Backpropagation through time (see lstm.backward); no cell state, so no dL/dc."""
    W = np32(W_hh)  # (3H, H)
    T, H = fw.h.shape
    DH, DA = np.empty((T, H), F32), np.empty((T, 3 * H), F32)
    zero, tmp = np.zeros(H, F32), np.empty(H, F32)
    dh_rec = np.zeros(H, F32)
    dhw = np.empty(3 * H, F32)
    for t in range(T - 1, -1, -1):
        dh, da = DH[t], DA[t]
        np.add(D[t], dh_rec, out=dh)
        s = fw.act[t]
        r, z, n = s[:H], s[H:2 * H], s[2 * H:]
        dar, daz, dan = da[:H], da[H:2 * H], da[2 * H:]
        np.subtract(ONE, z, out=dan)  # dn = dh * (1 - z), then through tanh
        dan *= dh
        times_tanh_slope(dan, n, tmp)
        np.subtract(fw.h[t - 1] if t > 0 else zero, n, out=daz)  # dz = dh * (h_prev - n), then through σ
        daz *= dh
        times_sigmoid_slope(daz, z, tmp)
        np.multiply(dan, fw.hw[t, 2 * H:], out=dar)  # dr = da_n * h_n, then through σ
        times_sigmoid_slope(dar, r, tmp)
        dhw[:] = da  # gradient of h W_hh^T + b_hh: [da_r, da_z, da_n * r]
        dhw[2 * H:] *= r
        np.dot(dhw, W, out=dh_rec)
        np.multiply(dh, z, out=tmp)
        dh_rec += tmp
    return DH, None, DA


def arrays(fw: Forward) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The trace's gates and pre-activations (r, z, n), each (T, H)."""
    H = fw.h.shape[1]
    return dict(zip(PRE, blocks(fw.act, H), strict=True)), dict(zip(PRE, blocks(fw.pre, H), strict=True))

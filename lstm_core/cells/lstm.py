"""The LSTM: PyTorch's fused layer, chrono / forget-bias initialisation, and its equations step by step in numpy
for the trace (forward, and backward through time).

Gate order is PyTorch's, i, f, g, o, in every weight matrix and pre-activation:
    i, f, g, o = σ(W_i x + U_i h + b_i), σ(W_f x + U_f h + b_f), tanh(W_g x + U_g h + b_g), σ(W_o x + U_o h + b_o)
    c_t = f * c_(t-1) + i * g
    h_t = o * tanh(c_t)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..views import Clamp
from .numeric import F32, Forward, blocks, clamp, np32, sigmoid, times_sigmoid_slope, times_tanh_slope

PRE = ("i", "f", "g", "o")  # pre-activations, in the order of the stacked weight blocks


def layer(input_size: int, hidden: int) -> nn.Module:
    return nn.LSTM(input_size, hidden, batch_first=True)


def init_gates(layer: nn.Module, gate_init: str, forget_bias: float, gen: torch.Generator, horizon: int) -> None:
    """chrono (Tallec & Ollivier 2018): b_f = log(u), u ~ U(1, horizon - 1), b_i = -b_f, so each unit's memory
    starts with a time constant spread up to the task's lag. forget-bias: b_f = `forget_bias`. default: PyTorch's
    init as drawn, with the forget gate near 0.5, so a memory decays as 0.5^T: at chance already at lag 20
    (measured)."""
    hid = layer.hidden_size
    if gate_init == "chrono":
        u = torch.empty(hid).uniform_(1.0, max(horizon - 1.0, 2.0), generator=gen)
        bf = torch.log(u)
        layer.bias_ih_l0[hid : 2 * hid] = bf  # forget gate
        layer.bias_hh_l0[hid : 2 * hid] = 0.0
        layer.bias_ih_l0[:hid] = -bf  # input gate
        layer.bias_hh_l0[:hid] = 0.0
    elif gate_init == "forget-bias":
        layer.bias_ih_l0[hid : 2 * hid] = forget_bias
        layer.bias_hh_l0[hid : 2 * hid] = 0.0


def forward(xw: np.ndarray, W_hh: torch.Tensor, b_hh: torch.Tensor, clamps: Sequence[Clamp] = ()) -> Forward:
    """One layer from a zero state, given xw = X W_ih^T + b_ih, (T, 4H) for one sequence or (T, B, 4H) for a
    batch, step by step as the equations say. `clamps` hold gates (i, f, g, o) or the cell state c of chosen units
    at a value over a span of steps (gate surgery; lstm_core/surgery.py)."""
    T, GH = xw.shape[0], xw.shape[-1]
    H, batch = GH // 4, xw.shape[1:-1]
    pre, act, hw = (np.zeros(xw.shape, F32) for _ in range(3))
    hs, cs, tc = (np.empty((T, *batch, H), F32) for _ in range(3))
    WT, bh = np.ascontiguousarray(np32(W_hh).T), np32(b_hh)  # (H, 4H)
    tmp = np.empty((*batch, H), F32)
    h = c = np.zeros((*batch, H), F32)
    for t in range(T):
        np.dot(h, WT, out=hw[t])
        hw[t] += bh
        a, s = pre[t], act[t]
        np.add(xw[t], hw[t], out=a)
        sigmoid(a, s)  # i, f, o (g is overwritten next)
        i, f, g, o = s[..., :H], s[..., H:2 * H], s[..., 2 * H:3 * H], s[..., 3 * H:]
        np.tanh(a[..., 2 * H:3 * H], out=g)
        clamp(clamps, t, {"i": i, "f": f, "g": g, "o": o})
        np.multiply(f, c, out=cs[t])  # c = f * c + i * g
        np.multiply(i, g, out=tmp)
        cs[t] += tmp
        clamp(clamps, t, {"c": cs[t]})
        c = cs[t]
        np.tanh(c, out=tc[t])  # h = o * tanh(c)
        np.multiply(o, tc[t], out=hs[t])
        h = hs[t]
    return Forward(h=hs, pre=pre, act=act, hw=hw, c=cs, tc=tc)


def backward(fw: Forward, D: np.ndarray, W_hh: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time. D (T, H): dL/dh_t through the paths that leave the layer (the readout, the
    layer above). Returns the totals dL/dh_t (T, H) and dL/dc_t (T, H), and dL/d(pre-activation) (T, 4H)."""
    W = np32(W_hh)  # (4H, H)
    T, H = fw.h.shape
    DH, DC, DA = np.empty((T, H), F32), np.empty((T, H), F32), np.empty((T, 4 * H), F32)
    zero, tmp = np.zeros(H, F32), np.empty(H, F32)
    dh_rec = np.zeros(H, F32)  # dL/dh_t through step t + 1
    dc_next = np.zeros(H, F32)  # dL/dc_t through c_(t+1) = f_(t+1) c_t + ...
    for t in range(T - 1, -1, -1):
        dh, dc, da = DH[t], DC[t], DA[t]
        np.add(D[t], dh_rec, out=dh)
        s = fw.act[t]
        i, f, g, o = s[:H], s[H:2 * H], s[2 * H:3 * H], s[3 * H:]
        dai, daf, dag, dao = da[:H], da[H:2 * H], da[2 * H:3 * H], da[3 * H:]
        tc = fw.tc[t]  # tanh(c_t), as autograd saves it
        np.multiply(dh, o, out=dc)  # dc = dh * o * (1 - tanh(c)^2) + dc_next
        times_tanh_slope(dc, tc, tmp)
        dc += dc_next
        np.multiply(dh, tc, out=dao)
        times_sigmoid_slope(dao, o, tmp)
        np.multiply(dc, g, out=dai)
        times_sigmoid_slope(dai, i, tmp)
        np.multiply(dc, fw.c[t - 1] if t > 0 else zero, out=daf)
        times_sigmoid_slope(daf, f, tmp)
        np.multiply(dc, i, out=dag)
        times_tanh_slope(dag, g, tmp)
        np.multiply(dc, f, out=dc_next)
        np.dot(da, W, out=dh_rec)
    return DH, DC, DA


def arrays(fw: Forward) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The trace's gates (i, f, g, o, c) and pre-activations (i, f, g, o), each (T, H)."""
    H = fw.h.shape[1]
    return dict(zip(PRE, blocks(fw.act, H), strict=True)) | {"c": fw.c}, dict(zip(PRE, blocks(fw.pre, H), strict=True))


@torch.no_grad()
def explain_step(w: dict[str, torch.Tensor], x_in: np.ndarray, h_prev: np.ndarray, c_prev: float,
                 gates: dict[str, np.ndarray], unit: int) -> dict[str, float]:
    """The numbers of one unit at one timestep, split as the equations are written.

    For each gate k in i, f, g, o: `x_k` = W_k·x_t + b_ih_k (input part), `u_k` = U_k·h_(t-1) + b_hh_k (recurrent
    part), `a_k` = x_k + u_k (pre-activation), and `k` itself after σ or tanh (from the trace: `gates` holds
    this timestep's values); then c_(t-1), c_t, tanh(c_t) and h_t. Computed in float64 from the weights.
    """
    w64 = {k: v.detach().cpu().double() for k, v in w.items()}
    H = w64["W_hh"].shape[1]
    x = torch.from_numpy(np.asarray(x_in)).double()
    hp = torch.from_numpy(np.asarray(h_prev)).double()
    out: dict[str, float] = {}
    for k, name in enumerate(PRE):
        row = k * H + unit
        out[f"x_{name}"] = float(w64["W_ih"][row] @ x + w64["b_ih"][row])
        out[f"u_{name}"] = float(w64["W_hh"][row] @ hp + w64["b_hh"][row])
        out[f"a_{name}"] = out[f"x_{name}"] + out[f"u_{name}"]
        out[name] = float(gates[name][unit])
    out["h_prev"] = float(hp[unit])
    out["c_prev"] = float(c_prev)
    out["c"] = float(gates["c"][unit])
    out["tanh_c"] = float(np.tanh(out["c"]))
    out["h"] = float(gates["h"][unit])
    return out

"""The LSTM's torch code: PyTorch's fused layer, chrono / forget-bias initialisation, and its equations unrolled.

Gate order is PyTorch's, i, f, g, o, in every weight matrix and pre-activation:
    i, f, g, o = σ(W_i x + U_i h + b_i), σ(W_f x + U_f h + b_f), tanh(W_g x + U_g h + b_g), σ(W_o x + U_o h + b_o)
    c_t = f * c_(t-1) + i * g
    h_t = o * tanh(c_t)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

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


def unroll(X: torch.Tensor, w: dict[str, torch.Tensor]):
    """One layer over X (T, I) from a zero state, under autograd. Returns per-step lists: h_t, c_t, the gates
    (i, f, g, o, c) and the pre-activation (1, 4H).

    Few operations per step (each costs microseconds of dispatch at this size): the input projection of all
    steps in one matmul, the recurrent one fused with its bias (addmm), one sigmoid over all four gates (the
    candidate's share is recomputed with tanh), c_t in one addcmul. bench/bench_trace.py measures it.
    """
    T, H = X.shape[0], w["W_hh"].shape[1]
    W_hhT = w["W_hh"].T  # keep the transposed view: a contiguous copy changes the last bit
    xw = (X @ w["W_ih"].T + w["b_ih"] + w["b_hh"]).split(1)  # (1, 4H) per step, one autograd node
    h = X.new_zeros(1, H).requires_grad_(True)
    c = X.new_zeros(1, H)
    hs, cs, gates, pres = [], [], [], []
    for t in range(T):
        a = torch.addmm(xw[t], h, W_hhT)  # (1, 4H): i, f, g, o
        s = a.sigmoid()
        i, f, o = s[:, :H], s[:, H:2 * H], s[:, 3 * H:]
        g = a[:, 2 * H:3 * H].tanh()
        c = torch.addcmul(f * c, i, g)
        h = o * c.tanh()
        h.retain_grad()
        c.retain_grad()
        hs.append(h)
        cs.append(c)
        gates.append((i, f, g, o, c))
        pres.append(a)
    return hs, cs, gates, pres


@torch.no_grad()
def recompute(module: nn.Module, X: torch.Tensor, w: dict[str, torch.Tensor]):
    """Forward only: the fused kernel gives h_t for every t; the gates follow from h_(t-1) in one batched matmul
    over all timesteps, then c_t by its own recurrence c_t = f_t c_(t-1) + i_t g_t (a loop of T small numpy
    operations). Returns h (T, H) as a tensor (the next layer's input), the gates and the pre-activation as numpy.
    For T 200, H 128: 7.1 ms against 11.9 for `unroll` (bench/bench_trace.py); tests hold the two together."""
    h = module(X.unsqueeze(0))[0][0]  # (T, H)
    H = h.shape[1]
    h_prev = torch.cat([h.new_zeros(1, H), h[:-1]])
    a = (X @ w["W_ih"].T + w["b_ih"]) + (h_prev @ w["W_hh"].T + w["b_hh"])  # (T, 4H)
    s = a.sigmoid()
    i, f, o = (s[:, k * H:(k + 1) * H].cpu().numpy() for k in (0, 1, 3))
    g = a[:, 2 * H:3 * H].tanh().cpu().numpy()
    ig = i * g
    c = np.empty_like(ig)
    prev = np.zeros(H, dtype=ig.dtype)
    for t in range(len(c)):
        prev = c[t] = f[t] * prev + ig[t]
    return h, {"i": i, "f": f, "g": g, "o": o, "c": c}, a.cpu().numpy()


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

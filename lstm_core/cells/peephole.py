"""The peephole LSTM (Gers & Schmidhuber 2000): an LSTM whose gates also read the cell state, through one weight
per unit (diagonal "peepholes"); i and f read the old cell state, o the new one:

    i = σ(W_i x + U_i h_(t-1) + p_i * c_(t-1) + b_i),   f = σ(W_f x + U_f h_(t-1) + p_f * c_(t-1) + b_f)
    g = tanh(W_g x + U_g h_(t-1) + b_g),                c_t = f * c_(t-1) + i * g
    o = σ(W_o x + U_o h_(t-1) + p_o * c_t + b_o),       h_t = o * tanh(c_t)

PyTorch has no fused kernel for it, so the layer trains through `PeepholeFunction`: a loop without an autograd
graph forward, and backpropagation through time written by hand (2.4-2.6x nn.LSTM's time per step; autograd
through the plain loop costs 5x, TorchScript buys 10-16 % and is deprecated: docs/research/cells.md).
Its parameters keep nn.LSTM's names and order, plus `weight_ch_l0` = [p_i; p_f; p_o] (3H,), set to zero after
the other weights are drawn: at step 0 the model is exactly the LSTM of the same seed. For the trace, the same
equations step by step in numpy (`forward`, `backward`); the pre-activations include the peephole terms, so
σ(pre) is the gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..views import Clamp
from . import lstm
from .numeric import F32, Forward, Pass, blocks, clamp, norms, np32, sigmoid, times_sigmoid_slope, times_tanh_slope

PRE = lstm.PRE  # i, f, g, o: the stacked weight blocks, as the LSTM's
UNDRAWN = ("weight_ch_l0",)  # no uniform draw (models.init_weights): every other weight is drawn as the LSTM's


# -- training: a torch layer with a hand-written backward -----------------------------------------------------------
def _loop(xw: torch.Tensor, W_hhT: torch.Tensor, p: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor):
    """The forward, without autograd: 9 tensor ops a step, results appended to lists and stacked once (writing into
    slices with out= cost 2-3x more per op). xw (T, B, 4H) = X W_ih^T + b_ih + b_hh, time-major. Returns hs
    (T, B, H), cs (T+1, B, H) with cs[0] = c0, tanh(c_t) (T, B, H) and the gates i, f, g, o (T, B, 4H)."""
    T, B, H4 = xw.shape
    H = H4 // 4
    p_if, p_o = p[:2 * H].view(2, H), p[2 * H:]
    h, c = h0, c0
    hs, cs, tcs, ifs, gs, os_ = [], [c], [], [], [], []
    for xw_t in xw.unbind(0):
        a = torch.addmm(xw_t, h, W_hhT)  # (B, 4H): i, f, g, o without the peepholes
        s_if = torch.sigmoid(torch.addcmul(a[:, :2 * H].view(B, 2, H), p_if, c.unsqueeze(1)))  # + p_i c, p_f c
        g = torch.tanh(a[:, 2 * H:3 * H])
        c = torch.addcmul(s_if[:, 1] * c, s_if[:, 0], g)  # f c + i g
        o = torch.sigmoid(torch.addcmul(a[:, 3 * H:], p_o, c))  # o reads the new c
        tc = torch.tanh(c)
        h = o * tc
        hs.append(h)
        cs.append(c)
        tcs.append(tc)
        ifs.append(s_if)
        gs.append(g)
        os_.append(o)
    gates = torch.cat((torch.stack(ifs).view(T, B, 2 * H), torch.stack(gs), torch.stack(os_)), 2)
    return torch.stack(hs), torch.stack(cs), torch.stack(tcs), gates


def _loop_backward(dhs, dc_last, cs, tcs, gates, W_hh, p):
    """Backpropagation through time by hand, 6 tensor ops a step. dhs (T, B, H): dL/dh_t from above; dc_last
    (B, H): dL/dc_(T-1) from above. Returns dA (T, B, 4H), the gradient of a = xw + h U^T (the peephole terms
    are not in a: their parameter gradient follows from dA), and dL/dh0, dL/dc0.

    Every factor that does not depend on the incoming gradient is computed for all T at once first:
        da_o     = dh * tanh(c) σ'(o)                                     =: dh * X1
        dc      += dh * o (1 - tanh²c) + da_o p_o = dh * (X2 + X1 p_o)    =: dh * Z
        da_i, da_f, da_g = dc * (g σ'(i), c_prev σ'(f), i (1 - g²))       =: dc * X3
        dc_prev  = dc f + da_i p_i + da_f p_f                              =: dc * Y
        dh_prev  = dhs[t-1] + da_(i,f,g) U_(i,f,g) + da_o U_o              (two addmm, no cat)
    """
    T, B, H = dhs.shape
    p_i, p_f, p_o = p[:H], p[H:2 * H], p[2 * H:]
    i, f, g, o = gates[..., :H], gates[..., H:2 * H], gates[..., 2 * H:3 * H], gates[..., 3 * H:]
    c_prev = cs[:-1]
    si, sf = i * (1 - i), f * (1 - f)
    X1 = tcs * (o * (1 - o))
    Z = o * (1 - tcs * tcs) + X1 * p_o
    X3 = torch.cat((g * si, c_prev * sf, i * (1 - g * g)), 2)
    Y = f + p_i * g * si + p_f * c_prev * sf
    U3, Uo = W_hh[:3 * H], W_hh[3 * H:]
    X1s, Zs, X3s, Ys, dhss = X1.unbind(0), Z.unbind(0), X3.unbind(0), Y.unbind(0), dhs.unbind(0)
    d3s, dos = [], []
    dc = dc_last
    d3 = dhs.new_zeros(B, 3 * H)
    dao = dhs.new_zeros(B, H)
    for t in range(T - 1, -1, -1):
        dh = dhss[t] if t == T - 1 else torch.addmm(torch.addmm(dhss[t], d3, U3), dao, Uo)
        dao = dh * X1s[t]
        dc = torch.addcmul(dc, dh, Zs[t])
        d3 = torch.cat((dc, dc, dc), 1) * X3s[t]
        dc = dc * Ys[t]
        d3s.append(d3)
        dos.append(dao)
    dh0 = torch.addmm(d3 @ U3, dao, Uo)
    d3s.reverse()
    dos.reverse()
    return torch.cat((torch.stack(d3s), torch.stack(dos)), 2), dh0, dc


class PeepholeFunction(torch.autograd.Function):
    """(h_1 .. h_T, c_T) of the peephole LSTM from (h0, c0), with the hand-written backward `_loop_backward`
    (held to autograd through the plain loop and to finite differences by tests/test_peephole.py)."""

    @staticmethod
    def forward(ctx, xw, W_hh, p, h0, c0):
        hs, cs, tcs, gates = _loop(xw, W_hh.T, p, h0, c0)
        ctx.save_for_backward(hs, cs, tcs, gates, W_hh, p, h0)
        return hs, cs[-1].clone()

    @staticmethod
    def backward(ctx, dhs, dc_last):
        hs, cs, tcs, gates, W_hh, p, h0 = ctx.saved_tensors
        H = hs.shape[2]
        dA, dh0, dc0 = _loop_backward(dhs.contiguous(), dc_last, cs, tcs, gates, W_hh, p)
        h_prev = torch.cat((h0.unsqueeze(0), hs[:-1]))
        dW_hh = dA.reshape(-1, 4 * H).T @ h_prev.reshape(-1, H)
        dp = torch.cat(((dA[..., :H] * cs[:-1]).sum((0, 1)),  # p_i reads c_(t-1)
                        (dA[..., H:2 * H] * cs[:-1]).sum((0, 1)),  # p_f reads c_(t-1)
                        (dA[..., 3 * H:] * cs[1:]).sum((0, 1))))  # p_o reads c_t
        return dA, dW_hh, dp, dh0, dc0


class PeepholeLSTM(nn.Module):
    """One layer, one direction, batch first, called like nn.LSTM: (x, (h0, c0) or None) -> (out, (h_n, c_n))."""

    def __init__(self, input_size: int, hidden: int):
        super().__init__()
        H = self.hidden_size = hidden
        self.input_size = input_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(4 * H, input_size))  # nn.LSTM's names, in its order
        self.weight_hh_l0 = nn.Parameter(torch.empty(4 * H, H))
        self.bias_ih_l0 = nn.Parameter(torch.empty(4 * H))
        self.bias_hh_l0 = nn.Parameter(torch.empty(4 * H))
        self.weight_ch_l0 = nn.Parameter(torch.zeros(3 * H))  # [p_i; p_f; p_o], registered last

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        B, T, I = x.shape
        H = self.hidden_size
        # the input part of every step in one matmul, time-major so that each step's slice is contiguous
        xw = torch.addmm(self.bias_ih_l0 + self.bias_hh_l0, x.transpose(0, 1).reshape(T * B, I),
                         self.weight_ih_l0.T).view(T, B, 4 * H)
        h0, c0 = (x.new_zeros(B, H), x.new_zeros(B, H)) if state is None else (state[0][0], state[1][0])
        hs, c_n = PeepholeFunction.apply(xw, self.weight_hh_l0, self.weight_ch_l0, h0, c0)
        return hs.transpose(0, 1), (hs[-1:], c_n.unsqueeze(0))  # (B, T, H), ((1, B, H), (1, B, H))


def layer(input_size: int, hidden: int) -> nn.Module:
    return PeepholeLSTM(input_size, hidden)


def init_gates(layer: nn.Module, gate_init: str, forget_bias: float, gen: torch.Generator, horizon: int) -> None:
    """The LSTM's gate biases (chrono, forget-bias or default: lstm.init_gates), then peepholes at zero: the model
    starts as the LSTM of the same seed, and a side-by-side run shows what the peepholes learn to add."""
    lstm.init_gates(layer, gate_init, forget_bias, gen, horizon)
    layer.weight_ch_l0.zero_()


def weights(m: nn.Module) -> dict[str, torch.Tensor]:
    """Besides W_ih, W_hh, b_ih, b_hh: the peephole weights p = [p_i; p_f; p_o] (3H,)."""
    return {"p": m.weight_ch_l0}


# -- the trace: the equations step by step in numpy ----------------------------------------------------------------
@dataclass
class PeepholeForward(Forward):
    """The LSTM's records (`pre` includes the peephole terms), and the peephole terms themselves."""

    peep: np.ndarray | None = None  # (T, 3H): p_i * c_(t-1), p_f * c_(t-1), p_o * c_t


def forward(xw: np.ndarray, W_hh: torch.Tensor, b_hh: torch.Tensor, p: torch.Tensor,
            clamps: Sequence[Clamp] = ()) -> PeepholeForward:
    """One layer from a zero state, given xw = X W_ih^T + b_ih, (T, 4H) for one sequence or (T, B, 4H) for a
    batch, step by step as the equations say. `clamps` hold i, f, g, o or c of chosen units (gate surgery), each
    where the equations compute it."""
    T, GH = xw.shape[0], xw.shape[-1]
    H, batch = GH // 4, xw.shape[1:-1]
    pre, act, hw = (np.zeros(xw.shape, F32) for _ in range(3))
    peep = np.zeros((T, *batch, 3 * H), F32)
    hs, cs, tc = (np.empty((T, *batch, H), F32) for _ in range(3))
    WT, bh, pp = np.ascontiguousarray(np32(W_hh).T), np32(b_hh), np32(p)  # (H, 4H), (4H,), (3H,)
    tmp = np.empty((*batch, H), F32)
    h = c = np.zeros((*batch, H), F32)
    for t in range(T):
        np.dot(h, WT, out=hw[t])
        hw[t] += bh
        a, s, q = pre[t], act[t], peep[t]
        np.add(xw[t], hw[t], out=a)
        np.multiply(pp[:H], c, out=q[..., :H])  # i and f see the old cell state
        np.multiply(pp[H:2 * H], c, out=q[..., H:2 * H])
        a[..., :2 * H] += q[..., :2 * H]
        sigmoid(a[..., :2 * H], s[..., :2 * H])  # i, f
        i, f, g, o = s[..., :H], s[..., H:2 * H], s[..., 2 * H:3 * H], s[..., 3 * H:]
        np.tanh(a[..., 2 * H:3 * H], out=g)
        clamp(clamps, t, {"i": i, "f": f, "g": g})
        np.multiply(f, c, out=cs[t])  # c = f * c + i * g
        np.multiply(i, g, out=tmp)
        cs[t] += tmp
        clamp(clamps, t, {"c": cs[t]})
        c = cs[t]
        np.multiply(pp[2 * H:], c, out=q[..., 2 * H:])  # o sees the new one
        a[..., 3 * H:] += q[..., 2 * H:]
        sigmoid(a[..., 3 * H:], o)
        clamp(clamps, t, {"o": o})
        np.tanh(c, out=tc[t])  # h = o * tanh(c)
        np.multiply(o, tc[t], out=hs[t])
        h = hs[t]
    return PeepholeForward(h=hs, pre=pre, act=act, hw=hw, c=cs, tc=tc, peep=peep)


def backward(fw: PeepholeForward, D: np.ndarray, W_hh: torch.Tensor,
             p: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time (see lstm.backward), with the peephole paths: c_t reaches the loss also
    through o_t (p_o), and c_(t-1) also through i_t and f_t (p_i, p_f). Returns dL/dh_t, dL/dc_t (T, H), each
    the total derivative, and dL/d(pre-activation) (T, 4H)."""
    W = np32(W_hh)  # (4H, H)
    T, H = fw.h.shape
    pp = np32(p)
    p_i, p_f, p_o = pp[:H], pp[H:2 * H], pp[2 * H:]
    DH, DC, DA = np.empty((T, H), F32), np.empty((T, H), F32), np.empty((T, 4 * H), F32)
    zero, tmp = np.zeros(H, F32), np.empty(H, F32)
    dh_rec = np.zeros(H, F32)  # dL/dh_t through step t + 1
    dc_next = np.zeros(H, F32)  # dL/dc_t through step t + 1: c_(t+1), i_(t+1) and f_(t+1)
    for t in range(T - 1, -1, -1):
        dh, dc, da = DH[t], DC[t], DA[t]
        np.add(D[t], dh_rec, out=dh)
        s = fw.act[t]
        i, f, g, o = s[:H], s[H:2 * H], s[2 * H:3 * H], s[3 * H:]
        dai, daf, dag, dao = da[:H], da[H:2 * H], da[2 * H:3 * H], da[3 * H:]
        tc = fw.tc[t]
        c_prev = fw.c[t - 1] if t > 0 else zero
        np.multiply(dh, tc, out=dao)  # through h = o tanh(c) into o
        times_sigmoid_slope(dao, o, tmp)
        np.multiply(dh, o, out=dc)  # dc = dh o (1 - tanh²c) + dc_next + da_o p_o
        times_tanh_slope(dc, tc, tmp)
        dc += dc_next
        np.multiply(dao, p_o, out=tmp)
        dc += tmp
        np.multiply(dc, g, out=dai)
        times_sigmoid_slope(dai, i, tmp)
        np.multiply(dc, c_prev, out=daf)
        times_sigmoid_slope(daf, f, tmp)
        np.multiply(dc, i, out=dag)
        times_tanh_slope(dag, g, tmp)
        np.multiply(dc, f, out=dc_next)  # dc_prev = dc f + da_i p_i + da_f p_f
        np.multiply(dai, p_i, out=tmp)
        dc_next += tmp
        np.multiply(daf, p_f, out=tmp)
        dc_next += tmp
        np.dot(da, W, out=dh_rec)
    return DH, DC, DA


def arrays(fw: PeepholeForward) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The trace's gates (i, f, g, o, c and the peephole terms pi, pf, po) and pre-activations (i, f, g, o, with
    the peephole terms), each (T, H)."""
    H = fw.h.shape[1]
    gates = dict(zip(PRE, blocks(fw.act, H), strict=True)) | {"c": fw.c}
    gates |= dict(zip(("pi", "pf", "po"), blocks(fw.peep, H), strict=True))
    return gates, dict(zip(PRE, blocks(fw.pre, H), strict=True))


def layer_forward(w: dict[str, torch.Tensor], X: torch.Tensor, clamps: Sequence[Clamp] = ()) -> Pass:
    """One sequence X (T, I), or a batch (T, B, I): then only the states (h, c), see trace.layer_forward."""
    with torch.no_grad():
        xw = np.ascontiguousarray(np32(X @ w["W_ih"].T + w["b_ih"]))  # (T, [B,] 4H)
    fw = forward(xw, w["W_hh"], w["b_hh"], w["p"], clamps)
    gates, pre = arrays(fw) if X.dim() == 2 else ({"c": fw.c}, {})
    return Pass(out=fw.h, h=fw.h, gates=gates, pre=pre, pairs={}, saved=fw)


def layer_backward(ps: Pass, D: np.ndarray, w: dict[str, torch.Tensor]) -> tuple[dict, np.ndarray]:
    DH, DC, DA = backward(ps.saved, D, w["W_hh"], w["p"])
    return {"h": norms(DH), "c": norms(DC)}, DA @ np32(w["W_ih"])

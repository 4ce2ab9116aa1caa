"""The bidirectional LSTM: two LSTMs over the same sequence, one reading left to right, one right to left, each
with its own weights; the layer hands up [h_t; h_rev_t], so the answer at step t can depend on every input.

    left to right:  h_t     = LSTM(x_t, h_(t-1), c_(t-1))           has read x_0 .. x_t
    right to left:  h_rev_t = LSTM_rev(x_t, h_rev_(t+1), c_rev_(t+1))  has read x_(T-1) .. x_t

Trained on PyTorch's fused kernel (`nn.LSTM(bidirectional=True)`, the right-to-left weights named
`weight_ih_l0_reverse`, ...). Each direction is an LSTM, so the trace runs `lstm.forward` and `lstm.backward`
twice: on the sequence, and on the sequence reversed, whose arrays are flipped back so that row t is position t.
The left-to-right direction keeps the LSTM's names (i, f, g, o, c, h), the other takes `_rev` (i_rev .. h_rev).

A bidirectional model may not learn a task whose targets are later inputs (text, sine, series: it would read the
answer); `config.pairing_problem` refuses it there. Its lesson is reverse recall (lstm_core/tasks/revrecall.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..views import Clamp
from . import lstm
from .numeric import Pass, norms, np32

PRE = lstm.PRE  # i, f, g, o in each direction's weight blocks
forward, backward, arrays = lstm.forward, lstm.backward, lstm.arrays  # each direction's equations are the LSTM's


def layer(input_size: int, hidden: int) -> nn.Module:
    return nn.LSTM(input_size, hidden, batch_first=True, bidirectional=True)


class _RightToLeft:
    """The right-to-left direction's biases under the left-to-right names, for `lstm.init_gates`."""

    def __init__(self, layer: nn.LSTM):
        self.hidden_size = layer.hidden_size
        self.bias_ih_l0 = layer.bias_ih_l0_reverse  # the parameters themselves: init_gates writes into them
        self.bias_hh_l0 = layer.bias_hh_l0_reverse


def init_gates(layer: nn.Module, gate_init: str, forget_bias: float, gen: torch.Generator, horizon: int) -> None:
    """The LSTM's gate biases in each direction, left to right drawn first (chrono: each direction's memory spreads
    over the task's lag: reverse recall's right-to-left LSTM must carry the last symbol back to the first step)."""
    lstm.init_gates(layer, gate_init, forget_bias, gen, horizon)
    lstm.init_gates(_RightToLeft(layer), gate_init, forget_bias, gen, horizon)


def weights(m: nn.Module) -> dict[str, torch.Tensor]:
    """Besides W_ih, W_hh, b_ih, b_hh (left to right): the right-to-left direction's, as W_ih_rev .. b_hh_rev."""
    return {"W_ih_rev": m.weight_ih_l0_reverse, "W_hh_rev": m.weight_hh_l0_reverse,
            "b_ih_rev": m.bias_ih_l0_reverse, "b_hh_rev": m.bias_hh_l0_reverse}


def _flip(a: np.ndarray) -> np.ndarray:
    """Reading order of the right-to-left LSTM <-> position order (time reversed), contiguous."""
    return np.ascontiguousarray(a[::-1])


def _reading_order(clamps: Sequence[Clamp], T: int) -> list[Clamp]:
    """Clamps of the right-to-left LSTM (i_rev .. c_rev, over positions start .. stop - 1) under the LSTM's names,
    over the steps at which it reads those positions (T - stop .. T - start - 1)."""
    return [dataclasses.replace(c, quantity=c.quantity[:-4], start=max(T - c.stop, 0), stop=T - c.start)
            for c in clamps if c.quantity.endswith("_rev")]


def layer_forward(w: dict[str, torch.Tensor], X: torch.Tensor, clamps: Sequence[Clamp] = ()) -> Pass:
    """Both directions over X (T, I), from zero states; the right-to-left one reads X reversed. `clamps` hold the
    left-to-right LSTM's i, f, g, o, c, or the right-to-left one's i_rev .. c_rev (gate surgery). A batch X
    (T, B, I) gives only the states (h, c, h_rev, c_rev), see trace.layer_forward."""
    with torch.no_grad():
        xw = np.ascontiguousarray(np32(X @ w["W_ih"].T + w["b_ih"]))  # (T, [B,] 4H)
        xw_rev = np.ascontiguousarray(np32(X.flip(0) @ w["W_ih_rev"].T + w["b_ih_rev"]))  # in its reading order
    ltr = lstm.forward(xw, w["W_hh"], w["b_hh"], [c for c in clamps if not c.quantity.endswith("_rev")])
    rtl = lstm.forward(xw_rev, w["W_hh_rev"], w["b_hh_rev"], _reading_order(clamps, len(xw_rev)))
    h_rev = _flip(rtl.h)
    if X.dim() == 2:
        gates, pre = lstm.arrays(ltr)
        gates_rev, pre_rev = lstm.arrays(rtl)
        gates |= {f"{q}_rev": _flip(a) for q, a in gates_rev.items()} | {"h_rev": h_rev}
        pre |= {f"{q}_rev": _flip(a) for q, a in pre_rev.items()}
    else:
        gates, pre = {"c": ltr.c, "c_rev": _flip(rtl.c), "h_rev": h_rev}, {}
    return Pass(out=np.concatenate((ltr.h, h_rev), -1), h=ltr.h, gates=gates, pre=pre, pairs={}, saved=(ltr, rtl))


def layer_backward(ps: Pass, D: np.ndarray, w: dict[str, torch.Tensor]) -> tuple[dict, np.ndarray]:
    """D (T, 2H) = dL/d[h; h_rev]: its left half goes back through the left-to-right LSTM, its right half, reversed,
    through the right-to-left one; dL/dX is the sum of both directions' input paths."""
    ltr, rtl = ps.saved
    H = ltr.h.shape[1]
    DH, DC, DA = lstm.backward(ltr, np.ascontiguousarray(D[:, :H]), w["W_hh"])
    DH_rev, DC_rev, DA_rev = lstm.backward(rtl, _flip(D[:, H:]), w["W_hh_rev"])
    grads = {"h": norms(DH), "c": norms(DC), "h_rev": _flip(norms(DH_rev)), "c_rev": _flip(norms(DC_rev))}
    return grads, DA @ np32(w["W_ih"]) + _flip(DA_rev @ np32(w["W_ih_rev"]))

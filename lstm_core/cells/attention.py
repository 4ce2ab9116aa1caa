"""A vanilla RNN with causal dot-product attention over its own states: the answer at step t reads h_t and ctx_t,
an average of h_0 .. h_t weighted by where step t chooses to look.

    h_t      = tanh(W x_t + b_ih + U h_(t-1) + b_hh)            the vanilla RNN (PyTorch's fused kernel)
    q_t      = W_q h_t + b_q,   k_s = W_k h_s                    query of the step that reads, key of each state
    e_(t,s)  = q_t · k_s / √d                   for s <= t       causal: only states already computed
    a_(t,s)  = exp(e_(t,s)) / Σ_(s' <= t) exp(e_(t,s'))          the attention: where step t looks
    ctx_t    = Σ_(s <= t) a_(t,s) h_s                            the values are the states themselves
    layer output [h_t; ctx_t] (2H), read by the readout (or the layer above)

d = H. A key bias would add q_t·b_k to every score of row t alike, which the softmax ignores: keys have none; the
query's bias gives a score b_q·k_s that depends on the state alone. No positional encoding: on recall it learns to
find h_0, the one state computed from the zero initial state (docs/research/cells.md). The context is a
one-step path from the answer to any earlier h_s, so the gradient reaching the cue is diluted by a ≈ 1/T at
first, never by a product of T Jacobians: the vanilla RNN then solves recall at lag 100 in ~250 steps.

The trace runs `rnn.forward` (bit-identical to the fused kernel), then `attend`, row by row as the equations say;
`layer_backward` takes the gradient back through the attention (`attend_backward`), then through time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..views import Clamp
from . import rnn
from .numeric import F32, Pass, norms, np32

PRE = rnn.PRE  # the recurrence's one pre-activation
forward, backward, arrays = rnn.forward, rnn.backward, rnn.arrays  # the recurrence is the vanilla RNN's


class AttentionRNN(nn.RNN):
    """nn.RNN (tanh, batch first; PyTorch's names weight_ih_l0 ...) plus `query` (Linear H -> d) and `key` (Linear
    H -> d, no bias). Called like nn.RNN: (x, state or None) -> ([h; ctx] (B, T, 2H), state), where the state
    (h_n, every state so far) lets generation continue one step at a time, attending over the whole past."""

    def __init__(self, input_size: int, hidden: int):
        super().__init__(input_size, hidden, batch_first=True, nonlinearity="tanh")
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden, bias=False)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        h0, past = (None, None) if state is None else state
        h, h_n = super().forward(x, h0)  # (B, T, H), fused
        states = h if past is None else torch.cat((past, h), 1)  # (B, S, H): everything step t may look at
        T, S = h.shape[1], states.shape[1]
        e = self.query(h) @ self.key(states).transpose(1, 2) / math.sqrt(self.query.out_features)  # (B, T, S)
        future = torch.ones(T, S, dtype=torch.bool, device=h.device).triu(S - T + 1)  # s > t: not computed yet
        a = e.masked_fill(future, float("-inf")).softmax(-1)
        return torch.cat((h, a @ states), -1), (h_n, states)


def layer(input_size: int, hidden: int) -> nn.Module:
    return AttentionRNN(input_size, hidden)


def weights(m: nn.Module) -> dict[str, torch.Tensor]:
    """Besides the RNN's W_ih, W_hh, b_ih, b_hh: the query's W_q (d, H), b_q (d,) and the key's W_k (d, H)."""
    return {"W_q": m.query.weight, "b_q": m.query.bias, "W_k": m.key.weight}


@dataclass
class Attention:
    """The attention of one sequence, float32: (T, d) queries and keys, (T, T) scores and weights, (T, H) context.
    For a batch of states (T, B, H): (T, B, d), (T, B, T) and (T, B, H)."""

    q: np.ndarray
    k: np.ndarray
    e: np.ndarray  # e[t, s] = q_t·k_s/√d for s <= t; NaN above the diagonal (never computed: s is in t's future)
    a: np.ndarray  # a[t, s], each row sums to 1 over s <= t; 0 above the diagonal
    ctx: np.ndarray


def attend(h: np.ndarray, W_q: torch.Tensor, b_q: torch.Tensor, W_k: torch.Tensor) -> Attention:
    """The attention over states h (T, H) (or a batch, (T, B, H)), one reading step t at a time, as the equations
    are written."""
    T, batch = h.shape[0], h.shape[1:-1]
    Wq, bq, Wk = np32(W_q), np32(b_q), np32(W_k)
    q, k = h @ Wq.T + bq, h @ Wk.T  # (T, [B,] d)
    scale = F32(1.0 / math.sqrt(Wq.shape[0]))
    e = np.full((T, *batch, T), np.nan, F32)
    a = np.zeros((T, *batch, T), F32)
    ctx = np.empty(h.shape, F32)
    for t in range(T):
        row = np.einsum("s...d,...d->...s", k[:t + 1], q[t]) * scale  # scores of the states h_0 .. h_t
        w = np.exp(row - row.max(-1, keepdims=True))  # softmax (shifted: exp never overflows)
        e[t, ..., :t + 1], a[t, ..., :t + 1] = row, w / w.sum(-1, keepdims=True)
        ctx[t] = np.einsum("...s,s...h->...h", a[t, ..., :t + 1], h[:t + 1])
    return Attention(q=q, k=k, e=e, a=a, ctx=ctx)


def attend_backward(att: Attention, h: np.ndarray, D_h: np.ndarray, D_ctx: np.ndarray, W_q: torch.Tensor,
                    W_k: torch.Tensor) -> np.ndarray:
    """dL/dh_s (T, H) along the paths that leave the recurrence: directly (D_h), as a value of the context, and
    through the queries and keys. D_h, D_ctx (T, H): dL/dh_t and dL/dctx_t from the readout or the layer above."""
    a = att.a
    dh = D_h + a.T @ D_ctx  # ctx_t = Σ_s a_(t,s) h_s: h_s as a value
    da = D_ctx @ h.T  # (T, T): dL/da_(t,s) = D_ctx_t · h_s
    de = a * (da - (da * a).sum(1, keepdims=True))  # through each row's softmax; 0 above the diagonal (a = 0)
    de *= F32(1.0 / math.sqrt(att.q.shape[1]))
    dq, dk = de @ att.k, de.T @ att.q  # (T, d)
    return (dh + dq @ np32(W_q) + dk @ np32(W_k)).astype(F32)  # h_t as a query, h_s as a key


def layer_forward(w: dict[str, torch.Tensor], X: torch.Tensor, clamps: Sequence[Clamp] = ()) -> Pass:
    """The RNN over X (T, I), then the attention over its states; `clamps` hold h (gate surgery), and the
    attention reads the held states. A batch X (T, B, I) gives only the states (h, ctx), see
    trace.layer_forward."""
    with torch.no_grad():
        xw = np.ascontiguousarray(np32(X @ w["W_ih"].T + w["b_ih"]))  # (T, [B,] H)
    fw = rnn.forward(xw, w["W_hh"], w["b_hh"], clamps)
    att = attend(fw.h, w["W_q"], w["b_q"], w["W_k"])
    one = X.dim() == 2
    return Pass(out=np.concatenate((fw.h, att.ctx), -1), h=fw.h, gates={"ctx": att.ctx},
                pre=rnn.arrays(fw)[1] if one else {}, pairs={"a": att.a, "e": att.e} if one else {}, saved=(fw, att))


def layer_backward(ps: Pass, D: np.ndarray, w: dict[str, torch.Tensor]) -> tuple[dict, np.ndarray]:
    """D (T, 2H) = dL/d[h; ctx]: back through the attention, then through time; ‖dL/dh_t‖ counts both paths."""
    fw, att = ps.saved
    H = fw.h.shape[1]
    D_h = attend_backward(att, fw.h, D[:, :H], D[:, H:], w["W_q"], w["W_k"])
    DH, _, DA = rnn.backward(fw, D_h, w["W_hh"])
    return {"h": norms(DH)}, DA @ np32(w["W_ih"])

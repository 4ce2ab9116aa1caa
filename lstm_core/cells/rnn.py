"""The vanilla (Elman) RNN's torch code: PyTorch's fused tanh layer and its one equation unrolled,
h_t = tanh(W x_t + b_ih + U h_(t-1) + b_hh)."""

from __future__ import annotations

import torch
from torch import nn

PRE = ("h",)  # the one pre-activation, tanh's argument


def layer(input_size: int, hidden: int) -> nn.Module:
    return nn.RNN(input_size, hidden, batch_first=True, nonlinearity="tanh")


def unroll(X: torch.Tensor, w: dict[str, torch.Tensor]):
    """One layer over X (T, I) from a zero state, under autograd: per-step h_t, no cell state, no gates, and the
    pre-activation (1, H). The same operations as the fused kernel, in its order (equal to the last bit)."""
    T, H = X.shape[0], w["W_hh"].shape[1]
    W_hhT = w["W_hh"].T
    xw = (X @ w["W_ih"].T + w["b_ih"] + w["b_hh"]).split(1)
    h = X.new_zeros(1, H).requires_grad_(True)
    hs, pres = [], []
    for t in range(T):
        a = torch.addmm(xw[t], h, W_hhT)
        h = a.tanh()
        h.retain_grad()
        hs.append(h)
        pres.append(a)
    return hs, [], [() for _ in hs], pres


@torch.no_grad()
def recompute(module: nn.Module, X: torch.Tensor, w: dict[str, torch.Tensor]):
    """Forward only: h_t from the fused kernel, the pre-activations from h_(t-1) in one batched matmul."""
    h = module(X.unsqueeze(0))[0][0]  # (T, H)
    h_prev = torch.cat([h.new_zeros(1, h.shape[1]), h[:-1]])
    a = (X @ w["W_ih"].T + w["b_ih"]) + (h_prev @ w["W_hh"].T + w["b_hh"])
    return h, {}, a.cpu().numpy()

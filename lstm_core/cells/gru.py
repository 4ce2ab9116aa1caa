"""The GRU's torch code: PyTorch's fused layer and its equations unrolled, gate order r, z, n (PyTorch's):
    r = σ(W_r x + b_ir + U_r h + b_hr),  z = σ(W_z x + b_iz + U_z h + b_hz)
    n = tanh(W_n x + b_in + r * (U_n h + b_hn)),  h_t = (1 - z) * n + z * h_(t-1)
"""

from __future__ import annotations

import torch
from torch import nn

PRE = ("r", "z", "n")


def layer(input_size: int, hidden: int) -> nn.Module:
    return nn.GRU(input_size, hidden, batch_first=True)


def unroll(X: torch.Tensor, w: dict[str, torch.Tensor]):
    """One layer over X (T, I) from a zero state, under autograd: per-step h_t, the gates (r, z, n) and the
    pre-activations (1, 3H). b_hn sits inside r * (U_n h + b_hn), so b_hh stays with the recurrent part."""
    T, H = X.shape[0], w["W_hh"].shape[1]
    W_hhT = w["W_hh"].T
    xw = (X @ w["W_ih"].T + w["b_ih"]).split(1)
    h = X.new_zeros(1, H).requires_grad_(True)
    hs, gates, pres = [], [], []
    for t in range(T):
        hw = torch.addmm(w["b_hh"], h, W_hhT)  # (1, 3H)
        xr, xz, xn = xw[t].chunk(3, dim=-1)
        hr, hz, hn = hw.chunk(3, dim=-1)
        ar, az = xr + hr, xz + hz
        r, z = ar.sigmoid(), az.sigmoid()
        an = torch.addcmul(xn, r, hn)
        n = an.tanh()
        h = torch.lerp(n, h, z)  # (1 - z) * n + z * h
        h.retain_grad()
        hs.append(h)
        gates.append((r, z, n))
        pres.append(torch.cat((ar, az, an), -1))
    return hs, [], gates, pres


@torch.no_grad()
def recompute(module: nn.Module, X: torch.Tensor, w: dict[str, torch.Tensor]):
    """Forward only: h_t from the fused kernel, the gates from h_(t-1) in one batched matmul over all steps."""
    h = module(X.unsqueeze(0))[0][0]  # (T, H)
    h_prev = torch.cat([h.new_zeros(1, h.shape[1]), h[:-1]])
    xr, xz, xn = (X @ w["W_ih"].T + w["b_ih"]).chunk(3, dim=-1)
    hr, hz, hn = (h_prev @ w["W_hh"].T + w["b_hh"]).chunk(3, dim=-1)
    ar, az = xr + hr, xz + hz
    r = ar.sigmoid()
    an = xn + r * hn
    gates = {"r": r.cpu().numpy(), "z": az.sigmoid().cpu().numpy(), "n": an.tanh().cpu().numpy()}
    return h, gates, torch.cat((ar, az, an), -1).cpu().numpy()

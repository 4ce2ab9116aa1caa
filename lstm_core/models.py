"""Sequence models on PyTorch's fused recurrent kernels: one-hot or value input -> recurrent layers -> readout.

The recurrent layer of each cell comes from its module in the cell registry (`lstm_core.cells`). Layers are
stacked single-layer modules so that dropout between layers draws from our own `torch.Generator` (a fused
multi-layer module would draw from the process-wide RNG, shared by every session). State-dict keys keep
PyTorch's names: `rnn.0.weight_ih_l0`, `rnn.0.weight_hh_l0`, ...
"""

from __future__ import annotations

import math

import torch
from torch import _VF, nn

from .cells import CELLS
from .config import ModelConfig

# the fused op each of PyTorch's own single-direction layers calls in its forward (see _tokens_layer)
FUSED = {nn.LSTM: _VF.lstm, nn.GRU: _VF.gru, nn.RNN: _VF.rnn_tanh}


def pick_device(name: str = "auto") -> torch.device:
    """CUDA if present, then Apple's MPS, else CPU; an explicit name is honoured when available."""
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    mps = getattr(torch.backends, "mps", None)
    if name == "mps" or (name == "auto" and mps is not None and mps.is_available()):
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    return torch.device("cpu")


class SeqModel(nn.Module):
    def __init__(self, cfg: ModelConfig, input_size: int, output_size: int, tokens_in: bool):
        super().__init__()
        self.cfg, self.input_size, self.output_size, self.tokens_in = cfg, input_size, output_size, tokens_in
        width = CELLS[cfg.cell].width(cfg.hidden)  # what a layer hands up: h, [h; h_rev] or [h; ctx]
        sizes = [input_size] + [width] * cfg.layers
        self.rnn = nn.ModuleList(self.cell.layer(sizes[k], cfg.hidden) for k in range(cfg.layers))
        self.readout = nn.Linear(width, output_size)
        self.dropout_gen: torch.Generator | None = None  # set by the trainer; None means no dropout

    @property
    def cell(self):
        """The cell's torch module (lstm_core/cells/<cell>.py): its layer, gate init and equations for the trace."""
        return CELLS[self.cfg.cell].module()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The exact input of the first recurrent layer: (B, T, input_size) float32."""
        if self.tokens_in:
            return nn.functional.one_hot(x, self.input_size).float()
        return x.float()

    def _drop(self, h: torch.Tensor) -> torch.Tensor:
        p = self.cfg.dropout
        if not self.training or p == 0.0 or self.dropout_gen is None:
            return h
        keep = torch.empty(h.shape, device="cpu").bernoulli_(1 - p, generator=self.dropout_gen).to(h.device)
        return h * keep / (1 - p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T) tokens or (B, T, 1) values -> (B, T, output_size) logits or predictions."""
        first = self.rnn[0]
        tokens = self.tokens_in and x.device.type == "cpu" and type(first) in FUSED and not first.bidirectional \
            and getattr(first, "nonlinearity", "tanh") == "tanh"
        h = x if tokens else self.encode(x)
        for k, layer in enumerate(self.rnn):
            if k > 0:
                h = self._drop(h)
            h = self._tokens_layer(x) if k == 0 and tokens else layer(h)[0]  # (B, T, width)
        return self.readout(self._drop(h))

    def _tokens_layer(self, x: torch.Tensor) -> torch.Tensor:
        """The first layer on the one-hot encoding of tokens x (B, T), exactly, over the symbols present only.

        One-hot rows select columns of W_ih, so the columns of absent symbols multiply zeros: the fused kernel
        gets the one-hot over the U symbols in this batch and those U columns of W_ih (gathered, so their
        gradient lands in W_ih). The kernel's three input GEMMs (forward, input gradient, weight gradient) cost
        in proportion to the input width: nn.LSTM(K, 64) forward + backward at B 32, T 100 took 20.5 ms at
        K 103 and 15.1 at K 64 (measured, 1 thread). CPU only (CUDA's kernel wants its weights in one buffer).
        """
        layer = self.rnn[0]
        present = torch.bincount(x.flatten(), minlength=self.input_size) > 0
        used = present.nonzero().squeeze(1)  # the U symbols in x, ascending
        ids = (present.cumsum(0) - 1)[x]  # x == used[ids]
        # bincount and one float allocation: 60-120 us a step less than unique + one_hot(...).float(), which sorts
        # and builds the one-hot in int64 first (B 32, T 100, U 90, measured)
        inp = torch.zeros(*x.shape, len(used)).scatter_(2, ids.unsqueeze(-1), 1.0)  # (B, T, U)
        w_ih = layer.weight_ih_l0.index_select(1, used)  # (G*H, U)
        h0 = inp.new_zeros(1, x.shape[0], layer.hidden_size)
        hx = (h0, h0) if isinstance(layer, nn.LSTM) else h0
        params = [w_ih, layer.weight_hh_l0, layer.bias_ih_l0, layer.bias_hh_l0]
        return FUSED[type(layer)](inp, hx, params, True, 1, 0.0, self.training, False, True)[0]

    def recurrent_weights(self, layer: int = 0) -> dict[str, torch.Tensor]:
        """The layer's parameters under the equations' names: W_ih, W_hh, b_ih, b_hh (the left-to-right direction),
        and whatever else its cell has (`weights` of its module: the peephole's p, the right-to-left direction's
        W_ih_rev ..., the attention's W_q, b_q, W_k)."""
        m = self.rnn[layer]
        w = {"W_ih": m.weight_ih_l0, "W_hh": m.weight_hh_l0, "b_ih": m.bias_ih_l0, "b_hh": m.bias_hh_l0}
        more = getattr(self.cell, "weights", None)
        return w | more(m) if more is not None else w


def gate_init(cfg: ModelConfig, task) -> str:
    """The LSTM gate-bias initialisation in use: the config's, or for "auto" the task's own choice."""
    return task.gate_init if cfg.gate_init == "auto" else cfg.gate_init


def init_weights(model: SeqModel, gen: torch.Generator, horizon: int, gate_init: str) -> None:
    """PyTorch's default init U(-1/sqrt(H), 1/sqrt(H)) drawn from `gen`, W_hh scaled by `init_scale`, then the
    cell's own gate-bias initialisation (the LSTM's chrono or forget-bias; see lstm_core/cells/lstm.py).

    Parameters the cell's module lists in `UNDRAWN` (the peephole weights) take no draw, so every other weight of
    a seed is drawn exactly as for the LSTM; the cell's `init_gates` sets them."""
    cfg = model.cfg
    undrawn = getattr(model.cell, "UNDRAWN", ())
    with torch.no_grad():
        bound = 1.0 / math.sqrt(cfg.hidden)  # PyTorch's default for recurrent layers, and for a Linear with fan-in H
        for name, p in model.named_parameters():
            if name.rsplit(".", 1)[-1] not in undrawn:
                p.copy_(torch.empty(p.shape).uniform_(-bound, bound, generator=gen))
        for layer in model.rnn:
            for name, w in layer.named_parameters():
                if name.startswith("weight_hh"):  # both directions of a bidirectional layer
                    w.mul_(cfg.init_scale)
            init_gates = getattr(model.cell, "init_gates", None)
            if init_gates is not None:
                init_gates(layer, gate_init, cfg.forget_bias, gen, horizon)


def build_model(cfg: ModelConfig, task, seed: int) -> SeqModel:
    """A model for `task` with weights fixed by `seed` alone (no global RNG)."""
    model = SeqModel(cfg, task.input_size, task.output_size, task.tokens_in)
    init_weights(model, torch.Generator().manual_seed(seed), task.horizon, gate_init(cfg, task))
    return model

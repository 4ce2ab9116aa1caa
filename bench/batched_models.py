"""K same-shaped one-layer LSTM or vanilla-RNN models trained as one batched computation (issue 9, item 3).

Measured, not adopted: this is the best candidate of bench/bench_batched.py, kept beside it so the measurement can
be run again. The worker pool does not use it (see the README's benchmarks): sessions with identical settings
already share one run there, and a shared run is replayed and rebuilt step by step (frames, Lab.fork), which needs
every step bit-equal to a solo run; batched steps agree only within 1e-6, and a chaotic RNN grows that.

When K sessions train models of the same shape (cell, input size, hidden units, output size, sequence length,
batch size), their weights are stacked on a leading axis of K and every timestep is one batched matmul
(`torch.bmm`) for all K models, with a hand-written backward through time (`StackedRecurrent`). Each model keeps
its own batches, learning rate, clipping threshold, weight decay and Adam step count: Adam and clipping are
applied per model on the stacks (Adam is elementwise), so each model gets the update its own optimiser would
give, up to float rounding (tests/test_batched_models.py: losses within 1e-6 of separate nn.LSTM / nn.RNN models,
weights within 2e-6 after 4 steps; bench/bench_batched.py: as close to a float64 run as the fused float32 is).

Where it pays (bench/results/bench_batched.txt, one torch thread, class throughput against K separate fused
steps): vanilla RNNs on recall, 1.8-8x for K = 2-32 at 16-64 units (T 21-201) and 1.6-2.2x at 128 units up to
K = 16 (PyTorch's CPU nn.RNN runs its loop op by op, so the per-op overhead is shared K ways). LSTMs only when
tiny: 2.1-2.6x for K >= 8 at 16 units and 21 steps; 32 units at 21 steps only from K = 16 (1.52x, 2.05x at 32),
at 101 steps at most 1.46x (K = 32), at 64-128 units at most 1.26x: oneDNN's fused LSTM kernel is faster per
model than anything composed from torch ops. Not text (0.4-1.3x): the 100-symbol one-hot input and the
100-class readout at every step are large matmuls that cost the same batched or not. `worth_batching` is that
table as a rule, leaving out what was not measured or only just passed.

How a worker process would use it, for the sessions it hosts: at each tick take the sessions that are training,
group their models by (cell, input size, hidden, output size, T, batch, device) among one-layer, dropout-free
LSTM / RNN models, and split a group into chunks of at most MAX_GROUP. For a chunk where `worth_batching` says
so, keep one StackedModels (`from_modules` + `load_adam(k, opt.state_dict()["state"])` for each member's
optimiser) while its membership stays the same; every tick stack each member's own batch k
(`task.batch(B, seed, step)`) into x (K, B, T), y (K, B) and call `step(x, y, last_only=True)`: per model the
loss, the gradient norm before clipping, `ok` (False: NaN or inf, that model was not updated: raise its
DivergedError, the others go on) and the outputs for its metric. When a member leaves (pause, reset, new
settings) or a snapshot is due, write back `weights(k)` and `adam_state(k)` into its own model and optimiser,
which then trains on alone or joins another group. Everything else trains one model at a time as now.

Supported: one layer, LSTM or vanilla RNN (tanh), one-hot or value input, a Linear readout, cross-entropy with
ignored targets (`IGNORE`) or mean squared error, no dropout. Not GRU, not two layers. Torch only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.nn import functional as F

IGNORE = -100  # target value of unscored timesteps (the tasks' convention)
CELLS = {"lstm": 4, "rnn": 1}  # cell -> gates per unit
KEYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "readout_weight", "readout_bias")

_sigmoid_bwd = torch.ops.aten.sigmoid_backward.grad_input
_tanh_bwd = torch.ops.aten.tanh_backward.grad_input


def _tanh_(x: torch.Tensor) -> torch.Tensor:
    """tanh in place as 2 sigmoid(2x) - 1: within 2e-7 of torch.tanh, and torch.tanh was 3-4x slower than
    sigmoid on this machine's CPU (measured: 0.5 ms against 0.14 ms for 131k floats)."""
    return x.mul_(2).sigmoid_().mul_(2).sub_(1)


def _gate_order(hidden: int, device: torch.device) -> torch.Tensor:
    """Rows of PyTorch's LSTM order (i, f, g, o) in the internal order (i, f, o, g), so that the three sigmoid
    gates are one contiguous block; the permutation is its own inverse."""
    r = torch.arange(hidden, device=device)
    return torch.cat([r, r + hidden, r + 3 * hidden, r + 2 * hidden])


class StackedRecurrent(torch.autograd.Function):
    """K one-layer recurrent layers, each on its own input, initial state zero.

    x (T, K, I, B), the weights in PyTorch's layout stacked: w_ih (K, G, I), w_hh (K, G, H), b_ih and b_hh (K, G).
    Returns h_T (K, H, B) if last_only, else every h_t as (T, K, H, B). No gradient for x.
    Inside, states are columns: Z[t] = [x_t; 1; h_(t-1)] (K, I+1+H, B) and all gate pre-activations of a step
    are one bmm with W = [w_ih | b_ih + b_hh | w_hh] (K, G, I+1+H); the weight gradient is one bmm per step too.
    """

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, cell: str, last_only: bool):
        T, K, I, B = x.shape
        H = w_hh.shape[2]
        lstm = cell == "lstm"
        J = I + 1  # first row of h in Z
        W = torch.cat([w_ih, (b_ih + b_hh).unsqueeze(2), w_hh], 2)
        if lstm:
            W = W[:, _gate_order(H, W.device)]
        Z = x.new_empty(T + 1, K, J + H, B)
        Z[:T, :, :I] = x
        Z[:, :, I] = 1
        Z[0, :, J:] = 0
        acts: list[torch.Tensor] = []
        C = x.new_empty(T, K, H, B) if lstm else None
        TC = x.new_empty(T, K, H, B) if lstm else None
        for t in range(T):
            g = torch.bmm(W, Z[t])  # (K, G, B); bmm with out= was 2x slower (a copy)
            h_out = Z[t + 1, :, J:]
            if lstm:
                g[:, : 3 * H].sigmoid_()
                _tanh_(g[:, 3 * H :])
                i, f, o, gg = g.split(H, 1)
                if t:
                    torch.mul(f, C[t - 1], out=C[t]).addcmul_(i, gg)
                else:
                    torch.mul(i, gg, out=C[t])
                _tanh_(torch.mul(C[t], 1, out=TC[t]))
                torch.mul(o, TC[t], out=h_out)
                acts.append(g)
            else:
                h_out.copy_(_tanh_(g))
        ctx.cell, ctx.last_only, ctx.dims = cell, last_only, (I, H)
        ctx.bufs = (Z, W, acts, C, TC)
        return Z[T, :, J:].clone() if last_only else Z[1:, :, J:].clone()

    @staticmethod
    def backward(ctx, dout):
        Z, W, acts, C, TC = ctx.bufs
        I, H = ctx.dims
        J = I + 1
        T, K, _, B = Z.shape
        T -= 1
        G = W.shape[1]
        lstm = ctx.cell == "lstm"
        w_hh_t = W[:, :, J:].transpose(1, 2).contiguous()  # (K, H, G)
        dW = Z.new_zeros(W.shape)
        d = Z.new_empty(K, G, B)  # gradient of the pre-activations of one step
        dh = dout if ctx.last_only else dout[T - 1]
        dc = None
        for t in reversed(range(T)):
            if not ctx.last_only and t < T - 1:
                dh = dh.add_(dout[t])  # dh is the fresh result of the bmm below
            if lstm:
                a = acts[t]
                i, f, o, gg = a.split(H, 1)
                di, df, do, dg = d.split(H, 1)
                tc = TC[t]
                dct = _tanh_bwd(torch.mul(dh, o), tc, grad_input=torch.empty_like(tc))
                if dc is not None:
                    dct.add_(dc)
                torch.mul(dh, tc, out=do)
                torch.mul(dct, gg, out=di)
                if t:
                    torch.mul(dct, C[t - 1], out=df)
                else:
                    df.zero_()
                _sigmoid_bwd(d[:, : 3 * H], a[:, : 3 * H], grad_input=d[:, : 3 * H])
                _tanh_bwd(torch.mul(dct, i, out=dg), gg, grad_input=dg)
                dc = dct.mul_(f)
            else:
                _tanh_bwd(dh, Z[t + 1, :, J:], grad_input=d)
            dW.baddbmm_(d, Z[t].transpose(1, 2))
            if t:
                dh = torch.bmm(w_hh_t, d)
        if lstm:
            dW = dW[:, _gate_order(H, dW.device)]
        db = dW[:, :, I]
        ctx.bufs = None
        return None, dW[:, :, :I], dW[:, :, J:], db, db, None, None


def per_model(value: float | Sequence[float], k: int) -> list[float]:
    """A per-model setting: one value for all K models, or one value per model."""
    values = [float(value)] * k if isinstance(value, int | float) else [float(v) for v in value]
    if len(values) != k:
        raise ValueError(f"expected one value or {k} values, got {len(values)}")
    return values


@dataclass
class StackedStep:
    loss: list[float]  # per model, before the update
    grad_norm: list[float]  # per model, before clipping (as clip_grad_norm_ returns it)
    ok: list[bool]  # False: loss or gradient not finite; that model was not updated
    out: torch.Tensor  # (K, B, T, O), or (K, B, O) with last_only


class StackedModels:
    """K models input -> LSTM | vanilla RNN (one layer) -> Linear of one shape, trained together.

    `weights` maps KEYS to stacked tensors in PyTorch's layouts (weight_ih (K, G, I), ..., readout_weight
    (K, O, H), readout_bias (K, O)). lr, clip (0 or inf: no clipping), weight_decay are one value or one per
    model. Adam's state is per model too: `steps` (K,) and the moments, so a model can join with the state of
    its own torch.optim.Adam (`load_adam`).
    """

    def __init__(self, cell: str, weights: dict[str, torch.Tensor], *, tokens_in: bool, lr=3e-3, clip=1.0,
                 weight_decay=0.0, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        if cell not in CELLS:
            raise ValueError(f"cell {cell!r}: batched training supports {', '.join(CELLS)}")
        self.cell, self.tokens_in, self.betas, self.eps = cell, tokens_in, betas, eps
        self.params = {k: weights[k].detach().clone().requires_grad_() for k in KEYS}
        p = self.params["weight_hh"]
        self.k, self.hidden, self.device = p.shape[0], p.shape[2], p.device
        if p.shape[1] != CELLS[cell] * self.hidden:
            raise ValueError(f"weight_hh has {p.shape[1]} rows; a {cell} of {self.hidden} units has "
                             f"{CELLS[cell] * self.hidden}")
        self.input_size = self.params["weight_ih"].shape[2]
        self.lr = per_model(lr, self.k)
        clip = [c if c > 0 else math.inf for c in per_model(clip, self.k)]
        self.clip = torch.tensor(clip, dtype=torch.float32, device=self.device)
        self.weight_decay = torch.tensor(per_model(weight_decay, self.k), dtype=torch.float32, device=self.device)
        self.steps = [0] * self.k
        self.exp_avg = {k: torch.zeros_like(v) for k, v in self.params.items()}
        self.exp_avg_sq = {k: torch.zeros_like(v) for k, v in self.params.items()}

    @classmethod
    def from_modules(cls, rnns, readouts, **kw) -> StackedModels:
        """Stack K (nn.LSTM | nn.RNN with one layer, nn.Linear) pairs; keyword arguments as for the class."""
        cell = "lstm" if isinstance(rnns[0], torch.nn.LSTM) else "rnn"
        for m in rnns:
            if m.num_layers != 1 or m.bidirectional or not m.bias or getattr(m, "proj_size", 0):
                raise ValueError("batched training supports one-layer, one-direction layers with biases")
            if cell == "rnn" and (not isinstance(m, torch.nn.RNN) or m.nonlinearity != "tanh"):
                raise ValueError("batched training supports nn.LSTM and nn.RNN(nonlinearity='tanh')")
        get = {"weight_ih": lambda r, o: r.weight_ih_l0, "weight_hh": lambda r, o: r.weight_hh_l0,
               "bias_ih": lambda r, o: r.bias_ih_l0, "bias_hh": lambda r, o: r.bias_hh_l0,
               "readout_weight": lambda r, o: o.weight, "readout_bias": lambda r, o: o.bias}
        w = {k: torch.stack([f(r, o).detach() for r, o in zip(rnns, readouts, strict=True)]) for k, f in get.items()}
        return cls(cell, w, **kw)

    def load_adam(self, k: int, state: dict) -> None:
        """Take over model k's Adam state: `state` is torch.optim.Adam(...).state_dict()["state"] of a model
        whose parameters were in the order rnn (weight_ih, weight_hh, bias_ih, bias_hh), readout (weight, bias)."""
        if not state:
            return
        steps = {int(s["step"]) for s in state.values()}
        if len(steps) != 1:
            raise ValueError("the parameters of one model have different Adam step counts")
        self.steps[k] = steps.pop()
        with torch.no_grad():
            for j, key in enumerate(KEYS):
                self.exp_avg[key][k] = state[j]["exp_avg"]
                self.exp_avg_sq[key][k] = state[j]["exp_avg_sq"]

    def adam_state(self, k: int) -> dict:
        """Model k's Adam state in torch.optim.Adam's format (`load_adam`'s inverse), for snapshots and for a
        model that leaves the group to train on its own again."""
        if self.steps[k] == 0:
            return {}
        return {j: {"step": torch.tensor(float(self.steps[k])), "exp_avg": self.exp_avg[key][k].clone(),
                    "exp_avg_sq": self.exp_avg_sq[key][k].clone()} for j, key in enumerate(KEYS)}

    def weights(self, k: int) -> dict[str, torch.Tensor]:
        """Model k's weights under PyTorch's names (`weight_ih_l0`, ..., `readout.weight`), detached copies."""
        names = {"weight_ih": "weight_ih_l0", "weight_hh": "weight_hh_l0", "bias_ih": "bias_ih_l0",
                 "bias_hh": "bias_hh_l0", "readout_weight": "readout.weight", "readout_bias": "readout.bias"}
        return {names[key]: self.params[key][k].detach().clone() for key in KEYS}

    def _columns(self, x: torch.Tensor) -> torch.Tensor:
        """(K, B, T) tokens or (K, B, T, I) values -> (T, K, I, B) float."""
        if self.tokens_in:
            return F.one_hot(x.permute(2, 0, 1), self.input_size).to(torch.float32).transpose(2, 3).contiguous()
        return x.to(torch.float32).permute(2, 0, 3, 1).contiguous()

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """x (K, B, T) tokens or (K, B, T, I) values -> (K, B, T, O), or the last step's (K, B, O)."""
        p = self.params
        xc = self._columns(x.to(self.device))
        T, K, _, B = xc.shape
        h = StackedRecurrent.apply(xc, p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"], self.cell,
                                   last_only)
        if last_only:  # h (K, H, B)
            return torch.baddbmm(p["readout_bias"].unsqueeze(2), p["readout_weight"], h).transpose(1, 2)
        hk = h.permute(1, 2, 0, 3).reshape(K, self.hidden, T * B)
        out = torch.baddbmm(p["readout_bias"].unsqueeze(2), p["readout_weight"], hk)  # (K, O, T*B)
        return out.view(K, -1, T, B).permute(0, 3, 2, 1)

    @staticmethod
    def losses(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-model mean loss (K,): cross-entropy over targets != IGNORE for int targets, else MSE."""
        K = out.shape[0]
        if y.dtype in (torch.int64, torch.int32):
            logits = out.reshape(K, -1, out.shape[-1]).transpose(1, 2)  # (K, O, N)
            target = y.reshape(K, -1).long()
            ce = F.cross_entropy(logits, target, ignore_index=IGNORE, reduction="none")
            return ce.sum(1) / (target != IGNORE).sum(1)
        return (out - y).pow(2).reshape(K, -1).mean(1)

    def step(self, x: torch.Tensor, y: torch.Tensor, last_only: bool = False) -> StackedStep:
        """One optimiser step of every model on its own batch: x[k], y[k] (y (K, B) with last_only)."""
        out = self.forward(x, last_only)
        loss = self.losses(out, y.to(self.device))
        for p in self.params.values():
            p.grad = None
        loss.sum().backward()
        grads = [self.params[k].grad for k in KEYS]
        norm = torch.stack([g.flatten(1).norm(dim=1) for g in grads], 1).norm(dim=1)  # as clip_grad_norm_
        coef = (self.clip / (norm + 1e-6)).clamp(max=1.0)
        ok = torch.isfinite(loss) & torch.isfinite(norm)
        for g in grads:
            g.mul_(coef.view(-1, *[1] * (g.dim() - 1)))
        okl = ok.tolist()
        self._adam(okl)
        return StackedStep(loss.tolist(), norm.tolist(), okl, out.detach())

    @torch.no_grad()
    def _adam(self, ok: list[bool]) -> None:
        """torch.optim.Adam's single-tensor update, per model (step counts, lr, weight decay); models not ok
        keep their weights, moments and step count."""
        b1, b2 = self.betas
        steps = [s + 1 if good else s for s, good in zip(self.steps, ok, strict=True)]
        bc1 = [1 - b1 ** max(s, 1) for s in steps]
        bc2 = [math.sqrt(1 - b2 ** max(s, 1)) for s in steps]
        step_size = torch.tensor([lr / c for lr, c in zip(self.lr, bc1, strict=True)], device=self.device)
        bc2_sqrt = torch.tensor(bc2, device=self.device)
        keep = None if all(ok) else torch.tensor(ok, device=self.device)
        decay = bool(self.weight_decay.ne(0).any())
        for key, p in self.params.items():
            shape = (-1, *[1] * (p.dim() - 1))
            g = p.grad
            if decay:
                g = g.add(p * self.weight_decay.view(shape))
            m, v = self.exp_avg[key], self.exp_avg_sq[key]
            if keep is not None:
                m0, v0, p0 = m.clone(), v.clone(), p.detach().clone()
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v.sqrt() / bc2_sqrt.view(shape)).add_(self.eps)
            p.addcdiv_(m * -step_size.view(shape), denom)  # addcdiv_(m, denom, value=-s) is p + (-s * m) / denom
            if keep is not None:
                k = keep.view(shape)
                m.copy_(torch.where(k, m, m0))
                v.copy_(torch.where(k, v, v0))
                p.copy_(torch.where(k, p, p0))
        self.steps = steps


MAX_GROUP = 16  # 128-unit RNNs: 2.2x at K = 16, 1.45x at K = 32 (the stacked activations outgrow the caches)


def worth_batching(cell: str, hidden: int, steps: int, k: int, last_step_loss: bool) -> bool:
    """Whether a chunk of k (<= MAX_GROUP) same-shaped models trains >= 1.5x faster batched than one by one on
    the CPU, from the measured table (bench/results/bench_batched.txt). Outside the measured ground: no."""
    if k < 2 or k > MAX_GROUP or not last_step_loss or hidden > 128:
        return False
    if cell == "rnn":
        return True  # measured 1.6-8x: H 16-128, T 21-201, K 2-16
    return cell == "lstm" and hidden <= 16 and steps <= 21 and k >= 8  # 2.1-2.6x; K = 4: 1.49x

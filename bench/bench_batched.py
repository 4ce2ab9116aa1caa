"""Class throughput: K same-shaped models trained one by one on fused kernels, or as one batched computation.

Issue 9, item 3. K learners train models of one shape, each on its own batches. Today every model is its own
step: one-hot -> nn.LSTM | nn.RNN (PyTorch's fused CPU kernel: oneDNN for the LSTM, an op-by-op loop for the
RNN) -> nn.Linear, cross-entropy at the last step (recall) or at every step (text), backward, clip_grad_norm_
at 1, torch.optim.Adam (lr 3e-3). That baseline is written here in plain PyTorch. Candidates, all stepping the
K models at once on stacked weights (K, G, I), (K, G, H), ... with clipping per model and one Adam:

  autograd   a hand-written LSTM/RNN step under autograd, one torch.bmm per timestep for all K models
  vmap       torch.func.vmap(grad_and_value(functional_call(...))) over the stacked parameters of the same
             nn.LSTM/nn.RNN module; run with oneDNN off, because vmap has no batching rule for oneDNN's LSTM
             (see the probe printed first)
  bptt       bench.batched_models.StackedModels: one bmm per timestep and a hand-written backward through time
  blockdiag  the K models folded into one fused nn.LSTM/nn.RNN of K*H units with block-diagonal weights (the
             off-diagonal gradients are zeroed, so they stay zero under Adam); K x the work, so only K <= 4

What it measures: class throughput = model-steps per second (K x class steps / time) with one torch thread.
Each round runs every side for at least --min-seconds (order rotating), so load from other processes hits all
sides alike; ratio = candidate / baseline throughput, median of the per-round ratios, by wall time and by
this thread's CPU time. Data are made before timing (a pool of 4 batches per model); the one-hot encoding,
the loss read-back (.item / .tolist) and the optimiser are timed. Before the timing, an exactness check steps
K = 4 models 5 times with every side from the same weights on the same batches and prints the largest
loss and weight differences to the baseline, next to a float64 run of the baseline (the float32 error floor).

Goal (issue 9): adopt a candidate only where class throughput rises >= 1.5x and it is exact.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import warnings
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call, grad_and_value, vmap
from torch.nn import functional as F

from bench._common import machine_line, markdown_table
from bench.batched_models import StackedModels

GOAL = 1.5
LR, CLIP = 3e-3, 1.0


@dataclass(frozen=True)
class Size:
    name: str
    input_size: int  # one-hot symbols in
    output_size: int  # classes out
    hidden: int
    steps: int  # T
    batch: int
    last_only: bool  # recall: loss at the last step; text: at every step

    def label(self) -> str:
        task = "recall" if self.last_only else "text"
        return f"{self.name}: {task}, H {self.hidden}, T {self.steps}, B {self.batch}, {self.input_size} symbols in"


SIZES = {
    "small": Size("small", 9, 8, 16, 21, 64, True),  # recall lag 20, 16 units
    "headline": Size("headline", 9, 8, 32, 101, 64, True),  # the headline lesson: recall lag 100
    "large": Size("large", 9, 8, 128, 101, 64, True),  # recall lag 100, 128 units
    "text": Size("text", 100, 100, 128, 100, 32, False),  # character-level text
    # not in the default run (--sizes lag20,lag200,mid --sides bptt): the app's default width at other lags
    "lag20": Size("lag20", 9, 8, 32, 21, 64, True),
    "lag200": Size("lag200", 9, 8, 32, 201, 64, True),
    "mid": Size("mid", 9, 8, 64, 101, 64, True),
}
DEFAULT_SIZES = ("small", "headline", "large", "text")
PAIR_SIZES = ("small", "headline")  # where the "pair" cell (each learner: an LSTM and an RNN) is measured


def make_data(sz: Size, k: int, n: int = 4, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """n batches for each of k models: recall (symbol first, distractors, query mark last) or random text."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        if sz.last_only:
            x = torch.randint(0, sz.output_size, (k, sz.batch, sz.steps), generator=g)
            x[:, :, -1] = sz.input_size - 1
            out.append((x, x[:, :, 0].clone()))
        else:
            x = torch.randint(0, sz.input_size, (k, sz.batch, sz.steps), generator=g)
            out.append((x, torch.randint(0, sz.output_size, (k, sz.batch, sz.steps), generator=g)))
    return out


# ---------------------------------------------------------------- baseline: K separate models (plain PyTorch)

class Net(nn.Module):
    """one-hot -> nn.LSTM | nn.RNN (fused) -> nn.Linear."""

    def __init__(self, cell: str, sz: Size):
        super().__init__()
        self.sz = sz
        self.rnn = (nn.LSTM if cell == "lstm" else nn.RNN)(sz.input_size, sz.hidden, batch_first=True)
        self.readout = nn.Linear(sz.hidden, sz.output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.long:
            x = F.one_hot(x, self.sz.input_size).to(self.readout.weight.dtype)
        h, _ = self.rnn(x)
        return self.readout(h[:, -1] if self.sz.last_only else h)


def ce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


class Separate:
    def __init__(self, nets: list[Net]):
        self.nets = nets
        self.opts = [torch.optim.Adam(n.parameters(), lr=LR) for n in nets]

    def step(self, x: torch.Tensor, y: torch.Tensor) -> list[float]:
        losses = []
        for k, (net, opt) in enumerate(zip(self.nets, self.opts, strict=True)):
            loss = ce(net(x[k]), y[k])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), CLIP)
            opt.step()
            losses.append(loss.item())
        return losses

    def weights(self) -> list[torch.Tensor]:
        """Stacked, in the order weight_ih, weight_hh, bias_ih, bias_hh, readout weight, readout bias."""
        return [torch.stack(ps).detach() for ps in zip(*(list(n.parameters()) for n in self.nets), strict=True)]


# ---------------------------------------------------------------- shared pieces of the stacked candidates

def stacked_params(nets: list[Net]) -> list[torch.Tensor]:
    return [torch.stack(ps).detach().clone().requires_grad_()
            for ps in zip(*(list(n.parameters()) for n in nets), strict=True)]


def clip_per_model_(grads: list[torch.Tensor], max_norm: float = CLIP) -> None:
    """clip_grad_norm_ of each model on stacked gradients (leading axis K)."""
    norm = torch.stack([g.flatten(1).norm(dim=1) for g in grads], 1).norm(dim=1)
    coef = (max_norm / (norm + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(-1, *[1] * (g.dim() - 1)))


def stacked_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """out (K, B, O) or (K, B, T, O) -> per-model mean cross-entropy (K,)."""
    K = out.shape[0]
    per = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), reduction="none")
    return per.view(K, -1).mean(1)


class Autograd:
    """(a) stacked weights, one bmm per timestep, the LSTM/RNN equations under autograd."""

    def __init__(self, cell: str, nets: list[Net]):
        self.cell, self.sz = cell, nets[0].sz
        self.p = stacked_params(nets)
        self.opt = torch.optim.Adam(self.p, lr=LR)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w_ih, w_hh, b_ih, b_hh, w_o, b_o = self.p
        K, B, T = x.shape
        H = self.sz.hidden
        xo = F.one_hot(x.transpose(1, 2), self.sz.input_size).float().reshape(K, T * B, -1)
        xp = torch.baddbmm((b_ih + b_hh).unsqueeze(1), xo, w_ih.transpose(1, 2)).view(K, T, B, -1).unbind(1)
        w_hh_t = w_hh.transpose(1, 2)
        h = xo.new_zeros(K, B, H)
        c = xo.new_zeros(K, B, H)
        hs = []
        for t in range(T):  # unbind, not xp[:, t]: each slice's backward would write a zero tensor of all T
            g = torch.baddbmm(xp[t], h, w_hh_t)
            if self.cell == "lstm":
                i, f, gg, o = g.chunk(4, -1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
                h = torch.sigmoid(o) * torch.tanh(c)
            else:
                h = torch.tanh(g)
            hs.append(h)
        hr = h if self.sz.last_only else torch.stack(hs, 1).view(K, T * B, H)  # (K, [T*]B, H)
        out = torch.baddbmm(b_o.unsqueeze(1), hr, w_o.transpose(1, 2))
        return out if self.sz.last_only else out.view(K, T, B, -1)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> list[float]:
        out = self.forward(x)
        loss = stacked_loss(out, y if self.sz.last_only else y.transpose(1, 2))
        self.opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        clip_per_model_([p.grad for p in self.p])
        self.opt.step()
        return loss.tolist()

    def weights(self) -> list[torch.Tensor]:
        return [p.detach() for p in self.p]


class Vmap:
    """(b) torch.func over the stacked parameters of the fused module (oneDNN off inside)."""

    def __init__(self, cell: str, nets: list[Net]):
        self.sz = nets[0].sz
        self.template = copy.deepcopy(nets[0])
        self.names = [n for n, _ in nets[0].named_parameters()]
        self.p = [p.detach() for p in stacked_params(nets)]
        self.opt = torch.optim.Adam(self.p, lr=LR)

        def loss_fn(params: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return ce(functional_call(self.template, params, (x,)), y)

        self.fn = vmap(grad_and_value(loss_fn))

    def step(self, x: torch.Tensor, y: torch.Tensor) -> list[float]:
        xo = F.one_hot(x, self.sz.input_size).float()  # outside vmap: one_hot checks its values (.item)
        with torch.backends.mkldnn.flags(enabled=False):
            grads, loss = self.fn(dict(zip(self.names, self.p, strict=True)), xo, y)
        for name, p in zip(self.names, self.p, strict=True):
            p.grad = grads[name]
        clip_per_model_([p.grad for p in self.p])
        self.opt.step()
        return loss.tolist()

    def weights(self) -> list[torch.Tensor]:
        return self.p


class Bptt:
    """(c) bench.batched_models.StackedModels."""

    def __init__(self, cell: str, nets: list[Net]):
        self.sz = nets[0].sz
        self.m = StackedModels.from_modules([n.rnn for n in nets], [n.readout for n in nets], tokens_in=True,
                                            lr=LR, clip=CLIP)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> list[float]:
        return self.m.step(x, y, last_only=self.sz.last_only).loss

    def weights(self) -> list[torch.Tensor]:
        return [self.m.params[k].detach() for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh",
                                                     "readout_weight", "readout_bias")]


class BlockDiag:
    """(d) one fused nn.LSTM/nn.RNN of K*H units, block-diagonal weights, per-model readout by bmm."""

    def __init__(self, cell: str, nets: list[Net]):
        self.sz = sz = nets[0].sz
        self.k = K = len(nets)
        self.ng = 4 if cell == "lstm" else 1
        H, I, ng = sz.hidden, sz.input_size, self.ng
        self.big = (nn.LSTM if cell == "lstm" else nn.RNN)(K * I, K * H, batch_first=True)
        self.masks = {}
        with torch.no_grad():
            for name, cols in (("weight_ih_l0", I), ("weight_hh_l0", H)):
                w = getattr(self.big, name)
                w.zero_()
                mask = torch.zeros(ng, K, H, K, cols)
                for k in range(K):
                    w.view(ng, K, H, K, cols)[:, k, :, k, :] = getattr(nets[k].rnn, name).view(ng, H, cols)
                    mask[:, k, :, k, :] = 1
                self.masks[name] = mask.view(w.shape)
            for name in ("bias_ih_l0", "bias_hh_l0"):
                stack = torch.stack([getattr(n.rnn, name).view(ng, H) for n in nets], 1)
                getattr(self.big, name).copy_(stack.view(-1))
        self.w_o = torch.stack([n.readout.weight.detach() for n in nets]).clone().requires_grad_()
        self.b_o = torch.stack([n.readout.bias.detach() for n in nets]).clone().requires_grad_()
        self.params = [*self.big.parameters(), self.w_o, self.b_o]
        self.opt = torch.optim.Adam(self.params, lr=LR)

    def _blocks(self, name: str, t: torch.Tensor) -> torch.Tensor:
        """(ng, K, H, cols) view of model k's block of a weight (or (ng, K, H) of a bias)."""
        ng, K, H = self.ng, self.k, self.sz.hidden
        if t.dim() == 1:
            return t.view(ng, K, H)
        return t.view(ng, K, H, K, -1).diagonal(dim1=1, dim2=3).permute(0, 3, 1, 2)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> list[float]:
        sz, K, H = self.sz, self.k, self.sz.hidden
        B, T = x.shape[1], x.shape[2]
        xo = F.one_hot(x, sz.input_size).float().permute(1, 2, 0, 3).reshape(B, T, -1)  # (B, T, K*I)
        h, _ = self.big(xo)
        if sz.last_only:
            hk = h[:, -1].view(B, K, H).transpose(0, 1)  # (K, B, H)
        else:
            hk = h.reshape(B * T, K, H).transpose(0, 1)  # (K, B*T, H)
        out = torch.baddbmm(self.b_o.unsqueeze(1), hk, self.w_o.transpose(1, 2))
        loss = stacked_loss(out, y)
        self.opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        names = [n for n, _ in self.big.named_parameters()]
        for name, p in zip(names, self.big.parameters(), strict=True):
            if name in self.masks:
                p.grad.mul_(self.masks[name])
        blocks = [self._blocks(n, p.grad) for n, p in zip(names, self.big.parameters(), strict=True)]
        sq = [b.pow(2).transpose(0, 1).reshape(K, -1).sum(1) for b in blocks]
        sq += [self.w_o.grad.pow(2).sum((1, 2)), self.b_o.grad.pow(2).sum(1)]
        norm = torch.stack(sq).sum(0).sqrt()
        coef = (CLIP / (norm + 1e-6)).clamp(max=1.0)
        for b in blocks:
            b.mul_(coef.view(1, K, *[1] * (b.dim() - 2)))
        self.w_o.grad.mul_(coef.view(K, 1, 1))
        self.b_o.grad.mul_(coef.view(K, 1))
        self.opt.step()
        return loss.tolist()

    def weights(self) -> list[torch.Tensor]:
        names = [n for n, _ in self.big.named_parameters()]
        blocks = [self._blocks(n, p.detach()) for n, p in zip(names, self.big.parameters(), strict=True)]
        K = self.k
        w = [b.transpose(0, 1).reshape(K, -1, *b.shape[3:]) if b.dim() == 4 else b.transpose(0, 1).reshape(K, -1)
             for b in blocks]
        return [*w, self.w_o.detach(), self.b_o.detach()]


SIDES = {"autograd": Autograd, "vmap": Vmap, "bptt": Bptt, "blockdiag": BlockDiag}
BLOCKDIAG_MAX_K = 4


def sides_for(cell: str, k: int, names: list[str]) -> list[str]:
    return [s for s in names if s != "blockdiag" or k <= BLOCKDIAG_MAX_K]


def build(cell: str, sz: Size, k: int, names: list[str], seed: int = 0) -> dict:
    """Baseline and candidates, all from the same K models' starting weights."""
    torch.manual_seed(seed)
    nets = [Net(cell, sz) for _ in range(k)]
    out = {"base": Separate([copy.deepcopy(n) for n in nets])}
    for s in sides_for(cell, k, names):
        out[s] = SIDES[s](cell, nets)
    return out


class Pair:
    """Each learner trains an LSTM and a vanilla RNN (the headline lesson): one class step = both groups."""

    def __init__(self, lstm_side, rnn_side):
        self.lstm_side, self.rnn_side = lstm_side, rnn_side

    def step(self, x: torch.Tensor, y: torch.Tensor) -> list[float]:
        return self.lstm_side.step(x, y) + self.rnn_side.step(x, y)


def build_pair(sz: Size, k: int, seed: int = 0) -> dict:
    lstm = build("lstm", sz, k, ["bptt"], seed)
    rnn = build("rnn", sz, k, ["bptt"], seed + 1)
    return {"base": Pair(lstm["base"], rnn["base"]), "bptt": Pair(lstm["bptt"], rnn["bptt"]),
            "rnn-only": Pair(copy.deepcopy(lstm["base"]), rnn["bptt"])}


# ---------------------------------------------------------------- timing

def measure(sides: dict, data: list, k: int, rounds: int, min_seconds: float, models_per_step: int) -> dict:
    names = list(sides)
    counter = dict.fromkeys(names, 0)

    def run(name: str) -> None:
        x, y = data[counter[name] % len(data)]
        sides[name].step(x, y)
        counter[name] += 1

    per_step = {}
    for name in names:  # warm-up (allocations, Adam state), and a step-time estimate for the round length
        run(name)
        t0 = time.perf_counter()
        run(name)
        per_step[name] = time.perf_counter() - t0
    n = {name: max(1, round(min_seconds / max(per_step[name], 1e-6))) for name in names}
    wall = {name: [] for name in names}
    cpu = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            w0, c0 = time.perf_counter(), time.thread_time()
            for _ in range(n[name]):
                run(name)
            cpu[name].append(n[name] * models_per_step / (time.thread_time() - c0))
            wall[name].append(n[name] * models_per_step / (time.perf_counter() - w0))
    res = {"base": statistics.median(wall["base"]), "base_cpu": statistics.median(cpu["base"])}
    for name in names[1:]:
        res[name] = statistics.median([c / b for c, b in zip(wall[name], wall["base"], strict=True)])
        res[name + "_cpu"] = statistics.median([c / b for c, b in zip(cpu[name], cpu["base"], strict=True)])
    return res


# ---------------------------------------------------------------- exactness

def exactness(cell: str, sz: Size, names: list[str], k: int = 4, steps: int = 5) -> dict:
    """After `steps` steps from the same weights on the same batches: per side, the largest |loss| and |weight|
    differences to the baseline, and the largest |weight| difference to the baseline run in float64 ('base':
    the baseline's own float32 error)."""
    sides = build(cell, sz, k, names)
    ref64 = Separate([copy.deepcopy(n).double() for n in sides["base"].nets])
    data = make_data(sz, k, n=steps, seed=7)
    losses = {name: [] for name in sides}
    for x, y in data:
        for name, side in sides.items():
            losses[name].append(side.step(x, y))
        ref64.step(x, y)

    def wdiff(ws, ref) -> float:
        return max((a.double() - b.double()).abs().max().item() for a, b in zip(ws, ref, strict=True))

    base_w, w64 = sides["base"].weights(), ref64.weights()
    res = {"base": (0.0, 0.0, wdiff(base_w, w64))}
    for name in list(sides)[1:]:
        dl = max(abs(a - b) for la, lb in zip(losses[name], losses["base"], strict=True)
                 for a, b in zip(la, lb, strict=True))
        w = sides[name].weights()
        res[name] = (dl, wdiff(w, base_w), wdiff(w, w64))
    return res


def probe_vmap() -> list[str]:
    """What torch.func does with the fused nn.LSTM on this build (oneDNN on, the default)."""
    sz = Size("probe", 5, 3, 8, 6, 4, True)
    torch.manual_seed(0)
    nets = [Net("lstm", sz) for _ in range(2)]
    names = [n for n, _ in nets[0].named_parameters()]
    params = dict(zip(names, [p.detach() for p in stacked_params(nets)], strict=True))
    x = F.one_hot(torch.randint(0, 5, (2, 4, 6)), 5).float()
    lines = []
    for label, fn in (("vmap(forward)", vmap(lambda p, x: functional_call(nets[0], p, (x,)))),
                      ("vmap(grad_and_value(loss))", vmap(grad_and_value(
                          lambda p, x: functional_call(nets[0], p, (x,)).pow(2).mean())))):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fn(params, x)
                msg = "runs"
            except RuntimeError as e:
                msg = f"fails: {str(e).splitlines()[0]}"
        notes = sorted({str(w.message).split(". ")[0] for w in caught if "batching rule" in str(w.message)})
        lines.append(f"- {label} of nn.LSTM, oneDNN on: {msg}" + (f"; warns: {notes[0]}" if notes else ""))
    return lines


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default=",".join(DEFAULT_SIZES), help=f"of {', '.join(SIZES)}")
    p.add_argument("--cells", default="lstm,rnn,pair", help="pair: each learner an LSTM and an RNN (small, headline)")
    p.add_argument("--ks", default="1,2,4,8,16,32")
    p.add_argument("--sides", default=",".join(SIDES))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--min-seconds", type=float, default=0.4, help="per side per round")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-exact", action="store_true", help="skip the exactness check")
    p.add_argument("--exact-only", action="store_true", help="only the probe and the exactness check")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    warnings.filterwarnings("ignore", message=".*TF32 acceleration on top of oneDNN.*")
    names = [s for s in a.sides.split(",") if s]
    ks = [int(k) for k in a.ks.split(",")]
    cells = a.cells.split(",")
    print(f"# Class throughput, K models batched vs one by one (fused): {a.rounds} rounds of >= {a.min_seconds} s "
          f"per side; goal ratio >= {GOAL} and exact")
    print(machine_line())
    print()
    print("torch.func probe:")
    print("\n".join(probe_vmap()))
    print()
    if not a.no_exact:
        print("## Exactness: K = 4 models, 5 steps (Adam, lr 3e-3, clip 1) from the same weights on the same batches")
        print()
        rows = []
        for sname in a.sizes.split(","):
            for cell in [c for c in cells if c != "pair"]:
                res = exactness(cell, SIZES[sname], names)
                rows.append([sname, cell, f"{res['base'][2]:.1e}",
                             *(f"{res[s][0]:.1e} / {res[s][1]:.1e} / {res[s][2]:.1e}" if s in res else "-"
                               for s in names)])
        print(markdown_table(["size", "cell", "base vs float64: weights",
                              *(f"{s}: loss / weights vs base / weights vs float64" for s in names)], rows))
        print()
        print("loss: largest |loss difference| to the baseline over the 5 steps and 4 models; weights: largest "
              "|weight difference| after them, to the baseline (float32, fused) and to the baseline run in "
              "float64. The baseline's own float32 error (base vs float64) is the floor.")
        print()
    if a.exact_only:
        return 0
    for sname in a.sizes.split(","):
        sz = SIZES[sname]
        print(f"## {sz.label()}")
        print()
        rows = []
        for cell in cells:
            if cell == "pair" and sname not in PAIR_SIZES:
                continue
            for k in ks:
                sides = build_pair(sz, k) if cell == "pair" else build(cell, sz, k, names)
                mps = 2 * k if cell == "pair" else k
                res = measure(sides, make_data(sz, k), k, a.rounds, a.min_seconds, mps)
                cols = [s for s in sides if s != "base"]
                cells_txt = [f"{res[s]:.2f} ({res[s + '_cpu']:.2f})" for s in cols]
                row = [cell, str(k), f"{res['base']:.1f}", *cells_txt]
                rows.append((cols, row))
                print(f"  {sname} {cell} K={k}: base {res['base']:.1f} model-steps/s; "
                      + ", ".join(f"{s} {t}" for s, t in zip(cols, cells_txt, strict=True)), file=sys.stderr,
                      flush=True)
        all_cols = list(dict.fromkeys(c for cols, _ in rows for c in cols))
        table = []
        for cols, row in rows:
            by = dict(zip(cols, row[3:], strict=True))
            table.append([*row[:3], *(by.get(c, "-") for c in all_cols)])
        print(markdown_table(["cell", "K", "base model-steps/s", *all_cols], table))
        print()
    print("Ratios: candidate / baseline class throughput (model-steps per second), median of per-round ratios by "
          "wall time, (in brackets) by this thread's CPU time. base = K separate fused steps, model-steps/s by "
          "wall time. pair: each learner an LSTM and an RNN, one class step = all 2K models; bptt = both groups "
          "batched, rnn-only = the RNNs batched and the LSTMs one by one.")
    print(machine_line().replace("at start", "at end"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

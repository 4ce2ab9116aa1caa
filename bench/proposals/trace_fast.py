"""Proposal (not wired in): `trace()` with the per-step loop in numpy float32 and hand-written BPTT.

Same inputs, same `Trace` output as `lstm_core.trace.trace`. Why it is faster: the current unroll spends its
time in per-op PyTorch dispatch on (1, H) tensors (3-5 us per op, ~13 ops per LSTM step, a `chunk` costing
~10 us, a matrix product on a transposed view costing twice a contiguous one, one `detach` per stored tensor
and, with gradients, the autograd graph), while numpy ufuncs with `out=` on preallocated (T, G*H) arrays cost
about 1 us each and leave every gate already stacked.

- Forward: X @ W_ih.T + b_ih for all steps at once (in torch, exactly as now), then per step one `np.dot` with
  W_hh.T and in-place ufuncs. Gates are slices of one (T, G*H) array: no chunk, no cat, no detach. LSTM and
  GRU differ from the current trace by rounding only (~1 ulp, < 1e-6), as the current trace differs from the
  fused kernel (in the chaotic regime, LSTM init_scale >= 10, GRU >= 5, both depart from the fused kernel
  by up to 2, measured: the current trace already does). The tanh RNN keeps torch's own product
  and tanh (see `_rnn_exact`): it is bit-identical to the current trace and to the fused kernel, which matters
  because a tanh RNN with large recurrent weights is chaotic and would amplify one ulp to 0.1.
- Gradients (grads=True): the readout and the task loss stay in torch (autograd gives dL/dh_t of the direct
  readout path, one call), then the recurrence is differentiated by hand, backwards in time, with the same
  equations autograd applies. It never forms dL/dW (the current code does, a G*H x H outer product per step,
  and zero-fills a (T, G*H) gradient of `xw` per step for `xw[t : t + 1]`: O(T^2)), then throws it away.

Run `python bench/proposals/trace_fast.py` to see the speed-up and the largest difference from the current
trace (gates and states: absolute, goal < 1e-6; gradient norms: relative to the largest norm, ~1e-7, up to
~1e-5 for a chaotic RNN whose gradients explode).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lstm_core.cells import CELLS  # noqa: E402
from lstm_core.models import SeqModel  # noqa: E402
from lstm_core.tasks.base import Batch, Task  # noqa: E402
from lstm_core.views import LayerTrace, Trace  # noqa: E402

F32 = np.float32
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def _np(w: torch.Tensor) -> np.ndarray:
    return w.detach().cpu().numpy()


def _sigmoid(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-a)) in place into `out` (float32; exp overflowing to inf gives the right limit, 0)."""
    np.negative(a, out=out)
    np.exp(out, out=out)
    out += F32(1.0)
    np.reciprocal(out, out=out)
    return out


def forward_layer(cell: str, X: torch.Tensor, W_ih, W_hh, b_ih, b_hh) -> dict[str, np.ndarray]:
    """One layer over X (T, I) from a zero state. Returns (T, ...) float32 arrays: h, c, tc, pre, act, hw.

    pre: pre-activations (T, G*H) in PyTorch's gate order; act: the gate values (T, G*H) (LSTM i, f, g, o;
    GRU r, z, n; RNN unused); hw: h_{t-1} @ W_hh.T + b_hh; tc: tanh(c_t) (LSTM).
    """
    with torch.no_grad():
        xw = _np(X @ W_ih.T + b_ih)  # (T, G*H), exactly as the current trace computes it
    T, GH = xw.shape
    H = GH // GATES[cell]
    pre, act, hw = (np.zeros((T, GH), F32) for _ in range(3))
    hs = np.empty((T, H), F32)
    cs = np.empty((T, H), F32) if cell == "lstm" else None
    tc = np.empty((T, H), F32) if cell == "lstm" else None
    bh = _np(b_hh)
    zero = np.zeros(H, F32)
    if cell == "rnn":
        _rnn_exact(xw, W_hh, bh, pre, hw, hs)
        return {"h": hs, "c": None, "tc": None, "pre": pre, "act": act, "hw": hw}
    WT = np.ascontiguousarray(_np(W_hh).T)  # (H, G*H)
    tmp = np.empty(H, F32)
    h, c = zero, zero
    with np.errstate(over="ignore"):
        for t in range(T):
            np.dot(h, WT, out=hw[t])  # h_{t-1} @ W_hh.T + b_hh
            hw[t] += bh
            a, s = pre[t], act[t]
            if cell == "lstm":
                np.add(xw[t], hw[t], out=a)
                _sigmoid(a, s)  # i, f, o (g is overwritten next)
                i, f, g, o = s[:H], s[H : 2 * H], s[2 * H : 3 * H], s[3 * H :]
                np.tanh(a[2 * H : 3 * H], out=g)
                np.multiply(f, c, out=cs[t])  # c = f * c + i * g
                np.multiply(i, g, out=tmp)
                cs[t] += tmp
                c = cs[t]
                np.tanh(c, out=tc[t])  # h = o * tanh(c)
                np.multiply(o, tc[t], out=hs[t])
            else:  # gru
                np.add(xw[t, : 2 * H], hw[t, : 2 * H], out=a[: 2 * H])  # a_r, a_z
                _sigmoid(a[: 2 * H], s[: 2 * H])
                r, z, n = s[:H], s[H : 2 * H], s[2 * H :]
                np.multiply(r, hw[t, 2 * H :], out=tmp)  # a_n = x_n + r * h_n
                np.add(xw[t, 2 * H :], tmp, out=a[2 * H :])
                np.tanh(a[2 * H :], out=n)
                np.subtract(F32(1.0), z, out=tmp)  # h = (1 - z) * n + z * h
                tmp *= n
                np.multiply(z, h, out=hs[t])
                hs[t] += tmp
            h = hs[t]
    return {"h": hs, "c": cs, "tc": tc, "pre": pre, "act": act, "hw": hw}


def _rnn_exact(xw: np.ndarray, W_hh: torch.Tensor, bh: np.ndarray, pre, hw, hs) -> None:
    """The tanh RNN, bit-identical to the current unroll and to the fused kernel.

    A tanh RNN with large recurrent weights is chaotic (the exploding-gradient lesson, init_scale > ~2): a
    one-ulp difference grows to 0.1 within 200 steps, so the product and tanh stay the very torch calls the
    fused kernel makes (`h @ W_hh.T` on the transposed view; numpy's dot or a contiguous copy differ in the
    last bit, and so does numpy's tanh). The additions are IEEE-exact in numpy. Torch views of the numpy rows
    are made once, outside the loop.
    """
    WT = W_hh.detach().T  # the transposed view, as the fused kernel uses it
    T, H = hs.shape
    hw_r, pre_r, hs_r = (torch.from_numpy(a).split(1) for a in (hw, pre, hs))
    h_prev = (torch.zeros(1, H), *hs_r[:-1])
    with torch.inference_mode():
        for t in range(T):
            torch.mm(h_prev[t], WT, out=hw_r[t])
            hw[t] += bh
            np.add(xw[t], hw[t], out=pre[t])
            torch.tanh(pre_r[t], out=hs_r[t])


def backward_layer(cell: str, f: dict[str, np.ndarray], D: np.ndarray, W_hh) -> tuple[np.ndarray, ...]:
    """BPTT through one layer. D (T, H): dL/dh_t through paths that leave the layer (readout, layer above).

    Returns DH (T, H) = total dL/dh_t, DC (T, H) = total dL/dc_t (LSTM, else None), DXW (T, G*H) = dL/d(x W_ih^T)
    for the layer below.
    """
    W = _np(W_hh)  # (G*H, H)
    hs, cs, act = f["h"], f["c"], f["act"]
    T, H = hs.shape
    GH = act.shape[1]
    DH = np.empty((T, H), F32)
    DC = np.empty((T, H), F32) if cell == "lstm" else None
    DXW = np.empty((T, GH), F32)
    zero = np.zeros(H, F32)
    dh_rec = np.zeros(H, F32)  # dL/dh_t through step t + 1
    dc_next = np.zeros(H, F32)  # dL/dc_t through c_{t+1} = f_{t+1} * c_t + ...
    tmp = np.empty(H, F32)
    one = F32(1.0)
    for t in range(T - 1, -1, -1):
        dh = DH[t]
        np.add(D[t], dh_rec, out=dh)
        s, da = act[t], DXW[t]
        if cell == "lstm":
            i, fg, g, o = s[:H], s[H : 2 * H], s[2 * H : 3 * H], s[3 * H :]
            dai, daf, dag, dao = da[:H], da[H : 2 * H], da[2 * H : 3 * H], da[3 * H :]
            c_prev = cs[t - 1] if t > 0 else zero
            tc = f["tc"][t]  # tanh(c_t) from the forward pass, as autograd saves it
            dc = DC[t]
            np.multiply(tc, tc, out=dc)  # dc = dh * o * (1 - tanh(c)^2) + dc_next
            np.subtract(one, dc, out=dc)
            dc *= o
            dc *= dh
            dc += dc_next
            np.multiply(dh, tc, out=dao)  # do, then through the sigmoid: * o * (1 - o)
            np.subtract(one, o, out=tmp)
            tmp *= o
            dao *= tmp
            np.multiply(dc, g, out=dai)  # di * i * (1 - i)
            np.subtract(one, i, out=tmp)
            tmp *= i
            dai *= tmp
            np.multiply(dc, c_prev, out=daf)  # df * f * (1 - f)
            np.subtract(one, fg, out=tmp)
            tmp *= fg
            daf *= tmp
            np.multiply(dc, i, out=dag)  # dg * (1 - g^2)
            np.multiply(g, g, out=tmp)
            np.subtract(one, tmp, out=tmp)
            dag *= tmp
            np.multiply(dc, fg, out=dc_next)
            np.dot(da, W, out=dh_rec)
        elif cell == "gru":
            r, z, n = s[:H], s[H : 2 * H], s[2 * H :]
            dar, daz, dan = da[:H], da[H : 2 * H], da[2 * H :]
            h_prev = hs[t - 1] if t > 0 else zero
            hn = f["hw"][t, 2 * H :]
            np.subtract(one, z, out=dan)  # dn = dh * (1 - z), then through tanh: * (1 - n^2)
            dan *= dh
            np.multiply(n, n, out=tmp)
            np.subtract(one, tmp, out=tmp)
            dan *= tmp
            np.subtract(h_prev, n, out=daz)  # dz = dh * (h_prev - n), then * z * (1 - z)
            daz *= dh
            np.subtract(one, z, out=tmp)
            tmp *= z
            daz *= tmp
            np.multiply(dan, hn, out=dar)  # dr = da_n * h_n, then * r * (1 - r)
            np.subtract(one, r, out=tmp)
            tmp *= r
            dar *= tmp
            dhw = da.copy()  # gradient of h W_hh^T + b_hh: [da_r, da_z, da_n * r]
            dhw[2 * H :] *= r
            np.dot(dhw, W, out=dh_rec)
            np.multiply(dh, z, out=tmp)
            dh_rec += tmp
        else:
            np.multiply(hs[t], hs[t], out=da)  # da = dh * (1 - h^2)
            np.subtract(one, da, out=da)
            da *= dh
            np.dot(da, W, out=dh_rec)
    return DH, DC, DXW


def _blocks(a: np.ndarray, H: int) -> list[np.ndarray]:
    """(T, G*H) -> G contiguous (T, H) arrays, one per gate."""
    return [np.ascontiguousarray(a[:, j * H : (j + 1) * H]) for j in range(a.shape[1] // H)]


def _norms(a: np.ndarray) -> np.ndarray:
    return np.sqrt(np.square(a, dtype=np.float64).sum(1))


def trace_fast(model: SeqModel, task: Task, batch: Batch, grads: bool = True) -> Trace:
    """Drop-in for `lstm_core.trace.trace` (same arguments, same Trace)."""
    cell = model.cfg.cell
    dev = next(model.parameters()).device
    x, y = batch.x[:1].to(dev), batch.y[:1].to(dev)
    with torch.no_grad():
        inp = model.encode(x)[0]  # (T, I)
    X, fwd, weights = inp, [], []
    for k in range(len(model.rnn)):
        w = model.recurrent_weights(k)
        f = forward_layer(cell, X, w["W_ih"], w["W_hh"], w["b_ih"], w["b_hh"])
        fwd.append(f)
        weights.append(w)
        X = torch.from_numpy(f["h"]).to(dev)  # (T, H) input of the next layer
    top = X.detach().requires_grad_(grads)
    with torch.set_grad_enabled(grads):
        out = model.readout(top).unsqueeze(0)  # (1, T, O)
        loss = task.loss(out, y)
        D = torch.autograd.grad(loss, top)[0].cpu().numpy() if grads else None  # direct readout path

    names = CELLS[cell].gates
    layers: list[LayerTrace | None] = [None] * len(fwd)
    for k in range(len(fwd) - 1, -1, -1):
        f = fwd[k]
        H = f["h"].shape[1]
        acts, pres = _blocks(f["act"], H), _blocks(f["pre"], H)
        if cell == "lstm":
            g = dict(zip(("i", "f", "g", "o"), acts, strict=True)) | {"c": f["c"]}
            p = dict(zip(("i", "f", "g", "o"), pres, strict=True))
        elif cell == "gru":
            g, p = dict(zip(names, acts, strict=True)), dict(zip(names, pres, strict=True))
        else:
            g, p = {}, {"h": pres[0]}
        gh = gc = None
        if grads:
            DH, DC, DXW = backward_layer(cell, f, D, weights[k]["W_hh"])
            gh = _norms(DH)
            gc = _norms(DC) if DC is not None else None
            if k > 0:
                D = DXW @ _np(weights[k]["W_ih"])  # (T, H): dL/dh of the layer below, through this layer
        layers[k] = LayerTrace(h=f["h"], gates=g, pre=p, grad_h=gh, grad_c=gc)

    out_np = out[0].detach().cpu().numpy()
    if task.tokens_out:
        preds = tuple(task.out_symbol(int(k)) for k in out_np.argmax(-1))
    else:
        preds = tuple(f"{v:.2f}" for v in out_np.reshape(-1))
    return Trace(
        cell=cell,
        x=inp.cpu().numpy().astype(np.float32),
        tokens=tuple(task.token_labels(batch.x[0])),
        targets=tuple(task.target_labels(batch.y[0])),
        output=out_np,
        predictions=preds,
        loss=float(loss.item()),
        layers=tuple(layers),
    )


def compare(a: Trace, b: Trace) -> tuple[float, float]:
    """(max abs diff of states, gates, pre-activations, outputs; max diff of gradient norms / largest norm)."""
    d, dg = float(np.abs(a.output - b.output).max()), 0.0
    for la, lb in zip(a.layers, b.layers, strict=True):
        d = max(d, float(np.abs(la.h - lb.h).max()))
        for key in la.gates:
            d = max(d, float(np.abs(la.gates[key] - lb.gates[key]).max()))
        for key in la.pre:
            d = max(d, float(np.abs(la.pre[key] - lb.pre[key]).max()))
        for ga, gb in ((la.grad_h, lb.grad_h), (la.grad_c, lb.grad_c)):
            if ga is not None:
                dg = max(dg, float(np.abs(ga - gb).max() / max(np.abs(ga).max(), 1e-30)))
    return d, dg


def main(argv: list[str] | None = None) -> int:
    import argparse
    import statistics
    import time

    from lstm_core.config import ModelConfig, TaskConfig
    from lstm_core.models import build_model
    from lstm_core.tasks import make_task
    from lstm_core.trace import trace
    from lstm_core.train import configure_torch

    p = argparse.ArgumentParser(description="current trace() vs this proposal: speed and exactness")
    p.add_argument("--steps", type=int, default=200, help="sequence length T")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--init-scale", type=float, default=1.0)
    p.add_argument("--rounds", type=int, default=7)
    a = p.parse_args(argv)
    configure_torch(1)
    task = make_task(TaskConfig(name="recall", lag=a.steps - 1))
    print("| cell | grads | current ms | proposal ms | speed-up | max abs diff | grad-norm rel diff |")
    print("| ---- | ----- | ---------- | ----------- | -------- | ------------ | ------------------ |")
    for cell in ("lstm", "gru", "rnn"):
        model = build_model(ModelConfig(cell=cell, hidden=a.hidden, layers=a.layers, init_scale=a.init_scale),
                            task, 0)
        b = task.display(0)
        for grads in (False, True):
            ref, new = trace(model, task, b, grads=grads), trace_fast(model, task, b, grads=grads)
            d, dg = compare(ref, new)
            tc, tn = [], []
            for _ in range(a.rounds):  # alternate to cancel drift
                t0 = time.perf_counter()
                trace(model, task, b, grads=grads)
                t1 = time.perf_counter()
                trace_fast(model, task, b, grads=grads)
                t2 = time.perf_counter()
                tc.append(t1 - t0)
                tn.append(t2 - t1)
            mc, mn = statistics.median(tc) * 1e3, statistics.median(tn) * 1e3
            ratio = statistics.median([c / n for c, n in zip(tc, tn, strict=True)])
            dg_s = f"{dg:.1e}" if grads else "-"
            print(f"| {cell} | {grads} | {mc:.1f} | {mn:.1f} | {ratio:.1f}x | {d:.1e} | {dg_s} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

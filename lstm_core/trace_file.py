"""The trace file contract of `python -m lstm_core trace` (DESIGN.md), shared by the command line and the app's
Export page: one sequence's arrays as `.npz`, or in long form as CSV.

Arrays, all from the first layer with a zero initial state: `x` (T, input_size) float32, the exact input of the
first recurrent layer; `h` (T, H); the cell's gates (LSTM i, f, g, o, c; GRU r, z, n; each (T, H)); `grad_h` (T,)
= ‖dL/dh_t‖, the total derivative through time; for the LSTM `grad_c` (T,); `tokens` (T,) strings.

The newer cells keep these names and add their own (the cell registry's `gates` and `pairs`): the peephole LSTM
`pi`, `pf`, `po` (T, H), the peephole terms, and `grad_c`; the bidirectional LSTM its left-to-right direction under
the LSTM's names, its right-to-left one as `i_rev` .. `c_rev`, `h_rev` (T, H), with `grad_c`, `grad_h_rev` and
`grad_c_rev` (T,); RNN + attention `ctx` (T, H) and the time x time `a` (attention weights) and `e` (scores)
(T, T): row t is the step that reads, column s the step read; above the diagonal a is 0 and e NaN. In the CSV
the `unit` column of a and e holds s.
Torch-free: made from a `views.Trace`.
"""

from __future__ import annotations

import csv
import io
from typing import TextIO

import numpy as np

from .cells import CELLS
from .views import Trace


def trace_arrays(tr: Trace, cell: str | None = None) -> dict[str, np.ndarray]:
    """The arrays of the trace contract (DESIGN.md), first layer: x (T, input_size) float32, h (T, H), grad_h (T,),
    tokens (T,) strings, then the gates (LSTM i, f, g, o, c; GRU r, z, n; each (T, H)), grad_c (T,) where the cell
    has a cell state, the other gradient norms (grad_h_rev, grad_c_rev) and the time x time arrays (a, e).
    The order is the CSV's row order."""
    cell = cell or tr.cell
    if cell != tr.cell:
        raise ValueError(f"the trace is of a {tr.cell}, not a {cell}.")
    if tr.grad_h is None:
        raise ValueError("the trace has no gradients; trace it with grads=True.")
    first = tr.layers[0]
    arrays = {"x": tr.x.astype(np.float32), "h": tr.h, "grad_h": tr.grad_h, "tokens": np.array(tr.tokens)}
    for name in CELLS[cell].gates:
        arrays[name] = first.gates[name]
    if tr.grad_c is not None:
        arrays["grad_c"] = tr.grad_c
    for name, g in first.grads.items():
        arrays[f"grad_{name}"] = g
    for name in CELLS[cell].pairs:
        arrays[name] = first.pairs[name]
    return arrays


def write_trace_csv_rows(f: TextIO, arrays: dict[str, np.ndarray]) -> None:
    """Long form: a header, then one row per (quantity, t, unit) with the token at t; 7 significant digits."""
    tokens = arrays["tokens"]
    w = csv.writer(f)
    w.writerow(["quantity", "t", "token", "unit", "value"])
    for name, arr in arrays.items():
        if name == "tokens":
            continue
        a2 = arr.reshape(arr.shape[0], -1)
        for t in range(a2.shape[0]):
            for u in range(a2.shape[1]):
                w.writerow([name, t, tokens[t], u, f"{float(a2[t, u]):.7g}"])


def trace_npz_bytes(tr: Trace, cell: str | None = None) -> bytes:
    """The .npz that `python -m lstm_core trace` writes, as bytes (load with `np.load(..., allow_pickle=False)`)."""
    buf = io.BytesIO()
    np.savez(buf, **trace_arrays(tr, cell))
    return buf.getvalue()


def trace_csv_text(tr: Trace, cell: str | None = None) -> str:
    """The long-form CSV that `python -m lstm_core trace --csv` writes, as text (CRLF line ends, as csv writes)."""
    buf = io.StringIO(newline="")
    write_trace_csv_rows(buf, trace_arrays(tr, cell))
    return buf.getvalue()

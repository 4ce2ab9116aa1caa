"""lstm_core.trace_file: the trace files hold exactly the contract's arrays, the CSV is their long form, and the
command line writes the same bytes as the app."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from lstm_core import trace_file as ex
from lstm_core.__main__ import main
from lstm_core.config import ModelConfig, TaskConfig, TrainConfig
from lstm_core.lab import Lab
from lstm_core.runs import load_run, save_run
from lstm_core.trace import trace

CONTRACT = {"lstm": {"x", "h", "i", "f", "g", "o", "c", "grad_h", "grad_c", "tokens"},
            "gru": {"x", "h", "r", "z", "n", "grad_h", "tokens"},
            "rnn": {"x", "h", "grad_h", "tokens"},
            "peephole": {"x", "h", "i", "f", "g", "o", "c", "pi", "pf", "po", "grad_h", "grad_c", "tokens"},
            "bilstm": {"x", "h", "i", "f", "g", "o", "c", "grad_h", "grad_c", "tokens", "i_rev", "f_rev", "g_rev",
                       "o_rev", "c_rev", "h_rev", "grad_h_rev", "grad_c_rev"},
            "attention": {"x", "h", "ctx", "a", "e", "grad_h", "tokens"}}
PAIRS = {"a", "e"}  # time x time
T, H, INPUTS = 7, 6, 5  # recall at lag 6 over 4 symbols: 7 timesteps, one-hot of 4 symbols + '?'


@pytest.fixture(scope="module")
def labs() -> dict[str, Lab]:
    labs = {}
    for cells in (("lstm", "gru", "rnn"), ("peephole", "bilstm", "attention")):
        lab = Lab(TaskConfig(name="recall", lag=6, alphabet=4), TrainConfig(seed=3, steps=50, batch=16, val_every=2),
                  {c: ModelConfig(cell=c, hidden=H) for c in cells})
        lab.advance(4)
        labs |= {c: lab for c in cells}
    return labs


@pytest.fixture(scope="module")
def lab(labs) -> Lab:
    return labs["lstm"]


# -- trace ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", list(CONTRACT))
def test_npz_holds_exactly_the_contract_arrays(labs, cell):
    tr = labs[cell].trace(cell)
    z = np.load(io.BytesIO(ex.trace_npz_bytes(tr, cell)), allow_pickle=False)
    assert set(z.files) == CONTRACT[cell]
    assert z["x"].shape == (T, INPUTS) and z["x"].dtype == np.float32
    np.testing.assert_array_equal(z["x"], tr.x)
    np.testing.assert_array_equal(z["h"], tr.h)
    assert z["h"].shape == (T, H)
    grads = {q for q in CONTRACT[cell] if q.startswith("grad_")}
    for q in CONTRACT[cell] - {"x", "h", "tokens"} - grads - PAIRS:
        assert z[q].shape == (T, H)
        np.testing.assert_array_equal(z[q], tr.layers[0].gates[q])
    for q in CONTRACT[cell] & PAIRS:
        assert z[q].shape == (T, T)
        np.testing.assert_array_equal(z[q], tr.layers[0].pairs[q])
    assert z["grad_h"].shape == (T,) and (z["grad_h"] > 0).all()
    np.testing.assert_array_equal(z["grad_h"], tr.grad_h)
    for q in grads - {"grad_h"}:
        assert z[q].shape == (T,)
        np.testing.assert_array_equal(z[q], tr.grad_c if q == "grad_c" else tr.layers[0].grads[q[5:]])
    assert z["tokens"].dtype.kind == "U" and tuple(z["tokens"]) == tr.tokens and z["tokens"][-1] == "?"


def test_a_trace_of_another_cell_is_refused(lab):
    with pytest.raises(ValueError, match="gru"):
        ex.trace_npz_bytes(lab.trace("lstm"), "gru")


@pytest.mark.parametrize("cell", ["lstm", "gru", "attention"])
def test_csv_is_long_form_and_parses_back(labs, cell):
    """Every array in long form; a time x time array (attention) has s in the `unit` column."""
    tr = labs[cell].trace(cell)
    z = np.load(io.BytesIO(ex.trace_npz_bytes(tr)), allow_pickle=False)
    rows = list(csv.reader(io.StringIO(ex.trace_csv_text(tr, cell), newline="")))
    assert rows[0] == ["quantity", "t", "token", "unit", "value"]
    body = rows[1:]
    widths = {q: (z[q].shape[1] if z[q].ndim == 2 else 1) for q in z.files if q != "tokens"}
    assert len(body) == sum(T * w for w in widths.values())
    got = {q: np.full((T, w), np.nan) for q, w in widths.items()}
    for q, t, token, u, v in body:
        assert token == tr.tokens[int(t)]
        got[q][int(t), int(u)] = float(v)
    for q in widths:
        np.testing.assert_allclose(got[q], z[q].reshape(T, -1), rtol=1e-6, atol=0)


def test_the_command_line_writes_the_same_bytes(tmp_path, lab, capsys):
    """One implementation: `python -m lstm_core trace --csv` and the app's export agree byte for byte."""
    tr = lab.trainers["lstm"]
    save_run(tmp_path / "run", tr.run, tr.model, tr.history)
    out, out_csv = str(tmp_path / "t.npz"), str(tmp_path / "t.csv")
    assert main(["trace", str(tmp_path / "run"), "--out", out, "--csv", out_csv]) == 0
    capsys.readouterr()
    run, task, model, _ = load_run(tmp_path / "run")
    mine = trace(model, task, task.display(run.train.seed))
    assert (tmp_path / "t.csv").read_bytes() == ex.trace_csv_text(mine).encode()
    cli, app = np.load(tmp_path / "t.npz"), np.load(io.BytesIO(ex.trace_npz_bytes(mine)))
    assert cli.files == app.files
    for k in cli.files:
        np.testing.assert_array_equal(cli[k], app[k])



"""lstm_core.cells: the cell registry names, colours and gates every page uses, torch-free, and each cell's
module has the torch code the registry promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lstm_core.cells import CELLS, QUANTITIES, label

ROOT = Path(__file__).resolve().parents[1]


def test_palette_is_okabe_ito_and_one_colour_per_gate():
    assert {n: c.color for n, c in CELLS.items()} == {
        "lstm": "#0072B2", "rnn": "#D55E00", "gru": "#009E73", "peephole": "#56B4E9", "bilstm": "#CC79A7",
        "attention": "#E69F00"}
    assert set(QUANTITIES) == {*"ifgochrzn", "pi", "pf", "po", "ctx", "a", "e", *(q + "_rev" for q in "ifgoch")}
    own = [q.color for q in QUANTITIES.values() if not q.of]
    assert len(set(own)) == len(own)  # every quantity of its own has its own colour
    for q in QUANTITIES.values():  # one that belongs to another has that one's colour, in another dash
        if q.of:
            assert not QUANTITIES[q.of].of and q.color == QUANTITIES[q.of].color and q.dash != QUANTITIES[q.of].dash
    assert len({(q.color, q.dash) for q in QUANTITIES.values()}) == len(QUANTITIES)
    colours = [q.color for q in QUANTITIES.values()] + [c.color for c in CELLS.values()]
    assert all(re.fullmatch(r"#[0-9A-Fa-f]{6}", c) for c in colours)
    assert len({c.color for c in CELLS.values()}) == len(CELLS) == len({c.dash for c in CELLS.values()})


def test_every_cell_names_quantities_the_registry_knows():
    for cell in CELLS.values():
        assert set(cell.gates) <= set(QUANTITIES) and set(cell.panel) == set(cell.quantities)
        assert set(cell.pairs) <= set(QUANTITIES) and not set(cell.pairs) & set(cell.quantities)
        assert cell.quantities[-1] == "h" and cell.about and cell.label
    assert QUANTITIES["f"].range == "gate" and QUANTITIES["g"].range == "tanh" and QUANTITIES["c"].range == "state"
    assert label("rnn") == "vanilla RNN" and label("clipped at 1") == "clipped at 1"
    assert [n for n, c in CELLS.items() if c.reads_future] == ["bilstm"]
    assert [n for n, c in CELLS.items() if c.surgery] == ["lstm", "rnn", "gru"]  # surgery.outputs runs `forward`


@pytest.mark.parametrize("name", list(CELLS))
def test_each_cell_module_has_its_torch_code(name):
    import torch

    cell, impl = CELLS[name], CELLS[name].module()
    assert all(callable(getattr(impl, f)) for f in ("layer", "forward", "backward", "arrays"))
    layer = impl.layer(5, 3)
    assert tuple(layer.weight_hh_l0.shape) == (cell.blocks * 3, 3)
    assert sum(p.numel() for p in layer.parameters()) == cell.layer_params(5, 3)
    assert len(impl.PRE) == cell.blocks
    out, _ = layer(torch.zeros(2, 4, 5))  # (batch, time, input): what it hands up is `width` wide
    assert tuple(out.shape) == (2, 4, cell.width(3))


def test_the_registry_loads_without_torch():
    probe = "import sys, lstm_core.cells, lstm_core.tasks, lstm_core.config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"

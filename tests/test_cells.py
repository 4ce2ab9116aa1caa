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
    assert {n: c.color for n, c in CELLS.items()} == {"lstm": "#0072B2", "rnn": "#D55E00", "gru": "#009E73"}
    assert set(QUANTITIES) == set("ifgochrzn")
    colours = [q.color for q in QUANTITIES.values()]
    assert len(set(colours)) == len(colours)
    assert all(re.fullmatch(r"#[0-9A-Fa-f]{6}", c) for c in colours + [c.color for c in CELLS.values()])
    assert len({c.dash for c in CELLS.values()}) == len(CELLS)  # a second cue besides colour


def test_every_cell_names_quantities_the_registry_knows():
    for cell in CELLS.values():
        assert set(cell.gates) <= set(QUANTITIES) and set(cell.panel) == set(cell.quantities)
        assert cell.quantities[-1] == "h" and cell.about and cell.label
    assert QUANTITIES["f"].range == "gate" and QUANTITIES["g"].range == "tanh" and QUANTITIES["c"].range == "state"
    assert label("rnn") == "vanilla RNN" and label("clipped at 1") == "clipped at 1"


@pytest.mark.parametrize("name", list(CELLS))
def test_each_cell_module_has_its_torch_code(name):
    impl = CELLS[name].module()
    assert all(callable(getattr(impl, f)) for f in ("layer", "forward", "backward", "arrays"))
    layer = impl.layer(5, 3)
    assert tuple(layer.weight_hh_l0.shape) == (CELLS[name].blocks * 3, 3)
    assert sum(p.numel() for p in layer.parameters()) == CELLS[name].layer_params(5, 3)
    assert len(impl.PRE) == CELLS[name].blocks


def test_the_registry_loads_without_torch():
    probe = "import sys, lstm_core.cells, lstm_core.tasks, lstm_core.config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"

"""Figure builders: every chart is checked on the values it draws, on real traces of tiny trained models."""

from __future__ import annotations

import ast
import dataclasses
import html
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstm_core import ModelConfig, RunConfig, TaskConfig, TrainConfig, Trainer
from lstm_core import figures as F
from lstm_core.cells import CELLS, QUANTITIES
from lstm_core.trace import trace

SRC = Path(F.__file__)


def _trained(cell: str, hidden: int = 8, lag: int = 12, steps: int = 3) -> Trainer:
    tr = Trainer(RunConfig(TaskConfig(name="recall", lag=lag), ModelConfig(cell=cell, hidden=hidden),
                           TrainConfig(steps=steps, val_every=2)))
    list(tr.steps())
    return tr


@pytest.fixture(scope="module")
def trainers() -> dict[str, Trainer]:
    return {cell: _trained(cell) for cell in ("lstm", "rnn", "gru")}


@pytest.fixture(scope="module")
def traces(trainers):
    return {cell: trace(tr.model, tr.task, tr.task.display(0)) for cell, tr in trainers.items()}


def _with_layer(t, **changes):
    """A copy of trace t whose first layer has some fields replaced."""
    return dataclasses.replace(t, layers=(dataclasses.replace(t.layers[0], **changes), *t.layers[1:]))


def _texts(fig) -> list[str]:
    return [a.text for a in fig.layout.annotations]


# -- the module's boundaries and palette ------------------------------------------------------------------------
def test_module_imports_plotly_and_numpy_but_never_streamlit_or_torch_at_run_time():
    tree = ast.parse(SRC.read_text(encoding="utf-8"))
    assert ast.get_docstring(tree)
    runtime = set()
    for node in tree.body:  # top level only: imports under `if TYPE_CHECKING:` are type hints
        if isinstance(node, ast.Import):
            runtime |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            runtime.add((node.module or "").split(".")[0] if node.level == 0 else "." + (node.module or ""))
    assert {"plotly", "numpy"} <= runtime
    assert not runtime & {"streamlit", "torch"}
    assert {m for m in runtime if m.startswith(".")} <= {".cells"}  # the registry's words and colours only
    probe = "import sys, lstm_core.figures; print('streamlit' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=SRC.parent.parent)
    assert out.stdout.strip() == "False False"


def test_fixed_scales_per_quantity_and_blue_means_positive():
    for q in "ifroz":
        assert (F.SCALES[q].zmin, F.SCALES[q].zmax) == (0.0, 1.0)
    for q in "gnh":
        assert (F.SCALES[q].zmin, F.SCALES[q].zmax) == (-1.0, 1.0)
    assert (F.SCALES["c"].zmin, F.SCALES["c"].zmax) == (-3.0, 3.0)
    lo = re.findall(r"\d+", F.DIVERGING[0][1])
    hi = re.findall(r"\d+", F.DIVERGING[-1][1])
    assert int(lo[0]) > int(lo[2]) and int(hi[2]) > int(hi[0])  # lowest red, highest blue


# -- 1. training curves ------------------------------------------------------------------------------------------
def test_training_curves_draw_record_values_per_model(trainers):
    hist = {c: tr.history for c, tr in trainers.items()}
    fig = F.training_curves(hist, "loss", title="loss")
    assert [d.name for d in fig.data] == ["LSTM", "vanilla RNN", "GRU"]
    for d, (cell, tr) in zip(fig.data, trainers.items(), strict=True):
        np.testing.assert_array_equal(d.x, [r.step for r in tr.history])
        np.testing.assert_allclose(d.y, [r.loss for r in tr.history])
        assert d.line.color == CELLS[cell].color
    assert fig.layout.xaxis.title.text == "training step"
    assert fig.layout.yaxis.type == "linear"


def test_training_curves_skip_none_draw_baseline_and_log_axis(trainers):
    hist = {"lstm": trainers["lstm"].history}
    fig = F.training_curves(hist, "val_metric", baseline=0.125, baseline_label="chance = 1/8", log_y=True,
                            y_title="accuracy")
    want = [(r.step, r.val_metric) for r in trainers["lstm"].history if r.val_metric is not None]
    assert 0 < len(want) < len(trainers["lstm"].history)
    np.testing.assert_array_equal(fig.data[0].x, [s for s, _ in want])
    np.testing.assert_allclose(fig.data[0].y, [v for _, v in want])
    line = fig.layout.shapes[0]
    assert line.y0 == line.y1 == 0.125 and line.line.dash == "dash"
    assert "chance = 1/8" in _texts(fig)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.title.text == "accuracy"


def test_training_curves_smoothing_is_a_trailing_mean_over_faint_raw_values():
    recs = [{"step": k + 1, "loss": float(v)} for k, v in enumerate([1.0, 3.0, 8.0, 0.0, 10.0])]
    fig = F.training_curves({"rnn": recs}, "loss", smooth=2)
    raw, smooth = fig.data
    np.testing.assert_allclose(raw.y, [1, 3, 8, 0, 10])
    np.testing.assert_allclose(smooth.y, [1, 2, 5.5, 4, 5])
    assert raw.showlegend is False and raw.opacity < 1 and smooth.name == "vanilla RNN"


def test_long_runs_are_drawn_as_means_of_consecutive_steps_and_the_axis_says_so():
    x = np.arange(1, 10_001)
    y = np.zeros(10_000)
    y[4321] = 1000.0  # one spike at step 4322
    xs, ys, k = F.thin(x, y, 2000)
    assert k == 5 and len(xs) == 2000 and xs[-1] == 10_000  # the newest step is always drawn
    np.testing.assert_allclose(ys.sum() * k, y.sum())  # nothing lost, the spike is spread over its bucket
    assert ys.max() == 200.0 and xs[ys.argmax()] == 4325
    x7, y7, k7 = F.thin(np.arange(7), np.arange(7.0), 3)  # a shorter last bucket
    assert k7 == 3 and list(x7) == [2, 5, 6] and list(y7) == [1.0, 4.0, 6.0]
    assert F.thin(x[:2000], y[:2000], 2000)[2] == 1
    recs = [{"step": int(s), "loss": float(v)} for s, v in zip(x, y, strict=True)]
    fig = F.training_curves({"lstm": recs, "rnn": recs[:1500]}, "loss")
    assert [len(d.x) for d in fig.data] == [2000, 1500]
    assert "mean of 5 steps" in fig.layout.xaxis.title.text and "mean of 5 steps" in fig.data[0].hovertemplate
    assert "mean" not in fig.data[1].hovertemplate


def test_series_keyed_by_other_names_keep_their_name_and_get_distinct_colours():
    recs = [{"step": 1, "grad_norm": 2.0}, {"step": 2, "grad_norm": 50.0}]
    fig = F.training_curves({"no clipping": recs, "clipped at 1": recs}, "grad_norm", log_y=True)
    assert [d.name for d in fig.data] == ["no clipping", "clipped at 1"]
    assert len({d.line.color for d in fig.data} | {c.color for c in CELLS.values()}) == len(CELLS) + 2
    assert F._model("LSTM (chrono)", "lstm")[:2] == ("LSTM (chrono)", CELLS["lstm"].color)
    ticks = list(fig.layout.yaxis.ticktext)  # full-size 1-2-5 ticks on a short log axis, not plotly's tiny digits
    assert {"2", "5", "10", "20", "50"} <= set(ticks) and all(t.lstrip("0.")[0] in "125" for t in ticks)


@pytest.fixture(scope="module")
def long_traces():
    """Untrained LSTM and attention models read a sequence of 602 timesteps (recall at lag 600)."""
    out = {}
    for cell in ("lstm", "attention"):
        tr = Trainer(RunConfig(TaskConfig(name="recall", lag=600), ModelConfig(cell=cell, hidden=4),
                               TrainConfig(steps=1)))
        out[cell] = trace(tr.model, tr.task, tr.task.display(0))
    return out


def test_long_sequences_draw_every_kth_timestep_with_its_exact_values(long_traces):
    t = long_traces["lstm"]
    T = t.steps
    assert T > F.MAX_COLUMNS
    cols = F.columns(T, keep=301)
    k = math.ceil(T / F.MAX_COLUMNS)
    assert set(range(0, T, k)) | {T - 1, 301} == set(cols.tolist()) and len(cols) <= F.MAX_COLUMNS + 2
    fig = F.gate_heatmap(t, "f", highlight_t=301)
    hm = fig.data[0]
    assert list(hm.x) == cols.tolist()  # the real timesteps, not renumbered columns
    np.testing.assert_array_equal(hm.z, t.layers[0].gates["f"][cols].T)  # exact values, no averaging
    assert [c[0] for c in hm.customdata[0]] == [F.token_label(t.tokens[c]) for c in cols]
    assert F.steps_note(T) == f"every {k}rd of {T:,} timesteps drawn" and F.steps_note(T) in fig.layout.title.text
    panel = F.gate_panel(t, ["i", "c"], highlight_t=301)
    assert all(list(d.x) == cols.tolist() for d in panel.data) and "timesteps drawn" in panel.layout.title.text
    np.testing.assert_array_equal(panel.data[1].z, t.layers[0].gates["c"][cols].T)
    short = F.gate_heatmap(long_traces["lstm"], "f")
    assert len(short.data[0].x) <= F.MAX_COLUMNS + 1  # without an outlined step: every k-th and the last
    a = long_traces["attention"]
    amap = F.attention_map(a, "a", highlight_t=301)
    acols = F.columns(a.steps, keep=301)
    assert list(amap.data[0].x) == acols.tolist() == list(amap.data[0].y)
    full = a.layers[0].pairs["a"]
    assert amap.data[0].z[5][3] == pytest.approx(full[acols[5], acols[3]])
    assert "timesteps drawn" in amap.layout.title.text


def test_short_sequences_draw_every_timestep(traces):
    t = traces["lstm"]
    assert F.columns(t.steps, keep=3).tolist() == list(range(t.steps))
    assert "timesteps drawn" not in F.gate_heatmap(t, "f").layout.title.text


# -- 2-4. gates --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("q", ["i", "f", "g", "o", "c", "h"])
def test_gate_heatmap_is_unit_by_time_on_the_fixed_scale(traces, q):
    t = traces["lstm"]
    fig = F.gate_heatmap(t, q)
    hm = fig.data[0]
    arr = t.h if q == "h" else t.layers[0].gates[q]
    np.testing.assert_array_equal(hm.z, arr.T)  # z[unit][t]
    assert hm.z[3][5] == arr[5, 3]
    assert (hm.zmin, hm.zmax) == (F.SCALES[q].zmin, F.SCALES[q].zmax)
    assert hm.customdata[0][0][0] == t.tokens[0] and hm.customdata[-1][-1][0] == t.tokens[-1]
    assert int(hm.customdata[3][5][1]) == 3  # the unit, for the hover
    assert "%{customdata[0]}" in hm.hovertemplate and "%{z:.4f}" in hm.hovertemplate
    assert fig.layout.xaxis.ticktext[0] == t.tokens[0] and fig.layout.xaxis.ticktext[-1] == "?"
    assert fig.layout.yaxis.title.text == "hidden unit" and "timestep" in fig.layout.xaxis.title.text


def test_gate_heatmap_gru_and_rnn_quantities_and_errors(traces):
    np.testing.assert_array_equal(F.gate_heatmap(traces["gru"], "z").data[0].z, traces["gru"].layers[0].gates["z"].T)
    np.testing.assert_array_equal(F.gate_heatmap(traces["rnn"], "h").data[0].z, traces["rnn"].h.T)
    with pytest.raises(ValueError, match="allowed: h"):
        F.gate_heatmap(traces["rnn"], "f")
    with pytest.raises(ValueError, match="layer"):
        F.gate_heatmap(traces["lstm"], "f", layer=1)


def test_gate_heatmap_highlight_and_unit_cap(traces):
    fig = F.gate_heatmap(traces["lstm"], "f", highlight_t=4, max_units=3)
    assert fig.data[0].z.shape == (3, traces["lstm"].steps)
    (rect,) = fig.layout.shapes
    assert (rect.x0, rect.x1, rect.yref) == (3.5, 4.5, "paper")
    assert "t = 4" in "".join(_texts(fig))
    assert "first 3 of 8 units" in fig.layout.title.text


def test_data_tokens_are_escaped_and_whitespace_made_visible(traces):
    t = dataclasses.replace(traces["lstm"], tokens=("<b>", "\n", " ", *traces["lstm"].tokens[3:]))
    fig = F.gate_heatmap(t, "c")
    assert list(fig.layout.xaxis.ticktext[:3]) == ["&lt;b&gt;", "↵", "␣"]
    assert fig.data[0].customdata[0][0][0] == "&lt;b&gt;"


def test_long_sequences_thin_the_tick_labels_but_keep_first_and_last():
    ticks = F._token_ticks(["a"] * 300)
    assert ticks["tickvals"][0] == 0 and ticks["tickvals"][-1] == 299
    assert 10 <= len(ticks["tickvals"]) <= 80
    assert len(F._token_ticks(["ab"] * 13)["tickvals"]) == 13


def test_gate_panel_stacks_heatmaps_each_with_its_own_scale_and_bar(traces):
    t = traces["lstm"]
    qs = ["f", "i", "c"]
    fig = F.gate_panel(t, qs, highlight_t=2)
    assert len(fig.data) == 3
    for d, q in zip(fig.data, qs, strict=True):
        np.testing.assert_array_equal(d.z, t.layers[0].gates[q].T)
        assert (d.zmin, d.zmax) == (F.SCALES[q].zmin, F.SCALES[q].zmax)
    assert len({d.colorbar.y for d in fig.data}) == 3
    assert fig.layout.xaxis.matches == "x3" or fig.layout.xaxis2.matches == fig.layout.xaxis.matches
    assert "forget gate f (0 = drop, 1 = keep)" in _texts(fig)
    assert [s.yref for s in fig.layout.shapes] == ["y domain", "y2 domain", "y3 domain"]
    assert all((s.x0, s.x1) == (1.5, 2.5) for s in fig.layout.shapes)
    # one time axis: each heatmap on its own row, rows top to bottom without overlap, the x axes matched to the
    # bottom one, which alone has tick labels and the title; each colour bar as tall as its row, each row's title
    # left-aligned just above it
    lay = fig.layout
    rows = [lay[f"yaxis{k if k > 1 else ''}"].domain for k in (1, 2, 3)]
    assert rows[0][1] == 1.0 and rows[2][0] == 0.0 and rows[0][0] > rows[1][1] > rows[1][0] > rows[2][1]
    assert [(d.xaxis, d.yaxis) for d in fig.data] == [("x", "y"), ("x2", "y2"), ("x3", "y3")]
    assert (lay.xaxis.matches, lay.xaxis2.matches, lay.xaxis3.matches) == ("x3", "x3", None)
    assert (lay.xaxis.showticklabels, lay.xaxis2.showticklabels, lay.xaxis3.showticklabels) == (False, False, None)
    assert lay.xaxis3.title.text == "timestep t (input token)" and lay.xaxis.title.text is None
    assert all(lay[f"yaxis{k}"].autorange == "reversed" for k in ("", "2", "3"))
    for d, (lo, hi) in zip(fig.data, rows, strict=True):
        assert d.colorbar.len == pytest.approx(hi - lo) and d.colorbar.y == pytest.approx((lo + hi) / 2)
    titles = [a for a in lay.annotations if a.text in {F._title(q) for q in qs}]
    assert [a.text for a in titles] == [F._title(q) for q in qs]
    assert all(a.xanchor == "left" and a.x == 0 and a.yanchor == "bottom" for a in titles)
    assert [a.y for a in titles] == [hi for _, hi in rows]
    # a row is about 200 px tall: a short axis title, and with the rows reordered at most 8 unit labels each
    assert lay.yaxis.title.text == "unit"
    wide = _trained("lstm", hidden=32)
    wide_trace = trace(wide.model, wide.task, wide.task.display(0))
    H = wide_trace.h.shape[1]
    ordered = F.gate_panel(wide_trace, qs, units=list(range(H))[::-1])
    assert ordered.layout.yaxis2.title.text == "unit, memory first"
    assert 0 < len(ordered.layout.yaxis2.ticktext) <= 8 and ordered.layout.yaxis2.ticktext[0] == str(H - 1)


def test_unit_lines_show_every_quantity_of_one_unit_in_gate_colours(traces):
    t = traces["lstm"]
    fig = F.unit_lines(t, unit=2, highlight_t=3)
    assert [d.name for d in fig.data] == [QUANTITIES[q].label for q in "ifgoch"]
    for d, q in zip(fig.data, "ifgoch", strict=True):
        want = t.h[:, 2] if q == "h" else t.layers[0].gates[q][:, 2]
        np.testing.assert_array_equal(d.y, want)
        assert d.line.color == QUANTITIES[q].color
    assert fig.layout.shapes[0].x0 == 2.5
    assert [d.name for d in F.unit_lines(traces["gru"], 0).data] == [QUANTITIES[q].label for q in "rznh"]
    assert [d.name for d in F.unit_lines(traces["rnn"], 0).data] == ["hidden state h"]
    with pytest.raises(ValueError, match="unit"):
        F.unit_lines(t, unit=8)


# -- 4b. attention ----------------------------------------------------------------------------------------------
def _attending(t):
    """A copy of trace t with time x time arrays as an attention layer has them: each row a distribution over
    s <= t (0 above the diagonal), scores NaN above it."""
    T = t.steps
    e = np.random.default_rng(0).normal(size=(T, T)).astype(np.float32)
    e[np.triu_indices(T, 1)] = np.nan
    a = np.exp(np.nan_to_num(e, nan=-np.inf))
    return _with_layer(t, pairs={"a": (a / a.sum(1, keepdims=True)).astype(np.float32), "e": e})


def test_attention_map_is_reading_step_by_step_read_on_a_fixed_scale_with_the_future_blank(traces):
    t = _attending(traces["rnn"])
    a = t.layers[0].pairs["a"]
    fig = F.attention_map(t, highlight_t=5)
    hm = fig.data[0]
    z = np.asarray(hm.z, dtype=np.float64)
    T = t.steps
    np.testing.assert_array_equal(z[np.tril_indices(T)], a[np.tril_indices(T)])  # z[t][s]
    assert np.isnan(z[np.triu_indices(T, 1)]).all()  # s > t: not read, not drawn
    assert (hm.zmin, hm.zmax) == (0.0, 1.0) and list(hm.customdata[5][2]) == [t.tokens[5], t.tokens[2]]
    assert fig.layout.yaxis.autorange == "reversed" and "reads" in fig.layout.yaxis.title.text
    assert fig.layout.xaxis.ticktext[-1] == "?" and fig.layout.yaxis.ticktext[-1] == "?"
    (row,) = fig.layout.shapes
    assert (row.y0, row.y1, row.x0, row.x1) == (4.5, 5.5, -0.5, 5.5)
    e = F.attention_map(t, "e")
    assert (e.data[0].zmin, e.data[0].zmax) == (F.SCALES["e"].zmin, F.SCALES["e"].zmax)
    assert e.layout.title.text == QUANTITIES["e"].title
    with pytest.raises(ValueError, match="time x time"):
        F.attention_map(traces["lstm"])


def test_attention_row_draws_where_one_step_looks(traces):
    t = _attending(traces["rnn"])
    a = t.layers[0].pairs["a"]
    fig = F.attention_row(t, 7)
    (bars,) = fig.data
    np.testing.assert_array_equal(bars.y, a[7, :8])
    assert list(bars.customdata) == list(t.tokens[:8]) and bars.marker.color == QUANTITIES["a"].color
    top = int(a[7, :8].argmax())
    assert f"on s = {top}" in "".join(_texts(fig)) and "t = 7" in fig.layout.title.text
    assert tuple(fig.layout.yaxis.range) == (0, 1.15)
    with pytest.raises(ValueError, match="t must be"):
        F.attention_row(t, t.steps)


def test_gradient_curves_draw_both_directions_of_a_bidirectional_layer(traces):
    t = traces["lstm"]
    both = _with_layer(t, grads={"h_rev": t.grad_h[::-1].copy(), "c_rev": t.grad_c[::-1].copy()})
    by_name = {d.name: d for d in F.gradient_curves({"lstm": both}).data}
    assert len(by_name) == 4
    rev = by_name["LSTM ‖dL/dh<sub>t</sub>‖, right to left"]
    np.testing.assert_allclose(rev.y, t.grad_h[::-1])
    assert rev.line.dash == "dot" and by_name["LSTM ‖dL/dc<sub>t</sub>‖, right to left"].line.dash == "dashdot"
    assert len(F.gradient_curves({"lstm": both}, include_c=False).data) == 2


# -- 5-6. gradients ----------------------------------------------------------------------------------------------
def test_gradient_curves_log_axis_per_model_and_dashed_cell_gradient(traces):
    fig = F.gradient_curves(traces, highlight_t=1)
    assert fig.layout.yaxis.type == "log" and "log scale" in fig.layout.yaxis.title.text
    by_name = {d.name: d for d in fig.data}
    assert len(by_name) == 4  # h for three models, c for the LSTM
    for cell, t in traces.items():
        d = by_name[f"{CELLS[cell].label} ‖dL/dh<sub>t</sub>‖"]
        np.testing.assert_allclose(d.y, t.grad_h)
        assert d.line.color == CELLS[cell].color
    c = by_name["LSTM ‖dL/dc<sub>t</sub>‖"]
    np.testing.assert_allclose(c.y, traces["lstm"].grad_c)
    assert c.line.dash == "dash"
    assert len(F.gradient_curves(traces, include_c=False).data) == 3


def test_gradient_curves_floor_vanished_gradients_and_say_so(traces):
    g = traces["rnn"].grad_h.copy()
    g[:4] = 0.0
    fig = F.gradient_curves({"rnn": _with_layer(traces["rnn"], grad_h=g)})
    y = np.asarray(fig.data[0].y)
    assert (y > 0).all() and (y[:4] == F.GRAD_FLOOR).all()
    np.testing.assert_allclose(y[4:], g[4:])
    assert "vanished" in fig.data[0].text[0] and "vanished" not in fig.data[0].text[4]
    assert any("exactly 0" in s for s in _texts(fig))


def test_gradient_curves_need_gradients(trainers):
    tr = trainers["lstm"]
    with pytest.raises(ValueError, match="grads=True"):
        F.gradient_curves({"lstm": trace(tr.model, tr.task, tr.task.display(0), grads=False)})


def test_gradient_history_heatmap_is_log10_on_a_fixed_range():
    grads = np.array([[1e-20, 1e-3, 0.5], [0.0, 1e-6, 2.0]])
    fig = F.gradient_history_heatmap([10, 20], grads)
    hm = fig.data[0]
    np.testing.assert_allclose(hm.z, [[-20, -3, math.log10(0.5)], [-30, -6, math.log10(2.0)]])
    assert (hm.zmin, hm.zmax) == (-12.0, 0.0)
    np.testing.assert_array_equal(hm.y, [10, 20])
    np.testing.assert_array_equal(hm.customdata, grads)
    assert fig.layout.yaxis.title.text == "training step"
    with pytest.raises(ValueError, match="shape"):
        F.gradient_history_heatmap([1], grads)


# -- 7. series ---------------------------------------------------------------------------------------------------
def test_series_overlay_continues_forecasts_after_the_last_timestep():
    t = np.arange(0.0, 10.0, 2.0)
    x = np.sin(t)
    fig = F.series_overlay(t, x[:, None], np.roll(x, -1), {"lstm": x * 0.9, "rnn": x * 0.5},
                           forecast={"lstm": np.array([1.0, 2.0, 3.0])})
    names = [d.name for d in fig.data]
    assert names == ["input", "target", "LSTM prediction", "vanilla RNN prediction", "LSTM forecast"]
    np.testing.assert_allclose(fig.data[0].y, x)
    np.testing.assert_allclose(fig.data[2].y, x * 0.9)
    fc = fig.data[-1]
    np.testing.assert_allclose(fc.x, [10.0, 12.0, 14.0])
    np.testing.assert_allclose(fc.y, [1, 2, 3])
    assert fc.line.dash == "dash" and fc.line.color == CELLS["lstm"].color
    assert fig.layout.xaxis.title.text == "timestep t"


# -- 8. the cell diagram -----------------------------------------------------------------------------------------
def test_cell_diagram_labels_every_part_with_its_real_number(traces):
    t, k, u = traces["lstm"], 5, 1
    lt = traces["lstm"].layers[0]
    v = dict(x=t.tokens[k], h_prev=float(t.h[k - 1, u]), c_prev=float(lt.gates["c"][k - 1, u]), h=float(t.h[k, u]),
             **{f"a_{q}": float(lt.pre[q][k, u]) for q in "ifgo"}, **{q: float(lt.gates[q][k, u]) for q in "ifgoc"})
    fig = F.cell_diagram(v)
    text = " ".join(_texts(fig))
    for key in ("h_prev", "c_prev", "a_i", "a_f", "a_g", "a_o", "i", "f", "g", "o", "c", "h"):
        assert f"{v[key]:.3f}".replace("-", "−") in text, key
    assert f"{v['f'] * v['c_prev']:.3f}".replace("-", "−") in text
    assert f"{v['i'] * v['g']:.3f}".replace("-", "−") in text
    assert f"{math.tanh(v['c']):.3f}".replace("-", "−") in text
    assert abs(v["c"] - (v["f"] * v["c_prev"] + v["i"] * v["g"])) < 1e-5  # the numbers shown are consistent
    boxes = {a.bordercolor for a in fig.layout.annotations if a.bordercolor}
    assert {QUANTITIES[q].color for q in "ifgo"} <= boxes
    assert fig.layout.xaxis.visible is False and not fig.data


def test_cell_diagram_escapes_the_token():
    v = dict.fromkeys(("h_prev", "c_prev", "a_i", "a_f", "a_g", "a_o", "i", "f", "g", "o", "c", "h"), -0.25)
    fig = F.cell_diagram({**v, "x": "<i>"})
    text = " ".join(_texts(fig))
    assert "&lt;i&gt;" in text and "<i>" not in text and "−0.250" in text


# -- 9. text coloured by a unit ----------------------------------------------------------------------------------
def test_text_heat_html_escapes_everything_one_span_per_character():
    chars = list("<script>alert(1)</script>\n&x")
    vals = np.linspace(-2, 2, len(chars))
    out = F.text_heat_html(chars, vals, -1.0, 1.0)
    assert "<script>" not in out and "&lt;" in out and "&gt;" in out and "&amp;" in out
    spans = re.findall(r'<span title="([^"]*)" style="background-color: ([^;]*);[^"]*">(.*?)</span>', out)
    assert len(spans) == len(chars) == out.count("<span")
    assert [html.unescape(s[2]) for s in spans] == [("↵" if c == "\n" else c) for c in chars]
    assert [float(s[0]) for s in spans] == pytest.approx(vals, abs=1e-4)
    assert "↵</span><br>" in out and "monospace" in out
    lo, hi = (re.findall(r"\d+", spans[i][1]) for i in (0, -1))  # beyond the range: saturated red, blue
    assert lo == ["103", "0", "31"] and hi == ["5", "48", "97"]
    with pytest.raises(ValueError, match="length"):
        F.text_heat_html(["a"], np.zeros(2), -1, 1)


# -- 10-11. small summaries --------------------------------------------------------------------------------------
def test_spectral_bar_has_one_bar_per_model_and_the_line_at_one():
    fig = F.spectral_bar({"lstm": 0.8, "rnn": 1.3})
    bar = fig.data[0]
    assert list(bar.x) == ["LSTM", "vanilla RNN"] and list(bar.y) == [0.8, 1.3]
    assert list(bar.marker.color) == [CELLS["lstm"].color, CELLS["rnn"].color]
    assert fig.layout.shapes[0].y0 == fig.layout.shapes[0].y1 == 1.0


def test_sweep_heatmap_success_rate_and_counts():
    rows = [("lstm", 10, 1), ("lstm", 10, 1), ("lstm", 100, 1), ("lstm", 100, 0),
            ("rnn", 10, 1), ("rnn", 10, 0), ("rnn", 100, 0), ("rnn", 100, 0), ("rnn", 100, 0)]
    df = pd.DataFrame([dict(model=m, lag=lag, solved=s, seconds=1.0) for m, lag, s in rows])
    fig = F.sweep_heatmap(df)
    hm = fig.data[0]
    assert list(hm.y) == ["LSTM", "vanilla RNN"] and list(hm.x) == ["10", "100"]
    np.testing.assert_allclose(hm.z, [[1.0, 0.5], [0.5, 0.0]])
    assert [list(r) for r in hm.text] == [["2/2", "1/2"], ["1/2", "0/3"]]
    assert (hm.zmin, hm.zmax) == (0.0, 1.0)


# -- all figures: projector-readable -----------------------------------------------------------------------------
def test_every_figure_is_readable_from_the_back_row(traces, trainers):
    figs = [
        F.training_curves({c: tr.history for c, tr in trainers.items()}, "grad_norm", log_y=True),
        F.gate_heatmap(traces["lstm"], "o"), F.gate_panel(traces["gru"], ["r", "z"]), F.unit_lines(traces["lstm"], 0),
        F.gradient_curves(traces), F.gradient_history_heatmap([1, 2], np.ones((2, 3))),
        F.attention_map(_attending(traces["rnn"])), F.attention_row(_attending(traces["rnn"]), 3),
        F.series_overlay(np.arange(3.0), np.zeros(3), np.zeros(3), {"gru": np.zeros(3)}),
        F.spectral_bar({"gru": 0.5}),
        F.sweep_heatmap(pd.DataFrame(dict(model=["gru"], lag=[5], solved=[1], seconds=[1.0]))),
    ]
    for fig in figs:
        tl = fig.layout.template.layout  # the house template carries the type sizes; a figure may override them
        assert (fig.layout.font.size or tl.font.size) >= 16 and tl.paper_bgcolor == "white"
        for ax, tax in ((fig.layout.xaxis, tl.xaxis), (fig.layout.yaxis, tl.yaxis)):
            assert (ax.tickfont.size or tax.tickfont.size) >= 16
            assert (ax.linewidth or tax.linewidth) >= 2
        assert any(fig.layout[a].title.text for a in fig.layout if a.startswith("xaxis"))
        assert any(fig.layout[a].title.text for a in fig.layout if a.startswith("yaxis"))
        assert all(d.line.width >= 3 for d in fig.data if d.type == "scatter" and d.opacity in (None, 1))


def test_figures_keep_the_house_look_when_something_else_set_plotlys_default_template():
    import plotly.io as pio

    pio.templates.default = "plotly_dark"  # importing Streamlit sets its own theme as the default, like this
    fig = F.training_curves({"lstm": [{"step": 1, "loss": 1.0}]}, "loss", title="loss")
    tl = fig.layout.template.layout
    assert tl.font.size == 18 and tl.paper_bgcolor == "white" and tl.xaxis.linewidth == 2
    assert F.subplots(rows=2, cols=1).layout.template.layout.font.size == 18


# -- 12. the lag race --------------------------------------------------------------------------------------------
def _race_cells():
    from lstm_core.sweep import RaceCell

    nan = float("nan")
    return {
        ("lstm", 10): RaceCell("lstm", 10, (0, 1, 2), (True, True, True), (200, 250, 400), (1e-2, 2e-2, 3e-2),
                               (0.1, 0.2, 0.4)),
        ("lstm", 100): RaceCell("lstm", 100, (0, 1, 2), (True, False, True), (1000, 9000, 1500),
                                (1e-3, 2e-3, 4e-3), (0.01, 0.05, 0.02)),
        ("rnn", 10): RaceCell("rnn", 10, (0, 1, 2), (True, False, False), (300, 4000, 4000), (1e-3, 3e-3, 2e-3),
                              (1e-2, 1e-2, 1e-2)),
        ("rnn", 100): RaceCell("rnn", 100, (0, 1, 2), (False, False, False), (4000, 4000, 4000),
                               (1e-23, 0.0, 2e-23), (0.0, 0.0, 0.0)),
        ("gru", 10): RaceCell("gru", 10, (0,), (False,), (50,), (nan,), (nan,)),  # a task without a cue
    }


def test_race_success_draws_the_share_of_seeds_solved_per_model():
    fig = F.race_success(_race_cells(), ["lstm", "rnn", "gru"], [10, 100])
    by = {d.name: d for d in fig.data}
    assert list(by) == ["LSTM", "vanilla RNN", "GRU"]
    np.testing.assert_allclose(by["LSTM"].y, [1.0, 2 / 3])
    np.testing.assert_allclose(by["vanilla RNN"].y, [1 / 3, 0.0])
    assert [list(c) for c in by["vanilla RNN"].customdata] == [[1, 3], [0, 3]]  # hover: solved of runs
    assert list(by["LSTM"].x) == [10, 100] and fig.layout.xaxis.type == "log"
    assert by["LSTM"].line.color == CELLS["lstm"].color and by["vanilla RNN"].line.color == CELLS["rnn"].color
    assert len({d.marker.symbol for d in fig.data}) == 3  # a second cue besides colour
    assert list(fig.layout.xaxis.ticktext) == ["10", "100"]
    assert fig.layout.shapes[0].y0 == 0.5


def test_race_steps_are_medians_of_the_solved_seeds_with_bars_from_fastest_to_slowest():
    fig = F.race_steps(_race_cells(), ["lstm", "rnn", "gru"], [10, 100])
    by = {d.name: d for d in fig.data}
    lstm = by["LSTM"]
    assert list(lstm.x) == [10, 100]
    np.testing.assert_allclose(lstm.y, [250, 1250])  # lag 100: seeds 0 and 2 solved, (1000 + 1500) / 2
    np.testing.assert_allclose(np.asarray(lstm.y) + lstm.error_y.array, [400, 1500])
    np.testing.assert_allclose(np.asarray(lstm.y) - lstm.error_y.arrayminus, [200, 1000])
    rnn = by["vanilla RNN"]
    assert list(rnn.x) == [10] and list(rnn.y) == [300]  # lag 100: no seed solved, no point
    assert list(by["GRU"].x) == []
    assert fig.layout.yaxis.type == "log" and "bars: fastest to slowest" in fig.layout.title.subtitle.text


def test_race_cue_draws_median_and_range_over_seeds_and_floors_zeros():
    fig = F.race_cue(_race_cells(), ["lstm", "rnn", "gru"], [10, 100])
    panels = {(d.name, d.xaxis): d for d in fig.data}
    start, end = panels[("LSTM", "x")], panels[("LSTM", "x2")]
    np.testing.assert_allclose(start.y, [2e-2, 2e-3])
    np.testing.assert_allclose(np.asarray(start.y) + start.error_y.array, [3e-2, 4e-3])
    np.testing.assert_allclose(np.asarray(start.y) - start.error_y.arrayminus, [1e-2, 1e-3])
    np.testing.assert_allclose(end.y, [0.2, 0.02])
    rnn0, rnn1 = panels[("vanilla RNN", "x")], panels[("vanilla RNN", "x2")]
    np.testing.assert_allclose(rnn0.y, [2e-3, 1e-23])  # the median keeps the seed whose ratio was 0
    np.testing.assert_allclose(rnn0.error_y.arrayminus, np.asarray(rnn0.y) - [1e-3, F.RATIO_FLOOR])  # down to 0
    np.testing.assert_allclose(rnn1.y, [1e-2, F.RATIO_FLOOR])  # all three 0: drawn at the floor
    assert "underflowed" in rnn1.text[1] and "underflowed" not in rnn1.text[0]
    assert list(panels[("GRU", "x")].x) == []  # not measured (NaN): no point
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.matches == "y"
    assert "exactly 0" in fig.layout.title.subtitle.text
    assert list(fig.layout.xaxis.ticktext) == ["10", "100"]
    assert sum(d.showlegend is not False for d in fig.data) == 3  # one legend entry per model


def test_narrow_lag_axes_leave_out_labels_that_would_overlap():
    fig = F.race_cue(_race_cells(), ["lstm"], [5, 10, 15, 20, 50, 100, 150, 200])
    assert list(fig.layout.xaxis.tickvals) == [5, 10, 15, 20, 50, 100, 150, 200]
    assert list(fig.layout.xaxis.ticktext) == ["5", "10", "", "20", "50", "100", "", "200"]
    wide = F.race_success(_race_cells(), ["lstm"], [5, 10, 15, 20, 50, 100, 150, 200])
    assert all(wide.layout.xaxis.ticktext)


def test_race_figures_are_readable_from_the_back_row():
    cells = _race_cells()
    for fig in (F.race_success(cells, ["lstm", "rnn"], [10, 100]), F.race_steps(cells, ["lstm", "rnn"], [10, 100]),
                F.race_cue(cells, ["lstm", "rnn"], [10, 100])):
        tl = fig.layout.template.layout
        assert tl.font.size >= 16 and tl.paper_bgcolor == "white"
        assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
        assert all(d.line.width >= 3 and d.marker.size >= 10 for d in fig.data)
        assert all(d.error_y.thickness >= 2 for d in fig.data if d.error_y.array is not None)

"""Gates page under AppTest: heatmaps hold the trace's values, the scrubber moves the highlight, GRU shows its
gates, pretrained lessons scrub through snapshots, series show input, target and prediction."""

from __future__ import annotations

import numpy as np
from apptest_util import chart, charts, no_exception, open_page
from conftest import remote_lab, small_lab


def settings(task=None, cells=("lstm", "rnn")) -> dict:
    return dict(cells=cells, task=task or {"lag": 10}, model={"hidden": 6},
                train={"seed": 2, "steps": 100, "val_every": 5}, steps=5)


def labs(**kw):
    """(what the page holds, the same run trained in this process)"""
    return remote_lab(**settings(**kw)), small_lab(**settings(**kw))


def heatmaps(fig: dict) -> list[dict]:
    return [t for t in fig["data"] if t["type"] == "heatmap"]


def rows(solo, name: str, step: int | None = None) -> list[int]:
    """The heatmaps' row order on recall: the memory units first (measured on the solo run at that step)."""
    return list(solo.memory_units(name, step).order)


def test_heatmaps_hold_the_trace_values_and_the_scrubber_moves():
    lab, solo = labs()
    at = open_page("pages/gates.py", {"lab": lab})
    no_exception(at)
    tr = solo.trace("lstm")
    hms = heatmaps(chart(at, "gt_panel"))
    assert len(hms) == 6  # f, i, g, o, c, h
    z = np.asarray(hms[0]["z"], dtype=float)  # forget gate, units down, time across
    np.testing.assert_allclose(z, tr.layers[0].gates["f"].T[rows(solo, "lstm")], atol=1e-6)
    shapes_before = chart(at, "gt_panel")["layout"].get("shapes", [])
    at.slider(key="gt_t").set_value(3).run()
    no_exception(at)
    shapes = chart(at, "gt_panel")["layout"].get("shapes", [])
    assert shapes != shapes_before
    assert any(abs(s.get("x0", -9) - 2.5) < 1e-9 or s.get("x0") == 3 for s in shapes)
    assert any("At t = 3" in m.value for m in at.markdown)


def test_choosing_gru_shows_its_gates():
    lab, solo = labs(cells=("lstm", "rnn", "gru"))
    at = open_page("pages/gates.py", {"lab": lab})
    at.radio(key="gt_model").set_value("gru").run()
    no_exception(at)
    assert set(at.multiselect(key="gt_q_gru").value) == {"z", "r", "n", "h"}
    hms = heatmaps(chart(at, "gt_panel"))
    np.testing.assert_allclose(np.asarray(hms[0]["z"], dtype=float),
                               solo.trace("gru").layers[0].gates["z"].T[rows(solo, "gru")], atol=1e-6)
    assert "gt_h_gru" in [el.key for el in at.get("plotly_chart")]


def test_pretrained_lesson_scrubs_through_snapshots():
    from lstm_core.lessons import open_lesson, read_lesson

    at = open_page("pages/gates.py")  # a new session opens on the pretrained headline lesson
    view = at.session_state["lab"].view()
    assert view.snapshot_steps["lstm"] and view.step == 1500
    solo = open_lesson(read_lesson("recall-100"))
    final = np.asarray(heatmaps(chart(at, "gt_panel"))[0]["z"], dtype=float)
    at.select_slider(key="gt_snap").set_value(0).run()
    no_exception(at)
    start = np.asarray(heatmaps(chart(at, "gt_panel"))[0]["z"], dtype=float)
    np.testing.assert_allclose(start, solo.trace("lstm", 0).layers[0].gates["f"].T[rows(solo, "lstm", 0)],
                               atol=1e-6)
    assert not np.allclose(start, final)


def test_series_overlay_shows_input_target_prediction():
    lab, _ = labs(task={"name": "sine", "seq_len": 20})
    at = open_page("pages/gates.py", {"lab": lab})
    no_exception(at)
    fig = chart(at, "gt_series")
    names = " ".join(str(t.get("name")) for t in fig["data"])
    assert "input" in names.lower() and "target" in names.lower() and "LSTM" in names


def test_the_shipped_lesson_shows_its_memory_units_its_start_and_its_saturation():
    from lstm_core import narrate
    from lstm_core.lessons import open_lesson, read_lesson

    at = open_page("pages/gates.py")
    no_exception(at)
    solo = open_lesson(read_lesson("recall-100"))
    said = " ".join(m.value for m in at.markdown if m.value.startswith("**Measured:**"))
    assert narrate.memory_sentence(solo.memory_units("lstm")) in said
    assert narrate.init_sentence(solo.trace("lstm", 0), solo.trace("lstm"), 1500, "chrono") in said
    assert "at step 0" in said and "chrono initialisation" in said
    assert {"gt_memory", "gt_f0", "gt_f1", "gt_sat", "gt_sat_units"} <= {el.key for el in at.get("plotly_chart")}
    bars = chart(at, "gt_memory")["data"][0]
    assert [int(x) for x in bars["x"]][:3] == list(solo.memory_units("lstm").order[:3])
    # the numbers behind a chart, on request
    at.toggle(key="gt_memory_numbers").set_value(True).run()
    assert at.dataframe
    # the same lesson with PyTorch's default initialisation, one click away
    next(b for b in at.button if b.key == "gt_default_init").click().run()
    no_exception(at)
    view = at.session_state["lab"].view()
    assert view.model_cfgs["lstm"].gate_init == "default" and at.session_state["playing"]


def test_attention_shows_where_each_step_looks_with_its_sentence():
    lab, solo = labs(cells=("attention", "lstm"))
    at = open_page("pages/gates.py", {"lab": lab})
    no_exception(at)
    a = solo.trace("attention").layers[0].pairs["a"]
    z = np.asarray(heatmaps(chart(at, "gt_attention"))[0]["z"], dtype=float)
    T = a.shape[0]
    lower = np.tril_indices(T)
    np.testing.assert_allclose(z[lower], a[lower], atol=1e-6)  # the weights, the future blank
    t = at.slider(key="gt_t").value
    bars = chart(at, "gt_attention_row")["data"][0]
    np.testing.assert_allclose(np.asarray(bars["y"], dtype=float), a[t, : t + 1], atol=1e-6)
    top = int(a[t, : t + 1].argmax())
    said = [m.value for m in at.markdown if m.value.startswith("**Measured:** At t =")]
    assert said and f"{a[t, top]:.0%} of the attention is on step s = {top}" in said[0]
    at.radio(key="gt_model").set_value("lstm").run()
    no_exception(at)
    assert "gt_attention" not in charts(at)  # only a cell with attention has the chart

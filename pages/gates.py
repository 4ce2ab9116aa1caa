"""Gates: time × unit heatmaps of every gate and state on the display sequence, a timestep scrubber, per-unit
lines, the RNN's hidden state beside the LSTM's, and for series the input, target and prediction overlaid."""

from __future__ import annotations

import numpy as np
import streamlit as st

from lstm_core import figures
from lstm_core.cells import CELLS, QUANTITIES
from lstm_core.views import LabView
from pages import controls, frame, live, session, ui

frame.ensure_router()
lab = session.get_lab()
view = lab.view()
st.title("Gates")
controls.controls(view, "gt")

LOOK_FOR = {
    "lstm": "the forget gate f stays near 1 (keep) in the units that carry the first symbol, and their cell "
    "state c holds a steady value from the first column to the `?`: the conveyor belt. The input gate i opens "
    "at the first symbol and stays closed on the distractors.",
    "gru": "the update gate z near 1 keeps the old state (the GRU's forget and input gates in one); rows of h "
    "that stay constant across the sequence are the memory.",
    "rnn": "the vanilla RNN's hidden state is rewritten at every step: its columns change with each distractor, "
    "so nothing of the first symbol survives to the end.",
}

names = view.names
c1, c2, c3 = st.columns([2, 2, 3])
model = c1.radio("Model", names, format_func=ui.model_label, horizontal=True, key="gt_model")
cell = CELLS[view.cell(model)]
layer = 0
if view.model_cfgs[model].layers > 1:
    layer = c2.radio("Layer", [0, 1], format_func=lambda k: f"layer {k + 1}", horizontal=True, key="gt_layer")
T = view.task.display_steps
ui.clamp_state("gt_t", 0, T - 1, T - 1)
t_sel = c3.slider("Timestep (highlighted everywhere)", 0, T - 1, key="gt_t")
available = list(cell.panel)
quantities = st.multiselect("Show", available, default=available, format_func=lambda q: QUANTITIES[q].label,
                            key=f"gt_q_{cell.name}")
H = view.hidden(model)
snap_steps = list(view.snapshot_steps.get(model, ()))
at_step = None
if snap_steps:
    at_step = st.select_slider("Training step (pretrained snapshots): watch the gates take shape", snap_steps,
                               value=snap_steps[-1], key="gt_snap")
ui.clamp_state("gt_unit", 0, H - 1, 0)
unit = st.number_input(f"Unit for the line plot (0 to {H - 1})", 0, H - 1, key="gt_unit")


def draw(lab, view: LabView) -> None:
    tr = lab.trace(model, at_step)
    shown = at_step if at_step is not None else view.step
    st.caption(f"Display sequence (held out, fixed by seed {view.train_cfg.seed}), weights at step {shown:,}. "
               f"Prediction at t = {t_sel}: **{tr.predictions[t_sel]}**, target: **{tr.targets[t_sel] or '—'}**. "
               "Hover any cell for its exact value.")
    if quantities:
        fig = figures.gate_panel(tr, quantities, layer=layer, highlight_t=t_sel)
        st.plotly_chart(fig, key="gt_panel", width="stretch", theme=None)
    ui.look_for(LOOK_FOR.get(cell.name, cell.about))
    vals = {q: tr.quantity(q, layer)[t_sel] for q in available}
    st.markdown(f"**At t = {t_sel}** (token `{tr.tokens[t_sel]}`), unit {unit}: "
                + ", ".join(f"{q} = {float(v[unit]):.4f}" for q, v in vals.items()))
    st.plotly_chart(figures.unit_lines(tr, int(unit), layer=layer, highlight_t=t_sel), key="gt_unit_lines",
                    width="stretch", theme=None)
    ui.look_for("one unit over time: a forget gate near 1 with a flat cell state is memory being carried; "
                "a jump in c where i opens is something being written.")

    if len(names) > 1:
        st.subheader("Hidden state side by side")
        cols = st.columns(len(names))
        for col, name in zip(cols, names):
            with col:
                fig = figures.gate_heatmap(lab.trace(name, at_step), "h", highlight_t=t_sel,
                                           title=f"{ui.model_label(name)}: hidden state h")
                st.plotly_chart(fig, key=f"gt_h_{name}", width="stretch", theme=None)
        ui.look_for("the same input through each model. Rows of the LSTM that stay one colour from the "
                    "start to the end remember; the RNN's columns follow the latest input.")

    if not view.task.tokens_in:
        st.subheader("Input, target and prediction")
        x, y = lab.display_values()
        preds = {n: lab.trace(n, at_step).output[:, 0] for n in names}
        horizon = min(50, T)
        current = at_step is None or at_step == view.step  # forecasts run the current weights only
        fc = {n: lab.forecast(n, horizon) for n in names} if current else None
        fig = figures.series_overlay(np.arange(T), x, y, preds, forecast=fc, y_title="standardised value")
        st.plotly_chart(fig, key="gt_series", width="stretch", theme=None)
        ui.look_for("solid lines: one-step-ahead predictions while reading the true series. Dashed: the "
                    "model feeds its own predictions back (free-running forecast); errors compound.")


live.live(draw)

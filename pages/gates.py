"""Gates: time × unit heatmaps of every gate and state on the display sequence, a timestep scrubber, per-unit
lines, the RNN's hidden state beside the LSTM's, and for series the input, target and prediction overlaid."""

from __future__ import annotations

import numpy as np
import streamlit as st

from lstm_core import figures
from lstm_core.lab import Lab
from lstm_core.sample import forecast
from pages import shared

shared.ensure_router()
lab = shared.get_lab()
st.title("Gates")
shared.controls(lab, "gt")

QUANTITY_NAMES = {"i": "input gate i", "f": "forget gate f", "g": "candidate g", "o": "output gate o",
                  "c": "cell state c", "h": "hidden state h", "r": "reset gate r", "z": "update gate z",
                  "n": "new state n"}
DEFAULTS = {"lstm": ["f", "i", "g", "o", "c", "h"], "gru": ["z", "r", "n", "h"], "rnn": ["h"]}
LOOK_FOR = {
    "lstm": "the forget gate f stays near 1 (keep) in the units that carry the first symbol, and their cell "
    "state c holds a steady value from the first column to the `?`: the conveyor belt. The input gate i opens "
    "at the first symbol and stays closed on the distractors.",
    "gru": "the update gate z near 1 keeps the old state (the GRU's forget and input gates in one); rows of h "
    "that stay constant across the sequence are the memory.",
    "rnn": "the vanilla RNN's hidden state is rewritten at every step: its columns change with each distractor, "
    "so nothing of the first symbol survives to the end.",
}

names = list(lab.trainers)
c1, c2, c3 = st.columns([2, 2, 3])
model = c1.radio("Model", names, format_func=shared.model_label, horizontal=True, key="gt_model")
layer = 0
if lab.model_cfgs[model].layers > 1:
    layer = c2.radio("Layer", [0, 1], format_func=lambda k: f"layer {k + 1}", horizontal=True, key="gt_layer")
T = lab.display.x.shape[1]
shared.clamp_state("gt_t", 0, T - 1, T - 1)
t_sel = c3.slider("Timestep (highlighted everywhere)", 0, T - 1, key="gt_t")
available = DEFAULTS[lab.model_cfgs[model].cell]
quantities = st.multiselect("Show", available, default=available, format_func=QUANTITY_NAMES.get,
                            key=f"gt_q_{lab.model_cfgs[model].cell}")
H = lab.model_cfgs[model].hidden
snap_steps = sorted(lab.snapshots.get(model, {}))
at_step = None
if snap_steps:
    at_step = st.select_slider("Training step (pretrained snapshots): watch the gates take shape", snap_steps,
                               value=snap_steps[-1], key="gt_snap")
shared.clamp_state("gt_unit", 0, H - 1, 0)
unit = st.number_input(f"Unit for the line plot (0 to {H - 1})", 0, H - 1, key="gt_unit")


def view(lab: Lab, name: str):
    return lab.trace_at(name, at_step) if at_step is not None else lab.trace(name)


def draw(lab: Lab) -> None:
    tr = view(lab, model)
    shown = at_step if at_step is not None else lab.step
    st.caption(f"Display sequence (held out, fixed by seed {lab.train_cfg.seed}), weights at step {shown:,}. "
               f"Prediction at t = {t_sel}: **{tr.predictions[t_sel]}**, target: **{tr.targets[t_sel] or '—'}**. "
               "Hover any cell for its exact value.")
    if quantities:
        fig = figures.gate_panel(tr, quantities, layer=layer, highlight_t=t_sel)
        st.plotly_chart(fig, key="gt_panel", width="stretch", theme=None)
    shared.look_for(LOOK_FOR[lab.model_cfgs[model].cell])
    layer_h = tr.layers[layer]
    vals = {q: (layer_h.gates[q] if q in layer_h.gates else layer_h.h)[t_sel] for q in available}
    st.markdown(f"**At t = {t_sel}** (token `{tr.tokens[t_sel]}`), unit {unit}: "
                + ", ".join(f"{q} = {float(v[unit]):.4f}" for q, v in vals.items()))
    st.plotly_chart(figures.unit_lines(tr, int(unit), layer=layer, highlight_t=t_sel), key="gt_unit_lines",
                    width="stretch", theme=None)
    shared.look_for("one unit over time: a forget gate near 1 with a flat cell state is memory being carried; "
                    "a jump in c where i opens is something being written.")

    if len(names) > 1:
        st.subheader("Hidden state side by side")
        cols = st.columns(len(names))
        for col, name in zip(cols, names):
            with col:
                fig = figures.gate_heatmap(view(lab, name), "h", highlight_t=t_sel,
                                           title=f"{shared.model_label(name)}: hidden state h")
                st.plotly_chart(fig, key=f"gt_h_{name}", width="stretch", theme=None)
        shared.look_for("the same input through each model. Rows of the LSTM that stay one colour from the "
                        "start to the end remember; the RNN's columns follow the latest input.")

    if not lab.task.tokens_in:
        st.subheader("Input, target and prediction")
        x = lab.display.x[0, :, 0].numpy()
        y = lab.display.y[0, :, 0].numpy()
        preds = {n: view(lab, n).output[:, 0] for n in names}
        horizon = min(50, T)
        current = at_step is None or at_step == lab.step  # forecasts run the current weights only
        fc = {n: forecast(lab.trainers[n].model, lab.display.x[0], horizon).numpy() for n in names} if current else None
        fig = figures.series_overlay(np.arange(T), x, y, preds, forecast=fc, y_title="standardised value")
        st.plotly_chart(fig, key="gt_series", width="stretch", theme=None)
        shared.look_for("solid lines: one-step-ahead predictions while reading the true series. Dashed: the "
                        "model feeds its own predictions back (free-running forecast); errors compound.")


shared.live(draw)

"""Gates: time × unit heatmaps of every gate and state on the display sequence (memory units first on recall), a
timestep scrubber that works from the keyboard, per-unit lines, the gates at step 0 beside the trained ones,
snapshots to scrub through training, saturation over training, the RNN's hidden state beside the LSTM's, and for
series the input, target and prediction overlaid. Every chart has the sentence its numbers make."""

from __future__ import annotations

import numpy as np
import streamlit as st

from lstm_core import figures, narrate
from lstm_core.cells import CELLS, QUANTITIES
from lstm_core.config import LabSpec
from lstm_core.errors import ConfigError, DataError, WorkerError
from lstm_core.views import LabView
from pages import controls, frame, live, session, ui

frame.ensure_router()
st.title("Gates")  # first: on a fresh server the run takes a moment to open
lab = session.get_lab()
view = lab.view()
ui.flash()
controls.controls(view, "gt")

names = view.names
c1, c2 = st.columns([2, 2])
model = c1.radio("Model", names, format_func=ui.model_label, horizontal=True, key="gt_model")
cell = CELLS[view.cell(model)]
layer = 0
if view.model_cfgs[model].layers > 1:
    layer = c2.radio("Layer", [0, 1], format_func=lambda k: f"layer {k + 1}", horizontal=True, key="gt_layer")
T = view.task.display_steps
ui.clamp_state("gt_t", 0, T - 1, T - 1)


def shift(delta: int) -> None:
    st.session_state.gt_t = max(0, min(T - 1, st.session_state.gt_t + delta))


b1, b2, b3 = st.columns([1, 1, 6])
b1.button("◀ t", key="gt_prev", on_click=shift, args=(-1,), shortcut="Left", width="stretch",
          help="One timestep back (keyboard: ←).")
b2.button("t ▶", key="gt_next", on_click=shift, args=(1,), shortcut="Right", width="stretch",
          help="One timestep on (keyboard: →).")
t_sel = b3.slider("Timestep (highlighted everywhere; ← and → step through it)", 0, T - 1, key="gt_t")
available = list(cell.panel)
quantities = st.multiselect("Show", available, default=available, format_func=lambda q: QUANTITIES[q].label,
                            key=f"gt_q_{cell.name}")
H = view.hidden(model)
snap_steps = list(view.snapshot_steps.get(model, ()))
at_step = None
if len(snap_steps) > 1:
    at_step = st.select_slider("Training step (snapshots): watch the gates take shape", snap_steps,
                               value=snap_steps[-1], key="gt_snap")
memory = None
if view.task.cue_step is not None and layer == 0:
    memory = lab.memory_units(model, step=at_step)
ui.clamp_state("gt_unit", 0, H - 1, memory.order[0] if memory is not None else 0)
unit = st.number_input(f"Unit for the line plot (0 to {H - 1}; the best memory unit first)", 0, H - 1,
                       key="gt_unit")


def default_init_lab() -> None:
    """The same lesson with PyTorch's default gate initialisation, playing (a worker trains it)."""
    spec = view.spec
    models = tuple(m.replace(gate_init="default") if m.cell == "lstm" else m for m in spec.models)
    try:
        session.set_lab(session.build(LabSpec(spec.task, models, spec.train.replace(seed=session.seed())),
                                      text=lab.text), play=True)
    except (ConfigError, DataError, WorkerError) as e:
        st.session_state.flash = str(e)


def draw(lab, view: LabView) -> None:
    step = at_step if at_step is not None else view.step
    tr = lab.trace(model, at_step)
    order = list(memory.order) if memory is not None else None
    st.caption(f"Display sequence (held out, fixed by seed {view.train_cfg.seed}), weights at step {step:,}. "
               f"Prediction at t = {t_sel}: **{ui.plain(tr.predictions[t_sel])}**, target: "
               f"**{ui.plain(tr.targets[t_sel]) or '—'}**. Hover any cell for its exact value."
               + (f" Heatmaps: {figures.steps_note(T)} (the outlined t among them), each column the exact values of "
                  "its timestep; the unit's lines and the values at t below use every timestep."
                  if figures.steps_note(T) else ""))
    if quantities:
        fig = figures.gate_panel(tr, quantities, layer=layer, highlight_t=t_sel, units=order)
        ui.chart(fig, "gt_panel", narrate.gates_sentence(tr, order[:3] if order else None, layer),
                 "each row is one unit, each column one timestep, on a fixed colour scale per gate. A forget gate "
                 "near 1 (keep) with a cell state that carries a value is memory; the Gate surgery page tests it.")
    vals = {q: tr.quantity(q, layer)[t_sel] for q in available}
    st.markdown(f"**At t = {t_sel}** (token `{ui.plain(tr.tokens[t_sel])}`), unit {unit}: "
                + ", ".join(f"{q} = {float(v[unit]):.4f}" for q, v in vals.items()))
    ui.chart(figures.unit_lines(tr, int(unit), layer=layer, highlight_t=t_sel), "gt_unit_lines",
             narrate.unit_sentence(tr, int(unit), layer),
             "one unit over time: where the forget gate stays near 1 the cell state is carried; where the input "
             "gate opens, something is written.")

    if cell.pairs:
        st.subheader("Where the attention looks")
        left, right = st.columns([3, 2])
        with left:
            ui.chart(figures.attention_map(tr, "a", layer, highlight_t=t_sel), "gt_attention",
                     narrate.attention_sentence(tr, t_sel, view.task.cue_step, layer),
                     "row t is the step that reads, column s the step it reads; a bright cell far left of the "
                     "diagonal is a shortcut back in time that no gradient has to survive many steps to find.")
        with right:
            ui.chart(figures.attention_row(tr, t_sel, layer), "gt_attention_row",
                     look="the outlined row, as bars: the attention of step t over the steps it can read.")

    if memory is not None:
        st.subheader("Where the memory is")
        ui.chart(figures.memory_bars(memory), "gt_memory", narrate.memory_sentence(memory),
                 "a unit whose state during the delay names the cue well above chance carries the memory; the "
                 "heatmaps above list those units first.")

    if "f" in tr.layers[layer].gates and layer == 0:
        st.subheader("The gates at step 0, and now")
        start = lab.trace(model, 0)
        left, right = st.columns(2)
        with left:
            st.plotly_chart(figures.gate_heatmap(start, "f", title="forget gate f at step 0", units=order),
                            key="gt_f0", width="stretch", theme=None)
        with right:
            st.plotly_chart(figures.gate_heatmap(tr, "f", title=f"forget gate f at step {step:,}", units=order),
                            key="gt_f1", width="stretch", theme=None)
        gate_init = view.model_cfgs[model].gate_init
        st.markdown("**Measured:** " + narrate.init_sentence(start, tr, step, gate_init, view.task_cfg.name))
        if gate_init != "default" and view.task.name == "recall":
            st.button("Train this lesson with PyTorch's default initialisation", key="gt_default_init",
                      on_click=default_init_lab,
                      help="The same settings and seed, the LSTM's gates initialised as PyTorch does (near 0.5).")
            ui.look_for(default_init_note())

    if len(snap_steps) > 1 and cell.name != "rnn":
        st.subheader("Saturated gates over training")
        sat = lab.saturation(model)
        left, right = st.columns(2)
        with left:
            ui.chart(figures.saturation_curves(sat), "gt_sat", narrate.saturation_sentence(sat),
                     "a gate stuck near 0 or 1 acts like a switch; Karpathy, Johnson and Fei-Fei found trained "
                     "LSTMs' forget gates mostly right-saturated (near 1), the memory.")
        with right:
            ui.chart(figures.saturation_units(sat), "gt_sat_units",
                     look="one dot per unit and gate: right of the diagonal it is mostly shut, above it mostly open.")

    if len(names) > 1:
        st.subheader("Hidden state side by side")
        cols = st.columns(len(names))
        traces = {}
        for col, name in zip(cols, names):
            traces[name] = lab.trace(name, at_step)
            with col:
                fig = figures.gate_heatmap(traces[name], "h", highlight_t=t_sel,
                                           title=f"{ui.model_label(name)}: hidden state h")
                st.plotly_chart(fig, key=f"gt_h_{name}", width="stretch", theme=None)
        changes = [f"{ui.model_label(n)} {float(np.abs(np.diff(t.h, axis=0)).mean()):.2f}" for n, t in traces.items()]
        st.markdown("**Measured:** mean change of h per step and unit (range -1 to 1): " + ", ".join(changes) + ".")
        ui.look_for("the same input through each model. Rows that keep one colour carry something across the "
                    "sequence; columns that change with every input are rewritten at each step.")

    if not view.task.tokens_in:
        st.subheader("Input, target and prediction")
        x, y = lab.display_values()
        preds = {n: lab.trace(n, at_step).output[:, 0] for n in names}
        horizon = min(50, T)
        current = at_step is None or at_step == view.step  # forecasts run the current weights only
        fc = {n: lab.forecast(n, horizon) for n in names} if current else None
        fig = figures.series_overlay(np.arange(T), x, y, preds, forecast=fc, y_title="standardised value")
        err = ", ".join(f"{ui.model_label(n)} {float(np.mean((p - y) ** 2)):.4f}" for n, p in preds.items())
        ui.chart(fig, "gt_series", f"mean squared error of the one-step predictions on this sequence: {err}.",
                 "solid lines: one-step-ahead predictions while reading the true series. Dashed: the model feeds "
                 "its own predictions back (free-running forecast); errors compound.")


def default_init_note() -> str:
    """What the shipped measurement says about PyTorch's default initialisation on recall (datasets/measured)."""
    from datasets.measured import init_default

    rows = init_default()
    if not rows:
        return "with PyTorch's default initialisation the forget gates start near 0.5: watch whether it learns."
    parts = []
    for lag in sorted({r["lag"] for r in rows}):
        rs = [r for r in rows if r["lag"] == lag]
        solved = sum(r["stop"] == "target" for r in rs)
        best = max(r["accuracy"] for r in rs)
        parts.append(f"at lag {lag} it solved {solved} of {len(rs)} seeds in 30 s of training (best held-out "
                     f"accuracy {best:.0%}, after up to {max(r['steps'] for r in rs):,} steps)")
    return "measured with `make measure-init`, LSTM with PyTorch's default initialisation: " + "; ".join(parts) + "."


live.live(draw)

"""Gate surgery: hold a gate or the cell state of chosen units at a value, over a span of timesteps, in the trained
model, and see what follows: the states, the answer to the display sequence, the held-out score. Presets run the
classic demonstrations; every outcome is measured on this run, not assumed."""

from __future__ import annotations

import streamlit as st

from lstm_core import figures
from lstm_core.cells import CELLS, QUANTITIES
from lstm_core.errors import ConfigError, WorkerError
from lstm_core.narrate import outcome_sentence, presets
from lstm_core.views import Clamp
from pages import frame, session, ui

frame.ensure_router()
st.title("Gate surgery")  # first: on a fresh server the run takes a moment to open
lab = session.get_lab()
view = lab.refresh(playing=False)
session.sidebar_status(view)
ui.flash()
if session.is_playing():  # surgery looks at one step; training goes on with Play on another page
    st.session_state.playing = False
    st.rerun()

names = [n for n in view.names if CELLS[view.cell(n)].surgery]
if not names:
    st.info("Gate surgery works on the LSTM, the GRU and the vanilla RNN; the current run has none of them.")
    st.stop()
st.markdown(f"Operate on the trained model of the current run ({view.task.title.lower()}, step {view.step:,}). "
            "Hold a gate or a state of some units at a value for some timesteps, and the model reads the display "
            "sequence and the held-out set again. Nothing is changed in the run itself.")
T = view.task.display_steps
c1, c2 = st.columns([1, 3])
model = c1.radio("Model", names, format_func=ui.model_label, key="sg_model")
cell = view.cell(model)
H = view.hidden(model)
memory = lab.memory_units(model) if view.task.cue_step is not None else None

with c2:
    pre = presets(T, memory.order if memory is not None else None, cell)
    if pre:
        st.markdown("**The classic demonstrations** (one click each):")
        items = list(pre.items())
        for row in range(0, len(items), 2):  # two to a row: each title whole, readable from the back of the room
            for col, (title, clamps) in zip(st.columns(2), items[row:row + 2]):
                if col.button(title, key=f"sg_pre_{title[:28]}", width="stretch"):
                    st.session_state.sg_clamps = clamps

with st.expander("Or build your own clamp", expanded=not pre):
    d1, d2, d3 = st.columns(3)
    quantity = d1.selectbox("Gate or state", CELLS[cell].clampable, key="sg_q",
                            format_func=lambda q: QUANTITIES[q].label)
    gate = QUANTITIES[quantity].range == "gate"
    value = d2.slider("Held at", 0.0 if gate else -3.0, 1.0 if gate else 3.0, 0.0, 0.05, key="sg_value")
    who = d3.radio("Units", ["every unit", "chosen units"] + (["best memory units", "as many other units"]
                                                             if memory is not None else []), key="sg_who")
    units = None
    if who == "chosen units":
        units = tuple(st.multiselect("Units", list(range(H)), default=[0], key="sg_units"))
    elif who in ("best memory units", "as many other units"):
        k = st.number_input("How many", 1, H, min(4, H), key="sg_k")
        units = tuple(memory.order[:k] if who == "best memory units" else memory.order[-k:])
    span = st.slider("Timesteps held", 0, T - 1, (T // 2, T // 2), key="sg_span")
    if st.button("Apply this clamp", key="sg_apply", type="primary"):
        st.session_state.sg_clamps = (Clamp(quantity, float(value), units, span[0], span[1] + 1),)

clamps = st.session_state.get("sg_clamps")
if clamps:
    if st.button("↺ Undo: back to the model as trained", key="sg_undo"):
        st.session_state.pop("sg_clamps")
        st.rerun()
    try:
        res = lab.intervene(model, tuple(clamps))
    except (ConfigError, WorkerError) as e:
        st.error(ui.plain(f"Not applied: {e}"))
        st.stop()
    st.markdown("**Held:** " + "; ".join(c.describe() for c in clamps) + ".")
    c1, c2, c3 = st.columns(3)
    acc = view.task.metric_name == "accuracy"
    metric = view.task.metric_name.replace("_", " ")
    c1.metric(f"Held-out {metric}, as trained", ui.metric_text(view, res.metric_before))
    c2.metric("With the clamp", ui.metric_text(view, res.metric_after),
              delta=f"{(res.metric_after - res.metric_before) * (100 if acc else 1):+.1f}" + (" points" if acc else ""))
    c3.metric("Answer to the display sequence", f"{res.before.predictions[-1]} → {res.after.predictions[-1]}",
              help=f"The target is {res.before.targets[-1] or '—'}.")
    st.markdown("**Measured:** " + ui.plain(outcome_sentence(res, view.task)))
    shown = [u for u in (clamps[0].units or (memory.order[:3] if memory is not None else range(3)))][:3]
    state = "c" if cell == "lstm" else "h"
    ui.chart(figures.surgery_lines(res.before, res.after, list(shown), state,
                                   span=(min(c.start for c in clamps), max(c.stop for c in clamps))),
             "sg_lines", "", "solid: the unit as trained; dashed: the same unit with the clamp held (shaded span). "
             "After a wiped cell, h_(t-1) still feeds the gates: watch whether the memory comes back.")
    left, right = st.columns(2)
    with left:
        st.plotly_chart(figures.gate_heatmap(res.before, state, title=f"{state} as trained",
                                             units=list(memory.order) if memory is not None else None),
                        key="sg_before", width="stretch", theme=None)
    with right:
        st.plotly_chart(figures.gate_heatmap(res.after, state, title=f"{state} with the clamp",
                                             units=list(memory.order) if memory is not None else None),
                        key="sg_after", width="stretch", theme=None)
else:
    st.info("Choose a demonstration above, or build a clamp: the model as trained is shown next to the model with "
            "the clamp held.")

"""One step by hand: the LSTM equations for one unit at one timestep, with the real numbers from the trace."""

from __future__ import annotations

import streamlit as st

from lstm_core import figures, narrate
from lstm_core.views import LabView
from pages import controls, frame, live, session, ui

frame.ensure_router()
st.title("One step by hand")  # first: on a fresh server the run takes a moment to open
lab = session.get_lab()
view = lab.view()
ui.flash()

if "lstm" not in view.model_cfgs:
    st.info("This page writes out the LSTM's equations; the current run has no LSTM. Start the headline lesson "
            "from the Home page or add an LSTM in Train & compare.")
    st.stop()

controls.controls(view, "bh")  # the run plays on this page too, so it can be paused here
T = view.task.display_steps
H = view.hidden("lstm")
ui.clamp_state("bh_t", 0, T - 1, min(1, T - 1))
ui.clamp_state("bh_unit", 0, H - 1, 0)


def shift(delta: int) -> None:
    st.session_state.bh_t = max(0, min(T - 1, st.session_state.bh_t + delta))


c1, c2, c3, c4 = st.columns([1, 1, 4, 2])
c1.button("◀ Previous", key="bh_prev", on_click=shift, args=(-1,), width="stretch", shortcut="Left",
          help="One timestep back (keyboard: ←).")
c2.button("Next ▶", key="bh_next", on_click=shift, args=(1,), width="stretch", shortcut="Right",
          help="One timestep on (keyboard: →).")
t = c3.slider("Timestep t", 0, T - 1, key="bh_t")
unit = c4.number_input(f"Unit (0 to {H - 1})", 0, H - 1, key="bh_unit")


def fmt(v: float) -> str:
    return f"{v:+.3f}" if abs(v) < 1000 else f"{v:+.3e}"


def draw(lab, view: LabView) -> None:
    v = lab.explain_step("lstm", int(t), int(unit))
    st.caption(f"LSTM at training step {view.step:,}, display sequence, timestep t = {t} (input `{v['token']}`), "
               f"unit {unit}. W·x_t + b is the input part, U·h_(t-1) + b the recurrent part.")
    # one column each, full width: the equations are long and the diagram's boxes need the room
    eq, fig = st.container(), st.container()
    with eq:
        rows = [
            ("i", r"\sigma", "input gate: how much of the candidate to write"),
            ("f", r"\sigma", "forget gate: 0 = drop the old cell value, 1 = keep it"),
            ("g", r"\tanh", "candidate value to write"),
            ("o", r"\sigma", "output gate: how much of the cell to show"),
        ]
        for k, fn, what in rows:
            st.latex(rf"{k}_t = {fn}(\underbrace{{{fmt(v['x_' + k])}}}_{{W_{k} x_t + b}} "
                     rf"+ \underbrace{{{fmt(v['u_' + k])}}}_{{U_{k} h_{{t-1}} + b}}) = {fn}({fmt(v['a_' + k])}) "
                     rf"= {fmt(v[k])}")
            st.caption(what)
        st.latex(rf"c_t = f_t\,c_{{t-1}} + i_t\,g_t = {fmt(v['f'])} \times {fmt(v['c_prev'])} + "
                 rf"{fmt(v['i'])} \times {fmt(v['g'])} = {fmt(v['c'])}")
        st.latex(rf"h_t = o_t \tanh(c_t) = {fmt(v['o'])} \times {fmt(v['tanh_c'])} = {fmt(v['h'])}")
    with fig:
        diagram = {k: v[k] for k in ("h_prev", "c_prev", "i", "f", "g", "o", "c", "h")}
        diagram.update({f"a_{k}": v[f"a_{k}"] for k in "ifgo"})
        diagram["x"] = str(v["token"])
        st.plotly_chart(figures.cell_diagram(diagram), key="bh_diagram", width="stretch", theme=None)
    st.markdown("**Measured:** " + narrate.step_sentence(v))
    ui.look_for("step through the timesteps (← →) of a unit that carries the memory (the Gates page lists them): "
                "watch how much of c_(t-1) the forget gate keeps and how much the input gate writes.")


live.live(draw)

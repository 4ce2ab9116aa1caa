"""Vanishing gradients: ‖dL/dh_t‖ against t for each model (log scale), how it evolves over training, the LSTM's
‖dL/dc_t‖, the RNN's spectral radius, and an exploding-gradient case with and without clipping."""

from __future__ import annotations

import streamlit as st

from lstm_core import figures
from lstm_core.views import LabView
from pages import controls, frame, live, session, ui

frame.ensure_router()
lab = session.get_lab()
view = lab.view()
st.title("Vanishing gradients")
controls.controls(view, "gr")


def draw(lab, view: LabView) -> None:
    traces = {n: lab.trace(n) for n in view.names}
    st.caption(f"Gradient of the loss on the display sequence with respect to each hidden state, at training "
               f"step {view.step:,}. Total derivative through time, measured by backpropagation through the "
               "unrolled network.")
    st.plotly_chart(figures.gradient_curves(traces), key="gr_curves", width="stretch", theme=None)
    ratio = []
    for n, tr in traces.items():
        g = tr.grad_h
        if g is not None and g[-1] > 0:
            ratio.append(f"{ui.model_label(n)}: ‖dL/dh_0‖ / ‖dL/dh_T‖ = {g[0] / g[-1]:.2e}")
    if ratio:
        st.markdown(" · ".join(ratio))
    ui.look_for("the answer is scored at the last timestep, so the gradient starts on the right. Reading "
                "leftwards, the RNN's curve falls by orders of magnitude (a straight line on this log "
                "scale is exponential decay): the first symbol gets almost no learning signal. The LSTM's "
                "curve stays high because the cell state path multiplies by f ≈ 1, not by a shrinking matrix.")

    st.subheader("How the gradient profile changes during training")
    cols = st.columns(len(traces))
    for col, n in zip(cols, traces):
        gm = lab.grad_matrix(n)
        with col:
            fig = figures.gradient_history_heatmap(list(gm.steps), gm.grads,
                                                   title=f"{ui.model_label(n)}: log10 ‖dL/dh_t‖")
            st.plotly_chart(fig, key=f"gr_hist_{n}", width="stretch", theme=None)
    ui.look_for(f"one row per snapshot (every {view.capture_every} steps). Dark on the left means the early "
                "timesteps receive no gradient. Watch the LSTM's rows brighten on the left as it learns to "
                "carry the symbol; the RNN's stay dark.")

    radii = {n: lab.spectral_radius(n) for n in traces}
    st.plotly_chart(figures.spectral_bar(radii), key="gr_radius", width="stretch", theme=None)
    ui.look_for("for a vanilla RNN the gradient through k steps is a product of k Jacobians W_hhᵀ·diag(1 − h²). "
                "With the largest |eigenvalue| of W_hh below 1 (and tanh' ≤ 1) it shrinks like radius^k: "
                "vanishing. Far above 1 it can grow: exploding.")


live.live(draw)

st.divider()
st.subheader("Exploding gradients and clipping")
st.markdown("A vanilla RNN whose recurrent weights start large (scaled up, spectral radius above 1), trained "
            "twice on the same batches: once with no clipping, once with the gradient norm clipped at 1.")
c1, c2, c3 = st.columns(3)
scale = c1.slider("Initial W_hh scale", 1.0, 6.0, 3.0, 0.5, key="gr_scale")
lr = c2.select_slider("Learning rate", [1e-3, 3e-3, 1e-2, 3e-2], value=1e-2, key="gr_lr")
steps = c3.select_slider("Steps", [50, 100, 150, 300], value=150, key="gr_steps")
if st.button("Run both (a few seconds)", key="gr_explode", type="primary"):
    from lstm_core.pool.client import get_pool

    with st.spinner("training two RNNs on identical batches…"):  # on a worker; the same settings are run once
        st.session_state.explode = get_pool().job("exploding_demo", seed=session.seed(), init_scale=float(scale),
                                                  lr=float(lr), steps=int(steps))
res = st.session_state.get("explode")
if res is not None:
    st.caption(f"Spectral radius of the initial W_hh: {res.radius:.2f}. "
               + " ".join(f"{k} diverged at step {s}." for k, s in res.diverged.items() if s))
    left, right = st.columns(2)
    left.plotly_chart(figures.training_curves(res.histories, "grad_norm", title="Gradient norm before clipping",
                                              y_title="‖∇L‖ (log scale)", log_y=True), key="gr_ex_grad",
                      width="stretch", theme=None)
    right.plotly_chart(figures.training_curves(res.histories, "loss", title="Training loss", y_title="loss (nats)"),
                       key="gr_ex_loss", width="stretch", theme=None)
    ui.look_for("spikes of the gradient norm by tens or hundreds of times are exploding gradients; without "
                "clipping each spike throws the weights far away and the loss jumps. Clipping rescales the "
                "step to norm 1, so the same spike moves the weights only a little.")

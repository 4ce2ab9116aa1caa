"""Vanishing gradients: ‖dL/dh_t‖ against t for each model (log scale), how it evolves over training, the LSTM's
‖dL/dc_t‖, the RNN's spectral radius, and an exploding-gradient case with and without clipping."""

from __future__ import annotations

import streamlit as st

from lstm_core import figures, narrate
from lstm_core.views import LabView
from pages import controls, frame, live, session, ui

frame.ensure_router()
st.title("Vanishing gradients")  # first: on a fresh server the run takes a moment to open
lab = session.get_lab()
view = lab.view()
ui.flash()
controls.controls(view, "gr")


def draw(lab, view: LabView) -> None:
    traces = {n: lab.trace(n) for n in view.names}
    st.caption(f"Gradient of the loss on the display sequence with respect to each hidden state, at training "
               f"step {view.step:,}. Total derivative through time, measured by backpropagation through the "
               "unrolled network.")
    ui.chart(figures.gradient_curves(traces), "gr_curves", narrate.gradient_sentence(traces),
             "the answer is scored at the last timestep, so the gradient starts on the right. Read leftwards: a "
             "straight falling line on this log scale is exponential decay, and the early inputs then get almost "
             "no learning signal; the LSTM's cell-state path multiplies by f, not by a shrinking matrix.")

    st.subheader("How the gradient profile changes during training")
    cols = st.columns(len(traces))
    says = []
    for col, n in zip(cols, traces):
        gm = lab.grad_matrix(n)
        says.append(narrate.grad_history_sentence(gm.steps, gm.grads, n))
        with col:
            fig = figures.gradient_history_heatmap(list(gm.steps), gm.grads,
                                                   title=f"{ui.model_label(n)}: log10 ‖dL/dh_t‖")
            st.plotly_chart(fig, key=f"gr_hist_{n}", width="stretch", theme=None)
    st.markdown("**Measured:** " + " ".join(s for s in says if s))
    ui.look_for(f"one row per capture (every {view.capture_every} steps, or per snapshot of a pretrained lesson). "
                "Dark on the left means the early timesteps receive no gradient; a row that brightens on the left "
                "has learned to carry the signal back.")

    radii = {n: lab.spectral_radius(n) for n in traces}
    ui.chart(figures.spectral_bar(radii), "gr_radius", narrate.radius_sentence(radii),
             "for a vanilla RNN the gradient through k steps is a product of k Jacobians W_hhᵀ·diag(1 − h²): with "
             "the largest |eigenvalue| below 1 it shrinks like radius^k (vanishing), far above 1 it can grow "
             "(exploding).")


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
    left, right = st.columns(2)
    left.plotly_chart(figures.training_curves(res.histories, "grad_norm", title="Gradient norm before clipping",
                                              y_title="‖∇L‖ (log scale)", log_y=True), key="gr_ex_grad",
                      width="stretch", theme=None)
    right.plotly_chart(figures.training_curves(res.histories, "loss", title="Training loss", y_title="loss (nats)"),
                       key="gr_ex_loss", width="stretch", theme=None)
    st.markdown("**Measured:** " + narrate.explode_sentence(res.histories, res.diverged, res.radius))
    ui.look_for("spikes of the gradient norm by tens or hundreds of times are exploding gradients; without "
                "clipping each spike throws the weights far away and the loss jumps. Clipping rescales the "
                "step to norm 1, so the same spike moves the weights only a little.")

"""The run controls every page shows: Play / Pause, +1 step, Reset, and the progress bar."""

from __future__ import annotations

import streamlit as st

from lstm_core.views import LabView
from pages import frame, session


def controls(view: LabView, key: str) -> None:
    """Play / pause, one step, reset. `key` prefixes the widget keys per page."""
    playing = session.is_playing()
    label = "Pause" if playing else "▶ Play"
    if frame.presenter():  # presenter mode: one big button and the progress, nothing else
        if view.done and not playing:  # a finished or pretrained lesson: train it again, live, from step 0
            st.button("▶ Train it live", key=f"{key}_live", on_click=train_live, type="primary", width="stretch",
                      help="Start this lesson again from fresh weights, with the same settings and seed, and play.")
        else:
            st.button(label, key=f"{key}_play", on_click=session.set_playing, args=(not playing,),
                      width="stretch", type="primary")
        return
    c1, c2, c3, _ = st.columns([1, 1, 1, 3])
    c1.button(label, key=f"{key}_play", on_click=session.set_playing, args=(not playing,), width="stretch",
              type="secondary" if playing else "primary", disabled=view.done and not playing)
    c2.button("+1 step", key=f"{key}_step", on_click=session.one_step, width="stretch", disabled=view.done,
              help="Train every model on one more batch (the same batch for each).")
    c3.button("↺ Reset", key=f"{key}_reset", on_click=session.reset, width="stretch",
              help="Start again from fresh weights with the current settings, seed and device.")


def train_live() -> None:
    session.reset()
    session.set_playing(True)


def progress(view: LabView) -> None:
    frac = min(view.step / view.train_cfg.steps, 1.0)
    st.progress(frac, text=f"step {view.step:,} of {view.train_cfg.steps:,}")

"""Live training while the charts refresh, on whichever page is open.

The contract: while playing, a fragment reruns every `REFRESH_SECONDS`. Each refresh waits for the training the
last one started (`session.wait_for_training`; so does every `session.get_lab()` and the sidebar, so no page code
ever sees the lab mid-step), draws the lab as it is, then trains it in a short-lived thread for what is left of its
second (`train_budget`) while Streamlit sends the refresh and the browser draws it. A page whose drawing reads
nothing but the lab's view (`records_only`: Train & compare) takes that immutable view first and starts the
training before drawing, so drawing overlaps training too. Measured in bench/bench_app.py: with the training
inside the refresh, each second lost 0.1-0.2 s to Streamlit and the browser.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import streamlit as st

from lstm_core.limits import MAX_STEPS
from lstm_core.views import LabView
from pages import controls, session, ui

REFRESH_SECONDS = 1.0  # charts refresh this often while training (the browser asks on a fixed 1 s timer)
REFRESH_USE = 0.95  # share of each refresh that drawing plus the training after it may take, so none runs late
MIN_TRAIN, MAX_TRAIN = 0.25, 0.88  # seconds of training per refresh, whatever the drawing costs
TRAIN_SLOTS = 1  # sessions training at the same moment: they share one Python process, so more only contend


@st.cache_resource(show_spinner=False)
def _train_slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(TRAIN_SLOTS)


def train_budget(spent: float) -> float:
    """Seconds to train after a refresh that has taken `spent` seconds so far (waiting for the last training,
    drawing): the rest of the second, within [MIN_TRAIN, MAX_TRAIN]."""
    return max(MIN_TRAIN, min(MAX_TRAIN, REFRESH_USE * REFRESH_SECONDS - spent))


def _train(lab, seconds: float) -> None:
    import torch

    torch.set_flush_denormal(True)  # a per-thread CPU flag (see lstm_core.train.configure_torch)
    try:
        with _train_slots():  # playing learners take turns instead of starving the server (bench/load_test.py)
            lab.advance(MAX_STEPS, max_seconds=seconds)
    except Exception as e:  # noqa: BLE001 - shown on the next refresh; never a traceback
        lab.error = f"Training stopped: {e}"


def start_training(lab, seconds: float) -> None:
    """Train `lab` for `seconds` in a thread of its own; the next refresh (any `session.get_lab`) waits for it."""
    # not a daemon (which it would be by default, started from a daemon thread): at exit Python waits for it
    # (under a second) instead of stopping torch mid-step, which aborts the process
    t = threading.Thread(target=_train, args=(lab, seconds), name="lstm-gate-lab-train", daemon=False)
    st.session_state["_training"] = t
    t.start()


def live(draw: Callable[[object, LabView], None], records_only: bool = False) -> None:
    """Draw with `draw(lab, view)`; while playing, train until the next refresh, every second."""
    playing = session.is_playing()

    @st.fragment(run_every=REFRESH_SECONDS if playing else None)
    def body() -> None:
        t0 = time.perf_counter()
        lab = session.get_lab()  # waits for the training the last refresh started
        view = lab.view()
        if st.session_state.get("playing") and view.done:  # stop the timer: a full rerun redraws the controls
            st.session_state.playing = False
            st.rerun()
        train = bool(st.session_state.get("playing")) and not view.done
        controls.progress(view)  # inside the fragment, so it moves while training
        if view.error:
            st.error(ui.plain(view.error))
        if train and records_only:
            start_training(lab, train_budget(time.perf_counter() - t0))
            draw(lab, view)  # reads only the immutable view taken above
            return
        draw(lab, view)
        if train:
            start_training(lab, train_budget(time.perf_counter() - t0))

    body()

"""The light part of the frame every page shares: router check, sidebar, and the background warm-up.

Nothing here imports torch, so the first page paints while torch and the lesson's first Adam step warm up in
a background thread (about 3 s cold on this machine), before the learner's first click needs them.
"""

from __future__ import annotations

import sys
import threading

import streamlit as st


def ensure_router() -> None:
    """Make sure this script runs inside app.py's router.

    With a `pages/` folder, Streamlit starts in its legacy multipage mode until some session has run
    st.navigation (a process-wide flag): the first visitor of a fresh server would get the bare folder listing
    as navigation. Clearing the flag and rerunning hands the session to app.py's router.
    """
    from streamlit.runtime.scriptrunner import script_runner

    # the flag as the script runner reads it (the class it instantiates; tests may substitute it)
    if script_runner.PagesManager.uses_pages_directory:
        script_runner.PagesManager.uses_pages_directory = False
        st.rerun()


def _warm() -> None:
    from lstm_core import configure_torch
    from lstm_core.lab import headline_lab

    configure_torch(1)
    headline_lab(steps=2).advance(2)  # imports, kernels and Adam's first step, once per process


@st.cache_resource(show_spinner=False)
def warm_up_thread() -> threading.Thread:
    # not a daemon: interrupting torch mid-import or mid-step at exit aborts the process
    t = threading.Thread(target=_warm, name="lstm-gate-lab-warm-up", daemon=False)
    t.start()
    return t


def warm_up() -> None:
    """Block until the engine is warm (pages that train call this; it returns at once after the first time)."""
    warm_up_thread().join()


def wait_for_training() -> None:
    """Wait for the training thread the last live refresh started, if any (pages/shared.py `live`): at most
    a refresh's budget, plus any wait for a training slot when many learners train at once."""
    t = st.session_state.get("_training")
    if t is not None:
        t.join()
        del st.session_state["_training"]


def sidebar() -> None:
    if "sb_seed" not in st.session_state and "train.seed" in st.query_params:
        raw = st.query_params["train.seed"]  # a shared link's seed becomes the sidebar's seed
        if raw.isdigit() and int(raw) < 2**31:
            st.session_state.sb_seed = int(raw)
    st.session_state.setdefault("sb_seed", 0)
    with st.sidebar:
        st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="sb_seed",
                        help="One seed fixes the data, the initial weights and the batch order. "
                        "Used when you start or reset a run.")
        st.selectbox("Device", ["auto", "cpu", "cuda", "mps"], key="sb_device",
                     help="auto picks a CUDA GPU, then Apple's MPS, else the CPU. Used when you start or reset.")
        st.toggle("Presenter mode", key="sb_presenter",
                  help="Larger type for a projector; settings and secondary controls are hidden.")
        if "lstm_core.models" in sys.modules:
            from lstm_core.models import pick_device

            st.caption(f"auto → **{pick_device('auto').type}** on this server")
        lab = st.session_state.get("lab")
        if lab is not None:
            wait_for_training()  # so the caption shows the step the page will show
            playing = bool(st.session_state.get("playing")) and not lab.done
            state = "training" if playing else ("finished" if lab.done else "paused")
            st.caption(f"Run: {lab.task.name}, step {lab.step:,} of {lab.train_cfg.steps:,} ({state})")


PRESENTER_CSS = """<style>
[data-testid="stMain"] p, [data-testid="stMain"] li, [data-testid="stMain"] label { font-size: 1.45rem !important; }
[data-testid="stMain"] h1 { font-size: 3.2rem !important; }
[data-testid="stMain"] h2, [data-testid="stMain"] h3 { font-size: 2.2rem !important; }
[data-testid="stMetricValue"] { font-size: 3.4rem !important; }
[data-testid="stMetricLabel"] p { font-size: 1.3rem !important; }
[data-testid="stCaptionContainer"] p { font-size: 1.25rem !important; }
</style>"""


def presenter() -> bool:
    return bool(st.session_state.get("sb_presenter", False))


def presenter_style() -> None:
    """Larger type everywhere when presenter mode is on (CSS only; figures are already projector-sized)."""
    if presenter():
        st.html(PRESENTER_CSS)

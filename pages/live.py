"""Live training while the charts refresh, on whichever page is open.

The contract: while playing, a fragment reruns every `REFRESH_SECONDS`. Each refresh asks the learner's lab to
move on (`RemoteLab.refresh`): the worker that holds the run trains it continuously while anyone plays it, and
the learner's cursor moves to the newest frame, or, on a run already computed further (a shared run, a Reset),
on by the time since the last refresh at the pace the run trained. The refresh then draws that view; nothing
trains in the page process, so drawing never holds training up.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from lstm_core.views import LabView
from pages import controls, session, ui

REFRESH_SECONDS = 1.0  # charts refresh this often while training (the browser asks on a fixed timer)
# with LSTM_LAB_TIMINGS=1 in the server's environment, every live refresh writes one line to stderr (the page,
# the step, playing or not, and the seconds the page process spent on it); bench/bench_pause.py reads them
TIMINGS = os.environ.get("LSTM_LAB_TIMINGS") == "1"


def live(draw: Callable[[object, LabView], None]) -> None:
    """Draw with `draw(lab, view)`; while playing, move on and draw again every second."""
    playing = session.is_playing()

    @st.fragment(run_every=REFRESH_SECONDS if playing else None)
    def body() -> None:
        start = time.perf_counter()
        lab = session.get_lab()
        view = lab.refresh(playing=bool(st.session_state.get("playing")))
        if st.session_state.get("playing") and view.done:  # stop the timer: a full rerun redraws the controls
            st.session_state.playing = False
            st.rerun()
        controls.progress(view)  # inside the fragment, so it moves while training
        session.sidebar_status(view)
        notice = lab.notice()
        if notice:
            st.info(notice)
        if view.error:
            st.error(ui.plain(view.error))
        draw(lab, view)
        if TIMINGS:
            page = Path(draw.__code__.co_filename).stem
            print(f"[refresh] page={page} step={view.step} playing={int(bool(st.session_state.get('playing')))} "
                  f"seconds={time.perf_counter() - start:.3f}", file=sys.stderr, flush=True)

    body()

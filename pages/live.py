"""Live training while the charts refresh, on whichever page is open.

The contract: while playing, a fragment reruns every `refresh_every()` seconds: once a second, or less often when
many learners play at once, so that all their redraws together take at most PAGE_SHARE of a core of this process
and the workers keep the rest for training (measured with 20 learners: the page process at a full core held
their runs back). Each refresh asks the learner's lab to
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

REFRESH_SECONDS = 1.0  # charts refresh this often while training (the browser asks on a fixed timer)...
SLOWEST_REFRESH = 4.0  # ...or, with many learners playing, up to this (below the pool's LEASE and MAX_GAP)
PAGE_SHARE = 0.3  # of one core: what the playing sessions' redraws may take together
_cost = {"seconds": 0.05}  # one redraw in this process, a moving average over every session and page


def refresh_every(playing: int, redraw_seconds: float) -> float:
    """Seconds between two refreshes when `playing` sessions each redraw for `redraw_seconds`."""
    return min(SLOWEST_REFRESH, max(REFRESH_SECONDS, playing * redraw_seconds / PAGE_SHARE))


def _measured(seconds: float) -> None:
    _cost["seconds"] += 0.1 * (seconds - _cost["seconds"])


def _playing(lab) -> int:
    pool = getattr(lab, "pool", None)  # a RemoteLab's; an engine Lab in tests has none
    return max(pool.playing(within=SLOWEST_REFRESH + 1.0) if pool is not None else 1, 1)


# with LSTM_LAB_TIMINGS=1 in the server's environment, every live refresh writes one line to stderr (the page,
# the step, playing or not, and the seconds the page process spent on it); bench/bench_pause.py reads them
TIMINGS = os.environ.get("LSTM_LAB_TIMINGS") == "1"


def live(draw: Callable[[object, LabView], None]) -> None:
    """Draw with `draw(lab, view)`; while playing, move on and draw again every `refresh_every` seconds."""
    playing = session.is_playing()
    every = st.session_state.get("refresh_every", REFRESH_SECONDS)

    @st.fragment(run_every=every if playing else None)
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
        playing_now = _playing(lab)
        if every > REFRESH_SECONDS and st.session_state.get("playing"):
            st.caption(f"{playing_now} learners are training on this server, so the charts refresh every "
                       f"{every:.1f} s; training goes on between refreshes.")
        draw(lab, view)
        if TIMINGS:
            page = Path(draw.__code__.co_filename).stem
            print(f"[refresh] page={page} step={view.step} playing={int(bool(st.session_state.get('playing')))} "
                  f"seconds={time.perf_counter() - start:.3f}", file=sys.stderr, flush=True)
        _measured(time.perf_counter() - start)
        wanted = refresh_every(playing_now, _cost["seconds"])
        if st.session_state.get("playing") and abs(wanted - every) > 0.4 * every:
            st.session_state.refresh_every = wanted  # a full rerun sets the fragment's new timer
            st.rerun()

    body()

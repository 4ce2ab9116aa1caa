"""This learner's lab: created on first use (from a link, else the pretrained headline lesson), kept in
`st.session_state` so a run survives page switches, replaced only by settings within the limits.

The pages' one door into the engine is the Lab (lstm_core.lab): they take `lab.view()` and ask it for arrays.
"""

from __future__ import annotations

import streamlit as st

from datasets.lessons import HEADLINE
from datasets.lessons import available as lessons_available
from lstm_core.config import LabSpec
from lstm_core.errors import ConfigError, DataError, RunError
from pages import frame, links


@st.cache_resource(show_spinner=False)
def lesson_data(name: str):
    """A pretrained lesson's files, read once per process and shared read-only by every session."""
    from lstm_core.lessons import read_lesson

    return read_lesson(name)


def open_pretrained(name: str):
    from lstm_core.lessons import open_lesson

    return open_lesson(lesson_data(name))


def seed() -> int:
    return int(st.session_state.get("sb_seed", 0))


def device() -> str:
    return str(st.session_state.get("sb_device", "auto"))


def default_lab():
    """The pretrained headline lesson when it ships (instant), else the same lesson untrained."""
    from lstm_core.lab import headline_lab

    if seed() == 0 and HEADLINE in lessons_available():
        try:
            return open_pretrained(HEADLINE)
        except RunError as e:
            st.session_state.flash = str(e)
    return headline_lab(seed=seed())


def get_lab():
    """This learner's lab; the headline lesson (paused) if they have none yet.

    While playing, the lab trains in a short-lived thread between two refreshes (pages/live.py); this waits
    for it first, so no page code ever sees the lab mid-step.
    """
    frame.warm_up()
    wait_for_training()
    if "lab" not in st.session_state:
        lab, play = None, False
        spec, play = links.spec_from_link()
        if spec is not None:
            try:
                lab = build(spec)
            except (ConfigError, DataError) as e:
                st.session_state.flash = f"The link's settings were not used: {e}"
                play = False
        st.session_state.lab = lab or default_lab()
        st.session_state.playing = play
    links.sync(st.session_state.lab.spec)
    return st.session_state.lab


def wait_for_training() -> None:
    """Wait for the training thread the last live refresh started (pages/live.py), if any: at most a refresh's
    budget, plus any wait for a training slot when many learners train at once."""
    t = st.session_state.get("_training")
    if t is not None:
        t.join()
        del st.session_state["_training"]


def sidebar_status() -> None:
    """The run's task, step and state under the sidebar's settings: the same step the page shows."""
    lab = st.session_state.get("lab")
    if lab is None:
        return
    wait_for_training()
    view = lab.view()
    playing = bool(st.session_state.get("playing")) and not view.done
    state = "training" if playing else ("finished" if view.done else "paused")
    st.sidebar.caption(f"Run: {view.task.name}, step {view.step:,} of {view.train_cfg.steps:,} ({state})")


def build(spec: LabSpec, text: str | None = None):
    """A new lab for `spec`; raises ConfigError (over the limits, refused before anything is built) or
    DataError (the task's data cannot be used)."""
    from lstm_core.lab import Lab

    return Lab.from_spec(spec, text)


def set_lab(lab, play: bool = False) -> None:
    """Make `lab` this learner's run."""
    st.session_state.lab = lab
    st.session_state.playing = play


def is_playing() -> bool:
    lab = get_lab()
    return bool(st.session_state.get("playing")) and not lab.done


def set_playing(value: bool) -> None:
    st.session_state.playing = value


def one_step() -> None:
    st.session_state.playing = False
    get_lab().advance(1)


def reset() -> None:
    """Start again from fresh weights with the current settings, the sidebar's seed and device."""
    lab = get_lab()
    spec = lab.spec
    try:
        train = spec.train.replace(seed=seed(), device=device())
        set_lab(build(LabSpec(spec.task, spec.models, train), text=lab.text))
    except (ConfigError, DataError) as e:
        st.session_state.flash = str(e)

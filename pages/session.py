"""This learner's lab: created on first use (from a link, else the pretrained headline lesson), kept in
`st.session_state` so a run survives page switches, replaced only by settings the workers accept.

The lab is a `RemoteLab` (lstm_core/pool/client.py): the Lab's methods, answered by the worker process that holds
the run, at this learner's cursor on it. Nothing here imports torch; learners with identical settings share one
run, each at their own step.
"""

from __future__ import annotations

import streamlit as st

from datasets.lessons import HEADLINE
from datasets.lessons import available as lessons_available
from lstm_core.config import LabSpec, ModelConfig, TaskConfig, TrainConfig
from lstm_core.errors import ConfigError, DataError, RunError, WorkerError
from lstm_core.lessons import lesson_spec
from lstm_core.pool.client import RemoteLab
from lstm_core.views import LabView
from pages import links


def seed() -> int:
    return int(st.session_state.get("sb_seed", 0))


def device() -> str:
    return str(st.session_state.get("sb_device", "auto"))


def headline_spec(seed: int = 0, steps: int = 1500) -> LabSpec:
    """The lesson a teacher starts with: remember a symbol over 100 steps, LSTM against a vanilla RNN."""
    return LabSpec(TaskConfig(name="recall", lag=100), (ModelConfig(cell="lstm"), ModelConfig(cell="rnn")),
                   TrainConfig(seed=seed, steps=steps))


def open_lesson(name: str) -> RemoteLab:
    """A pretrained lesson at its last step (its files are read once per worker and shared)."""
    spec = lesson_spec(name)
    if spec is None:
        raise RunError(f"the pretrained lesson {name!r} is not shipped; run 'make pretrained'.")
    return RemoteLab(spec, origin=("lesson", name))


def default_lab() -> RemoteLab:
    """The pretrained headline lesson when it ships (instant), else the same lesson untrained."""
    if seed() == 0 and HEADLINE in lessons_available():
        try:
            return open_lesson(HEADLINE)
        except RunError as e:
            st.session_state.flash = str(e)
    return RemoteLab(headline_spec(seed()))


def get_lab() -> RemoteLab:
    """This learner's lab; the headline lesson (paused) if they have none yet, or the run a link describes."""
    if "lab" not in st.session_state:
        with st.spinner("Opening your run on the training workers (a few seconds on a server that just started)"):
            _open_first_lab()
    lab = st.session_state.lab
    links.sync(lab.spec)
    return lab


def _open_first_lab() -> None:
    lab, play = None, False
    spec, play = links.spec_from_link()
    if spec is not None:
        try:
            lab = build(spec)
        except (ConfigError, DataError, WorkerError) as e:
            st.session_state.flash = f"The link's settings were not used: {e}"
            play = False
    try:
        st.session_state.lab = lab or default_lab()
    except WorkerError as e:  # the workers are down: one sentence, and this page waits for them
        st.error(f"The training workers are not answering ({e}) Reload the page in a moment.")
        st.stop()
    st.session_state.playing = play


def open_link_here() -> None:
    """On a page that does not train (Home, Guided lesson): a shared link opened here builds its run now, or says
    here why it cannot."""
    if "lab" not in st.session_state and links.has_link():
        from pages import ui

        get_lab()
        ui.flash()


def build(spec: LabSpec, text: str | None = None) -> RemoteLab:
    """The lab these settings make (shared with anyone who has the same), on the pool of the current lab; raises
    ConfigError (over the limits, refused before anything is built), DataError (the task's data cannot be used)
    or WorkerError (anything else that went wrong in a worker), each one sentence."""
    current = st.session_state.get("lab")
    return RemoteLab(spec, text=text, pool=current.pool if current is not None else None)


def set_lab(lab: RemoteLab, play: bool = False) -> None:
    """Make `lab` this learner's run (the one it replaces lets go of its run)."""
    old = st.session_state.get("lab")
    if old is not None and old is not lab:
        old.close()
    st.session_state.lab = lab
    st.session_state.playing = play


def is_playing() -> bool:
    return bool(st.session_state.get("playing")) and not get_lab().view().done


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
    except (ConfigError, DataError, WorkerError) as e:
        st.session_state.flash = str(e)


def sidebar_status(view: LabView) -> None:
    """The run's task, step and state under the sidebar's settings: drawn with the page's view (from inside the
    live fragment, which may write to the sidebar), so it names the step the page shows."""
    playing = bool(st.session_state.get("playing")) and not view.done
    state = "training" if playing else ("finished" if view.done else "paused")
    st.sidebar.caption(f"Run: {view.task.name}, step {view.step:,} of {view.train_cfg.steps:,} ({state})")

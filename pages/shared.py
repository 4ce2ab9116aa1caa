"""What every page shares: the learner's Lab in session state, the sidebar, the run controls, live refresh.

Pages stay thin: they read widgets, make one call into `lstm_core`, and draw figures from `lstm_core.figures`.
The Lab lives in `st.session_state`, so a run survives page switches; training advances inside a fragment that
reruns every second while playing, on whichever page is open.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

import streamlit as st

from lstm_core import ConfigError, DataError
from lstm_core.lab import NAMES, Lab, headline_lab, lab_from_query, lab_to_query, latest_val
from lstm_core.lessons import LessonData, open_lesson, read_lesson
from lstm_core.lessons import available as lessons_available
from lstm_core.runs import RunError
from pages import frame

REFRESH_SECONDS = 1.0  # charts refresh this often while training (the browser asks on a fixed 1 s timer)
REFRESH_USE = 0.95  # share of each refresh that drawing plus the training after it may take, so none runs late
MIN_TRAIN, MAX_TRAIN = 0.25, 0.88  # seconds of training per refresh, whatever the drawing costs
MAX_STEPS = 20_000  # per-session cap on a run's length (each session trains in the server's process)
# Work per joint training step (Lab.step_flops), so that no learner's step holds the one training slot for
# long: 25 GFLOP take 0.6-1 s here (bench/bench_limits.py); the headline lesson takes 0.3 GFLOP.
MAX_STEP_FLOPS = 25e9
TRAIN_SLOTS = 1  # sessions training at the same moment: they share one Python process, so more only contend


@st.cache_resource(show_spinner=False)
def _train_slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(TRAIN_SLOTS)


ensure_router = frame.ensure_router


def get_lab() -> Lab:
    """This learner's lab; the headline lesson (paused, untrained) if they have none yet.

    While playing, the lab trains in a short-lived thread between two refreshes (see `live`); this waits for
    that to end first, so no page code ever sees the lab mid-step.
    """
    frame.warm_up()
    frame.wait_for_training()
    if "lab" not in st.session_state:
        lab, play = _lab_from_link()
        st.session_state.lab = lab or default_lab()
        st.session_state.playing = play
    _sync_url(st.session_state.lab)
    return st.session_state.lab


@st.cache_resource(show_spinner=False)
def lesson_data(name: str) -> LessonData:
    """A pretrained lesson's files, read once per process and shared read-only by every session."""
    return read_lesson(name)


def open_pretrained(name: str) -> Lab:
    return open_lesson(lesson_data(name))


def default_lab() -> Lab:
    """The pretrained headline lesson when it ships (instant), else the same lesson untrained."""
    if seed() == 0 and "recall-100" in lessons_available():
        try:
            return open_pretrained("recall-100")
        except RunError as e:
            st.session_state.flash = str(e)
    return headline_lab(seed=seed())


LINK_KEYS = ("task.", "model.", "train.", "models")


def _lab_from_link() -> tuple[Lab | None, bool]:
    """A lab from the URL's settings, if it has any; a bad link leaves a message and no lab."""
    q = st.query_params.to_dict()
    if not any(k.startswith(LINK_KEYS) for k in q):
        return None, False
    try:
        lab = lab_from_query({k: v for k, v in q.items() if k.startswith(LINK_KEYS)})
        if lab.train_cfg.steps > MAX_STEPS:
            raise ConfigError(f"train.steps must be at most {MAX_STEPS:,} here, got {lab.train_cfg.steps:,}.")
        check_cost(lab)
    except (ConfigError, DataError) as e:
        st.session_state.flash = f"The link's settings were not used: {e}"
        return None, False
    return lab, q.get("play") == "1"


def _sync_url(lab: Lab) -> None:
    """Keep the address bar equal to the running lab's settings, so copying it shares this exact run."""
    want = lab_to_query(lab)
    if st.query_params.to_dict() != want:
        st.query_params.from_dict(want)


def check_cost(lab: Lab) -> None:
    """Refuse a setting whose training step would hold the server for too long (the per-session limit)."""
    flops = lab.step_flops
    if flops > MAX_STEP_FLOPS:
        raise ConfigError(
            f"these settings need about {flops / 1e9:,.0f} billion operations per training step, and each "
            f"session may use at most {MAX_STEP_FLOPS / 1e9:,.0f} billion so that a whole class can train at once; "
            "lower the lag or sequence length, the batch size, the hidden units or the number of models.")


def set_lab(lab: Lab, play: bool = False) -> None:
    """Make `lab` this learner's run; raises ConfigError (and keeps the current run) if it is over the limits."""
    check_cost(lab)
    st.session_state.lab = lab
    st.session_state.playing = play


def is_playing() -> bool:
    lab = get_lab()
    return bool(st.session_state.get("playing")) and not lab.done


def seed() -> int:
    return int(st.session_state.get("sb_seed", 0))


def device() -> str:
    return str(st.session_state.get("sb_device", "auto"))


def controls(lab: Lab, key: str) -> None:
    """Play / pause, one step, reset, and a progress bar. `key` prefixes widget keys per page."""
    c1, c2, c3, _ = st.columns([1, 1, 1, 3])
    playing = is_playing()
    if frame.presenter():  # presenter mode: one big play/pause button and the progress, nothing else
        c1.button("Pause" if playing else "▶ Play", key=f"{key}_play", on_click=_set_playing,
                  args=(not playing,), width="stretch", type="primary", disabled=lab.done and not playing)
        return
    c1.button("Pause" if playing else "▶ Play", key=f"{key}_play", on_click=_set_playing, args=(not playing,),
              width="stretch", type="secondary" if playing else "primary", disabled=lab.done and not playing)
    c2.button("+1 step", key=f"{key}_step", on_click=_one_step, width="stretch", disabled=lab.done,
              help="Train every model on one more batch (the same batch for each).")
    c3.button("↺ Reset", key=f"{key}_reset", on_click=_reset, width="stretch",
              help="Start again from fresh weights with the current settings, seed and device.")


def progress(lab: Lab) -> None:
    frac = min(lab.step / lab.train_cfg.steps, 1.0)
    st.progress(frac, text=f"step {lab.step:,} of {lab.train_cfg.steps:,}")


def _set_playing(value: bool) -> None:
    st.session_state.playing = value


def _one_step() -> None:
    st.session_state.playing = False
    get_lab().advance(1)


def _reset() -> None:
    lab = get_lab()
    try:
        train = lab.train_cfg.replace(seed=seed(), device=device())
        set_lab(Lab(lab.task_cfg, train, lab.model_cfgs, text=lab.text))
    except (ConfigError, DataError) as e:
        st.session_state.flash = str(e)


MARKDOWN = re.compile(r"([\\`*_\[\]<>()!|~$:#])")  # characters that make markup in st.error / st.info


def plain(text: str) -> str:
    """Text that may quote a user's value (a link, an uploaded file) shown as text, never markup: no link,
    image, LaTeX or coloured span can come out of it."""
    return MARKDOWN.sub(r"\\\1", text)


def flash() -> None:
    """Show (once) a message left by a callback or a link, e.g. a rejected setting."""
    msg = st.session_state.pop("flash", None)
    if msg:
        st.error(plain(msg))


def train_budget(spent: float) -> float:
    """Seconds to train after a refresh that has taken `spent` seconds so far (waiting for the last training,
    drawing): the rest of the second, within [MIN_TRAIN, MAX_TRAIN]."""
    return max(MIN_TRAIN, min(MAX_TRAIN, REFRESH_USE * REFRESH_SECONDS - spent))


def _train(lab: Lab, seconds: float) -> None:
    import torch

    torch.set_flush_denormal(True)  # a per-thread CPU flag (see lstm_core.train.configure_torch)
    try:
        with _train_slots():  # playing learners take turns instead of starving the server (bench/load_test.py)
            lab.advance(MAX_STEPS, max_seconds=seconds)
    except Exception as e:  # noqa: BLE001 - shown on the next refresh; never a traceback
        lab.error = f"Training stopped: {e}"


def start_training(lab: Lab, seconds: float) -> None:
    """Train `lab` for `seconds` in a thread of its own, while Streamlit sends this refresh and the browser
    draws it; the next refresh (any `get_lab`) waits for it. Measured in bench/bench_app.py: with the
    training inside the refresh, each second lost 0.1-0.2 s to Streamlit and the browser."""
    # not a daemon (which it would be by default, started from a daemon thread): at exit Python waits for it
    # (under a second) instead of stopping torch mid-step, which aborts the process
    t = threading.Thread(target=_train, args=(lab, seconds), name="lstm-gate-lab-train", daemon=False)
    st.session_state["_training"] = t
    t.start()


class Records:
    """A lab as a page that draws only from step records sees it while the lab trains on in its thread: the
    records as they were when the refresh began (so the charts agree with the progress bar), everything else
    (task, model names, settings) from the lab itself."""

    def __init__(self, lab: Lab):
        self._lab = lab
        self.histories = {name: list(h) for name, h in lab.histories.items()}
        self.step = lab.step

    def latest_val(self, name: str) -> float | None:
        return latest_val(self.histories[name])

    def __getattr__(self, name: str):
        return getattr(self._lab, name)


def live(draw: Callable[[Lab], None], records_only: bool = False) -> None:
    """Draw with `draw(lab)`; while playing, train until the next refresh, every second.

    Each refresh waits for the training the last one started, draws the lab as it is, then starts
    `start_training` for what is left of its second (`train_budget`); the next refresh comes on the browser's
    timer, checks for the end of the run, and draws again. A page whose `draw` reads nothing but the step
    records (`records_only`: Train & compare) gets them as `Records` and the training starts before it draws,
    so drawing overlaps training too; pages that trace the model draw first, from weights that stand still.
    """
    playing = is_playing()

    @st.fragment(run_every=REFRESH_SECONDS if playing else None)
    def body() -> None:
        t0 = time.perf_counter()
        lab = get_lab()  # waits for the training the last refresh started
        if st.session_state.get("playing") and lab.done:  # stop the timer: a full rerun redraws the controls
            st.session_state.playing = False
            st.rerun()
        train = bool(st.session_state.get("playing")) and not lab.done
        progress(lab)  # inside the fragment, so it moves while training
        if lab.error:
            st.error(lab.error)
        if train and records_only:
            view = Records(lab)
            start_training(lab, train_budget(time.perf_counter() - t0))
            draw(view)  # type: ignore[arg-type]  (reads the records copied above, and the lab's settings)
            return
        draw(lab)
        if train:
            start_training(lab, train_budget(time.perf_counter() - t0))

    body()


def look_for(text: str) -> None:
    """The one or two sentences beside every chart that say what to look for."""
    st.caption(f"**What to look for:** {text}")


def model_label(name: str) -> str:
    return NAMES.get(name, name)


def metric_text(lab: Lab, value: float | None) -> str:
    if value is None:
        return "–"
    if lab.task.metric_name == "accuracy":
        return f"{value:.1%}"
    if lab.task.metric_name == "bits_per_char":
        return f"{value:.3f} bits/char"
    return f"{value:.4f}"


def clamp_state(key: str, lo: int, hi: int, default: int) -> None:
    """Keep a widget's remembered value inside its current range (a new run may have fewer steps or units)."""
    v = st.session_state.get(key, default)
    st.session_state[key] = max(lo, min(hi, int(v)))

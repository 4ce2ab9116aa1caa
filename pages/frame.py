"""The light part of the frame every page shares: router check, sidebar, and starting the worker pool.

Nothing here (nor anywhere in the page process) imports torch: the workers load it in their own processes, and
warm up while the first page paints, before the learner's first click needs them.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from lstm_core.config import DEVICES

HERE = Path(__file__).resolve().parent
# (file in pages/, title, icon, url path): the app's pages in the sidebar's order; the first is the default
PAGES = (
    ("home.py", "Home", ":material/home:", "home"),
    ("lesson.py", "Guided lesson", ":material/school:", "lesson"),
    ("train.py", "Train & compare", ":material/play_circle:", "train"),
    ("gates.py", "Gates", ":material/grid_on:", "gates"),
    ("surgery.py", "Gate surgery", ":material/content_cut:", "surgery"),
    ("gradients.py", "Vanishing gradients", ":material/trending_down:", "gradients"),
    ("lag_race.py", "Lag race", ":material/speed:", "lag_race"),
    ("by_hand.py", "One step by hand", ":material/calculate:", "by_hand"),
    ("export.py", "Export & import", ":material/download:", "export"),
    ("text.py", "Text", ":material/text_fields:", "text"),
)


def pages() -> list:
    """The st.Page objects of the router (absolute paths, so they resolve whatever script started the app)."""
    return [_page(k) for k in range(len(PAGES))]


def _page(k: int):
    f, t, i, u = PAGES[k]
    if k == 0:  # the default page lives at the root address
        return st.Page(HERE / f, title=t, icon=i, default=True)
    return st.Page(HERE / f, title=t, icon=i, url_path=u)


def page(url_path: str):
    """One page, for st.switch_page: `page("train")`."""
    return _page(next(k for k, p in enumerate(PAGES) if p[3] == url_path))


def ensure_router() -> None:
    """Make sure this script runs inside app.py's router; every page calls this first.

    Upstream behaviour (streamlit/runtime/pages_manager.py, `PagesManager.uses_pages_directory`, read by
    `ScriptRunner` in streamlit/runtime/scriptrunner/script_runner.py): Streamlit keeps a process-wide flag for
    apps with a `pages/` folder and runs them in its legacy multipage mode until some session has run
    st.navigation. So the first visitor of a fresh server would get the bare folder listing as navigation, and
    `AppTest`, which resets the flag before every run, would run a page file without app.py. Clearing the flag
    and rerunning hands the session to app.py's router. The project's layout names the `pages/` folder, so the
    workaround stays; tests/test_frame.py fails loudly if a Streamlit upgrade removes the flag.
    """
    from streamlit.runtime.scriptrunner import script_runner

    if script_runner.PagesManager.uses_pages_directory:
        script_runner.PagesManager.uses_pages_directory = False
        st.rerun()


@st.cache_resource(show_spinner=False)
def start_workers():
    """Start the worker pool once per server process (it returns at once; the workers warm up on their own).

    A page that waits for a worker (a live refresh asking for a trace while the run's worker finishes a training
    step, up to a second at the cost limit) looks every 50 ms whether the learner clicked something, and if so
    stops waiting and reruns at once: Pause answers without waiting for the step."""
    from lstm_core.pool.client import get_pool

    pool = get_pool()
    pool.wait_check = yield_check
    return pool


def yield_check():
    """Streamlit's stop-or-rerun check for the calling script thread: it raises Streamlit's RerunException when
    the learner clicked a widget since the run began (the same check every `st.` call makes, and Streamlit's own
    cache waits run). None outside a script run, inside a cached function, or on a Streamlit without it."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_run_yield_check, in_cached_function
    except ImportError:
        return None
    return None if in_cached_function.get() else get_run_yield_check()


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
        st.selectbox("Device", DEVICES, key="sb_device",
                     help="auto picks a CUDA GPU, then Apple's MPS, else the CPU. Used when you start or reset.")
        st.toggle("Presenter mode", key="sb_presenter",
                  help="Larger type for a projector; settings and secondary controls are hidden.")
        device = start_workers().known_device()
        if device:
            st.caption(f"auto → **{device}** on this server")


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

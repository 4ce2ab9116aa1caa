"""pages/frame.py: the router's pages, and the one workaround for Streamlit's legacy `pages/` folder flag."""

from __future__ import annotations

import inspect

from apptest_util import ROOT, TIMEOUT, no_exception
from streamlit.testing.v1 import AppTest

from pages import frame


def test_streamlit_still_keeps_the_legacy_pages_flag():
    """frame.ensure_router clears `PagesManager.uses_pages_directory`. If a Streamlit upgrade removes the flag,
    this fails loudly: the workaround (and this test) can then go."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import script_runner

    assert hasattr(PagesManager, "uses_pages_directory"), "Streamlit removed the legacy pages flag"
    assert script_runner.PagesManager is PagesManager
    assert "PagesManager.uses_pages_directory" in inspect.getsource(script_runner), \
        "the script runner no longer reads the legacy pages flag"


def test_a_run_in_legacy_mode_is_handed_to_the_router():
    """Started from app.py itself (beside pages/), every AppTest run begins in the legacy mode, as a fresh
    server's first visitor does: the page must still come up inside the router, with the sidebar."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    no_exception(at)
    assert at.title[0].value == "LSTM Gate Lab"
    at.switch_page("pages/gates.py").run()
    no_exception(at)
    assert at.title[0].value == "Gates"
    assert at.sidebar.number_input(key="sb_seed").value == 0  # app.py's frame ran around the page


def test_every_page_file_is_routed_once():
    files = sorted(p.name for p in (ROOT / "pages").glob("*.py"))
    routed = [f for f, *_ in frame.PAGES]
    assert len(set(routed)) == len(routed) and set(routed) <= set(files)
    assert len({u for *_, u in frame.PAGES}) == len(frame.PAGES)

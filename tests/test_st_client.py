"""bench/st_client.py against a tiny throwaway Streamlit app served on a free local port (no browser)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import urllib.request

import pytest

from bench.st_client import ClientError, StClient, plotly_array
from tests.browser_util import free_port, wait_for

APP = '''
import streamlit as st

st.query_params["seen"] = "yes"


def counter():
    st.title("Counter")
    st.session_state.setdefault("n", 0)
    if st.button("Add one", key="add"):
        st.session_state.n += 1
    st.metric("count", st.session_state.n)
    if st.session_state.n % 2:
        st.markdown("odd")
    st.caption("link a=" + st.query_params.get("a", "-"))
    st.toggle("Tick", value=True, key="tick_on")
    st.session_state.full_runs = st.session_state.get("full_runs", 0) + 1

    @st.fragment(run_every=0.2 if st.session_state.tick_on else None)
    def ticker():
        st.session_state.ticks = st.session_state.get("ticks", 0) + 1
        st.progress(0.5, text=f"tick {st.session_state.ticks}")
        if st.button("Bump", key="bump"):
            st.session_state.bumps = st.session_state.get("bumps", 0) + 1
        st.markdown(f"bumps {st.session_state.get('bumps', 0)}, full runs {st.session_state.full_runs}")

    ticker()
    st.markdown("after the fragment")


def chart():
    import plotly.graph_objects as go

    st.title("Chart")
    st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[4.0, 5.0, 6.5])), key="ch")
    st.markdown("big " + "x" * 20_000)  # over minCachedMessageSize: cached by the client, sent as a ref after


def slow():
    @st.fragment(run_every=0.1)
    def ticker():  # slower than its timer: reruns queue up, many runs end FINISHED_EARLY_FOR_RERUN
        import time

        n = st.session_state.slow = st.session_state.get("slow", 0) + 1
        st.markdown(f"start {n}")
        time.sleep(0.15)
        st.markdown(f"end {n}")

    ticker()


st.sidebar.markdown("in the sidebar")
st.navigation([st.Page(counter, title="Counter", default=True), st.Page(chart, title="Chart", url_path="chart"),
               st.Page(slow, title="Slow", url_path="slow")]).run()
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("st_client_app")
    (d / "app.py").write_text(APP)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
                            cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
            return r.status == 200

    try:
        wait_for(healthy, 60, 0.3, "the throwaway app's health check")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def text_with(c: StClient, prefix: str) -> str:
    return next((t for t in c.texts() if t.startswith(prefix)), "")


def test_open_click_and_stale_elements(server):
    async def go():
        async with StClient(server, timeout=30) as c:
            await c.open("", "a=1")
            assert c.metric("count") == "0"
            assert "link a=1" in c.texts()
            assert "in the sidebar" in c.texts("sidebar")
            assert "seen=yes" in c.query_string  # st.query_params written by the app reach the client
            assert {"add", "bump"} <= set(c.buttons())
            assert c.widget("bump").fragment_id  # inside the fragment
            assert not c.widget("add").fragment_id
            await c.click("add")
            assert c.metric("count") == "1"
            assert "odd" in c.texts()
            await c.click("add")
            assert c.metric("count") == "2"
            assert "odd" not in c.texts()  # not sent by the last run: removed, as the browser does
            assert c.texts().count("after the fragment") == 1

    run(go())


def test_fragment_auto_rerun_and_fragment_click(server):
    async def go():
        async with StClient(server, timeout=30) as c:
            await c.open()
            assert c.progress() == ["tick 1"]
            full = c.stats["runs"]
            # run_every=0.2: the client reruns the fragment by itself, with no request from the test
            await c.wait_for(lambda c: int(c.progress()[0].split()[1]) >= 4, 30, "four ticks")
            assert c.stats["auto_reruns_sent"] >= 3
            assert c.stats["runs"] == full  # only the fragment ran
            await c.click("bump")  # a button inside the fragment reruns only the fragment
            assert text_with(c, "bumps") == "bumps 1, full runs 1"
            assert c.stats["runs"] == full
            assert c.metric("count") == "0" and "after the fragment" in c.texts()  # outside: kept
            # turning the timer off is a full run whose fragment has no run_every: the ticks stop
            await c.set_value("tick_on", bool_value=False)
            assert not c._auto
            sent = c.stats["auto_reruns_sent"]
            await asyncio.sleep(1.0)  # a rerun the timer sent before the full run began may still be served
            ticks = c.progress()
            await asyncio.sleep(1.0)
            assert c.progress() == ticks and c.stats["auto_reruns_sent"] == sent

    run(go())


def test_switch_page_chart_and_message_cache(server):
    async def go():
        async with StClient(server, timeout=30) as c:
            await c.open("chart")
            assert c.first_chart_at is not None and c.first_chart_at >= c.opened_at
            fig = c.charts()[0]
            assert plotly_array(fig["data"][0]["y"]) == [4.0, 5.0, 6.5]
            assert c.stats["cache_hits"] == 0
            await c.rerun()  # the big markdown is unchanged: the server sends a reference to the cached copy
            assert c.stats["cache_hits"] >= 1
            assert text_with(c, "big x").endswith("x" * 100)
            await c.switch_page("")  # the default page, at the root address
            assert c.metric("count") == "0" and not c.charts()
            assert not text_with(c, "big")  # the other page's elements are gone
            assert "in the sidebar" in c.texts("sidebar")
            with pytest.raises(ClientError, match="no page"):
                await c.switch_page("nowhere")
            with pytest.raises(ClientError, match="no button"):
                await c.click("nothing")

    run(go())


def test_wait_for_sees_whole_runs_only(server):
    """Messages keep arriving while a waiter wakes up: the predicate runs in the reader, when a run has finished,
    so what it returns is never half of one run and half of the next."""

    async def go():
        async with StClient(server, timeout=30) as c:
            await c.open("slow")

            def texts_after(runs: int):
                return lambda c: c.stats["fragment_runs"] > runs and [t for t in c.texts() if t[:3] in ("sta", "end")]

            pairs = [await c.wait_for(texts_after(c.stats["fragment_runs"]), 30, "a fragment run") for _ in range(8)]
            assert all(len(p) == 2 and p[0].split()[1] == p[1].split()[1] for p in pairs), pairs
            assert c.stats["auto_reruns_sent"] >= 8

    run(go())


def test_a_dead_server_fails_fast():
    async def go():
        c = StClient(f"http://127.0.0.1:{free_port()}", timeout=5)
        with pytest.raises(OSError):
            await c.connect()

    run(go())


def test_a_delta_that_does_not_fit_the_tree_is_counted_not_fatal():
    """As in a browser, a delta whose path leads nowhere (a fragment run after an interrupted full run can send
    one) is not drawn; the client counts it and goes on."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    c = StClient("http://127.0.0.1:1")
    msg = ForwardMsg()
    msg.metadata.delta_path[:] = [0, 3, 0]
    msg.delta.new_element.markdown.body = "lost"
    assert c._handle(msg) is False
    msg.metadata.delta_path[:] = [0, 0]
    assert c._handle(msg) is False
    assert c.stats["misplaced_deltas"] == 1 and c.texts() == ["lost"]

"""Real-browser helpers: start the app on a free local port, drive Debian's Chromium through Playwright."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def start_server(extra_args: list[str] | None = None):
    """Run `streamlit run app.py` on 127.0.0.1; yield its URL once the health check answers."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / f"server-{port}.log", "w")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", *(extra_args or [])],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url), timeout=90, poll=0.3, what="the Streamlit server's health check")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def open_browser(width: int = 1400, height: int = 1800):
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "the browser tests need Debian's chromium: run 'make test' as root"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def wait_for(cond, timeout: float, poll: float = 0.5, what: str = "a condition"):
    """Poll `cond()` until it returns a truthy value; fail with `what` after `timeout` seconds."""
    end = time.time() + timeout
    last_error = None
    while time.time() < end:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - elements may be mid-rerender; try again
            last_error = e
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error})")


def settle(page, timeout: float = 30) -> None:
    """Wait until Streamlit has no script running for this page."""
    time.sleep(0.5)
    wait_for(lambda: page.locator('[data-testid="stStatusWidget"]').count() == 0, timeout, 0.3,
             "the app to finish running")

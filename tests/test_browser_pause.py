"""Pause at the heaviest setting the app accepts, in a real Chromium (Debian's, driven by Playwright): on the Gates
page, at lag 1000 with an LSTM and an RNN of 256 units (batch 8, the most the cost limit lets through), a run that
plays stops advancing once Pause is pressed, and the sidebar names the step the page shows. Behaviour only: how
soon is bench/bench_pause.py's business."""

from __future__ import annotations

import re
import time

import pytest
from browser_util import ARTIFACTS, open_browser, settle, start_server, wait_for

pytestmark = pytest.mark.browser

HEAVIEST = "task.lag=1000&model.hidden=256&train.batch=8&train.steps=20000&models=lstm,rnn"
STEP = re.compile(r"step ([\d,]+) of")


@pytest.fixture(scope="module")
def server():
    with start_server() as url:
        yield url


def page_step(page) -> int:
    return int(STEP.search(page.locator('[data-testid="stProgress"]').first.inner_text()).group(1).replace(",", ""))


def sidebar_run(page) -> str:
    return next(t for t in page.get_by_test_id("stSidebarUserContent").locator(
        '[data-testid="stCaptionContainer"]').all_inner_texts() if t.startswith("Run:"))


def test_pause_on_gates_at_the_heaviest_accepted_setting_stops_the_run(server):
    with open_browser() as page:
        page.goto(f"{server}/gates?{HEAVIEST}")
        page.get_by_role("heading", name="Gates").first.wait_for(timeout=120_000)
        # the heatmaps over 1,001 timesteps say that they draw every 5th one
        titles = "() => [...document.querySelectorAll('.js-plotly-plot .gtitle')].map(e => e.textContent)"
        wait_for(lambda: any("every 5th of 1,001 timesteps drawn" in t for t in page.evaluate(titles)),
                 180, 0.5, "the gate heatmaps' titles")
        settle(page, 180)
        captions = page.locator('[data-testid="stCaptionContainer"]').all_inner_texts()
        assert any("Heatmaps: every 5th of 1,001 timesteps drawn (the outlined t among them)" in c for c in captions)
        page.get_by_role("button", name=re.compile("Play")).first.click()
        page.get_by_role("button", name="Pause").first.wait_for(timeout=120_000)
        first = wait_for(lambda: page_step(page) > 0 and page_step(page), 180, 0.3, "training to show")
        wait_for(lambda: page_step(page) > first, 180, 0.3, "the step to move on")
        page.get_by_role("button", name="Pause").first.click()
        page.get_by_role("button", name=re.compile("Play")).first.wait_for(timeout=120_000)
        settle(page, 180)
        paused = page_step(page)
        time.sleep(5)  # five refresh intervals of a playing run
        settle(page, 60)
        assert page_step(page) == paused  # the run stopped advancing
        assert page.get_by_role("button", name="Pause").count() == 0
        assert sidebar_run(page).endswith(f"step {paused:,} of 20,000 (paused)")
        page.screenshot(path=str(ARTIFACTS / "pause_gates_heaviest.png"), full_page=True)
        assert page.locator('[data-testid="stException"]').count() == 0

"""The teacher's flow in a real Chromium (Debian's, driven by Playwright): open the app, start the headline
lesson, train until the LSTM passes 99 %, then see the gate heatmaps and both gradient curves.

Screenshots go to test-artifacts/ (the README's pictures come from here).
"""

from __future__ import annotations

import re
import time

import pytest
from browser_util import ARTIFACTS, open_browser, settle, start_server, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    with start_server() as url:
        yield url


def metric_value(page, label_start: str) -> str:
    m = page.locator('[data-testid="stMetric"]').filter(has_text=label_start).first
    return m.locator('[data-testid="stMetricValue"]').inner_text()


def percent(text: str) -> float:
    m = re.search(r"([\d.]+)\s*%", text)
    return float(m.group(1)) if m else -1.0


def test_teacher_flow(server):
    with open_browser() as page:
        t0 = time.time()
        page.goto(server)
        page.get_by_role("button", name=re.compile("Start the headline lesson")).wait_for(timeout=60_000)
        first_button = time.time() - t0
        page.get_by_role("button", name=re.compile("Start the headline lesson")).click()
        page.get_by_role("heading", name="Train & compare").wait_for(timeout=60_000)

        # Train until the LSTM's held-out accuracy passes 99 %, while the RNN trains on the same batches.
        lstm = wait_for(lambda: percent(metric_value(page, "LSTM")) >= 99.0, timeout=400, poll=2.0,
                        what="the LSTM to pass 99 % held-out accuracy")
        assert lstm
        page.get_by_role("button", name=re.compile("Pause")).click()
        settle(page)
        lstm_acc = percent(metric_value(page, "LSTM"))
        rnn_acc = percent(metric_value(page, "vanilla RNN"))
        assert lstm_acc >= 99.0
        assert rnn_acc < 50.0, f"the vanilla RNN reached {rnn_acc} % at lag 100"
        page.screenshot(path=str(ARTIFACTS / "train.png"), full_page=True)

        page.get_by_role("link", name=re.compile("Gates")).click()
        page.get_by_role("heading", name="Gates").wait_for(timeout=60_000)
        wait_for(lambda: page.locator(".heatmaplayer image").count() >= 6, timeout=60, what="gate heatmaps")
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / "gates.png"), full_page=True)

        page.get_by_role("link", name=re.compile("Vanishing gradients")).click()
        page.get_by_role("heading", name="Vanishing gradients").wait_for(timeout=60_000)
        chart = page.locator(".js-plotly-plot").first
        wait_for(lambda: chart.locator(".scatterlayer .trace").count() >= 2, timeout=60, what="gradient curves")
        legend = chart.locator(".legend").text_content()
        assert "LSTM" in legend and "vanilla RNN" in legend
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / "gradients.png"), full_page=True)
        (ARTIFACTS / "teacher_flow.txt").write_text(
            f"first button visible after {first_button:.1f} s; LSTM {lstm_acc} %, RNN {rnn_acc} %\n")


def test_lag_race_flow(server):
    """A teacher opens Lag race, keeps three lags, and sees the three charts and the computed sentences redrawn."""
    with open_browser() as page:
        page.goto(server + "/lag_race")
        page.get_by_role("heading", name="Lag race").wait_for(timeout=60_000)
        charts = page.locator(".js-plotly-plot")
        wait_for(lambda: charts.count() == 3, timeout=60, what="the three lag race charts")
        lags = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Lags T")
        shown = [t.get_attribute("aria-label") for t in lags.locator("[data-tag]").all()]
        assert "10" in shown and "100" in shown
        for lag in shown:
            if lag not in ("10", "50", "100"):
                lags.get_by_role("button", name=f"Remove {lag}", exact=True).click()
                settle(page)
        wait_for(lambda: [t.text_content() for t in charts.first.locator(".xtick text").all()] == ["10", "50", "100"],
                 timeout=60, what="the success chart redrawn for lags 10, 50 and 100")
        settle(page)
        wait_for(lambda: charts.count() == 3, timeout=30, what="exactly the three charts")
        assert charts.first.locator(".legend").text_content().count("vanilla RNN") == 1
        assert page.get_by_text(re.compile(r"^The vanilla RNN solved")).count() == 1
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / "lag_race.png"), full_page=True)

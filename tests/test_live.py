"""The live refresh's pace: once a second for a few learners, slower when many play at once on one server."""

from __future__ import annotations

import pytest

from lstm_core.pool import client as pool_client
from lstm_core.pool import run as pool_run
from pages import live


def test_a_few_learners_refresh_every_second():
    assert live.refresh_every(1, 0.05) == 1.0
    assert live.refresh_every(5, 0.05) == 1.0  # 5 x 0.05 s = 0.25 s of redraws per second: within the share


def test_many_learners_refresh_so_their_redraws_take_the_pages_share():
    every = live.refresh_every(20, 0.05)
    assert every == pytest.approx(20 * 0.05 / live.PAGE_SHARE)
    assert 20 * 0.05 / every == pytest.approx(live.PAGE_SHARE)  # the page process's share of a core
    assert live.refresh_every(200, 0.05) == live.SLOWEST_REFRESH  # and never slower than this


def test_the_slowest_refresh_keeps_the_run_training_and_the_clock_moving():
    # a run trains on for LEASE after a playing refresh, and the playback clock takes gaps up to MAX_GAP: both
    # must outlast the slowest refresh, or a busy server would idle its workers between two refreshes
    assert live.SLOWEST_REFRESH < pool_client.MAX_GAP < pool_run.LEASE

"""lstm_core.sweep: train_run's torch threads, and the ThreadTuner that picks 1 or all of them by timing steps."""

from __future__ import annotations

import pytest
import torch

from lstm_core import sweep
from lstm_core.sweep import ThreadTuner, train_run


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def threads(monkeypatch):
    """torch.set_num_threads recorded instead of applied; `threads[-1]` is the count in use."""
    calls: list[int] = []
    monkeypatch.setattr(sweep.torch, "set_num_threads", calls.append)
    return calls


def feed(tuner: ThreadTuner, clock: FakeClock, seconds: dict[int, float], steps: int) -> list[int]:
    """Run `steps` steps whose duration depends on the thread count in use; the counts used, step by step."""
    used = []
    for _ in range(steps):
        used.append(tuner.threads)
        clock.now += seconds[tuner.threads]
        tuner.step_done(seconds[tuner.threads])
    return used


def test_keeps_all_threads_while_they_are_faster(threads):
    clock = FakeClock()
    tuner = ThreadTuner(2, every=20.0, probe=3, clock=clock)
    used = feed(tuner, clock, {2: 0.1, 1: 0.18}, 10)
    # 2 warm-up steps and 3 timed ones with 2 threads, then one try of 1 thread (1 untimed + 3 timed), back to 2
    assert used == [2, 2, 2, 2, 2, 1, 1, 1, 1, 2]
    assert tuner.best == 2 and threads[-1] == 2
    assert tuner.wait == 40.0  # the try lost: the next one waits twice as long
    assert tuner.due == pytest.approx(clock.now - 0.1 + 40.0)
    used = feed(tuner, clock, {2: 0.1, 1: 0.18}, 420)  # 42 s more: one more try, 40 s after the first
    assert used.count(1) == 4 and tuner.wait == 80.0


def test_falls_back_to_one_thread_when_it_is_faster_and_tries_again_later(threads):
    clock = FakeClock()
    tuner = ThreadTuner(2, every=20.0, probe=3, clock=clock)
    used = feed(tuner, clock, {2: 0.5, 1: 0.3}, 20)
    assert used[:9] == [2, 2, 2, 2, 2, 1, 1, 1, 1] and set(used[9:]) == {1}
    assert tuner.best == 1 and threads[-1] == 1 and tuner.wait == 20.0
    # the load goes away: two threads become faster, and the next try (20 s later) finds it
    used = feed(tuner, clock, {2: 0.1, 1: 0.3}, 80)
    assert tuner.best == 2 and threads[-1] == 2 and used[-1] == 2


def test_a_try_that_is_clearly_slower_stops_at_its_first_step(threads):
    clock = FakeClock()
    tuner = ThreadTuner(2, every=20.0, probe=3, clock=clock)
    used = feed(tuner, clock, {2: 0.2, 1: 1.0}, 8)
    assert used == [2, 2, 2, 2, 2, 1, 2, 2]  # one step with 1 thread (5x slower), then back
    assert tuner.best == 2 and threads[-1] == 2


def test_one_core_means_nothing_to_choose(threads):
    clock = FakeClock()
    tuner = ThreadTuner(1, clock=clock)
    assert feed(tuner, clock, {1: 0.1}, 50) == [1] * 50
    assert threads == [1]


def test_train_run_trains_with_its_threads_and_restores_the_callers(make_run, monkeypatch):
    from lstm_core import train

    seen = []
    step = train.Trainer.next_record
    monkeypatch.setattr(train.Trainer, "next_record", lambda self: seen.append(torch.get_num_threads()) or step(self))
    before = torch.get_num_threads()
    summary = train_run(make_run(train={"steps": 3}), None, threads=before + 1)
    assert seen == [before + 1] * 3 and summary["steps"] == 3
    assert torch.get_num_threads() == before

"""Torch threads for a training run: one, or all the cores, chosen by timing the steps as they go.

Apart from lstm_core.sweep because it imports torch at its top, and the sweep module is read by the page process.
"""

from __future__ import annotations

import statistics
import time
from collections import deque

import torch


class ThreadTuner:
    """Chooses, while a run trains, between one torch thread and `most`, by timing the training steps.

    On this 2-core machine two threads made a text step at H 256 about 1.8x faster while the machine was
    otherwise idle, and 1.2-8x slower than one thread while other processes kept the cores busy (OpenMP's
    threads wait for each other at every parallel region, and one of them is often descheduled); a shared
    machine goes from one state to the other within minutes. So: start with `most`, time a few steps, try the
    other count for `probe` steps, keep the faster (by at least 5 %), and try the other again after `every`
    seconds, twice as long after each try that lost. A try is abandoned at its first step slower than twice the
    current median. The count changes no number: records and weights were bitwise equal with 1 and 2 threads,
    switched every few steps (H 128 text and H 32 recall, 60 steps).
    """

    def __init__(self, most: int, every: float = 20.0, probe: int = 3, clock=time.perf_counter):
        self.most, self.every, self.probe, self.clock = most, every, probe, clock
        self.best = self.threads = most
        self.times = {1: deque(maxlen=5), most: deque(maxlen=5)}  # recent step seconds per thread count
        self.skip = 2  # steps not timed: the first ones (allocations), the first after each change of count
        self.left = 0  # steps left in the current try of the other count
        self.wait = every
        self.due = -1.0  # clock time of the next try (the first: as soon as the current count has samples)
        torch.set_num_threads(most)

    def _use(self, threads: int) -> None:
        torch.set_num_threads(threads)
        self.threads, self.skip = threads, 1

    def step_done(self, seconds: float) -> None:
        """One training step took `seconds` (leave evaluation steps out): record it; switch counts when due."""
        if self.most == 1:
            return
        if self.left:  # trying the other count
            self.left -= 1
            if seconds > 2 * statistics.median(self.times[self.best]):
                self.left = 0  # clearly slower: stop trying now
            elif self.skip:
                self.skip -= 1
            else:
                self.times[self.threads].append(seconds)
            if self.left == 0:
                tried = self.times[self.threads]
                won = len(tried) >= self.probe and statistics.median(tried) < 0.95 * statistics.median(
                    self.times[self.best])
                self.best = self.threads if won else self.best
                self.wait = self.every if won else min(2 * self.wait, 16 * self.every)
                self._use(self.best)
                self.due = self.clock() + self.wait
            return
        if self.skip:
            self.skip -= 1
            return
        self.times[self.best].append(seconds)
        if len(self.times[self.best]) >= self.probe and self.clock() >= self.due:
            other = 1 if self.best == self.most else self.most
            self.times[other].clear()
            self._use(other)
            self.left = self.probe + 1  # the first step after the change is not timed

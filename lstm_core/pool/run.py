"""One run's timeline in a worker, shared by every session with the same settings, seed and origin.

A batch is a pure function of (seed, step), so two sessions with the same settings have the same numbers: the
run is computed once, and each session looks at it through its own cursor. The timeline holds the step records
of every step and *frames*: the whole training state (`Lab.checkpoint`) at the steps sessions look at. A
session that plays moves its cursor at the pace the run was trained (the records' training seconds), so a
learner who starts late, or presses Reset and Play on a run that is already computed, watches it train as it
did, live, for the cost of its traces; when a cursor reaches the front, the run trains on. Frames are kept
within a memory budget (thinned evenly, never one a session is on); a step that is not a frame is rebuilt by
training on from the frame before it, which reproduces the same numbers (`Lab.fork`).
"""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass, field

import torch

from ..lab import Lab

FRAME_BYTES = 48 * 2**20  # the frames of one run together (the headline lesson's frame is ~80 KB)
FRAME_EVERY = 0.5  # seconds of training between two frames (and of wall time between two a session publishes)
LEASE = 8.0  # seconds a run trains on after the last word from a playing session: longer than the slowest refresh
# (4 s, when many learners share the page process: pages/live.py), so a busy server never idles its workers
# between two refreshes; a closed tab's run stops within 8 s
SNAPSHOT_EVERY = 50  # steps between the snapshots a learner scrubs through (doubled whenever there are too many)
MAX_SNAPSHOTS = 40


def _nbytes(obj) -> int:
    if torch.is_tensor(obj):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(v) for v in obj)
    return 0


@dataclass
class SharedRun:
    key: str  # the coordinator's key: settings, seed, device class and origin
    lab: Lab
    frames: dict[int, int] = field(default_factory=dict)  # step -> bytes of its frame (the states: lab.frames)
    made: dict[int, float] = field(default_factory=dict)  # step -> when its frame was made (monotonic)
    pins: dict[str, int] = field(default_factory=dict)  # session id -> the step its cursor is on
    leases: dict[str, float] = field(default_factory=dict)  # playing session -> train until (time.monotonic())
    sent: int = -1  # the step of the last checkpoint sent to the coordinator
    sent_at: float = 0.0
    every: int = SNAPSHOT_EVERY  # steps between live snapshots (lab.live_snapshots)

    def __post_init__(self) -> None:
        self.publish()
        if not self.lab.snapshots:  # a live run (a pretrained lesson has snapshots of its own)
            self.lab.live_snapshots.add(self.head)

    # -- the timeline --------------------------------------------------------------------------------------------
    @property
    def head(self) -> int:
        return self.lab.step

    @property
    def training(self) -> bool:
        now = time.monotonic()
        return not self.lab.done and any(until > now for until in self.leases.values())

    def seconds(self, step: int) -> float:
        """Training time the run took to reach `step` (all models; from the step records)."""
        return sum(tr.history[step - 1].seconds for tr in self.lab.trainers.values()) if step > 0 else 0.0

    def publish(self) -> int:
        """Make the head a frame (if it is not one) and return its step."""
        step = self.head
        if step not in self.lab.frames:
            ckpt = self.lab.checkpoint()
            self.lab.frames[step] = ckpt
            self.frames[step] = _nbytes(ckpt)
            self.made[step] = time.monotonic()
            self._thin()
        return step

    def _thin(self) -> None:
        """Drop frames, the closest-spaced first, until the run's frames fit FRAME_BYTES; never the head, step 0
        or a step a session is on."""
        keep = {self.head, 0, *self.pins.values(), *self.lab.live_snapshots}
        while sum(self.frames.values()) > FRAME_BYTES:
            steps = sorted(self.frames)
            droppable = [(steps[k + 1] - steps[k - 1], s) for k, s in enumerate(steps)
                         if s not in keep and 0 < k < len(steps) - 1]
            if not droppable:
                return
            _, s = min(droppable)
            self._drop(s)

    def _drop(self, step: int) -> None:
        self.lab.frames.pop(step, None)
        self.frames.pop(step, None)
        self.made.pop(step, None)

    def frame(self, step: int) -> int:
        """Make `step` (not beyond the head) a frame, training on from the frame before it if need be."""
        if step in self.lab.frames or step == self.head:
            return self.publish() if step == self.head else step
        base = max(s for s in self.lab.frames if s <= step)
        twin = self.lab.fork(self.lab.frames[base])
        twin.advance(step - base)
        ckpt = twin.checkpoint()
        self.lab.frames[step] = ckpt
        self.frames[step] = _nbytes(ckpt)
        self.made[step] = time.monotonic()
        self._thin()
        return step

    # -- what sessions do ------------------------------------------------------------------------------------------
    def move(self, session: str, cursor: int, playing: bool, clock: float | None) -> tuple[int, float]:
        """A session's refresh. `clock` is where the session's playback has got to, in seconds of the run's own
        training time (None: where its cursor is). While playing, the cursor moves to the last frame the clock
        has passed, or, at the front, to the head (the run trains on while anyone plays it). Returns the cursor
        and the clock."""
        cursor = min(cursor, self.head)
        clock = self.seconds(cursor) if clock is None else clock
        if not playing:  # paused: this session's lease ends now (others' go on)
            self.leases.pop(session, None)
        if playing:
            self.leases[session] = time.monotonic() + LEASE
            last = max(self.lab.frames)
            if cursor >= last:  # at the front: show the head, as a frame (at most one new frame per FRAME_EVERY)
                fresh = time.monotonic() - self.made.get(last, 0.0) < FRAME_EVERY
                cursor = last if fresh else self.publish()
                clock = self.seconds(cursor)
            else:  # behind the front: catch up at the pace the run trained
                cursor = max((s for s in self.lab.frames if cursor < s and self.seconds(s) <= clock), default=cursor)
        self.pins[session] = cursor
        return cursor, clock

    def step(self, session: str, cursor: int, n: int = 1) -> int:
        """+n steps from the cursor: train the head on, or rebuild the frame `n` steps on."""
        cursor = min(cursor, self.head)
        target = min(cursor + n, self.lab.train_cfg.steps)
        if target > self.head:
            if cursor != self.head:
                self.frame(cursor)
            self.lab.advance(target - self.head)
            target = self.publish()
        else:
            target = self.frame(target)
        self.pins[session] = target
        return target

    def release(self, session: str) -> None:
        self.pins.pop(session, None)
        self.leases.pop(session, None)

    def train(self, seconds: float) -> int:
        """Train on for up to `seconds` (the worker's scheduler calls this while the run is leased); make the head
        a frame every FRAME_EVERY seconds of training, so a session behind can follow the run smoothly, and a
        snapshot every `every` steps (at most MAX_SNAPSHOTS: then every other one goes and the spacing doubles),
        for learners to scrub through training."""
        n = self.lab.advance(self.every - self.head % self.every, max_seconds=seconds)
        if not self.lab.snapshots and self.head % self.every == 0 and n:
            self.snapshot()
        elif self.seconds(self.head) - self.seconds(max(self.lab.frames)) >= FRAME_EVERY or self.lab.done:
            self.publish()
        return n

    def snapshot(self) -> None:
        self.lab.live_snapshots.add(self.publish())
        if len(self.lab.live_snapshots) > MAX_SNAPSHOTS:
            self.every *= 2
            self.lab.live_snapshots = {s for s in self.lab.live_snapshots if s % self.every == 0}

    # -- recovery ----------------------------------------------------------------------------------------------
    def checkpoint_bytes(self) -> bytes:
        """The head's whole state and every record, pickled (the coordinator stores it unopened, and a worker
        rebuilds the run from it if this one dies)."""
        histories = {n: list(tr.history) for n, tr in self.lab.trainers.items()}
        return pickle.dumps({"step": self.head, "lab": self.lab.checkpoint(), "histories": histories},
                            protocol=pickle.HIGHEST_PROTOCOL)

    def restore_bytes(self, data: bytes) -> None:
        saved = pickle.loads(data)  # noqa: S301 - written by a worker of this pool (checkpoint_bytes), never by a user
        self.lab.restore(saved["lab"], saved["histories"])
        self.lab.frames.clear()
        self.frames.clear()
        self.made.clear()
        self.publish()

"""The coordinator, in the page process: sessions, runs and the workers that hold them. Torch-free.

`get_pool()` is the process's one `Pool`. It keys every run by everything that fixes its numbers (settings,
seed, device class, origin, uploaded text), so identical runs are computed once whoever asks; places each run
on a worker; keeps each run's latest checkpoint (sent by its worker every few seconds) in a spool folder; and
runs a janitor that stops what closed tabs left behind and rebuilds the runs of a worker that died.

A page holds a `RemoteLab`: the same methods as `lstm_core.lab.Lab` (view, trace, ...), answered by the worker
for this session's cursor on the shared run, so pages never know where the run lives.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any

from ..config import LabSpec
from ..errors import RunGone, WorkerError
from ..views import LabView
from .backends import LocalBackend, RayBackend, WorkerLost, default_workers

SESSION_TTL = 20.0  # seconds without a word from a session (a closed tab) before its cursor is released
RUN_TTL = 60.0  # seconds a run with no session stays in its worker's memory (its checkpoint stays on disk)
JANITOR_EVERY = 2.0
CALL_TIMEOUT = 300.0  # a request waits at most this long (a step at the cost limit takes about a second)
MAX_GAP = 5.0  # a playing page refreshes at least every 4 s (pages/live.py): a longer gap is a tab that slept
QUERY_CACHE = 96  # answers kept for identical queries (a trace at a step is the same for every session)
WAIT_POLL = 0.05  # seconds between two looks at `Pool.wait_check` while a page waits for a worker


class SessionGone(LookupError):
    """The pool does not know this session (its tab slept past SESSION_TTL): the page's RemoteLab reattaches."""


@dataclass
class RunEntry:
    spec: LabSpec
    origin: tuple  # ("fresh",), ("lesson", name) or ("archive", path of the spooled bytes)
    text_path: str | None  # spooled upload, for a text run on an uploaded corpus
    worker: int
    sessions: set[str] = field(default_factory=set)
    idle_since: float | None = None
    checkpoint: str | None = None  # spool path of the latest checkpoint
    checkpoint_step: int = 0
    loaded: bool = False  # live in its worker (False until opened, once evicted, or when its worker died)
    lost: bool = False  # its worker died; the sessions are told once the run is back
    loading: threading.Lock = field(default_factory=threading.Lock)  # one opening at a time


@dataclass
class SessionEntry:
    key: str
    last_seen: float
    notice: str | None = None  # one sentence for the page (a run resumed after its worker died)
    playing_at: float = float("-inf")  # when the session last refreshed while playing (monotonic)


class Pool:
    def __init__(self, backend: Any, workers: int):
        self.backend = backend
        self.n_workers = workers
        self.lock = threading.RLock()
        self.runs: dict[str, RunEntry] = {}
        self.sessions: dict[str, SessionEntry] = {}
        self.spool = tempfile.mkdtemp(prefix="lstm-gate-lab-pool-")
        self._cache: OrderedDict = OrderedDict()
        self._device: str | None = None
        self._stop = threading.Event()
        threading.Thread(target=self._janitor, name="lstm-gate-lab-janitor", daemon=True).start()

    # -- runs ------------------------------------------------------------------------------------------------------
    def key(self, spec: LabSpec, origin: tuple, text: str | None) -> str:
        h = hashlib.sha256(repr((spec, self.device_class(spec))).encode())
        for part in (origin[0], origin[1] if len(origin) > 1 else "", text or ""):
            h.update(b"\0" + (part if isinstance(part, bytes) else str(part).encode()))
        return h.hexdigest()[:24]

    def device_class(self, spec: LabSpec) -> str:
        return spec.train.device if spec.train.device != "auto" else self.device()

    def device(self) -> str:
        """What "auto" means on the workers: cuda, mps or cpu."""
        for _ in range(3):
            if self._device is not None:
                break
            try:
                self._device = self._call(self._least_loaded(), "ping", ())["device"]
            except WorkerLost:
                continue
        if self._device is None:
            raise WorkerError("the server's workers keep stopping; try again in a moment.")
        return self._device

    def known_device(self) -> str | None:
        """The workers' device if a worker has said it already (never waits)."""
        return self._device

    def open(self, session: str, spec: LabSpec, origin: tuple = ("fresh",), text: str | None = None) -> tuple[str, int]:
        """Attach `session` to the run these settings make (created on a worker if nobody has it): its key and
        head step. Raises ConfigError (over the limits), DataError or RunError with one sentence."""
        key = self.key(spec, origin, text)
        with self.lock:
            entry = self.runs.get(key)
            if entry is None:
                origin_kept = origin
                if origin[0] == "archive":
                    origin_kept = ("archive", self._spool_bytes(f"{key}.archive", origin[1]))
                text_path = self._spool_bytes(f"{key}.text", text.encode()) if text is not None else None
                entry = self.runs[key] = RunEntry(spec, origin_kept, text_path, self._least_loaded())
        try:
            head = self._ensure_loaded(key, entry)  # outside the pool's lock: building a run may take a second
        except Exception:
            with self.lock:
                if not entry.loaded and not entry.sessions:
                    self.runs.pop(key, None)  # refused (over the limits, bad data): nothing is kept
            raise
        with self.lock:
            old = self.sessions.get(session)
            if old is not None and old.key != key:
                self._detach(session, old.key)
            entry.sessions.add(session)
            entry.idle_since = None
            self.sessions[session] = SessionEntry(key, time.monotonic())
        return key, head

    def _ensure_loaded(self, key: str, entry: RunEntry) -> int:
        """Open the run on its worker (a no-op there if it is live) and return its head step; if that worker has
        died, on another one (the janitor starts a replacement), and its sessions are told in one sentence."""
        with entry.loading:
            for attempt in range(3):
                with self.lock:
                    if entry.worker not in self.backend.workers():
                        entry.lost, entry.loaded = entry.lost or entry.loaded, False
                        entry.worker = self._least_loaded()
                try:
                    head = self._load(key, entry)
                    break
                except WorkerLost:
                    if attempt == 2:
                        raise WorkerError("the server's workers keep stopping; try again in a moment.") from None
            if entry.lost:
                entry.lost = False
                since = "its last checkpoint" if entry.checkpoint else "where it began"
                with self.lock:
                    for sid in entry.sessions:
                        if sid in self.sessions:
                            self.sessions[sid].notice = (f"The worker training this run stopped; the run resumed "
                                                         f"from {since}, step {head:,}, on another worker.")
            return head

    def _load(self, key: str, entry: RunEntry) -> int:
        restore = None
        if entry.checkpoint and os.path.exists(entry.checkpoint):
            with open(entry.checkpoint, "rb") as f:
                restore = f.read()
        origin = entry.origin
        if origin[0] == "archive":
            with open(origin[1], "rb") as f:
                origin = ("archive", f.read())
        text = None
        if entry.text_path:
            with open(entry.text_path, encoding="utf-8") as f:
                text = f.read()
        head = self._call(entry.worker, "open", (key, entry.spec, origin, text, restore))
        entry.loaded = True
        return head

    def run_call(self, session: str, method: str, args: tuple) -> Any:
        """A request about the session's run, to the worker that holds it; a run lost with its worker, or evicted
        while the session was away, is rebuilt from its checkpoint first."""
        with self.lock:
            s = self.sessions.get(session)
            if s is None:
                raise SessionGone(session)
            s.last_seen = time.monotonic()
            if method == "move" and args[2]:  # (session, cursor, playing, clock, since)
                s.playing_at = s.last_seen
            key = s.key
            entry = self.runs[key]
        for attempt in range(3):
            try:
                if not entry.loaded:
                    self._ensure_loaded(key, entry)
                return self._call(entry.worker, method, (key, *args), interruptible=True)
            except (WorkerLost, RunGone):
                if attempt == 2:
                    raise WorkerError("the server's workers keep stopping; try again in a moment.") from None
                self._ensure_loaded(key, entry)  # back on a live worker, from its latest checkpoint
        raise AssertionError("unreachable")

    def playing(self, within: float) -> int:
        """How many sessions refreshed while playing in the last `within` seconds (the page process's load)."""
        since = time.monotonic() - within
        with self.lock:
            return sum(s.playing_at >= since for s in self.sessions.values())

    def notice(self, session: str) -> str | None:
        """A sentence for the page, once (a run resumed after its worker died)."""
        with self.lock:
            s = self.sessions.get(session)
            msg, s.notice = (s.notice, None) if s else (None, None)
            return msg

    def query(self, session: str, step: int, method: str, args: tuple = (), kwargs: dict | None = None) -> Any:
        """An answer from the session's run at `step` (a trace, a forecast, ...), shared with every session that
        asks the same: it is the same run."""
        with self.lock:
            s = self.sessions.get(session)
            key = s.key if s else None
        cache_key = (key, step, method, args, tuple(sorted((kwargs or {}).items())))
        with self.lock:
            if key is not None and cache_key in self._cache:
                self._cache.move_to_end(cache_key)
                return self._cache[cache_key]
        result = self.run_call(session, "query", (step, method, args, kwargs or {}))
        if method != "run_archive":  # large, asked rarely
            with self.lock:
                self._cache[cache_key] = result
                while len(self._cache) > QUERY_CACHE:
                    self._cache.popitem(last=False)
        return result

    def job(self, name: str, **kwargs: Any) -> Any:
        """A computation that belongs to no run, on the least busy worker; identical jobs are done once."""
        cache_key = ("job", name, tuple(sorted((k, v if not isinstance(v, bytes) else hashlib.sha256(v).digest())
                                              for k, v in kwargs.items())))
        with self.lock:
            if cache_key in self._cache:
                return self._cache[cache_key]
        for attempt in range(3):  # a worker that dies mid-job: the next live one does it
            try:
                result = self._call(self._least_loaded(), "job", (name, kwargs))
                break
            except WorkerLost:
                if attempt == 2:
                    raise WorkerError("the server's workers keep stopping; try again in a moment.") from None
        with self.lock:
            self._cache[cache_key] = result
            while len(self._cache) > QUERY_CACHE:
                self._cache.popitem(last=False)
        return result

    def touch(self, session: str) -> bool:
        """The session is alive (a heartbeat from its page); False if the pool does not know it."""
        with self.lock:
            s = self.sessions.get(session)
            if s is not None:
                s.last_seen = time.monotonic()
            return s is not None

    def close(self, session: str) -> None:
        with self.lock:
            s = self.sessions.pop(session, None)
            if s is not None:
                self._detach(session, s.key)

    def _detach(self, session: str, key: str) -> None:
        entry = self.runs.get(key)
        if entry is None:
            return
        entry.sessions.discard(session)
        if not entry.sessions:
            entry.idle_since = time.monotonic()
        if entry.loaded:
            self.backend.call(entry.worker, "release", (key, session))  # no wait: nothing to answer

    # -- workers ---------------------------------------------------------------------------------------------------
    # Set by the pages (pages/frame.py): a function that returns, for the calling thread, a check to run while it
    # waits for a worker, which raises to stop waiting (Streamlit's: the learner clicked Pause while a live refresh
    # waited for a step that takes a second at the cost limit), or None. The core imports no UI; the page hands it in.
    wait_check: Any = None

    def _call(self, worker: int, method: str, args: tuple, interruptible: bool = False) -> Any:
        """A request to a worker and its answer. `interruptible` (a question about a run, or moving a cursor, which
        change nothing a session holds until answered) waits in slices of WAIT_POLL, running the calling thread's
        `wait_check` between them: if it raises, the answer is left to arrive unread."""
        future = self.backend.call(worker, method, args)
        check = self.wait_check() if interruptible and self.wait_check is not None else None
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:
            try:
                return future.result(timeout=WAIT_POLL if check is not None else CALL_TIMEOUT)
            except FutureTimeout:
                if check is None or time.monotonic() > deadline:
                    raise WorkerError("the server is too busy to answer; try again in a moment.") from None
                check()

    def _least_loaded(self) -> int:
        workers = self.backend.workers()
        if not workers:
            workers = [self.backend.start()]
        load = {w: 0 for w in workers}
        for e in self.runs.values():
            if (e.loaded or e.sessions or e.loading.locked()) and e.worker in load:
                load[e.worker] += 1
        return min(load, key=lambda w: (load[w], w))

    def _spool_bytes(self, name: str, data: bytes) -> str:
        path = os.path.join(self.spool, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
        return path

    def _janitor(self) -> None:
        while not self._stop.wait(JANITOR_EVERY):
            try:
                self.tidy()
            except Exception:  # noqa: BLE001, S110 - the janitor must outlive any one failure; it retries next round
                pass

    def tidy(self) -> None:
        """One round of the janitor: replace dead workers, collect checkpoints, release what closed tabs left,
        evict runs nobody has looked at for RUN_TTL (their checkpoints stay on disk)."""
        for _ in range(max(0, self.n_workers - len(self.backend.workers()))):
            self.backend.start()
        live = self.backend.workers()
        for w in self.backend.workers():
            try:
                for key, step, data in self._call(w, "checkpoints", ()):
                    with self.lock:
                        entry = self.runs.get(key)
                        if entry is not None:
                            entry.checkpoint = self._write(f"{key}.ckpt", data)
                            entry.checkpoint_step = step
            except WorkerLost:
                continue
        now = time.monotonic()
        with self.lock:
            for sid, s in list(self.sessions.items()):
                if now - s.last_seen > SESSION_TTL:
                    del self.sessions[sid]
                    self._detach(sid, s.key)
            for key, entry in list(self.runs.items()):
                if entry.loaded and entry.worker not in live:
                    entry.loaded, entry.lost = False, True  # its worker died: rebuilt on the next request
                if entry.idle_since is not None and now - entry.idle_since > RUN_TTL and entry.loaded:
                    self.backend.call(entry.worker, "close", (key,))
                    entry.loaded = False

    def _write(self, name: str, data: bytes) -> str:
        path = os.path.join(self.spool, name)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return path

    def shutdown(self) -> None:
        self._stop.set()
        self.backend.close()
        shutil.rmtree(self.spool, ignore_errors=True)


_POOL: Pool | None = None
_POOL_LOCK = threading.Lock()


def get_pool() -> Pool:
    """The process's pool: LAB_WORKERS workers (default: one per core), on Ray if RAY_ADDRESS (or LAB_BACKEND=ray)
    is set, else local processes. Started on first use; the workers warm up while the first page draws."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            n = default_workers()
            if os.environ.get("RAY_ADDRESS") or os.environ.get("LAB_BACKEND") == "ray":
                backend: Any = RayBackend(n, os.environ.get("RAY_ADDRESS"))
            else:
                backend = LocalBackend(n)
            _POOL = Pool(backend, n)
        return _POOL


class RemoteLab:
    """One session's view of a shared run: the Lab's methods, answered by the run's worker at this session's
    cursor. Kept in the session's state; holds no torch object."""

    def __init__(self, spec: LabSpec, origin: tuple = ("fresh",), text: str | None = None, pool: Pool | None = None,
                 cursor: int | None = None):
        self.pool = pool or get_pool()
        self.session = uuid.uuid4().hex
        self.spec, self.origin, self.text = spec, origin, text
        self.key, head = self.pool.open(self.session, spec, origin, text)
        # a fresh run is watched from its start (a late learner sees it train); a lesson or an import at its end
        self.cursor = (0 if origin[0] == "fresh" else head) if cursor is None else cursor
        self._histories: dict[str, tuple] = {}
        self._view: LabView | None = None
        self._last = time.monotonic()
        self._clock: float | None = None  # playback position, in seconds of the run's training time
        self._fetch("move", (self.cursor, False, None))

    # -- the timeline ----------------------------------------------------------------------------------------------
    def _since(self) -> dict[str, int]:
        return {n: len(h) for n, h in self._histories.items()}

    def _reattach(self) -> None:
        """The pool forgot this session (its tab slept past SESSION_TTL): attach again to the same run."""
        self.key, _ = self.pool.open(self.session, self.spec, self.origin, self.text)
        self._histories = {}

    def _fetch(self, method: str, args: tuple) -> LabView:
        try:
            at, clock, patch = self.pool.run_call(self.session, method, (self.session, *args, self._since()))
        except SessionGone:
            self._reattach()
            at, clock, patch = self.pool.run_call(self.session, method, (self.session, *args, {}))
        self._clock = clock
        hist = {n: self._histories.get(n, ())[:at] + h for n, h in patch.histories.items()}
        hist = {n: h[:at] for n, h in hist.items()}
        self._histories = hist
        self.cursor = at
        self._view = replace(patch, histories=hist)
        return self._view

    def view(self) -> LabView:
        """The run at this session's cursor (no request if nothing moved)."""
        return self._view if self._view is not None else self._fetch("move", (self.cursor, False, None))

    def refresh(self, playing: bool) -> LabView:
        """A live refresh: while playing, the playback clock moves on by the time since the last refresh (at most
        MAX_GAP, so a sleeping tab does not leap), the cursor to the last frame it has passed, and at the front the
        run trains on; paused, the view is brought up to date."""
        now = time.monotonic()
        elapsed, self._last = min(now - self._last, MAX_GAP), now
        clock = None if not playing or self._clock is None else self._clock + elapsed
        return self._fetch("move", (self.cursor, playing, clock))

    def advance(self, n: int = 1) -> int:
        """+n steps (the same batches as everyone on this run); returns the steps taken."""
        before = self.cursor
        self._fetch("step", (self.cursor, n))
        return self.cursor - before

    def notice(self) -> str | None:
        return self.pool.notice(self.session)

    def touch(self) -> None:
        if not self.pool.touch(self.session):
            self._fetch("move", (self.cursor, False, None))

    def close(self) -> None:
        self.pool.close(self.session)

    # -- the Lab's questions, at the cursor ----------------------------------------------------------------------------
    def _ask(self, method: str, *args: Any, step: int | None = None, **kwargs: Any) -> Any:
        at = self.cursor if step is None else step
        try:
            return self.pool.query(self.session, at, method, args, kwargs)
        except SessionGone:
            self._reattach()
            return self.pool.query(self.session, at, method, args, kwargs)

    def trace(self, name: str, step: int | None = None):
        return self._ask("trace", name, step=step)

    def passage(self, name: str, chars: int):
        return self._ask("passage", name, chars)

    def display_values(self):
        return self._ask("display_values")

    def forecast(self, name: str, horizon: int):
        return self._ask("forecast", name, horizon)

    def sample_text(self, name: str, prompt: str, n: int, temperature: float, seed: int) -> str:
        return self._ask("sample_text", name, prompt, n, temperature, seed)

    def explain_step(self, name: str, t: int, unit: int, step: int | None = None) -> dict:
        return self._ask("explain_step", name, t, unit, step=step)

    def spectral_radius(self, name: str) -> float:
        return self._ask("spectral_radius", name)

    def grad_matrix(self, name: str):
        return self._ask("grad_matrix", name)

    def run_archive(self, name: str) -> bytes:
        return self._ask("run_archive", name)

    def intervene(self, name: str, clamps: tuple, step: int | None = None):
        return self._ask("intervene", name, tuple(clamps), step=step)

    def memory_units(self, name: str, step: int | None = None):
        return self._ask("memory_units", name, step=step)

    def text_units(self, name: str):
        return self._ask("text_units", name)

    def saturation(self, name: str):
        return self._ask("saturation", name)

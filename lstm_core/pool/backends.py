"""Where the workers run: local processes (the default, started by the app itself), or actors on a Ray cluster.

Both give the coordinator the same thing: `workers()`, the ids of the live workers, and `call(worker, method,
args)`, a `concurrent.futures.Future` of the worker's answer, which fails with `WorkerLost` if the worker dies
(a kill -9, a lost node). Torch-free: the page process starts workers without loading the engine.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ..errors import WorkerError

ROOT = Path(__file__).resolve().parents[2]


class WorkerLost(RuntimeError):
    """A worker died while holding runs; the coordinator rebuilds them elsewhere from their checkpoints."""


def default_workers() -> int:
    """LAB_WORKERS, else one worker per core this process may use."""
    raw = os.environ.get("LAB_WORKERS", "").strip()
    if raw:
        n = int(raw)
        if n < 1:
            raise ValueError(f"LAB_WORKERS must be 1 or more, got {n}.")
        return n
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class LocalBackend:
    """Worker processes on this machine (`python -m lstm_core.pool.worker`: a fresh interpreter each, one torch
    thread), each talking over its own socket pair."""

    def __init__(self, n: int):
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._procs: dict[int, tuple[Any, Any, threading.Lock]] = {}  # id -> (process, connection, send lock)
        self._pending: dict[int, dict[int, Future]] = {}  # worker id -> request id -> future
        self._req = itertools.count()
        for _ in range(n):
            self.start()

    def start(self) -> int:
        """Start one more worker; returns its id."""
        wid = next(self._ids)
        mine, theirs = socket.socketpair()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
        proc = subprocess.Popen([sys.executable, "-m", "lstm_core.pool.worker", str(theirs.fileno()), f"worker-{wid}"],
                                pass_fds=(theirs.fileno(),), cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
        theirs.close()
        parent = Connection(mine.detach())
        with self._lock:
            self._procs[wid] = (proc, parent, threading.Lock())
            self._pending[wid] = {}
        threading.Thread(target=self._read, args=(wid,), name=f"lstm-gate-lab-pool-{wid}", daemon=True).start()
        return wid

    def workers(self) -> list[int]:
        with self._lock:
            return [w for w, (p, _, _) in self._procs.items() if p.poll() is None]

    def pid(self, worker: int) -> int | None:
        entry = self._procs.get(worker)
        return entry[0].pid if entry else None

    def call(self, worker: int, method: str, args: tuple) -> Future:
        fut: Future = Future()
        with self._lock:
            entry = self._procs.get(worker)
            if entry is None:
                fut.set_exception(WorkerLost(f"worker {worker} is gone"))
                return fut
            req = next(self._req)
            self._pending[worker][req] = fut
        _, conn, send_lock = entry
        try:
            with send_lock:
                conn.send((req, method, args))
        except (OSError, EOFError, ValueError) as e:
            self._lost(worker, f"a request could not be sent ({type(e).__name__}: {e})")
        return fut

    def _read(self, worker: int) -> None:
        _, conn, _ = self._procs[worker]
        while True:
            try:
                req, ok, result = conn.recv()
            # TypeError: `close` (or `_lost`) closed the connection under recv, which then reads a handle of None
            except (EOFError, OSError, TypeError) as e:
                self._lost(worker, f"its connection closed ({type(e).__name__})")
                return
            fut = self._pending[worker].pop(req, None)
            if fut is not None:
                (fut.set_result if ok else fut.set_exception)(result)

    def _lost(self, worker: int, why: str) -> None:
        with self._lock:
            entry = self._procs.pop(worker, None)
            pending = self._pending.pop(worker, {})
        if entry is not None:
            entry[1].close()
            code = entry[0].poll()
            if code is None:
                entry[0].kill()  # a worker we cannot talk to must not train on unseen
            print(f"lstm_core.pool: worker {worker} lost: {why}; exit code {code}.", file=sys.stderr, flush=True)
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(WorkerLost(f"worker {worker} died"))

    def close(self) -> None:
        with self._lock:
            procs = list(self._procs.values())
            self._procs.clear()
        for proc, conn, _ in procs:
            conn.close()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


class RayBackend:
    """Workers as actors on a Ray cluster (RAY_ADDRESS, or a local one): each actor hosts a `WorkerCore` with a
    thread that trains between requests. Needs requirements-ray.txt (not part of `make run`)."""

    def __init__(self, n: int, address: str | None = None):
        import ray

        self._ray = ray
        address = address or os.environ.get("RAY_ADDRESS") or None
        if not ray.is_initialized():
            env = {"OMP_NUM_THREADS": "1"}
            if address:  # a cluster: ship the project's code to its nodes (the data ship with it)
                runtime_env = {"working_dir": str(ROOT), "env_vars": env,
                               "excludes": [".venv", ".git", "bench/results", "test-artifacts", "screenshots"]}
            else:  # a Ray started here, for this process: its workers import the project from this folder
                runtime_env = {"env_vars": {**env, "PYTHONPATH": str(ROOT)}}
            ray.init(address=address, num_cpus=None if address else n, runtime_env=runtime_env,
                     ignore_reinit_error=True, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        self._actor_cls = ray.remote(num_cpus=1, max_concurrency=8)(_ray_worker_class())
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._actors: dict[int, Any] = {}
        for _ in range(n):
            self.start()

    def start(self) -> int:
        wid = next(self._ids)
        actor = self._actor_cls.remote(f"ray-worker-{wid}")
        with self._lock:
            self._actors[wid] = actor
        return wid

    def workers(self) -> list[int]:
        with self._lock:
            return list(self._actors)

    def pid(self, worker: int) -> int | None:
        try:
            ok, info = self._ray.get(self._actors[worker].call.remote("ping", ()), timeout=30)
            return info["pid"] if ok else None
        except Exception:  # noqa: BLE001 - a dead actor has no pid
            return None

    def call(self, worker: int, method: str, args: tuple) -> Future:
        fut: Future = Future()
        actor = self._actors.get(worker)
        if actor is None:
            fut.set_exception(WorkerLost(f"worker {worker} is gone"))
            return fut
        ref = actor.call.remote(method, args)

        def done(result_fut) -> None:
            try:
                ok, result = result_fut.result()
            except Exception as e:  # noqa: BLE001 - the actor died (RayActorError) or the call could not run
                if isinstance(e, self._ray.exceptions.RayActorError):
                    self._lost(worker)
                    fut.set_exception(WorkerLost(f"worker {worker} died"))
                else:
                    fut.set_exception(WorkerError(f"the Ray call failed ({type(e).__name__})."))
                return
            (fut.set_result if ok else fut.set_exception)(result)

        ref.future().add_done_callback(done)
        return fut

    def _lost(self, worker: int) -> None:
        with self._lock:
            self._actors.pop(worker, None)

    def close(self) -> None:
        with self._lock:
            actors = list(self._actors.values())
            self._actors.clear()
        for a in actors:
            self._ray.kill(a)


def _ray_worker_class():
    """The actor class, built on first use so that this module imports without Ray."""

    class RayWorker:
        def __init__(self, name: str):
            from lstm_core.pool.worker import WorkerCore, warm_up
            from lstm_core.train import configure_torch

            configure_torch(1)
            warm_up()
            self.core = WorkerCore(name)
            self.lock = threading.Lock()
            threading.Thread(target=self._train, name="lstm-gate-lab-train", daemon=True).start()

        def _train(self) -> None:
            import time

            while True:
                with self.lock:
                    busy = self.core.busy()
                    if busy:
                        self.core.train_slice()
                if not busy:
                    time.sleep(0.02)

        def call(self, method: str, args: tuple):
            from lstm_core.pool.worker import answer

            with self.lock:
                return answer(self.core, method, args)

    return RayWorker

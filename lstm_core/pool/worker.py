"""A worker: the process (or Ray actor) that owns runs, trains them and answers for them.

`WorkerCore` is the whole of it, single-threaded: `handle(method, args)` answers a request from the coordinator,
`train_slice()` trains the next leased run for a short slice. A host calls them in turn, requests first, so a
page waits at most one slice (TRAIN_SLICE) for its answer: `serve` is the host of the local process pool,
`pool.backends.RayWorker` the host on a Ray cluster. What crosses to the coordinator is plain: configs, views,
numpy arrays, bytes and our own exceptions; never a tensor.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ..config import LabSpec
from ..errors import ConfigError, DataError, RunError, RunGone, WorkerError
from ..lab import Lab
from .run import SharedRun

TRAIN_SLICE = 0.08  # seconds of training between two looks at the request queue
CHECKPOINT_EVERY = 5.0  # seconds: how often a training run's state goes to the coordinator (lost on a kill -9: less)
QUERIES = frozenset({"trace", "passage", "display_values", "forecast", "sample_text", "explain_step",
                     "spectral_radius", "grad_matrix", "run_archive", "intervene", "memory_units",
                     "text_units", "saturation"})  # Lab methods a page may ask at a step


class WorkerCore:
    def __init__(self, name: str = "worker"):
        self.name = name
        self.runs: dict[str, SharedRun] = {}
        self._turn = 0  # round-robin position among training runs

    # -- requests ------------------------------------------------------------------------------------------------
    def handle(self, method: str, args: tuple) -> Any:
        return getattr(self, f"do_{method}")(*args)

    def do_ping(self) -> dict:
        from ..models import pick_device

        return {"pid": os.getpid(), "device": pick_device("auto").type, "runs": len(self.runs)}

    def do_open(self, key: str, spec: LabSpec, origin: tuple, text: str | None, restore: bytes | None) -> int:
        """Make run `key` live here (a no-op if it is): from scratch, a pretrained lesson or an archive, then
        from the coordinator's last checkpoint when it is recovering a run whose worker died. Returns its head."""
        if key not in self.runs:
            self.runs[key] = SharedRun(key, build_lab(spec, origin, text))
            if restore is not None:
                self.runs[key].restore_bytes(restore)
        return self.runs[key].head

    def do_close(self, key: str) -> None:
        self.runs.pop(key, None)

    def do_move(self, key: str, session: str, cursor: int, playing: bool, clock: float | None, since: dict):
        run = self._run(key)
        at, clock = run.move(session, cursor, playing, clock)
        return at, clock, run.lab.view(at, since)

    def do_step(self, key: str, session: str, cursor: int, n: int, since: dict):
        run = self._run(key)
        at = run.step(session, cursor, n)
        return at, None, run.lab.view(at, since)

    def do_release(self, key: str, session: str) -> None:
        if key in self.runs:
            self.runs[key].release(session)

    def do_query(self, key: str, step: int, method: str, args: tuple, kwargs: dict) -> Any:
        if method not in QUERIES:
            raise WorkerError(f"{method!r} is not something a page may ask of a run.")
        run = self._run(key)
        if step < run.head and step not in run.lab.frames and step not in _snapshot_steps(run.lab):
            run.frame(step)  # a cursor's frame dropped while the session was away: rebuild it
        return getattr(run.lab, method)(*args, **kwargs, step=step)

    def do_checkpoints(self) -> list[tuple[str, int, bytes]]:
        """The runs that trained on since their last checkpoint, at most every CHECKPOINT_EVERY seconds each."""
        out, now = [], time.monotonic()
        for key, run in self.runs.items():
            if run.head != run.sent and now - run.sent_at >= CHECKPOINT_EVERY:
                out.append((key, run.head, run.checkpoint_bytes()))
                run.sent, run.sent_at = run.head, now
        return out

    def do_job(self, name: str, kwargs: dict) -> Any:
        """A computation that belongs to no run (the coordinator caches its result by arguments)."""
        if name == "exploding_demo":
            from ..demos import exploding_demo

            return exploding_demo(**kwargs)
        if name == "check_archive":
            from ..archive import check_run_zip

            return check_run_zip(kwargs["data"])
        if name == "sweep_cell":  # one (model, lag, seed) run of the Lag race, as `python -m lstm_core sweep` does it
            from ..sweep import sweep_cell

            return sweep_cell(**kwargs)
        raise WorkerError(f"unknown job {name!r}.")

    def _run(self, key: str) -> SharedRun:
        run = self.runs.get(key)
        if run is None:
            raise RunGone(key)  # the coordinator reopens it (a worker restarted, or the run was evicted)
        return run

    # -- training --------------------------------------------------------------------------------------------------
    def busy(self) -> bool:
        return any(run.training for run in self.runs.values())

    def train_slice(self) -> None:
        """Train the next leased run (round robin) for one slice; a run that fails stops with its error shown."""
        keys = [k for k, run in self.runs.items() if run.training]
        if not keys:
            return
        self._turn = (self._turn + 1) % len(keys)
        run = self.runs[keys[self._turn]]
        try:
            run.train(TRAIN_SLICE)
        except Exception as e:  # noqa: BLE001 - shown to the learner as one sentence, never a traceback
            run.lab.error = f"Training stopped: {e}"


def answer(core: WorkerCore, method: str, args: tuple) -> tuple[bool, Any]:
    """(ok, result or exception): our own errors as they are (each one sentence), anything else as a WorkerError
    of one sentence, so no traceback ever reaches a page."""
    try:
        return True, core.handle(method, args)
    except (ConfigError, DataError, RunError, RunGone, WorkerError) as e:
        return False, e
    except Exception as e:  # noqa: BLE001 - one sentence to the coordinator, never a traceback
        return False, WorkerError(f"the worker could not do that ({type(e).__name__}: {e}).")


def _snapshot_steps(lab: Lab) -> set[int]:
    return {s for snaps in lab.snapshots.values() for s in snaps}


def build_lab(spec: LabSpec, origin: tuple, text: str | None) -> Lab:
    """A run's lab from its origin: ("fresh",), ("lesson", name) or ("archive", data)."""
    kind = origin[0]
    if kind == "fresh":
        return Lab.from_spec(spec, text)
    if kind == "lesson":
        from ..lessons import open_lesson, read_lesson

        return open_lesson(read_lesson(origin[1]))
    if kind == "archive":
        from ..lab import lab_from_archive

        return lab_from_archive(origin[1])
    raise WorkerError(f"unknown origin {kind!r}.")


def serve(conn, name: str) -> None:
    """The local pool's worker process: requests from `conn` first, else train a slice, until the pipe closes or
    the server process is gone (a kill -9 of the server leaves no orphan training)."""
    from ..train import configure_torch

    parent = os.getppid()
    configure_torch(1)
    warm_up()
    core = WorkerCore(name)
    while os.getppid() == parent:
        try:
            if conn.poll(0 if core.busy() else 0.5):
                req_id, method, args = conn.recv()
                conn.send((req_id, *answer(core, method, args)))
            elif core.busy():
                core.train_slice()
        except (EOFError, OSError, KeyboardInterrupt):
            return


def warm_up() -> None:
    """Imports, kernels and Adam's first step, once per worker (about 3 s cold), before the first request."""
    Lab.from_spec(LabSpec(), None).advance(1)


# Not PR_SET_PDEATHSIG: Linux sends it when the *thread* that started the worker ends, and the pool is started from
# a Streamlit script thread that ends with its page run; that killed the first workers seconds after they started.


if __name__ == "__main__":  # started by pool.backends.LocalBackend: python -m lstm_core.pool.worker FD NAME
    import sys
    from multiprocessing.connection import Connection

    serve(Connection(int(sys.argv[1])), sys.argv[2])

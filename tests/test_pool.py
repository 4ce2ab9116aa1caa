"""lstm_core.pool: training and tracing in worker processes, the same tests on both backends (local processes,
and Ray started here). Identical settings share one run; every session sees exactly the numbers of a solo run in
this process; a late session watches the run at the pace it trained; a closed tab's run stops; a worker killed
with kill -9 loses only the steps since its last checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import small_lab, small_spec

from datasets.lessons import available as lessons_available
from lstm_core.errors import LimitError
from lstm_core.lessons import lesson_spec
from lstm_core.pool import client as pool_client
from lstm_core.pool import run as pool_run
from lstm_core.pool.backends import LocalBackend, RayBackend
from lstm_core.pool.client import Pool, RemoteLab

ROOT = Path(__file__).resolve().parents[1]
SPEC = dict(task={"lag": 12}, train={"seed": 21, "steps": 400, "val_every": 10})  # a run only this file trains


@pytest.fixture(scope="module", params=["local", "ray"])
def pool(request):
    backend = LocalBackend(2) if request.param == "local" else RayBackend(2)
    p = Pool(backend, 2)
    yield p
    p.shutdown()
    if request.param == "ray":
        import ray

        ray.shutdown()


def records(view, name="lstm") -> list[tuple[float, float | None]]:
    return [(r.loss, r.val_metric) for r in view.histories[name]]


def wait_until(cond, seconds: float = 60.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if (v := cond()):
            return v
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_sessions_with_the_same_settings_share_one_run_with_the_solo_numbers(pool):
    a = RemoteLab(small_spec(**SPEC), pool=pool)
    b = RemoteLab(small_spec(**SPEC), pool=pool)
    assert a.key == b.key and a.session != b.session
    assert len(pool.runs[a.key].sessions) == 2
    a.advance(30)  # trains the shared run to step 30
    b.advance(30)  # the same steps, already computed: rebuilt from a frame, not trained again for the curves
    solo = small_lab(**SPEC, steps=30)
    for lab in (a, b):
        v = lab.view()
        assert v.step == 30
        assert records(v) == [(r.loss, r.val_metric) for r in solo.trainers["lstm"].history]
        np.testing.assert_array_equal(lab.trace("lstm").h, solo.trace("lstm").h)
        np.testing.assert_array_equal(lab.trace("rnn").grad_h, solo.trace("rnn").grad_h)
    other = RemoteLab(small_spec(**{**SPEC, "train": {**SPEC["train"], "seed": 22}}), pool=pool)
    assert other.key != a.key  # another seed is another run


def test_a_late_session_watches_the_run_at_the_pace_it_trained(pool):
    a = RemoteLab(small_spec(**SPEC), pool=pool)
    a.refresh(True)
    wait_until(lambda: a.refresh(True).step >= 150)
    late = RemoteLab(small_spec(**SPEC), pool=pool)
    assert late.cursor == 0
    v = late.refresh(True)  # right after opening: about no time has passed, so about no steps either
    assert v.step < 150
    seen = [v.step]
    for _ in range(4):
        time.sleep(0.6)
        seen.append(late.refresh(True).step)
    assert seen == sorted(seen) and seen[-1] > seen[0]
    solo = small_lab(**SPEC, steps=seen[-1])
    assert records(late.view()) == [(r.loss, r.val_metric) for r in solo.trainers["lstm"].history]


def test_training_stops_soon_after_the_last_playing_refresh(pool, monkeypatch):
    spec = small_spec(**{**SPEC, "train": {**SPEC["train"], "seed": 23, "steps": 20_000}})
    lab = RemoteLab(spec, pool=pool)
    lab.refresh(True)
    wait_until(lambda: lab.refresh(True).step > 20)
    # the tab closes: no more refreshes; within the lease (8 s) the run stops
    time.sleep(pool_run.LEASE + 1.5)
    h1 = lab.refresh(False).step
    time.sleep(1.5)
    assert lab.refresh(False).step == h1 and h1 < 20_000


def test_a_setting_over_the_limit_is_refused_by_the_worker(pool):
    big = small_spec(task={"lag": 1000}, model={"hidden": 256}, train={"batch": 256})
    with pytest.raises(LimitError, match="billion operations"):
        RemoteLab(big, pool=pool)
    assert not [k for k, e in pool.runs.items() if e.spec == big]  # nothing kept for it


def test_a_killed_worker_loses_only_the_steps_since_its_checkpoint(pool, monkeypatch):
    monkeypatch.setattr(pool_client, "JANITOR_EVERY", 0.5)
    spec = small_spec(**{**SPEC, "train": {**SPEC["train"], "seed": 24, "steps": 300}})
    lab = RemoteLab(spec, pool=pool)
    wait_until(lambda: lab.refresh(True).step >= 80)
    entry = pool.runs[lab.key]
    wait_until(lambda: (pool.tidy(), entry.checkpoint)[1])  # the worker has sent a checkpoint
    pid = pool.backend.pid(entry.worker)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: entry.worker not in pool.backend.workers(), 30)
    v = wait_until(lambda: lab.refresh(True), 60)  # rebuilt on a live worker from its checkpoint
    assert f"resumed from its last checkpoint, step {entry.checkpoint_step:,}," in (lab.notice() or "")
    assert v.step >= 0 and entry.worker in pool.backend.workers()
    done = wait_until(lambda: (v := lab.refresh(True)).done and v, 120)
    solo = small_lab(**{**SPEC, "train": {**SPEC["train"], "seed": 24, "steps": 300}}, steps=300)
    assert records(done) == [(r.loss, r.val_metric) for r in solo.trainers["lstm"].history]
    pool.tidy()
    assert len(pool.backend.workers()) == 2  # the dead worker was replaced


def test_a_lesson_whose_worker_is_killed_resumes_where_it_began(pool):
    name = sorted(lessons_available())[0]
    lab = RemoteLab(lesson_spec(name), origin=("lesson", name), pool=pool)
    step = lab.refresh(True).step
    assert step > 0  # a shipped lesson opens at its last step
    entry = pool.runs[lab.key]
    os.kill(pool.backend.pid(entry.worker), signal.SIGKILL)
    wait_until(lambda: entry.worker not in pool.backend.workers(), 30)
    v = wait_until(lambda: lab.refresh(True), 60)
    assert v.step == step
    assert f"resumed from where it began, step {step:,}, on another worker" in (lab.notice() or "")
    lab.close()
    pool.tidy()


def test_a_closed_tabs_session_is_released_and_its_idle_run_evicted(pool, monkeypatch):
    monkeypatch.setattr(pool_client, "SESSION_TTL", 0.5)
    monkeypatch.setattr(pool_client, "RUN_TTL", 0.5)
    spec = small_spec(**{**SPEC, "train": {**SPEC["train"], "seed": 25}})
    lab = RemoteLab(spec, pool=pool)
    lab.advance(7)
    wait_until(lambda: (pool.tidy(), pool.runs[lab.key].checkpoint)[1])
    time.sleep(0.7)
    pool.tidy()  # the session is released
    assert lab.session not in pool.sessions
    time.sleep(0.7)
    pool.tidy()  # and its run leaves its worker's memory
    assert not pool.runs[lab.key].loaded
    v = lab.refresh(False)  # the learner comes back: the run is rebuilt from its checkpoint, at the same step
    assert v.step == 7 and pool.runs[lab.key].loaded


def test_the_page_process_never_imports_torch():
    """What a page imports to use the pool, and a whole session of work through it, leave torch out of the
    process (the workers load it in theirs)."""
    probe = """
import sys
sys.path.insert(0, "tests")
from conftest import small_spec
from lstm_core.pool.client import RemoteLab
import lstm_core.figures, lstm_core.trace_file, lstm_core.render, lstm_core.limits, lstm_core.lessons
lab = RemoteLab(small_spec(task={"lag": 5}, train={"seed": 26, "steps": 20}))
lab.advance(3)
lab.trace("lstm"); lab.grad_matrix("rnn"); lab.explain_step("lstm", 1, 0); lab.run_archive("rnn")
print("torch" in sys.modules, lab.view().step)
"""
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "LAB_WORKERS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "3"]


def test_workers_outlive_the_thread_that_started_them_and_not_the_server():
    """Streamlit starts the pool from a page's script thread, which ends with the page run: the workers must live
    on (Linux's PR_SET_PDEATHSIG once killed them then); a server killed with kill -9 leaves no worker behind."""
    probe = """
import os, sys, threading, time
from lstm_core.pool.client import get_pool
t = threading.Thread(target=lambda: (get_pool(), time.sleep(15)))  # a page run, while the workers start
t.start(); t.join()
pool = get_pool()
time.sleep(3)  # the workers would have been told to die with the thread by now
print(pool.backend.workers() == [0, 1], *[pool.backend.pid(w) for w in pool.backend.workers()], flush=True)
time.sleep(600)
"""
    proc = subprocess.Popen([sys.executable, "-c", probe], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "LAB_WORKERS": "2", "PYTHONPATH": str(ROOT)})
    try:
        first, *pids = proc.stdout.readline().split()
        pids = [int(p) for p in pids]
        assert first == "True"  # the two first workers are alive after their thread ended, not replacements
        assert all(Path(f"/proc/{p}").exists() for p in pids)
    finally:
        proc.kill()  # the server process, by kill -9
        proc.wait()
    wait_until(lambda: not any(Path(f"/proc/{p}").exists() and "zombie" not in _state(p) for p in pids), 30)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"


def test_a_live_run_keeps_snapshots_to_scrub_through(pool):
    spec = small_spec(**{**SPEC, "train": {**SPEC["train"], "seed": 27, "steps": 300}})
    lab = RemoteLab(spec, pool=pool)
    done = wait_until(lambda: (v := lab.refresh(True)).done and v, 120)
    snaps = done.snapshot_steps["lstm"]
    assert snaps == (0, 50, 100, 150, 200, 250, 300)
    solo = small_lab(**{**SPEC, "train": {**SPEC["train"], "seed": 27, "steps": 300}}, steps=snaps[-1])
    np.testing.assert_array_equal(lab.trace("lstm", snaps[-1]).h, solo.trace("lstm").h)
    sat = lab.saturation("lstm")
    assert sat.gates == ("i", "f", "o") and sat.steps[-1] == done.step and sat.low.shape == (len(sat.steps), 3)
    f = lab.trace("lstm").quantity("f")
    assert sat.high[-1, 1] == pytest.approx((f > 0.9).mean()) and sat.unit_high.shape == (8, 3)


def test_snapshots_are_thinned_to_a_bound(monkeypatch):
    from lstm_core.lab import Lab

    monkeypatch.setattr(pool_run, "MAX_SNAPSHOTS", 4)
    run = pool_run.SharedRun("k", Lab.from_spec(small_spec(train={"seed": 28, "steps": 400})))
    run.leases['test'] = time.monotonic() + 600
    while not run.lab.done:
        run.train(1.0)
    assert sorted(run.lab.live_snapshots) == [0, 200, 400] and run.every == 200  # 50 -> 100 -> 200
    assert {0, 200, 400} <= set(run.lab.frames)


def test_the_pool_counts_the_sessions_that_play(pool):
    a, b = (RemoteLab(small_spec(**{**SPEC, "train": {**SPEC["train"], "seed": s}}), pool=pool) for s in (31, 32))
    a.refresh(False)
    b.refresh(False)
    time.sleep(1.0)  # the pool is shared with the module's other tests: their sessions' plays are older than this
    assert pool.playing(within=0.9) == 0  # open, paused
    a.refresh(True)
    assert pool.playing(within=0.9) == 1
    b.refresh(True)
    assert pool.playing(within=0.9) == 2
    time.sleep(1.0)
    assert pool.playing(within=0.9) == 0  # nobody played in the last 0.9 s


def test_a_page_waiting_for_a_worker_stops_waiting_when_its_check_says_so(pool):
    """A question whose answer takes seconds (memory units: 512 sequences of 402 steps, 96 units) gives up at the
    page's check (Streamlit's: the learner clicked Pause), leaves the session as it was, and the run answers the
    same question afterwards, once, from the worker."""

    class Clicked(Exception):
        pass

    checks = []

    def check():
        checks.append(1)
        raise Clicked

    lab = RemoteLab(small_spec(("lstm",), task={"lag": 400}, model={"hidden": 96}, train={"seed": 23}), pool=pool)
    view, cursor = lab.view(), lab.cursor
    pool.wait_check = lambda: check
    try:
        with pytest.raises(Clicked):
            lab.memory_units("lstm")
        assert checks  # the check ran while it waited, and its exception ended the wait
        assert lab.cursor == cursor and lab.view() is view
        assert not any(k[2] == "memory_units" for k in pool._cache)  # the answer was not read
    finally:
        pool.wait_check = None
    mu = lab.memory_units("lstm")
    assert mu.sequences == 256 and sorted(mu.order) == list(range(96))
    lab.close()


def test_a_run_trains_while_any_session_plays_and_stops_when_the_last_one_pauses(monkeypatch):
    from lstm_core.lab import Lab

    run = pool_run.SharedRun("k", Lab.from_spec(small_spec(train={"seed": 29, "steps": 400})))
    assert not run.training
    run.move("a", 0, True, None)
    run.move("b", 0, True, None)
    assert run.training
    run.move("a", 0, False, None)  # a pauses; b still plays
    assert run.training
    run.move("b", 0, False, None)  # the last one pauses: at once, not when its lease would have run out
    assert not run.training
    run.move("a", 0, True, None)
    run.release("a")  # a tab the pool let go of holds no lease
    assert not run.training
    monkeypatch.setattr(pool_run, "LEASE", 0.2)
    run.move("b", 0, True, None)  # a closed tab: no word after this
    assert run.training
    time.sleep(0.3)
    assert not run.training

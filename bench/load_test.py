"""A class at once: one local server, N learners who each open a link, press Play and train their run to the end.

It measures the server, not the test: by default the learners are light clients (bench/st_client.py speaks
Streamlit's websocket protocol, no browser), and the server can be pinned to some cores and the clients to the
others (taskset). --client chromium drives real Chromium tabs instead (tests/browser_util), for comparison.

The steps, one function each:
1. links: one per learner, its own seed and lag, or all the headline lesson (--identical)      `class_links`
2. solo numbers: what a solo headless run of each link shows at the run's end                  `solo_numbers`
3. the server: `streamlit run app.py` under taskset (--server-cores), then one warm-up session  `start_server`
4. one learner opens its link, presses Play (or the link plays), waits until its run is finished (or
   --budget), reads the step ("step N of M") and the held-out metrics          `light_session`, `chromium_session`
5. the class: N learners at once; meanwhile /proc is sampled every second: CPU seconds and memory of the server
   process and all its children, and of the clients (bench/procs.py); optionally one worker child is killed
   (--kill-worker-after)                                                         `run_class`, `kill_worker`
6. every session's numbers against the solo run of its link at the same step, and the tables
                                                                                 `failures`, `report`

    python -m bench.load_test --sessions 3                                  # a quick check
    python -m bench.load_test --sessions 20 --out bench/results/load_test_light_20.md
    python -m bench.load_test --sessions 20 --server-cores 1 --client-cores 0    # server alone on core 1
    python -m bench.load_test --sessions 3 --client chromium                # the same in real browsers

Traffic goes only to 127.0.0.1; every wait has a timeout and the class a deadline (--deadline), after which
unfinished sessions are paused, read and reported as not finished.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from bench import procs
from bench.st_client import ClientError, StClient
from tests.browser_util import ARGS, ARTIFACTS, CHROMIUM, ROOT, _healthy, free_port, wait_for

PLAY_KEY = "tr_play"  # Train & compare's Play / Pause button (pages/controls.py: f"{key}_play")
PAGE = "train"  # the page a link opens
FINISHED = re.compile(r"step ([\d,]+) of ([\d,]+) \(finished\)")  # the sidebar's caption (pages/session.py)
PROGRESS = re.compile(r"step ([\d,]+) of ([\d,]+)")  # the progress bar's text (pages/controls.py)
WORKER_NEEDLE = "lstm_core.pool"  # command line of a training worker process (issue 9)


@dataclass(frozen=True)
class Goals:
    """The targets printed beside the measurements. The issue names the measures, not numbers: the first chart
    and fair-share figures are placeholders for the lead to set; the throughput ratio is bench_app's goal for one
    session (live training at >= 0.70 of the headless steps/s) applied to all the cores the server has."""

    first_chart_p95: float = 5.0  # seconds from opening the link to the first chart, 95th percentile
    throughput_ratio: float = 0.70  # class steps/s >= this x (server cores x solo headless steps/s)
    fair_share_ratio: float = 0.50  # slowest learners (p5) >= this x their fair share of that ceiling


# -- 1. the links ------------------------------------------------------------------------------------------------
def class_links(n: int, identical: bool, steps: int) -> list[dict[str, str]]:
    """One link query per learner: small distinct headline-style runs (seeds 0..n-1, lags 20..60), or with
    `identical` the headline lesson itself (recall, lag 100, seed 0) for everyone."""
    if identical:
        return [{"task.lag": "100", "train.seed": "0", "train.steps": str(steps), "models": "lstm,rnn"}] * n
    return [{"task.lag": str(20 + 10 * (k % 5)), "train.seed": str(k), "train.steps": str(steps),
             "models": "lstm,rnn"} for k in range(n)]


def link_label(q: dict[str, str]) -> str:
    return f"{q.get('train.seed', '0')}/{q.get('task.lag', '100')}/{q.get('train.steps', '?')}"


def link_key(q: dict[str, str]) -> str:
    return urllib.parse.urlencode(sorted(q.items()))


# -- 2. the solo numbers -----------------------------------------------------------------------------------------
@dataclass
class Solo:
    shown: dict[str, str]  # metric label -> the text Train & compare shows
    step: int
    seconds: float  # wall time of the training alone
    cpu: float  # CPU seconds of the training alone


def solo_numbers(query: dict[str, str], step: int) -> Solo:
    """What a solo headless run of this link shows at `step`, as Train & compare draws it (pages/train.py `draw`,
    pages/ui.py `metric_text`): one engine in this process, one torch thread.

    Today the page trains a `Lab` in the Streamlit process; once training moves to worker processes, this is the
    one function to adapt (build the run the way a worker does, and format it the way the page does)."""
    from lstm_core.config import LabSpec
    from lstm_core.lab import Lab
    from lstm_core.train import configure_torch
    from pages import ui

    configure_torch(1)
    lab = Lab.from_spec(LabSpec.from_query(query))
    t0, c0 = time.perf_counter(), time.thread_time()
    lab.advance(step)
    seconds, cpu = time.perf_counter() - t0, time.thread_time() - c0
    view = lab.view()
    metric = view.task.metric_name.replace("_", " ")
    shown = {f"{ui.model_label(n)}: held-out {metric}": ui.metric_text(view, view.latest_val(n)) for n in view.names}
    return Solo(shown, view.step, seconds, cpu)


# -- 3. the server -----------------------------------------------------------------------------------------------
@dataclass
class Server:
    url: str
    pid: int
    cores: str  # what /proc says the server may run on


@contextlib.contextmanager
def start_server(cores: str | None):
    """`streamlit run app.py` on a free local port, under `taskset -c CORES` when given (its children inherit
    the mask); yields once the health check answers. Its log goes to test-artifacts/server-PORT.log."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / f"server-{port}.log", "w")
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true"]
    if cores:
        cmd = ["taskset", "-c", cores, *cmd]  # taskset execs the command: the pid stays the server's
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url), timeout=90, poll=0.3, what="the Streamlit server's health check")
        yield Server(url, proc.pid, procs.cores(proc.pid))
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


async def warm_up(url: str, query: dict[str, str]) -> None:
    """The teacher opens the app before class: torch, plotly and the first Adam steps get imported and run."""
    async with StClient(url, timeout=300) as c:
        await c.open(PAGE, urllib.parse.urlencode({**query, "train.steps": "20"}, safe=","))
        await c.click(PLAY_KEY)
        await c.wait_for(finished_caption, 300, "the warm-up run to finish")


# -- 4. one learner ----------------------------------------------------------------------------------------------
@dataclass
class Session:
    k: int
    query: dict[str, str]
    t_open: float | None = None  # the link opened
    t_chart: float | None = None  # the first chart arrived (light) or became visible (Chromium)
    t_play: float | None = None  # Play pressed (or the link opened, with --play link)
    t_done: float | None = None  # the run is shown finished (or paused at the budget)
    step: int | None = None  # "step N of M" as shown at the end
    total: int | None = None
    finished: bool = False
    shown: dict[str, str] = field(default_factory=dict)  # metric label -> value, at the end
    state: str = "waiting"
    error: str | None = None
    now_step: int = 0  # the latest step seen while training (for the progress lines)
    debug: str = ""  # light client: where the numbers read at the end came from
    client: StClient | None = None  # light client: for the progress lines, its stats and history

    @property
    def first_chart(self) -> float | None:
        return None if self.t_chart is None or self.t_open is None else self.t_chart - self.t_open

    @property
    def rate(self) -> float | None:
        if self.t_done is None or self.t_play is None or not self.step or self.t_done <= self.t_play:
            return None
        return self.step / (self.t_done - self.t_play)


def finished_caption(c: StClient) -> re.Match | None:
    return next((m for t in c.texts("sidebar") if (m := FINISHED.search(t))), None)


def snapshot(c: StClient) -> dict:
    """What the end of a run is read from; the light client calls this while its tree is whole."""
    return {"progress": c.progress(), "metrics": c.metrics(), "exceptions": c.exceptions(),
            "finished": bool(finished_caption(c)),
            "runs": sorted({n.run_id[:6] for n in c.nodes() if n.type in ("progress", "metric")})}


def the_end(c: StClient) -> dict | None:
    """The page's end state once it shows the run finished (or an exception)."""
    return snapshot(c) if finished_caption(c) or c.exceptions() else None


def progress_step(texts: list[str]) -> tuple[int, int] | None:
    m = next((m for t in texts if (m := PROGRESS.search(t))), None)
    return (int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))) if m else None


async def light_session(s: Session, url: str, a, deadline: float, everyone_done: asyncio.Event) -> None:
    """One learner with the light client: open the link, press Play, wait for the end, read the numbers."""
    query = urllib.parse.urlencode({**s.query, **({"play": "1"} if a.play == "link" else {})}, safe=",")
    left = lambda: max(1.0, deadline - time.perf_counter())  # noqa: E731
    s.t_open = time.perf_counter()
    try:
        async with StClient(url, timeout=a.first_chart_timeout) as c:
            s.client = c
            s.state = "opening the link"
            await c.open(PAGE, query)
            exc = await c.wait_for(lambda c: c.exceptions() or (c.first_chart_at and ["none"]),
                                   min(left(), a.first_chart_timeout), "the first chart")
            if exc != ["none"]:
                raise ClientError(f"the page shows an exception: {exc[0][:300]}")
            s.t_chart = c.first_chart_at
            s.state = "training"
            if a.play == "click":
                s.t_play = time.perf_counter()
                await c.click(PLAY_KEY, timeout=left())
            else:
                s.t_play = s.t_open
            try:
                end = await c.wait_for(the_end, min(left(), a.budget), "the run to finish")
            except ClientError:
                if c.error:
                    raise
                s.state = "pausing at the budget"
                with contextlib.suppress(ClientError):  # refused if the button is disabled: it has just finished
                    await c.click(PLAY_KEY, timeout=120)  # labelled Pause now: a full run draws the step reached
                end = await c.wait_for(snapshot, 120, "the page after Pause")
            s.t_done = time.perf_counter()
            s.finished = end["finished"]
            read_page(s, end["progress"], end["metrics"], end["exceptions"])
            s.debug = f"progress and metrics from run(s) {end['runs']}; last runs: {c.history[-8:]}"
            s.state = "done"
            # stay connected, like a learner looking at the result, until every learner is done
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(everyone_done.wait(), left())
    except Exception as e:  # noqa: BLE001 - one failed learner must not stop the class
        s.error = f"{type(e).__name__} while {s.state}: {str(e).splitlines()[0][:300] if str(e) else ''}"
        if s.client is not None:
            s.debug = f"last runs: {s.client.history[-8:]}"


def read_page(s: Session, progress: list[str], metrics: dict[str, str], exceptions: list[str]) -> None:
    """The end of a run as the page shows it: the step of the progress bar and the held-out metrics."""
    p = progress_step(progress)
    if p is None:
        s.error = f"no progress text on the page (it shows {progress!r})"
        return
    s.step, s.total = p
    s.shown = {k: v for k, v in metrics.items() if "held-out" in k}
    if exceptions:
        s.error = f"the page shows an exception: {exceptions[0][:300]}"
    elif s.finished and s.step != s.total:
        s.error = f"the caption says finished but the progress text says step {s.step} of {s.total}"


LOOK_JS = """() => {
  const t = sel => [...document.querySelectorAll(sel)].map(e => e.innerText);
  const metrics = [...document.querySelectorAll('[data-testid="stMetric"]')].map(m => [
    (m.querySelector('[data-testid="stMetricLabel"]') || {}).innerText || '',
    (m.querySelector('[data-testid="stMetricValue"]') || {}).innerText || '']);
  return {sidebar: t('[data-testid="stSidebar"]').join('\\n'), progress: t('[data-testid="stProgress"]'),
          exceptions: t('[data-testid="stException"]'), metrics: Object.fromEntries(metrics),
          running: document.querySelectorAll('[data-testid="stStatusWidget"]').length > 0};
}"""


async def chromium_session(s: Session, browser, url: str, a, deadline: float, everyone_done: asyncio.Event) -> None:
    """The same learner in a real Chromium tab (a browser context of its own: one Streamlit session)."""
    query = urllib.parse.urlencode({**s.query, **({"play": "1"} if a.play == "link" else {})}, safe=",")
    left = lambda: max(1.0, deadline - time.perf_counter())  # noqa: E731
    w, h = (int(v) for v in a.viewport.lower().split("x"))
    ctx = await browser.new_context(viewport={"width": w, "height": h}, reduced_motion="reduce")
    page = await ctx.new_page()

    async def look() -> dict | None:
        try:
            return await asyncio.wait_for(page.evaluate(LOOK_JS), 30)
        except Exception:  # noqa: BLE001 - mid-rerender, or a starved renderer
            return None

    try:
        s.state = "opening the link"
        s.t_open = time.perf_counter()
        await page.goto(f"{url}/{PAGE}?{query}", wait_until="commit", timeout=left() * 1000)
        limit = min(left(), a.first_chart_timeout) * 1000
        first = await page.wait_for_selector('.js-plotly-plot, [data-testid="stException"]', state="visible",
                                             timeout=limit)
        if not await first.evaluate("e => e.matches('.js-plotly-plot')"):
            raise RuntimeError("the page shows an exception: " + (await first.inner_text())[:300])
        s.t_chart = time.perf_counter()
        s.state = "training"
        if a.play == "click":
            button = page.get_by_role("button", name=re.compile("Play"))
            await button.wait_for(timeout=left() * 1000)
            s.t_play = time.perf_counter()
            await button.click(timeout=left() * 1000)
        else:
            s.t_play = s.t_open
        end = min(deadline, time.perf_counter() + a.budget)
        while time.perf_counter() < end:
            v = await look()
            if v and v["exceptions"]:
                break
            if v and (p := progress_step(v["progress"])):
                s.now_step = p[0]
            if v and FINISHED.search(v["sidebar"]):
                s.finished = True
                break
            await asyncio.sleep(a.poll)
        else:
            s.state = "paused at the budget"
            await page.get_by_role("button", name=re.compile("Pause")).click(timeout=120_000)
            await page.get_by_role("button", name=re.compile("Play")).wait_for(timeout=120_000)
        s.t_done = time.perf_counter()
        for _ in range(60):  # the last full rerun may still be replacing elements: look until the page is whole
            v = await look()
            if v and not v["running"] and progress_step(v["progress"]) and any("held-out" in k for k in v["metrics"]) \
                    and all(val.strip() for val in v["metrics"].values()):
                break
            await asyncio.sleep(1)
        if v is None:
            raise RuntimeError("could not read the page at the end")
        read_page(s, v["progress"], {k.strip(): val.strip() for k, val in v["metrics"].items()}, v["exceptions"])
        s.state = "done"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(everyone_done.wait(), left())
    except Exception as e:  # noqa: BLE001 - one failed learner must not stop the class
        s.error = f"{type(e).__name__} while {s.state}: {str(e).splitlines()[0][:300] if str(e) else ''}"
    finally:
        await ctx.close()


# -- 5. the class ------------------------------------------------------------------------------------------------
@dataclass
class ClassRun:
    sessions: list[Session]
    server: Server
    sampler: procs.Sampler
    t_start: float = 0.0  # the first learner opens a link
    t_end: float = 0.0  # the last learner is done
    server_cpu: float = 0.0  # CPU seconds between the two, the server process and all its children
    client_cpu: float = 0.0  # ... the clients: this process (and its browsers)
    sampler_cpu: float = 0.0  # ... of which the /proc sampler thread
    client_cores: str = ""
    rss_boot: float = 0.0
    rss_warm: float = 0.0
    killed: list[str] = field(default_factory=list)
    load: tuple[float, float] = (0.0, 0.0)  # load average at the start and the end


async def run_class(a, server: Server, sessions: list[Session], say) -> ClassRun:
    """Warm the server up, then start every learner (`stagger` seconds apart) and wait for all of them."""
    sampler = procs.Sampler(server.pid, every=1.0)
    sampler.start()
    run = ClassRun(sessions, server, sampler, rss_boot=procs.rss_mb(server.pid))
    try:
        if not a.cold:
            await warm_up(server.url, sessions[0].query)
            await asyncio.sleep(2)
        run.rss_warm = procs.rss_mb(server.pid)
        if a.client_cores:
            os.sched_setaffinity(0, parse_cores(a.client_cores))  # this process and the browsers it starts
        run.client_cores = procs.cores(os.getpid())
        deadline = time.perf_counter() + a.deadline
        everyone_done = asyncio.Event()
        say(f"server pid {server.pid} on cores {server.cores}: RSS {run.rss_boot:.0f} MB after boot, "
            f"{run.rss_warm:.0f} MB warm; clients ({a.client}) on cores {run.client_cores}; "
            f"{len(sessions)} learners start now")
        async with learners(a, server.url, deadline, everyone_done) as start_one:
            run.t_start, s0, c0 = sampler.sample()
            own0 = sampler.own_cpu
            run.load = (os.getloadavg()[0], 0.0)
            tasks = [asyncio.create_task(start_one(s, s.k * a.stagger)) for s in sessions]
            side = [asyncio.create_task(watch(run, a.report_every, say))]
            if a.kill_worker_after is not None:
                side.append(asyncio.create_task(kill_worker(run, a.kill_worker_after, say)))
            while not all(s.state == "done" or s.error for s in sessions) and time.perf_counter() < deadline + 300:
                await asyncio.sleep(0.5)
            run.t_end, s1, c1 = sampler.sample()
            run.server_cpu, run.client_cpu = s1 - s0, c1 - c0
            run.sampler_cpu = sampler.own_cpu - own0
            run.load = (run.load[0], os.getloadavg()[0])
            everyone_done.set()
            await asyncio.gather(*tasks)
            for t in side:
                t.cancel()
    finally:
        sampler.stop()
    return run


@contextlib.asynccontextmanager
async def learners(a, url: str, deadline: float, everyone_done: asyncio.Event):
    """Yields `start_one(session, delay)` for the chosen client; with Chromium, the browsers live in here."""
    if a.client == "light":
        async def start_one(s: Session, delay: float) -> None:
            await asyncio.sleep(delay)
            await light_session(s, url, a, deadline, everyone_done)

        yield start_one
        return
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browsers = [await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS) for _ in range(a.browsers)]

        async def start_one(s: Session, delay: float) -> None:
            await asyncio.sleep(delay)
            await chromium_session(s, browsers[s.k % len(browsers)], url, a, deadline, everyone_done)

        try:
            yield start_one
        finally:
            for b in browsers:
                await b.close()


async def watch(run: ClassRun, every: float, say) -> None:
    """A progress line every `every` seconds."""
    while True:
        await asyncio.sleep(every)
        states: dict[str, int] = {}
        for s in run.sessions:
            key = "failed" if s.error else s.state.split(" (")[0]
            states[key] = states.get(key, 0) + 1
        for s in run.sessions:
            if s.client is not None and s.state == "training" and (p := progress_step(s.client.progress())):
                s.now_step = p[0]  # a look between runs: approximate, for this line only
        steps = sorted(s.now_step for s in run.sessions)
        g = run.sampler.server
        say(f"  t={time.perf_counter() - run.t_start:5.0f} s  " + ", ".join(f"{v} {k}" for k, v in sorted(
            states.items())) + f"; steps min/median/max {steps[0]}/{steps[len(steps) // 2]}/{steps[-1]}; "
            f"server {g.count[-1]} process(es), RSS {g.rss_root[-1]:.0f} MB (all {g.rss_sum[-1]:.0f} MB); "
            f"load {os.getloadavg()[0]:.2f}")


async def kill_worker(run: ClassRun, after: float, say) -> None:
    """kill -9 one child process of the server that trains (its command line names lstm_core.pool)."""
    await asyncio.sleep(after)
    t = time.perf_counter() - run.t_start
    pids = await asyncio.to_thread(run.sampler.workers, WORKER_NEEDLE)
    if not pids:
        run.killed.append(f"none: no child of the server with {WORKER_NEEDLE!r} in its command line at t={t:.0f} s")
    else:
        pid = pids[0]
        cmd = procs.cmdline(pid)[:120]
        os.kill(pid, signal.SIGKILL)
        run.killed.append(f"pid {pid} ({cmd}) at t={t:.0f} s, one of {len(pids)} worker(s)")
    say(f"  kill -9 worker: {run.killed[-1]}")


def parse_cores(cores: str) -> set[int]:
    """A taskset list ("0", "0,1", "0-1") as a set of CPU numbers."""
    out: set[int] = set()
    for part in cores.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


# -- 6. the report -----------------------------------------------------------------------------------------------
def pct(xs: list[float], q: float) -> float:
    """Percentile by linear interpolation (q in 0..100)."""
    xs = sorted(xs)
    if not xs:
        return math.nan
    i = (len(xs) - 1) * q / 100
    lo, hi = math.floor(i), math.ceil(i)
    return xs[lo] + (xs[hi] - xs[lo]) * (i - lo)


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(header), "| " + " | ".join("-" * w for w in widths) + " |", *(line(r) for r in rows)])


def same_as_solo(s: Session, solo: Solo | None) -> bool:
    return solo is not None and s.step == solo.step and bool(s.shown) and s.shown == solo.shown


def solo_of(s: Session, solos: dict[tuple, Solo]) -> Solo | None:
    return solos.get((link_key(s.query), s.step))


def failures(sessions: list[Session], solos: dict[tuple, Solo]) -> list[str]:
    out = []
    for s in sessions:
        solo = solo_of(s, solos)
        where = f" ({s.debug})" if s.debug else ""
        if s.error:
            out.append(f"session {s.k}: {s.error}{where}")
        elif not s.finished:
            out.append(f"session {s.k}: not finished within the budget (step {s.step} of {s.total})")
        elif not same_as_solo(s, solo):
            out.append(f"session {s.k}: shows {s.shown} at step {s.step}, the solo run {solo and solo.shown}{where}")
    return out


def session_table(run: ClassRun, solos: dict[tuple, Solo]) -> str:
    rows = []
    for s in run.sessions:
        solo = solo_of(s, solos)
        rows.append([str(s.k), link_label(s.query), f"{s.first_chart:.1f}" if s.first_chart is not None else "–",
                     f"{s.t_done - s.t_play:.0f}" if s.t_done and s.t_play else "–",
                     f"{s.rate:.2f}" if s.rate else "–", f"{s.step}" if s.step is not None else "–",
                     "finished" if s.finished else ("error" if s.error else "paused"),
                     " / ".join(s.shown.values()) or "–", " / ".join(solo.shown.values()) if solo else "–",
                     "yes" if same_as_solo(s, solo) and not s.error else "NO"])
    return table(["session", "seed/lag/steps", "first chart (s)", "Play to end (s)", "steps/s", "step", "end",
                  "shown LSTM / RNN", "solo LSTM / RNN", "same"], rows)


def goal_table(run: ClassRun, solos: dict[tuple, Solo], goals: Goals, kill: bool) -> str:
    """Each goal of the issue with its target beside the measurement."""
    sessions, wall = run.sessions, run.t_end - run.t_start
    fc = [s.first_chart for s in sessions if s.first_chart is not None]
    rates = [s.rate for s in sessions if s.rate]
    steps_done = sum(s.step or s.now_step for s in sessions)
    throughput = steps_done / wall
    n_cores = len(parse_cores(run.server.cores)) if run.server.cores != "?" else os.cpu_count() or 1
    # steps per CPU second of the solo runs' training thread: other jobs on the machine do not slow that clock
    solo_rate = statistics.median([x.step / x.cpu for x in solos.values() if x.cpu > 0 and x.step] or [math.nan])
    ceiling, fair = n_cores * solo_rate, n_cores * solo_rate / len(sessions)
    work = sum(x.cpu for s in sessions if (x := solo_of(s, solos)))
    ok = sum(1 for s in sessions if s.finished and not s.error and same_as_solo(s, solo_of(s, solos)))
    g = run.sampler.server
    mark = lambda met: "met" if met else "NOT met"  # noqa: E731
    p95, p5 = pct(fc, 95), pct(rates, 5)
    rows = [
        ["time to first chart p95 (s)", f"<= {goals.first_chart_p95:g}",
         f"{p95:.1f} (p50 {pct(fc, 50):.1f}, max {max(fc, default=math.nan):.1f})", mark(p95 <= goals.first_chart_p95)],
        ["class throughput, sum of steps/s", f">= {goals.throughput_ratio:g} x {n_cores} core(s) x solo "
         f"{solo_rate:.1f} = {goals.throughput_ratio * ceiling:.1f}",
         f"{throughput:.1f} ({throughput / ceiling:.2f} of the ceiling)",
         mark(throughput >= goals.throughput_ratio * ceiling)],
        ["steps/s per session p5 (slowest)", f">= {goals.fair_share_ratio:g} x fair share {fair:.2f} = "
         f"{goals.fair_share_ratio * fair:.2f}", f"{p5:.2f} (p50 {pct(rates, 50):.2f}, p95 {pct(rates, 95):.2f})",
         mark(p5 >= goals.fair_share_ratio * fair)],
        ["sessions finished showing the solo numbers", f"{len(sessions)} of {len(sessions)}",
         f"{ok} of {len(sessions)}", mark(ok == len(sessions))],
        ["server CPU seconds (streamlit + children)", "report",
         f"{run.server_cpu:.0f} of {wall * n_cores:.0f} core-seconds ({run.server_cpu / (wall * n_cores):.0%}); "
         f"{1000 * run.server_cpu / max(steps_done, 1):.0f} per 1,000 steps; the same runs solo: {work:.0f}", ""],
        ["page-process RSS peak (MB)", "report",
         f"{g.peak('rss_root', run.t_start):.0f} (warm {run.rss_warm:.0f}, boot {run.rss_boot:.0f})", ""],
        ["all server processes RSS peak (MB)", "report", f"{g.peak('rss_sum', run.t_start):.0f} (Pss "
         f"{g.peak('pss_sum', run.t_start):.0f}; at most {max(g.count, default=0)} process(es))", ""],
    ]
    if kill:
        killed = any(k.startswith("pid") for k in run.killed)
        rows.append(["kill -9 a worker, every session still the solo numbers", "all",
                     "; ".join(run.killed) + f"; {ok} of {len(sessions)} the solo numbers",
                     mark(ok == len(sessions)) if killed else "nothing killed"])
    return (f"whole class {wall:.0f} s, first link opened to last run shown finished; {steps_done:,} steps\n\n"
            + table(["goal", "target", "measured", ""], rows))


def cost_table(run: ClassRun, client: str) -> str:
    """What the test itself used: the clients' CPU (without the sampler's), memory, traffic."""
    wall = run.t_end - run.t_start
    clients = run.client_cpu - run.sampler_cpu  # the sampler thread runs in this process too
    rows = [[f"{client} clients (cores {run.client_cores})", f"{clients:.1f} CPU seconds = {clients / wall:.3f} "
             f"of a core (the server: {run.server_cpu / wall:.2f} of a core)"],
            ["the /proc sampler (a thread of this process)", f"{run.sampler_cpu:.1f} CPU seconds"],
            ["this process and its children, peak RSS", f"{run.sampler.client.peak('rss_sum', run.t_start):.0f} MB "
             "(this process holds torch from the solo runs)"]]
    if client == "light":
        st = [s.client.stats for s in run.sessions if s.client is not None]
        total = lambda k: sum(x.get(k, 0) for x in st)  # noqa: E731
        rows.append(["what the light clients exchanged", f"{total('messages'):,} messages, "
                     f"{total('bytes') / 2**20:.0f} MB received; sent {total('reruns_sent'):,} reruns and "
                     f"{total('auto_reruns_sent'):,} fragment auto-reruns; {total('misplaced_deltas')} delta(s) "
                     "whose path did not fit the element tree (skipped, as a browser would fail to draw them)"])
    return table(["what the test itself cost", ""], rows)


def report(run: ClassRun, solos: dict[tuple, Solo], goals: Goals, a) -> str:
    return "\n".join([
        f"### {len(run.sessions)} learners on one server ({a.client} clients; {os.cpu_count()} cores, server on "
        f"{run.server.cores}, clients on {run.client_cores}; load average {run.load[0]:.2f} at the start, "
        f"{run.load[1]:.2f} at the end)\n", session_table(run, solos), "",
        goal_table(run, solos, goals, a.kill_worker_after is not None), "", cost_table(run, a.client)])


# -- main --------------------------------------------------------------------------------------------------------
async def main_async(a, say) -> int:
    t_begin = time.perf_counter()
    links = class_links(a.sessions, a.identical, a.steps)
    sessions = [Session(k, q) for k, q in enumerate(links)]
    distinct = {link_key(q): q for q in links}
    say(f"load_test: {a.sessions} learner(s), {len(distinct)} distinct link(s), {a.client} clients, Play by "
        f"{a.play}; server cores {a.server_cores or 'all'}, client cores {a.client_cores or 'all'}; "
        f"load average {os.getloadavg()[0]:.2f}")
    solos: dict[tuple, Solo] = {}
    for key, q in distinct.items():  # before the server starts, so they compete with nothing of the test
        solos[(key, int(q["train.steps"]))] = await asyncio.to_thread(solo_numbers, q, int(q["train.steps"]))
    say(f"solo headless runs in {time.perf_counter() - t_begin:.0f} s: " + "; ".join(
        f"{link_label(distinct[k[0]])}: " + ", ".join(v.shown.values()) + f" ({v.step / v.cpu:.0f} steps per CPU "
        "second)" for k, v in list(solos.items())[:4]) + (" ..." if len(solos) > 4 else ""))
    with start_server(a.server_cores) as server:
        run = await run_class(a, server, sessions, say)
    for s in sessions:  # a learner paused at the budget: the solo run to the same step
        key = (link_key(s.query), s.step)
        if s.step is not None and key not in solos:
            solos[key] = await asyncio.to_thread(solo_numbers, s.query, s.step)
    say("\n" + report(run, solos, Goals(a.goal_first_chart), a))
    failed = failures(sessions, solos)
    if failed:
        say("\nFAILED:\n" + "\n".join(f"- {f}" for f in failed))
    else:
        say("\nevery session finished and shows the numbers of the solo headless run of its link")
    say(f"\ntotal time of the script {time.perf_counter() - t_begin:.0f} s")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--identical", action="store_true", help="every learner opens the headline lesson (seed 0)")
    ap.add_argument("--steps", type=int, default=300, help="steps of each learner's run")
    ap.add_argument("--client", choices=("light", "chromium"), default="light")
    ap.add_argument("--play", choices=("click", "link"), default="click",
                    help="press Play after the page opened, or open a link with play=1")
    ap.add_argument("--server-cores", default="", help="taskset list for the server and its children, e.g. 1")
    ap.add_argument("--client-cores", default="", help="taskset list for the clients (this process, browsers)")
    ap.add_argument("--kill-worker-after", type=float, default=None, metavar="SECONDS",
                    help=f"kill -9 one child of the server whose command line contains {WORKER_NEEDLE!r}")
    ap.add_argument("--out", default="", help="also write everything printed to this file")
    ap.add_argument("--budget", type=float, default=1200.0, help="seconds from Play before a learner pauses")
    ap.add_argument("--deadline", type=float, default=1500.0, help="seconds for the whole class")
    ap.add_argument("--first-chart-timeout", type=float, default=600.0)
    ap.add_argument("--stagger", type=float, default=0.25, help="seconds between two learners starting")
    ap.add_argument("--report-every", type=float, default=30.0, help="seconds between progress lines")
    ap.add_argument("--cold", action="store_true", help="no warm-up session before the class")
    ap.add_argument("--goal-first-chart", type=float, default=Goals.first_chart_p95, help="seconds, p95")
    ap.add_argument("--via-url", action="store_true", help=argparse.SUPPRESS)  # the old flag: links are the default
    ap.add_argument("--browsers", type=int, default=1, help="Chromium processes to spread the tabs over")
    ap.add_argument("--viewport", default="1024x768", help="Chromium: each tab's window, WIDTHxHEIGHT")
    ap.add_argument("--poll", type=float, default=1.0, help="Chromium: seconds between two looks at a tab")
    a = ap.parse_args(argv)
    if not 1 <= a.sessions <= 100:
        ap.error("--sessions must be between 1 and 100")
    for cores in (a.server_cores, a.client_cores):
        if cores and not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", cores):
            ap.error(f"not a taskset core list: {cores!r}")
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a kill still stops the server and the browsers
    try:
        return asyncio.run(main_async(a, say))
    finally:
        if a.out:
            Path(a.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())

"""Many students at once: one local server, N Chromium sessions that each start a run and train it to the end.

Each session is a browser context of its own (one Streamlit session each). By default a session opens the Home
page and clicks "Start the headline lesson" (seed 0, lag 100, 1,500 steps, LSTM + vanilla RNN), as a class would
today. With --via-url each session instead opens a link that sets a small, distinct headline-style run and plays
it (query keys `task.lag`, `train.seed`, `train.steps`, `models`, `play`; needs the app to read its query string).

Per session it records the time to first chart (first .js-plotly-plot visible after the click or the link),
steps/s (steps done / time from the click to the run finishing), and the final held-out accuracy of the LSTM and
the vanilla RNN as shown. It checks that every session finished, and that each one shows exactly the numbers of a
solo headless run of the same config computed in this process (at the displayed precision, 0.1 %). A sampler reads
the server's resident memory (VmRSS) and CPU time every second, and the CPU time of the test's own browsers.

Traffic goes only to 127.0.0.1; every wait has a timeout and the whole run a deadline (--deadline, default
25 min), after which unfinished sessions are reported as failed and everything is closed.

    python -m bench.load_test --sessions 3                 # a quick check
    python -m bench.load_test --sessions 20 > load.txt     # the class (several minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import signal
import statistics
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from tests.browser_util import ARGS, CHROMIUM, start_server

ROOT = Path(__file__).resolve().parents[1]

START = re.compile("Start the headline lesson")
CAPTION = re.compile(r"Run: [\w-]+, step ([\d,]+) of ([\d,]+) \((\w+)\)")
PROGRESS = re.compile(r"step ([\d,]+) of ([\d,]+)")
BUTTON_READY_JS = """() => {
  const b = [...document.querySelectorAll('button')].find(e => e.innerText.includes('Start the headline lesson'));
  if (!b || b.disabled || b.getAttribute('aria-disabled') === 'true') return false;
  const r = b.getBoundingClientRect();
  return r.width > 0 && r.height > 0;
}"""
EXCEPTION = '[data-testid="stException"]'
LOOK_JS = """() => {
  const g = document.querySelector('.js-plotly-plot');
  let x = null;
  if (g && g._fullData) for (const t of g._fullData) { const v = t.x && t.x.length ? Number(t.x[t.x.length - 1]) : null;
    if (v !== null && (x === null || v > x)) x = v; }
  const sb = document.querySelector('[data-testid="stSidebar"]');
  const ex = document.querySelector('[data-testid="stException"]');
  return {x, sidebar: sb ? sb.innerText : '', exception: ex ? ex.innerText : null};
}"""
METRICS = {"lstm": "LSTM: held-out accuracy", "rnn": "vanilla RNN: held-out accuracy"}


@dataclass(frozen=True)
class RunSpec:
    seed: int
    lag: int
    steps: int
    models: tuple[str, ...] = ("lstm", "rnn")

    def query(self) -> str:
        q = {"task.lag": str(self.lag), "train.seed": str(self.seed), "train.steps": str(self.steps),
             "models": ",".join(self.models), "play": "1"}
        return urllib.parse.urlencode(q, safe=",")


@dataclass
class Session:
    k: int
    spec: RunSpec
    t_start: float | None = None  # click on Start (or the link opened)
    t_chart: float | None = None
    t_done: float | None = None
    steps: int | None = None
    state: str = "not started"
    shown: dict[str, str] = field(default_factory=dict)
    progress: list[tuple[float, int]] = field(default_factory=list)  # (time, last step drawn on the loss chart)
    error: str | None = None

    @property
    def first_chart(self) -> float | None:
        return None if self.t_chart is None or self.t_start is None else self.t_chart - self.t_start

    @property
    def rate(self) -> float | None:
        if self.t_done is None or self.t_start is None or not self.steps:
            return None
        return self.steps / (self.t_done - self.t_start)


# -- the reference: a solo headless run per distinct config -----------------------------------------------------
def reference(spec: RunSpec) -> dict[str, str]:
    from lstm_core import ModelConfig, TaskConfig, TrainConfig, configure_torch
    from lstm_core.lab import Lab, headline_lab

    configure_torch(1)
    if spec.lag == 100 and spec.models == ("lstm", "rnn"):
        lab = headline_lab(seed=spec.seed, steps=spec.steps)
    else:
        lab = Lab(TaskConfig(name="recall", lag=spec.lag), TrainConfig(seed=spec.seed, steps=spec.steps),
                  {m: ModelConfig(cell=m) for m in spec.models})
    lab.advance(spec.steps)
    out = {}
    for name in spec.models:
        v = lab.latest_val(name)
        out[name] = "–" if v is None else f"{v:.1%}"
    if lab.error:
        out["error"] = lab.error
    return out


# -- process sampling (/proc; psutil is not in the venv) ---------------------------------------------------------
TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process."""
    try:
        s = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB."""
    vals = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            k, v = line.split(":")
            vals[k] = int(v.split()[0]) / 1024
    return vals.get("VmRSS", math.nan), vals.get("VmHWM", math.nan)


def descendants_cpu(root: int, exclude: int) -> tuple[float, float]:
    """CPU seconds and summed RSS (MB) of `root`'s descendants other than `exclude` and its children."""
    parent, cpu = {}, {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat(int(d))
            if st:
                parent[int(d)], cpu[int(d)] = st
    total, rss = 0.0, 0.0
    for pid in parent:
        p, inside = pid, False
        while p in parent and p > 1 and p != exclude:
            p = parent[p]
            if p == root:
                inside = True
                break
        if inside:
            total += cpu[pid]
            try:
                rss += rss_mb(pid)[0]
            except OSError:
                pass
    return total, rss


def server_pid(port: int) -> int:
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                cmd = Path(f"/proc/{d}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"streamlit" in b" ".join(cmd) and str(port).encode() in cmd:
                return int(d)
    raise RuntimeError(f"no streamlit process on port {port}")


@dataclass
class Samples:
    t: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)
    client_rss: list[float] = field(default_factory=list)


async def sampler(pid: int, out: Samples, stop: asyncio.Event, every: float = 1.0) -> None:
    me = os.getpid()
    while not stop.is_set():
        try:
            out.rss.append(rss_mb(pid)[0])
            out.server_cpu.append(_stat(pid)[1])
            c, r = await asyncio.to_thread(descendants_cpu, me, pid)
            out.client_cpu.append(c)
            out.client_rss.append(r)
            out.t.append(time.perf_counter())
        except (OSError, TypeError):
            pass
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass


# -- one student --------------------------------------------------------------------------------------------------
CALL_TIMEOUT = 30.0  # seconds for any one look at a page (a starved renderer must not hang a student)


async def bounded(coro, timeout: float = CALL_TIMEOUT):
    return await asyncio.wait_for(coro, timeout)


async def metric(page, label: str) -> str | None:
    loc = page.locator('[data-testid="stMetric"]').filter(has_text=label)
    if await bounded(loc.count()) == 0:
        return None
    return (await bounded(loc.first.locator('[data-testid="stMetricValue"]').inner_text(timeout=5000))).strip()


async def idle(page, timeout: float) -> None:
    end = time.perf_counter() + timeout
    await asyncio.sleep(0.5)
    while time.perf_counter() < end:
        if await bounded(page.locator('[data-testid="stStatusWidget"]').count()) == 0:
            return
        await asyncio.sleep(0.3)


async def student(s: Session, browser, url: str, via_url: bool, deadline: float, url_path: str,
                  poll: float, finished: asyncio.Event, first_chart_timeout: float, viewport: dict) -> None:
    ctx = await browser.new_context(viewport=viewport, reduced_motion="reduce")
    page = await ctx.new_page()
    left = lambda: max(1.0, deadline - time.perf_counter())  # noqa: E731
    try:
        if via_url:
            s.state = "opening link"
            s.t_start = time.perf_counter()
            await page.goto(f"{url}/{url_path}?{s.spec.query()}", wait_until="commit", timeout=left() * 1000)
        else:
            s.state = "opening home"
            await page.goto(url, wait_until="commit", timeout=left() * 1000)
            await page.wait_for_function(BUTTON_READY_JS, polling=100, timeout=left() * 1000)
            s.state = "starting"
            s.t_start = time.perf_counter()
            await page.get_by_role("button", name=START).click(timeout=left() * 1000)
        s.state = "waiting for the first chart"
        limit = min(deadline, time.perf_counter() + first_chart_timeout)
        first = await bounded(page.wait_for_selector(f".js-plotly-plot, {EXCEPTION}", state="visible",
                                                     timeout=max(1.0, limit - time.perf_counter()) * 1000),
                              max(1.0, limit - time.perf_counter()) + 5)
        if await bounded(first.evaluate("e => e.matches('.js-plotly-plot')")):
            s.t_chart = time.perf_counter()
        else:
            raise RuntimeError("an exception is shown: " + (await bounded(first.inner_text()))[:300])
        s.state = "training"
        while time.perf_counter() < deadline:
            try:  # one round trip per look: the last step drawn, the sidebar's caption, any exception
                look = await bounded(page.evaluate(LOOK_JS))
            except Exception:  # noqa: BLE001 - mid-rerender, or slow
                look = None
            if look and look["exception"]:
                s.error = "an exception is shown: " + look["exception"][:300]
                break
            x = look and look["x"]
            if x is not None and (not s.progress or s.progress[-1][1] != int(x)):
                s.progress.append((time.perf_counter(), int(x)))
            m = CAPTION.search(look["sidebar"]) if look else None
            if m and m.group(3) == "finished":
                s.t_done = time.perf_counter()
                s.steps = int(m.group(1).replace(",", ""))
                break
            await asyncio.sleep(poll)
        else:
            s.error = f"did not finish before the deadline (last step drawn {s.progress[-1][1] if s.progress else 0})"
        if s.t_done is not None:
            s.state = "reading"
            await idle(page, 60)
            prog = await bounded(page.locator('[data-testid="stProgress"]').first.inner_text(timeout=10_000))
            m = PROGRESS.search(prog)
            if not m or m.group(1) != m.group(2):
                s.error = f"finished but the progress text says {prog!r}"
            for name in s.spec.models:  # the final full rerun may still be replacing the elements: look again
                for _ in range(30):
                    try:
                        s.shown[name] = await metric(page, METRICS[name]) or "?"
                    except Exception:  # noqa: BLE001 - mid-rerender
                        s.shown[name] = "?"
                    if s.shown[name] != "?":
                        break
                    await asyncio.sleep(1)
            if await bounded(page.locator('[data-testid="stAlert"]').count()):
                s.shown["alert"] = (await bounded(page.locator('[data-testid="stAlert"]').first.inner_text()))[:200]
            s.state = "done"
        # stay connected, like a student looking at the result, until every session is done
        try:
            await asyncio.wait_for(finished.wait(), max(1.0, deadline - time.perf_counter()))
        except TimeoutError:
            pass
    except Exception as e:  # noqa: BLE001 - one failed student must not stop the class
        s.error = f"{type(e).__name__} while {s.state}: {str(e).splitlines()[0][:300]}"
    finally:
        await ctx.close()


async def warm(browser, url: str) -> None:
    """The teacher opens the app before class: torch, plotly and the first Adam steps get imported and run."""
    ctx = await browser.new_context()
    page = await ctx.new_page()
    await page.goto(url)
    await page.wait_for_function(BUTTON_READY_JS, polling=100, timeout=180_000)
    await page.get_by_role("button", name=START).click()
    await page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=180_000)
    await page.get_by_role("button", name=re.compile("Pause")).click()
    await page.get_by_role("button", name=re.compile("Play")).wait_for(timeout=60_000)
    await ctx.close()


def niced_chromium(nice: int) -> str:
    """Chromium behind `nice` (the test's browsers stand in for the students' own computers). Chromium sets its
    own processes' priority (GPU process -8, renderers 0), so this is weak; the summary reports their CPU time."""
    if nice <= 0:
        return CHROMIUM
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="lstm-lab-load-"))
    exe = d / "chromium"
    exe.write_text(f'#!/bin/sh\nexec nice -n {int(nice)} {CHROMIUM} "$@"\n')
    exe.chmod(0o755)
    return str(exe)


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


def specs(n: int, via_url: bool, steps: int) -> list[RunSpec]:
    if not via_url:
        return [RunSpec(seed=0, lag=100, steps=1500) for _ in range(n)]
    # small, distinct headline-style runs: seeds 0..n-1, lags 20..60
    return [RunSpec(seed=k, lag=20 + 10 * (k % 5), steps=steps) for k in range(n)]


async def run(a) -> int:
    from playwright.async_api import async_playwright

    t_begin = time.perf_counter()
    deadline = t_begin + a.deadline
    w, h = (int(v) for v in a.viewport.lower().split("x"))
    viewport = {"width": w, "height": h}
    sessions = [Session(k, sp) for k, sp in enumerate(specs(a.sessions, a.via_url, a.steps))]
    distinct = sorted({s.spec for s in sessions}, key=lambda sp: (sp.seed, sp.lag))
    print(f"load_test: {a.sessions} session(s), {'links' if a.via_url else 'the Start button'}, "
          f"{len(distinct)} distinct config(s), {a.browsers} browser(s) at nice {a.client_nice}; "
          f"load average {os.getloadavg()[0]:.2f}",
          flush=True)
    t0 = time.perf_counter()
    refs = {}
    for sp in distinct:  # before the server starts, so it does not compete with the sessions
        refs[sp] = await asyncio.to_thread(reference, sp)
    print(f"solo headless reference(s) computed in {time.perf_counter() - t0:.0f} s: "
          + "; ".join(f"seed {sp.seed} lag {sp.lag}: " + ", ".join(f"{k} {v}" for k, v in refs[sp].items())
                      for sp in distinct[:4]) + (" ..." if len(distinct) > 4 else ""), flush=True)

    samples = Samples()
    stop = asyncio.Event()
    finished = asyncio.Event()
    with start_server() as url:
        pid = server_pid(int(url.rsplit(":", 1)[1]))
        rss_boot = rss_mb(pid)[0]
        async with async_playwright() as pw:
            exe = niced_chromium(a.client_nice)
            browsers = [await pw.chromium.launch(executable_path=exe, args=ARGS) for _ in range(a.browsers)]
            sam = asyncio.create_task(sampler(pid, samples, stop))
            try:
                if not a.cold:
                    await warm(browsers[0], url)
                    await asyncio.sleep(2)
                rss_warm = rss_mb(pid)[0]
                cpu0 = _stat(pid)[1]
                t_class = time.perf_counter()
                print(f"server pid {pid}: RSS {rss_boot:.0f} MB after boot, {rss_warm:.0f} MB warm; "
                      f"{len(sessions)} students start now", flush=True)

                async def one(s: Session) -> None:
                    await asyncio.sleep(s.k * a.stagger)
                    await student(s, browsers[s.k % len(browsers)], url, a.via_url, deadline, a.url_path, a.poll,
                                  finished, a.first_chart_timeout, viewport)

                async def watch() -> None:
                    while not finished.is_set() and time.perf_counter() < deadline:
                        await asyncio.sleep(a.report_every)
                        states = {}
                        for s in sessions:
                            key = "failed" if s.error else s.state
                            states[key] = states.get(key, 0) + 1
                        steps = [s.progress[-1][1] for s in sessions if s.progress]
                        rss = samples.rss[-1] if samples.rss else math.nan
                        print(f"  t={time.perf_counter() - t_class:5.0f} s  " + ", ".join(
                            f"{v} {k}" for k, v in sorted(states.items())) + f"; steps drawn min/median/max "
                            f"{min(steps, default=0)}/{int(statistics.median(steps)) if steps else 0}/"
                            f"{max(steps, default=0)}; server RSS {rss:.0f} MB; load {os.getloadavg()[0]:.2f}",
                            flush=True)

                async def all_students() -> None:
                    tasks = [asyncio.create_task(one(s)) for s in sessions]

                    async def when_all_done() -> None:
                        while time.perf_counter() < deadline:
                            if all(s.state == "done" or s.error for s in sessions):
                                break
                            await asyncio.sleep(1)
                        finished.set()

                    await asyncio.gather(when_all_done(), *tasks)

                w = asyncio.create_task(watch())
                await asyncio.wait_for(all_students(), a.deadline + 120)
                t_end = time.perf_counter()
                w.cancel()
                cpu1 = _stat(pid)[1]
                rss_end = rss_mb(pid)[0]
            finally:
                stop.set()
                await sam
                for b in browsers:
                    await b.close()
            await asyncio.sleep(a.linger)
            rss_after = rss_mb(pid)[0]
            hwm = rss_mb(pid)[1]

    # -- report -----------------------------------------------------------------------------------------------
    failed = []
    rows = []
    for s in sessions:
        ref = refs[s.spec]
        same = bool(s.shown) and all(s.shown.get(m) == ref.get(m) for m in s.spec.models)
        if s.error:
            failed.append(f"session {s.k}: {s.error}")
        elif not same:
            failed.append(f"session {s.k}: shows {s.shown}, solo headless run gives {ref}")
        rows.append([str(s.k), f"{s.spec.seed}/{s.spec.lag}/{s.spec.steps}",
                     f"{s.first_chart:.1f}" if s.first_chart is not None else "–",
                     f"{s.t_done - s.t_start:.0f}" if s.t_done and s.t_start else "–",
                     f"{s.rate:.2f}" if s.rate else "–",
                     " / ".join(s.shown.get(m, "–") for m in s.spec.models),
                     " / ".join(ref.get(m, "–") for m in s.spec.models),
                     "yes" if same and not s.error else "NO"])
    print(f"\n### Many students at once: {len(sessions)} sessions on one server "
          f"({os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the end)\n")
    print(table(["session", "seed/lag/steps", "first chart (s)", "run (s)", "steps/s", "shown LSTM / RNN",
                 "solo headless LSTM / RNN", "ok"], rows))
    fc = [s.first_chart for s in sessions if s.first_chart is not None]
    rates = [s.rate for s in sessions if s.rate]
    client_cpu = samples.client_cpu[-1] - samples.client_cpu[0] if len(samples.client_cpu) > 1 else math.nan
    server_cpu = cpu1 - cpu0
    wall = t_end - t_class
    summary = [
        ["sessions finished with the solo numbers", f"{len(sessions) - len(failed)} of {len(sessions)}"],
        ["time to first chart p50 / p95 / max (s)",
         f"{pct(fc, 50):.1f} / {pct(fc, 95):.1f} / {max(fc, default=0):.1f}"],
        ["steps/s per session p50 / p5 (slowest) / p95",
         f"{pct(rates, 50):.2f} / {pct(rates, 5):.2f} / {pct(rates, 95):.2f}"],
        ["steps/s, all sessions together (steps drawn / class time)",
         f"{sum(s.steps or (s.progress[-1][1] if s.progress else 0) for s in sessions) / wall:.1f}"],
        ["whole class, first start to last finish (s)", f"{wall:.0f}"],
        ["server RSS boot / warm / peak / at the end / after browsers closed (MB)",
         f"{rss_boot:.0f} / {rss_warm:.0f} / {max(samples.rss, default=math.nan):.0f} / {rss_end:.0f} / "
         f"{rss_after:.0f} (high-water mark {hwm:.0f})"],
        ["server RSS growth during the class (MB, per session)",
         f"{rss_end - rss_warm:+.0f} ({(rss_end - rss_warm) / len(sessions):+.1f})"],
        ["CPU seconds: server / test browsers (of wall x cores)",
         f"{server_cpu:.0f} / {client_cpu:.0f} (of {wall * (os.cpu_count() or 1):.0f})"],
        ["test browsers' peak RSS (MB)", f"{max(samples.client_rss, default=math.nan):.0f}"],
    ]
    print()
    print(table(["measure", "value"], summary))
    if failed:
        print("\nFAILED:\n" + "\n".join(f"- {f}" for f in failed))
    else:
        print("\nevery session finished and shows the solo headless run's numbers")
    print(f"\ntotal time of the script {time.perf_counter() - t_begin:.0f} s")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--via-url", action="store_true", help="start each session from a link with its own config")
    ap.add_argument("--steps", type=int, default=300, help="steps per run with --via-url")
    ap.add_argument("--url-path", default="train", help="page the links open, with --via-url")
    ap.add_argument("--browsers", type=int, default=1, help="Chromium processes to spread the sessions over")
    ap.add_argument("--stagger", type=float, default=0.25, help="seconds between two students starting")
    ap.add_argument("--poll", type=float, default=1.0, help="seconds between two looks at a session")
    ap.add_argument("--report-every", type=float, default=30.0, help="seconds between progress lines")
    ap.add_argument("--deadline", type=float, default=1500.0, help="seconds before unfinished sessions fail")
    ap.add_argument("--first-chart-timeout", type=float, default=600.0,
                    help="seconds a session may wait for its first chart before it fails")
    ap.add_argument("--linger", type=float, default=10.0, help="seconds to wait before the last memory reading")
    ap.add_argument("--client-nice", type=int, default=0,
                    help="start the test's browsers under `nice` (measured: Chromium resets its GPU and renderer "
                    "processes' priority, so this barely helps; their CPU is reported instead)")
    ap.add_argument("--viewport", default="1024x768", help="each session's window, WIDTHxHEIGHT (smaller paints less)")
    ap.add_argument("--cold", action="store_true", help="no warm-up session before the class")
    a = ap.parse_args(argv)
    if not 1 <= a.sessions <= 100:
        ap.error("--sessions must be between 1 and 100")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a kill still stops the server and the browsers
    return asyncio.run(run(a))


if __name__ == "__main__":
    raise SystemExit(main())

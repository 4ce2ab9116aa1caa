"""The app as a learner feels it, in Debian's Chromium: how soon the first page answers, and how much of the
machine's training speed survives the live charts.

(a) first page interactive: a fresh `streamlit run app.py` per round; the clock starts when the health check
    answers and stops when the Home page's "Start the headline lesson" button is visible and enabled (goal <= 3 s).
    Median of `--fresh` rounds (default 3), each in a new browser context (empty cache).
(b) live training throughput: one server, warmed by a throwaway session. Rounds alternate A B A B...:
    A = the same work headless, in a subprocess with one torch thread:
        `headline_lab(seed).advance(10**6, max_seconds=S)`, steps/s;
    B = a new browser session clicks "Start the headline lesson", lets it train S s, clicks Pause, and reads the
        steps done from the sidebar caption "Run: recall, step N of 1,500 (paused)"; steps/s = N / (click to
        the Play button being back). Meanwhile the loss chart's last x and the progress text are polled every
        0.25 s; each change of the chart is one refresh: refreshes/s = (changes - 1) / (time from the first
        change to the last). The CPU used by the server and by Chromium in that time comes from /proc.
    Ratio app/headless of the medians (goal >= 0.70). Each A B pair has a seed of its own (100, 101, ...), so the
    app trains a run no one has trained (the workers share identical runs), from workers that have warmed up.

Prints markdown tables; the whole run takes about 3 minutes. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tests.browser_util import ARGS, CHROMIUM, start_server, wait_for

ROOT = Path(__file__).resolve().parents[1]

START = re.compile("Start the headline lesson")
BUTTON_READY_JS = """() => {
  const b = [...document.querySelectorAll('button')].find(e => e.innerText.includes('Start the headline lesson'));
  if (!b || b.disabled || b.getAttribute('aria-disabled') === 'true') return false;
  const r = b.getBoundingClientRect(), s = getComputedStyle(b);
  return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
}"""
# The last training step drawn on the first chart (training loss): _fullData holds the decoded arrays.
CHART_STEP_JS = """() => {
  const g = document.querySelector('.js-plotly-plot');
  if (!g || !g._fullData || !g._fullData.length) return null;
  let m = null;
  for (const t of g._fullData) { const x = t.x; if (x && x.length) { const v = Number(x[x.length - 1]);
    if (m === null || v > m) m = v; } }
  return m;
}"""
HEADLESS = """
import json, sys, time
from lstm_core import configure_torch
from lstm_core.lab import headline_lab
configure_torch(1)
headline_lab(seed=1, steps=3).advance(3)  # warm, as the app's workers are
lab = headline_lab(seed={seed})
t0 = time.perf_counter()
n = lab.advance(10**6, max_seconds={seconds})
print(json.dumps({{"steps": n, "seconds": time.perf_counter() - t0}}))
"""


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(header), "| " + " | ".join("-" * w for w in widths) + " |", *(line(r) for r in rows)])


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def progress_text(page) -> str | None:
    loc = page.locator('[data-testid="stProgress"]')
    return loc.first.inner_text(timeout=2000).strip() if loc.count() else None


def sidebar_step(page) -> int | None:
    m = re.search(r"Run: \w+, step ([\d,]+) of ([\d,]+)", page.locator('[data-testid="stSidebar"]').inner_text())
    return int(m.group(1).replace(",", "")) if m else None


# -- (a) -------------------------------------------------------------------------------------------------------
def first_page(browser, rounds: int) -> list[dict]:
    out = []
    for k in range(rounds):
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        t_launch = time.perf_counter()
        with start_server() as url:
            t_health = time.perf_counter()
            page.goto(url, wait_until="commit")
            page.wait_for_selector("h1", timeout=60_000)
            t_title = time.perf_counter()
            page.wait_for_function(BUTTON_READY_JS, polling=50, timeout=60_000)
            t_button = time.perf_counter()
            out.append({"boot": t_health - t_launch, "title": t_title - t_health, "button": t_button - t_health,
                        "load": load()})
            print(f"  (a) round {k + 1}: server boot {t_health - t_launch:.2f} s, health -> button "
                  f"{t_button - t_health:.2f} s (load {load()})", file=sys.stderr, flush=True)
        ctx.close()
    return out


# -- (b) -------------------------------------------------------------------------------------------------------
def headless(seconds: float, seed: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", HEADLESS.format(seconds=seconds, seed=seed)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=seconds + 300)
    if proc.returncode != 0:
        raise RuntimeError(f"headless run failed: {proc.stderr[-2000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"steps": r["steps"], "seconds": r["seconds"], "rate": r["steps"] / r["seconds"], "load": load()}


def live_session(browser, url: str, seconds: float, seed: int, poll: float = 0.25) -> dict:
    """A learner opens the app with `seed` in the sidebar (through a link), starts the headline lesson, lets it
    train `seconds`, pauses. Every round has its own seed: the workers share identical runs, so a seed trained
    before would be replayed, not trained."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = ctx.new_page()
    try:
        page.goto(f"{url}/?train.seed={seed}")
        page.wait_for_function(BUTTON_READY_JS, polling=50, timeout=120_000)
        time.sleep(1.0)  # let the home page's run finish
        cpu0 = process_cpu(url)
        t_click = time.perf_counter()
        page.get_by_role("button", name=START).click()
        page.wait_for_url(re.compile(r"/train"), timeout=120_000)  # Home has a chart of its own
        page.get_by_role("heading", name="Train & compare").wait_for(timeout=120_000)
        page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=180_000)
        t_chart = time.perf_counter()
        chart_changes: list[tuple[float, int]] = []
        progress_changes = 0
        last_x, last_p = None, None
        end = t_click + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            try:
                x = page.evaluate(CHART_STEP_JS)
                p = progress_text(page)
            except Exception:  # noqa: BLE001 - mid-rerender
                x, p = last_x, last_p
            if x is not None and x != last_x:
                if last_x is not None:
                    chart_changes.append((t, int(x)))
                last_x = x
            if p is not None and last_p is not None and p != last_p:
                progress_changes += 1
            last_p = p if p is not None else last_p
            time.sleep(max(0.0, poll - (time.perf_counter() - t)))
        page.get_by_role("button", name=re.compile("Pause")).click()
        page.get_by_role("button", name=re.compile("Play")).wait_for(timeout=60_000)
        t_end = time.perf_counter()
        cpu1 = process_cpu(url)
        steps = wait_for(lambda: sidebar_step(page), 30, 0.2, "the sidebar's step caption")
        steady, refreshes = None, 0.0
        if len(chart_changes) >= 2:
            (ta, xa), (tb, xb) = chart_changes[0], chart_changes[-1]
            steady = (xb - xa) / (tb - ta) if tb > ta else None
            refreshes = (len(chart_changes) - 1) / (tb - ta) if tb > ta else 0.0  # changes per second between them
        return {"steps": steps, "seconds": t_end - t_click, "rate": steps / (t_end - t_click),
                "steady": steady, "first_chart": t_chart - t_click, "refreshes": refreshes,
                "progress_changes": progress_changes, "load": load(),
                "server_cpu": (cpu1[0] - cpu0[0]) / (t_end - t_click),
                "browser_cpu": (cpu1[1] - cpu0[1]) / (t_end - t_click)}
    finally:
        ctx.close()


TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(url: str) -> tuple[float, float]:
    """CPU seconds so far of the server (the Streamlit process and its worker processes) and of all Chromium
    processes (from /proc)."""
    port = str(int(url.rsplit(":", 1)[1])).encode()
    server, chromium = 0.0, 0.0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
            cmd = Path(f"/proc/{d}/cmdline").read_bytes()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()
        cpu = (int(rest[11]) + int(rest[12])) / TICK
        args = cmd.split(b"\0")
        if (b"streamlit" in cmd and port in args) or b"lstm_core.pool.worker" in cmd:
            server += cpu
        elif b"chromium" in cmd:
            chromium += cpu
    return server, chromium


def warm(browser, url: str) -> None:
    """A throwaway session: imports torch and plotly, runs the first Adam steps and the first draw."""
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_function(BUTTON_READY_JS, polling=100, timeout=120_000)
    page.get_by_role("button", name=START).click()
    page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=180_000)
    page.get_by_role("button", name=re.compile("Pause")).click()
    page.get_by_role("button", name=re.compile("Play")).wait_for(timeout=60_000)
    ctx.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fresh", type=int, default=3, help="fresh servers for (a)")
    ap.add_argument("--pairs", type=int, default=2, help="A B pairs for (b)")
    ap.add_argument("--seconds", type=float, default=20.0, help="training time per (b) round")
    ap.add_argument("--skip-a", action="store_true")
    ap.add_argument("--skip-b", action="store_true")
    a = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    print(f"bench_app: {os.cpu_count()} cores, load average {load()} at start, Chromium {CHROMIUM}\n")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            if not a.skip_a:
                fp = first_page(browser, a.fresh)
                rows = [[str(k + 1), f"{r['boot']:.2f}", f"{r['title']:.2f}", f"{r['button']:.2f}", r["load"]]
                        for k, r in enumerate(fp)]
                med = statistics.median(r["button"] for r in fp)
                rows.append(["median", f"{statistics.median(r['boot'] for r in fp):.2f}",
                             f"{statistics.median(r['title'] for r in fp):.2f}", f"**{med:.2f}**", ""])
                print("### (a) First page interactive (fresh server each round)\n")
                print(table(["round", "launch -> health (s)", "health -> title (s)",
                             "health -> Start button enabled (s)", "load avg"], rows))
                print(f"\nmedian {med:.2f} s; goal <= 3 s: {'met' if med <= 3.0 else 'NOT met'}\n", flush=True)
            if not a.skip_b:
                with start_server() as url:
                    warm(browser, url)
                    hs, bs = [], []
                    for k in range(a.pairs):
                        hs.append(headless(a.seconds, seed=100 + k))
                        print(f"  (b) A{k + 1}: {hs[-1]['rate']:.1f} steps/s (load {hs[-1]['load']})",
                              file=sys.stderr, flush=True)
                        bs.append(live_session(browser, url, a.seconds, seed=100 + k))
                        print(f"  (b) B{k + 1}: {bs[-1]['steps']} steps in {bs[-1]['seconds']:.1f} s = "
                              f"{bs[-1]['rate']:.1f} steps/s, {bs[-1]['refreshes']:.2f} refreshes/s, CPU cores "
                              f"used: server {bs[-1]['server_cpu']:.2f}, Chromium {bs[-1]['browser_cpu']:.2f} "
                              f"(load {bs[-1]['load']})", file=sys.stderr, flush=True)
                rows = []
                for k, (h, b) in enumerate(zip(hs, bs, strict=True)):
                    rows.append([f"A{k + 1} headless", f"{h['steps']}", f"{h['seconds']:.1f}", f"{h['rate']:.1f}",
                                 "", "", "", "", h["load"]])
                    rows.append([f"B{k + 1} app", f"{b['steps']}", f"{b['seconds']:.1f}", f"{b['rate']:.1f}",
                                 f"{b['steady']:.1f}" if b["steady"] else "–", f"{b['first_chart']:.1f}",
                                 f"{b['refreshes']:.2f}", f"{b['server_cpu']:.2f} / {b['browser_cpu']:.2f}",
                                 b["load"]])
                mh = statistics.median(h["rate"] for h in hs)
                mb = statistics.median(b["rate"] for b in bs)
                steadies = [b["steady"] for b in bs if b["steady"]]
                ms = statistics.median(steadies) if steadies else float("nan")
                mr = statistics.median(b["refreshes"] for b in bs)
                print(f"### (b) Live training throughput ({a.seconds:.0f} s per round, headline lesson, seed 0)\n")
                print(table(["round", "steps", "seconds", "steps/s", "steady steps/s (between chart refreshes)",
                             "click -> first chart (s)", "chart refreshes/s",
                             "CPU cores used: server / Chromium", "load avg"], rows))
                ratio = mb / mh
                print(f"\nmedian headless {mh:.1f} steps/s, app {mb:.1f} steps/s (click to pause), steady {ms:.1f} "
                      f"steps/s; ratio app/headless **{ratio:.2f}** (steady {ms / mh:.2f}); goal >= 0.70: "
                      f"{'met' if ratio >= 0.70 else 'NOT met'}")
                pc = sum(b["progress_changes"] for b in bs)
                print(f"chart refreshes per second while playing: median {mr:.2f} (REFRESH_SECONDS = 1.0); the "
                      f"progress text changed {pc} time(s) while playing")
        finally:
            browser.close()
    print(f"\nload average {load()} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How soon Pause takes effect on every page that plays a run, at the largest settings the app accepts, in Debian's
Chromium; and how long the page process spends on one live refresh of each page.

Settings (the heaviest the limits accept for what each page draws, lstm_core/limits.py: 25 billion operations per
training step): recall at lag 1000 (the largest lag) with an LSTM and a vanilla RNN of 256 units (the most units),
batch 8 (the smallest batch the settings form offers, so the most units fit: 17 of the 25 billion); the Text page
the same on the text task with windows of 1000 characters. Opened by a link, so the settings are exactly these.

One server (tests/browser_util.start_server, with LSTM_LAB_TIMINGS=1 so every live refresh logs its page-process
seconds), one browser session that moves between pages by the sidebar, as a learner does. On each page, `--rounds`
times: Play if paused, wait until the step in the progress bar moves (training shows), let it refresh for 3 s,
click Pause, then poll the page every 50 ms:
  button  = click -> the Play button is back in place of Pause;
  stopped = click -> the last change of the step shown (0 if it never moved again), watched for 4 s after the
            button;
  pause took effect = the later of the two. Median over rounds.
While playing, the sidebar's "Run: ..., step N of M" is compared with the page's progress bar on every poll (they
are drawn in the same refresh, so they must agree). Render s = median page-process seconds of the live refreshes
logged on that page while playing (server log).

Prints a markdown table and writes it to bench/results/bench_pause.txt (or --out). Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from browser_util import ARTIFACTS, open_browser, start_server, wait_for  # noqa: E402

RECALL = {"task.lag": "1000", "model.hidden": "256", "train.batch": "8", "train.steps": "20000",
          "models": "lstm,rnn"}
TEXT = {"task.name": "text", "task.seq_len": "1000", "model.hidden": "256", "train.batch": "8",
        "train.steps": "20000", "models": "lstm,rnn"}
# (url path, sidebar title, settings): the pages that show Play / Pause and a live run
PAGES = (
    ("train", "Train & compare", RECALL),
    ("gates", "Gates", RECALL),
    ("gradients", "Vanishing gradients", RECALL),
    ("by_hand", "One step by hand", RECALL),
    ("text", "Text", TEXT),
)
# pages without Play / Pause (they read the run at the learner's step and do not play it): opened only, timed to
# their last element, to show what a learner switching to them waits for
STILL = (("surgery", "Gate surgery"), ("lesson", "Guided lesson"))

STATE_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const btns = main ? [...main.querySelectorAll('button')].map(b => b.innerText.trim()) : [];
  const prog = document.querySelector('[data-testid="stProgress"]');
  const sb = [...document.querySelectorAll('[data-testid="stSidebar"] [data-testid="stCaptionContainer"]')]
    .map(e => e.innerText).find(t => t.startsWith('Run:'));
  return {pause: btns.includes('Pause'), play: btns.some(t => t.includes('Play')),
          prog: prog ? prog.innerText : null, sb: sb || null,
          running: document.querySelectorAll('[data-testid="stStatusWidget"]').length > 0};
}"""
STEP = re.compile(r"step ([\d,]+) of")


def step_of(text: str | None) -> int | None:
    m = STEP.search(text or "")
    return int(m.group(1).replace(",", "")) if m else None


def state(page) -> dict:
    s = page.evaluate(STATE_JS)
    s["step"], s["sb_step"] = step_of(s["prog"]), step_of(s["sb"])
    return s


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Sidebar:
    """Counts polls where the sidebar and the page name different steps while playing, and of those the ones that
    outlast a poll (the two are separate messages of one refresh: a poll may fall between them)."""

    def __init__(self) -> None:
        self.polls = self.mismatches = self.lasting = 0
        self.example = ""
        self._last: tuple | None = None

    def check(self, s: dict) -> None:
        if s["pause"] and s["step"] is not None and s["sb_step"] is not None and "training" in (s["sb"] or ""):
            self.polls += 1
            pair = (s["step"], s["sb_step"])
            if s["step"] != s["sb_step"]:
                self.mismatches += 1
                self.lasting += pair == self._last
                self.example = f"page {s['step']}, sidebar {s['sb_step']}"
            self._last = pair


def one_round(page, sidebar: Sidebar, warm: float) -> dict:
    s = wait_for(lambda: (lambda s: s if s["pause"] or s["play"] else None)(state(page)), 180, 0.2,
                 "the Play / Pause button")
    if not s["pause"]:
        page.get_by_role("button", name=re.compile("Play")).first.click()
    page.get_by_role("button", name="Pause").first.wait_for(timeout=120_000)
    first = wait_for(lambda: state(page)["step"], 120, 0.2, "the progress bar")
    wait_for(lambda: (state(page)["step"] or 0) > first, 180, 0.2, "the step to move (training shows)")
    end = time.time() + warm
    while time.time() < end:
        sidebar.check(state(page))
        time.sleep(0.1)
    before = state(page)["step"]
    t0 = time.perf_counter()
    page.get_by_role("button", name="Pause").first.click()
    button = None
    last_step, last_change = before, 0.0
    while True:
        s = state(page)
        now = time.perf_counter() - t0
        if s["step"] is not None and s["step"] != last_step:
            last_step, last_change = s["step"], now
        if button is None and s["play"] and not s["pause"]:
            button = now
        if button is not None and now > button + 4.0 and now > last_change + 4.0:
            break
        if now > 120:
            break
        time.sleep(0.05)
    return {"button": button if button is not None else float("nan"), "stopped": last_change,
            "effect": max(button if button is not None else float("nan"), last_change),
            "steps_after": last_step - before}


def refresh_seconds(log: Path, page_stem: str) -> list[float]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        m = re.match(r"\[refresh\] page=(\w+) step=(\d+) playing=(\d) seconds=([\d.]+)", line)
        if m and m.group(1) == page_stem and m.group(3) == "1":
            out.append(float(m.group(4)))
    return out


def nav(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=120_000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warm", type=float, default=3.0, help="seconds of live refreshes before each Pause")
    ap.add_argument("--pages", default=",".join(p[0] for p in PAGES) + "," + ",".join(p[0] for p in STILL))
    ap.add_argument("--label", default=subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                                      capture_output=True, text=True).stdout.strip())
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "bench_pause.txt"))
    args = ap.parse_args()
    wanted = args.pages.split(",")
    os.environ["LSTM_LAB_TIMINGS"] = "1"
    rows = []
    load_start = loadavg()
    with start_server() as url, open_browser() as page:
        log = ARTIFACTS / f"server-{urllib.parse.urlparse(url).port}.log"
        current = None
        sidebar = Sidebar()
        for path, title, settings in PAGES:
            if path not in wanted:
                continue
            if settings is not current:  # a link builds the run (a new session); then the sidebar moves on
                page.goto(f"{url}/{path}?{urllib.parse.urlencode(settings)}")
                page.get_by_role("heading", name=title).first.wait_for(timeout=120_000)
                current = settings
            else:
                nav(page, title)
            try:
                rounds = [one_round(page, sidebar, args.warm) for _ in range(args.rounds)]
            except Exception as e:  # noqa: BLE001 - one page failing still leaves the others' numbers
                print(f"{title}: failed ({type(e).__name__}: {str(e).splitlines()[0]})", flush=True)
                page.screenshot(path=str(ARTIFACTS / f"bench_pause_{path}.png"), full_page=True)
                continue
            render = refresh_seconds(log, path)
            rows.append((title, rounds, render))
            eff = " ".join(f"{x['effect']:.2f}" for x in rounds)
            btn = " ".join(f"{x['button']:.2f}" for x in rounds)
            print(f"{title}: effect {eff} button {btn} "
                  f"render {statistics.median(render) if render else float('nan'):.2f} s ({len(render)} refreshes)"
                  f" load {loadavg()}", flush=True)
        still = []
        for path, title in STILL:
            if path not in wanted:
                continue
            if current is not RECALL:
                page.goto(f"{url}/{path}?{urllib.parse.urlencode(RECALL)}")
                current = RECALL
                page.get_by_role("heading", name=title).first.wait_for(timeout=120_000)
                t0 = time.perf_counter()
            else:
                t0 = time.perf_counter()
                nav(page, title)
            time.sleep(0.5)
            wait_for(lambda: not state(page)["running"], 180, 0.1, f"{title} to finish")
            still.append((title, time.perf_counter() - t0))
            print(f"{title}: opened in {still[-1][1]:.2f} s, load {loadavg()}", flush=True)

    lines = [f"## bench_pause ({args.label}), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             "",
             "Recall lag 1000, LSTM + RNN of 256 units, batch 8 (Text: text task, windows of 1000 characters, same "
             f"models). {args.rounds} rounds per page, medians. Load average at start {load_start}, at end "
             f"{loadavg()} (2 cores).",
             "",
             "| page | Pause took effect (s) | Play button back (s) | last step change (s) | steps shown after the "
             "click | page-process s per live refresh (median, n) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for title, r, render in rows:
        def med(k: str, r=r) -> float:
            return statistics.median(x[k] for x in r)

        rend = f"{statistics.median(render):.2f} ({len(render)})" if render else "–"
        lines.append(f"| {title} | {med('effect'):.2f} (max {max(x['effect'] for x in r):.2f}) | {med('button'):.2f}"
                     f" | {med('stopped'):.2f} | {statistics.median(x['steps_after'] for x in r):.0f} | {rend} |")
    for title, secs in still:
        lines.append(f"| {title} (no Play / Pause: opened by the sidebar) | – | – | – | – | opened in {secs:.2f} s |")
    lines += ["", f"Sidebar while playing: {sidebar.mismatches} of {sidebar.polls} polls (every 0.1 s) named another "
              "step than the page" + (f" (e.g. {sidebar.example})" if sidebar.example else "")
              + f"; {sidebar.lasting} of them still on the next poll."]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()

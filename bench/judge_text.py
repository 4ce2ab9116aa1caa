"""Issue 10's judged comparison, as a new user would run it: the plain char-rnn script and the command line with
its defaults for text, H 256, the same wall-clock budget each, one after the other, on a text file the project
does not ship. Rounds run in the order plain, ours, ours, plain (ABBA), so a machine that gets busier or quieter
during the run does not favour one side.

  plain: python bench/plain_charrnn.py --text-file F --hidden 256 --seconds S   (its defaults: every core)
  ours:  python -m lstm_core train --task text --text-file F --hidden 256 --max-seconds S --out DIR

Each is a fresh process. Reported per round: steps, the held-out bits/char each prints (plain: every window of
its last 10 %; ours: the CLI's fixed held-out windows), ours also scored the plain way on exactly the plain
script's held-out characters (the saved run is loaded back), wall and CPU seconds. Goals (the issue's): bits/char
ours / plain <= 1.05 and steps ours / plain >= 0.9, each on the means over the rounds.

The corpus of the shipped result (bench/results/judged_text.txt) is 1,260,071 bytes of English prose from Debian's
`fortunes` package, which the project does not ship: `cd /usr/share/games/fortunes && cat songs-poems people
science politics work men-women law wisdom literature humorists education sports tao platitudes food love`
(`make judge-text` builds it and runs this).

Run from the repository's root: `python -m bench.judge_text --text-file book.txt [--seconds 120] [--rounds 2]`.
Results: printed, and saved to bench/results/judged_text.txt (--out).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import Report, machine_line, markdown_table

BPC_GOAL, STEPS_GOAL = 1.05, 0.9
ROOT = Path(__file__).resolve().parents[1]


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_side(side: str, a: argparse.Namespace, out: Path) -> dict:
    """One fresh process of `side` ('plain' or 'ours'); its last JSON line, plus wall and CPU seconds."""
    if side == "plain":
        cmd = [sys.executable, "bench/plain_charrnn.py", "--text-file", a.text_file, "--hidden", str(a.hidden),
               "--seconds", str(a.seconds)]
    else:
        cmd = [sys.executable, "-m", "lstm_core", "train", "--task", "text", "--text-file", a.text_file,
               "--hidden", str(a.hidden), "--max-seconds", str(a.seconds), "--out", str(out)]
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # a new user's shell has none
    w0, c0 = time.perf_counter(), children_cpu()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - w0, children_cpu() - c0
    if done.returncode != 0:
        raise SystemExit(f"{side} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(wall=wall, cpu=cpu, load=os.getloadavg()[0])
    if side == "ours":
        result["plain_way"] = ours_plain_way(out, a.text_file)
    return result


def ours_plain_way(folder: Path, text_file: str) -> float:
    """The saved run's model scored as plain_charrnn scores itself (every window of its held-out 10 %)."""
    import torch

    from bench.bench_text import plain_way_bpc
    from lstm_core.runs import load_run

    torch.set_num_threads(1)
    text = Path(text_file).read_text(encoding="utf-8")
    _, task, model, _ = load_run(folder, text)
    return plain_way_bpc(model, task.splits["val"], task.t)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--text-file", required=True, help="a UTF-8 text the project does not ship (1 MB or more)")
    p.add_argument("--seconds", type=float, default=120.0, help="wall-clock training budget of each process")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--rounds", type=int, default=2, help="ABBA pairs: 2 runs plain, ours, ours, plain")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "judged_text.txt"), help="'' = do not save")
    a = p.parse_args(argv)
    a.text_file = str(Path(a.text_file).resolve())
    report = Report()
    say = report.say

    size = Path(a.text_file).stat().st_size
    say("# Issue 10's judged comparison: bench/plain_charrnn.py against `python -m lstm_core train --task text` "
        "with its defaults")
    say(machine_line())
    say(f"corpus: {Path(a.text_file).name}, {size:,} bytes; H {a.hidden}, {a.seconds:g} s of training each, "
        f"order {'plain, ours, ours, plain' if a.rounds == 2 else 'ABBA x ' + str(a.rounds // 2)}\n")
    order = [s for k in range(a.rounds) for s in (("plain", "ours") if k % 2 == 0 else ("ours", "plain"))]
    runs: dict[str, list[dict]] = {"plain": [], "ours": []}
    rows = []
    with tempfile.TemporaryDirectory(prefix="judge-text-") as tmp:
        for n, side in enumerate(order, start=1):
            r = run_side(side, a, Path(tmp) / f"run{n}")
            runs[side].append(r)
            rows.append([str(n), side, f"{r['steps']:,}", f"{r['bits_per_char']:.3f}",
                         f"{r['plain_way']:.3f}" if side == "ours" else "-", f"{r['wall']:.0f}", f"{r['cpu']:.0f}",
                         f"{r['load']:.2f}"])
            print("  ... " + " | ".join(rows[-1]), file=sys.stderr, flush=True)
    say(markdown_table(["#", "run", "steps", "held-out bits/char (its own)", "ours, plain's scoring", "wall s",
                        "CPU s", "load after"], rows))
    mean = {s: {k: statistics.mean(r[k] for r in rs) for k in ("steps", "bits_per_char")} for s, rs in runs.items()}
    pw = statistics.mean(r["plain_way"] for r in runs["ours"])
    bpc_ratio = mean["ours"]["bits_per_char"] / mean["plain"]["bits_per_char"]
    pw_ratio = pw / mean["plain"]["bits_per_char"]
    steps_ratio = mean["ours"]["steps"] / mean["plain"]["steps"]
    ok = max(bpc_ratio, pw_ratio) <= BPC_GOAL and steps_ratio >= STEPS_GOAL
    say(f"\nmeans: plain {mean['plain']['steps']:,.0f} steps, {mean['plain']['bits_per_char']:.3f} bits/char; ours "
        f"{mean['ours']['steps']:,.0f} steps, {mean['ours']['bits_per_char']:.3f} ({pw:.3f} scored the plain way)")
    say(f"bits/char ratio ours / plain: {bpc_ratio:.3f} ({pw_ratio:.3f} the plain way; goal <= {BPC_GOAL}); "
        f"steps ratio: {steps_ratio:.2f} (goal >= {STEPS_GOAL})")
    say("ours' --max-seconds counts training only (its held-out evaluations every 50 steps come on top, as the "
        "wall column shows); plain evaluates once, at the end.")
    report.finish(ok, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

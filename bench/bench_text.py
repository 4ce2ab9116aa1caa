"""Character-level text: speed and held-out bits/char of lstm_core against an independent plain char-rnn loop.

The plain loop is bench/plain_charrnn.py: nn.Embedding(V, 64) -> nn.LSTM -> nn.Linear, its own vocabulary,
split and random windows, PyTorch's default init, Adam 3e-3, clip 1; it shares no code with lstm_core. Ours is
the CLI's path: a Trainer built from `python -m lstm_core train --task text ...`'s own defaults (`run_config`),
stepped by `next_record()` (batch, step, metric, a restore point every 25 steps and a held-out evaluation every
50 steps, all of it timed).

1. Speed grid: H x batch x threads (default 64,128,256 x 32,64 x 1,2), T 100, python-docs. In each cell the
   two loops run in rounds of --steps steps each, the order alternating round by round, both in this process
   with the same torch thread count; steps/s by wall time per round, the ratio ours / plain per round, its
   median. Ours is timed without its held-out evaluations (the plain loop has none; they are timed apart and
   shown as a second ratio and a share). Goal >= 0.9. CPU time per step (process time, all threads) is shown
   next to the wall-clock figures.
2. Held-out bits/char at equal wall time, per corpus (the shipped ones and any --text-file): both loops get
   --seconds of wall time in alternating slices of --slice seconds (ours pays for its evaluations inside its
   budget), at H --hidden with the CLI's text defaults otherwise (batch 64, T 100, Adam 3e-3, clip 1). Then
   each reports its own held-out number (ours: the fixed held-out windows of Text.val_batch; plain: every
   window of its held-out part), and ours is also scored the plain way on exactly the plain loop's characters.
   Goal: ours / plain <= 1.05.

The machine is shared: never compare figures from different runs; the ratios come from one run, interleaved.
Results: printed, and saved to bench/results/bench_text.txt (--out). Run from the repository's root:
`python -m bench.bench_text [--text-file book.txt]`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

import torch
from torch.nn import functional as F

from bench._common import Report, machine_line, markdown_table
from bench.plain_charrnn import PlainLoop
from datasets.corpora import load_corpus
from lstm_core.__main__ import available_cores, build_parser, run_config
from lstm_core.train import Trainer, configure_torch

SPEED_GOAL, BPC_GOAL = 0.9, 1.05
SHIPPED = ("python-docs", "python-source", "reber")
ROOT = Path(__file__).resolve().parents[1]


def our_trainer(source: str, hidden: int, batch: int, seed: int) -> Trainer:
    """A Trainer with the command line's defaults for text (`source`: a shipped corpus or a file path)."""
    where = ["--text-file", source] if os.path.isfile(source) else ["--corpus", source]
    a = build_parser().parse_args(["train", "--task", "text", *where, "--hidden", str(hidden), "--batch", str(batch),
                                   "--seed", str(seed)])
    run = run_config(a)  # steps: the CLI's 2,000 could end (and evaluate at every step after) too soon here
    return Trainer(dataclasses.replace(run, train=run.train.replace(steps=20_000)))


def text_of(source: str) -> str:
    return Path(source).read_text(encoding="utf-8") if os.path.isfile(source) else load_corpus(source)


def timed_evaluation(tr: Trainer) -> list[float]:
    """Make `tr.evaluate` add its wall time to the returned one-element list."""
    spent = [0.0]
    evaluate = tr.evaluate

    def timed():
        t0 = time.perf_counter()
        try:
            return evaluate()
        finally:
            spent[0] += time.perf_counter() - t0

    tr.evaluate = timed
    return spent


def speed_cell(text: str, hidden: int, batch: int, threads: int, a: argparse.Namespace) -> dict:
    torch.set_num_threads(threads)
    tr = our_trainer("python-docs", hidden, batch, a.seed)
    evaluating = timed_evaluation(tr)
    plain = PlainLoop(text, hidden=hidden, batch=batch, seed=a.seed)
    fns = {"ours": tr.next_record, "plain": plain.step}
    for f in fns.values():  # warm-up: first-call allocations, Adam's state
        for _ in range(3):
            f()
    wall = {n: [] for n in fns}
    cpu = {n: [] for n in fns}
    evals = []
    for r in range(a.rounds):
        for name in (["ours", "plain"] if r % 2 == 0 else ["plain", "ours"]):
            w0, c0, e0 = time.perf_counter(), time.process_time(), evaluating[0]
            for _ in range(a.steps):
                fns[name]()
            wall[name].append(time.perf_counter() - w0)
            cpu[name].append(time.process_time() - c0)
            if name == "ours":
                evals.append(evaluating[0] - e0)
    train = [w - e for w, e in zip(wall["ours"], evals, strict=True)]  # ours without its evaluations
    ratios = [p / o for o, p in zip(train, wall["plain"], strict=True)]  # = ours steps/s / plain steps/s
    return {"plain": statistics.median(a.steps / w for w in wall["plain"]),
            "ours": statistics.median(a.steps / w for w in train),
            "ratio": statistics.median(ratios), "lo": min(ratios), "hi": max(ratios),
            "ratio_all": sum(wall["plain"]) / sum(wall["ours"]), "eval_share": sum(evals) / sum(wall["ours"]),
            "cpu_plain": 1e3 * sum(cpu["plain"]) / (a.steps * a.rounds),
            "cpu_ours": 1e3 * sum(cpu["ours"]) / (a.steps * a.rounds)}


@torch.no_grad()
def plain_way_bpc(model: torch.nn.Module, v: torch.Tensor, T: int) -> float:
    """Our model scored as plain_charrnn scores its own: every window of T of the held-out ids `v`, zero state."""
    n = (len(v) - 1) // T
    x, y = v[: n * T].view(n, T), v[1 : n * T + 1].view(n, T)
    was_training = model.training
    model.eval()
    nats = sum(F.cross_entropy(model(x[k : k + 256]).flatten(0, 1), y[k : k + 256].flatten(), reduction="sum").item()
               for k in range(0, n, 256))
    model.train(was_training)
    return nats / (n * T) / math.log(2)


def bpc_run(source: str, a: argparse.Namespace) -> dict:
    torch.set_num_threads(a.threads)
    text = text_of(source)
    tr = our_trainer(source, a.hidden, 64, a.seed)
    plain = PlainLoop(text, hidden=a.hidden, batch=64, seed=a.seed)
    assert plain.vocab == tr.task.input_size and len(plain.val_data) == len(tr.task.splits["val"])
    fns = {"ours": tr.next_record, "plain": plain.step}
    used = {"ours": 0.0, "plain": 0.0}
    cpu = {"ours": 0.0, "plain": 0.0}
    steps = {"ours": 0, "plain": 0}
    r = 0
    while min(used.values()) < a.seconds:
        for name in (["ours", "plain"] if r % 2 == 0 else ["plain", "ours"]):
            spent = 0.0
            while spent < a.slice and used[name] < a.seconds:
                w0, c0 = time.perf_counter(), time.process_time()
                fns[name]()
                dt = time.perf_counter() - w0
                spent += dt
                used[name] += dt
                cpu[name] += time.process_time() - c0
                steps[name] += 1
        r += 1
    _, ours_metric = tr.evaluate()  # what the CLI reports at its last step
    return {"source": source if not os.path.isfile(source) else Path(source).name, "chars": len(text),
            "vocab": plain.vocab, "steps": steps, "used": used, "cpu": cpu, "ours": ours_metric,
            "ours_plain_way": plain_way_bpc(tr.model, tr.task.splits["val"], tr.task.t), "plain": plain.heldout_bpc(),
            "uniform": tr.task.baseline}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hiddens", default="64,128,256", help="speed grid: hidden units")
    p.add_argument("--batches", default="32,64", help="speed grid: batch sizes")
    p.add_argument("--thread-counts", default="1,2", help="speed grid: torch threads (both loops alike)")
    p.add_argument("--rounds", type=int, default=6, help="speed grid: rounds per cell")
    p.add_argument("--steps", type=int, default=25, help="speed grid: steps of each loop per round")
    p.add_argument("--seconds", type=float, default=120.0, help="bits/char: wall-clock budget of each loop")
    p.add_argument("--slice", type=float, default=5.0, help="bits/char: the budgets alternate in slices of this")
    p.add_argument("--hidden", type=int, default=256, help="bits/char: hidden units (the CLI's text example)")
    p.add_argument("--threads", type=int, default=available_cores(), help="bits/char: torch threads of both")
    p.add_argument("--corpora", default=",".join(SHIPPED), help="bits/char: shipped corpora ('' for none)")
    p.add_argument("--text-file", action="append", default=[], help="bits/char: one more corpus (repeatable)")
    p.add_argument("--skip", choices=("speed", "bpc"), default=None, help="leave one part out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a small smoke run: one cell, reber, 10 s")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "bench_text.txt"), help="'' = do not save")
    a = p.parse_args(argv)
    if a.quick:
        a.hiddens, a.batches, a.thread_counts, a.rounds, a.steps = "64", "32", "1", 2, 10
        a.seconds, a.slice, a.corpora, a.text_file, a.hidden = 10.0, 2.0, "reber", [], 64
        if a.out.endswith("bench_text.txt"):
            a.out = a.out.replace("bench_text.txt", "bench_text_quick.txt")
    configure_torch(1)
    report = Report()
    say = report.say

    say("# Character-level text: lstm_core (the CLI's defaults) against bench/plain_charrnn.py")
    say(machine_line() + f"; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")
    ok = True
    if a.skip != "speed":
        text = load_corpus("python-docs")
        say(f"\n## Speed: steps/s, python-docs, T 100, {a.rounds} rounds x {a.steps} steps each, "
            f"alternating; goal ours/plain >= {SPEED_GOAL}\n")
        rows = []
        for threads in map(int, a.thread_counts.split(",")):
            for hidden in map(int, a.hiddens.split(",")):
                for batch in map(int, a.batches.split(",")):
                    with redirect_stdout(sys.stderr):
                        c = speed_cell(text, hidden, batch, threads, a)
                    ok &= c["ratio"] >= SPEED_GOAL
                    rows.append([str(hidden), str(batch), str(threads), f"{c['plain']:.2f}", f"{c['ours']:.2f}",
                                 f"{c['ratio']:.2f}", f"{c['lo']:.2f}-{c['hi']:.2f}",
                                 f"{c['ratio_all']:.2f}", f"{100 * c['eval_share']:.0f} %",
                                 f"{c['cpu_plain']:.0f} / {c['cpu_ours']:.0f}",
                                 "yes" if c["ratio"] >= SPEED_GOAL else "NO"])
                    print("  ... " + " | ".join(rows[-1]), file=sys.stderr, flush=True)
        say(markdown_table(["H", "batch", "threads", "plain steps/s", "ours steps/s", "ratio", "range",
                            "ratio incl. evaluation", "evaluation share", "CPU ms/step plain / ours",
                            f">= {SPEED_GOAL}"], rows))
        say("\nratio: ours / plain training steps/s, median of the rounds (range: lowest-highest round); ours = "
            "next_record() (batch, step, metric, restore points) with its held-out evaluations' time taken out, as "
            "the plain loop has none. 'incl. evaluation': with them (256 windows every 50 steps; the app and the "
            "CLI evaluate so; the CLI's --max-seconds clock leaves them out). CPU: process time, all threads.")
    if a.skip != "bpc":
        sources = [c for c in a.corpora.split(",") if c] + a.text_file
        say(f"\n## Held-out bits/char at equal wall time: {a.seconds:g} s each in {a.slice:g} s slices, H {a.hidden}, "
            f"batch 64, T 100, {a.threads} thread(s); goal ours/plain <= {BPC_GOAL}\n")
        rows = []
        for src in sources:
            with redirect_stdout(sys.stderr):
                r = bpc_run(src, a)
            ratio, ratio_pw = r["ours"] / r["plain"], r["ours_plain_way"] / r["plain"]
            ok &= max(ratio, ratio_pw) <= BPC_GOAL
            s = r["steps"]
            rows.append([r["source"], f"{r['chars']:,}", str(r["vocab"]), f"{s['plain']:,} / {s['ours']:,}",
                         f"{s['ours'] / s['plain']:.2f}",
                         f"{r['cpu']['plain']:.0f} / {r['cpu']['ours']:.0f}", f"{r['plain']:.3f}", f"{r['ours']:.3f}",
                         f"{r['ours_plain_way']:.3f}", f"{ratio:.3f}", f"{ratio_pw:.3f}", f"{r['uniform']:.2f}",
                         "yes" if max(ratio, ratio_pw) <= BPC_GOAL else "NO"])
            print("  ... " + " | ".join(rows[-1]), file=sys.stderr, flush=True)
        say(markdown_table(["corpus", "chars", "V", "steps plain / ours", "steps ratio", "CPU s plain / ours",
                            "plain bpc", "ours bpc", "ours bpc, plain's scoring", "ratio", "ratio, plain's scoring",
                            "uniform", f"<= {BPC_GOAL}"], rows))
        say("\nours bpc: the held-out number the CLI reports (Text.val_batch: up to 256 fixed windows of the held-out "
            "10 %); plain's scoring: every window of the held-out 10 %, as plain_charrnn scores itself.")
    report.finish(ok, a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

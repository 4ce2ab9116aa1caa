"""Measure the text lesson: LSTM vs vanilla RNN vs GRU on characters, at equal steps and at equal seconds
(`make measure-text`), into datasets/measured/text_lesson.csv, which the Home and Text pages read.

Every run has the text lesson's settings (datasets/lessons.py: T 100, 128 units, batch 32, 1,500 steps) and the
command line's defaults otherwise (Adam 3e-3, clip 1, gate init auto, held-out evaluation every 50 steps on the
fixed held-out windows), one torch thread, for each corpus x model x seed. Models of one seed see identical
batches. One row per evaluation: the step, the training time so far (this thread's CPU seconds, robust to the
other load on a shared machine; evaluation excluded) and the held-out bits/char. Equal steps compare rows of one
step; equal seconds interpolate each run's curve at a common time (narrate.text_lesson_sentences).

Runs already in the file are kept and skipped, so an interrupted measurement resumes where it stopped. It lives in
bench/ (not datasets/, which imports nothing from lstm_core) and is not a benchmark: run_all picks up only
bench_*.py.
Usage: python -m bench.measure_text_lesson [--corpora python-docs,python-source] [--seeds 0,1,2] [--steps 1500]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from datasets.lessons import LESSONS
from datasets.measured import ROOT

OUT = ROOT / "text_lesson.csv"
FIELDS = ("corpus", "model", "seed", "step", "seconds", "bits_per_char")


def lesson_args(steps: int) -> list[str]:
    """The text lesson's command-line arguments, without its corpus, seed and step budget."""
    args, out, skip = list(LESSONS["text"].args), [], {"--corpus", "--seed", "--steps"}
    for k in range(0, len(args), 2):
        if args[k] not in skip:
            out += args[k : k + 2]
    return out + ["--steps", str(steps)]


def done_runs(path: Path) -> set[tuple[str, str, int]]:
    if not path.is_file():
        return set()
    with open(path, newline="", encoding="utf-8") as f:
        return {(r["corpus"], r["model"], int(r["seed"])) for r in csv.DictReader(f)}


def measure(corpus: str, model: str, seed: int, steps: int) -> list[dict]:
    from lstm_core.__main__ import build_parser, run_config
    from lstm_core.train import Trainer, configure_torch

    configure_torch(1)
    a = build_parser().parse_args(["train", *lesson_args(steps), "--corpus", corpus, "--model", model,
                                   "--seed", str(seed), "--clock", "cpu"])
    tr = Trainer(run_config(a))
    rows = [{"corpus": corpus, "model": model, "seed": seed, "step": 0, "seconds": 0.0,
             "bits_per_char": round(tr.evaluate()[1], 4)}]
    for rec in tr.steps():
        if rec.val_metric is not None:
            rows.append({"corpus": corpus, "model": model, "seed": seed, "step": rec.step,
                         "seconds": round(rec.seconds, 3), "bits_per_char": round(rec.val_metric, 4)})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpora", default="python-docs,python-source")
    p.add_argument("--models", default="lstm,rnn,gru")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--out", default=str(OUT))
    a = p.parse_args(argv)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    have = done_runs(out)
    new_file = not out.is_file()
    with open(out, "a", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, FIELDS)
        if new_file:
            w.writeheader()
        for corpus in a.corpora.split(","):
            for seed in map(int, a.seeds.split(",")):
                for model in a.models.split(","):
                    if (corpus, model, seed) in have:
                        continue
                    t0 = time.perf_counter()
                    rows = measure(corpus, model, seed, a.steps)
                    w.writerows(rows)
                    f.flush()
                    last = rows[-1]
                    print(f"{corpus} {model} seed {seed}: {last['bits_per_char']:.3f} bits/char at step "
                          f"{last['step']}, "
                          f"{last['seconds']:.0f} s CPU ({time.perf_counter() - t0:.0f} s wall)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

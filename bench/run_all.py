"""Run every benchmark script in bench/ one after the other and keep their tables in bench/results/<name>.txt.

Runs bench_trainer.py, bench_trace.py and bench_text.py first (the text budget comes from the environment
variable BENCH_TEXT_SECONDS, default 120 s per model), then any other bench/bench_*.py. Scripts run one at a
time (never in parallel: they measure speed) in a fresh interpreter with one torch thread. Everything is also
printed. Exits with status 1 if any script crashes, after running the rest.

--quick runs the three known scripts with small settings (a smoke test of a couple of minutes, not figures).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
KNOWN = ("bench_trainer", "bench_trace", "bench_text")
QUICK = {"bench_trainer": ["--rounds", "2", "--steps", "5", "--warmup", "1"],
         "bench_trace": ["--rounds", "2"],
         "bench_text": ["--quick"],
         "bench_limits": ["--quick", "--min-seconds", "0.2"],
         "bench_batched": ["--sizes", "small", "--ks", "2,4", "--rounds", "2", "--min-seconds", "0.1"],
         "bench_cells": ["--rounds", "2", "--steps", "3", "--warmup", "1"],
         "bench_pause": ["--rounds", "1", "--warm", "1"]}


def scripts() -> list[str]:
    others = sorted(p.stem for p in BENCH.glob("bench_*.py") if p.stem not in KNOWN)
    return [s for s in KNOWN if (BENCH / f"{s}.py").exists()] + others


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="comma-separated script names (without .py) to run")
    p.add_argument("--quick", action="store_true", help="small settings: checks the scripts run, not the figures")
    a = p.parse_args(argv)
    names = scripts()
    if a.only:
        wanted = [s.strip().removesuffix(".py") for s in a.only.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in names]
        if unknown:
            print(f"unknown benchmark {unknown[0]!r}; available: {', '.join(names)}", file=sys.stderr)
            return 2
        names = wanted
    RESULTS.mkdir(exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    text_seconds = os.environ.get("BENCH_TEXT_SECONDS", "120")
    failed = []
    for name in names:
        args = list(QUICK.get(name, [])) if a.quick else []
        if name == "bench_text" and not a.quick:
            args += ["--seconds", text_seconds]
        cmd = [sys.executable, "-m", f"bench.{name}", *args]
        print(f"\n===== {name} {' '.join(args)}".rstrip(), flush=True)
        t0 = time.perf_counter()
        lines = []
        with tempfile.TemporaryFile("w+", encoding="utf-8") as err:
            pipe = subprocess.PIPE
            with subprocess.Popen(cmd, cwd=BENCH.parent, env=env, stdout=pipe, stderr=err, text=True) as proc:
                for line in proc.stdout:  # stream: a long benchmark shows its tables as they come
                    print(line, end="", flush=True)
                    lines.append(line)
            err.seek(0)
            stderr = err.read()
        took = time.perf_counter() - t0
        out = "".join(lines)
        if proc.returncode != 0:
            failed.append(name)
            tail = f"\n[{name} exited with status {proc.returncode}]\n{stderr}"
            print(tail, end="")
            out += tail
        print(f"----- {name}: {took:.0f} s, status {proc.returncode}", flush=True)
        suffix = "_quick" if a.quick else ""
        (RESULTS / f"{name}{suffix}.txt").write_text(out, encoding="utf-8")
    if failed:
        print(f"\nFAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"\nall {len(names)} benchmark(s) ran; tables in {RESULTS.relative_to(BENCH.parent)}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Make the pretrained lessons shipped in datasets/pretrained, through the command line (`make pretrained`).

Each lesson's models are trained by `python -m lstm_core train` with the same seed, so they see identical
batches, and save weight snapshots during training for the learner to scrub through.
Usage: python -m datasets.make_pretrained [LESSON ...]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

from .lessons import LESSONS, folder


def make(name: str) -> None:
    les = LESSONS[name]
    for cell in les.cells:
        out = folder(name, cell)
        if out.exists():
            shutil.rmtree(out)
        cmd = [sys.executable, "-m", "lstm_core", "train", *les.args, "--model", cell,
               "--snapshot-every", str(les.snapshot_every), "--out", str(out)]
        t0 = time.time()
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        print(f"{name}/{cell}: {done.stdout.strip().splitlines()[-1]} ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    for lesson in sys.argv[1:] or list(LESSONS):
        if lesson not in LESSONS:
            sys.exit(f"error: unknown lesson {lesson!r}; allowed: {', '.join(LESSONS)}")
        make(lesson)

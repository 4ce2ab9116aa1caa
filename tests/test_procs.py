"""bench/procs.py: a process tree's CPU and memory from /proc, and finding a worker child to kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from bench import procs
from tests.browser_util import wait_for

# a parent that starts a child which burns about 0.3 s of CPU, then both sleep; the child names lstm_core.pool
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import time\\nt = time.process_time()\\nwhile time.process_time() - t < 0.3: pass\\ntime.sleep(60)",
    "lstm_core.pool.worker"])
print(child.pid, flush=True)
time.sleep(60)
"""


def test_tree_cpu_keeps_a_killed_child_and_finds_the_worker():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        sampler = procs.Sampler(parent.pid, every=0.1)
        sampler.start()
        wait_for(lambda: sampler.server.cpu_total[-1] >= 0.25, 30, 0.1, "the child's CPU in the parent's tree")
        assert sampler.workers("lstm_core.pool") == [child]
        assert max(sampler.server.count) == 2
        assert sampler.server.rss_sum[-1] > sampler.server.rss_root[-1] > 0
        before = sampler.server.cpu_total[-1]
        os.kill(child, signal.SIGKILL)
        wait_for(lambda: not sampler.workers("lstm_core.pool"), 10, 0.1, "the killed child to go")
        time.sleep(0.3)
        sampler.stop()
        assert sampler.server.cpu_total[-1] >= before  # a killed child keeps the CPU it had used
        assert sampler.server.count[-1] == 1
        assert procs.cores(parent.pid) != "?"
        assert sampler.client.count[-1] >= 1  # this process; the parent's tree is left out of the clients
        assert parent.pid not in {p.pid for p in procs.tree(os.getpid(), procs.all_procs(), exclude=parent.pid)}
    finally:
        parent.kill()
        parent.wait(10)

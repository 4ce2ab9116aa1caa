"""What processes cost, read from /proc (psutil is not in the venv): CPU seconds and memory of a process and all
its descendants, sampled in a background thread, so a benchmark can say what a server and its worker processes
did with the cores they had, and what the test's own clients cost.

CPU seconds are utime + stime per process, kept per (pid, start time): a child that exits or is killed keeps the
CPU it had at the last sample (at most one sampling interval is lost; the parent's cutime is not used, so nothing
is counted twice). Memory is VmRSS per process and, for all of them together, also the sum of Pss (shared pages
divided among the processes sharing them: forked workers share much of their parent's memory, which a sum of
RSS counts once per process), read every few samples because it is the expensive part.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    start: int  # clock ticks after boot: with the pid, names one process even if the pid is reused
    cpu: float  # seconds, user + system
    state: str  # R, S, D, Z (a zombie: exited, not yet reaped by its parent), ...


def _stat(pid: int) -> Proc | None:
    try:
        s = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return Proc(pid, int(rest[1]), int(rest[19]), (int(rest[11]) + int(rest[12])) / TICK, rest[0])


def all_procs() -> dict[int, Proc]:
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit() and (p := _stat(int(d))) is not None:
            out[p.pid] = p
    return out


def tree(root: int, procs: dict[int, Proc], exclude: int | None = None) -> list[Proc]:
    """`root` and all its descendants, leaving out `exclude` and everything below it."""
    children: dict[int, list[int]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p.pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid == exclude or pid not in procs:
            continue
        out.append(procs[pid])
        todo.extend(children.get(pid, ()))
    return out


def status(pid: int, *fields: str) -> dict[str, str]:
    """Fields of /proc/PID/status, e.g. status(pid, "VmRSS", "Cpus_allowed_list")."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            k, _, v = line.partition(":")
            if k in fields:
                out[k] = v.strip()
    except OSError:
        pass
    return out


def rss_mb(pid: int) -> float:
    v = status(pid, "VmRSS").get("VmRSS")
    return int(v.split()[0]) / 1024 if v else 0.0


def pss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def cores(pid: int) -> str:
    """The CPUs the process may run on (what taskset set), e.g. "0-1"."""
    return status(pid, "Cpus_allowed_list").get("Cpus_allowed_list", "?")


def server_pid(port: int) -> int:
    """The pid of the `streamlit run` process serving `port`."""
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
class Group:
    """CPU and memory of one group of processes over time (all times in seconds of time.perf_counter())."""

    cpu: dict[tuple[int, int], float] = field(default_factory=dict)  # (pid, start) -> last CPU seconds seen
    t: list[float] = field(default_factory=list)
    cpu_total: list[float] = field(default_factory=list)
    rss_root: list[float] = field(default_factory=list)  # MB, the group's root process
    rss_sum: list[float] = field(default_factory=list)  # MB, all processes of the group together
    pss_sum: list[float] = field(default_factory=list)  # every few samples (NaN between)
    count: list[int] = field(default_factory=list)  # processes in the group

    def add(self, t: float, procs: list[Proc], root: int, pss: bool) -> None:
        for p in procs:
            self.cpu[(p.pid, p.start)] = p.cpu
        self.t.append(t)
        self.cpu_total.append(sum(self.cpu.values()))
        live = [p for p in procs if p.state != "Z"]  # a zombie holds no memory; its CPU is counted above
        self.count.append(len(live))
        self.rss_root.append(rss_mb(root))
        self.rss_sum.append(sum(rss_mb(p.pid) for p in live))
        # Pss costs the kernel a walk of every mapping (about 13 ms for a 400 MB torch process): not every time
        self.pss_sum.append(sum(pss_mb(p.pid) for p in live) if pss else math.nan)

    def peak(self, series: str, t0: float = 0.0, t1: float = float("inf")) -> float:
        xs = [v for t, v in zip(self.t, getattr(self, series)) if t0 <= t <= t1 and not math.isnan(v)]
        return max(xs, default=0.0)


class Sampler(threading.Thread):
    """Every `every` seconds: the server (`server` pid and its descendants) and the clients (this process and its
    descendants other than the server's tree: the test's browsers, or nothing else for the light client)."""

    def __init__(self, server: int, every: float = 1.0, pss_every: int = 5):
        super().__init__(name="procs-sampler", daemon=True)
        self.server_root, self.every, self.pss_every = server, every, pss_every
        self.server, self.client = Group(), Group()
        self.me = os.getpid()
        self.own_cpu = 0.0  # CPU seconds this sampling thread itself used
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self.sample()

    def sample(self) -> tuple[float, float, float]:
        """Take a sample now: (time, server CPU seconds so far, client CPU seconds so far)."""
        with self._lock:
            procs = all_procs()
            t = time.perf_counter()
            pss = len(self.server.t) % self.pss_every == 0
            self.server.add(t, tree(self.server_root, procs), self.server_root, pss)
            self.client.add(t, tree(self.me, procs, exclude=self.server_root), self.me, pss=False)
            return t, self.server.cpu_total[-1], self.client.cpu_total[-1]

    def run(self) -> None:
        c0 = time.thread_time()
        while not self._halt.wait(self.every):
            self.sample()
            self.own_cpu = time.thread_time() - c0

    def stop(self) -> None:
        self._halt.set()
        self.join(10)
        self.sample()

    def workers(self, needle: str) -> list[int]:
        """Descendants of the server whose command line contains `needle`."""
        procs = all_procs()
        return [p.pid for p in tree(self.server_root, procs)
                if p.pid != self.server_root and p.state != "Z" and needle in cmdline(p.pid)]

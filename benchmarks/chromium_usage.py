"""The Chromium process tree under this benchmark, as /proc sees it: its processes, their
CPU (sampled) and the renderer and GPU processes' memory; and a new tab left to settle
before a visit starts."""

from __future__ import annotations

import os
import statistics
import threading
import time
from pathlib import Path

from playwright.sync_api import BrowserContext, Page

BIN_S, BUSY_SHARE = 0.2, 0.2
"""CPU is judged in bins of BIN_S; a bin is busy above BUSY_SHARE of one core."""
SETTLE_S = 0.6
"""Quiet before a visit starts: see :func:`settle`."""


def chromium_pids() -> list[int]:
    """Chromium processes below this one (through Playwright's driver)."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        parents[int(entry)], names[int(entry)] = int(rest[1]), name
    mine, out = os.getpid(), []
    for pid in parents:
        p = pid
        while p > 1 and p != mine:
            p = parents.get(p, 1)
        if p == mine and "chrom" in names[pid]:
            out.append(pid)
    return out


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime


def renderer_gpu_mb(fields: tuple[str, ...] = ("Pss",)) -> float:
    """The renderer and GPU processes' ``fields`` of ``smaps_rollup``, summed (MB)."""
    total = 0
    for pid in chromium_pids():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"--type=renderer" not in cmdline and b"--type=gpu-process" not in cmdline:
                continue
            if b"--top-chrome-webui" in cmdline:  # the browser's own UI, not the page's
                continue
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                name, _, value = line.partition(":")
                if name in fields:
                    total += int(value.split()[0])
        except OSError:
            continue
    return total / 1024


class CpuMonitor:
    """Samples the Chromium tree's CPU every 100 ms: [(epoch s, share of one core)], and its
    renderer+GPU memory every 0.5 s: [(epoch s, MB)]."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self.memory: list[tuple[float, float]] = []
        self.stop = threading.Event()
        self.hz = os.sysconf("SC_CLK_TCK")
        threading.Thread(target=self.run, daemon=True).start()

    def run(self) -> None:
        last: dict[int, int] = {}
        t_last = time.time()
        while not self.stop.wait(0.1):
            now, ticks = time.time(), {pid: cpu_ticks(pid) for pid in chromium_pids()}
            used = sum(max(0, t - last.get(pid, 0)) for pid, t in ticks.items())
            last = ticks
            self.samples.append((now, used / self.hz / (now - t_last)))
            t_last = now
            if len(self.samples) % 5 == 0:
                self.memory.append((now, renderer_gpu_mb()))

    def peak_mb(self, since: float) -> float:
        """The most renderer+GPU memory sampled since ``since`` (epoch s)."""
        return max((mb for t, mb in self.memory if t >= since), default=0.0)

    def busy_bins(self, since: float) -> list[float]:
        """End times of the ``BIN_S`` bins since ``since`` above ``BUSY_SHARE`` of a core."""
        bins: dict[int, list[float]] = {}
        for t, share in self.samples:
            if t >= since:
                bins.setdefault(int((t - since) / BIN_S), []).append(share)
        return [since + (b + 1) * BIN_S for b, v in sorted(bins.items())
                if statistics.mean(v) > BUSY_SHARE]


def settle(page: Page, monitor: CpuMonitor, timeout_s: float = 10.0) -> None:
    """``about:blank`` in ``page``, then wait until Chromium is quiet for ``SETTLE_S``.

    A new window makes Chromium load its own UI (the omnibox popup, a WebUI renderer of
    ~400 scripts: 0.6–0.7 s of CPU, more under load). A visitor's browser has its window
    open before they follow a link, so the visit starts once that is done, as theirs does;
    navigating at once put that CPU inside the first second of either viewer's start."""
    page.goto("about:blank")
    start = time.time()
    while time.time() - start < timeout_s:
        page.wait_for_timeout(100)
        busy = monitor.busy_bins(start)
        if time.time() - max([start, *busy[-1:]]) >= SETTLE_S:
            return


def settled_tab(context: BrowserContext) -> Page:
    """A new tab of ``context``, settled on ``about:blank`` (see :func:`settle`)."""
    monitor = CpuMonitor()
    try:
        page = context.new_page()
        settle(page, monitor)
        return page
    finally:
        monitor.stop.set()

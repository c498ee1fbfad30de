"""Peak memory of a process and all its descendants (worker processes included), sampled from /proc.

getrusage only sees a process and the children it waited for, and a worker forked from a fork server is no
child of the process being measured. Summing the tree's PSS (proportional set size: a page shared by forked
processes counts once in all, not once in each) every 50 ms gives the memory the whole build holds at once.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def _kilobytes(pid: int) -> int:
    """A process's PSS (its RSS where the kernel gives no smaps_rollup), in kB."""
    for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
        try:
            for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
                if line.startswith(key):
                    return int(line.split()[1])
        except OSError:
            continue
    return 0


def tree_rss_mb(pid: int) -> float:
    """The memory of `pid` and every descendant, in MB."""
    tree, total, todo = _children(), 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(tree.get(current, []))
        total += _kilobytes(current)
    return total / 1024


class PeakSampler:
    """Samples the tree's RSS in a thread until stopped; `peak_mb` is the highest sum seen."""

    def __init__(self, pid: int | None = None, interval: float = 0.05) -> None:
        self.pid = pid or os.getpid()
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, tree_rss_mb(self.pid))
            time.sleep(self.interval)

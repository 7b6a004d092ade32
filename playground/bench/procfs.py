"""A server's memory from /proc (Linux): the RSS of a process tree, the process behind a local port, and a
sampler that records the RSS every second. Used by the load test; no gradio here."""

from __future__ import annotations

import threading
import urllib.parse
from pathlib import Path


def rss_mb(pid: int, field: str = "VmRSS") -> float | None:
    """The resident memory (MB) of process ``pid`` and all its descendants, from /proc: ``field`` "VmRSS"
    (/proc/PID/status; pages a forked child still shares with its parent count in both) or "Pss"
    (/proc/PID/smaps_rollup; shared pages split between their users, so the sum is the tree's real
    footprint). None when the process is gone or /proc cannot be read (not Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    source = "status" if field == "VmRSS" else "smaps_rollup"
    total_kb, todo, found = 0, [pid], False
    while todo:
        p = todo.pop()
        try:
            line = next(x for x in Path(f"/proc/{p}/{source}").read_text().splitlines() if x.startswith(f"{field}:"))
            total_kb += int(line.split()[1])
            found = True
        except (OSError, StopIteration, ValueError):
            pass
        todo.extend(children.get(p, []))
    return round(total_kb / 1024, 1) if found else None


def listening_pid(port: int) -> int | None:
    """The pid of this user's process listening on TCP ``port`` on this machine (from /proc), or None."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{cols[9]}]")
    for fd in Path("/proc").glob("[0-9]*/fd/*") if inodes else ():
        try:
            if str(fd.readlink()) in inodes:
                return int(fd.parent.parent.name)
        except OSError:
            continue
    return None


def local_pid(url: str) -> int | None:
    """The pid of the server of ``url`` when it listens on this machine (``listening_pid``), else None."""
    parsed = urllib.parse.urlparse(url)
    if parsed.hostname not in ("127.0.0.1", "localhost", "0.0.0.0", "::1"):
        return None
    return listening_pid(parsed.port or (443 if parsed.scheme == "https" else 80))


class RssSampler:
    """``values`` and ``pss_values``: ``rss_mb(pid)`` and its "Pss" every second from ``thread.start()`` until
    ``halt`` is set (nothing for pid None)."""

    def __init__(self, pid: int | None) -> None:
        self.pid, self.values, self.pss_values, self.halt = pid, [], [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while self.pid is not None and not self.halt.is_set():
            value, pss = rss_mb(self.pid), rss_mb(self.pid, "Pss")
            if value is not None:
                self.values.append(value)
            if pss is not None:
                self.pss_values.append(pss)
            self.halt.wait(1.0)

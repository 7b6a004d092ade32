"""Per-browser-session objects that ``gr.State`` cannot carry: stop flags for training,
and the dataset a session chose (read by every tab's training run).

A ``gr.State`` value reaches a handler only when that handler's event runs, so a Stop
click cannot reach the flag a running training loop is polling through State alone. The
registry holds those flags, keyed by ``gr.Request.session_hash`` (one per browser tab
or ``gradio_client.Client``), and ``release`` frees a session's entries when the page
unloads. One registry is made per app (``build_demo``), never a module global.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class SessionRegistry:
    """Thread-safe ``(session_hash, key) -> threading.Event`` store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flags: dict[tuple[str, str], threading.Event] = {}

    def start(self, session: str, key: str) -> threading.Event:
        """A fresh, cleared flag for a run of ``key`` in ``session``.

        Raises:
            ValueError: a run of ``key`` in this session is still going (its flag is
                registered and not set): one run at a time per session.
        """
        with self._lock:
            running = self._flags.get((session, key))
            if running is not None and not running.is_set():
                raise ValueError("this session is already training: press Stop, or wait for it to finish")
            flag = self._flags[(session, key)] = threading.Event()
        return flag

    def finish(self, session: str, key: str, flag: threading.Event) -> None:
        """Forget ``flag`` when its run ends (unless a newer run replaced it)."""
        with self._lock:
            if self._flags.get((session, key)) is flag:
                del self._flags[(session, key)]

    def set_flag(self, session: str, key: str) -> bool:
        """Set the flag of a running run; returns whether one was running."""
        with self._lock:
            flag = self._flags.get((session, key))
        if flag is None:
            return False
        flag.set()
        return True

    def release(self, session: str) -> None:
        """Set and forget every flag of ``session`` (its page was closed): a training run
        still going for a closed page stops at its next step."""
        with self._lock:
            mine = [k for k in self._flags if k[0] == session]
            flags = [self._flags.pop(k) for k in mine]
        for flag in flags:
            flag.set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._flags)


class DatasetRegistry:
    """Thread-safe ``session_hash -> dataset`` store: the images a session chose in the
    "Your data" panel, which every image family of that session then trains on.

    At most ``max_sessions`` datasets are kept (each up to ~30 MB as float32 tensors);
    the least recently used is dropped first, and ``get`` then returns None (the
    bundled digits), so one class's uploads cannot exhaust a Space's memory.
    """

    def __init__(self, max_sessions: int = 12) -> None:
        self._lock = threading.Lock()
        self._data: OrderedDict[str, Any] = OrderedDict()
        self.max_sessions = max_sessions

    def set(self, session: str, data: Any) -> None:
        """Make ``data`` (None: the bundled digits) the dataset of ``session``."""
        with self._lock:
            self._data.pop(session, None)
            if data is not None:
                self._data[session] = data
                while len(self._data) > self.max_sessions:
                    self._data.popitem(last=False)

    def get(self, session: str) -> Any:
        """The dataset of ``session``, or None when it has not chosen one (or it was dropped)."""
        with self._lock:
            data = self._data.get(session)
            if data is not None:
                self._data.move_to_end(session)
            return data

    def release(self, session: str) -> None:
        """Forget the dataset of ``session`` (its page was closed)."""
        with self._lock:
            self._data.pop(session, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

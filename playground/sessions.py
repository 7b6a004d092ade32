"""Per-browser-session objects that ``gr.State`` cannot carry: stop flags for training.

A ``gr.State`` value reaches a handler only when that handler's event runs, so a Stop
click cannot reach the flag a running training loop is polling through State alone. The
registry holds those flags, keyed by ``gr.Request.session_hash`` (one per browser tab
or ``gradio_client.Client``), and ``release`` frees a session's entries when the page
unloads. One registry is made per app (``build_demo``), never a module global.
"""

from __future__ import annotations

import threading


class SessionRegistry:
    """Thread-safe ``(session_hash, key) -> threading.Event`` store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flags: dict[tuple[str, str], threading.Event] = {}

    def new_flag(self, session: str, key: str) -> threading.Event:
        """A fresh, cleared flag for ``key`` in ``session``, replacing any older one."""
        flag = threading.Event()
        with self._lock:
            self._flags[(session, key)] = flag
        return flag

    def set_flag(self, session: str, key: str) -> bool:
        """Set the flag if it exists; returns whether there was one to set."""
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

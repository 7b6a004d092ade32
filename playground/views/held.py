"""What sessions may keep in the server's memory: their own models are put away when idle or when memory is short.

A class of 30 on one Space each train and load models; every model a session trained,
loaded or uploaded stays in that browser tab's state until the tab closes. ``HeldModels``
keeps that bounded: a session's own models (not the bundled ones, which all sessions
share) are put away, and the bundled ones put back,

- when the session has not used a tab for ``idle_s`` seconds (``PLAYGROUND_IDLE_S``,
  default 1800 s = 30 min), or
- when all sessions' own models together pass ``budget_mb`` (``PLAYGROUND_MODELS_MB``,
  default 1024 MB): the least recently used sessions' first.

The next time that session uses the tab it is told so, once (``Context.notify``, a
warning in the UI): its models can be trained again, or downloaded before leaving. A
model's size is its parameters and buffers (float32: 4 bytes a number).
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

from playground.core import worker
from playground.core.settings import env_number
from playground.core.training import max_train_seconds

IDLE_ENV, BUDGET_ENV = "PLAYGROUND_IDLE_S", "PLAYGROUND_MODELS_MB"
IDLE_S, BUDGET_MB = 1800.0, 1024.0
SWEEP_EVERY_S = 10.0  # sessions are checked at most this often (on a tab's use)


def _env_number(name: str, default: float, low: float) -> float:
    """A number >= ``low`` from environment variable ``name`` (unset: ``default``).

    Raises:
        ValueError: set but not such a number (the message names the variable).
    """
    value = env_number(name, valid=lambda v: v >= low, must=f"a number >= {low:g} (or unset for {default:g})")
    return default if value is None else value


def model_bytes(model: Any) -> int:
    """Bytes of ``model``'s parameters and buffers (0 for anything that is not a torch module)."""
    tensors = [*model.parameters(), *model.buffers()] if hasattr(model, "parameters") else []
    return sum(t.numel() * t.element_size() for t in tensors)


class HeldModels:
    """Session -> (family views, last use) for every session a tab has seen (weakly: a closed tab's session is forgotten).

    Thread-safe. One per app (``Context.held``).

    Args:
        idle_s: seconds without use after which a session's own models are put away (default ``PLAYGROUND_IDLE_S``).
        budget_mb: MB that all sessions' own models may hold together (default ``PLAYGROUND_MODELS_MB``).

    Raises:
        ValueError: a bad ``PLAYGROUND_IDLE_S`` (>= 60) or ``PLAYGROUND_MODELS_MB`` (>= 16).
    """

    def __init__(self, idle_s: float | None = None, budget_mb: float | None = None):
        self.idle_s = idle_s if idle_s is not None else _env_number(IDLE_ENV, IDLE_S, 60.0)
        self.budget_mb = budget_mb if budget_mb is not None else _env_number(BUDGET_ENV, BUDGET_MB, 16.0)
        self._lock = threading.Lock()
        self._seen: weakref.WeakKeyDictionary[Any, tuple[Any, float]] = weakref.WeakKeyDictionary()
        self._swept = 0.0

    def touch(self, session: Any, views: Any) -> str | None:
        """``session`` (of tab ``views``, a ``FamilyViews``) is being used now: record it, put away what has
        to go, and return this session's notice (once) if its own models were put away since its last use."""
        now = time.monotonic()
        with self._lock:
            self._seen[session] = (views, now)
            if now - self._swept >= SWEEP_EVERY_S:
                self._swept = now
                self._sweep(now)
        return session.__dict__.pop("put_away", None)

    def sweep(self) -> None:
        """Put away now what has to go (``touch`` does this at most every ``SWEEP_EVERY_S``)."""
        with self._lock:
            self._sweep(time.monotonic())

    def held_mb(self) -> float:
        """MB of the sessions' own models in memory now."""
        with self._lock:
            return sum(_own_bytes(s, v) for s, (v, _) in list(self._seen.items())) / 2**20

    def _sweep(self, now: float) -> None:
        """(lock held) Idle sessions first, then the least recently used until under the budget."""
        entries = sorted(((last, s, v) for s, (v, last) in list(self._seen.items())), key=lambda e: e[0])
        sizes = {id(s): _own_bytes(s, v) for _, s, v in entries}
        total = sum(sizes.values())
        for last, session, views in entries:
            size = sizes[id(session)]
            if not size:
                continue
            idle = now - last >= self.idle_s
            if not idle and total <= self.budget_mb * 2**20:
                continue
            names = ", ".join(view.name for view in _own_views(session, views))
            views.restore(session)
            total -= size
            why = (
                f"after {self.idle_s / 60:g} min without use" if idle
                else f"because this server's memory for visitors' models ({self.budget_mb:g} MB) was full"
            )
            session.put_away = (
                f"Your model ({names}) was put away {why}, and the bundled one is back. "
                "Train or load it again; download a model you want to keep (the model bar's Download)."
            )


def _own_views(session: Any, views: Any) -> list:
    """The views in ``session`` that are not the tab's bundled ones."""
    bundled = {id(v) for v in getattr(views, "_bundled", {}).values()}
    return [v for v in getattr(session, "views", {}).values() if id(v) not in bundled]


def _own_bytes(session: Any, views: Any) -> int:
    return sum(model_bytes(getattr(v, "model", None)) for v in _own_views(session, views))


def server_limits(ctx: Any) -> str:
    """Markdown: what this server allows each visitor (for the app's About box): trainings at once, the line, the
    worker process, the time cap, and when visitors' own models are put away. ``ctx`` is the app's ``Context``."""
    queue, held = ctx.trainings, ctx.held
    cap = max_train_seconds()
    where = ", in its own low-priority process" if worker.enabled(ctx.device) else ""
    return (
        f"**This server** trains {queue.max_running} model{'s' if queue.max_running > 1 else ''} at a time{where}"
        + (f", {cap:g} s at most" if cap else "")
        + f"; the others wait in line, told their place. Your own models are put away after {held.idle_s / 60:g} min unused."
    )

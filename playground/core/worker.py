"""Training runs in a worker process, so that they cannot slow the light calls of a class.

On a 2-core Space, a training run in the app's own process shares its cores and its GIL
with every slider of every visitor: measured with 30 sessions and two trainings, light
calls took p95 5.7 s. ``stream`` runs a generator (a view's training run) in a child
process forked from the app, at a lower OS priority (``NICE``) and with one thread, and
passes each value it yields back through a pipe; the app's process only relays them.

Why a fork, and why one thread: a fork starts at once and already has the app's data,
bundled models and the session (nothing is pickled into it); a spawned process would
import torch and rebuild all of that for every run. But a fork of a process that has used
OpenMP hangs at its first parallel region with more than one thread (measured with this
torch: 2 threads hang, 1 runs), so a worker trains with ``torch.set_num_threads(1)``. CUDA
cannot be used in a fork either: with a GPU, or off Linux, or with
``PLAYGROUND_TRAINING_PROCESS=0``, ``enabled`` is False and runs stay in the app's threads.

What crosses back is pickled, between two processes of the same app (never an untrusted
file): each yielded value, and at the end what the run changed in the session
(``session_changes``). Long-lived objects that a session refers to (the app's context, its
digits, the bundled models) are ``share``d when the app is built: they are pickled as a
reference that the app resolves to its own object, so they come back as themselves. Locks
cross as new, unlocked ones.

A Stop reaches the worker through a process-shared flag that the app mirrors from the
session's own flag (``stream``'s ``stop``). If the worker dies or goes silent for
``SILENT_S``, the run ends with a sentence, and the worker is always ended with the stream.
"""

from __future__ import annotations

import copyreg
import functools
import multiprocessing
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

ENV = "PLAYGROUND_TRAINING_PROCESS"
NICE = 10  # the worker's niceness above the app's: under contention the app gets ~10x its CPU share (Linux CFS weights)
SILENT_S = 300.0  # a worker that sends nothing for this long (a final evaluation takes seconds, not minutes) is ended
POLL_S = 0.1  # how often the app checks the pipe, the Stop flag and the worker's life
_SHARED: dict[int, Any] = {}  # id -> object, for share: kept alive, so an id is never reused


def enabled(device: Any = "cpu") -> bool:
    """Whether training runs go to a worker process: on Linux (fork), for a CPU ``device``,
    unless ``PLAYGROUND_TRAINING_PROCESS`` is "0", "false" or "no" (any case)."""
    if os.environ.get(ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return False
    return sys.platform.startswith("linux") and str(device).split(":")[0] == "cpu"


class WorkerError(RuntimeError):
    """The worker process died or stopped answering (the message says which)."""


def share(*objects: Any) -> None:
    """Pickle ``objects`` by reference wherever they appear in what crosses between the app
    and a worker (e.g. the ``Context`` every view refers to, which holds locks, and its
    30 MB of digits); other objects of their types are pickled as usual. Call it when the
    app is built, before any worker is forked, so that the worker has them too."""
    for obj in objects:
        _SHARED[id(obj)] = obj
        copyreg.pickle(type(obj), _reduce)


def share_views(ctx: Any, views: Any) -> None:
    """``share`` what the sessions of a tab refer to: ``ctx`` (the app's ``Context``), its digits, and the bundled
    models of a new session of ``views`` (so that, coming back from a worker, they are still the bundled ones: the
    model bar says "(bundled)" by identity)."""
    share(ctx, ctx.data, *getattr(views.session(None), "views", {}).values())


def pickle_locks() -> None:
    """Let locks be pickled, each as a new unlocked one (a lock only orders the threads of one process)."""
    for factory in (threading.Lock, threading.RLock):
        copyreg.pickle(type(factory()), functools.partial(_new_lock, factory))


def _new_lock(factory: Callable, lock: Any) -> tuple:
    return factory, ()


def _reduce(obj: Any) -> str | tuple:
    """Pickle a shared object as a look-up of its id, any other object of its type as usual."""
    if _SHARED.get(id(obj)) is obj:
        return _shared, (id(obj),)
    return obj.__reduce_ex__(pickle.DEFAULT_PROTOCOL)


def _shared(key: int) -> Any:
    """The object ``share`` registered under ``key`` (in the app, or in a worker forked from it)."""
    return _SHARED[key]


# -- what a run changed in its session -----------------------------------------------------------------------
def _fingerprint(value: Any) -> Any:
    """The identities of ``value`` and, for a dict or list, of its items (to see in-place changes)."""
    if isinstance(value, dict):
        return id(value), tuple((k, id(v)) for k, v in value.items())
    if isinstance(value, list):
        return id(value), tuple(id(v) for v in value)
    return id(value)


def session_snapshot(session: Any) -> dict[str, Any]:
    """The fingerprint of every attribute of ``session`` (taken in the worker before the run)."""
    return {k: _fingerprint(v) for k, v in vars(session).items()} if hasattr(session, "__dict__") else {}


def session_changes(session: Any, snapshot: dict[str, Any]) -> dict[str, Any]:
    """What a run changed in ``session`` since ``snapshot``: ``{attribute: new value}``; for a
    dict attribute (a session's ``views``), ``{attribute: {key: new value}}`` with only the
    keys that changed, marked by a ``("dict", ...)`` pair, so that the app keeps what a Load
    made in another slot meanwhile."""
    changes: dict[str, Any] = {}
    for name, value in (vars(session).items() if hasattr(session, "__dict__") else ()):
        before = snapshot.get(name)
        if _fingerprint(value) == before:
            continue
        if isinstance(value, dict) and isinstance(before, tuple) and before[0] == id(value):
            old = dict(before[1])
            changes[name] = ("dict", {k: v for k, v in value.items() if old.get(k) != id(v)})
        else:
            changes[name] = ("value", value)
    return changes


def apply_changes(session: Any, changes: dict[str, Any]) -> None:
    """Apply ``session_changes`` (made in a worker) to the app's own ``session``, in place."""
    for name, (kind, value) in changes.items():
        if kind == "dict" and isinstance(getattr(session, name, None), dict):
            getattr(session, name).update(value)
        else:
            setattr(session, name, value)


# -- the worker ----------------------------------------------------------------------------------------------
def stream(fn: Callable[..., Iterator], session: Any, *args: Any, stop: threading.Event, **kwargs: Any) -> Iterator:
    """Iterate ``fn(session, *args, stop=flag, **kwargs)`` in a worker process; yield what it yields.

    The worker is forked from this process (it sees every argument as it is here), runs at
    ``NICE`` more niceness with one torch thread, and sends back each value (pickled) and,
    at the end, what the run changed in ``session``, which is applied here before the
    stream ends. ``stop`` (this process's flag) is mirrored into the worker every ``POLL_S``.

    Raises:
        Whatever ``fn`` raised in the worker (a ValueError for bad settings keeps its
        message); WorkerError when the worker died (e.g. killed for memory) or sent nothing
        for ``SILENT_S`` seconds.
    """
    mp = multiprocessing.get_context("fork")
    remote = mp.Event()
    receive, send = mp.Pipe(duplex=False)
    process = mp.Process(target=_work, args=(fn, session, args, kwargs, remote, send), daemon=True, name="playground-training")
    process.start()
    send.close()
    try:
        last = time.monotonic()
        while True:
            if stop.is_set() and not remote.is_set():
                remote.set()
            if receive.poll(POLL_S):
                try:
                    kind, payload = pickle.loads(receive.recv_bytes())
                except EOFError:
                    raise WorkerError(_died(process)) from None
                last = time.monotonic()
                if kind == "item":
                    yield payload
                elif kind == "error":
                    raise payload
                else:  # "end"
                    apply_changes(session, payload)
                    return
            elif not process.is_alive():
                raise WorkerError(_died(process))
            elif time.monotonic() - last > SILENT_S:
                raise WorkerError(f"the training process sent nothing for {SILENT_S:.0f} s and was ended")
    finally:
        receive.close()
        if process.is_alive():
            process.terminate()
            process.join(2)
            if process.is_alive():
                process.kill()
        process.join(1)


def _died(process: Any) -> str:
    process.join(1)
    code = process.exitcode
    why = " (killed: out of memory?)" if code == -9 else ""
    return f"the training process ended unexpectedly (exit code {code}){why}; the model is unchanged"


def _send(connection: Any, kind: str, payload: Any) -> None:
    """Send ``(kind, payload)`` pickled by plain pickle: tensors cross as copies (multiprocessing's own pickler, as torch
    extends it, would send a tensor as a shared-memory handle that the app can no longer open once the worker has ended)."""
    connection.send_bytes(pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL))


def _work(fn: Callable, session: Any, args: tuple, kwargs: dict, stop: Any, send: Any) -> None:
    """The worker: lower priority, one thread, run ``fn`` and send what it yields, then the session's changes."""
    import signal

    import torch

    for sig in (signal.SIGTERM, signal.SIGINT):  # the app's handlers (if any) are not the worker's
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (ValueError, OSError):
            pass
    try:
        os.nice(NICE)
    except OSError:
        pass
    torch.set_num_threads(1)  # more would hang: a fork of a process that used OpenMP (module docstring)
    pickle_locks()
    snapshot = session_snapshot(session)
    try:
        for item in fn(session, *args, stop=stop, **kwargs):
            _send(send, "item", item)
        _send(send, "end", session_changes(session, snapshot))
    except BaseException as err:  # noqa: BLE001 - everything goes back to the app, which raises it
        try:
            _send(send, "error", err)
        except Exception:  # an exception that cannot be pickled crosses as its sentence
            _send(send, "error", RuntimeError(str(err)))
    finally:
        send.close()

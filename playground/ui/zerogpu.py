"""The heavy handlers on a ZeroGPU Space: ``gpu`` runs a handler under ``spaces.GPU``.

A Hugging Face Space on ZeroGPU hardware has no GPU of its own: a function decorated with
``spaces.GPU(duration=...)`` is lent one for each call, for at most ``duration`` seconds (an
int, or a callable that takes the function's own arguments and returns the seconds; a
shorter request gets a better place in the queue, and a visitor's daily quota is charged the
time actually used). The ``spaces`` package sets this up when ``SPACES_ZERO_GPU`` is true
("1", "t" or "true", read as the package reads it); on any other machine its decorator does
nothing. Here it is not even imported: without ``SPACES_ZERO_GPU`` ``gpu`` returns the
handler itself, so the app runs with no ``spaces`` package and no network.

Durations are computed from the handler's arguments: a training run asks for its steps (or
epochs) at ``STEP_S`` each, never more than the server's cap ``PLAYGROUND_MAX_TRAIN_S``,
plus ``OVERHEAD_S`` for starting the GPU worker, the final test losses and samples; a
sampling handler for a base time plus a time per image asked for.

What ZeroGPU does with a call (``spaces`` 0.51): the function runs in a worker process
forked from the app; its arguments are pickled into it, and its return value (or each value
a generator yields) pickled back. Hence three rules here:

- ``share`` the long-lived objects a session refers to (the ``Context``, the digits, the
  bundled models: ``share_views``) when the app is built: they are then pickled by
  reference, since the worker, a fork, already has them. Any other lock (a view's cache
  guard) crosses as a new, unlocked lock: a lock only orders the threads of one process.
- What a handler changes in place stays in the worker: ``training`` yields the session
  once more at the end, so the trained model reaches the app's ``gr.State``.
- A Stop pressed in the app sets a flag the worker cannot see: on ZeroGPU a run ends at
  its steps, at the cap ``PLAYGROUND_MAX_TRAIN_S``, or at its duration.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import gradio as gr

from playground.core import worker
from playground.core.training import max_train_seconds

ENV = "SPACES_ZERO_GPU"
STEP_S = 0.05  # one training step of the playground's models on a ZeroGPU slice, with its share of test evaluations (generous)
EPOCH_S = 1.0  # one epoch of a Boltzmann machine (the 4,500 training digits in minibatches)
OVERHEAD_S = 20.0  # starting the worker, moving the weights to the GPU, the final test losses and samples
MIN_S, MAX_S = 10, 600  # what is asked of ZeroGPU, in seconds
TRAINING_UNITS = {"steps": STEP_S, "ae_steps": STEP_S, "prior_steps": STEP_S, "epochs": EPOCH_S}


def enabled() -> bool:
    """Whether this server runs on ZeroGPU: ``SPACES_ZERO_GPU`` is "1", "t" or "true"
    (any case), as the ``spaces`` package itself decides."""
    return os.environ.get(ENV, "").lower() in ("1", "t", "true")


def gpu(fn: Callable | None = None, *, base_s: float = OVERHEAD_S, per: Mapping[str, float] | None = None, cap: bool = False) -> Callable:
    """Run handler ``fn`` under ``spaces.GPU`` when ``enabled()``, else return it unchanged.

    Usable as ``gpu(fn, ...)`` or as a decorator, ``@gpu(per={"n": 0.5})``. The handler keeps
    its name, docstring, signature and annotations (Gradio reads them: the API page, and
    the ``gr.Request`` it passes to a parameter annotated with it); a generator handler
    stays a generator.

    Args:
        base_s: seconds asked for every call.
        per: {argument name: seconds per unit}: each named argument of the call (a number:
            steps, images...) adds its value times its seconds; a missing or non-numeric one
            adds nothing (the handler's own checks report it).
        cap: the per-argument part is at most the training cap ``PLAYGROUND_MAX_TRAIN_S``
            (when it is set).

    Returns:
        The handler to bind, or (without ``fn``) the decorator.

    Raises:
        ValueError: ``PLAYGROUND_MAX_TRAIN_S`` is set but not a number of seconds > 0 (read
            here when ``cap``, so a bad value stops the app when it is built).
        ImportError: ``enabled()`` but the ``spaces`` package is not installed.
    """
    if fn is None:
        return functools.partial(gpu, base_s=base_s, per=per, cap=cap)
    if cap:
        max_train_seconds()
    if not enabled():
        return fn
    import spaces  # only on ZeroGPU: it patches torch and gradio when imported

    worker.pickle_locks()
    wrapped = spaces.GPU(duration=duration(fn, base_s, per, cap))(fn)
    if wrapped is fn:  # what spaces does off ZeroGPU
        return fn
    functools.update_wrapper(wrapped, fn)
    wrapped.__signature__ = inspect.signature(fn)
    wrapped.__annotations__ = dict(getattr(fn, "__annotations__", {}))
    return wrapped


def training(fn: Callable) -> Callable:
    """``gpu`` for a training handler (a generator whose first update starts with the
    session, as ``panels.bind_training``'s): ``OVERHEAD_S`` plus its steps (``steps``,
    ``ae_steps``, ``prior_steps``) at ``STEP_S`` and ``epochs`` at ``EPOCH_S``, at most the
    training cap. On ZeroGPU the handler yields the session once more at the end (every
    other output unchanged), so the model trained in the worker comes back."""
    if enabled():
        fn = _session_last(fn)
    return gpu(fn, per=TRAINING_UNITS, cap=True)


def share(*objects: Any) -> None:
    """On ZeroGPU, pickle ``objects`` by reference wherever they appear in a handler's
    arguments or results (``core.worker.share``: e.g. the ``Context`` every view refers to,
    which holds locks, and its 30 MB of digits). Call it when the app is built, before it
    serves: the worker is forked from the app after that, so it has them. Does nothing
    without ``SPACES_ZERO_GPU``."""
    if enabled():
        worker.pickle_locks()  # ZeroGPU pickles a handler's arguments into its worker too
        worker.share(*objects)


def share_views(ctx: Any, views: Any) -> None:
    """``worker.share_views`` (the context, its digits and the bundled models of ``views``,
    pickled by reference into the GPU worker) on ZeroGPU; does nothing without ``SPACES_ZERO_GPU``."""
    if enabled():
        worker.pickle_locks()  # ZeroGPU pickles a handler's arguments into its worker too
        worker.share_views(ctx, views)


def duration(fn: Callable, base_s: float, per: Mapping[str, float] | None, cap: bool) -> Callable[..., int]:
    """The callable ``spaces.GPU`` gets as ``duration``: it takes ``fn``'s arguments and
    returns whole seconds in [``MIN_S``, ``MAX_S``]. It never raises: arguments that do not
    fit ``fn``'s signature count as missing."""
    signature = inspect.signature(fn)

    def seconds(*args: Any, **kwargs: Any) -> int:
        try:
            bound = signature.bind_partial(*args, **kwargs)
            bound.apply_defaults()
            arguments = bound.arguments
        except TypeError:
            arguments = {}
        extra = sum(_number(arguments.get(name)) * unit_s for name, unit_s in (per or {}).items())
        limit = _cap_s() if cap else None
        if limit is not None:
            extra = min(extra, limit)
        return int(min(MAX_S, max(MIN_S, math.ceil(base_s + extra))))

    return seconds


def _cap_s() -> float | None:
    """The training cap in seconds, None when unset or (checked when the app was built) bad."""
    try:
        return max_train_seconds()
    except ValueError:
        return None


def _number(value: Any) -> float:
    """``value`` as a finite number >= 0, else 0."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) and number > 0 else 0.0


def _session_last(fn: Callable) -> Callable:
    """Generator handler ``fn`` with one more update at its end: the first element of its
    first update (the session) again, every other output ``gr.skip()``."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        first = None
        for update in fn(*args, **kwargs):
            first = update if first is None else first
            yield update
        if first is not None:
            yield first[0], *[gr.skip()] * (len(first) - 1)

    return run

"""What the bench's parts share: timing helpers, the recognisability rule, and the
Stop-to-idle measurement of a view's training stream. No gradio here."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch

from playground.core.data import load_mnist
from playground.core.device import get_device
from playground.views.base import Context

# Samples are recognisable when at least half are agreed-confident (every judge in metrics.JUDGES p >= 0.9 on the same
# digit) and at least 8 different digits appear among those.
RECOGNISABLE_SHARE = 0.5
RECOGNISABLE_CLASSES = 8


def context() -> Context:
    """The app's context on this machine's device and the bundled digits."""
    return Context(get_device(), load_mnist())


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_drain(make_run: Callable[[], object], device: torch.device) -> float:
    """Seconds to exhaust the generator ``make_run()`` returns (made before the clock
    starts, so building models is not timed), waiting for queued GPU work at both ends."""
    run = make_run()
    sync(device)
    start = time.perf_counter()
    drain(run)
    sync(device)
    return time.perf_counter() - start


def best_of(repeats: int, plain: Callable[[], float], other: Callable[[], float], name: str, steps: int, log: Callable[[str], None]) -> tuple[float, float]:
    """Alternate ``plain()`` and ``other()`` (each returns seconds) for ``repeats`` rounds
    after one warm-up round; returns the best time of each."""
    times: tuple[list[float], list[float]] = ([], [])
    for r in range(repeats + 1):  # the first round warms up and is not counted
        t_plain, t_other = plain(), other()
        if r:
            times[0].append(t_plain)
            times[1].append(t_other)
        log(f"  round {r}: plain {t_plain:.2f} s, {name} {t_other:.2f} s for {steps} steps")
    return min(times[0]), min(times[1])


def drain(run) -> None:
    for _ in run:
        pass


def grid_tiles(grid: np.ndarray, n: int, nrow: int = 8, size: int = 28, padding: int = 2) -> torch.Tensor:
    """Cut an ``image_grid`` picture back into its images (n, 1, size, size) in [0, 1]."""
    step = size + padding
    tiles = [
        grid[padding + step * (i // nrow) : padding + step * (i // nrow) + size, padding + step * (i % nrow) : padding + step * (i % nrow) + size]
        for i in range(n)
    ]
    return torch.from_numpy(np.stack(tiles)).float().div(255).unsqueeze(1)


def is_recognisable(images: torch.Tensor) -> tuple[bool, dict]:
    """Whether samples (N, 1, 28, 28) in [0, 1] read as digits to the independent judges (``RECOGNISABLE_SHARE``
    agreed-confident, ``RECOGNISABLE_CLASSES`` digits among them), and ``metrics.sample_quality``'s figures."""
    from playground.core.metrics import sample_quality

    quality = sample_quality(images, load_mnist())
    ok = quality["agreed_confident_share"] >= RECOGNISABLE_SHARE and quality["n_classes_agreed"] >= RECOGNISABLE_CLASSES
    return ok, quality


def time_to_recognisable(run, pick: Callable, stop: Callable, budget_s: float, log: Callable[[str], None]) -> dict:
    """Drain a Train handler ``run`` until the sample grid it yields (``pick(output)``
    gives (status, grid)) is recognisable, or ``budget_s`` seconds pass."""
    scoring = 0.0
    start = time.perf_counter()
    last_grid = None
    try:
        for output in run:
            status, samples = pick(output)
            elapsed = time.perf_counter() - start - scoring
            if isinstance(samples, np.ndarray) and samples is not last_grid:  # else unchanged (gr.skip)
                last_grid = samples
                t0 = time.perf_counter()
                ok, quality = is_recognisable(grid_tiles(samples, 64))
                scoring += time.perf_counter() - t0
                if ok:
                    log(f"  recognisable after {elapsed:.1f} s: {status}")
                    return {
                        "ui_seconds_to_recognisable": round(elapsed, 1),
                        "ui_recognisable_agreed_confident_share": round(quality["agreed_confident_share"], 3),
                        "ui_recognisable_n_classes": quality["n_classes_agreed"],
                    }
            if elapsed > budget_s:
                return {"ui_seconds_to_recognisable": None, "ui_note": f"not recognisable within {budget_s:.0f} s"}
        return {"ui_seconds_to_recognisable": None, "ui_note": "training ended before its digits were recognisable"}
    finally:
        stop()
        drain(run)


def rates(amount: float, unit: str, best_plain: float, best_other: float, other: str = "trainer", ndigits: int = 1) -> dict:
    """A measured loop against the plain loop: ``amount`` units (steps, images...) in
    each's best seconds, as ``plain_loop_<unit>_per_s``, ``train_<unit>_per_s`` and
    ``trainer_overhead`` (time / plain time - 1), or for ``other="ui"`` the
    ``ui_plain_loop_...``, ``ui_train_handler_...`` and ``ui_train_handler_overhead`` keys."""
    prefix, name = ("", "train") if other == "trainer" else ("ui_", "train_handler")
    return {
        f"{prefix}plain_loop_{unit}_per_s": round(amount / best_plain, ndigits),
        f"{prefix}{name}_{unit}_per_s": round(amount / best_other, ndigits),
        f"{prefix}{'trainer' if other == 'trainer' else name}_overhead": round(best_other / best_plain - 1, 4),
    }


def stop_to_idle(start: Callable[[threading.Event], Iterator], after_s: list[float], log: Callable[[str], None], name: str) -> dict:
    """Seconds from Stop to the end of a training stream, as the UI sees them.

    For each delay in ``after_s``, ``start(stop)`` makes a new stream, a thread drains
    it (as Gradio does), and ``stop`` is set after that delay, whatever the run is doing
    then (a training step, an evaluation, drawing samples); the time until the stream is
    exhausted is recorded.

    Returns:
        ``stop_to_idle_s`` (the worst), ``stop_to_idle_median_s`` and the delays tried.
    """
    times = []
    for delay in after_s:
        stop = threading.Event()
        stream = start(stop)
        done = threading.Event()
        worker = threading.Thread(target=lambda: (drain(stream), done.set()), daemon=True)
        worker.start()
        time.sleep(delay)
        stopped_at = time.perf_counter()
        stop.set()
        done.wait(120)
        times.append(time.perf_counter() - stopped_at)
        log(f"  {name}: Stop after {delay:.1f} s -> idle {times[-1]:.2f} s later")
    return {
        "stop_to_idle_s": round(max(times), 3),
        "stop_to_idle_median_s": round(float(np.median(times)), 3),
        "stop_after_s": after_s,
    }

"""The VAE's figures: the trainer and the tab's training stream against a plain loop, time
to recognisable digits, the slider's latency and Stop-to-idle."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from models import VAE
from models.base import seeded_init
from models.vae import TRAIN_HIDDEN_DIM
from playground.bench.common import best_of, context, rates, stop_to_idle, time_to_recognisable, timed_drain
from playground.bench.loops import plain_vae_loop
from playground.core.data import load_mnist
from playground.core.device import get_device
from playground.core.training import TrainConfig, train
from playground.views.vae import ARCH_DEFAULT, BETA, LATENT, LR, N_SLIDERS, STEPS, VaeViews


def _ui_settings(steps: int) -> tuple:
    """The Train panel's defaults, with ``steps``: (latent, arch, beta, lr, steps, seed)."""
    return LATENT.default, ARCH_DEFAULT, BETA.default, LR.default, steps, 0


def bench_trainer(steps: int, repeats: int, log: Callable[[str], None]) -> dict:
    """The trainer against the plain loop on the bundled VAE's config."""
    device = get_device()
    data = load_mnist()
    x = data.train_binary.to(device)
    config = TrainConfig(steps=steps, **{k: v for k, v in VAE.train_defaults.items() if k != "steps"})
    best_plain, best_trainer = best_of(
        repeats,
        lambda: plain_vae_loop(seeded_init(VAE, 0).to(device), x, steps, config.batch_size, config.lr, 0),
        lambda: timed_drain(lambda: train(seeded_init(VAE, 0).to(device), data, config), device),
        "trainer", steps, log,
    )
    images = steps * config.batch_size
    return {
        "model": f"VAE {VAE().config}",
        "batch_size": config.batch_size,
        "steps_timed": steps,
        **rates(images, "images", best_plain, best_trainer),
    }


def bench_ui_overhead(views: VaeViews, steps: int, repeats: int, log: Callable[[str], None]) -> dict:
    """The tab's training stream (the trainer plus its live images and curves) against the
    plain loop, for the model the Train panel trains by default."""
    device = get_device()
    x = load_mnist().train_binary.to(device)
    latent, arch, beta, lr = _ui_settings(steps)[:4]
    best_plain, best_stream = best_of(
        repeats,
        lambda: plain_vae_loop(seeded_init(VAE, 0, latent_dim=latent, arch=arch, hidden_dim=TRAIN_HIDDEN_DIM[arch]).to(device), x, steps, 128, lr, 0),
        lambda: timed_drain(lambda: views.train(views.session(None), *_ui_settings(steps), stop=threading.Event()), device),
        "Train stream", steps, log,
    )
    return rates(steps, "steps", best_plain, best_stream, other="ui")


def bench_ui_training(views: VaeViews, budget_s: float, log: Callable[[str], None]) -> dict:
    """Seconds until the tab's training stream, with the Train panel's defaults, shows
    recognisable digits (scoring time excluded)."""
    stop = threading.Event()
    run = views.train(views.session(None), *_ui_settings(STEPS.high), stop=stop)
    return time_to_recognisable(run, lambda out: (out[0], out[1]), stop.set, budget_s, log)


def bench_slider(views: VaeViews, n_calls: int) -> dict:
    """Latency of the latent sliders' view (decode + image conversion)."""
    session = views.session(None)
    rng = np.random.default_rng(0)
    times = []
    for i in range(n_calls + 10):
        values = rng.uniform(-3, 3, N_SLIDERS).round(2).tolist()
        start = time.perf_counter()
        views.decode(session, *values)
        if i >= 10:  # warm-up calls are not counted
            times.append((time.perf_counter() - start) * 1000)
    return {"slider_p50_ms": round(float(np.percentile(times, 50)), 3), "slider_p95_ms": round(float(np.percentile(times, 95)), 3)}


def bench(quick: bool, log: Callable[[str], None]) -> dict:
    """Every VAE figure (see the package docstring)."""
    log("VAE training: trainer vs plain loop")
    figures = bench_trainer(steps=20 if quick else 150, repeats=1 if quick else 3, log=log)
    views = VaeViews(context())
    log("VAE Train stream (live images and curves) vs plain loop")
    figures.update(bench_ui_overhead(views, steps=60 if quick else 300, repeats=1 if quick else 2, log=log))
    log("VAE training from scratch in the UI: time to recognisable digits")
    figures.update(bench_ui_training(views, budget_s=60, log=log))
    log("VAE latent slider view")
    figures.update(bench_slider(views, n_calls=30 if quick else 300))
    log("VAE Train panel: Stop to idle")
    figures.update(stop_to_idle(lambda stop: views.train(views.session(None), *_ui_settings(STEPS.default), stop=stop), [1.0] if quick else [0.5, 1.0, 2.0, 3.0], log, "vae"))
    return figures

"""The VQ-VAE tab's figures: prior sampling of 64 digits (49 cells each, not 784 pixels),
the latency of a code edit, training speed of each phase, seconds to recognisable
reconstructions from scratch with the Train panel's defaults, and Stop-to-idle."""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch

from models import VQVAE, VQVAE2
from models.base import seeded_init
from playground.bench.common import context, drain, grid_tiles, stop_to_idle, sync, timed_drain
from playground.core import checkpoints
from playground.core.data import load_mnist
from playground.core.device import get_device
from playground.core.metrics import CONFIDENCE, classify
from playground.core.training import TrainConfig, cycling_labels, train
from playground.views.vq_model import VqView, codes_to_json
from playground.views.vqvae import AE_STEPS, BATCH_SIZE, BETA, CODE_DIM, LR, N_RECON, PRIOR_STEPS, RESTART_EVERY, TRAIN_HIDDEN, TRAIN_PRIOR, K, VqSession, VqViews

CLASSES = {"vqvae": VQVAE, "vqvae2": VQVAE2}
RECOGNISABLE_RECONSTRUCTIONS = 7  # of the N_RECON (8) shown: read confidently as the digit the original reads as


def _model(name: str) -> tuple[VQVAE, str]:
    """The bundled ``name`` on this machine's device, or (before it is bundled) an
    untrained model of the same architecture (the bundled run's config: the family's
    defaults with a class-conditional prior), which samples and decodes as fast."""
    if name in checkpoints.bundled_names():
        return checkpoints.load(name, device=get_device()), "bundled"
    return seeded_init(CLASSES[name], 0, n_classes=10).to(get_device()).eval(), "untrained, the bundled config (no bundled checkpoint yet)"


def bench_sampling(n: int, log: Callable[[str], None]) -> dict:
    """Seconds to draw ``n`` code grids from each model's prior (labels 0-9 in turn) and
    decode them, after one warm-up draw; scaled to 64 digits when ``n`` is smaller."""
    figures: dict = {}
    for name in CLASSES:
        model, source = _model(name)
        device = model.device
        model.sample(2, cycling_labels(2, device), torch.Generator().manual_seed(0))  # warm-up
        sync(device)
        start = time.perf_counter()
        codes = model.sample_codes(n, cycling_labels(n, device), torch.Generator().manual_seed(1))
        sync(device)
        codes_s = time.perf_counter() - start
        model.decode_codes(codes)
        sync(device)
        total_s = time.perf_counter() - start
        figures[name] = {
            "source": source, "config": model.config, "cells_per_digit": sum(h * w for h, w in model.grids),
            "seconds_for_64_samples": round(total_s * 64 / n, 3), "seconds_for_64_code_grids": round(codes_s * 64 / n, 3),
        }
        log(f"  {name}: {figures[name]['seconds_for_64_samples']} s for 64 digits ({source})")
    return figures


def _session(views: VqViews) -> VqSession:
    """A session on the bundled models, or on the untrained stand-ins of ``_model``."""
    return VqSession({name: VqView(model, source, views.ctx) for name, (model, source) in ((n, _model(n)) for n in CLASSES)})


def _percentiles(times_s: list[float], prefix: str) -> dict:
    ms = np.array(times_s) * 1000
    return {f"{prefix}_p50_ms": round(float(np.percentile(ms, 50)), 3), f"{prefix}_p95_ms": round(float(np.percentile(ms, 95)), 3)}


def bench_edit(views: VqViews, n_calls: int) -> dict:
    """Latency of a code edit on a test digit's 7 x 7 grid of the vqvae slot: one random
    cell set to a random code, then ``decode_codes`` (the model alone, ``edit_decode_*``),
    and through ``VqViews.edit`` (JSON in and out, the decode, the classifier's reading and
    the code map picture, ``edit_view_*``). Ten warm-up calls each are not counted."""
    session = _session(views)
    model = session.views["vqvae"].model
    codes = model.codes(views.ctx.data.images("test", "binary")[:1].to(model.device))
    codes_json = codes_to_json(codes)
    rng = np.random.default_rng(0)
    decode, view = [], []
    for i in range(n_calls + 10):
        r, c, k = int(rng.integers(7)), int(rng.integers(7)), int(rng.integers(model.n_codes))
        start = time.perf_counter()
        codes[-1][0, r, c] = k
        model.decode_codes(codes)
        sync(model.device)
        middle = time.perf_counter()
        views.edit(session, codes_json, r, c, k, "vqvae")
        if i >= 10:
            decode.append(middle - start)
            view.append(time.perf_counter() - middle)
    return {**_percentiles(decode, "edit_decode"), **_percentiles(view, "edit_view")}


def _train_settings(which: str, ae_steps: int, prior_steps: int) -> tuple:
    """The Train panel's defaults (EMA and dead-code restart on, as its checkboxes start)
    for ``views.train``: (which, K, D, beta, ema, restart, ae steps, prior steps, lr, seed)."""
    return which, K.default, CODE_DIM.default, BETA.default, True, True, ae_steps, prior_steps, LR.default, 0


def bench_train_speed(steps: int, log: Callable[[str], None]) -> dict:
    """Updates/s of each phase through the trainer, for the model the Train panel builds
    with its defaults (hidden 64, its small prior, batches of 64; no evaluations)."""
    device = get_device()
    data = load_mnist()
    config = TrainConfig(steps=steps, lr=LR.default, batch_size=BATCH_SIZE, log_every=25, sample_every=0, eval_every=0, n_eval=1)
    figures = {}
    for phase, ae_steps in (("ae", steps), ("prior", 0)):
        settings = dict(n_codes=K.default, code_dim=CODE_DIM.default, beta=BETA.default, restart_every=RESTART_EVERY, hidden=TRAIN_HIDDEN, n_classes=10)

        def run(ae_steps: int = ae_steps, settings: dict = settings) -> Iterator:
            model = seeded_init(VQVAE, 0, **settings, ae_steps=ae_steps, **TRAIN_PRIOR).to(device)
            return itertools.takewhile(lambda event: event.step < steps, train(model, data, config))  # not the final test losses and samples

        drain(run())  # warm-up
        seconds = timed_drain(run, device)
        figures[f"{phase}_train_steps_per_s"] = round(steps / seconds, 1)
        log(f"  {phase} phase: {figures[f'{phase}_train_steps_per_s']} steps/s (batch {BATCH_SIZE})")
    return figures


def _reconstructions_read(grid: np.ndarray) -> int:
    """How many of the Train panel's reconstructions (row 2 of its picture) the classifier
    reads, with softmax >= 0.9, as the digit it reads in the original above (row 1)."""
    tiles = grid_tiles(grid, 2 * N_RECON, nrow=N_RECON)
    probs = classify(tiles)[0]
    original, recon = probs[:N_RECON], probs[N_RECON:]
    return int(((recon.argmax(1) == original.argmax(1)) & (recon.max(1).values >= CONFIDENCE)).sum())


def bench_recognisable(views: VqViews, budget_s: float, log: Callable[[str], None]) -> dict:
    """Seconds until the Train panel's stream, from scratch with its defaults, shows
    recognisable reconstructions: at least 7 of its 8 read by the classifier (softmax >= 0.9)
    as the digit of the original above them. Scoring time is not counted."""
    stop = threading.Event()
    run = views.train(_session(views), *_train_settings("vqvae", AE_STEPS.default, PRIOR_STEPS.default), stop=stop)
    scoring, start = 0.0, time.perf_counter()
    try:
        for status, grid, *_ in run:
            elapsed = time.perf_counter() - start - scoring
            if isinstance(grid, np.ndarray):
                t0 = time.perf_counter()
                n_read = _reconstructions_read(grid)
                scoring += time.perf_counter() - t0
                if n_read >= RECOGNISABLE_RECONSTRUCTIONS:
                    step = re.search(r"step ([\d,]+)", status)
                    log(f"  recognisable reconstructions after {elapsed:.1f} s: {status}")
                    return {
                        "ui_seconds_to_recognisable_reconstructions": round(elapsed, 1),
                        "ui_recognisable_at_step": int(step.group(1).replace(",", "")) if step else None, "ui_reconstructions_read": n_read,
                    }
            if elapsed > budget_s:
                break
        return {"ui_seconds_to_recognisable_reconstructions": None, "ui_note": f"not recognisable within {budget_s:.0f} s"}
    finally:
        stop.set()
        drain(run)


def bench(quick: bool, log: Callable[[str], None]) -> dict:
    """Every VQ-VAE figure (see the package docstring)."""
    log("VQ-VAE prior sampling: 64 digits, codes first (49 cells each), then decoded")
    figures = bench_sampling(n=4 if quick else 64, log=log)
    views = VqViews(context())
    log("VQ-VAE code edit: one cell changed, then decoded")
    figures.update(bench_edit(views, n_calls=10 if quick else 200))
    log("VQ-VAE training speed of each phase with the Train panel's defaults")
    figures.update(bench_train_speed(steps=5 if quick else 150, log=log))
    log("VQ-VAE training from scratch in the UI: time to recognisable reconstructions")
    figures.update(bench_recognisable(views, budget_s=3 if quick else 90, log=log))
    log("VQ-VAE Train panel: Stop to idle")
    settings = _train_settings("vqvae", AE_STEPS.default, PRIOR_STEPS.default)
    figures.update(stop_to_idle(lambda stop: views.train(_session(views), *settings, stop=stop), [0.5] if quick else [0.5, 1.0, 2.0, 3.0], log, "vqvae"))
    return figures

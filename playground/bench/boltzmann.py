"""The Boltzmann machines' figures: RBM updates (trainer against a hand-written PCD loop),
Gibbs and AIS speed, live training to stroke-like filters, Stop-to-idle."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import torch

from models import RBM
from models.base import seeded_init
from playground.bench.common import best_of, context, grid_tiles, rates, stop_to_idle, sync, timed_drain
from playground.bench.loops import plain_cd_loop
from playground.core.data import load_mnist
from playground.core.device import get_device
from playground.core.metrics import stroke_score
from playground.core.training import TrainConfig, train
from playground.views.boltzmann import HIDDEN, LR, STACK_EPOCHS, TRAIN_DEFAULTS, BoltzmannViews

STROKE_SCORE = 0.6  # metrics.stroke_score: random filters 0, the first updates' blobs 0.1, the tab's 20-epoch defaults 0.7


def bench_boltzmann(steps: int, repeats: int, quick: bool, log: Callable[[str], None]) -> dict:
    """RBM updates/s (trainer vs a hand-written PCD loop), Gibbs sampling and AIS speed,
    and the Train handler's time (tab defaults) until its filters look like strokes."""
    device = get_device()
    data = load_mnist()
    x = data.train_binary.to(device)
    defaults = RBM.train_defaults
    config = TrainConfig(steps=steps, lr=defaults["lr"], batch_size=defaults["batch_size"], log_every=25, sample_every=0, eval_every=0, n_samples=1)
    best_plain, best_trainer = best_of(
        repeats,
        lambda: plain_cd_loop(seeded_init(RBM, 0).to(device), x, steps, config.batch_size, config.lr, 0),
        # n_gibbs=1: the trainer's final sample grid is not what is timed
        lambda: timed_drain(lambda: train(seeded_init(RBM, 0, n_gibbs=1).to(device), data, config), device),
        "trainer", steps, log,
    )
    figures: dict = {
        "model": f"RBM {RBM().config}",
        **rates(steps, "updates", best_plain, best_trainer),
    }
    model = seeded_init(RBM, 0).to(device).eval()
    n_gibbs = 100 if quick else 1000
    v = torch.bernoulli(torch.full((64, 784), 0.5, device=device))
    sync(device)
    start = time.perf_counter()
    model.gibbs_chain(v, n_gibbs)
    sync(device)
    figures["gibbs_seconds_64_chains_1000_steps"] = round((time.perf_counter() - start) * 1000 / n_gibbs, 2)
    n_betas = 200 if quick else 2000
    start = time.perf_counter()
    model.ais(n_betas=n_betas, n_runs=100, base_data=x)
    sync(device)
    figures["ais_seconds_2000_betas_100_runs"] = round((time.perf_counter() - start) * 2000 / n_betas, 2)
    # Live training: the Train panel's defaults until the filters are stroke-like (stroke_score >= 0.6).
    views = BoltzmannViews(context())
    run = views.train(views.session(None), **dict(TRAIN_DEFAULTS, epochs=2 if quick else TRAIN_DEFAULTS["epochs"]), stop=threading.Event())
    start = time.perf_counter()
    reached, score, scoring = None, 0.0, 0.0
    for output in run:
        elapsed = time.perf_counter() - start - scoring
        if not isinstance(output[1], np.ndarray):  # the "Starting…" update has no mosaic yet
            continue
        t0 = time.perf_counter()
        # The mosaic's tiles are the first 100 filters, each rescaled: correlation ignores that.
        tiles = grid_tiles(output[1], min(100, TRAIN_DEFAULTS["n_hidden"]), nrow=10)  # (100, 1, 28, 28)
        score = stroke_score(tiles.reshape(len(tiles), -1).T)
        scoring += time.perf_counter() - t0
        if reached is None and score >= STROKE_SCORE:
            reached = elapsed
            log(f"  stroke-like filters (score {score:.2f}) after {elapsed:.1f} s: {output[0]}")
    figures["ui_seconds_to_stroke_filters"] = None if reached is None else round(reached, 1)
    figures["ui_seconds_for_default_run"] = round(time.perf_counter() - start - scoring, 1)
    figures["ui_final_stroke_score"] = round(score, 3)
    log("RBM Train panel and DBN stacking: Stop to idle")
    delays = [1.0] if quick else [0.5, 1.0, 2.0, 3.0]
    figures.update(stop_to_idle(lambda stop: views.train(views.session(None), **TRAIN_DEFAULTS, stop=stop), delays, log, "rbm"))
    stack = stop_to_idle(
        lambda stop: views.stack(views.session(None), HIDDEN.default, STACK_EPOCHS.default, LR.default, True, 0, stop=stop), delays, log, "dbn stack",
    )
    figures.update({f"stack_{k}": v for k, v in stack.items()})
    return figures


def bench(quick: bool, log: Callable[[str], None]) -> dict:
    """Every Boltzmann figure (see the package docstring)."""
    log("Boltzmann machines: RBM updates, Gibbs sampling, AIS, live training to stroke-like filters, Stop to idle")
    return bench_boltzmann(steps=20 if quick else 1000, repeats=1 if quick else 2, quick=quick, log=log)

"""The autoregressive families' figures: training speed, test NLL after 90 s of training
(against a reference zoo), sampling speed, Stop-to-idle of the Train panel."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import torch

from models.base import seeded_init
from playground.bench.common import context, stop_to_idle, sync
from playground.core.data import load_mnist
from playground.core.device import get_device
from playground.core.metrics import test_nll
from playground.core.training import TrainConfig, train
from playground.views.ar_model import STEPS, default_settings, model_config
from playground.views.autoregressive import FAMILIES, ArViews

# Test NLL (nats) after 90 s of training on 2 cores, on this split, of a popular
# reference zoo's models with their published configurations (issue 5 of the project).
ZOO_NLL_AFTER_90_S = {"nade": 111.1, "made": 103.6, "pixelcnn": 161.1, "gated_pixelcnn": 120.3}


SLOW_SAMPLERS = ("pixelrnn", "diagonal_bilstm", "pixelsnail")  # a recurrence or attention over the whole past per pixel: 16 samples, not 64


def bench_autoregressive(budget_s: float, quick: bool, log: Callable[[str], None]) -> dict:
    """For each autoregressive family with the Train panel's defaults: training images/s,
    the exact test NLL after ``budget_s`` seconds of training (against the reference zoo's
    figure after 90 s), and samples/s drawing 64 (16 for ``SLOW_SAMPLERS``; 4 when ``quick``)."""
    device = get_device()
    data = load_mnist()
    figures: dict = {"budget_s": budget_s}
    for family in FAMILIES:
        d = default_settings(family)
        cls, config = model_config(family, d["size"], d["layers"], d["masks"], False, 0)
        model = seeded_init(cls, 0, **config).to(device)
        stop = threading.Event()
        run = train(model, data, TrainConfig(steps=200_000, lr=d["lr"], batch_size=64, log_every=5, sample_every=0, eval_every=0, n_eval=1), stop=stop)
        start = time.perf_counter()
        steps = 0
        for event in run:
            steps = event.step
            if time.perf_counter() - start >= budget_s:
                stop.set()
        seconds = time.perf_counter() - start
        nll = test_nll(model.eval(), data)["nll_nats"]
        n_samples = (4 if quick else 16) if family in SLOW_SAMPLERS else (4 if quick else 64)
        sync(device)
        t0 = time.perf_counter()
        model.sample(n_samples, generator=torch.Generator().manual_seed(0))
        sync(device)
        sample_s = time.perf_counter() - t0
        entry = {
            "config": config, "lr": d["lr"], "train_images_per_s": round(steps * 64 / seconds, 1),
            "steps_in_budget": steps, "test_nll_after_budget": round(nll, 2), "samples_per_s": round(n_samples / sample_s, 2),
        }
        if family in ZOO_NLL_AFTER_90_S:
            entry["zoo_nll_after_90_s"] = ZOO_NLL_AFTER_90_S[family]
        if family == "pixelcnn":
            entry["seconds_for_64_samples"] = round(sample_s * 64 / n_samples, 2)
        figures[family] = entry
        log(f"  {family}: {entry}")
    return figures




def bench(quick: bool, log: Callable[[str], None]) -> dict:
    """Every autoregressive figure, and the Train panel's Stop-to-idle for each family
    (its defaults; a Stop may land in a training step, an evaluation or the samples)."""
    log("Autoregressive models: training speed, test NLL after 90 s of training, sampling speed")
    figures = bench_autoregressive(budget_s=3 if quick else 90, quick=quick, log=log)
    views = ArViews(context())
    for family in FAMILIES if not quick else ("pixelcnn",):
        d = default_settings(family)
        settings = (family, d["size"], d["layers"], d["masks"], d["conditional"], STEPS.default, d["lr"], 0)
        entry = stop_to_idle(lambda stop: views.train(views.session(None), *settings, stop=stop), [1.0] if quick else [1.0, 2.0, 4.0], log, family)
        figures.setdefault(family, {}).update(entry)
    figures["stop_to_idle_s"] = max(figures[f]["stop_to_idle_s"] for f in FAMILIES if "stop_to_idle_s" in figures.get(f, {}))
    return figures

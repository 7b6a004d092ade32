"""``python -m playground bench``: speed figures, measured in one run on this machine.

- ``vae.train_images_per_s`` through the trainer next to ``vae.plain_loop_images_per_s``
  for the same model, data, batch size and optimiser in a bare PyTorch loop, and their
  ratio ``vae.trainer_overhead`` (trainer time / plain time - 1; the target is <= 0.10).
- ``vae.slider_p50_ms`` / ``vae.slider_p95_ms``: the latent-slider handler, called directly
  (decode + image conversion; the target is p95 <= 30 ms), and ``vae.slider_roundtrip_*``
  through the running app with ``gradio_client`` (adds HTTP, queue and PNG encoding).
- ``vae.ui_train_handler_overhead``: the tab's Train handler (the trainer plus the live
  sample grid, reconstructions and curves it yields) against the plain loop, for the MLP
  VAE it trains by default.
- ``vae.ui_seconds_to_recognisable``: training from scratch through the tab's own Train
  handler with its default settings, the seconds until the fixed-noise sample grid it
  shows is recognisable: at least half of its 64 digits classified with softmax >= 0.9 and
  at least 8 classes among them (the time spent scoring is not counted).
- ``gan.train_steps_per_s`` through the trainer next to ``gan.plain_loop_steps_per_s``, a
  textbook DCGAN loop (BCE on D's logits, one D then one G Adam step) written directly on
  the same networks, for the bundled DCGAN's config; ``gan.trainer_overhead`` as for the
  VAE. ``gan.ui_train_handler_*``: the same for the GAN tab's Train handler (live grid,
  two plots and progress frames) with the tab's default settings.
- ``gan.ui_seconds_to_recognisable``: the GAN tab's Train handler with its defaults, the
  seconds until its fixed-noise grid is recognisable (same rule as the VAE's; target 90 s).
- ``wavenet.fast_vs_naive_speedup`` and the other WaveNet figures: see ``bench_wavenet``.
- ``app.seconds_to_served_page``: from starting ``python app.py`` to its page answering.

``--only PART`` runs one part (vae, gan, boltzmann, autoregressive, wavenet or app).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models import GAN, RBM, VAE
from models.base import seeded_init
from playground.core.data import batches, load_mnist
from playground.core.device import describe_device, get_device
from playground.core.sessions import SessionRegistry
from playground.core.training import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent


def _plain_loop(model: VAE, x: torch.Tensor, steps: int, batch_size: int, lr: float, seed: int) -> float:
    """Seconds for ``steps`` Adam steps of the bare loop the trainer wraps."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator(device=x.device).manual_seed(seed)
    index_stream = batches(len(x), batch_size, generator)
    model.train()
    _sync(x.device)
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.loss(x[next(index_stream)], generator=generator)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    _sync(x.device)
    return time.perf_counter() - start


def _plain_gan_loop(model: GAN, x: torch.Tensor, steps: int, batch_size: int, lr: float, seed: int) -> float:
    """Seconds for ``steps`` steps of the textbook DCGAN loop on ``model``'s networks
    (non-saturating loss, k = 1), written without the trainer or ``GAN.train_step``."""
    generator = torch.Generator(device=x.device).manual_seed(seed)
    d_params = [*model.discriminator.parameters(), *model.d_head.parameters()]
    opt_d = torch.optim.Adam(d_params, lr=lr, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=lr, betas=(0.5, 0.999))
    index_stream = batches(len(x), batch_size, generator)

    def d(images: torch.Tensor) -> torch.Tensor:
        return model.d_head(model.discriminator(images * 2 - 1)).squeeze(1)

    model.train()
    _sync(x.device)
    start = time.perf_counter()
    for _ in range(steps):
        real = x[next(index_stream)]
        n = len(real)
        z = torch.randn(n, model.latent_dim, generator=generator, device=x.device)
        fake = (model.generator(z) + 1) / 2
        ones, zeros = torch.ones(n, device=x.device), torch.zeros(n, device=x.device)
        d_loss = F.binary_cross_entropy_with_logits(d(real), ones) + F.binary_cross_entropy_with_logits(d(fake.detach()), zeros)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        z = torch.randn(n, model.latent_dim, generator=generator, device=x.device)
        g_loss = F.binary_cross_entropy_with_logits(d((model.generator(z) + 1) / 2), ones)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
    _sync(x.device)
    return time.perf_counter() - start


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed_drain(make_run: Callable[[], object], device: torch.device) -> float:
    """Seconds to exhaust the generator ``make_run()`` returns (made before the clock
    starts, so building models is not timed), waiting for queued GPU work at both ends."""
    run = make_run()
    _sync(device)
    start = time.perf_counter()
    _drain(run)
    _sync(device)
    return time.perf_counter() - start


def _best_of(repeats: int, plain: Callable[[], float], other: Callable[[], float], name: str, steps: int, log: Callable[[str], None]) -> tuple[float, float]:
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


def _drain(run) -> None:
    for _ in run:
        pass


def bench_training(steps: int, repeats: int, log: Callable[[str], None]) -> dict:
    """The trainer against the plain loop on the bundled VAE's config."""
    device = get_device()
    data = load_mnist()
    x = data.train_binary.to(device)
    config = TrainConfig(steps=steps, **{k: v for k, v in VAE.train_defaults.items() if k != "steps"})
    best_plain, best_trainer = _best_of(
        repeats,
        lambda: _plain_loop(seeded_init(VAE, 0).to(device), x, steps, config.batch_size, config.lr, 0),
        lambda: _timed_drain(lambda: train(seeded_init(VAE, 0).to(device), data, config), device),
        "trainer", steps, log,
    )
    images = steps * config.batch_size
    return {
        "model": f"VAE {VAE().config}",
        "batch_size": config.batch_size,
        "steps_timed": steps,
        "plain_loop_images_per_s": round(images / best_plain, 1),
        "train_images_per_s": round(images / best_trainer, 1),
        "trainer_overhead": round(best_trainer / best_plain - 1, 4),
    }


def bench_gan(steps: int, repeats: int, log: Callable[[str], None]) -> dict:
    """GAN steps/s through the trainer and the tab's Train handler, each next to the plain
    DCGAN loop on the same networks."""
    from types import SimpleNamespace

    from playground.ui.tabs.gan import TRAIN_DEFAULTS, GanTab

    device = get_device()
    data = load_mnist()
    x = data.train_grey.to(device)
    defaults = GAN.train_defaults
    config = TrainConfig(steps=steps, lr=defaults["lr"], batch_size=defaults["batch_size"], log_every=25, sample_every=0, eval_every=0)
    best_plain, best_trainer = _best_of(
        repeats,
        lambda: _plain_gan_loop(seeded_init(GAN, 0).to(device), x, steps, config.batch_size, config.lr, 0),
        lambda: _timed_drain(lambda: train(seeded_init(GAN, 0).to(device), data, config), device),
        "trainer", steps, log,
    )
    tab = GanTab(_context())
    request = SimpleNamespace(session_hash="bench")
    ui = dict(TRAIN_DEFAULTS, steps=steps)
    ui_config = {k: ui[k] for k in ("latent_dim", "width", "minibatch_std", "d_dropout")}
    ui_plain, ui_handler = _best_of(
        repeats,
        lambda: _plain_gan_loop(seeded_init(GAN, 0, **ui_config).to(device), x, steps, 64, ui["lr_g"], 0),
        lambda: _timed_drain(lambda: tab.train(None, request=request, **ui), device),
        "Train handler", steps, log,
    )
    return {
        "model": f"DCGAN {GAN().config}",
        "batch_size": config.batch_size,
        "steps_timed": steps,
        "plain_loop_steps_per_s": round(steps / best_plain, 2),
        "train_steps_per_s": round(steps / best_trainer, 2),
        "trainer_overhead": round(best_trainer / best_plain - 1, 4),
        "ui_model": f"DCGAN width {ui['width']}, latent {ui['latent_dim']} (the tab's defaults)",
        "ui_plain_loop_steps_per_s": round(steps / ui_plain, 2),
        "ui_train_handler_steps_per_s": round(steps / ui_handler, 2),
        "ui_train_handler_overhead": round(ui_handler / ui_plain - 1, 4),
    }


def bench_gan_ui_training(budget_s: float, log: Callable[[str], None]) -> dict:
    """Seconds until the GAN tab's Train handler, run with the tab's defaults, shows
    recognisable digits (scoring time excluded)."""
    from types import SimpleNamespace

    from playground.ui.tabs.gan import TRAIN_DEFAULTS, GanTab

    tab = GanTab(_context())
    request = SimpleNamespace(session_hash="bench-gan")
    run = tab.train(None, request=request, **dict(TRAIN_DEFAULTS, steps=5000))
    return _time_to_recognisable(run, lambda out: (out[1], out[2]), lambda: tab.stop(request), budget_s, log)


def _time_to_recognisable(run, pick: Callable, stop: Callable, budget_s: float, log: Callable[[str], None]) -> dict:
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
                        "ui_recognisable_confident_share": round(quality["confident_share"], 3),
                        "ui_recognisable_n_classes": quality["n_classes_confident"],
                    }
            if elapsed > budget_s:
                return {"ui_seconds_to_recognisable": None, "ui_note": f"not recognisable within {budget_s:.0f} s"}
        return {"ui_seconds_to_recognisable": None, "ui_note": "training ended before its digits were recognisable"}
    finally:
        stop()
        _drain(run)


STROKE_SCORE = 0.6  # metrics.stroke_score: random filters 0, the first updates' blobs 0.1, the tab's 20-epoch defaults 0.7


def _plain_cd_loop(model: RBM, x: torch.Tensor, steps: int, batch_size: int, lr: float, seed: int) -> float:
    """Seconds for ``steps`` PCD-1 updates written out by hand (the textbook loop, no
    trainer): the reference for the trainer's overhead on an RBM."""
    g = torch.Generator(device=x.device).manual_seed(seed)
    chains = torch.bernoulli(torch.full((batch_size, 784), 0.5, device=x.device), generator=g)
    W, a, b = model.weight.detach(), model.visible_bias.detach(), model.hidden_bias.detach()
    velocity = [torch.zeros_like(t) for t in (W, a, b)]
    _sync(x.device)
    start = time.perf_counter()
    for _ in range(steps):
        v0 = x[torch.randint(len(x), (batch_size,), generator=g, device=x.device)].view(batch_size, -1)
        ph0 = torch.sigmoid(v0 @ W + b)
        h = torch.bernoulli(torch.sigmoid(chains @ W + b), generator=g)
        chains = torch.bernoulli(torch.sigmoid(h @ W.T + a), generator=g)
        phk = torch.sigmoid(chains @ W + b)
        grads = ((v0.T @ ph0 - chains.T @ phk) / batch_size - model.weight_decay * W, (v0 - chains).mean(0), (ph0 - phk).mean(0))
        for t, vel, grad in zip((W, a, b), velocity, grads):
            vel.mul_(model.momentum).add_(grad)
            t.add_(lr * vel)
    _sync(x.device)
    return time.perf_counter() - start


def bench_boltzmann(steps: int, repeats: int, quick: bool, log: Callable[[str], None]) -> dict:
    """RBM updates/s (trainer vs a hand-written PCD loop), Gibbs sampling and AIS speed,
    and the Train handler's time (tab defaults) until its filters look like strokes."""
    from types import SimpleNamespace

    from playground.core.metrics import stroke_score
    from playground.ui.tabs.boltzmann import TRAIN_DEFAULTS, BoltzmannTab

    device = get_device()
    data = load_mnist()
    x = data.train_binary.to(device)
    defaults = RBM.train_defaults
    config = TrainConfig(steps=steps, lr=defaults["lr"], batch_size=defaults["batch_size"], log_every=25, sample_every=0, eval_every=0, n_samples=1)
    best_plain, best_trainer = _best_of(
        repeats,
        lambda: _plain_cd_loop(seeded_init(RBM, 0).to(device), x, steps, config.batch_size, config.lr, 0),
        # n_gibbs=1: the trainer's final sample grid is not what is timed
        lambda: _timed_drain(lambda: train(seeded_init(RBM, 0, n_gibbs=1).to(device), data, config), device),
        "trainer", steps, log,
    )
    figures: dict = {
        "model": f"RBM {RBM().config}",
        "plain_loop_updates_per_s": round(steps / best_plain, 1),
        "train_updates_per_s": round(steps / best_trainer, 1),
        "trainer_overhead": round(best_trainer / best_plain - 1, 4),
    }
    model = seeded_init(RBM, 0).to(device).eval()
    n_gibbs = 100 if quick else 1000
    v = torch.bernoulli(torch.full((64, 784), 0.5, device=device))
    _sync(device)
    start = time.perf_counter()
    model.gibbs_chain(v, n_gibbs)
    _sync(device)
    figures["gibbs_seconds_64_chains_1000_steps"] = round((time.perf_counter() - start) * 1000 / n_gibbs, 2)
    n_betas = 200 if quick else 2000
    start = time.perf_counter()
    model.ais(n_betas=n_betas, n_runs=100, base_data=x)
    _sync(device)
    figures["ais_seconds_2000_betas_100_runs"] = round((time.perf_counter() - start) * 2000 / n_betas, 2)
    # Live training: the tab's defaults until the filters are stroke-like (stroke_score >= 0.6).
    tab = BoltzmannTab(_context())
    request = SimpleNamespace(session_hash="bench-boltzmann")
    run = tab.train(None, request=request, **dict(TRAIN_DEFAULTS, epochs=2 if quick else TRAIN_DEFAULTS["epochs"]))
    start = time.perf_counter()
    reached, score, scoring = None, 0.0, 0.0
    for output in run:
        elapsed = time.perf_counter() - start - scoring
        if not isinstance(output[2], np.ndarray):  # the "Starting…" update has no mosaic yet
            continue
        t0 = time.perf_counter()
        # The mosaic's tiles are the first 100 filters, each rescaled: correlation ignores that.
        tiles = grid_tiles(output[2], min(100, TRAIN_DEFAULTS["n_hidden"]), nrow=10)  # (100, 1, 28, 28)
        score = stroke_score(tiles.reshape(len(tiles), -1).T)
        scoring += time.perf_counter() - t0
        if reached is None and score >= STROKE_SCORE:
            reached = elapsed
            log(f"  stroke-like filters (score {score:.2f}) after {elapsed:.1f} s: {output[1]}")
    figures["ui_seconds_to_stroke_filters"] = None if reached is None else round(reached, 1)
    figures["ui_seconds_for_default_run"] = round(time.perf_counter() - start - scoring, 1)
    figures["ui_final_stroke_score"] = round(score, 3)
    return figures


# Test NLL (nats) after 90 s of training on 2 cores, on this split, of a popular
# reference zoo's models with their published configurations (issue 5 of the project).
ZOO_NLL_AFTER_90_S = {"nade": 111.1, "made": 103.6, "pixelcnn": 161.1, "gated_pixelcnn": 120.3}


def bench_autoregressive(budget_s: float, quick: bool, log: Callable[[str], None]) -> dict:
    """For each autoregressive family with the Train panel's defaults: training images/s,
    the exact test NLL after ``budget_s`` seconds of training (against the reference zoo's
    figure after 90 s), and samples/s drawing 64 (16 for PixelRNN; fewer when ``quick``)."""
    import threading

    from models import FAMILIES
    from playground.core.metrics import test_nll
    from playground.ui.tabs.autoregressive import FAMILIES as AR_FAMILIES
    from playground.ui.tabs.autoregressive import default_settings

    device = get_device()
    data = load_mnist()
    figures: dict = {"budget_s": budget_s}
    for family in AR_FAMILIES:
        d = default_settings(family)
        if family == "nade":
            config: dict = dict(n_hidden=d["size"])
        elif family == "made":
            config = dict(hidden_sizes=[d["size"]] * d["layers"], n_masks=d["masks"])
        else:
            config = dict(channels=d["size"], n_layers=d["layers"])
        model = seeded_init(FAMILIES[family], 0, **config).to(device)
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
        n_samples = (4 if quick else 16) if family == "pixelrnn" else (4 if quick else 64)
        _sync(device)
        t0 = time.perf_counter()
        model.sample(n_samples, generator=torch.Generator().manual_seed(0))
        _sync(device)
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


def _per_sample_s(model, n: int, method: str, prime: torch.Tensor | None, y: torch.Tensor | None) -> float:
    """Seconds per generated sample (batch of one clip) after a short warm-up."""
    model.sample(1, y, torch.Generator().manual_seed(1), n_samples=min(n, 20), method=method, prime=prime)
    _sync(model.device)
    start = time.perf_counter()
    model.sample(1, y, torch.Generator().manual_seed(0), n_samples=n, method=method, prime=prime)
    _sync(model.device)
    return (time.perf_counter() - start) / n


def bench_wavenet(quick: bool, log: Callable[[str], None]) -> dict:
    """WaveNet generation, one clip at a time (what the Generate panel does):

    - ``fast_vs_naive_speedup``: naive time per sample / fast time per sample for the
      bundled model's architecture (dilations 1..512, a receptive field of 1,024 samples),
      both primed with a full receptive field of audio, so that the naive generator
      recomputes all 1,024 positions for every sample, as it does after the first 128 ms;
      ``..._rf_2047``: the same for two stacks (1..512 twice);
    - ``fast_us_per_sample_by_layers``: the fast generator's cost per sample against the
      number of layers, with a least-squares line (``fast_linear_fit``: microseconds per
      layer, intercept and R^2);
    - ``real_time_factor``: seconds to generate one second of audio with the bundled model
      (fast, batch of one; below 1 is faster than real time), and ``batch_8_samples_per_s``.
    """
    from models.wavenet import WaveNet, receptive_field

    device = get_device()
    figures: dict = {"device": describe_device(device)}
    n_naive, n_fast = (20, 300) if quick else (200, 4000)
    for stacks, key in ((1, "fast_vs_naive_speedup"), (2, "fast_vs_naive_speedup_rf_2047")):
        model = seeded_init(WaveNet, 0, dilations=[2**i for i in range(10)] * stacks).to(device).eval()
        y = torch.zeros(1, dtype=torch.int64, device=device)
        prime = torch.randint(0, 256, (1, model.receptive_field), generator=torch.Generator().manual_seed(0)).to(device)
        naive = _per_sample_s(model, n_naive, "naive", prime, y)
        fast = _per_sample_s(model, n_fast, "fast", prime, y)
        figures[key] = round(naive / fast, 1)
        suffix = "" if stacks == 1 else "_rf_2047"
        figures[f"naive_samples_per_s{suffix}"] = round(1 / naive, 1)
        figures[f"fast_samples_per_s{suffix}"] = round(1 / fast, 1)
        log(f"  receptive field {model.receptive_field}: naive {1 / naive:.0f}/s, fast {1 / fast:.0f}/s, speed-up {naive / fast:.1f}x")
    by_layers = {}
    for n_layers in (5, 10, 20, 40):
        dilations = [2 ** (i % 10) for i in range(n_layers)]
        model = seeded_init(WaveNet, 0, dilations=dilations).to(device).eval()
        by_layers[n_layers] = round(1e6 * _per_sample_s(model, n_fast // 2, "fast", None, torch.zeros(1, dtype=torch.int64, device=device)), 1)
        log(f"  fast, {n_layers} layers (receptive field {receptive_field(dilations)}): {by_layers[n_layers]} us per sample")
    xs, ys = np.array(list(by_layers), float), np.array(list(by_layers.values()))
    slope, intercept = np.polyfit(xs, ys, 1)
    r2 = 1 - ((ys - (slope * xs + intercept)) ** 2).sum() / ((ys - ys.mean()) ** 2).sum()
    figures["fast_us_per_sample_by_layers"] = by_layers
    figures["fast_linear_fit"] = {"us_per_layer": round(float(slope), 1), "intercept_us": round(float(intercept), 1), "r2": round(float(r2), 4)}
    from playground.core import checkpoints

    model = checkpoints.load("wavenet", family="wavenet", device=device)
    rate = model.sample_rate_hz
    seconds = 0.25 if quick else 1.0
    y = torch.zeros(1, dtype=torch.int64, device=device)
    per_sample = _per_sample_s(model, round(seconds * rate), "fast", None, y)
    figures["real_time_factor"] = round(per_sample * rate, 3)
    figures["fast_samples_per_s_bundled"] = round(1 / per_sample, 1)
    start = time.perf_counter()
    model.sample(8, torch.arange(8, device=device), torch.Generator().manual_seed(0), n_samples=round(seconds * rate))
    _sync(device)
    figures["batch_8_samples_per_s"] = round(8 * seconds * rate / (time.perf_counter() - start), 1)
    log(f"  bundled model: real-time factor {figures['real_time_factor']} (1 s of audio at {rate} Hz), batch of 8: {figures['batch_8_samples_per_s']:.0f} samples/s")
    return figures


def _context():
    from playground.ui.widgets import AppContext

    return AppContext(get_device(), load_mnist(), SessionRegistry())


def _vae_tab():
    from playground.ui.tabs.vae import VaeTab

    return VaeTab(_context())


def bench_slider(tab, n_calls: int) -> dict:
    """Latency of the latent-slider handler of ``tab`` (a VaeTab), called as the UI calls it."""
    from playground.ui.tabs.vae import N_SLIDERS

    session = tab.session(None)
    rng = np.random.default_rng(0)
    times = []
    for i in range(n_calls + 10):
        values = rng.uniform(-3, 3, N_SLIDERS).round(2).tolist()
        start = time.perf_counter()
        tab.decode(session, *values)
        if i >= 10:  # warm-up calls are not counted
            times.append((time.perf_counter() - start) * 1000)
    return {"slider_p50_ms": round(float(np.percentile(times, 50)), 3), "slider_p95_ms": round(float(np.percentile(times, 95)), 3)}


RECOGNISABLE_SHARE = 0.5
RECOGNISABLE_CLASSES = 8


def grid_tiles(grid: np.ndarray, n: int, nrow: int = 8, size: int = 28, padding: int = 2) -> torch.Tensor:
    """Cut an ``image_grid`` picture back into its images (n, 1, size, size) in [0, 1]."""
    step = size + padding
    tiles = [
        grid[padding + step * (i // nrow) : padding + step * (i // nrow) + size, padding + step * (i % nrow) : padding + step * (i % nrow) + size]
        for i in range(n)
    ]
    return torch.from_numpy(np.stack(tiles)).float().div(255).unsqueeze(1)


def is_recognisable(images: torch.Tensor) -> tuple[bool, dict]:
    """Whether samples read as digits to the independent classifier (see module doc)."""
    from playground.core.metrics import sample_quality

    quality = sample_quality(images, load_mnist())
    ok = quality["confident_share"] >= RECOGNISABLE_SHARE and quality["n_classes_confident"] >= RECOGNISABLE_CLASSES
    return ok, quality


def bench_ui_overhead(tab, steps: int, repeats: int, log: Callable[[str], None]) -> dict:
    """The Train handler of ``tab`` (a VaeTab: the trainer plus its live images and
    curves) against the plain loop, for the model it trains by default."""
    from types import SimpleNamespace

    device = get_device()
    x = load_mnist().train_binary.to(device)
    request = SimpleNamespace(session_hash="bench")
    best_plain, best_handler = _best_of(
        repeats,
        lambda: _plain_loop(seeded_init(VAE, 0, latent_dim=16, arch="mlp", hidden_dim=512).to(device), x, steps, 128, 1e-3, 0),
        lambda: _timed_drain(lambda: tab.train(None, 16, "mlp", 1.0, 1e-3, steps, 0, request), device),
        "Train handler", steps, log,
    )
    return {
        "ui_plain_loop_steps_per_s": round(steps / best_plain, 1),
        "ui_train_handler_steps_per_s": round(steps / best_handler, 1),
        "ui_train_handler_overhead": round(best_handler / best_plain - 1, 4),
    }


def bench_ui_training(tab, budget_s: float, log: Callable[[str], None]) -> dict:
    """Seconds until the Train handler of ``tab`` (a VaeTab), run with the tab's
    defaults, shows recognisable digits (scoring time excluded)."""
    from types import SimpleNamespace

    request = SimpleNamespace(session_hash="bench")
    run = tab.train(None, 16, "mlp", 1.0, 1e-3, 5000, 0, request)
    return _time_to_recognisable(run, lambda out: (out[1], out[2]), lambda: tab.stop(request), budget_s, log)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_app(timeout_s: float = 180.0, env: dict | None = None, log_path: Path | None = None) -> Iterator[tuple[str, float]]:
    """Run ``python app.py`` in a subprocess on a free port until the block ends.

    Yields:
        ``(url, seconds)``: the page's URL and the seconds from starting the process to
        the page answering HTTP 200.

    Raises:
        RuntimeError: the process exits or serves no page within ``timeout_s``.
    """
    port = free_port()
    full_env = {
        **os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_ANALYTICS_ENABLED": "False", **(env or {}),
    }
    out = open(log_path, "w") if log_path else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with status {proc.returncode} before serving a page")
            if time.perf_counter() - start > timeout_s:
                raise RuntimeError(f"app.py served no page within {timeout_s:.0f} s")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        yield url, time.perf_counter() - start
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log_path:
            out.close()


def bench_app(n_calls: int, log: Callable[[str], None]) -> tuple[dict, dict]:
    """Start ``python app.py``; time it to a served page, then time slider round trips."""
    from gradio_client import Client

    with served_app() as (url, startup):
        log(f"  page served after {startup:.1f} s")
        client = Client(url, verbose=False)
        rng = np.random.default_rng(1)
        times = []
        for i in range(n_calls + 3):
            values = rng.uniform(-3, 3, 8).round(2).tolist()
            t0 = time.perf_counter()
            client.predict(*values, api_name="/vae_decode")
            if i >= 3:
                times.append((time.perf_counter() - t0) * 1000)
    roundtrip = {
        "slider_roundtrip_p50_ms": round(float(np.percentile(times, 50)), 1),
        "slider_roundtrip_p95_ms": round(float(np.percentile(times, 95)), 1),
    }
    return {"seconds_to_served_page": round(startup, 2)}, roundtrip


BENCH_PARTS = ("vae", "gan", "boltzmann", "autoregressive", "wavenet", "app")


def run_bench(quick: bool = False, log: Callable[[str], None] = print, only: str | None = None) -> dict:
    """All figures, nested by family (``--json`` prints this dict); ``only`` runs one
    part (one of ``BENCH_PARTS``).

    Raises:
        ValueError: an unknown part.
    """
    device = get_device()
    figures: dict = {"machine": {"device": describe_device(device), "torch": torch.__version__, "cpu_count": os.cpu_count()}}
    if only is not None and only not in BENCH_PARTS:
        raise ValueError(f"--only must be one of {', '.join(BENCH_PARTS)}, got {only!r}")

    def want(part: str) -> bool:
        return only is None or only == part

    if want("vae"):
        log("VAE training: trainer vs plain loop")
        figures["vae"] = bench_training(steps=20 if quick else 150, repeats=1 if quick else 3, log=log)
        tab = _vae_tab()
        log("VAE Train handler (live images and curves) vs plain loop")
        figures["vae"].update(bench_ui_overhead(tab, steps=60 if quick else 300, repeats=1 if quick else 2, log=log))
        log("VAE training from scratch in the UI: time to recognisable digits")
        figures["vae"].update(bench_ui_training(tab, budget_s=60, log=log))
        log("VAE latent slider handler")
        figures["vae"].update(bench_slider(tab, n_calls=30 if quick else 300))
    if want("gan"):
        log("GAN training: trainer and Train handler vs plain DCGAN loops")
        figures["gan"] = bench_gan(steps=10 if quick else 300, repeats=1 if quick else 2, log=log)
        log("GAN training from scratch in the UI: time to recognisable digits")
        figures["gan"].update(bench_gan_ui_training(budget_s=5 if quick else 90, log=log))
    if want("boltzmann"):
        log("Boltzmann machines: RBM updates, Gibbs sampling, AIS, live training to stroke-like filters")
        figures["boltzmann"] = bench_boltzmann(steps=20 if quick else 1000, repeats=1 if quick else 2, quick=quick, log=log)
    if want("autoregressive"):
        log("Autoregressive models: training speed, test NLL after 90 s of training, sampling speed")
        figures["autoregressive"] = bench_autoregressive(budget_s=3 if quick else 90, quick=quick, log=log)
    if want("wavenet"):
        log("WaveNet: fast against naive generation, cost per layer, real-time factor")
        figures["wavenet"] = bench_wavenet(quick, log)
    if want("app"):
        log("app start-up and slider round trips")
        app, roundtrip = bench_app(n_calls=5 if quick else 50, log=log)
        figures["app"] = app
        figures.setdefault("vae", {}).update(roundtrip)
    return figures

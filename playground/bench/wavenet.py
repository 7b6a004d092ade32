"""WaveNet's figures: fast against naive generation, cost per layer, real-time factor,
Stop-to-idle."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from models.base import seeded_init
from playground.bench.common import context, stop_to_idle, sync
from playground.core.device import describe_device, get_device
from playground.views.wavenet import CHANNELS, CONDITIONAL_DEFAULT, LAYERS, LR, SNIPPET_EVERY, SOURCES, STACKS, STEPS, WnViews


def _per_sample_s(model, n: int, method: str, prime: torch.Tensor | None, y: torch.Tensor | None) -> float:
    """Seconds per generated sample (batch of one clip) after a short warm-up."""
    model.sample(1, y, torch.Generator().manual_seed(1), n_samples=min(n, 20), method=method, prime=prime)
    sync(model.device)
    start = time.perf_counter()
    model.sample(1, y, torch.Generator().manual_seed(0), n_samples=n, method=method, prime=prime)
    sync(model.device)
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
    sync(device)
    figures["batch_8_samples_per_s"] = round(8 * seconds * rate / (time.perf_counter() - start), 1)
    log(f"  bundled model: real-time factor {figures['real_time_factor']} (1 s of audio at {rate} Hz), batch of 8: {figures['batch_8_samples_per_s']:.0f} samples/s")
    return figures




def bench(quick: bool, log: Callable[[str], None]) -> dict:
    """Every WaveNet figure (see ``bench_wavenet``) and the Train panel's Stop-to-idle."""
    log("WaveNet: fast against naive generation, cost per layer, real-time factor")
    figures = bench_wavenet(quick, log)
    log("WaveNet Train panel: Stop to idle")
    views = WnViews(context())
    defaults = (SOURCES[0], None, CHANNELS.default, LAYERS.default, STACKS.default, CONDITIONAL_DEFAULT, SNIPPET_EVERY.default, STEPS.default, LR.default, 0)
    figures.update(stop_to_idle(lambda stop: views.train(views.session(None), *defaults, stop=stop), [1.0] if quick else [0.5, 1.0, 2.0, 3.0], log, "wavenet"))
    return figures

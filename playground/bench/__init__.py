"""``python -m playground bench``: speed figures, measured in one run on this machine.
Each part is a module of this package; none needs gradio but the app's.

- ``vae.train_images_per_s`` through the trainer next to ``vae.plain_loop_images_per_s``
  for the same model, data, batch size and optimiser in a bare PyTorch loop, and their
  ratio ``vae.trainer_overhead`` (trainer time / plain time - 1; the target is <= 0.10).
- ``vae.slider_p50_ms`` / ``vae.slider_p95_ms``: the latent sliders' view, called directly
  (decode + image conversion; the target is p95 <= 30 ms), and ``vae.slider_roundtrip_*``
  through the running app with ``gradio_client`` (adds HTTP, queue and PNG encoding).
- ``vae.ui_train_handler_overhead``: the tab's training stream (the trainer plus the live
  sample grid, reconstructions and curves it yields) against the plain loop, for the MLP
  VAE the Train panel trains by default.
- ``vae.ui_seconds_to_recognisable``: training from scratch through the tab's training
  stream with the Train panel's defaults, the seconds until the fixed-noise sample grid it
  shows is recognisable: at least half of its 64 digits classified with softmax >= 0.9 and
  at least 8 classes among them (the time spent scoring is not counted).
- ``gan.train_steps_per_s`` through the trainer next to ``gan.plain_loop_steps_per_s``, a
  textbook DCGAN loop (BCE on D's logits, one D then one G Adam step) written directly on
  the same networks, for the bundled DCGAN's config; ``gan.trainer_overhead`` as for the
  VAE. ``gan.ui_train_handler_*``: the same for the GAN tab's training stream (live grid,
  two plots and progress frames) with the Train panel's defaults.
- ``gan.ui_seconds_to_recognisable``: the GAN tab's training stream with its defaults, the
  seconds until its fixed-noise grid is recognisable (same rule as the VAE's; target 90 s).
- ``<part>.stop_to_idle_s`` (and ``..._median_s``) for every tab with a Train button (and
  the lab's, the DBN's stacking, each autoregressive family): the seconds from Stop to the
  end of the training stream, Stop pressed at several moments of a run with the Train
  panel's defaults (``common.stop_to_idle``; the target is < 1 s).
- ``wavenet.fast_vs_naive_speedup`` and the other WaveNet figures: see ``wavenet.bench``.
- ``vqvae.vqvae.seconds_for_64_samples`` / ``vqvae.vqvae2....``: 64 digits drawn from each
  bundled VQ-VAE's prior (49 cells, 16 + 49 for VQ-VAE-2, not 784 pixels) and decoded
  (target <= 5 s); ``vqvae.edit_decode_p50_ms`` / ``_p95_ms`` for a one-cell code edit
  decoded, and ``vqvae.edit_view_*`` through the Code map's view; ``vqvae.ae_train_steps_per_s``
  and ``prior_train_steps_per_s`` with the Train panel's defaults; and
  ``vqvae.ui_seconds_to_recognisable_reconstructions``: its training stream from scratch
  until 7 of the 8 reconstructions it shows are read (softmax >= 0.9) as their originals'
  digits (target 30 s); with ``vqvae.stop_to_idle_s``.
- ``warmup.*``: each warm-up panel's answer time (target <= 1 s on 2 cores): Box-Muller,
  a maximum-likelihood slider move, E and M steps, 30 EM steps, 5 restarts and the BIC
  sweep on the most points a user may give (5,000), PPCA fits for K = 1-64 and a slider
  decode, the Bernoulli mixture's EM (with its exact test NLL), the AE-against-VAE grids;
  ``warmup.aevae_pair_steps_per_s`` and its ``stop_to_idle_s``.
- ``semisup.m1_first_call_s``: the Few labels panel's M1 table from an empty cache (target < 10 s on
  2 cores), with ``semisup.accuracy``, its test accuracies (mean and std over 5 seeds, %).
- ``app.seconds_to_served_page``: from starting ``python app.py`` to its page answering.
- ``loadtest.*``: a short run of ``python -m playground loadtest`` against that app (6 sessions over a 4 s
  ramp making light calls for 20 s while 1 session trains a VAE; quick: 3 sessions, 8 s): ``errors``,
  ``empty_outputs``, ``light_p50_s`` / ``_p95_s`` / ``_max_s``, the training's steps/s under load and alone,
  and the server's peak ``rss_mb`` (target on 2 cores, 30 sessions: 0 errors, 0 empty, p95 <= 1 s).

``--only PART`` runs one part (warmup, vae, gan, boltzmann, autoregressive, wavenet, vqvae, semisup or app; app includes the load test).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

from playground.bench import app, autoregressive, boltzmann, gan, loadtest, semisup, sequences, vae, vqvae, warmup, wavenet
from playground.bench.app import ROOT, served_app
from playground.core.device import describe_device, get_device

__all__ = ["BENCH_PARTS", "ROOT", "run_bench", "served_app"]

BENCH_PARTS = ("warmup", "vae", "gan", "boltzmann", "autoregressive", "wavenet", "sequences", "vqvae", "semisup", "app")


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

    parts = {"warmup": warmup, "vae": vae, "gan": gan, "boltzmann": boltzmann, "autoregressive": autoregressive, "wavenet": wavenet, "sequences": sequences, "vqvae": vqvae, "semisup": semisup}
    for name, part in parts.items():
        if only in (None, name):
            figures[name] = part.bench(quick, log)
    if only in (None, "app"):
        log("app start-up, slider round trips and a short load test")
        served, roundtrip, load = app.bench(n_calls=5 if quick else 50, log=log, then=lambda url: loadtest.bench(url, quick, log))
        figures["app"] = served
        figures.setdefault("vae", {}).update(roundtrip)
        figures["loadtest"] = load
    return figures

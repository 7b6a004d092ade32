"""The warm-up tab's figures: each panel's answer time against the 1 s target on 2 cores
(Box-Muller, a maximum-likelihood slider move, EM steps on 5,000 points, restarts and the
BIC sweep, the PPCA fit for K = 1-64 and a slider decode, the Bernoulli mixture's EM, the
autoencoder-against-VAE grids), the Bernoulli mixture's exact test NLL, and the
autoencoder-against-VAE training speed with Stop-to-idle."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import torch

from playground.bench.common import context, drain, stop_to_idle
from playground.core import toy2d
from playground.views.warmup import BIC_K, RESTARTS, WarmupViews

N_USER_POINTS = toy2d.MAX_POINTS  # the most points a user may give: the EM target is for these


def _timed(fn: Callable[[], object], repeats: int) -> dict:
    """p50 / p95 / max seconds of ``repeats`` calls of ``fn`` (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"p50_s": round(float(np.percentile(times, 50)), 4), "p95_s": round(float(np.percentile(times, 95)), 4), "max_s": round(max(times), 4)}


def _once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return round(time.perf_counter() - start, 3)


def _gaussian_panels(views: WarmupViews, repeats: int, log: Callable[[str], None]) -> dict:
    """Box-Muller, the MLE sliders and EM on the most points a user may give."""
    figures = {
        "box_muller_final_s": _timed(lambda: views.box_muller_final(), repeats),
        "box_muller_20000_points_s": _once(lambda: views.box_muller_final(20000, 0)),
    }
    session = views.session(None)
    figures["mle_slider_s"] = _timed(lambda: views.mle_view(session, 0.3, 0.8), repeats)
    session = views.mle_data(session, "ring", "2-D", 5000, 0)
    figures["mle_2d_5000_points_slider_s"] = _timed(lambda: views.mle_view(session, 0.0, 1.0, 0.0, 1.0, 0.2), repeats)
    points = toy2d.make_dataset("grid", N_USER_POINTS, 0).numpy()
    text = "\n".join(f"{x:.5f},{y:.5f}" for x, y in points)
    session = views.gmm_points(session, "csv_text", text)
    session, _ = views.gmm_reset(session, "csv", 10, "full", "k-means++", 0)
    figures["gmm_points"] = len(points)
    figures["gmm_reset_k10_s"] = _once(lambda: views.gmm_reset(session, "csv", 10, "full", "k-means++", 0))
    figures["gmm_e_step_k10_s"] = _timed(lambda: views.gmm_step(session, "E"), repeats)
    figures["gmm_m_step_k10_s"] = _timed(lambda: views.gmm_step(session, "M"), repeats)
    figures["gmm_run_first_frame_s"] = _once(lambda: next(views.gmm_run(session, 30)))  # (the run's frames are then paced, RUN_FRAME_S apart)
    views.gmm_reset(session, "csv", 10, "full", "k-means++", 0)
    figures["gmm_restarts_5_s"] = _once(lambda: views.gmm_restarts(session, 5))
    figures[f"gmm_restarts_{RESTARTS.high}_s"] = _once(lambda: views.gmm_restarts(session, RESTARTS.high))
    figures["gmm_bic_k1_to_8_s"] = _once(lambda: views.gmm_bic(session, 8))
    figures[f"gmm_bic_k1_to_{BIC_K.high}_s"] = _once(lambda: views.gmm_bic(session, BIC_K.high))
    log(f"  Box-Muller {figures['box_muller_final_s']['p95_s']} s p95; MLE slider {figures['mle_slider_s']['p95_s']} s; "
        f"EM on {len(points)} points, K = 10: E {figures['gmm_e_step_k10_s']['p95_s']} s, M {figures['gmm_m_step_k10_s']['p95_s']} s p95; "
        f"a run's first frame {figures['gmm_run_first_frame_s']} s; 5 restarts {figures['gmm_restarts_5_s']} s ({RESTARTS.high}: {figures[f'gmm_restarts_{RESTARTS.high}_s']} s); "
        f"BIC K = 1-8 {figures['gmm_bic_k1_to_8_s']} s (1-{BIC_K.high}: {figures[f'gmm_bic_k1_to_{BIC_K.high}_s']} s)")
    return figures


def _digit_panels(views: WarmupViews, repeats: int, log: Callable[[str], None]) -> dict:
    """PPCA (a cold fit per K), its slider, the Bernoulli mixture and the AE-against-VAE grids."""
    digits = views.digits
    figures = {"ppca_first_fit_s": _once(lambda: digits.ppca(16))}
    figures["ppca_fit_s_by_k"] = {k: _once(lambda k=k: digits.ppca(k)) for k in (1, 2, 8, 32, 64)}
    figures["ppca_slider_s"] = _timed(lambda: digits.ppca_decode(16, [0.5, -1.0, 0.0, 0.0, 0.0, 0.0]), repeats)
    session = digits.session(None)
    for k in (20, 100):
        start = time.perf_counter()
        for frame in digits.bmm_fit(session, k, 30, 0):
            session = frame[0]
        figures[f"bmm_k{k}_30_iterations_s"] = round(time.perf_counter() - start, 3)
        figures[f"bmm_k{k}_test_nll_nats"] = round(float(session.bmm.test_nll), 2)
    figures["aevae_grids_s"] = _timed(lambda: digits.latent_grids(session), max(3, repeats // 4))
    figures["aevae_scatters_s"] = _timed(lambda: digits.latent_scatters(session), max(3, repeats // 4))
    log(f"  PPCA first fit {figures['ppca_first_fit_s']} s, by K {figures['ppca_fit_s_by_k']}; slider {figures['ppca_slider_s']['p95_s']} s p95; "
        f"Bernoulli mixture K = 20: {figures['bmm_k20_30_iterations_s']} s, test NLL {figures['bmm_k20_test_nll_nats']} nats; "
        f"AE/VAE grids {figures['aevae_grids_s']['p95_s']} s p95")
    return figures


def _pair_training(views: WarmupViews, quick: bool, log: Callable[[str], None]) -> dict:
    """The autoencoder-against-VAE Train panel's defaults: steps per second of the pair, and Stop-to-idle."""
    digits = views.digits
    steps = 100 if quick else 400
    start = time.perf_counter()
    drain(digits.train_pair(digits.session(None), steps, 0, stop=threading.Event()))
    seconds = time.perf_counter() - start
    figures = {"aevae_train_steps": steps, "aevae_train_s": round(seconds, 2), "aevae_pair_steps_per_s": round(steps / seconds, 1)}
    figures.update(stop_to_idle(lambda stop: digits.train_pair(digits.session(None), 3000, 0, stop=stop), [0.5, 2.0] if quick else [0.5, 2.0, 4.0], log, "AE vs VAE"))
    log(f"  AE vs VAE: {steps} steps each in {figures['aevae_train_s']} s; Stop to idle {figures['stop_to_idle_s']} s")
    return figures


def bench(quick: bool, log: Callable[[str], None]) -> dict:
    """The warm-up figures (see the module docstring), on one thread-pool of this machine."""
    log("warm-up tab: panels against the 1 s target, EM on the most points a user may give, PPCA, mixtures, AE vs VAE")
    torch.manual_seed(0)
    views = WarmupViews(context())
    repeats = 5 if quick else 20
    return {**_gaussian_panels(views, repeats, log), **_digit_panels(views, repeats, log), **_pair_training(views, quick, log)}

"""The BEGAN page's views (a page of the GAN tab): samples G(z) of the bundled or a freshly
trained ``models.began.BEGAN`` beside D's reconstructions of them, the equilibrium figures
(L(x), L(G(z)), k, M_global) and a live training run whose convergence measure is plotted
as it learns (Berthelot, Schumm & Metz 2017, arXiv:1703.10717). No gradio here.

A page session (``BeganSession``; None gives one on the bundled checkpoint) holds the model
it shows; a training run replaces it when it ends. Every method checks the values it is
given (``ValueError`` with a readable sentence).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch

from models.base import seeded_init
from models.began import BEGAN, GAMMA_RANGE, LAMBDA_K_RANGE
from models.checks import SEED_MAX, Range, check_int
from playground.core import checkpoints, plots
from playground.core.training import TrainConfig
from playground.views.base import Context, final_status, history_entry, quality_line, stream_training, trained_name

CHECKPOINT = "began"
N_SHOWN = 32  # samples per picture (4 rows of 8), and as many reconstructions
N_FIGURES = 256  # test digits (and as many samples) behind the energies
STEPS = Range(20, 5000, 600)
LR = Range(1e-5, 1e-2, 5e-4, integer=False)
GAMMA = Range(*GAMMA_RANGE, 0.7, integer=False)
LAMBDA_K = Range(*LAMBDA_K_RANGE, 0.05, integer=False)
BATCH = 32
YIELD_EVERY_S = 0.5
CURVES = {"convergence": "M_global = L(x) + |γL(x) − L(G(z))|", "k": "k_t (equilibrium control, 0 to 1)", "balance": "γL(x) − L(G(z)) (0 at equilibrium)"}
TRAIN_CONFIG = dict(latent_dim=32, hidden_dim=32, width=16)  # the bundled checkpoint's networks


@dataclass(eq=False)
class BeganSession:
    """One browser session's BEGAN page: the model shown and its name ("bundled", or what a
    run here trained); ``lock`` is held while a run trains."""

    model: BEGAN
    name: str = "bundled"
    lock: threading.Lock = field(default_factory=threading.Lock)


class BeganViews:
    """What the BEGAN page computes (see the module docstring)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    @functools.cached_property
    def bundled(self) -> BEGAN:
        """The bundled checkpoint (loaded once, shared read-only by the sessions)."""
        return checkpoints.load(CHECKPOINT, family="began", device=self.ctx.device).eval()

    def session(self, state: Any) -> BeganSession:
        """The session in ``state``, or a new one on the bundled model."""
        return state if isinstance(state, BeganSession) else BeganSession(self.bundled)

    def restore(self, state: Any) -> BeganSession:
        """A session on the bundled model again.

        Raises:
            ValueError: the session is training.
        """
        if isinstance(state, BeganSession) and state.lock.locked():
            raise ValueError("the page is training: press Stop first")
        return BeganSession(self.bundled)

    # -- what is shown ------------------------------------------------------------------------------
    def samples(self, session: BeganSession, seed: Any = 0) -> tuple[np.ndarray, str]:
        """32 samples G(z) for z drawn with ``seed`` in [0, 2^31), and D's reconstructions of them.

        Returns:
            (picture, uint8: the samples (left, 4 rows of 8) and D(G(z)) (right); markdown: the
            judges' reading of the samples and the model's equilibrium figures, ``figures``).

        Raises:
            ValueError: a bad seed.
        """
        seed = check_int("seed", seed, 0, SEED_MAX)
        model = session.model
        with torch.no_grad():
            fake = model.sample(N_SHOWN, generator=torch.Generator().manual_seed(seed))
            picture = plots.side_by_side(plots.image_grid(fake, nrow=8), plots.image_grid(model.reconstruct(fake), nrow=8), gap=12)
        return picture, f"{quality_line(fake.cpu())}  \n{self.figures(session)}"

    def figures(self, session: BeganSession) -> str:
        """Markdown: the model's name and settings, mean L(x) over the first 256 test digits,
        mean L(G(z)) over 256 samples (seed 0), the balance, k and M_global."""
        model = session.model
        with torch.no_grad():
            x = self.ctx.data.images("test", "grey")[:N_FIGURES].to(model.device)
            t = model.loss(x, generator=torch.Generator().manual_seed(0))
        f = {k: float(v) for k, v in t.items()}
        return (
            f"**{session.name}** BEGAN, γ = {model.gamma:g}, λ_k = {model.lambda_k:g}. D's reconstruction error (mean |v − D(v)| per pixel, "
            f"0 to 1): real test digits L(x) **{f['recon_real']:.4f}**, samples L(G(z)) **{f['g_loss']:.4f}** "
            f"(equilibrium: γL(x) = {model.gamma * f['recon_real']:.4f}); k = **{f['k']:.4f}**; "
            f"convergence M_global = **{f['convergence']:.4f}**."
        )

    # -- training -----------------------------------------------------------------------------------
    def train(
        self, session: BeganSession, gamma: Any = GAMMA.default, lambda_k: Any = LAMBDA_K.default, steps: Any = STEPS.default,
        lr: Any = LR.default, seed: Any = 0, *, stop: threading.Event,
    ) -> Iterator[tuple[str, np.ndarray | None, str | None, go.Figure | None]]:
        """Train a new BEGAN from scratch on the digits: gamma (diversity ratio) in [0.05, 1], lambda_k (the gain of k) in [0, 0.1],
        steps in [20, 5000], learning rate in [1e-5, 0.01], seed in [0, 2^31); batches of 32 digits. Stop ends the run within a
        step and keeps the weights reached.

        Yields:
            (status markdown, samples picture, figures markdown, curves figure: M_global, k and the
            balance against step); None for what is unchanged. When the run ends with finite
            weights, the session shows the new model.

        Raises:
            ValueError: a setting out of range (nothing is changed), or a run already going.
        """
        gamma = GAMMA.check("γ (diversity ratio)", gamma)
        lambda_k = LAMBDA_K.check("λ_k (gain of k)", lambda_k)
        steps = STEPS.check("steps", steps)
        lr = LR.check("learning rate", lr)
        seed = check_int("seed", seed, 0, SEED_MAX)
        if not session.lock.acquire(blocking=False):
            raise ValueError("this page is already training: press Stop first")
        try:
            model = seeded_init(BEGAN, seed, **TRAIN_CONFIG, gamma=gamma, lambda_k=lambda_k).to(self.ctx.device)
            config = TrainConfig(
                steps=steps, lr=lr, seed=seed, batch_size=BATCH, log_every=5, sample_every=max(20, steps // 30), eval_every=0,
                n_samples=N_SHOWN, n_eval=N_FIGURES,
            )
            yield "Starting…", None, None, None
            yield from self._stream(session, model, config, stop)
        finally:
            session.lock.release()

    def _stream(self, session: BeganSession, model: BEGAN, config: TrainConfig, stop: threading.Event) -> Iterator[tuple]:
        """``train``'s updates from the trainer's events."""
        for event, history, learnt in stream_training(model, self.ctx.data, config, stop, lambda e: history_entry(e, {k: k for k in CURVES}), YIELD_EVERY_S):
            curves = plots.training_curves(history, CURVES)
            grid = plots.image_grid(event.samples, nrow=8) if event.samples is not None else None
            if not event.final:
                losses = event.losses
                line = f"step {event.step} of {config.steps} · M_global {losses['convergence']:.4f} · k {losses['k']:.4f} · balance {losses['balance']:+.4f}"
                yield line, grid, None, curves
                continue
            if learnt:
                session.model, session.name = model.eval(), trained_name(event, config.steps, config.seed)
            picture, figures = self.samples(session)
            yield final_status(event, learnt), picture, figures, curves

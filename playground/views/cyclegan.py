"""The CycleGAN page's views (a page of the GAN tab): x -> G(x) -> F(G(x)) strips of the
bundled or a freshly trained ``models.cyclegan.CycleGAN``, the trait before and after and
the cycle errors, and a live training run. No gradio here.

A page session (``CycleSession``; None gives one on the bundled checkpoint) holds the
model it shows; a training run replaces it when it ends. Every method checks the values
it is given (``ValueError`` with a readable sentence).
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
from models.checks import SEED_MAX, Range, check_choice, check_int
from models.cyclegan import BLOCKS_RANGE, DOMAIN_NAMES, DOMAINS, TRAIT_NAMES, WEIGHT_RANGE, CycleGAN
from playground.core import checkpoints, plots
from playground.core.training import TrainConfig
from playground.views.base import Context, final_status, history_entry, stream_training, trained_name

CHECKPOINT = "cyclegan"
N_SHOWN = Range(2, 12, 8)  # digits per strip
STEPS = Range(20, 3000, 300)
LR = Range(1e-5, 1e-2, 5e-4, integer=False)
CYCLE = Range(*WEIGHT_RANGE, 10.0, integer=False)
IDENTITY = Range(*WEIGHT_RANGE, 2.0, integer=False)
N_FIGURES = 200  # test digits behind the figures
BATCH = 32  # 16 A + 16 B digits per step
YIELD_EVERY_S = 0.5
CURVES = {"cycle": "cycle L1 (|F(G(a)) − a| + |G(F(b)) − b|)", "adversarial": "G's adversarial (LSGAN)", "d_loss": "D's loss (LSGAN)"}
TRAIN_WIDTH, TRAIN_BLOCKS = 16, BLOCKS_RANGE[0] + 2  # the bundled checkpoint's networks


@dataclass(eq=False)
class CycleSession:
    """One browser session's CycleGAN page: the model shown and its name ("bundled", or
    what a run here trained); ``lock`` is held while a run trains."""

    model: CycleGAN
    name: str = "bundled"
    lock: threading.Lock = field(default_factory=threading.Lock)


class CycleViews:
    """What the CycleGAN page computes (see the module docstring)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    @functools.cached_property
    def bundled(self) -> CycleGAN:
        """The bundled checkpoint (loaded once, shared read-only by the sessions)."""
        return checkpoints.load(CHECKPOINT, family="cyclegan", device=self.ctx.device).eval()

    def session(self, state: Any) -> CycleSession:
        """The session in ``state``, or a new one on the bundled model."""
        return state if isinstance(state, CycleSession) else CycleSession(self.bundled)

    def restore(self, state: Any) -> CycleSession:
        """A session on the bundled model again.

        Raises:
            ValueError: the session is training.
        """
        if isinstance(state, CycleSession) and state.lock.locked():
            raise ValueError("the page is training: press Stop first")
        return CycleSession(self.bundled)

    # -- what is shown ------------------------------------------------------------------------------
    def strips(self, session: CycleSession, start: Any = 0, n_shown: Any = N_SHOWN.default) -> tuple[np.ndarray, str]:
        """Test digits ``start`` .. ``start + n_shown - 1`` (``n_shown`` in [2, 12]) through the
        cycle both ways, and the figures over the first 200 test digits.

        Returns:
            (picture: two blocks of three rows, uint8, white ink on black: left a -> G(a) ->
            F(G(a)) for the digits as they are (domain A), right b -> F(b) -> G(F(b)) for
            their made-in-code B; markdown: trait before and after, cycle errors).

        Raises:
            ValueError: ``start`` or ``n_shown`` out of range.
        """
        n = N_SHOWN.check("digits shown", n_shown)
        x_test = self.ctx.data.images("test", "grey")
        start = check_int("first test digit", start, 0, len(x_test) - n)
        model = session.model
        with torch.no_grad():
            a = x_test[start : start + n].to(model.device)
            b = model.to_b(a)
            g_a, f_b = model.translate(a, "a2b"), model.translate(b, "b2a")
            left = plots.image_grid(torch.cat([a, g_a, model.translate(g_a, "b2a")]), nrow=n)
            right = plots.image_grid(torch.cat([b, f_b, model.translate(f_b, "a2b")]), nrow=n)
        return plots.side_by_side(left, right, gap=12), self.figures(session)

    def figures(self, session: CycleSession) -> str:
        """Markdown: the model's name and domains, the mean trait of a, G(a), b, F(b) over
        the first 200 test digits, the cycle errors and G(a)'s distance to the paired B."""
        model = session.model
        with torch.no_grad():
            f = model.test_figures(self.ctx.data.images("test", "grey")[:N_FIGURES].to(model.device))
        unit = TRAIT_NAMES[model.domain]
        return (
            f"**{session.name}** CycleGAN, {DOMAIN_NAMES[model.domain]}, λ = {model.cycle_weight:g}, identity weight {model.identity_weight:g}.  \n"
            f"Mean {unit} over {N_FIGURES} test digits: A (as drawn) **{f['trait_a']:.2f}** → G(A) **{f['trait_g_a']:.2f}** "
            f"(B made in code: {f['trait_b']:.2f}); B **{f['trait_b']:.2f}** → F(B) **{f['trait_f_b']:.2f}** (A: {f['trait_a']:.2f}).  \n"
            f"Cycle error (mean |pixel| difference, 0 to 1): A → B → A **{f['cycle_error_a']:.3f}**, B → A → B **{f['cycle_error_b']:.3f}**. "
            f"G(a) is {f['translation_error']:.3f} from the made-in-code B of the same digit, which training never paired with it "
            f"(a itself is {f['identity_gap']:.3f} from it)."
        )

    # -- training -----------------------------------------------------------------------------------
    def train(
        self, session: CycleSession, domain: Any = DOMAINS[0], steps: Any = STEPS.default, cycle_weight: Any = CYCLE.default,
        identity_weight: Any = IDENTITY.default, lr: Any = LR.default, seed: Any = 0, *, stop: threading.Event,
    ) -> Iterator[tuple[str, np.ndarray | None, str | None, go.Figure | None]]:
        """Train a new CycleGAN from scratch on unpaired digits (thickness: thin to thick strokes; slant: upright to slanted), steps in
        [20, 3000], lambda (cycle weight) and identity weight in [0, 100], learning rate in [1e-5, 0.01], seed in [0, 2^31); batches of
        16 A and 16 B digits. Stop ends the run within a step and keeps the weights reached.

        Yields:
            (status markdown, strips picture, figures markdown, curves figure); None for what
            is unchanged. When the run ends with finite weights, the session shows the new model.

        Raises:
            ValueError: a setting out of range (nothing is changed), or a run already going.
        """
        domain = check_choice("domain", domain, DOMAINS)
        steps = STEPS.check("steps", steps)
        cycle_weight = CYCLE.check("λ (cycle weight)", cycle_weight)
        identity_weight = IDENTITY.check("identity weight", identity_weight)
        lr = LR.check("learning rate", lr)
        seed = check_int("seed", seed, 0, SEED_MAX)
        if not session.lock.acquire(blocking=False):
            raise ValueError("this page is already training: press Stop first")
        try:
            model = seeded_init(
                CycleGAN, seed, domain=domain, width=TRAIN_WIDTH, n_blocks=TRAIN_BLOCKS, cycle_weight=cycle_weight, identity_weight=identity_weight,
            ).to(self.ctx.device)
            config = TrainConfig(steps=steps, lr=lr, seed=seed, batch_size=BATCH, log_every=5, sample_every=0, eval_every=max(50, steps // 5), n_samples=1, n_eval=N_FIGURES)
            yield "Starting…", None, None, None
            yield from self._stream(session, model, config, stop)
        finally:
            session.lock.release()

    def _stream(self, session: CycleSession, model: CycleGAN, config: TrainConfig, stop: threading.Event) -> Iterator[tuple]:
        """``train``'s updates from the trainer's events."""
        shown = CycleSession(model, "training")
        for event, history, learnt in stream_training(model, self.ctx.data, config, stop, lambda e: history_entry(e, {k: k for k in CURVES}), YIELD_EVERY_S):
            curves = plots.training_curves(history, CURVES)
            if not event.final:
                picture, figures = self.strips(shown)
                losses = event.losses
                yield f"step {event.step} of {config.steps} · cycle {losses['cycle']:.3f} · adversarial {losses['adversarial']:.3f} · D {losses['d_loss']:.3f}", picture, figures, curves
                continue
            if learnt:
                session.model, session.name = model.eval(), trained_name(event, config.steps, config.seed)
            picture, figures = self.strips(session)
            yield final_status(event, learnt), picture, figures, curves

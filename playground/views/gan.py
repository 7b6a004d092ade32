"""The GAN's views: samples, live training as a duel, interpolation, a latent walk, vector
arithmetic and class-conditional grids, for bundled, loaded or freshly trained DCGANs
(Radford, Metz & Chintala 2015, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks", arXiv:1511.06434) and conditional GANs
(Mirza & Osindero 2014, "Conditional Generative Adversarial Nets", arXiv:1411.1784), after
Goodfellow et al. 2014, "Generative Adversarial Nets", arXiv:1406.2661.

Every method takes the session (``GanSession``, or None for a new one on the bundled
DCGAN) and the panel's own settings, checks each setting and returns pictures (uint8
arrays), GIF paths, plotly figures or markdown. Samples picked in the galleries are
numbered in a *pool*: ``POOL_SIZE`` latents drawn from a seed, so a pick is reproducible
from (model, seed, number) alone and API clients need no state; those latent-space views
are in ``playground.views.gan_latent``. No gradio here.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from models.base import seeded_init
from models.checks import N_CLASSES, SEED_MAX, Range, check_bool, check_choice, check_int
from models.gan import D_STEPS_RANGE, GAN, LATENT_DIM_RANGE, LOSS_NAMES, LOSSES, ConditionalGAN
from playground.core import plots
from playground.core.data import MnistSplits
from playground.core.metrics import CONFIDENCE, JUDGES, agreed_confident, judge, sample_quality
from playground.core.plots import image_grid, save_animation
from playground.core.training import TrainConfig, TrainEvent
from playground.views.base import NOT_DIGITS, Card, FamilyViews, ModelView, Session, Step, final_status, history_entry, stream_training, trained_name
from playground.views.gan_latent import POOL_COLUMNS, POOL_SIZE, LatentPanels, check_digit

CONDITIONAL_CHECKPOINT = "cgan"
# The Train panel's settings.
STEPS = Range(1, 5000, 1500)
LR = Range(1e-5, 0.01, 2e-4, integer=False)  # G's and D's
D_STEPS = Range(*D_STEPS_RANGE, 1)
LATENT = Range(*LATENT_DIM_RANGE, 64)
DROPOUT = Range(0.0, 0.5, 0.0, integer=False)
WIDTHS = (16, 32, 48, 64)
# The Train panel's defaults, by the argument names of ``GanViews.train`` (the bench
# trains with them).
TRAIN_DEFAULTS: dict[str, Any] = dict(
    conditional=False, loss="non_saturating", d_steps=D_STEPS.default, lr_g=LR.default, lr_d=LR.default,
    latent_dim=LATENT.default, width=32, spectral_norm=False, minibatch_std=False, d_dropout=DROPOUT.default,
    steps=STEPS.default, seed=0,
)
# The panels' settings.
SWEEP_ROWS = Range(1, 12, 6)
DEFAULT_DIGIT = 3
YIELD_EVERY_S = 0.5
LOSS_CURVES = {"d_loss": "discriminator loss", "g_loss": "generator loss"}
D_CURVES = {"d_real": "mean D(x), real digits", "d_fake": "mean D(G(z)), generated"}  # one panel: no titles to collide
D_CANNOT_TELL = (0.5, "½: D can't tell")
N_QUALITY = 500

CARD = Card(
    title="Generative adversarial network (GAN)",
    kind="implicit density",
    teaches="A generator learns to fool a discriminator: it never computes p(x), yet its samples are sharp. Add and subtract their codes: thick 7 − thin 7 + thin 1.",
    try_first="Draw new samples",
    tab="gan-samples-tab",
    seconds=0.1,
)
# The guided tour: each step sets controls of the GAN tab (``GanTab`` attributes) and
# clicks a button or redraws a panel (``Tab.tour_panels``); each ends within seconds.
TOUR = (
    Step("Draw new samples", "Each digit is G(z) for a fresh random code z; no formula gives its probability p(x).", "gan-samples-tab", {"seed": 1}, "#gan-resample"),
    Step(
        "Add and subtract codes", "The mean code of thick 7s − thin 7s + thin 1s decodes as a thick 1: stroke width is a direction in z.",
        "gan-arith", {"pool_seed_a": 0}, "#gan-arith-preset",
    ),
    Step(
        "Walk between two samples", "Codes on the line (top) and on the great circle (bottom) from A to B all decode to digit-like images.",
        "gan-interp", {"pool_seed_i": 0, "index_a": 17, "index_b": 10, "n_steps": 10}, "interpolation",
    ),
    Step(
        "Same style, another digit", "A conditional GAN takes the digit as an input: each row on the right keeps one z as the label runs 0 to 9.",
        "gan-cond", {"digit": "7", "cond_seed": 3}, "conditional",
    ),
    Step("Watch mode collapse", "D learns 100 times faster than G: G's purple points crowd onto one or two of the eight green modes.", "gan-lab", {}, "#gan-lab-collapse"),
)


class GanView(ModelView):
    """A loaded GAN plus what is derived from it once (its sample quality). Never modified
    after it is made, so sessions can share the bundled ones."""

    model: GAN

    @property
    def conditional(self) -> bool:
        """Whether the model takes a digit label."""
        return self.model.conditional

    @torch.no_grad()
    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """G(z[, y]) on the CPU: (N, 1, 28, 28) float32 in [0, 1] for z (N, D); ``y``
        (N,) int64 is used only by a conditional model."""
        y = y.to(self.ctx.device) if (y is not None and self.conditional) else None
        return self.model.generate(z.to(self.ctx.device, torch.float32), y).cpu()

    @torch.no_grad()
    def generate_path(self, z: Tensor, weights: Tensor | None) -> Tensor:
        """G along a path of latents z (T, D): a conditional model with label weights
        (T, 10) blends its labels (``GAN.generate_mixed``); else plain ``generate``."""
        if not self.conditional or weights is None:
            return self.generate(z)
        return self.model.generate_mixed(z.to(self.ctx.device, torch.float32), weights.to(self.ctx.device)).cpu()

    def pool(self, seed: int) -> tuple[Tensor, Tensor | None]:
        """``POOL_SIZE`` latents from ``seed`` on the CPU, (60, D), and for a conditional
        model their labels (60,) (0..9 by column), else None."""
        z = torch.randn(POOL_SIZE, self.model.latent_dim, generator=torch.Generator().manual_seed(seed))
        y = torch.arange(POOL_SIZE) % POOL_COLUMNS if self.conditional else None
        return z, y

    def latents(self, n: int, seed: int) -> Tensor:
        """n latents (n, D) drawn on the CPU with ``seed``."""
        return torch.randn(n, self.model.latent_dim, generator=torch.Generator().manual_seed(seed))

    @functools.cached_property
    def quality(self) -> dict[str, Any]:
        """The independent judges' reading of 500 samples (seed 0): see
        ``metrics.sample_quality``. About a second on a CPU, so it is computed when a
        description first needs it, never at the end of a training run's Stop."""
        y = torch.arange(N_QUALITY) % N_CLASSES if self.conditional else None
        samples = self.generate(self.model.latents(N_QUALITY, torch.Generator(device=self.ctx.device).manual_seed(0)).cpu(), y)
        return sample_quality(samples, self.data, y)

    def describe(self) -> str:
        """Markdown: name, architecture, training recipe, size and sample quality."""
        m = self.model
        n_params = sum(p.numel() for p in m.parameters())  # G and D
        head = (
            f"**{self.name}** · {m.title} · loss {LOSS_NAMES[m.loss_kind]} · k = {m.d_steps} · latent {m.latent_dim} · "
            f"width {m.width}{' · spectral norm' if m.spectral_norm else ''}"
            f"{' · minibatch std in D' if m.minibatch_std else ''}{f' · D dropout {m.d_dropout:g}' if m.d_dropout else ''}"
            f" · {n_params / 1e6:.2f} M parameters{self.trained_on_note}. "
        )
        if not self.data.digits:
            return head + NOT_DIGITS
        q = self.quality
        agreement = f" · **{q['label_agreement_agreed']:.0%}** agreed-confident as the digit asked for" if "label_agreement_agreed" in q else ""
        return (
            f"{head}{N_QUALITY} samples: **{q['agreed_confident_share']:.0%}** agreed-confident (all {len(JUDGES)} judges p ≥ {CONFIDENCE:g} "
            f"on the same digit), {q['n_classes_agreed']} digits{agreement} · precision {q['precision']:.2f}, recall {q['recall']:.2f} "
            f"(Kynkäänniemi et al. 2019, in {q['features_judge']}'s features) · Fréchet distance {q['frechet_distance']:.0f} "
            f"(real digits: {q['frechet_distance_real']:.0f}){'' if self.conditional else digit_shares(q['agreed_class_counts'])}"
        )


def digit_shares(counts: list[int]) -> str:
    """Markdown naming the digits an unconditional G draws least and most often, among
    its agreed-confident samples (``counts``, 10 ints): mode dropping one can see
    (the training digits are 10% of each). Empty without confident samples."""
    total = sum(counts)
    if not total:
        return ""
    order = sorted(range(len(counts)), key=lambda d: counts[d])
    share = [f"{d} ({counts[d] / total:.0%})" for d in order]
    return f" · drawn least: {', '.join(share[:2])}; most: {', '.join(reversed(share[-2:]))} (the data: 10% each)"


def _progress(event: TrainEvent, total: int) -> str:
    """The status line of a running GAN: step, speed and what each player's loss and D
    say (D(x) on real digits, D(G(z)) on generated ones)."""
    x = event.losses
    return (
        f"step {event.step:,} / {total:,} · {event.step / max(event.elapsed_s, 1e-9):.0f} steps/s · D loss {x['d_loss']:.3f} · "
        f"G loss {x['g_loss']:.3f} · D(x) {x['d_real']:.2f} · D(G(z)) {x['d_fake']:.2f}"
    )


class GanSession(Session):
    """One browser session's GANs: the model every panel uses (slot ``"gan"``, a DCGAN or
    a cGAN), the session's own conditional GAN for the class-conditional panel (its last
    conditional model, None for the bundled cGAN), and the progress frames of its last
    training run."""

    def __init__(self, views: dict[str, ModelView]):
        super().__init__(views)
        self.conditional: GanView | None = None
        self.frames: list[np.ndarray] = []  # uint8 sample grids, one per progress event
        self.replay: str | None = None  # the frames as a GIF (path), made when first asked for
        self.readings: tuple[tuple, list[int]] | None = None  # the arithmetic's last (inputs, digits read)


class GanViews(LatentPanels, FamilyViews[GanSession]):
    """What the GAN tab's panels compute (see the module docstring)."""

    families = ("gan", "cgan")
    bundled = {"gan": "gan"}
    session_class = GanSession
    view_classes = {"gan": GanView, "cgan": GanView}

    def slot(self, model: GAN) -> str:
        """One slot for the session's model, conditional or not."""
        return "gan"

    def use(self, session: GanSession, view: ModelView) -> None:
        """A conditional model also becomes the class-conditional panel's."""
        super().use(session, view)
        if view.conditional:
            session.conditional = view

    def restore(self, session: GanSession) -> None:
        """The bundled DCGAN for every panel, the bundled cGAN for the class-conditional one."""
        super().restore(session)
        session.conditional = None

    def conditional_view(self, session: Any) -> GanView:
        """The model of the class-conditional panel: the session's model if it is
        conditional, else its last conditional one, else the bundled cGAN."""
        session = self.session(session)
        if session.view.conditional:
            return session.view
        return session.conditional or self.bundled_view(CONDITIONAL_CHECKPOINT)

    # -- samples -------------------------------------------------------------------------------
    def samples(self, session: Any, seed: Any = 0) -> np.ndarray:
        """Samples G(z) for z drawn with ``seed`` in [0, 2^31): an 8 x 8 grid (uint8), or
        for a conditional model 8 rows x 10 columns, column c asked for digit c.

        Raises:
            ValueError: a bad seed.
        """
        view = self.session(session).view
        n = 80 if view.conditional else 64
        z = view.latents(n, check_int("seed", seed, 0, SEED_MAX))
        y = torch.arange(n) % N_CLASSES if view.conditional else None
        return image_grid(view.generate(z, y), nrow=10 if view.conditional else 8)

    # -- training --------------------------------------------------------------------------------
    def train(
        self, session: GanSession, conditional: Any, loss: Any, d_steps: Any, lr_g: Any, lr_d: Any, latent_dim: Any, width: Any,
        spectral_norm: Any, minibatch_std: Any, d_dropout: Any, steps: Any, seed: Any, *, stop: threading.Event,
        data: MnistSplits | None = None,
    ) -> Iterator[tuple]:
        """Train a new DCGAN (or cGAN) from scratch on the train split of the images (the
        session's chosen images; default the digits), in batches of 64, streaming the duel.

        Args:
            conditional: train a cGAN (bool); loss: non_saturating, minimax or wgan_gp;
            d_steps: k, D steps per G step, in [1, 10]; lr_g, lr_d: learning rates in
            [1e-5, 0.01]; latent_dim: in [2, 256]; width: 16, 32, 48 or 64 channels;
            spectral_norm: on D (bool); minibatch_std: the minibatch standard deviation
            feature in D (bool); d_dropout: in [0, 0.5]; steps: in [1, 5000]; seed: int in
            [0, 2^31). stop: set to end the run (the weights reached are kept).

        Yields:
            (status markdown, fixed-noise sample grid, plotly D/G loss curves, plotly mean
            D(x) and D(G(z)) curves, the progress animation (GIF path, at the end of a run
            that was not stopped), the same path for download); None for what is
            unchanged. When the run ends (or is stopped) with finite weights, the
            session's model becomes the new one, named with the steps done, and its
            progress frames are kept (``animation`` makes their GIF after a Stop: a run
            ends at once when stopped).

        Raises:
            ValueError: a setting out of range (nothing is changed).
        """
        conditional = check_bool("conditional", conditional)
        loss = check_choice("loss", loss, LOSSES)
        d_steps = D_STEPS.check("k (D steps per G step)", d_steps)
        lr_g = LR.check("generator learning rate", lr_g)
        lr_d = LR.check("discriminator learning rate", lr_d)
        latent_dim = LATENT.check("latent size", latent_dim)
        width = check_int("width", width, min(WIDTHS), max(WIDTHS))
        spectral_norm = check_bool("spectral norm", spectral_norm)
        minibatch_std = check_bool("minibatch std", minibatch_std)
        d_dropout = DROPOUT.check("D dropout", d_dropout)
        steps = STEPS.check("steps", steps)
        seed = check_int("seed", seed, 0, SEED_MAX)
        config = TrainConfig(
            steps=steps, lr=lr_g, lr_d=lr_d, seed=seed, batch_size=64, log_every=10, sample_every=max(25, steps // 40 // 25 * 25),
            eval_every=max(100, steps // 10), n_samples=80 if conditional else 64, n_eval=256,
        )  # about 40 progress frames
        model = seeded_init(
            ConditionalGAN if conditional else GAN, seed, latent_dim=latent_dim, width=width, loss=loss, d_steps=d_steps,
            spectral_norm=spectral_norm, minibatch_std=minibatch_std, d_dropout=d_dropout,
        ).to(self.ctx.device)
        yield "Starting…", None, None, None, None, None
        yield from self._stream(session, model, config, stop, data)

    def _stream(self, session: GanSession, model: GAN, config: TrainConfig, stop: threading.Event, data: MnistSplits | None) -> Iterator[tuple]:
        """``train``'s updates from the trainer's events (see ``train``)."""
        frames: list[np.ndarray] = []
        keys = {k: k for k in (*LOSS_CURVES, *D_CURVES)}
        nrow = 10 if model.conditional else 8
        reference = None if model.loss_kind == "wgan_gp" else D_CANNOT_TELL  # a critic's values are not probabilities
        data = self.trains_on(model, data)
        for event, history, learnt in stream_training(model, data, config, stop, lambda e: history_entry(e, keys), YIELD_EVERY_S):
            grid = image_grid(event.samples, nrow=nrow) if event.samples is not None else None
            if grid is not None:
                frames.append(grid)
            curves = plots.training_curves(history, LOSS_CURVES), plots.curves_together(history, D_CURVES, reference, "D's output")
            if not event.final:
                yield _progress(event, config.steps), grid, *curves, None, None
                continue
            status, animation = final_status(event, learnt), None
            if learnt:
                view = GanView(model, trained_name(event, config.steps, config.seed), self.ctx, data)
                self.use(session, view)
                session.frames, session.replay = frames, None
                animation = None if event.status == "stopped" else self.animation(session)
                status += self._scored(view, event.status) + " This model is now used by every panel of the tab"
                status += f"; the animation below replays the {len(frames)} progress frames." if frames else "."
            yield status, grid, *curves, animation, animation

    @staticmethod
    def _scored(view: GanView, status: str) -> str:
        """The judges' reading of the new model for the final status; after a Stop
        it is left to the description (scoring 500 samples takes about a second)."""
        if not view.data.digits:
            return " " + NOT_DIGITS
        if status == "stopped":
            return " Its samples are scored in the description above."
        q = view.quality
        return f" The judges agree confidently on **{q['agreed_confident_share']:.0%}** of {N_QUALITY} samples, {q['n_classes_agreed']} digits, recall {q['recall']:.2f}."

    def animation(self, session: Any) -> str | None:
        """The session's last training run as a GIF of its progress grids (path; made
        once per run, up to a second for 40 frames), or None before any run."""
        session = self.session(session)
        if session.frames and (session.replay is None or not Path(session.replay).exists()):  # exports are pruned after hours
            session.replay = save_animation(session.frames, "gan-training", frame_ms=200)
        return session.replay

    # -- class-conditional ---------------------------------------------------------------------------
    def conditional_info(self, session: Any) -> str:
        """Markdown: which model the class-conditional panel uses, and how to read it."""
        session = self.session(session)
        view = self.conditional_view(session)
        which = (
            f"Uses your current model, {view.name}." if view is session.view
            else f"Uses {view.name} (your current model is not a conditional GAN)."
        )
        return which + " Left: styles of one digit. Right: each row keeps its z as the label runs 0–9: the style stays, the class changes."

    def digit_grid(self, session: Any, digit: Any, seed: Any = 0) -> tuple[np.ndarray, str]:
        """64 styles of one ``digit`` (0-9) from the class-conditional panel's model, z
        drawn with ``seed``: the 8 x 8 grid (uint8) and a line saying which model and how
        many all judges read confidently as that digit.

        Raises:
            ValueError: a bad digit or seed.
        """
        view = self.conditional_view(session)
        d = check_digit("digit", digit)
        images = view.generate(view.latents(64, check_int("seed", seed, 0, SEED_MAX)), torch.full((64,), d))
        mask, labels = agreed_confident(judge(images).probs)
        agree = float((mask & (labels == d)).float().mean())
        return image_grid(images, nrow=8), f"{view.name}: all {len(JUDGES)} judges read **{agree:.0%}** of these confidently as {d}."

    def label_sweep(self, session: Any, seed: Any = 0, n_rows: Any = SWEEP_ROWS.default) -> np.ndarray:
        """Fix z, sweep the label: ``n_rows`` in [1, 12] latents (rows, drawn with
        ``seed``) each drawn as digits 0..9 (columns) by the class-conditional panel's
        model. A row keeps its style (thickness, slant) across classes. A uint8 grid.

        Raises:
            ValueError: a bad seed or row count.
        """
        view = self.conditional_view(session)
        rows = SWEEP_ROWS.check("rows", n_rows)
        z = view.latents(rows, check_int("seed", seed, 0, SEED_MAX))
        images = view.generate(z.repeat_interleave(N_CLASSES, 0), torch.arange(N_CLASSES).repeat(rows))
        return image_grid(images, nrow=N_CLASSES)

"""The SRGAN page's views (a page of the GAN tab): 14x14 test digits brought to 28x28 by
bicubic upsampling, the pixel-loss-only network (SRResNet) and SRGAN, side by side with
the originals, with each one's PSNR and the judges' agreed-confident share; and a live
training run of a new ``models.srgan.SRGAN``. No gradio here.

A page session (``SRSession``; None gives one on the bundled checkpoint) holds the model
it shows and, once computed, its figures; a training run replaces both when it ends.
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
import torch.nn.functional as F

from models.base import seeded_init
from models.checks import SEED_MAX, Range, check_int
from models.srgan import ADV_RANGE, SRGAN, downsample, psnr
from playground.core import checkpoints, plots
from playground.core.metrics import agreed_confident, judge
from playground.core.training import TrainConfig
from playground.views.base import Context, final_status, history_entry, stream_training, trained_name

CHECKPOINT = "srgan"
N_SHOWN = Range(2, 12, 8)
STEPS = Range(20, 3000, 300)
LR = Range(1e-5, 1e-2, 5e-4, integer=False)
ADV = Range(*ADV_RANGE, 5e-3, integer=False)
N_FIGURES = 200  # test digits behind the figures
YIELD_EVERY_S = 0.5
METHODS = {"bicubic": "bicubic", "pixel": "pixel loss only (SRResNet)", "srgan": "SRGAN (content + adversarial)"}
ROWS = ("original 28×28", "input 14×14 (shown 2× nearest)", *METHODS.values())
CURVES = {"content": "SRGAN's content loss (pixel MSE)", "pixel_loss": "SRResNet's pixel MSE", "adversarial": "SRGAN's adversarial (nats)"}


@dataclass(eq=False)
class SRSession:
    """One browser session's SRGAN page: the model shown, its name, its figures (markdown,
    computed once per model) and a lock held while a run trains."""

    model: SRGAN
    name: str = "bundled"
    figures: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class SRViews:
    """What the SRGAN page computes (see the module docstring)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    @functools.cached_property
    def bundled(self) -> SRGAN:
        """The bundled checkpoint (loaded once, shared read-only by the sessions)."""
        return checkpoints.load(CHECKPOINT, family="srgan", device=self.ctx.device).eval()

    def session(self, state: Any) -> SRSession:
        """The session in ``state``, or a new one on the bundled model."""
        return state if isinstance(state, SRSession) else SRSession(self.bundled, figures=self._bundled_figures)

    @functools.cached_property
    def _bundled_figures(self) -> str:
        return self.figures(SRSession(self.bundled))

    def restore(self, state: Any) -> SRSession:
        """A session on the bundled model again. Raises ValueError: the session is training."""
        if isinstance(state, SRSession) and state.lock.locked():
            raise ValueError("the page is training: press Stop first")
        return self.session(None)

    # -- what is shown ------------------------------------------------------------------------------
    def compare(self, session: SRSession, start: Any = 0, n_shown: Any = N_SHOWN.default) -> tuple[np.ndarray, str]:
        """Test digits ``start`` .. ``start + n_shown - 1`` (``n_shown`` in [2, 12]), one
        column each: the original, the 14x14 input, bicubic, the pixel-loss network and
        SRGAN (rows, in that order); and the figures (``figures``).

        Raises:
            ValueError: ``start`` or ``n_shown`` out of range.
        """
        n = N_SHOWN.check("digits shown", n_shown)
        x_test = self.ctx.data.images("test", "grey")
        start = check_int("first test digit", start, 0, len(x_test) - n)
        x = x_test[start : start + n].to(session.model.device)
        rows = [x, F.interpolate(downsample(x), scale_factor=2, mode="nearest"), *self._outputs(session.model, x).values()]
        if session.figures is None:
            session.figures = self.figures(session)
        return plots.image_grid(torch.cat(rows), nrow=n), session.figures

    @staticmethod
    @torch.no_grad()
    def _outputs(model: SRGAN, x: torch.Tensor) -> dict[str, torch.Tensor]:
        low = downsample(x)
        return {which: model.upscale(low, which) for which in METHODS}

    def figures(self, session: SRSession, judges: bool = True) -> str:
        """Markdown: per method, the mean PSNR (dB) over the first 200 test digits, the
        largest |avgpool(output) - input| and, with ``judges``, the share the three judges
        all read with p >= 0.9 as the same digit, and as the right one (the originals' too)."""
        model = session.model
        x = self.ctx.data.images("test", "grey")[:N_FIGURES].to(model.device)
        labels = self.ctx.data.labels("test")[:N_FIGURES]
        outputs = {"original": x, **self._outputs(model, x)}
        lines = [
            f"**{session.name}** SRGAN (adversarial weight {model.adv_weight:g}, back-projection {'on' if model.consistent else 'off'}), "
            f"{N_FIGURES} test digits:",
            "",
            "| | PSNR (dB) | max \\|pool(out) − in\\| |" + (" judges agree, p ≥ 0.9 | … as the right digit |" if judges else ""),
            "|---|---|---|" + ("---|---|" if judges else ""),
        ]
        for key, out in outputs.items():
            name = METHODS.get(key, "original 28×28")
            row = "| — | 0 |" if key == "original" else f"| {float(psnr(out, x).mean()):.2f} | {float((downsample(out) - downsample(x)).abs().max()):.1e} |"
            if judges:
                mask, agreed = agreed_confident(judge(out.cpu()).probs)
                row += f" {float(mask.float().mean()):.0%} | {float((mask & (agreed == labels)).float().mean()):.0%} |"
            lines.append(f"| {name} {row}")
        return "\n".join(lines)

    # -- training -----------------------------------------------------------------------------------
    def train(
        self, session: SRSession, steps: Any = STEPS.default, adv_weight: Any = ADV.default, lr: Any = LR.default, seed: Any = 0,
        *, stop: threading.Event,
    ) -> Iterator[tuple[str, np.ndarray | None, str | None, go.Figure | None]]:
        """Train a new SRGAN and its pixel-loss-only twin from scratch on the digits: steps in [20, 3000], adversarial weight in
        [0, 1], learning rate in [1e-5, 0.01], seed in [0, 2^31); batches of 32. Stop ends the run within a step and keeps the
        weights reached.

        Yields:
            (status markdown, comparison picture, figures markdown, curves figure); None for
            what is unchanged. When the run ends with finite weights, the session shows the new model.

        Raises:
            ValueError: a setting out of range (nothing is changed), or a run already going.
        """
        steps = STEPS.check("steps", steps)
        adv_weight = ADV.check("adversarial weight", adv_weight)
        lr = LR.check("learning rate", lr)
        seed = check_int("seed", seed, 0, SEED_MAX)
        if not session.lock.acquire(blocking=False):
            raise ValueError("this page is already training: press Stop first")
        try:
            bundled = self.bundled.config
            model = seeded_init(SRGAN, seed, width=bundled["width"], n_blocks=bundled["n_blocks"], adv_weight=adv_weight).to(self.ctx.device)
            config = TrainConfig(steps=steps, lr=lr, seed=seed, batch_size=32, log_every=5, sample_every=0, eval_every=max(50, steps // 5), n_samples=1, n_eval=N_FIGURES)
            yield "Starting…", None, None, None
            yield from self._stream(session, model, config, stop)
        finally:
            session.lock.release()

    def _stream(self, session: SRSession, model: SRGAN, config: TrainConfig, stop: threading.Event) -> Iterator[tuple]:
        """``train``'s updates from the trainer's events."""
        shown = SRSession(model, "training")
        for event, history, learnt in stream_training(model, self.ctx.data, config, stop, lambda e: history_entry(e, {k: k for k in CURVES}), YIELD_EVERY_S):
            curves = plots.training_curves(history, CURVES)
            if not event.final:
                shown.figures = self.figures(shown, judges=False)
                picture, figures = self.compare(shown)
                losses = event.losses
                yield f"step {event.step} of {config.steps} · content {losses['content']:.4f} · SRResNet {losses['pixel_loss']:.4f} · D {losses['d_loss']:.3f}", picture, figures, curves
                continue
            if learnt:
                session.model, session.name, session.figures = model.eval(), trained_name(event, config.steps, config.seed), None
            picture, figures = self.compare(session)
            yield final_status(event, learnt), picture, figures, curves

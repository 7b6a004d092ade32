"""The Moving digits page's views (a page of the Sequences tab): the miniature Video Pixel
Network (``models.vpn``) continues a test clip of two bouncing digits, frame after frame, pixel
by pixel, shown under the true continuation; the NLL of every frame in nats (the first frame,
with no past, against the later ones); live training. No gradio here.

A page session (``MDSession``; None gives one on the bundled checkpoint) holds the model it
shows; a training run replaces it when it ends.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch

from models.base import seeded_init
from models.checks import SEED_MAX, Range, check_int
from models.vpn import VideoPixelNetwork
from playground.core import checkpoints, plots
from playground.core.moving_digits import moving_digits
from playground.core.training import TrainConfig
from playground.views.base import Context, final_status, history_entry, stream_training, trained_name
from playground.views.sequence_figures import cached

CHECKPOINT = "vpn"
GIVEN = Range(1, 8, 3)
NEW = Range(1, 6, 2)
STEPS = Range(20, 3000, 100)
LR = Range(1e-5, 0.05, 3e-3, integer=False)
CURVES = {"loss": "NLL (nats per frame)", "later": "NLL of frames 2-10 (nats)"}
YIELD_EVERY_S = 0.5


@dataclass(eq=False)
class MDSession:
    """One browser session's page: the model shown, its name, its test figures (once) and a lock held while a run trains."""

    model: VideoPixelNetwork
    name: str = "bundled"
    figures: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def strip(rows: list[torch.Tensor], n_frames: int) -> np.ndarray:
    """Rows of frames ((k, 32, 32) each, k <= n_frames; missing frames grey) as one picture."""
    frames = []
    for row in rows:
        padded = torch.full((n_frames, 32, 32), 0.35)
        padded[: len(row)] = row.cpu()
        frames.append(padded)
    return plots.image_grid(torch.cat(frames)[:, None], nrow=n_frames)


class MDViews:
    """What the Moving digits page computes (see the module docstring)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    @functools.cached_property
    def bundled(self) -> VideoPixelNetwork:
        """The bundled checkpoint (loaded once, shared read-only by the sessions)."""
        return checkpoints.load(CHECKPOINT, family=VideoPixelNetwork.family, device=self.ctx.device).eval()

    def session(self, state: Any) -> MDSession:
        """The session in ``state``, or a new one on the bundled model."""
        return state if isinstance(state, MDSession) else MDSession(self.bundled, figures=self._bundled_figures)

    @functools.cached_property
    def _bundled_figures(self) -> str:
        return cached("vpn", ("vpn",), lambda: self.figures(MDSession(self.bundled)))

    def restore(self, state: Any) -> MDSession:
        """A session on the bundled model again. Raises ValueError: the session is training."""
        if isinstance(state, MDSession) and state.lock.locked():
            raise ValueError("the page is training: press Stop first")
        return self.session(None)

    def clip(self, index: Any) -> torch.Tensor:
        """Test clip ``index`` (0 to 99): (10, 32, 32). Raises ValueError: out of range."""
        clips = moving_digits().test_clips
        return clips[check_int("test clip", index, 0, len(clips) - 1)]

    # -- what is shown ------------------------------------------------------------------------------
    def show(self, session: MDSession, index: Any = 0) -> tuple[np.ndarray, go.Figure]:
        """Test clip ``index``: its 10 frames (one row) and the NLL of each frame under the model (nats, a bar chart)."""
        clip = self.clip(index)
        with torch.no_grad():
            nll = session.model.frame_nll(clip[None].to(session.model.device))[0].cpu()
        return strip([clip], len(clip)), plots.bar_chart([f"frame {t + 1}" for t in range(len(clip))], nll.tolist(), "NLL of each frame given the frames before it", "nats")

    def figures(self, session: MDSession) -> str:
        """Markdown: the mean NLL (nats) of the first frame and of the later frames over the 100 test clips."""
        with torch.no_grad():
            nll = torch.cat([session.model.frame_nll(chunk.to(session.model.device)).cpu() for chunk in moving_digits().test_clips.split(20)])
        return (
            f"**{session.name} model, 100 test clips** (exact NLL, nats per frame): first frame **{float(nll[:, 0].mean()):.1f}** (no past: where are the digits?), "
            f"later frames **{float(nll[:, 1:].mean()):.1f}** (the past says where they move), whole clip {float(nll.sum(1).mean()):.0f} nats."
        )

    def predict(
        self, session: MDSession, index: Any = 0, given: Any = GIVEN.default, n_new: Any = NEW.default, seed: Any = 0,
        progress: Callable[[float, str], None] | None = None,
    ) -> Iterator[tuple[np.ndarray, str]]:
        """Continue test clip ``index`` (0 to 99) after its first ``given`` frames (1 to 8) by ``n_new``
        frames (1 to 6, at most 10 in all), each drawn pixel by pixel with ``seed``; yields (picture:
        row 1 the true clip, row 2 the given frames and the prediction so far; status) every 4 rows of pixels.

        Raises:
            ValueError: a value out of range.
        """
        clip = self.clip(index)
        given, n_new, seed = GIVEN.check("frames given", given), NEW.check("frames to predict", n_new), check_int("seed", seed, 0, SEED_MAX)
        if given + n_new > len(clip):
            raise ValueError(f"frames given plus frames to predict must be at most {len(clip)}, got {given + n_new}")
        start, total, done = time.perf_counter(), n_new * 32, 0
        for done, so_far in enumerate(session.model.predict(clip[None, :given], n_new, torch.Generator().manual_seed(seed)), 1):
            if done % 4 and done != total:
                continue
            if progress:
                progress(done / total, f"frame {given + (done - 1) // 32 + 1}, row {(done - 1) % 32 + 1} of 32")
            status = f"{done // 32} of {n_new} frames drawn ({done * 32:,} pixels, {time.perf_counter() - start:.1f} s)"
            yield strip([clip[: given + n_new], so_far[0]], given + n_new), status

    # -- training -----------------------------------------------------------------------------------
    def train(self, session: MDSession, steps: Any = STEPS.default, lr: Any = LR.default, seed: Any = 0, *, stop: threading.Event) -> Iterator[tuple]:
        """Train a new model (the bundled one's shape) on the moving digits: steps 20 to 3,000, learning rate 1e-5
        to 0.05, seed 0 to 2^31 - 1; batches of 8 clips. Stop ends the run within a step and keeps the weights reached.

        Yields:
            (status markdown, curves, figures markdown or None).

        Raises:
            ValueError: a value out of range (nothing is changed), or a run already going.
        """
        steps, lr, seed = STEPS.check("steps", steps), LR.check("learning rate", lr), check_int("seed", seed, 0, SEED_MAX)
        if not session.lock.acquire(blocking=False):
            raise ValueError("this page is already training: press Stop first")
        try:
            model = seeded_init(VideoPixelNetwork, seed, **self.bundled.config).to(self.ctx.device)
            config = TrainConfig(steps=steps, lr=lr, seed=seed, batch_size=8, log_every=2, sample_every=0, eval_every=0, n_samples=1, n_eval=8)
            yield "Starting…", None, None
            record = lambda e: history_entry(e, {"loss": "loss", "later": "later_frames"})  # noqa: E731
            for event, history, learnt in stream_training(model, moving_digits(), config, stop, record, YIELD_EVERY_S):
                curves = plots.training_curves(history, CURVES)
                if not event.final:
                    yield f"step {event.step} of {steps} · {event.losses['loss']:.1f} nats per frame (later frames {event.losses['later_frames']:.1f})", curves, None
                    continue
                if learnt:
                    session.model, session.name = model.eval(), trained_name(event, steps, seed)
                    session.figures = self.figures(session)
                yield final_status(event, learnt), curves, session.figures
        finally:
            session.lock.release()

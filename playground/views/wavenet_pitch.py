"""The Pitch contour page's views (a page of the Sequences tab): a WaveNet with local
conditioning (``models.wavenet_local``) follows a pitch curve that the user draws or picks;
the generated clip's pitch is tracked frame by frame and compared with the curve, in cents.
A live training run trains a new one. No gradio here.

A page session (``PitchSession``; None gives one on the bundled checkpoint) holds the model
it plays; a training run replaces it when it ends.
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
from models.mu_law import mu_law_decode
from models.wavenet_local import PitchWaveNet
from playground.core import checkpoints, plots
from playground.core.audio import to_wav
from playground.core.drawing import _as_array
from playground.core.pitch import FRAME_MS, HIGH_HZ, LOW_HZ, PRESETS, cents_error, contour_from_drawing, preset, synth_from_contour, synthetic_glides, track_pitch
from playground.core.training import TrainConfig
from playground.views.base import Context, final_status, history_entry, stream_training, trained_name

CHECKPOINT = "wavenet-pitch"
SECONDS = Range(0.2, 3.0, 1.5, integer=False)
TEMPERATURE = Range(0.1, 2.0, 1.0, integer=False)
STEPS = Range(20, 5000, 300)
LR = Range(1e-5, 0.05, 2e-3, integer=False)
SOURCES = ("preset", "my drawing")
YIELD_EVERY_S = 0.4
CURVES = {"nll": "NLL (nats per audio sample)"}


@dataclass(eq=False)
class PitchSession:
    """One browser session's Pitch contour page: the model it plays, its name, and a lock held while a run trains."""

    model: PitchWaveNet
    name: str = "bundled"
    lock: threading.Lock = field(default_factory=threading.Lock)


def ink_of(drawing: Any) -> np.ndarray:
    """(H, W) bool: where a Sketchpad value is drawn (dark strokes, on white or on transparent). Raises ValueError: not an image."""
    array = _as_array(drawing)
    grey = array[..., :3].mean(-1) if array.shape[2] >= 3 else array[..., 0]
    ink = grey < 0.5
    return ink & (array[..., 3] > 0.5) if array.shape[2] == 4 else ink


def contour_figure(target: np.ndarray, tracked: np.ndarray | None = None, reference: np.ndarray | None = None) -> go.Figure:
    """The target contour (Hz, log axis, against seconds), with the pitch tracked in the generated clip and in the reference tone."""
    t = (np.arange(len(target)) + 0.5) * FRAME_MS / 1000
    fig = go.Figure(go.Scatter(x=t, y=target, mode="lines", name="the curve to follow", line=dict(width=4, color="#999")))
    if reference is not None:
        fig.add_scatter(x=t, y=reference, mode="markers", name="exact tone (tracked)", marker=dict(size=4, color="#1f77b4", symbol="x"))
    if tracked is not None:
        fig.add_scatter(x=t, y=tracked, mode="markers", name="WaveNet (tracked)", marker=dict(size=6, color="#ff7f0e"))
    fig.update_layout(
        height=260, margin=dict(l=50, r=10, t=10, b=40), legend=dict(orientation="h", y=1.1, x=0),
        xaxis_title="seconds", yaxis=dict(title="pitch (Hz)", type="log", range=[np.log10(LOW_HZ * 0.9), np.log10(HIGH_HZ * 1.1)]),
    )
    return fig


def error_text(err: dict[str, float], what: str) -> str:
    """One line: median and mean |error| in cents and the share within 50 cents."""
    if not err["voiced"]:
        return f"{what}: silent, no pitch to track"
    return (
        f"{what}: median error **{err['median_cents']:.0f} cents**, mean {err['mean_cents']:.0f}, "
        f"{err['within_50']:.0%} of frames within 50 cents (a quarter tone), {err['voiced']:.0%} voiced"
    )


class PitchViews:
    """What the Pitch contour page computes (see the module docstring)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    @functools.cached_property
    def bundled(self) -> PitchWaveNet:
        """The bundled checkpoint (loaded once, shared read-only by the sessions)."""
        return checkpoints.load(CHECKPOINT, family=PitchWaveNet.family, device=self.ctx.device).eval()

    def session(self, state: Any) -> PitchSession:
        """The session in ``state``, or a new one on the bundled model."""
        return state if isinstance(state, PitchSession) else PitchSession(self.bundled)

    def restore(self, state: Any) -> PitchSession:
        """A session on the bundled model again. Raises ValueError: the session is training."""
        if isinstance(state, PitchSession) and state.lock.locked():
            raise ValueError("the page is training: press Stop first")
        return self.session(None)

    # -- the curve --------------------------------------------------------------------------------
    def contour(self, source: Any = "preset", name: Any = PRESETS[0], drawing: Any = None, seconds: Any = SECONDS.default) -> np.ndarray:
        """The contour (F,) Hz, one value per 10 ms over ``seconds`` (0.2 to 3): a preset by
        ``name``, or the user's ``drawing`` (a Sketchpad value: left to right is time, top 880
        Hz, bottom 110 Hz). Raises ValueError: an unknown source or preset, nothing drawn."""
        seconds = SECONDS.check("seconds", seconds)
        if source == "preset":
            return preset(name, seconds)
        if source == "my drawing":
            if drawing is None:
                raise ValueError("draw a pitch curve on the pad first (or pick a preset)")
            return contour_from_drawing(ink_of(drawing), seconds)
        raise ValueError(f"the curve must come from one of {', '.join(SOURCES)}, got {source!r}")

    def preview(self, source: Any = "preset", name: Any = PRESETS[0], drawing: Any = None, seconds: Any = SECONDS.default) -> tuple[str, go.Figure, str]:
        """The exact tone that follows the curve (a WAV path: what a perfect follower would
        play), the curve with that tone's tracked pitch, and a line on the tracker's own error."""
        target = self.contour(source, name, drawing, seconds)
        wave = synth_from_contour(target, np.random.default_rng(0))
        tracked = track_pitch(wave, len(target))
        path = to_wav(wave, 8000, checkpoints.new_export_dir() / "exact-tone.wav")
        return path, contour_figure(target, reference=tracked), error_text(cents_error(tracked, target), "The tracker on the exact tone")

    # -- generation -------------------------------------------------------------------------------
    def generate(
        self, session: PitchSession, source: Any = "preset", name: Any = PRESETS[0], drawing: Any = None, seconds: Any = SECONDS.default,
        temperature: Any = TEMPERATURE.default, seed: Any = 0, progress: Callable[[float, str], None] | None = None,
    ) -> Iterator[tuple[str | None, go.Figure | None, str]]:
        """Generate a clip that follows the curve (see ``contour``), sample by sample with the fast
        generator at ``temperature`` (0.1 to 2) and ``seed``; yields (None, None, status) as it
        goes, then (WAV path, the curve with the tracked pitch of the clip and of the exact tone,
        status with the tracking errors in cents, samples/s and the real-time factor).

        Raises:
            ValueError: a value out of range, an unknown preset or source, nothing drawn.
        """
        target = self.contour(source, name, drawing, seconds)
        temperature, seed = TEMPERATURE.check("temperature", temperature), check_int("seed", seed, 0, SEED_MAX)
        model = session.model
        n = len(target) * model.hop
        y = torch.from_numpy(target.astype(np.float32))[None]
        start = time.perf_counter()
        codes = None
        generator = torch.Generator().manual_seed(seed)
        for codes in model.generate(1, n, y, temperature=temperature, generator=generator, chunk=2000):
            done = codes.shape[1]
            if progress:
                progress(done / n, f"{done:,} of {n:,} samples")
            if done < n:
                yield None, None, f"generating: {done:,} of {n:,} samples"
        elapsed = time.perf_counter() - start
        wave = mu_law_decode(codes[0], model.n_codes).cpu().numpy()
        tracked = track_pitch(wave, len(target))
        exact = track_pitch(synth_from_contour(target, np.random.default_rng(0)), len(target))
        path = to_wav(wave, model.sample_rate_hz, checkpoints.new_export_dir() / f"wavenet-pitch-{seed}.wav")
        status = (
            f"{error_text(cents_error(tracked, target), 'WaveNet')}.  \n{error_text(cents_error(exact, target), 'The tracker on the exact tone')}.  \n"
            f"{n:,} samples in {elapsed:.1f} s: {n / elapsed:,.0f} samples/s, real-time factor {elapsed / (n / model.sample_rate_hz):.1f} ({session.name} model)"
        )
        yield path, contour_figure(target, tracked, exact), status

    def test_error(self, session: PitchSession, n_clips: int = 8, seed: int = 0) -> dict[str, float]:
        """Tracking error (cents) of clips generated for the first ``n_clips`` test contours (0.25 s each), pooled over their frames."""
        return synthetic_glides().test_figures(session.model, seed, n_clips)

    # -- training -----------------------------------------------------------------------------------
    def train(
        self, session: PitchSession, steps: Any = STEPS.default, lr: Any = LR.default, warm_start: Any = True, seed: Any = 0, *, stop: threading.Event,
    ) -> Iterator[tuple[str, go.Figure | None]]:
        """Train a new pitch-conditioned WaveNet (the bundled one's shape) on the synthetic tones:
        steps 20 to 5,000, learning rate 1e-5 to 0.05, seed 0 to 2^31 - 1; with warm_start true, its
        audio path starts from the bundled (class-conditioned) WaveNet's, so that only following
        the contour is left to learn. Batches of 8 clips of 0.25 s. Stop ends the run within a step.

        Yields:
            (status markdown, curves).

        Raises:
            ValueError: a value out of range (nothing is changed), or a run already going.
        """
        steps, lr, seed = STEPS.check("steps", steps), LR.check("learning rate", lr), check_int("seed", seed, 0, SEED_MAX)
        if not isinstance(warm_start, bool):
            raise ValueError("start from the bundled WaveNet must be true or false")
        if not session.lock.acquire(blocking=False):
            raise ValueError("this page is already training: press Stop first")
        try:
            model = seeded_init(PitchWaveNet, seed, **self.bundled.config).to(self.ctx.device)
            if warm_start:
                model.init_from(checkpoints.load("wavenet", family="wavenet", device=self.ctx.device))
            config = TrainConfig(steps=steps, lr=lr, seed=seed, batch_size=8, log_every=5, sample_every=0, eval_every=max(50, steps // 5), n_samples=1, n_eval=32)
            yield "Starting…", None
            record = lambda e: history_entry(e, {"nll": "nll"})  # noqa: E731
            for event, history, learnt in stream_training(model, synthetic_glides(), config, stop, record, YIELD_EVERY_S):
                curves = plots.training_curves(history, CURVES)
                if not event.final:
                    yield f"step {event.step} of {steps} · {event.losses['nll']:.3f} nats per audio sample", curves
                    continue
                if learnt:
                    session.model, session.name = model.eval(), trained_name(event, steps, seed)
                yield final_status(event, learnt) + " Press **Generate** to hear it follow the curve.", curves
        finally:
            session.lock.release()

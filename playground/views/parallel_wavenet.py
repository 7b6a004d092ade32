"""The Parallel WaveNet page's views (a page of the Sequences tab): the IAF student
(``models.parallel_wavenet``) makes a whole clip in one pass; a race against the teacher's
fast generator on the same clip; the teacher's log-likelihood of the student's samples beside
real clips' and its own; live distillation from the bundled teacher. No gradio here.

A page session (``PWSession``; None gives one on the bundled student) holds the student it
plays and its figures once computed; a training run replaces both when it ends.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go
import torch

from models.base import seeded_init
from models.checks import SEED_MAX, Range, check_int
from models.mu_law import mu_law_encode
from models.parallel_wavenet import ParallelWaveNet
from models.wavenet import WaveNet
from playground.core import checkpoints, plots
from playground.core.audio import CLASS_NAMES, synthetic_audio, to_wav
from playground.core.training import TrainConfig
from playground.views.base import Context, final_status, history_entry, stream_training, trained_name
from playground.views.sequence_figures import cached

CHECKPOINT = "parallel-wavenet"
SECONDS = Range(0.05, 5.0, 1.0, integer=False)
TEMPERATURE = Range(0.1, 2.0, 1.0, integer=False)
STEPS = Range(20, 5000, 200)
LR = Range(1e-5, 0.01, 1e-3, integer=False)
N_FIGURE_CLIPS = 20  # clips of 0.25 s behind the teacher's log-likelihoods (two per class)
YIELD_EVERY_S = 0.5
CURVES = {"kl": "KL(student ‖ teacher), nats per sample", "cross_entropy": "cross-entropy H(student, teacher)", "entropy": "entropy H(student)"}


@dataclass(eq=False)
class PWSession:
    """One browser session's page: the student shown, its name, its figures (markdown, once) and a lock held while a run trains."""

    model: ParallelWaveNet
    name: str = "bundled"
    figures: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _label(label: Any, n_classes: int) -> torch.Tensor:
    return torch.tensor([check_int("class", int(label) if isinstance(label, str) and label.isdigit() else label, 0, n_classes - 1)])


class PWViews:
    """What the Parallel WaveNet page computes (see the module docstring)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    @functools.cached_property
    def teacher(self) -> WaveNet:
        """The bundled WaveNet: the teacher (loaded once, read-only)."""
        return checkpoints.load("wavenet", family="wavenet", device=self.ctx.device).eval()

    @functools.cached_property
    def bundled(self) -> ParallelWaveNet:
        """The bundled student, its teacher attached."""
        return checkpoints.load(CHECKPOINT, family=ParallelWaveNet.family, device=self.ctx.device).eval().set_teacher(self.teacher)

    def session(self, state: Any) -> PWSession:
        """The session in ``state``, or a new one on the bundled student."""
        return state if isinstance(state, PWSession) else PWSession(self.bundled, figures=self._bundled_figures)

    @functools.cached_property
    def _bundled_figures(self) -> str:
        return cached("parallel-wavenet", ("parallel-wavenet", "wavenet"), lambda: self.figures(PWSession(self.bundled)))

    def restore(self, state: Any) -> PWSession:
        """A session on the bundled student again. Raises ValueError: the session is training."""
        if isinstance(state, PWSession) and state.lock.locked():
            raise ValueError("the page is training: press Stop first")
        return self.session(None)

    def teacher_nats(self, clips: torch.Tensor, y: torch.Tensor) -> float:
        """The teacher's mean log-likelihood of waveforms (n, T) in [-1, 1] with classes ``y``, nats per audio sample."""
        with torch.no_grad():
            return float(self.teacher.log_prob(mu_law_encode(clips.cpu()).to(self.teacher.device), y.to(self.teacher.device)).mean()) / clips.shape[1]

    # -- what is shown ------------------------------------------------------------------------------
    def generate(self, session: PWSession, label: Any = "5", seconds: Any = SECONDS.default, temperature: Any = TEMPERATURE.default, seed: Any = 0) -> tuple[str, go.Figure, str]:
        """One clip of class ``label`` (0 to 9: C4 to C5, chirp, melody) and ``seconds`` (0.05 to 5)
        in one parallel pass, noise scaled by ``temperature`` (0.1 to 2), drawn with ``seed``: (WAV
        path, spectrogram, status with the time, samples/s, real-time factor and the teacher's
        log-likelihood of the clip). Raises ValueError: a value out of range."""
        model = session.model
        y = _label(label, model.n_classes)
        seconds, temperature = SECONDS.check("seconds", seconds), TEMPERATURE.check("temperature", temperature)
        n = round(seconds * model.sample_rate_hz)
        start = time.perf_counter()
        wave = model.sample(1, y.to(model.device), torch.Generator().manual_seed(check_int("seed", seed, 0, SEED_MAX)), n_samples=n, temperature=temperature)[0].cpu()
        elapsed = time.perf_counter() - start
        path = to_wav(wave.numpy(), model.sample_rate_hz, checkpoints.new_export_dir() / f"parallel-wavenet-{seed}.wav")
        status = (
            f"**{CLASS_NAMES[int(y)]}**, {n:,} samples in one pass: {elapsed * 1000:.0f} ms, {n / elapsed:,.0f} samples/s, real-time factor "
            f"{elapsed / seconds:.3f} ({session.name} student). The teacher's log-likelihood of it: {self.teacher_nats(wave[None], y):.2f} nats per sample."
        )
        return path, plots.spectrogram_figure(wave.numpy(), model.sample_rate_hz), status

    def race(self, session: PWSession, label: Any = "5", seconds: Any = 0.5, seed: Any = 0) -> str:
        """The same clip length (0.05 to 5 s) and class by the student (one pass) and by the teacher's
        fast generator (sample by sample): a markdown table of seconds, samples/s, real-time factor,
        the speed-up and each clip's teacher log-likelihood. Raises ValueError: a value out of range."""
        model = session.model
        y = _label(label, model.n_classes)
        seconds, seed = SECONDS.check("seconds", seconds), check_int("seed", seed, 0, SEED_MAX)
        n = round(seconds * model.sample_rate_hz)
        rows, times = [], []
        for name, net in (("Parallel WaveNet (one pass)", model), ("WaveNet, fast generator (sample by sample)", self.teacher)):
            start = time.perf_counter()
            wave = net.sample(1, y.to(net.device), torch.Generator().manual_seed(seed), n_samples=n)[0].cpu()
            elapsed = time.perf_counter() - start
            times.append(elapsed)
            rows.append(f"| {name} | {elapsed:.3f} | {n / elapsed:,.0f} | {elapsed / seconds:.3f} | {self.teacher_nats(wave[None], y):.2f} |")
        return "\n".join([
            f"{seconds:g} s of {CLASS_NAMES[int(y)]} ({n:,} samples), same seed, {torch.get_num_threads()} CPU thread(s):", "",
            "| generator | seconds | samples/s | real-time factor | teacher's log-likelihood (nats/sample) |", "|---|---|---|---|---|", *rows, "",
            f"**The student is {times[1] / times[0]:,.0f}× faster.**",
        ])

    def figures(self, session: PWSession) -> str:
        """Markdown: the teacher's mean log-likelihood (nats per sample) of 20 real test clips, of 20 of
        its own samples and of 20 of the student's (0.25 s, two per class, seed 0): how likely the teacher
        finds what the student makes."""
        model, n = session.model, synthetic_audio().test_codes.shape[1]
        y = torch.arange(N_FIGURE_CLIPS) % model.n_classes
        real_idx = torch.cat([torch.nonzero(synthetic_audio().test_labels == c)[:2, 0] for c in range(model.n_classes)])
        real = synthetic_audio().test_codes[real_idx]
        with torch.no_grad():
            real_ll = float(self.teacher.log_prob(real.to(self.teacher.device), synthetic_audio().test_labels[real_idx].to(self.teacher.device)).mean()) / n
        own = self.teacher.sample(N_FIGURE_CLIPS, y.to(self.teacher.device), torch.Generator().manual_seed(0), n_samples=n).cpu()
        student = model.sample(N_FIGURE_CLIPS, y.to(model.device), torch.Generator().manual_seed(0), n_samples=n).cpu()
        return "\n".join([
            f"The teacher's log-likelihood, nats per audio sample ({N_FIGURE_CLIPS} clips of 0.25 s, two per class; higher: more like what the teacher would make):", "",
            "| clips | teacher's log-likelihood |", "|---|---|",
            f"| real test clips | {real_ll:.2f} |", f"| the teacher's own samples | {self.teacher_nats(own, y):.2f} |",
            f"| the student's samples ({session.name}) | {self.teacher_nats(student, y):.2f} |",
        ])

    # -- training -----------------------------------------------------------------------------------
    def train(self, session: PWSession, steps: Any = STEPS.default, lr: Any = LR.default, seed: Any = 0, *, stop: threading.Event) -> Iterator[tuple]:
        """Distil a new student (the bundled one's shape) from the bundled teacher: steps 20 to 5,000,
        learning rate 1e-5 to 0.01, seed 0 to 2^31 - 1; batches of 4 clips of 0.25 s. Stop ends the run
        within a step and keeps the weights reached.

        Yields:
            (status markdown, curves, figures markdown or None).

        Raises:
            ValueError: a value out of range (nothing is changed), or a run already going.
        """
        steps, lr, seed = STEPS.check("steps", steps), LR.check("learning rate", lr), check_int("seed", seed, 0, SEED_MAX)
        if not session.lock.acquire(blocking=False):
            raise ValueError("this page is already training: press Stop first")
        try:
            model = seeded_init(ParallelWaveNet, seed, **self.bundled.config).to(self.ctx.device).set_teacher(self.teacher)
            config = TrainConfig(steps=steps, lr=lr, seed=seed, batch_size=4, log_every=5, sample_every=0, eval_every=max(50, steps // 5), n_samples=1, n_eval=16)
            yield "Starting…", None, None
            for event, history, learnt in stream_training(model, synthetic_audio(), config, stop, lambda e: history_entry(e, {k: k for k in CURVES}), YIELD_EVERY_S):
                curves = plots.training_curves(history, CURVES)
                if not event.final:
                    losses = event.losses
                    yield f"step {event.step} of {steps} · KL {losses['kl']:.3f} = cross-entropy {losses['cross_entropy']:.3f} − entropy {losses['entropy']:.3f}", curves, None
                    continue
                if learnt:
                    session.model, session.name = model.eval(), trained_name(event, steps, seed)
                    session.figures = self.figures(session)
                yield final_status(event, learnt), curves, session.figures
        finally:
            session.lock.release()

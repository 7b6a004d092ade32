"""The WaveNet's views: a scale played on open, generation (fast or naive, primed with
the user's clip) with progress, the naive-against-fast race, mu-law against linear 8-bit
quantisation, the dilated stack and its receptive field, and live training on the
synthetic notes or the user's clip with a snippet every N steps.

van den Oord et al. 2016, "WaveNet: A Generative Model for Raw Audio", arXiv:1609.03499;
fast generation after Paine et al. 2016, "Fast Wavenet Generation Algorithm",
arXiv:1611.09482.

Every method takes the session (``WnSession``, or None for a new one on the bundled
model) and the panel's own settings, checks each setting (``ValueError`` with a readable
message) and returns WAV paths (16-bit PCM), plotly figures or markdown. The two lessons
that need no trained model (mu-law, the dilated stack) live in ``wavenet_lessons``. No
gradio here.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor

from models import WaveNet
from models.base import seeded_init
from models.checks import SEED_MAX, Range, check_bool, check_choice, check_int
from models.mu_law import mu_law_decode
from models.wavenet import MAX_GENERATE_SAMPLES, MAX_SAMPLE_RATE_HZ
from playground.core import checkpoints, plots
from playground.core.audio import CLASS_NAMES, CLIP_SECONDS, N_NOTE_CLASSES, N_TRAIN, NOTE_HZ, NOTE_NAMES, SAMPLE_RATE_HZ, clip_splits, dominant_frequency, join_clips, note_pitches, read_audio, synthetic_audio, to_wav
from playground.core.training import TrainConfig
from playground.views.base import Card, FamilyViews, ModelView, Progress, Session, Step, final_status, history_entry, stream_training, trained_name
from playground.views.wavenet_lessons import FIELD_LAYERS, FIELD_STACKS, KERNEL, RATE, dilation_text, mu_law_comparison, stack_diagram

# Generate and the race. Ten seconds at the model's highest rate is what it generates at most.
MAX_SECONDS = MAX_GENERATE_SAMPLES / MAX_SAMPLE_RATE_HZ
MAX_NAIVE_SECONDS = 0.5  # the naive generator recomputes the receptive field per sample
MAX_PRIME_SECONDS = 2.0
SECONDS = Range(0.01, MAX_SECONDS, 0.5, integer=False)
NAIVE_SECONDS = Range(0.01, MAX_NAIVE_SECONDS, 0.2, integer=False)
TEMPERATURE = Range(0.1, 2.0, 1.0, integer=False)  # the model takes [0.01, 5]
PRIME_SECONDS = Range(0.0, MAX_PRIME_SECONDS, 1.0, integer=False)
METHODS = ("fast", "naive")
NO_CLASS = "none"
GAP_S = 0.05  # silence between the clips of a scale or a snippet
UNCONDITIONAL_S = 2.0  # the "scale" of a model that takes no class
N_SCALES_KEPT = 8
# The Train panel's settings.
SOURCES = ("synthetic notes", "my clip")
CHANNELS = Range(4, 64, 32)
LAYERS = Range(1, 12, 10)
STACKS = Range(1, 3, 1)
CONDITIONAL_DEFAULT = True
SNIPPET_EVERY = Range(25, 2000, 250)
STEPS = Range(50, 20_000, 600)
LR = Range(1e-5, 0.1, 2e-3, integer=False)
BATCH_SIZE = 8
N_EVAL = 200
YIELD_EVERY_S = 0.3
CURVES = {"bits": "NLL (bits per sample)"}
# What the bundled WaveNet learnt from (the Train panel's "synthetic notes"): said on the tab and its card.
DATA_TEXT = (
    f"{N_TRAIN:,} synthetic clips of {CLIP_SECONDS:g} s at {SAMPLE_RATE_HZ / 1000:g} kHz, made in code: the notes C4…C5, chirps and "
    f"three-note melodies (one class each)"
)
# The home card and the guided tour (values: the WaveNetTab's controls; each step runs in a few seconds on 2 cores).
CARD = Card(
    title="WaveNet",
    kind="explicit density · tractable (autoregressive, audio)",
    teaches=(
        f"Sound, one sample at a time: each of {SAMPLE_RATE_HZ:,} a second is a 256-way guess from the last 128 ms. "
        f"Learnt from {N_TRAIN:,} synthetic {CLIP_SECONDS:g} s clips at {SAMPLE_RATE_HZ / 1000:g} kHz (notes, chirps, melodies)."
    ),
    try_first="Play a scale",
    tab="wn-scale",
    seconds=1.0,
)
TOUR = (
    Step(
        "Play a scale", "Each note is asked for by its class and made one sample at a time. In the spectrogram the lowest bright line (the pitch) steps up note by note.",
        "wn-scale", {"scale_seed": 3}, "#wn-scale-run",
    ),
    Step(
        "Hear mu-law against linear", "A quiet note in 8 bits two ways: play linear (a harsh buzz), then mu-law (clean). Mu-law spends its 256 levels near silence.",
        "wn-mulaw", {"m_label": "0", "m_upload": None, "m_level": -40.0, "m_seed": 0}, "mu_law",
    ),
    Step(
        "See the receptive field grow", "Dilations 1, 2, 4, …, 512: ten layers see 1,024 past samples (128 ms); without dilation, 11. Bold: what the newest output (red) depends on.",
        "wn-field", {"r_layers": 10, "r_stacks": 1, "r_kernel": 2, "r_rate": SAMPLE_RATE_HZ, "r_custom": ""}, "field",
    ),
    Step(
        "Generate a clip", "Half a second of A4 (440 Hz), one sample after another: watch the waveform grow, then play it. After 0.25 s (its training clips) it improvises.",
        "wn-generate", {"g_seconds": 0.5, "g_temp": 1.0, "g_label": "5", "g_prime": None, "g_method": "fast", "g_seed": 0}, "#wn-generate-run",
    ),
)


def _export_path(name: str) -> Path:
    return checkpoints.new_export_dir() / name


class WnView(ModelView):
    """A loaded WaveNet with its display name; read-only, so sessions share the bundled one."""

    model: WaveNet

    def __init__(self, model: WaveNet, name: str, ctx: Any):
        super().__init__(model, name, ctx)
        self._scales: dict[int, tuple[np.ndarray, str]] = {}  # seed -> scale, oldest first

    def class_names(self) -> list[str]:
        """The name of each class id (the synthetic set's for a 10-class model)."""
        n = self.model.n_classes
        return list(CLASS_NAMES) if n == len(CLASS_NAMES) else [f"class {i}" for i in range(n)]

    def plays_notes(self) -> bool:
        """Whether the model takes the synthetic set's classes (C4..C5, chirp, melody)."""
        return self.model.conditional and self.model.n_classes == len(CLASS_NAMES)

    def scale(self, seed: int) -> tuple[np.ndarray, str]:
        """What ``WnViews.scale`` plays for ``seed``: (waveform (T,) float32 in [-1, 1] at
        the model's rate, markdown). Made once per seed (the model never changes, and a
        change of model redraws the scale); the last ``N_SCALES_KEPT`` seeds are kept."""
        if seed not in self._scales:
            self._scales[seed] = self._make_scale(seed)
            while len(self._scales) > N_SCALES_KEPT:
                self._scales.pop(next(iter(self._scales)))
        return self._scales[seed]

    def _make_scale(self, seed: int) -> tuple[np.ndarray, str]:
        model, rate = self.model, self.model.sample_rate_hz
        generator = torch.Generator().manual_seed(seed)
        start = time.perf_counter()
        if not self.plays_notes():
            y = torch.zeros(1, dtype=torch.int64, device=model.device) if model.conditional else None
            wave = model.sample(1, y, generator, n_samples=round(UNCONDITIONAL_S * rate)).cpu()[0].numpy()
            return wave, f"{UNCONDITIONAL_S:g} s generated in {time.perf_counter() - start:.1f} s."
        y = torch.arange(N_NOTE_CLASSES, device=model.device)
        clips = model.sample(N_NOTE_CLASSES, y, generator, n_samples=round(CLIP_SECONDS * rate)).cpu()
        elapsed = time.perf_counter() - start
        heard, right = note_pitches(clips, y.tolist(), rate)
        pitches = ", ".join(f"{n} {f:.0f} Hz {'✓' if ok else '✗'}" for n, f, ok in zip(NOTE_NAMES, heard, right))
        text = (
            f"The C major scale, each note asked for by its class and generated sample by sample "
            f"({N_NOTE_CLASSES} × {clips.shape[1]:,} samples in {elapsed:.1f} s, in parallel). Pitch heard (FFT peak): {pitches}"
        )
        return join_clips(clips, rate, GAP_S), text

    def describe(self) -> str:
        """One markdown line: name, layers, receptive field, classes, parameters."""
        m = self.model
        n_params = sum(p.numel() for p in m.parameters())
        classes = f"conditioned on {m.n_classes} classes" if m.conditional else "unconditional"
        return (
            f"**WaveNet**: {self.name} · {m.n_layers} layers (dilations {dilation_text(m.dilations)}), "
            f"{m.residual_channels} residual / {m.skip_channels} skip channels · receptive field **{m.receptive_field:,} samples "
            f"= {m.receptive_field_ms:.0f} ms** at {m.sample_rate_hz / 1000:g} kHz · {classes} · {n_params / 1e3:,.0f} k parameters"
        )


class WnSession(Session):
    """One browser session's WaveNet (slot ``"wavenet"``)."""


class WnViews(FamilyViews[WnSession]):
    """What the WaveNet tab's panels compute (see the module docstring)."""

    families = ("wavenet",)
    bundled = {"wavenet": "wavenet"}
    session_class = WnSession
    view_classes = {"wavenet": WnView}

    def classes(self, session: Any) -> tuple[list[tuple[str, str]], str]:
        """The class picker for the session's model: ((name, value) choices, the value
        chosen first); one choice ``"none"`` for an unconditional model."""
        view = self.session(session).view
        if not view.model.conditional:
            return [("none (unconditional model)", NO_CLASS)], NO_CLASS
        return [(name, str(i)) for i, name in enumerate(view.class_names())], "0"

    @staticmethod
    def _label(model: WaveNet, value: Any, n: int) -> Tensor | None:
        """Class ids (n,) from a picker's value (a class id, or "none" for an unconditional model)."""
        if not model.conditional:
            if value not in (None, "", NO_CLASS):
                raise ValueError("this WaveNet is unconditional: choose the class “none”")
            return None
        if value in (None, "", NO_CLASS):
            raise ValueError(f"this WaveNet is conditional: choose a class 0-{model.n_classes - 1}")
        label = check_int("class", value, 0, model.n_classes - 1)
        return torch.full((n,), label, dtype=torch.int64, device=model.device)

    def thumbnail(self, session: Any) -> str:
        """The home card's clip: the scale of seed 0 (a WAV path), made once per model
        (``WnView.scale``), so the card and the Scale sub-tab share one generation."""
        view = self.session(session).view
        wave, _ = view.scale(0)
        return to_wav(wave, view.model.sample_rate_hz, _export_path("wavenet-scale-0.wav"))

    # -- a scale, at once ---------------------------------------------------------------------
    def scale(self, session: Any, seed: Any = 0) -> tuple[str, go.Figure, str]:
        """The eight notes C4-C5, each 0.25 s, generated in parallel (fast generation),
        played one after the other 50 ms apart; a model without the synthetic classes
        plays one 2 s clip (class 0 if it is conditional). ``seed`` in [0, 2^31).

        Returns:
            (WAV path, spectrogram figure, markdown: the pitch heard in each note).

        Raises:
            ValueError: a bad seed.
        """
        seed = check_int("seed", seed, 0, SEED_MAX)
        view = self.session(session).view
        wave, text = view.scale(seed)
        rate = view.model.sample_rate_hz
        return to_wav(wave, rate, _export_path(f"wavenet-scale-{seed}.wav")), plots.spectrogram_figure(wave, rate), text

    # -- generate ------------------------------------------------------------------------------
    @staticmethod
    def _prime(model: WaveNet, path: Any, seconds: float) -> tuple[Tensor | None, list[str]]:
        """The last ``seconds`` of the user's clip as codes (1, P), with notes on reading it."""
        if not path or seconds == 0:
            return None, []
        clip = read_audio(str(path), model.sample_rate_hz)
        keep = max(1, round(seconds * model.sample_rate_hz))
        return clip.codes()[-keep:][None].to(model.device), list(clip.notes)

    def generate(
        self, session: Any, seconds: Any = SECONDS.default, temperature: Any = TEMPERATURE.default, label: Any = "0",
        prime: Any = None, prime_seconds: Any = PRIME_SECONDS.default, method: Any = "fast", seed: Any = 0,
        progress: Progress | None = None,
    ) -> Iterator[tuple[str | None, go.Figure, go.Figure | None, str]]:
        """Generate one clip sample by sample, streaming.

        Args:
            seconds: new audio, in [0.01, 10] (naive generation: at most 0.5).
            temperature: of the softmax, in [0.1, 2].
            label: a class id (conditional model) or "none".
            prime: an audio file to continue (optional); its last ``prime_seconds`` in
                [0, 2] are teacher-forced first.
            method: "fast" or "naive". seed: in [0, 2^31).
            progress: called with (fraction done, "n / N samples") as it generates.

        Yields:
            (WAV path, or None until the end; waveform figure (so far); spectrogram figure,
            or None until the end; status markdown with samples/s and, at the end, the
            real-time factor), about every 0.3 s.

        Raises:
            ValueError: a value out of range, or a priming clip that cannot be used.
        """
        view = self.session(session).view
        model, rate = view.model, view.model.sample_rate_hz
        method = check_choice("generator", method, METHODS)
        seconds = (NAIVE_SECONDS if method == "naive" else SECONDS).check("seconds", seconds)
        temperature = TEMPERATURE.check("temperature", temperature)
        prime_seconds = PRIME_SECONDS.check("priming seconds", prime_seconds)
        seed = check_int("seed", seed, 0, SEED_MAX)
        y = self._label(model, label, 1)
        prime_codes, notes = self._prime(model, prime, prime_seconds)
        n_new = max(1, round(seconds * rate))
        primed = mu_law_decode(prime_codes[0]).cpu().numpy() if prime_codes is not None else np.zeros(0, np.float32)
        marks = [(len(primed) / rate, "your clip ends")] if len(primed) else []
        report = progress or (lambda fraction, text: None)
        report(0.0, "generating")
        start = last_yield = time.perf_counter()
        wave = primed
        for codes in model.generate(
            1, n_new, y, temperature=temperature, prime=prime_codes, generator=torch.Generator().manual_seed(seed), method=method,
            chunk=max(1, n_new // 20),
        ):
            done = codes.shape[1]
            wave = np.concatenate([primed, mu_law_decode(codes[0]).cpu().numpy()])
            report(done / n_new, f"{done:,} / {n_new:,} samples")
            now = time.perf_counter()
            if done < n_new and now - last_yield >= YIELD_EVERY_S:
                last_yield = now
                status = f"{done:,} / {n_new:,} samples · {done / (now - start):,.0f} samples/s…"
                yield None, plots.waveform_figure(wave, rate, "so far…", marks), None, status
        elapsed = time.perf_counter() - start
        path = to_wav(wave, rate, _export_path(f"wavenet-{method}-{seed}.wav"))
        label_name = view.class_names()[int(y[0])] if y is not None else ""
        status = (
            f"{n_new:,} samples ({seconds:g} s) with {f'class **{label_name}**' if label_name else 'no class'}, temperature "
            f"{temperature:g}, the **{method}** generator: {elapsed:.2f} s, **{n_new / elapsed:,.0f} samples/s**, real-time "
            f"factor **{elapsed / seconds:.2f}** ({'faster' if elapsed < seconds else 'slower'} than real time; 1 = real time)."
            + self._pitch_heard(view, wave[len(primed) :], label_name)
        )
        if prime_codes is not None:
            status += f" Continued the last {prime_codes.shape[1] / rate:.2f} s of your clip" + (f" ({'; '.join(notes)})" if notes else "") + "."
        yield path, plots.waveform_figure(wave, rate, "", marks), plots.spectrogram_figure(wave, rate), status

    @staticmethod
    def _pitch_heard(view: WnView, new: np.ndarray, label_name: str) -> str:
        """A sentence on the pitch of the first 0.25 s of the new audio (the length of the
        synthetic training clips, after which a note has faded and the model improvises);
        empty under 64 samples."""
        rate = view.model.sample_rate_hz
        head = new[: round(CLIP_SECONDS * rate)]
        if len(head) < 64:
            return ""
        text = f" Dominant frequency of the first {len(head) / rate:.2f} s: {dominant_frequency(head, rate):.0f} Hz"
        if label_name in NOTE_NAMES and view.plays_notes():
            text += f" ({label_name} is {NOTE_HZ[NOTE_NAMES.index(label_name)]:.0f} Hz)"
        return text + "."

    def race(self, session: Any, seconds: Any = NAIVE_SECONDS.default, label: Any = "0", seed: Any = 0) -> str:
        """Generate the same clip with the naive and the fast generator (same weights,
        seed and class) and compare their times; ``seconds`` in [0.01, 0.5].

        Returns:
            Markdown: the time of each, the speed-up and whether the samples are identical.

        Raises:
            ValueError: a value out of range.
        """
        model = self.session(session).view.model
        seconds = NAIVE_SECONDS.check("seconds", seconds)
        seed = check_int("seed", seed, 0, SEED_MAX)
        y = self._label(model, label, 1)
        n = max(1, round(seconds * model.sample_rate_hz))
        times, clips = {}, {}
        for method in ("naive", "fast"):
            start = time.perf_counter()
            clips[method] = model.sample(1, y, torch.Generator().manual_seed(seed), n_samples=n, method=method)
            times[method] = time.perf_counter() - start
        same = torch.equal(clips["naive"], clips["fast"])
        field = model.receptive_field
        return (
            f"| generator | time for {n:,} samples | samples/s |\n|---|---:|---:|\n"
            f"| naive: the last {field:,} samples through all {model.n_layers} layers, per sample | {times['naive']:.2f} s | {n / times['naive']:,.0f} |\n"
            f"| fast: one step of each layer's queue, per sample | {times['fast']:.3f} s | {n / times['fast']:,.0f} |\n\n"
            f"Fast is **{times['naive'] / times['fast']:.0f}×** faster, and the samples are "
            f"{'**identical** ✓' if same else '**different** ✗ (float rounding tipped a draw)'}. "
            f"The gap grows with the receptive field: until sample {field:,} the naive generator has less history to recompute."
        )

    # -- the lessons ------------------------------------------------------------------------------
    mu_law = staticmethod(mu_law_comparison)

    def receptive_field(
        self, session: Any, layers: Any = FIELD_LAYERS.default, stacks: Any = FIELD_STACKS.default, kernel_size: Any = KERNEL.default,
        rate: Any = RATE.default, custom: Any = "",
    ) -> tuple[go.Figure, str]:
        """``wavenet_lessons.stack_diagram`` (same arguments and checks), its markdown
        ending with the receptive field of the session's model."""
        figure, text = stack_diagram(layers, stacks, kernel_size, rate, custom)
        model = self.session(session).view.model
        return figure, f"{text} Your loaded model: {model.receptive_field:,} samples = {model.receptive_field_ms:.0f} ms."

    # -- training ------------------------------------------------------------------------------------
    def train(
        self, session: WnSession, source: Any, clip: Any, channels: Any, layers: Any, stacks: Any, conditional: Any, every: Any,
        steps: Any, lr: Any, seed: Any, *, stop: threading.Event,
    ) -> Iterator[tuple]:
        """Train a new WaveNet from scratch (Adam, batches of 8 clips of 0.25 s), streaming.

        Args:
            source: "synthetic notes" or "my clip" (then clip: an audio file, at least
            0.25 s, cut into crops); channels: residual channels in [4, 64] (skip
            channels: twice that); layers: per stack in [1, 12] (dilations 1 ...
            2^(layers-1)); stacks: in [1, 3]; conditional: true or false, on the synthetic
            set's 10 classes (synthetic notes only); every: steps between generated
            snippets, in [25, 2000]; steps: in [50, 20000]; lr: learning rate in [1e-5,
            0.1]; seed: in [0, 2^31). stop: set to end the run (the weights reached are kept).

        Yields:
            (status markdown, plotly curves of bits per sample (train and test), the
            latest snippet (WAV path), snippet note); None for what is unchanged. When the
            run ends (or is stopped) with finite weights, the session's model becomes the
            new one, named with the steps done.

        Raises:
            ValueError: a setting out of range or a clip that cannot be used (nothing is
                changed).
        """
        source = check_choice("training data", source, SOURCES)
        channels, layers = CHANNELS.check("residual channels", channels), LAYERS.check("layers per stack", layers)
        stacks = STACKS.check("stacks", stacks)
        conditional = check_bool("conditional", conditional) and source == SOURCES[0]
        every = SNIPPET_EVERY.check("snippet every (steps)", every)
        steps, lr = STEPS.check("steps", steps), LR.check("learning rate", lr)
        seed = check_int("seed", seed, 0, SEED_MAX)
        data, data_note = self._training_data(source, clip, seed)
        model = seeded_init(
            WaveNet, seed, n_classes=len(CLASS_NAMES) if conditional else 0, residual_channels=channels, skip_channels=2 * channels,
            dilations=[2**i for i in range(layers)] * stacks,
        ).to(self.ctx.device)
        n_snippets = N_NOTE_CLASSES if conditional else 2
        config = TrainConfig(
            steps=steps, lr=lr, seed=seed, batch_size=BATCH_SIZE, log_every=10, sample_every=every,
            eval_every=max(50, steps // 10), n_samples=n_snippets, n_eval=N_EVAL,
        )
        yield f"Starting on {data_note}…", None, None, None
        record = lambda e: history_entry(e, {"bits": "bits_per_sample"})
        for event, history, learnt in stream_training(model, data, config, stop, record, YIELD_EVERY_S):
            snippet = snippet_note = None
            if event.samples is not None:
                snippet = to_wav(join_clips(event.samples, model.sample_rate_hz, GAP_S), model.sample_rate_hz, _export_path(f"snippet-{event.step}.wav"))
                what = "C4, D4, …, C5 in turn" if conditional else f"{n_snippets} clips"
                snippet_note = f"Generated at step {event.step:,}: {what}, {model.clip_seconds:g} s each."
            if not event.final:
                status = (
                    f"step {event.step:,} / {steps:,} · {event.step / max(event.elapsed_s, 1e-9):.1f} steps/s · "
                    f"{event.losses.get('bits_per_sample', math.nan):.2f} bits per sample (8 = a uniform guess)"
                )
            else:
                status = final_status(event, learnt)
                if learnt:
                    self.use(session, WnView(model, trained_name(event, steps, seed, what=f"on {data.name}"), self.ctx))
                    if event.test_losses:
                        status += f" Test NLL **{event.test_losses['bits_per_sample']:.2f} bits per sample**."
                    status += " Every panel now uses this WaveNet."
            yield status, plots.training_curves(history, CURVES), snippet, snippet_note

    @staticmethod
    def _training_data(source: str, clip: Any, seed: int) -> tuple[Any, str]:
        """(the dataset, what it is in words) for a Train panel's source.

        Raises:
            ValueError: "my clip" without a usable clip.
        """
        if source == SOURCES[0]:
            return synthetic_audio(), "the synthetic notes, chirps and melodies"
        user = read_audio(str(clip) if clip else None, SAMPLE_RATE_HZ)
        note = f"crops of your {user.seconds:.1f} s clip" + (f" ({'; '.join(user.notes)})" if user.notes else "")
        return clip_splits(user, seed=seed), note

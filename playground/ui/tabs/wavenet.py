"""The WaveNet tab: mu-law audio, dilated causal convolutions, fast generation with
per-layer queues against the naive recomputation, training on synthetic notes or the
user's own clip, and audio to listen to everywhere.

Handlers are methods of ``WaveNetTab`` so that tests can call them without a browser.
Each takes the session's ``WnSession`` from ``gr.State`` (None for a new session or an API
client, which then gets the bundled checkpoint) and checks every value it is given
against the limits in its docstring and in the UI.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import torch
from torch import Tensor

from models.base import seeded_init
from models.checks import SEED_MAX, check_bool, check_choice, check_float, check_int
from models.wavenet import WaveNet, linear_quantise, mu_law_decode, mu_law_encode, receptive_field
from playground.core import checkpoints, plots
from playground.core.audio import (
    CLASS_NAMES,
    N_NOTE_CLASSES,
    NOTE_HZ,
    NOTE_NAMES,
    SAMPLE_RATE_HZ,
    clip_splits,
    dominant_frequency,
    join_clips,
    note_pitches,
    read_audio,
    synth_clip,
    synthetic_audio,
    to_wav,
)
from playground.core.training import TrainConfig
from playground.ui.legacy import (
    AppContext,
    BundledViews,
    ModelView,
    checkpoint_panel,
    load_checkpoint,
    load_checkpoint_zip,
    session_key,
    stream_training,
    training_panel,
    ui_handler,
)

FAMILY = "wavenet"
MAX_SECONDS = 10.0
MAX_NAIVE_SECONDS = 0.5
MAX_PRIME_SECONDS = 2.0
MAX_UI_STEPS = 20_000
METHODS = ("fast", "naive")
METHOD_CHOICES = [("fast: per-layer queues, O(layers) per sample", "fast"), ("naive: recompute the receptive field per sample", "naive")]
SOURCES = ("synthetic notes", "my clip")
NO_CLASS = "none"
GAP_S = 0.05
BATCH_SIZE = 8
YIELD_EVERY_S = 0.3
TRAIN_DEFAULTS: dict[str, Any] = dict(channels=32, layers=10, stacks=1, conditional=True, every=250, steps=600, lr=2e-3)

EXPLANATION = r"""
### The chain rule over samples
A clip is a sequence of samples $x_1,\dots,x_T$ (8,000 per second here). WaveNet models it exactly as

$$p(x\mid y)=\prod_{t=1}^{T}p(x_t\mid x_1,\dots,x_{t-1},\,y),$$

each factor a **softmax over 256 values**: a classification of the next sample, not a regression. Training feeds the
true past in (teacher forcing) and computes all $T$ softmaxes in one pass; the loss is the negative log-likelihood in
nats per sample (divide by $\ln 2$ for bits: 8 bits per sample is a uniform guess).

### Mu-law: 256 values that suit the ear
Raw audio has 16 bits (65,536 values), too many classes. Plain 8-bit rounding gives quiet sounds only a handful of
levels. The **mu-law** first compands, $F(x)=\operatorname{sign}(x)\,\frac{\ln(1+\mu|x|)}{\ln(1+\mu)}$ with
$\mu=255$, then rounds to 256 levels: fine steps near silence, coarse steps for loud sounds, where the ear notices
less (*Mu-law* panel).

### Dilation: a receptive field that grows exponentially
Each layer is a **causal** convolution (output $t$ sees inputs $\le t$) of 2 taps, $t$ and $t-d$. With the
**dilation** $d$ doubling per layer, $1,2,4,\dots,512$, ten layers see $1+\sum d = 1{,}024$ samples (128 ms at
8 kHz); without dilation they would see 11. The stack may repeat (1…512, 1…512, …) to deepen the model.

### Gates, residuals and skips
Each layer computes $z=\tanh(W_f * h + V_f y)\odot\sigma(W_g * h + V_g y)$ (**gated activation unit**). A 1×1
convolution of $z$ is added to the layer's input (**residual**) and another goes straight to the output (**skip**);
the sum of the skips passes ReLU, 1×1, ReLU, 1×1 and the softmax.

### Conditioning
**Global** conditioning adds a learnt vector $V y$ to every gate for a class $y$: here the note (C4…C5), a chirp or a
melody. The same weights then play whichever note is asked for. (**Local** conditioning, for example on text
features for speech, would add a time series $V * c_t$ instead.)

### Why generation is slow, and the fast way
Sample $t$ needs samples $<t$: generation is one sample at a time. Recomputing the whole receptive field for each new
sample costs $O(\text{receptive field}\times\text{layers})$ (**naive**). Yet each layer needs only two values per step,
its input now and $d$ steps ago, so **Fast WaveNet** (Paine et al. 2016) keeps a queue of the last $d$ inputs of every
layer: $O(\text{layers})$ per sample, and the same samples (*Generate* → *Race*).
"""


@dataclass
class WnView(ModelView):
    """A loaded WaveNet with its display name; read-only, so sessions share the bundled one."""

    model: WaveNet

    def class_names(self) -> list[str]:
        """The name of each class id (the synthetic set's for a 10-class model)."""
        n = self.model.n_classes
        return list(CLASS_NAMES) if n == len(CLASS_NAMES) else [f"class {i}" for i in range(n)]

    def describe(self) -> str:
        """One markdown line: name, layers, receptive field, classes, parameters."""
        m = self.model
        n_params = sum(p.numel() for p in m.parameters())
        classes = f"conditioned on {m.n_classes} classes" if m.conditional else "unconditional"
        return (
            f"**WaveNet**: {self.name} · {m.n_layers} layers (dilations {_dilation_text(m.dilations)}), "
            f"{m.residual_channels} residual / {m.skip_channels} skip channels · receptive field **{m.receptive_field:,} samples "
            f"= {m.receptive_field_ms:.0f} ms** at {m.sample_rate_hz / 1000:g} kHz · {classes} · {n_params / 1e3:,.0f} k parameters"
        )


@dataclass
class WnSession:
    """One browser session's WaveNet, replaced in place by Load or a finished training."""

    view: WnView


def _dilation_text(dilations: list[int]) -> str:
    """e.g. "1, 2, …, 512 × 2" for repeated doubling cycles, else the list."""
    n = len(dilations)
    for period in range(1, n + 1):
        cycle = dilations[:period]
        if n % period == 0 and cycle * (n // period) == dilations and cycle == [2**i for i in range(period)]:
            text = f"1, 2, …, {cycle[-1]}" if period > 2 else ", ".join(map(str, cycle))
            return text + (f" × {n // period}" if n // period > 1 else "")
    return ", ".join(map(str, dilations[:12])) + (" …" if n > 12 else "")


def _export_path(name: str) -> Path:
    return checkpoints.new_export_dir() / name


def _snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    noise = float(np.mean((clean - noisy) ** 2))
    return 10 * math.log10(float(np.mean(clean**2)) / max(noise, 1e-20))


class WaveNetTab:
    """Handlers of the WaveNet tab (see the module docstring)."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self._bundled = BundledViews(ctx, FAMILY, lambda model, name: WnView(model, name))

    # -- sessions and models ----------------------------------------------------------------
    def session(self, state: WnSession | None) -> WnSession:
        """The session's state, or a new one on the bundled checkpoint."""
        return state if isinstance(state, WnSession) else WnSession(self._bundled.get(FAMILY))

    def _with_model(self, state: WnSession | None, model: Any, name: str) -> WnSession:
        if not isinstance(model, WaveNet):
            raise ValueError("this tab takes WaveNet checkpoints")
        session = self.session(state)
        session.view = WnView(model, name)
        return session

    def _class_update(self, session: WnSession) -> dict:
        view = session.view
        if not view.model.conditional:
            return gr.update(choices=[("none (unconditional model)", NO_CLASS)], value=NO_CLASS)
        return gr.update(choices=[(name, str(i)) for i, name in enumerate(view.class_names())], value="0")

    @ui_handler
    def load(self, state: WnSession | None, choice: str | None, source: str | None) -> tuple:
        """Load a WaveNet (bundled name, Hub repo id or local folder).

        Returns:
            (session, description markdown, class dropdown update).

        Raises:
            gr.Error: the checkpoint cannot be loaded or is not a WaveNet; the session
                keeps its model.
        """
        model, name = load_checkpoint(self.ctx, FAMILY, choice, source)
        session = self._with_model(state, model, name)
        return session, session.view.describe(), self._class_update(session)

    @ui_handler
    def load_zip(self, state: WnSession | None, path: str | None) -> tuple:
        """Load a WaveNet from an uploaded checkpoint zip; returns as ``load``."""
        session = self._with_model(state, load_checkpoint_zip(self.ctx, FAMILY, path), "uploaded checkpoint")
        return session, session.view.describe(), self._class_update(session)

    @ui_handler
    def download(self, state: WnSession | None) -> str:
        """The session's WaveNet as a checkpoint zip (path)."""
        return str(self.session(state).view.export)

    def _label(self, model: WaveNet, value: Any, n: int) -> Tensor | None:
        """Class ids (n,) from the UI's choice (a class id, or "none" for an unconditional model)."""
        if not model.conditional:
            if value not in (None, "", NO_CLASS):
                raise ValueError("this WaveNet is unconditional: choose the class “none”")
            return None
        if value in (None, "", NO_CLASS):
            raise ValueError(f"this WaveNet is conditional: choose a class 0-{model.n_classes - 1}")
        label = check_int("class", value, 0, model.n_classes - 1)
        return torch.full((n,), label, dtype=torch.int64, device=model.device)

    # -- a scale, at once ---------------------------------------------------------------------
    @ui_handler
    def scale(self, state: WnSession | None, seed: Any = 0) -> tuple:
        """The eight notes C4-C5, each 0.25 s, generated in parallel (fast generation),
        played one after the other; an unconditional model plays one 2 s clip.

        Returns:
            (WAV path, spectrogram figure, markdown: the pitch heard in each note).
        """
        seed = check_int("seed", seed, 0, SEED_MAX)
        model = self.session(state).view.model
        rate = model.sample_rate_hz
        start = time.perf_counter()
        if model.conditional and model.n_classes == len(CLASS_NAMES):
            y = torch.arange(N_NOTE_CLASSES, device=model.device)
            clips = model.sample(N_NOTE_CLASSES, y, torch.Generator().manual_seed(seed), n_samples=round(0.25 * rate)).cpu()
            elapsed = time.perf_counter() - start
            heard, right = note_pitches(clips, y.tolist(), rate)
            marks = ["✓" if ok else "✗" for ok in right]
            text = (
                f"The C major scale, each note asked for by its class and generated sample by sample "
                f"(8 × 2,000 samples in {elapsed:.1f} s, in parallel). Pitch heard (FFT peak): "
                + ", ".join(f"{n} {f:.0f} Hz {m}" for n, f, m in zip(NOTE_NAMES, heard, marks))
            )
            wave = join_clips(clips, rate, GAP_S)
        else:
            y = torch.zeros(1, dtype=torch.int64, device=model.device) if model.conditional else None
            wave = model.sample(1, y, torch.Generator().manual_seed(seed), n_samples=2 * rate).cpu()[0].numpy()
            text = f"2 s generated in {time.perf_counter() - start:.1f} s."
        path = to_wav(wave, rate, _export_path(f"wavenet-scale-{seed}.wav"))
        return path, plots.spectrogram_figure(wave, rate), text

    # -- generate --------------------------------------------------------------------------------
    def _prime(self, model: WaveNet, path: Any, seconds: float) -> tuple[Tensor | None, list[str]]:
        """The last ``seconds`` of the user's clip as codes (1, P), with notes on reading it."""
        if not path or seconds == 0:
            return None, []
        clip = read_audio(str(path), model.sample_rate_hz)
        keep = max(1, round(seconds * model.sample_rate_hz))
        codes = clip.codes()[-keep:]
        return codes[None].to(model.device), list(clip.notes)

    @ui_handler
    def generate(
        self, state: WnSession | None, seconds: Any = 1.0, temperature: Any = 1.0, label: Any = "0", prime: Any = None,
        prime_seconds: Any = 1.0, method: Any = "fast", seed: Any = 0, progress=gr.Progress(),
    ) -> Iterator[tuple]:
        """Generate one clip sample by sample.

        Args:
            seconds: new audio, in [0.01, 10] (naive generation: at most 0.5).
            temperature: of the softmax, in [0.1, 2].
            label: a class id (conditional model) or "none".
            prime: an audio file to continue (optional); its last ``prime_seconds`` in
                [0, 2] are teacher-forced first.
            method: "fast" or "naive".
            seed: [0, 2^31).

        Yields:
            (WAV path (at the end), waveform figure, spectrogram figure (at the end), status
            markdown with samples/s and the real-time factor).

        Raises:
            gr.Error: a value out of range, or a priming clip that cannot be used.
        """
        view = self.session(state).view
        model = view.model
        method = check_choice("generator", method, METHODS)
        seconds = check_float("seconds", seconds, 0.01, MAX_NAIVE_SECONDS if method == "naive" else MAX_SECONDS)
        temperature = check_float("temperature", temperature, 0.1, 2.0)
        prime_seconds = check_float("priming seconds", prime_seconds, 0.0, MAX_PRIME_SECONDS)
        seed = check_int("seed", seed, 0, SEED_MAX)
        y = self._label(model, label, 1)
        prime_codes, notes = self._prime(model, prime, prime_seconds)
        rate = model.sample_rate_hz
        n_new = max(1, round(seconds * rate))
        primed = mu_law_decode(prime_codes[0]).cpu().numpy() if prime_codes is not None else np.zeros(0, np.float32)
        marks = [(len(primed) / rate, "your clip ends")] if len(primed) else []
        progress(0, desc="generating")
        chunk = max(1, n_new // 20)
        start = time.perf_counter()
        last_yield = 0.0
        wave = primed
        for codes in model.generate(
            1, n_new, y, temperature=temperature, prime=prime_codes, generator=torch.Generator().manual_seed(seed), method=method, chunk=chunk,
        ):
            done = codes.shape[1]
            wave = np.concatenate([primed, mu_law_decode(codes[0]).cpu().numpy()])
            progress(done / n_new, desc=f"{done:,} / {n_new:,} samples")
            now = time.perf_counter()
            if done < n_new and now - last_yield >= YIELD_EVERY_S:
                last_yield = now
                rate_now = done / (now - start)
                yield gr.skip(), plots.waveform_figure(wave, rate, "so far…", marks), gr.skip(), f"{done:,} / {n_new:,} samples · {rate_now:,.0f} samples/s…"
        elapsed = time.perf_counter() - start
        path = to_wav(wave, rate, _export_path(f"wavenet-{method}-{seed}.wav"))
        label_name = view.class_names()[int(y[0])] if y is not None else ""
        # The pitch of the first 0.25 s (the length of the synthetic training clips, after
        # which a note has faded and the model improvises).
        head = wave[len(primed) : len(primed) + round(0.25 * rate)]
        heard = f" Dominant frequency of the first {len(head) / rate:.2f} s: {dominant_frequency(head, rate):.0f} Hz" if len(head) >= 64 else ""
        if heard and label_name in NOTE_NAMES and model.n_classes == len(CLASS_NAMES):
            heard += f" ({label_name} is {NOTE_HZ[NOTE_NAMES.index(label_name)]:.0f} Hz)"
        status = (
            f"{n_new:,} samples ({seconds:g} s) with {f'class **{label_name}**' if label_name else 'no class'}, temperature "
            f"{temperature:g}, the **{method}** generator: {elapsed:.2f} s, **{n_new / elapsed:,.0f} samples/s**, real-time "
            f"factor **{elapsed / seconds:.2f}** ({'faster' if elapsed < seconds else 'slower'} than real time; 1 = real time)."
            + (f"{heard}." if heard else "")
        )
        if prime_codes is not None:
            status += f" Continued the last {prime_codes.shape[1] / rate:.2f} s of your clip" + (f" ({'; '.join(notes)})" if notes else "") + "."
        yield path, plots.waveform_figure(wave, rate, "", marks), plots.spectrogram_figure(wave, rate), status

    @ui_handler
    def race(self, state: WnSession | None, seconds: Any = 0.1, label: Any = "0", seed: Any = 0) -> str:
        """Generate the same clip with the naive and the fast generator (same weights,
        seed and class) and compare their times; ``seconds`` in [0.01, 0.5].

        Returns:
            Markdown: the time of each, the speed-up and whether the samples are identical.
        """
        model = self.session(state).view.model
        seconds = check_float("seconds", seconds, 0.01, MAX_NAIVE_SECONDS)
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

    # -- mu-law ----------------------------------------------------------------------------------
    @ui_handler
    def mu_law(self, label: Any = "0", path: Any = None, level_db: Any = -30.0, seed: Any = 0) -> tuple:
        """One clip (a synthetic one of class ``label``, or the uploaded ``path``), scaled
        to a peak of ``level_db`` dBFS in [-60, 0], quantised to 8 bits linearly and by
        mu-law; both are scaled back up by the same gain, so that they play as loud as the
        original and the quantisation noise is heard as it is.

        Returns:
            (original WAV, linear 8-bit WAV, mu-law 8-bit WAV, markdown with the SNRs).
        """
        level_db = check_float("level (dBFS)", level_db, -60.0, 0.0)
        seed = check_int("seed", seed, 0, SEED_MAX)
        notes: list[str] = []
        if path:
            clip = read_audio(str(path), SAMPLE_RATE_HZ, max_seconds=10.0)
            wave, notes = clip.wave, list(clip.notes)
            what = "your clip"
        else:
            label = check_int("class", label, 0, len(CLASS_NAMES) - 1)
            rng = np.random.default_rng(seed)
            wave = np.concatenate([synth_clip(label, rng, seconds=1.0) for _ in range(2)])
            what = f"a synthetic {CLASS_NAMES[label]}"
        gain = 10 ** (level_db / 20) / max(float(np.abs(wave).max()), 1e-9)
        quiet = torch.from_numpy((wave * gain).astype(np.float32))
        linear = linear_quantise(quiet).numpy() / gain
        mu = mu_law_decode(mu_law_encode(quiet)).numpy() / gain
        original = quiet.numpy() / gain
        paths = [to_wav(np.clip(w, -1, 1), SAMPLE_RATE_HZ, _export_path(f"mulaw-{k}.wav")) for k, w in (("original", original), ("linear", linear), ("mu", mu))]
        levels_used = {k: len(np.unique(np.round(w * gain, 6))) for k, w in (("linear", linear), ("mu", mu))}
        text = (
            f"{what}, played at a peak of {level_db:g} dBFS and quantised to 256 levels. Signal-to-noise ratio: "
            f"linear 8-bit **{_snr_db(original, linear):.1f} dB** ({levels_used['linear']} levels used), "
            f"mu-law 8-bit **{_snr_db(original, mu):.1f} dB** ({levels_used['mu']} levels used). "
            f"Quiet sounds fall between linear levels; mu-law spends its levels near silence. Lower the level to hear it."
        )
        if notes:
            text += f" ({'; '.join(notes)})"
        return *paths, text

    # -- receptive field ----------------------------------------------------------------------------
    @ui_handler
    def receptive_field(
        self, state: WnSession | None, layers: Any = 10, stacks: Any = 1, kernel_size: Any = 2, rate: Any = SAMPLE_RATE_HZ, custom: Any = "",
    ) -> tuple:
        """The dilated stack of ``stacks`` in [1, 4] cycles of ``layers`` in [1, 12] layers
        (dilations 1, 2, ..., 2^(layers-1)), or of the ``custom`` dilations when that text
        is not empty (integers in [1, 4096] separated by commas or spaces, at most 64, e.g.
        "1, 3, 9, 27"), ``kernel_size`` in [2, 3] taps, at ``rate`` in [1000, 48000] Hz.

        Returns:
            (diagram figure, markdown: the receptive field in samples and ms by the formula
            and by a gradient probe, and against the same depth without dilation).
        """
        layers = check_int("layers per stack", layers, 1, 12)
        stacks = check_int("stacks", stacks, 1, 4)
        kernel_size = check_int("kernel size", kernel_size, 2, 3)
        rate = check_int("sample rate", rate, 1000, 48000)
        dilations = _parse_dilations(custom) or [2**i for i in range(layers)] * stacks
        field = receptive_field(dilations, kernel_size)
        probe = _gradient_probe(tuple(dilations), kernel_size)
        plain = receptive_field([1] * len(dilations), kernel_size)
        shown = min(64, field + 8)
        model = self.session(state).view.model
        text = (
            f"**{len(dilations)} layers**, dilations {_dilation_text(dilations)}, {kernel_size} taps: each output sees "
            f"**{field:,} samples = {1000 * field / rate:.1f} ms** at {rate / 1000:g} kHz "
            f"(1 + {kernel_size - 1} × the sum of the dilations). A gradient probe of a random network with this stack finds "
            f"**{probe:,}** inputs of non-zero influence {'✓' if probe == field else '✗'}. Without dilation the same "
            f"{len(dilations)} layers would see {plain} samples ({1000 * plain / rate:.1f} ms). "
            f"The diagram shows the last {shown} time steps; bold: what the newest output (red) depends on. "
            f"Your loaded model: {model.receptive_field:,} samples = {model.receptive_field_ms:.0f} ms."
        )
        return plots.dilation_diagram(dilations, kernel_size, max_steps=shown), text

    # -- training ------------------------------------------------------------------------------------
    @ui_handler
    def train(
        self, state: WnSession | None, source: Any, clip: Any, channels: Any, layers: Any, stacks: Any, conditional: Any,
        every: Any, steps: Any, lr: Any, seed: Any, request: gr.Request,
    ) -> Iterator[tuple]:
        """Train a new WaveNet from scratch (Adam, batches of 8 clips of 0.25 s).

        Args:
            source: "synthetic notes" or "my clip" (then ``clip``: an audio file, read as
                ``playground.core.audio.read_audio`` does, at least 0.25 s, cut into crops).
            channels: residual channels in [4, 64] (skip channels: twice that);
            layers: per stack in [1, 12] (dilations 1 ... 2^(layers-1)); stacks: [1, 3];
            conditional: bool, on the synthetic set's 10 classes (synthetic notes only);
            every: steps between generated snippets, in [25, 5000]; steps: [50, 20,000];
            lr: (0, 0.1]; seed: [0, 2^31).

        Yields:
            (session, status markdown, plotly curves (bits per sample, train and test),
            the latest snippet (WAV path), snippet note). The session's model becomes the
            new one when the run ends or is stopped.

        Raises:
            gr.Error: a setting out of range, a clip that cannot be used, or this session
                is already training.
        """
        source = check_choice("training data", source, SOURCES)
        channels = check_int("residual channels", channels, 4, 64)
        layers = check_int("layers per stack", layers, 1, 12)
        stacks = check_int("stacks", stacks, 1, 3)
        conditional = check_bool("conditional", conditional) and source == SOURCES[0]
        every = check_int("snippet every (steps)", every, 25, 5000)
        steps = check_int("steps", steps, 50, MAX_UI_STEPS)
        lr = check_float("learning rate", lr, 1e-5, 0.1)
        seed = check_int("seed", seed, 0, SEED_MAX)
        if source == SOURCES[0]:
            data, data_note = synthetic_audio(), "the synthetic notes, chirps and melodies"
        else:
            user = read_audio(str(clip) if clip else None, SAMPLE_RATE_HZ)
            data = clip_splits(user, seed=seed)
            data_note = f"crops of your {user.seconds:.1f} s clip" + (f" ({'; '.join(user.notes)})" if user.notes else "")
        model = seeded_init(
            WaveNet, seed, n_classes=len(CLASS_NAMES) if conditional else 0, residual_channels=channels, skip_channels=2 * channels,
            dilations=[2**i for i in range(layers)] * stacks,
        ).to(self.ctx.device)
        n_snippets = N_NOTE_CLASSES if conditional else 2
        config = TrainConfig(
            steps=steps, lr=lr, seed=seed, batch_size=BATCH_SIZE, log_every=10, sample_every=every,
            eval_every=max(50, steps // 10), n_samples=n_snippets, n_eval=200,
        )
        key = session_key(request)
        stop = self.ctx.sessions.start(key, "wn-train")
        try:
            session = self.session(state)
            yield session, f"Starting on {data_note}…", gr.skip(), gr.skip(), gr.skip()

            def record(event: Any) -> dict:
                entry: dict[str, Any] = {"step": event.step, "losses": {"bits": event.losses.get("bits_per_sample", math.nan)}}
                if event.test_losses:
                    entry["test_losses"] = {"bits": event.test_losses["bits_per_sample"]}
                return entry

            for event, history, learnt in stream_training(model, data, config, stop, record, YIELD_EVERY_S):
                snippet, snippet_note = gr.skip(), gr.skip()
                if event.samples is not None:
                    snippet = to_wav(join_clips(event.samples, model.sample_rate_hz, GAP_S), model.sample_rate_hz, _export_path(f"snippet-{event.step}.wav"))
                    what = "C4, D4, …, C5 in turn" if conditional else f"{n_snippets} clips"
                    snippet_note = f"Generated at step {event.step:,}: {what}, 0.25 s each."
                if not event.final:
                    status = (
                        f"step {event.step:,} / {steps:,} · {event.step / max(event.elapsed_s, 1e-9):.1f} steps/s · "
                        f"{event.losses.get('bits_per_sample', math.nan):.2f} bits per sample (8 = a uniform guess)"
                    )
                elif learnt:
                    session = self._with_model(session, model, f"trained here ({event.step:,} steps on {data.name}, seed {seed})")
                    status = (
                        f"**{event.status}**: {event.message}. Test NLL **{event.test_losses['bits_per_sample']:.2f} bits per sample**. "
                        "Every panel now uses this WaveNet."
                    )
                else:
                    status = f"**{event.status}**: {event.message}. Nothing finite was learnt, so your previous model is kept."
                yield session, status, plots.training_curves(history, {"bits": "NLL (bits per sample)"}), snippet, snippet_note
        finally:
            self.ctx.sessions.finish(key, "wn-train", stop)

    @ui_handler
    def stop(self, request: gr.Request) -> str:
        """Ask this session's training run to stop; it keeps the weights reached."""
        return "Stopping…" if self.ctx.sessions.set_flag(session_key(request), "wn-train") else "Nothing is training."


def _parse_dilations(text: Any) -> list[int]:
    """Dilations from text such as "1, 3, 9, 27" ([] for empty text).

    Raises:
        ValueError: not integers in [1, 4096], or more than 64 of them.
    """
    if text is None or not str(text).strip():
        return []
    parts = str(text)[:1000].replace(",", " ").split()
    if len(parts) > 64:
        raise ValueError(f"give at most 64 dilations, got {len(parts)}")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"dilations must be whole numbers separated by commas, got {str(text)[:60]!r}") from None
    return [check_int("dilation", v, 1, 4096) for v in values]


@functools.lru_cache(maxsize=64)
def _gradient_probe(dilations: tuple[int, ...], kernel_size: int) -> int:
    """The receptive field of a random 2-channel stack measured by backpropagation: the
    number of input positions with a non-zero gradient of the last position's skip sum
    (taken before the head, whose ReLUs may silence a random network's gradient)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = WaveNet(n_classes=0, residual_channels=2, skip_channels=2, dilations=list(dilations), kernel_size=kernel_size).double()
    field = receptive_field(list(dilations), kernel_size)
    h = torch.randn(1, 2, field + 16, dtype=torch.float64, requires_grad=True)
    net._skips(h, None)[0, :, -1].sum().backward()
    return int((h.grad[0].abs().sum(0) > 0).sum())


def build(ctx: AppContext) -> WaveNetTab:
    """Build the WaveNet tab's components inside the current ``gr.Blocks`` and bind them."""
    tab = WaveNetTab(ctx)
    first = tab.session(None)
    scale0 = tab.scale(first, 0)
    state = gr.State(None)
    class_choices = [(name, str(i)) for i, name in enumerate(first.view.class_names())]

    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            models = checkpoint_panel(FAMILY, FAMILY, first.view.describe())
            scale_seed = gr.Number(value=0, label="seed", precision=0, minimum=0)
            scale_btn = gr.Button("Play another scale", elem_id="wn-scale-run")
        with gr.Column(scale=3):
            scale_audio = gr.Audio(value=scale0[0], label="a C major scale, each note generated sample by sample", type="filepath", interactive=False, elem_id="wn-scale-audio")
            scale_note = gr.Markdown(scale0[2], elem_id="wn-scale-note")
            scale_spec = gr.Plot(value=scale0[1], label="spectrogram", elem_id="wn-scale-spec")

    with gr.Tabs():
        with gr.Tab("Generate", id="wn-generate"):
            gr.Markdown(
                "One sample at a time, each drawn from the 256-way softmax given the samples before it. The bundled model "
                "learnt from 0.25 s clips: a note rings about that long, then the model improvises (often a quiet hiss)."
            )
            with gr.Row():
                g_seconds = gr.Slider(0.05, MAX_SECONDS, value=0.5, step=0.05, label=f"seconds (≤ {MAX_SECONDS:g}; naive ≤ {MAX_NAIVE_SECONDS:g})")
                g_temp = gr.Slider(0.1, 2.0, value=1.0, step=0.05, label="temperature (lower: more certain)")
                g_label = gr.Dropdown(class_choices, value="0", label="class (global conditioning)", elem_id="wn-class")
                g_seed = gr.Number(value=0, label="seed", precision=0, minimum=0)
            with gr.Row():
                g_method = gr.Radio(METHOD_CHOICES, value="fast", label="generator")
                with gr.Column():
                    g_prime = gr.Audio(sources=["upload", "microphone"], type="filepath", label="optional: a clip to continue (upload or record)", elem_id="wn-prime")
                    g_prime_s = gr.Slider(0, MAX_PRIME_SECONDS, value=1.0, step=0.05, label="seconds of it to continue from (its end)")
            gen_btn = gr.Button("Generate", variant="primary", elem_id="wn-generate-run")
            gen_status = gr.Markdown(elem_id="wn-generate-status")
            gen_audio = gr.Audio(label="generated", type="filepath", interactive=False, elem_id="wn-generate-audio")
            with gr.Row():
                gen_wave = gr.Plot(label="waveform", elem_id="wn-generate-wave")
                gen_spec = gr.Plot(label="spectrogram", elem_id="wn-generate-spec")
            gr.Markdown("#### Race: naive against fast\nThe same weights, seed and class through both generators.")
            with gr.Row():
                race_seconds = gr.Slider(0.01, MAX_NAIVE_SECONDS, value=0.2, step=0.01, label="seconds")
                race_btn = gr.Button("Race", elem_id="wn-race-run")
            race_out = gr.Markdown(elem_id="wn-race-result")

        with gr.Tab("Mu-law", id="wn-mulaw"):
            gr.Plot(value=plots.mu_law_figure(), label="mu-law companding (mu = 255)", elem_id="wn-mulaw-plot")
            with gr.Row():
                m_label = gr.Dropdown([(n, str(i)) for i, n in enumerate(CLASS_NAMES)], value="0", label="a synthetic clip")
                m_upload = gr.Audio(sources=["upload", "microphone"], type="filepath", label="or your own clip", elem_id="wn-mulaw-upload")
                m_level = gr.Slider(-60, 0, value=-30, step=1, label="level (peak, dBFS)")
            m_btn = gr.Button("Quantise to 8 bits", variant="primary", elem_id="wn-mulaw-run")
            m_note = gr.Markdown(elem_id="wn-mulaw-note")
            with gr.Row():
                m_original = gr.Audio(label="original", type="filepath", interactive=False)
                m_linear = gr.Audio(label="8-bit linear", type="filepath", interactive=False)
                m_mu = gr.Audio(label="8-bit mu-law", type="filepath", interactive=False)

        with gr.Tab("Receptive field", id="wn-field"):
            with gr.Row():
                r_layers = gr.Slider(1, 12, value=6, step=1, label="layers per stack (dilations 1, 2, 4, …)")
                r_stacks = gr.Slider(1, 4, value=1, step=1, label="stacks (the dilation cycle repeats)")
                r_kernel = gr.Radio([2, 3], value=2, label="taps per convolution")
                r_rate = gr.Dropdown([8000, 16000, 24000], value=SAMPLE_RATE_HZ, label="sample rate (Hz)")
                r_custom = gr.Textbox(label="or your own dilations (replace the above)", placeholder="e.g. 1, 3, 9, 27 with 3 taps", max_lines=1, elem_id="wn-field-custom")
            field0 = tab.receptive_field(first, 6, 1, 2, SAMPLE_RATE_HZ)
            r_note = gr.Markdown(field0[1], elem_id="wn-field-note")
            r_plot = gr.Plot(value=field0[0], label="the dilated causal stack", elem_id="wn-field-plot")

        with gr.Tab("Train WaveNet", id="wn-train"):
            d = TRAIN_DEFAULTS
            with gr.Row():
                t_source = gr.Radio(list(SOURCES), value=SOURCES[0], label="train on")
                t_clip = gr.Audio(sources=["upload", "microphone"], type="filepath", label="your clip (at least 0.25 s; up to 30 s are used)", elem_id="wn-train-clip")
            with gr.Row():
                t_channels = gr.Slider(4, 64, value=d["channels"], step=4, label="residual channels (skip: twice)")
                t_layers = gr.Slider(1, 12, value=d["layers"], step=1, label="layers per stack")
                t_stacks = gr.Slider(1, 3, value=d["stacks"], step=1, label="stacks")
                t_cond = gr.Checkbox(value=d["conditional"], label="conditioned on the class (synthetic notes)")
                t_every = gr.Slider(25, 2000, value=d["every"], step=25, label="play a snippet every N steps")
            panel = training_panel("wn-train", d["steps"], MAX_UI_STEPS, d["lr"])
            t_snippet = gr.Audio(label="the latest snippet", type="filepath", interactive=False, elem_id="wn-train-snippet")
            t_snippet_note = gr.Markdown(elem_id="wn-train-snippet-note")

        with gr.Tab("How WaveNet works", id="wn-explain"):
            gr.Markdown(EXPLANATION, latex_delimiters=[{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}])

    # -- bindings ----------------------------------------------------------------------------------------
    for event in (
        models.load.click(tab.load, [state, models.choice, models.source], [state, models.info, g_label], api_name="wn_load"),
        models.upload.upload(tab.load_zip, [state, models.upload], [state, models.info, g_label], api_name="wn_load_zip"),
    ):
        event.success(tab.scale, [state, scale_seed], [scale_audio, scale_spec, scale_note], api_visibility="private").then(
            tab.receptive_field, [state, r_layers, r_stacks, r_kernel, r_rate, r_custom], [r_plot, r_note], api_visibility="private"
        )
    models.choice.input(lambda: "", None, models.source, api_visibility="private", show_progress="hidden")
    models.download.click(tab.download, state, models.download, api_name="wn_download", show_progress="hidden")
    scale_btn.click(tab.scale, [state, scale_seed], [scale_audio, scale_spec, scale_note], api_name="wn_scale", concurrency_limit=4, concurrency_id="wn-gen")
    gen_btn.click(
        tab.generate, [state, g_seconds, g_temp, g_label, g_prime, g_prime_s, g_method, g_seed], [gen_audio, gen_wave, gen_spec, gen_status],
        api_name="wn_generate", concurrency_limit=4, concurrency_id="wn-gen",
    )
    race_btn.click(tab.race, [state, race_seconds, g_label, g_seed], race_out, api_name="wn_race", concurrency_limit=2, concurrency_id="wn-gen")
    m_btn.click(tab.mu_law, [m_label, m_upload, m_level, g_seed], [m_original, m_linear, m_mu, m_note], api_name="wn_mu_law")
    gr.on(
        [r_layers.change, r_stacks.change, r_kernel.change, r_rate.change, r_custom.submit], tab.receptive_field,
        [state, r_layers, r_stacks, r_kernel, r_rate, r_custom], [r_plot, r_note], api_name="wn_receptive_field", trigger_mode="always_last",
    )
    train_event = panel.train.click(
        tab.train, [state, t_source, t_clip, t_channels, t_layers, t_stacks, t_cond, t_every, panel.steps, panel.lr, panel.seed],
        [state, panel.status, panel.curves, t_snippet, t_snippet_note], api_name="wn_train", concurrency_limit=2, concurrency_id="train",
    )
    train_event.then(lambda s: (tab.session(s).view.describe(), tab._class_update(tab.session(s))), state, [models.info, g_label], api_visibility="private").then(
        tab.scale, [state, scale_seed], [scale_audio, scale_spec, scale_note], api_visibility="private"
    ).then(
        tab.receptive_field, [state, r_layers, r_stacks, r_kernel, r_rate, r_custom], [r_plot, r_note], api_visibility="private"
    )
    panel.stop.click(tab.stop, None, panel.status, api_name="wn_stop", concurrency_limit=None)
    t_clip.input(lambda: SOURCES[1], None, t_source, api_visibility="private", show_progress="hidden")
    return tab

"""Audio for WaveNet: a synthetic, labelled dataset made in code, and the user's own clips.

The synthetic set needs no download. At 8 kHz, each clip lasts 0.25 s and is one of ten
classes, used for global conditioning:

- classes 0-7, **notes** of the C major scale from C4 (261.63 Hz) to C5 (523.25 Hz): a
  fundamental with harmonics whose amplitudes fall off at a random rate (the timbre), a
  random phase per harmonic, a linear attack of 5-20 ms and an exponential decay
  (time constant 0.15-0.6 s), after a silence of 0-10 ms;
- class 8, **chirps**: a sine whose frequency sweeps exponentially, up or down, between
  two random frequencies in 200-1,600 Hz;
- class 9, **melodies**: three short notes of the scale in a row (an arpeggio).

Every clip is normalised to a random peak in [0.3, 0.9], mu-law encoded to 8 bits, and
drawn from ``numpy.random.default_rng(seed)``, so the same seed always gives the same
set. User clips (upload or microphone) are read with soundfile (WAV, FLAC, OGG, MP3, ...),
mixed to mono, resampled with soxr and trimmed to a stated maximum length.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from models.checks import check_float
from models.mu_law import linear_quantise, mu_law_decode, mu_law_encode

SAMPLE_RATE_HZ = 8000
CLIP_SECONDS = 0.25
NOTE_NAMES = ("C4", "D4", "E4", "F4", "G4", "A4", "B4", "C5")
NOTE_HZ = (261.63, 293.66, 329.63, 349.23, 392.00, 440.00, 493.88, 523.25)
CLASS_NAMES = (*NOTE_NAMES, "chirp", "melody")
N_NOTE_CLASSES = len(NOTE_NAMES)
N_TRAIN, N_TEST = 2000, 200
DATA_SEED = 0
# User clips
MAX_UPLOAD_BYTES = 100 * 2**20
MAX_UPLOAD_SECONDS = 30.0
MIN_UPLOAD_SECONDS = 0.05
MAX_CHANNELS = 64
SILENCE_PEAK = 1e-3  # about -60 dBFS
CLIPPED_SHARE = 0.01


@dataclass(frozen=True)
class AudioSplits:
    """Train and test clips as mu-law codes, with their classes. Shared read-only.

    Attributes:
        name: e.g. ``"synthetic-notes"`` or ``"upload"``.
        sample_rate_hz: the rate of every clip.
        train_codes, test_codes: (N, T) int64 mu-law codes in [0, 255].
        train_labels, test_labels: (N,) int64 class ids in [0, len(class_names) - 1].
        class_names: the name of each class id.
        note: anything worth saying about how the clips were made (trimmed, resampled...).
    """

    name: str
    sample_rate_hz: int
    train_codes: Tensor
    train_labels: Tensor
    test_codes: Tensor
    test_labels: Tensor
    class_names: tuple[str, ...]
    note: str = field(default="")

    def inputs(self, split: str, kind: str = "audio") -> Tensor:
        """The (N, T) int64 codes of ``split`` (``"train"``/``"test"``); the trainer's way
        to ask any dataset for a model's inputs (``kind`` must be ``"audio"``).

        Raises:
            ValueError: for any other split or kind.
        """
        if split not in ("train", "test") or kind != "audio":
            raise ValueError(f"split must be train or test and kind audio, got {split!r}, {kind!r}")
        return self.train_codes if split == "train" else self.test_codes

    def labels(self, split: str) -> Tensor:
        """The (N,) int64 class ids of ``split``."""
        return self.test_labels if split == "test" else self.train_labels

    def describe(self) -> str:
        """One line, e.g. ``"synthetic-notes: 2,000 train / 200 test clips of 0.25 s at 8 kHz"``."""
        seconds = self.train_codes.shape[1] / self.sample_rate_hz
        text = (
            f"{self.name}: {len(self.train_labels):,} train / {len(self.test_labels):,} test clips of {seconds:g} s "
            f"at {self.sample_rate_hz / 1000:g} kHz"
        )
        return f"{text} ({self.note})" if self.note else text


def _envelope(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Silence, a linear attack, an exponential decay: (n,) float64 in [0, 1]."""
    t = np.arange(n) / rate
    onset = rng.uniform(0.0, 0.010)
    attack = rng.uniform(0.005, 0.020)
    decay = rng.uniform(0.15, 0.6)
    rise = np.clip((t - onset) / attack, 0.0, 1.0)
    fall = np.exp(-np.clip(t - onset - attack, 0.0, None) / decay)
    return rise * fall


def _tone(f0: np.ndarray | float, n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A harmonic tone (n,) of fundamental ``f0`` (Hz; a scalar or an (n,) track): the
    harmonics below 0.45 * rate, amplitude r^(h-1) with a random roll-off r in [0.15, 0.55]."""
    f0_track = np.broadcast_to(np.asarray(f0, dtype=np.float64), (n,))
    phase = 2 * np.pi * np.cumsum(f0_track) / rate  # the instantaneous phase of the fundamental
    rolloff = rng.uniform(0.15, 0.55)
    wave = np.zeros(n)
    for h in range(1, 16):
        if h * f0_track.max() >= 0.45 * rate:
            break
        wave += rolloff ** (h - 1) * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
    return wave


def synth_clip(label: int, rng: np.random.Generator, rate: int = SAMPLE_RATE_HZ, seconds: float = CLIP_SECONDS) -> np.ndarray:
    """One clip of class ``label`` (see the module docstring): (n,) float32 in [-0.9, 0.9].

    Raises:
        ValueError: an unknown class.
    """
    n = round(rate * seconds)
    if 0 <= label < N_NOTE_CLASSES:
        wave = _tone(NOTE_HZ[label], n, rate, rng) * _envelope(n, rate, rng)
    elif label == N_NOTE_CLASSES:  # chirp
        f_a, f_b = np.exp(rng.uniform(np.log(200), np.log(1600), size=2))
        track = f_a * (f_b / f_a) ** (np.arange(n) / n)
        rise = np.clip(np.arange(n) / (0.01 * rate), 0, 1)
        wave = np.sin(2 * np.pi * np.cumsum(track) / rate + rng.uniform(0, 2 * np.pi)) * rise
    elif label == N_NOTE_CLASSES + 1:  # melody: three notes in a row
        wave = np.zeros(n)
        third = n // 3
        for i, note in enumerate(rng.choice(N_NOTE_CLASSES, size=3)):
            part = slice(i * third, n if i == 2 else (i + 1) * third)
            m = part.stop - part.start
            wave[part] = _tone(NOTE_HZ[note], m, rate, rng) * _envelope(m, rate, rng)
    else:
        raise ValueError(f"class must be in [0, {len(CLASS_NAMES) - 1}], got {label!r}")
    peak = np.abs(wave).max()
    return (wave / max(peak, 1e-9) * rng.uniform(0.3, 0.9)).astype(np.float32)


@functools.lru_cache(maxsize=2)
def synthetic_audio(n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = DATA_SEED) -> AudioSplits:
    """The synthetic set (cached; the tensors are shared read-only): classes cycle 0..9,
    so both splits are balanced.

    Returns:
        ``AudioSplits`` of 0.25 s clips at 8 kHz, ``n_train`` and ``n_test`` of them.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n_train + n_test) % len(CLASS_NAMES)
    waves = np.stack([synth_clip(int(c), rng) for c in labels])
    codes = mu_law_encode(torch.from_numpy(waves))
    labels_t = torch.from_numpy(labels.astype(np.int64))
    return AudioSplits(
        name="synthetic-notes", sample_rate_hz=SAMPLE_RATE_HZ,
        train_codes=codes[:n_train], train_labels=labels_t[:n_train],
        test_codes=codes[n_train:], test_labels=labels_t[n_train:], class_names=CLASS_NAMES,
    )


def dominant_frequency(wave: np.ndarray | Tensor, rate: int = SAMPLE_RATE_HZ, low_hz: float = 50.0) -> float:
    """The frequency (Hz) of the largest peak of the magnitude spectrum of ``wave`` (T,),
    above ``low_hz``, after a Hann window; the peak is refined by parabolic interpolation
    of the log magnitudes (resolution well below rate / T).

    Raises:
        ValueError: fewer than 16 samples.
    """
    x = np.asarray(wave.detach().cpu() if isinstance(wave, Tensor) else wave, dtype=np.float64)
    if x.ndim != 1 or len(x) < 16:
        raise ValueError("need a 1-D waveform of at least 16 samples")
    n_fft = max(len(x), 4 * rate // 10)  # zero-padded to 0.4 s or more: 2.5 Hz bins
    spectrum = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(len(x)), n=n_fft))
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    spectrum[freqs < low_hz] = 0
    k = int(np.argmax(spectrum))
    if 0 < k < len(spectrum) - 1:
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
        denom = a - 2 * b + c
        k = k + (0.5 * (a - c) / denom if denom != 0 else 0.0)
    return float(k * rate / n_fft)


def pitch_matches(freq_hz: float, target_hz: float, tolerance: float = 0.03) -> bool:
    """Whether ``freq_hz`` is within ``tolerance`` (relative; 3% is about half a semitone)
    of ``target_hz``."""
    return abs(freq_hz - target_hz) <= tolerance * target_hz


def note_pitches(clips: Tensor, notes: list[int], rate: int = SAMPLE_RATE_HZ) -> tuple[list[float], list[bool]]:
    """For clips (n, T) meant to play the note classes ``notes`` (n ids in [0, 7]): the
    dominant frequency of each (Hz) and whether it matches its note's pitch (3%)."""
    freqs = [dominant_frequency(clip, rate) for clip in clips]
    return freqs, [pitch_matches(f, NOTE_HZ[c]) for f, c in zip(freqs, notes)]


def join_clips(clips: Tensor, rate: int, gap_s: float) -> np.ndarray:
    """Clips (n, T) as one float32 waveform, one after the other with ``gap_s`` seconds
    of silence between them (none after the last)."""
    gap = torch.zeros(len(clips), round(gap_s * rate))
    return torch.cat([clips.float().cpu(), gap], 1).reshape(-1)[: -gap.shape[1] or None].numpy()


@dataclass(frozen=True)
class Quantised:
    """A clip played quietly and quantised to 8 bits both ways (``quantise_at_level``).

    Attributes:
        waves: {"original", "linear", "mu"}: (T,) float32 waveforms, each scaled back up
            to the clip's own loudness (so the quantisation noise is heard as it is).
        snr_db: {"linear", "mu"}: signal-to-noise ratio against the original, dB.
        levels_used: {"linear", "mu"}: how many of the 256 levels the quiet clip uses.
    """

    waves: dict[str, np.ndarray]
    snr_db: dict[str, float]
    levels_used: dict[str, int]


def quantise_at_level(wave: np.ndarray, level_db: float, n_codes: int = 256) -> Quantised:
    """Scale ``wave`` (T,) in [-1, 1] to a peak of ``level_db`` dBFS, quantise it to
    ``n_codes`` levels linearly (plain 8-bit PCM) and by the mu-law, and scale both back
    up by the same gain, which shows what each quantiser does to quiet sounds.

    Raises:
        ValueError: ``level_db`` outside [-120, 0].
    """
    level_db = check_float("level (dBFS)", level_db, -120.0, 0.0)
    gain = 10 ** (level_db / 20) / max(float(np.abs(wave).max()), 1e-9)
    quiet = torch.from_numpy((np.asarray(wave) * gain).astype(np.float32))
    waves = {
        "original": quiet.numpy() / gain,
        "linear": linear_quantise(quiet, n_codes).numpy() / gain,
        "mu": mu_law_decode(mu_law_encode(quiet, n_codes), n_codes).numpy() / gain,
    }
    clean = waves["original"].astype(np.float64)
    power = float(np.mean(clean**2))
    snr = {k: 10 * math.log10(power / max(float(np.mean((clean - waves[k]) ** 2)), 1e-20)) for k in ("linear", "mu")}
    levels = {k: len(np.unique(np.round(waves[k] * gain, 6))) for k in ("linear", "mu")}
    return Quantised(waves, snr, levels)


# -- the user's clips ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UserClip:
    """An uploaded or recorded clip, ready for the model.

    Attributes:
        wave: (T,) float32 in [-1, 1], mono, at ``sample_rate_hz``.
        sample_rate_hz: the model's rate.
        notes: what was done to it, in words (mixed down, resampled, trimmed, clipped...).
    """

    wave: np.ndarray
    sample_rate_hz: int
    notes: tuple[str, ...] = ()

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return len(self.wave) / self.sample_rate_hz

    def codes(self) -> Tensor:
        """The clip as mu-law codes (T,) int64 in [0, 255]."""
        return mu_law_encode(torch.from_numpy(self.wave))


def read_audio(path: str | os.PathLike | None, sample_rate_hz: int = SAMPLE_RATE_HZ, max_seconds: float = MAX_UPLOAD_SECONDS) -> UserClip:
    """Read an audio file (any format libsndfile reads: WAV, FLAC, OGG/Vorbis, Opus, MP3,
    AIFF, ...), mix it to mono, keep its first ``max_seconds``, resample it to
    ``sample_rate_hz`` (soxr, high quality) and check it.

    Returns:
        ``UserClip`` (its ``notes`` say what was changed, e.g. "trimmed to the first 30 s").

    Raises:
        ValueError: no file, a file over 100 MB, not audio or corrupt, no samples, shorter
            than 50 ms, more than 64 channels, a sample rate outside 1 kHz-768 kHz, NaN or
            infinite samples, or silence (peak below -60 dBFS).
    """
    import soundfile
    import soxr

    if not path:
        raise ValueError("no audio was given: upload a file or record a clip first")
    max_seconds = check_float("max_seconds", max_seconds, MIN_UPLOAD_SECONDS, 3600.0)
    try:
        size = os.path.getsize(path)
    except OSError:
        raise ValueError("the audio file cannot be read (it may have been removed): upload it again") from None
    if size > MAX_UPLOAD_BYTES:
        raise ValueError(f"the audio file is {size / 2**20:.0f} MB: the limit is {MAX_UPLOAD_BYTES // 2**20} MB")
    notes: list[str] = []
    try:
        with soundfile.SoundFile(path) as f:
            rate, channels, frames = f.samplerate, f.channels, f.frames
            if not 1000 <= rate <= 768_000:
                raise ValueError(f"the audio's sample rate is {rate} Hz: this app reads 1 kHz to 768 kHz")
            if channels > MAX_CHANNELS:
                raise ValueError(f"the audio has {channels} channels: at most {MAX_CHANNELS} can be mixed down")
            keep = int(max_seconds * rate)
            data = f.read(frames=keep, dtype="float32", always_2d=True)  # (T, channels): never more than we keep
    except ValueError:
        raise
    except Exception as err:  # soundfile's LibsndfileError, RuntimeError, TypeError on odd headers...
        raise ValueError(
            f"this is not an audio file that can be read ({type(err).__name__}); try WAV, FLAC, OGG or MP3"
        ) from None
    if len(data) == 0:
        raise ValueError("the audio file holds no samples")
    if len(data) < MIN_UPLOAD_SECONDS * rate:
        raise ValueError(f"the clip is {len(data) / rate * 1000:.1f} ms long: give at least {MIN_UPLOAD_SECONDS * 1000:.0f} ms")
    if not np.isfinite(data).all():
        raise ValueError("the audio holds NaN or infinite samples: it is corrupt")
    if frames > len(data):
        notes.append(f"trimmed to the first {max_seconds:g} s")
    if channels > 1:
        notes.append(f"{channels} channels mixed down to mono")
    clipped = float(np.mean(np.abs(data).max(axis=1) >= 0.999))  # any channel at full scale
    wave = data.mean(axis=1)
    if clipped >= CLIPPED_SHARE:
        notes.append(f"{clipped:.0%} of its samples are at full scale (clipped): used as is")
    if rate != sample_rate_hz:
        wave = soxr.resample(wave, rate, sample_rate_hz, quality="HQ").astype(np.float32)
        notes.append(f"resampled from {rate / 1000:g} kHz to {sample_rate_hz / 1000:g} kHz")
    wave = np.clip(wave, -1.0, 1.0)
    peak = float(np.abs(wave).max()) if len(wave) else 0.0
    if peak < SILENCE_PEAK:
        raise ValueError(f"the clip is silent (its peak is {20 * math.log10(max(peak, 1e-12)):.0f} dBFS): record or upload a louder one")
    return UserClip(wave=wave.astype(np.float32), sample_rate_hz=sample_rate_hz, notes=tuple(notes))


def clip_splits(clip: UserClip, clip_seconds: float = CLIP_SECONDS, n_train: int = 512, n_test: int = 32, seed: int = 0) -> AudioSplits:
    """Training data from one user clip: random crops of ``clip_seconds``, the training
    crops from its first 90% and the test crops from its last 10% (or, for a clip too
    short for that, both from the whole clip; the note says so). All class 0.

    Raises:
        ValueError: a clip shorter than ``clip_seconds``.
    """
    n = round(clip_seconds * clip.sample_rate_hz)
    codes = clip.codes()
    if len(codes) < n:
        raise ValueError(f"the clip is {clip.seconds:.2f} s long: training needs at least {clip_seconds:g} s")
    rng = np.random.default_rng(seed)
    split = int(0.9 * len(codes))
    note = ""
    if split - n < 0 or len(codes) - split < n:
        train_part = test_part = codes
        note = "a short clip: the test crops overlap the training crops"
    else:
        train_part, test_part = codes[:split], codes[split:]

    def crops(part: Tensor, k: int) -> Tensor:
        starts = rng.integers(0, len(part) - n + 1, size=k)
        return torch.stack([part[s : s + n] for s in starts])

    zeros = functools.partial(torch.zeros, dtype=torch.int64)
    return AudioSplits(
        name="upload", sample_rate_hz=clip.sample_rate_hz, train_codes=crops(train_part, n_train), train_labels=zeros(n_train),
        test_codes=crops(test_part, n_test), test_labels=zeros(n_test), class_names=("your clip",), note=note,
    )


def to_wav(wave: np.ndarray | Tensor, rate: int, path: str | os.PathLike) -> str:
    """Write a waveform (T,) in [-1, 1] as 16-bit PCM WAV (soundfile); returns the path."""
    import soundfile

    x = np.asarray(wave.detach().cpu() if isinstance(wave, Tensor) else wave, dtype=np.float32)
    soundfile.write(str(path), np.clip(x, -1, 1), rate, subtype="PCM_16")
    return str(path)


__all__ = [
    "AudioSplits", "CLASS_NAMES", "NOTE_HZ", "NOTE_NAMES", "Quantised", "SAMPLE_RATE_HZ", "UserClip", "clip_splits", "dominant_frequency",
    "join_clips", "mu_law_decode", "mu_law_encode", "note_pitches", "pitch_matches", "quantise_at_level", "read_audio", "synth_clip",
    "synthetic_audio", "to_wav",
]

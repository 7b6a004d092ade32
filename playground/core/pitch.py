"""Pitch contours for the locally conditioned WaveNet (``models.wavenet_local``): synthetic
tones that follow known contours (glides, vibrato, melodies, steady notes), a contour from a
drawing or a preset, and a frame-wise pitch tracker with the tracking error in cents. No gradio here.

A contour is one f0 value (Hz) per frame of 10 ms (80 samples at 8 kHz). The training clips
are sustained harmonic tones (the same timbres as ``playground.core.audio``'s notes, with
a random harmonic roll-off) whose instantaneous frequency is the contour, linearly
interpolated between frame centres; each clip is 0.25 s, peak-normalised to [0.3, 0.9] and
mu-law encoded. All drawn from ``numpy.random.default_rng(seed)``.

The tracker takes, for each frame, the strongest spectral peak (the fundamental: every
synthetic harmonic is weaker than it) of a 64 ms Hann window centred on the frame
(``playground.core.audio.dominant_frequency``); frames quieter than -30 dB below the clip's
peak count as unvoiced. The error of a frame is 1200 * log2(tracked / target) cents
(100 cents = a semitone).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from models.mu_law import mu_law_decode, mu_law_encode
from playground.core.audio import SAMPLE_RATE_HZ, _tone, dominant_frequency

FRAME_MS = 10.0
HOP = int(SAMPLE_RATE_HZ * FRAME_MS / 1000)  # 80 samples
CLIP_SECONDS = 0.25
N_TRAIN, N_TEST = 2000, 200
DATA_SEED = 0
LOW_HZ, HIGH_HZ = 110.0, 880.0  # the drawing's range: A2 to A5, three octaves
TRAIN_RANGE_HZ = (130.0, 700.0)
KINDS = ("steady", "glide", "vibrato", "melody")
WINDOW = 512  # tracker window, samples (64 ms)
UNVOICED_DB = -30.0
PRESETS = ("glide up", "glide down", "vibrato", "melody", "siren")


def _contour(kind: str, n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """One random contour (n_frames,) Hz of ``kind`` within the training range."""
    lo, hi = np.log(TRAIN_RANGE_HZ[0]), np.log(TRAIN_RANGE_HZ[1])
    t = np.arange(n_frames) / n_frames
    if kind == "steady":
        return np.full(n_frames, np.exp(rng.uniform(lo, hi)))
    if kind == "glide":
        a, b = rng.uniform(lo, hi, size=2)
        return np.exp(a + (b - a) * t)
    if kind == "vibrato":
        centre, depth, rate = rng.uniform(lo + 0.1, hi - 0.1), rng.uniform(0.02, 0.06), rng.uniform(4, 8)
        return np.exp(centre + depth * np.sin(2 * np.pi * rate * t * n_frames * FRAME_MS / 1000 + rng.uniform(0, 2 * np.pi)))
    notes = np.exp(rng.uniform(lo, hi, size=rng.integers(2, 5)))  # melody: 2-4 notes in a row
    return notes[np.minimum((t * len(notes)).astype(int), len(notes) - 1)]


def synth_from_contour(contour_hz: np.ndarray, rng: np.random.Generator, rate: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """A sustained harmonic tone (F * 80,) float32 in [-0.9, 0.9] whose f0 follows ``contour_hz`` (F,)."""
    n = len(contour_hz) * HOP
    centres = (np.arange(len(contour_hz)) + 0.5) * HOP
    track = np.interp(np.arange(n), centres, contour_hz)
    rise = np.clip(np.arange(n) / (0.005 * rate), 0, 1)
    wave = _tone(track, n, rate, rng) * rise
    return (wave / max(np.abs(wave).max(), 1e-9) * rng.uniform(0.3, 0.9)).astype(np.float32)


@dataclass(eq=False)
class PitchSplits:
    """Synthetic tones with their contours (shared read-only).

    Attributes:
        train_codes, test_codes: (N, T) int64 mu-law codes; train_contours, test_contours: (N, F) float32 Hz.
    """

    name: str
    sample_rate_hz: int
    train_codes: Tensor
    train_contours: Tensor
    test_codes: Tensor
    test_contours: Tensor

    def inputs(self, split: str, kind: str = "pitch") -> Tensor:
        """(N, T) int64 codes of ``split``. Raises ValueError: another split or kind."""
        if split not in ("train", "test") or kind != "pitch":
            raise ValueError(f"split must be train or test and kind pitch, got {split!r}, {kind!r}")
        return self.train_codes if split == "train" else self.test_codes

    def labels(self, split: str) -> Tensor:
        """(N, F) float32 contours of ``split`` in Hz: the trainer passes them as the model's labels."""
        return self.test_contours if split == "test" else self.train_contours

    @property
    def test_labels(self) -> Tensor:
        return self.test_contours

    def test_figures(self, model, seed: int = 0, n_clips: int = 16) -> dict[str, float]:
        """Tracking error (cents, see ``cents_error``) of clips that ``model`` (a ``PitchWaveNet`` in eval mode)
        generates at temperature 1 for the first ``n_clips`` test contours (0.25 s each), pooled over their frames
        (each clip's first 3 left out). ``evaluate`` reports it beside the test NLL."""
        contours = self.test_contours[:n_clips]
        generator = torch.Generator().manual_seed(seed)
        *_, codes = model.generate(len(contours), contours.shape[1] * model.hop, contours, generator=generator, chunk=480_000)
        waves = mu_law_decode(codes, model.n_codes).cpu().numpy()
        tracked = np.concatenate([track_pitch(w, contours.shape[1])[3:] for w in waves])
        return {**cents_error(tracked, contours[:, 3:].numpy().ravel(), skip_frames=0), "clips": float(len(contours))}

    def describe(self) -> str:
        """One line: how many clips of what."""
        return (
            f"{self.name}: {len(self.train_codes):,} train / {len(self.test_codes):,} test tones of {CLIP_SECONDS:g} s at "
            f"{self.sample_rate_hz / 1000:g} kHz following steady, gliding, vibrato and melody contours ({TRAIN_RANGE_HZ[0]:g}-{TRAIN_RANGE_HZ[1]:g} Hz)"
        )


@functools.lru_cache(maxsize=2)
def synthetic_glides(n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = DATA_SEED) -> PitchSplits:
    """The training set (cached): kinds cycle steady, glide, vibrato, melody."""
    rng = np.random.default_rng(seed)
    n_frames = int(round(CLIP_SECONDS * 1000 / FRAME_MS))
    contours = [_contour(KINDS[i % len(KINDS)], n_frames, rng) for i in range(n_train + n_test)]
    waves = np.stack([synth_from_contour(c, rng) for c in contours])
    codes = mu_law_encode(torch.from_numpy(waves))
    f0 = torch.from_numpy(np.stack(contours).astype(np.float32))
    return PitchSplits("synthetic-glides", SAMPLE_RATE_HZ, codes[:n_train], f0[:n_train], codes[n_train:], f0[n_train:])


def pitch_for(name: str | None) -> PitchSplits:
    """The set for the CLI's --dataset (None or "synthetic-glides"). Raises ValueError: another name."""
    if name not in (None, "synthetic-glides"):
        raise ValueError(f"the pitch-conditioned WaveNet trains on synthetic-glides, got {name!r}")
    return synthetic_glides()


def preset(name: str, seconds: float) -> np.ndarray:
    """A named contour (F,) Hz of ``seconds``: glide up (C4 to C5), glide down, vibrato (A4 ± 60 cents at 5.5 Hz),
    melody (C4 E4 G4 C5 G4 E4) or siren (220 to 660 Hz and back, twice). Raises ValueError: an unknown name."""
    n = max(1, int(round(seconds * 1000 / FRAME_MS)))
    t = np.arange(n) / n
    if name == "glide up":
        return 261.63 * 2**t
    if name == "glide down":
        return 523.25 * 2 ** (-t)
    if name == "vibrato":
        return 440.0 * 2 ** (0.6 / 12 * np.sin(2 * np.pi * 5.5 * t * seconds))
    if name == "melody":
        notes = np.array([261.63, 329.63, 392.00, 523.25, 392.00, 329.63])
        return notes[np.minimum((t * len(notes)).astype(int), len(notes) - 1)]
    if name == "siren":
        return 220.0 * 3 ** (0.5 - 0.5 * np.cos(4 * np.pi * t))
    raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {name!r}")


def contour_from_drawing(ink: np.ndarray, seconds: float) -> np.ndarray:
    """A contour (F,) Hz from a drawing: ``ink`` (H, W) bool/float, True or > 0.5 where drawn. Each
    column's mean inked row is a pitch on a log scale, top = 880 Hz, bottom = 110 Hz; columns without
    ink are interpolated (held before the first and after the last); the W columns span ``seconds``.

    Raises:
        ValueError: no ink, or ink in fewer than 2% of the columns.
    """
    ink = np.asarray(ink) > 0.5
    h, w = ink.shape
    drawn = ink.any(0)
    if drawn.sum() < max(2, 0.02 * w):
        raise ValueError("draw a pitch curve from left to right first (or pick a preset)")
    rows = np.arange(h)[:, None]
    mean_row = np.where(drawn, (ink * rows).sum(0) / np.maximum(ink.sum(0), 1), np.nan)
    cols = np.flatnonzero(drawn)
    height = 1 - np.interp(np.arange(w), cols, mean_row[cols]) / max(h - 1, 1)  # 0 bottom, 1 top
    n = max(1, int(round(seconds * 1000 / FRAME_MS)))
    at = np.interp(np.linspace(0, w - 1, n), np.arange(w), height)
    return LOW_HZ * (HIGH_HZ / LOW_HZ) ** at


def track_pitch(wave: np.ndarray | Tensor, n_frames: int, rate: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """The tracked f0 (n_frames,) Hz of ``wave`` (T,), one per 10 ms frame (NaN where unvoiced)."""
    x = np.asarray(wave.detach().cpu() if isinstance(wave, Tensor) else wave, dtype=np.float64)
    peak = np.abs(x).max() + 1e-12
    out = np.full(n_frames, np.nan)
    for k in range(n_frames):
        centre = int((k + 0.5) * HOP)
        seg = x[max(0, centre - WINDOW // 2) : centre + WINDOW // 2]
        if len(seg) < 64 or 20 * np.log10(np.sqrt(np.mean(seg**2)) * np.sqrt(2) / peak + 1e-12) < UNVOICED_DB:
            continue
        out[k] = dominant_frequency(seg, rate, low_hz=60.0)
    return out


def cents_error(tracked_hz: np.ndarray, target_hz: np.ndarray, skip_frames: int = 3) -> dict[str, float]:
    """Tracking error over the voiced frames (the first ``skip_frames`` left out: the onset):
    ``median_cents`` and ``mean_cents`` of |1200 log2(tracked / target)|, ``within_50`` the share
    within 50 cents (a quarter tone), ``voiced`` the share of frames tracked."""
    tracked, target = np.asarray(tracked_hz, float)[skip_frames:], np.asarray(target_hz, float)[skip_frames:]
    voiced = np.isfinite(tracked)
    if not voiced.any():
        return {"median_cents": float("nan"), "mean_cents": float("nan"), "within_50": 0.0, "voiced": 0.0}
    err = np.abs(1200 * np.log2(tracked[voiced] / target[voiced]))
    return {"median_cents": float(np.median(err)), "mean_cents": float(err.mean()), "within_50": float((err <= 50).mean()), "voiced": float(voiced.mean())}

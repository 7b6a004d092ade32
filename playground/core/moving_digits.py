"""Moving digits: two digits bouncing in 32 x 32 binary frames, made in code from the bundled
digits (a miniature of Moving MNIST, Srivastava et al. 2015, arXiv:1502.04681). No gradio here.

Each digit (the fixed binarisation of ``playground.core.data``) is shrunk to 16 x 16 (area
average, then > 0.5), starts at a random place with a random velocity of 1 to 3 pixels per frame
on each axis, and bounces off the walls; a frame is the union (max) of the two. Train clips use
train digits and test clips test digits; all drawn from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

SIZE, DIGIT, N_FRAMES = 32, 16, 10
N_TRAIN, N_TEST = 1000, 100
DATA_SEED = 0


def _digits(images: Tensor) -> Tensor:
    """Binary digits (N, 1, 28, 28) to (N, 16, 16) bool."""
    return F.interpolate(images.float(), size=(DIGIT, DIGIT), mode="area")[:, 0] > 0.5


def bounce(n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Top-left corners (n_frames, 2) int of one digit bouncing in the frame: a random start, 1 to 3 px per frame per axis."""
    room = SIZE - DIGIT
    pos = rng.integers(0, room + 1, size=2).astype(float)
    vel = rng.integers(1, 4, size=2) * rng.choice([-1, 1], size=2)
    out = np.zeros((n_frames, 2), int)
    for t in range(n_frames):
        out[t] = pos
        pos = pos + vel
        for axis in range(2):
            if pos[axis] < 0 or pos[axis] > room:
                vel[axis] = -vel[axis]
                pos[axis] = np.clip(pos[axis], 0, room) - (pos[axis] - np.clip(pos[axis], 0, room))
    return out


def make_clips(digits: Tensor, n: int, rng: np.random.Generator, n_frames: int = N_FRAMES) -> Tensor:
    """``n`` clips (n, n_frames, 32, 32) float32 in {0, 1} of two of ``digits`` (N, 16, 16) bool each."""
    clips = torch.zeros(n, n_frames, SIZE, SIZE)
    for i in range(n):
        for d in rng.choice(len(digits), size=2, replace=False):
            for t, (r, c) in enumerate(bounce(n_frames, rng)):
                clips[i, t, r : r + DIGIT, c : c + DIGIT] = torch.maximum(clips[i, t, r : r + DIGIT, c : c + DIGIT], digits[d].float())
    return clips


@dataclass(eq=False)
class VideoSplits:
    """Train and test clips, (N, T, 32, 32) float32 in {0, 1} (shared read-only)."""

    name: str
    train_clips: Tensor
    test_clips: Tensor

    def inputs(self, split: str, kind: str = "video") -> Tensor:
        """The clips of ``split``. Raises ValueError: another split or kind."""
        if split not in ("train", "test") or kind != "video":
            raise ValueError(f"split must be train or test and kind video, got {split!r}, {kind!r}")
        return self.train_clips if split == "train" else self.test_clips

    def labels(self, split: str) -> Tensor:
        """Zeros, one per clip (the model takes no labels)."""
        return torch.zeros(len(self.inputs(split)), dtype=torch.int64)

    @property
    def test_labels(self) -> Tensor:
        return self.labels("test")

    def describe(self) -> str:
        n, t = self.train_clips.shape[:2]
        return f"{self.name}: {n:,} train / {len(self.test_clips):,} test clips of {t} frames, two 16 x 16 digits bouncing in 32 x 32"


@functools.lru_cache(maxsize=1)
def moving_digits(n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = DATA_SEED) -> VideoSplits:
    """The set (cached), from the bundled digits' train and test splits."""
    from playground.core.data import load_mnist

    data = load_mnist("mnist-5k")
    rng = np.random.default_rng(seed)
    train = make_clips(_digits(data.images("train", "binary")), n_train, rng)
    test = make_clips(_digits(data.images("test", "binary")), n_test, rng)
    return VideoSplits("moving-digits", train, test)


def video_for(name: str | None) -> VideoSplits:
    """The set for the CLI's --dataset (None or "moving-digits"). Raises ValueError: another name."""
    if name not in (None, "moving-digits"):
        raise ValueError(f"the video model trains on moving-digits, got {name!r}")
    return moving_digits()

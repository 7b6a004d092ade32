"""MNIST for every family: the bundled 5,000-digit subset, or full MNIST on request.

The default, and the fallback whenever full MNIST cannot be had, is the subset bundled in
``assets/data/mnist_5k.npz`` (500 real digits per class; provenance in
``assets/data/SOURCE.md``), split by a seeded, stratified permutation into 4,500 train and
500 test digits (450 and 50 per class). Set ``PLAYGROUND_DATASET=mnist-full`` to download
the 60,000/10,000 MNIST split with torchvision instead.

Every split comes in two versions:

- grey: float32 in [0, 1] (the stored uint8 / 255);
- binary: a fixed stochastic binarisation, each pixel set to 1 with probability equal to
  its grey level, drawn once from ``numpy.random.default_rng(BINARIZE_SEED)`` over the
  whole file in its stored order (as in Salakhutdinov & Murray 2008), so the same digit
  always has the same binary version, in the CLI, the tests and the UI alike. Families
  with a Bernoulli likelihood train and are evaluated on it.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
BUNDLED_MNIST = ASSETS_DIR / "data" / "mnist_5k.npz"
DATASET_ENV = "PLAYGROUND_DATASET"
DATA_DIR_ENV = "PLAYGROUND_DATA_DIR"
DATASETS = {
    "mnist-5k": "the bundled subset of 5,000 real MNIST digits (4,500 train / 500 test); the default and the fallback",
    "mnist-full": "full MNIST (60,000 train / 10,000 test), downloaded with torchvision",
}
DEFAULT_DATASET = "mnist-5k"
SPLIT_SEED = 0
BINARIZE_SEED = 1
N_TEST_PER_CLASS = 50
# First 16 hex digits of the SHA-256 of the bundled split's test indices (int64 bytes) and
# of its binarised test images (float32 bytes): anyone can check they use the same data.
TEST_SPLIT_FINGERPRINT = "80825b111cb3d500"
TEST_BINARY_FINGERPRINT = "c710f5b13dfc60be"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MnistSplits:
    """Train and test digits, ready for any family. Shared read-only: never modify.

    Attributes:
        name: the dataset actually loaded (``"mnist-5k"`` or ``"mnist-full"``).
        train_grey, test_grey: (N, 1, 28, 28) float32 in [0, 1].
        train_binary, test_binary: the same digits binarised, float32 in {0, 1}.
        train_labels, test_labels: (N,) int64 digits in [0, 9].
        note: why this dataset was used when another was asked for, else "".
        digits: whether the images are MNIST digits, so that the digit judges
            (``metrics.JUDGES``) and the digit-only panels apply; False for the user's own
            images and other datasets (letters, clothes), where those say "not available
            for this dataset" instead of printing a digit score.
        labelled: whether the labels are real classes; False for unlabelled images, which
            all get label 0 (a conditional model trained on them is in effect unconditional).
        class_names: the name of each label in [0, len(class_names) - 1] (at most 10).
    """

    name: str
    train_grey: Tensor
    train_binary: Tensor
    train_labels: Tensor
    test_grey: Tensor
    test_binary: Tensor
    test_labels: Tensor
    note: str = field(default="")
    digits: bool = True
    labelled: bool = True
    class_names: tuple[str, ...] = tuple("0123456789")

    def images(self, split: str, kind: str) -> Tensor:
        """The images of ``split`` (``"train"``/``"test"``) in ``kind`` (``"grey"``/``"binary"``).

        Raises:
            ValueError: for any other split or kind.
        """
        if split not in ("train", "test") or kind not in ("grey", "binary"):
            raise ValueError(f"split must be train or test and kind grey or binary, got {split!r}, {kind!r}")
        return getattr(self, f"{split}_{kind}")

    def inputs(self, split: str, kind: str) -> Tensor:
        """The same as ``images``: the name the trainer uses for any dataset's inputs."""
        return self.images(split, kind)

    def labels(self, split: str) -> Tensor:
        """The (N,) int64 labels of ``split``."""
        return self.test_labels if split == "test" else self.train_labels

    def describe(self) -> str:
        """One line for headers, logs and model cards, e.g. ``"mnist-5k: 4,500 train / 500 test digits"``."""
        what = "digits" if self.digits else "images" + ("" if self.labelled else ", unlabelled")
        text = f"{self.name}: {len(self.train_labels):,} train / {len(self.test_labels):,} test {what}"
        return f"{text} ({self.note})" if self.note else text


def stratified_split(labels: np.ndarray, n_test_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded, stratified train/test indices.

    Each class's indices are permuted with ``numpy.random.default_rng(seed)``; the first
    ``n_test_per_class`` go to test. Both index arrays are then shuffled (same rng), so
    neither is sorted by label.

    Returns:
        ``(train_idx, test_idx)``: int64 arrays that partition ``range(len(labels))``.

    Raises:
        ValueError: if a class has no more than ``n_test_per_class`` examples.
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        if len(idx) <= n_test_per_class:
            raise ValueError(f"class {c} has {len(idx)} examples, too few for {n_test_per_class} test digits")
        test.append(idx[:n_test_per_class])
        train.append(idx[n_test_per_class:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def binarize(images: np.ndarray, seed: int = BINARIZE_SEED) -> np.ndarray:
    """Fixed stochastic binarisation: pixel = 1 with probability grey level.

    Args:
        images: uint8 array (N, 28, 28), 0..255.

    Returns:
        uint8 array of the same shape with values in {0, 1}.
    """
    rng = np.random.default_rng(seed)
    return (rng.random(images.shape, dtype=np.float32) < images / np.float32(255.0)).astype(np.uint8)


def _to_tensor(images: np.ndarray, scale: float) -> Tensor:
    return torch.from_numpy(images.astype(np.float32) / scale).unsqueeze(1)  # (N, 1, 28, 28)


def make_splits(
    name: str, images: np.ndarray, labels: np.ndarray, train_idx, test_idx, note: str = "", binarize_seed: int = BINARIZE_SEED, **fields: Any,
) -> MnistSplits:
    """Build MnistSplits from uint8 images (N, 28, 28), labels (N,) and index arrays; the
    fixed binarisation is drawn with ``binarize_seed``; ``fields`` set the other
    attributes (``digits``, ``labelled``, ``class_names``)."""
    # Binarise in file order before splitting, so a digit's binary version does not
    # depend on the split.
    binary = binarize(images, binarize_seed)
    return MnistSplits(
        name=name,
        train_grey=_to_tensor(images[train_idx], 255.0),
        train_binary=_to_tensor(binary[train_idx], 1.0),
        train_labels=torch.from_numpy(labels[train_idx].astype(np.int64)),
        test_grey=_to_tensor(images[test_idx], 255.0),
        test_binary=_to_tensor(binary[test_idx], 1.0),
        test_labels=torch.from_numpy(labels[test_idx].astype(np.int64)),
        note=note,
        **fields,
    )


def _bundled(note: str = "") -> MnistSplits:
    with np.load(BUNDLED_MNIST) as f:
        images, labels = f["images"], f["labels"]
    train_idx, test_idx = stratified_split(labels, N_TEST_PER_CLASS, SPLIT_SEED)
    return make_splits("mnist-5k", images, labels, train_idx, test_idx, note)


def _full(root: Path) -> MnistSplits:
    """Full MNIST through ``torchvision.datasets.MNIST`` (downloads into ``root`` once),
    with its own 60,000/10,000 train/test split."""
    from torchvision.datasets import MNIST

    train, test = (MNIST(str(root), train=flag, download=True) for flag in (True, False))
    images = np.concatenate([train.data.numpy(), test.data.numpy()])
    labels = np.concatenate([train.targets.numpy(), test.targets.numpy()])
    n_train = len(train.targets)
    return make_splits("mnist-full", images, labels, np.arange(n_train), np.arange(n_train, len(labels)))


def data_dir() -> Path:
    """Where downloaded datasets live: ``PLAYGROUND_DATA_DIR`` or ``~/.cache/playground``."""
    return Path(os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "playground")


def resolve_dataset_name(name: str | None = None) -> str:
    """The dataset to use: ``name``, else ``PLAYGROUND_DATASET``, else the bundled subset.

    Raises:
        ValueError: for an unknown name; the message lists the choices and the fallback.
    """
    name = (name or os.environ.get(DATASET_ENV, "") or DEFAULT_DATASET).strip().lower()
    if name not in DATASETS:
        choices = "; ".join(f"{k}: {v}" for k, v in DATASETS.items())
        raise ValueError(f"unknown dataset {name!r} (set by {DATASET_ENV} or --dataset). Choose one of: {choices}")
    return name


@functools.lru_cache(maxsize=4)
def load_mnist(name: str | None = None) -> MnistSplits:
    """Load the digits, cached per dataset name (the tensors are shared read-only).

    Args:
        name: ``"mnist-5k"`` or ``"mnist-full"``; None reads ``PLAYGROUND_DATASET``.

    Returns:
        The splits. If full MNIST was asked for but cannot be downloaded or read, the
        bundled subset is returned instead, with a ``note`` (and a warning) saying why.

    Raises:
        ValueError: for an unknown dataset name.
    """
    name = resolve_dataset_name(name)
    if name == "mnist-5k":
        return _bundled()
    try:
        return _full(data_dir() / "mnist")
    except Exception as err:  # any download or read failure: fall back, and say so
        note = f"full MNIST could not be loaded ({type(err).__name__}: {err}); using the bundled mnist-5k subset"
        warnings.warn(note, stacklevel=2)
        log.warning(note)
        return _bundled(note=note)


def batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    """Endless random minibatch indices: a fresh permutation of ``range(n)`` per epoch.

    Yields:
        int64 index tensors of length ``batch_size`` on the generator's device (the last
        partial batch of each epoch is dropped when n >= batch_size).
    """
    while True:
        perm = torch.randperm(n, generator=generator, device=generator.device)
        if n < batch_size:
            yield perm
            continue
        for start in range(0, n - batch_size + 1, batch_size):
            yield perm[start : start + batch_size]


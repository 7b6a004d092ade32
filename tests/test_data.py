"""The bundled split, the fixed binarisation, and the full-MNIST path and fallback."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest
import torch

from playground.core import data as data_module
from playground.core.data import BUNDLED_MNIST, batches, binarize, load_mnist, resolve_dataset_name, stratified_split


def test_bundled_split_is_stratified_4500_500(data):
    assert data.name == "mnist-5k"
    assert data.train_grey.shape == (4500, 1, 28, 28) and data.test_grey.shape == (500, 1, 28, 28)
    assert torch.equal(torch.bincount(data.test_labels), torch.full((10,), 50))
    assert torch.equal(torch.bincount(data.train_labels), torch.full((10,), 450))
    assert data.train_grey.dtype == torch.float32
    assert 0.0 == float(data.train_grey.min()) and float(data.train_grey.max()) == 1.0
    # shuffled: not sorted by label as the file is
    assert len(torch.unique_consecutive(data.test_labels)) > 300


def test_split_partitions_the_file_and_is_the_same_every_time(data):
    with np.load(BUNDLED_MNIST) as f:
        images, labels = f["images"], f["labels"]
    train_idx, test_idx = stratified_split(labels, 50, 0)
    assert sorted(np.concatenate([train_idx, test_idx]).tolist()) == list(range(5000))
    np.testing.assert_allclose(images[test_idx].astype(np.float32) / 255, data.test_grey[:, 0].numpy())
    again, _ = stratified_split(labels, 50, 0)
    assert np.array_equal(again, train_idx)
    # the published fingerprint of the split: changing the seed or code changes it
    assert hashlib.sha256(test_idx.tobytes()).hexdigest()[:16] == data_module.TEST_SPLIT_FINGERPRINT


def test_binarisation_is_fixed_binary_and_faithful(data):
    assert set(torch.unique(data.train_binary).tolist()) == {0.0, 1.0}
    # each pixel is on with probability equal to its grey level
    assert abs(float(data.train_binary.mean()) - float(data.train_grey.mean())) < 0.002
    assert float(data.train_binary[data.train_grey == 0].max()) == 0.0
    assert float(data.train_binary[data.train_grey == 1].min()) == 1.0
    assert torch.equal(load_mnist.__wrapped__("mnist-5k").test_binary, data.test_binary)
    assert hashlib.sha256(data.test_binary.numpy().tobytes()).hexdigest()[:16] == data_module.TEST_BINARY_FINGERPRINT


def test_binarize_depends_only_on_the_seed():
    images = np.random.default_rng(5).integers(0, 256, (10, 28, 28), dtype=np.uint8)
    assert np.array_equal(binarize(images, 3), binarize(images, 3))
    assert not np.array_equal(binarize(images, 3), binarize(images, 4))


def test_unknown_dataset_names_the_choices_and_the_fallback(monkeypatch):
    with pytest.raises(ValueError) as info:
        resolve_dataset_name("cifar10")
    assert "mnist-5k" in str(info.value) and "fallback" in str(info.value) and "mnist-full" in str(info.value)
    monkeypatch.setenv("PLAYGROUND_DATASET", "nope")
    with pytest.raises(ValueError, match="PLAYGROUND_DATASET"):
        load_mnist()
    monkeypatch.setenv("PLAYGROUND_DATASET", "")
    assert resolve_dataset_name() == "mnist-5k"


def _write_idx(path, array: np.ndarray, magic: int) -> None:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_full_mnist_reads_torchvision_files(tmp_path, monkeypatch, data):
    """The mnist-full path goes through torchvision.datasets.MNIST: given its files in
    the data folder (here written from the bundled digits), no download is attempted."""
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    with np.load(BUNDLED_MNIST) as f:
        images, labels = f["images"], f["labels"]
    for prefix, sl in (("train", slice(0, 4000)), ("t10k", slice(4000, 5000))):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", images[sl], 2051)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", labels[sl], 2049)
        for suffix in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            with gzip.open(raw / f"{prefix}-{suffix}.gz") as src:
                (raw / f"{prefix}-{suffix}").write_bytes(src.read())
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path))
    full = load_mnist.__wrapped__("mnist-full")
    assert full.name == "mnist-full" and full.note == ""
    assert full.train_grey.shape == (4000, 1, 28, 28) and full.test_grey.shape == (1000, 1, 28, 28)
    np.testing.assert_allclose(full.test_grey[:, 0].numpy(), images[4000:] / np.float32(255), rtol=0, atol=1e-7)
    assert torch.equal(full.test_labels, torch.from_numpy(labels[4000:]))


def test_full_mnist_falls_back_to_the_bundled_subset_when_it_cannot_be_had(tmp_path, monkeypatch):
    from torchvision.datasets import MNIST

    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])  # nothing listens there
    with pytest.warns(UserWarning, match="bundled mnist-5k"):
        got = load_mnist.__wrapped__("mnist-full")
    assert got.name == "mnist-5k"
    assert "full MNIST could not be loaded" in got.note and "mnist-5k" in got.describe()


def test_batches_cover_each_epoch_once():
    g = torch.Generator().manual_seed(0)
    stream = batches(10, 5, g)
    epoch = torch.cat([next(stream), next(stream)])
    assert sorted(epoch.tolist()) == list(range(10))
    assert next(batches(3, 5, torch.Generator().manual_seed(0))).numel() == 3

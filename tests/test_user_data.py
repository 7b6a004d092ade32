"""Your own images (playground/core/user_data.py): uploads become 28 x 28 splits, bad archives
get a message that names the problem, and torchvision datasets by name (against a local fake)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
import pytest
import torch
import torchvision.datasets
from PIL import Image, ImageDraw, ImageFont

from playground.core import data
from playground.core import user_data as ud
from playground.core.checkpoints import CheckpointError, check_zip_members
from playground.core.user_data import ImportOptions, import_uploads, load_named, preview, summary

LETTERS = "ABCDEFGHIJ"
_FONT = ImageFont.load_default(size=26)


def _letter_png(i: int, letter: str | None = None) -> bytes:
    """A dark letter on a light 40 x 40 background, in mode RGB, RGBA (transparent background) or L by turn."""
    mode = ("RGB", "RGBA", "L")[i % 3]
    background = {"RGB": (235, 230, 220), "RGBA": (0, 0, 0, 0), "L": 240}[mode]
    ink = {"RGB": (20, 20, 40), "RGBA": (10, 10, 10, 255), "L": 15}[mode]
    image = Image.new(mode, (40, 40), background)
    ImageDraw.Draw(image).text((10 + i % 5, 4 + i % 4), letter or LETTERS[i % 10], fill=ink, font=_FONT)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            z.writestr(name, content)
    return path


def _letters_zip(path, n: int = 200, folders: bool = False):
    members = {(f"letters/{'AB'[i % 2]}/{i}.png" if folders else f"letters/{i}.png"): _letter_png(i, "AB"[i % 2] if folders else None) for i in range(n)}
    return _zip(path, {**members, "letters/readme.txt": b"hello", "__MACOSX/letters/._0.png": b"\x00\x05\x16\x07"})


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header says width x height, with no pixel data: Pillow reads the size without decoding."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_a_zip_of_letters_becomes_dark_28x28_splits_the_same_every_time(tmp_path):
    path = _letters_zip(tmp_path / "letters.zip")
    splits = import_uploads([str(path)])
    assert splits.name == "letters.zip" and not splits.digits and not splits.labelled and splits.class_names == ("all",)
    assert splits.train_grey.shape == (180, 1, 28, 28) and splits.test_grey.shape == (20, 1, 28, 28)
    assert splits.train_grey.dtype == torch.float32 and 0 <= float(splits.train_grey.min()) and float(splits.train_grey.max()) <= 1
    assert set(torch.unique(splits.test_binary).tolist()) == {0.0, 1.0} and int(splits.train_labels.abs().sum()) == 0
    grey = torch.cat([splits.train_grey, splits.test_grey])[:, 0]
    assert float(grey[:, 0].mean()) < 0.1 and float(grey[:, :, 0].mean()) < 0.1  # inverted: a dark border (the paper was 220..240), as MNIST
    assert 0.1 < float(grey[:, 8:20, 8:20].max(-1).values.mean()) and float(grey.max()) > 0.9  # the light letters sit inside
    assert "skipped 1 files that are not images (readme.txt)" in splits.note  # the macOS ._ file is neither read nor counted
    again = import_uploads([path])
    assert torch.equal(again.train_grey, splits.train_grey) and torch.equal(again.test_binary, splits.test_binary)
    other = import_uploads([path], ImportOptions(split_seed=1, binarize_seed=2))
    assert not torch.equal(other.test_grey, splits.test_grey)
    kept = import_uploads([path], ImportOptions(invert="no", fit="crop"), name="my letters")
    assert kept.name == "my letters" and float(kept.train_grey[:, 0, 0].mean()) > 0.8  # the light paper kept


def test_class_folders_become_labelled_classes_split_by_class(tmp_path):
    splits = import_uploads([_letters_zip(tmp_path / "ab.zip", n=60, folders=True)], ImportOptions(test_fraction=0.2))
    assert splits.labelled and splits.class_names == ("A", "B")
    assert torch.bincount(splits.test_labels).tolist() == [6, 6] and torch.bincount(splits.train_labels).tolist() == [24, 24]
    assert "A (24 / 6), B (24 / 6)" in summary(splits)
    # The same letters as loose image files: no folders, so unlabelled; a .txt beside them is skipped.
    loose = []
    for i in range(25):
        (tmp_path / f"{i}.png").write_bytes(_letter_png(i))
        loose.append(tmp_path / f"{i}.png")
    (tmp_path / "notes.txt").write_text("x")
    splits = import_uploads([*loose, tmp_path / "notes.txt"])
    assert not splits.labelled and splits.name == "0.png + 25 more" and len(splits.train_labels) + len(splits.test_labels) == 25


def test_16_bit_grey_is_scaled_not_clipped(tmp_path):
    pixels = np.full((40, 40), 60_000, np.uint16)
    pixels[10:30, 18:22] = 1_000  # a dark stroke on light paper, in 16 bits
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    splits = import_uploads([_zip(tmp_path / "deep.zip", {f"{i}.png": out.getvalue() for i in range(20)})])
    grey = splits.train_grey[:, 0]
    assert float(grey[:, 14, 14].min()) > 0.9 and float(grey[:, 0].max()) < 0.15  # inverted, and the stroke kept


def test_an_npz_with_labels(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((30, 32, 32)).astype(np.float32)
    labels = np.array([3, 7] * 15)
    np.savez_compressed(tmp_path / "mine.npz", images=images, labels=labels)
    splits = import_uploads([tmp_path / "mine.npz"], ImportOptions(invert="no"))
    assert splits.labelled and splits.class_names == ("3", "7") and set(splits.train_labels.tolist()) == {0, 1}
    assert splits.train_grey.shape[1:] == (1, 28, 28) and len(splits.train_labels) + len(splits.test_labels) == 30
    # uint8 RGBA, channels last, and twelve label values: more than ten classes, so unlabelled, and the note says so
    rgba = rng.integers(0, 256, (24, 28, 28, 4), dtype=np.uint8)
    np.savez(tmp_path / "rgba.npz", images=rgba, labels=np.arange(24) % 12)
    splits = import_uploads([tmp_path / "rgba.npz"])
    assert not splits.labelled and "12 label values" in splits.note and "12 label values" in summary(splits)
    # 28 x 28 grey uint8 that is MNIST-like already comes through unchanged
    digits = (data.load_mnist("mnist-5k").test_grey[:40, 0] * 255).round().to(torch.uint8).numpy()
    np.savez(tmp_path / "digits.npz", images=digits)
    splits = import_uploads([tmp_path / "digits.npz"], ImportOptions(test_fraction=0.5))
    assert sorted((torch.cat([splits.train_grey, splits.test_grey])[:, 0] * 255).round().sum((1, 2)).tolist()) == sorted(digits.astype(float).sum((1, 2)).tolist())


def _bad_uploads(tmp_path):
    """(name, paths, message pattern) for each kind of bad upload."""
    png = _letter_png(0)
    images = {f"{i}.png": png for i in range(25)}
    (tmp_path / "not.zip").write_bytes(b"hello, not a zip")
    np.savez(tmp_path / "nothing.npz", pixels=np.zeros((30, 28, 28), np.uint8))
    np.savez(tmp_path / "objects.npz", images=np.array([None] * 30, dtype=object))
    np.savez(tmp_path / "nan.npz", images=np.full((30, 28, 28), np.nan, np.float32))
    truncated = {**images, "cut.png": png[: len(png) // 2]}
    return [
        ("nothing", [], "no file was uploaded"),
        ("empty", [_zip(tmp_path / "empty.zip", {})], "'empty.zip' is empty"),
        ("not a zip", [tmp_path / "not.zip"], "'not.zip' is not a readable zip file"),
        ("bomb", [_zip(tmp_path / "bomb.zip", {**images, "bomb.bmp": bytes(20 * 2**20)})], r"'bomb.bmp' expands [\d,]+ times .*zip bomb"),
        ("traversal", [_zip(tmp_path / "evil.zip", {**images, "../../evil.png": png})], "unsafe path: '../../evil.png'"),
        ("10,000 tiny files", [_zip(tmp_path / "many.zip", {f"{i}.png": b"x" for i in range(10_000)})], "holds 10,000 files; the limit is 5,000"),
        ("no images", [_zip(tmp_path / "text.zip", {"a.txt": b"a", "b.csv": b"1,2"})], r"found no images \(PNG, JPEG, WebP, GIF or BMP\) in the upload; skipped 2"),
        ("corrupt PNG", [_zip(tmp_path / "corrupt.zip", {**images, "bad.png": b"\x89PNG\r\n\x1a\n" + bytes(100)})], "'bad.png' in 'corrupt.zip' is not a readable image"),
        ("truncated PNG", [_zip(tmp_path / "cut.zip", truncated)], "'cut.png' in 'cut.zip' is not a readable image"),
        ("pixel bomb", [_zip(tmp_path / "huge.zip", {**images, "huge.png": _png_claiming(5000, 5000)})], "'huge.png' in 'huge.zip' has more than 16,777,216 pixels .*5,000 x 5,000"),
        ("too few", [_zip(tmp_path / "few.zip", {f"{i}.png": png for i in range(5)})], "found 5 images; at least 20 are needed"),
        ("npz with others", [tmp_path / "nothing.npz", tmp_path / "not.zip"], "upload the .npz on its own"),
        ("npz without images", [tmp_path / "nothing.npz"], "has no 'images' array; it holds 'pixels.npy'"),
        ("npz of objects", [tmp_path / "objects.npz"], "not a readable .npz .object arrays are not loaded"),
        ("npz of NaN", [tmp_path / "nan.npz"], r"float in \[0, 1\] \(no NaN\)"),
        ("one image in a class", [_zip(tmp_path / "lonely.zip", {**{f"a/{i}.png": png for i in range(24)}, "b/0.png": png})], "class 'b' has 1 image; each class needs at least 2"),
    ]


def test_every_bad_upload_gets_a_message_that_names_the_problem_and_no_server_path(tmp_path):
    for what, paths, pattern in _bad_uploads(tmp_path):
        with pytest.raises(ValueError, match=pattern) as info:
            import_uploads(paths)
        message = str(info.value)
        assert str(tmp_path) not in message and "/tmp" not in message and len(message) < 300, (what, message)


def test_size_limits_are_read_from_the_module_constants(tmp_path, monkeypatch):
    noise = np.random.default_rng(0).integers(0, 256, 2 * 2**20, dtype=np.uint8).tobytes()  # incompressible: no bomb
    path = _zip(tmp_path / "big.zip", {"noise.png": noise})
    monkeypatch.setattr(ud, "MAX_UNCOMPRESSED_BYTES", 2**20)
    with pytest.raises(ValueError, match="'big.zip': the zip is larger than 1 MB uncompressed"):
        import_uploads([path])
    monkeypatch.setattr(ud, "MAX_UPLOAD_BYTES", 2**20)
    with pytest.raises(ValueError, match=r"the upload is 2\.0 MB; the limit is 1 MB"):
        import_uploads([path])
    with zipfile.ZipFile(_zip(tmp_path / "zeros.zip", {"w.bin": bytes(2 * 2**20)})) as archive, pytest.raises(CheckpointError, match="zip bomb"):
        check_zip_members(archive)  # the same defence guards checkpoint uploads


def test_options_are_checked():
    assert ImportOptions() == ImportOptions("auto", "pad", 0.1, 0, data.BINARIZE_SEED)
    for bad, pattern in (({"invert": "maybe"}, "invert must be one of"), ({"fit": "stretch"}, "fit must be one of"),
                         ({"test_fraction": 0.9}, r"test fraction must be a number in \[0.05, 0.5\]"), ({"split_seed": -1}, "split seed")):
        with pytest.raises(ValueError, match=pattern):
            ImportOptions(**bad)


def test_preview_and_summary(tmp_path):
    splits = import_uploads([_letters_zip(tmp_path / "letters.zip", n=80)])
    grid = preview(splits)
    assert grid.dtype == np.uint8 and grid.shape == (2 + 8 * 30, 2 + 8 * 30)
    assert preview(splits, n=4).shape == (2 + 2 * 30, 2 + 2 * 30)
    with pytest.raises(ValueError, match="n must be in"):
        preview(splits, n=0)
    text = summary(splits, skipped=2)
    assert text.startswith("**letters.zip**: 72 train / 8 test images") and "Unlabelled" in text and "readme.txt" in text and "2 more files" in text


class _FakeDataset:
    """A torchvision-style dataset made of noise, recording how it was asked for."""

    calls: list = []
    n_classes = 10

    def __init__(self, root, train=True, download=False, split=None):
        self.calls.append((root, train, download, split))
        n = 30 if train else 12
        rng = np.random.default_rng(int(train))
        self.data = torch.from_numpy(rng.integers(0, 80, (n, 28, 28), dtype=np.uint8))
        self.data[:, 5:20, 10] = 255  # a vertical stroke; transposed upright for EMNIST
        self.targets = torch.arange(n) % self.n_classes
        self.classes = [f"class {i}" for i in range(self.n_classes)]


@pytest.fixture
def fresh_named(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    load_named.cache_clear()
    yield tmp_path
    load_named.cache_clear()


def test_named_datasets_through_torchvision(fresh_named, monkeypatch):
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", _FakeDataset)
    monkeypatch.setattr(ud, "MAX_NAMED_TRAIN", 20)
    _FakeDataset.calls = []
    fashion = load_named("fashion-mnist")
    assert _FakeDataset.calls == [(str(fresh_named / "torchvision"), True, True, None), (str(fresh_named / "torchvision"), False, True, None)]
    assert fashion.name == "fashion-mnist" and not fashion.digits and fashion.labelled and fashion.class_names[3] == "class 3"
    assert fashion.train_grey.shape == (20, 1, 28, 28) and fashion.test_grey.shape == (12, 1, 28, 28) and "subsample of 30 / 12" in fashion.note
    assert load_named("fashion-mnist") is fashion  # cached, shared read-only

    class Letters(_FakeDataset):
        n_classes = 26

    monkeypatch.setattr(torchvision.datasets, "EMNIST", Letters)
    letters = load_named("emnist-letters")
    assert Letters.calls[-1][3] == "letters" and not letters.labelled and letters.class_names == ("all",) and "26 classes" in letters.note
    assert float(letters.test_grey[:, 0, 10, 5:20].min()) == 1.0  # the stroke turned upright: row 10, no longer column 10
    assert load_named("mnist-5k") is data.load_mnist("mnist-5k")
    with pytest.raises(ValueError, match="unknown dataset 'cifar10'; choose one of: mnist-5k, mnist"):
        load_named("cifar10")


def test_named_dataset_offline_says_so(fresh_named, monkeypatch):
    monkeypatch.setattr(torchvision.datasets.KMNIST, "mirrors", ["http://127.0.0.1:9/"])  # nothing listens there
    with pytest.raises(ValueError, match=r"could not download kmnist \(\w+; offline\?\); the bundled digits are still available"):
        load_named("kmnist")

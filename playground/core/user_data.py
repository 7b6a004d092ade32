"""Your own images for every image family: uploads (image files, zips of images, one ``.npz``)
and torchvision datasets by name, made into the same ``MnistSplits`` the bundled digits are.

Every image becomes what MNIST is (LeCun et al. 1998, "Gradient-based learning applied to
document recognition"): 28 x 28 grey, light ink on black. Transparency is flattened onto
white, the picture is padded to a square with its border colour (or centre-cropped), shrunk
with Lanczos antialiasing and inverted when its border is mostly light ("auto"). A seeded
split (stratified by class) keeps ``test_fraction`` for testing; ``data.binarize`` gives the
fixed binary version. Uploads are untrusted: the limits below are checked before anything
is decoded (file count, upload size, zip members' stated sizes and compression ratio by
``checkpoints.check_zip_members``, pixels per image from its header), and every refusal is a
``ValueError`` that names the problem, quotes at most ~80 characters of a file name and
never shows a server path.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import re
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from models.checks import SEED_MAX, Range, check_choice, check_int
from playground.core import data
from playground.core.checkpoints import check_zip_members
from playground.core.data import BINARIZE_SEED, MnistSplits, make_splits
from playground.core.plots import image_grid

MAX_FILES = 5_000  # files in one upload (zip members counted one by one, macOS metadata aside), and images in an .npz
MAX_UPLOAD_BYTES = 50 * 2**20  # the uploaded files as they are
MAX_UNCOMPRESSED_BYTES = 200 * 2**20  # all zip members, from their headers, before any is read
MAX_IMAGE_PIXELS = 4096 * 4096  # per image, from its header, before it is decoded
MIN_IMAGES = 20
MAX_NAMED_TRAIN, MAX_NAMED_TEST = 10_000, 1_000  # a seeded subsample of a torchvision dataset, to bound a Space's memory
SIZE = 28
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")
INVERT_CHOICES = ("auto", "yes", "no")
FIT_CHOICES = ("pad", "crop")
TEST_FRACTION = Range(0.05, 0.5, 0.1, integer=False)
LIMITS = (
    f"At most {MAX_FILES:,} files and {MAX_UPLOAD_BYTES // 2**20} MB per upload ({MAX_UNCOMPRESSED_BYTES // 2**20} MB unzipped), "
    f"4096 x 4096 pixels per image, at least {MIN_IMAGES} images: PNG, JPEG, WebP, GIF (first frame) or BMP files, "
    "a .zip of them (2 to 10 top-level folders become the classes) or one .npz with an `images` array and optional `labels`."
)
NAMED = {
    "mnist-5k": "the bundled 5,000 MNIST digits (4,500 train / 500 test); always available, also offline",
    "mnist": "MNIST handwritten digits (LeCun et al. 1998): 10,000 train / 1,000 test of its 60,000 / 10,000, downloaded",
    "fashion-mnist": "Fashion-MNIST, 10 kinds of clothes (Xiao et al. 2017, arXiv:1708.07747): 10,000 / 1,000, downloaded",
    "kmnist": "Kuzushiji-MNIST, 10 cursive Japanese characters (Clanuwat et al. 2018, arXiv:1812.01718): 10,000 / 1,000, downloaded",
    "emnist-letters": "EMNIST letters (Cohen et al. 2017, arXiv:1702.05373): 26 classes, more than 10, so unlabelled here; 10,000 / 1,000, downloaded",
}
_TORCHVISION = {"mnist": ("MNIST", {}), "fashion-mnist": ("FashionMNIST", {}), "kmnist": ("KMNIST", {}), "emnist-letters": ("EMNIST", {"split": "letters"})}
_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
_KINDS = "PNG, JPEG, WebP, GIF or BMP"
_UNLABELLED = ("all",)


@dataclass(frozen=True)
class ImportOptions:
    """How uploaded images become 28 x 28 grey images; checked when made (ValueError: an unknown choice, a number out of range).

    Attributes:
        invert: ``"auto"`` inverts an image whose border is mostly light (dark ink on paper becomes MNIST's light ink
            on black); ``"yes"`` inverts all, ``"no"`` none.
        fit: ``"pad"`` pads to a square with the border colour, ``"crop"`` centre-crops; both then shrink to 28 x 28.
        test_fraction: the share of images kept for testing, in [0.05, 0.5] (at least one per class).
        split_seed: seeds the train/test split (and the subsample of a named dataset).
        binarize_seed: seeds the fixed stochastic binarisation (``data.BINARIZE_SEED``).
    """

    invert: str = "auto"
    fit: str = "pad"
    test_fraction: float = TEST_FRACTION.default
    split_seed: int = 0
    binarize_seed: int = BINARIZE_SEED

    def __post_init__(self) -> None:
        check_choice("invert", self.invert, INVERT_CHOICES)
        check_choice("fit", self.fit, FIT_CHOICES)
        object.__setattr__(self, "test_fraction", TEST_FRACTION.check("test fraction", self.test_fraction))
        object.__setattr__(self, "split_seed", check_int("split seed", self.split_seed, 0, SEED_MAX))
        object.__setattr__(self, "binarize_seed", check_int("binarisation seed", self.binarize_seed, 0, SEED_MAX))


@dataclass(frozen=True)
class _Entry:  # one image to decode: where it is (for messages), its path parts inside its zip, and its bytes
    where: str
    parts: tuple[str, ...]
    read: Callable[[], bytes]


def _quote(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[: n - 3] + "...")


def _is_metadata(parts: tuple[str, ...]) -> bool:
    """macOS and hidden files (``__MACOSX/``, ``._a.png``, ``.DS_Store``): never images."""
    return any(p == "__MACOSX" or p.startswith(".") for p in parts)


def _check_paths(paths: Any) -> list[Path]:
    if isinstance(paths, str | Path):
        paths = [paths]
    if not paths:
        raise ValueError(f"no file was uploaded: give {_KINDS} images, a .zip of them, or one .npz")
    if not all(isinstance(p, str | Path) for p in paths):
        raise ValueError("the uploads must be given as file paths")
    files = [Path(p) for p in paths]
    for f in files:
        if not f.is_file():
            raise ValueError(f"the upload {_quote(f.name)} is missing or not a file")
    total = sum(f.stat().st_size for f in files)
    if total > MAX_UPLOAD_BYTES:
        raise ValueError(f"the upload is {total / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB")
    return files


def _open_zip(path: Path, stack: contextlib.ExitStack) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """Open an uploaded zip (closed by ``stack``) and check its members (``check_zip_members``)."""
    try:
        archive = stack.enter_context(zipfile.ZipFile(path))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        raise ValueError(f"{_quote(path.name)} is not a readable {'.npz' if path.suffix.lower() == '.npz' else 'zip'} file") from None
    try:
        members = check_zip_members(archive, MAX_UNCOMPRESSED_BYTES)
    except ValueError as err:
        raise ValueError(f"{_quote(path.name)}: {err}") from None
    if not members:
        raise ValueError(f"{_quote(path.name)} is empty: it holds no files")
    return archive, members


def _strip_common_root(entries: list[_Entry]) -> list[_Entry]:
    """Drop folders every image of one zip sits in (``letters/a/1.png`` -> ``a/1.png``)."""
    while entries and all(len(e.parts) > 2 for e in entries) and len({e.parts[0] for e in entries}) == 1:
        entries = [replace(e, parts=e.parts[1:]) for e in entries]
    return entries


def _gather(files: list[Path], stack: contextlib.ExitStack) -> tuple[list[_Entry], list[str]]:
    """The images of the upload (loose files and zip members, by suffix) and the names of the files skipped.
    Raises ValueError: a bad zip (``_open_zip``), or more than ``MAX_FILES`` files or ``MAX_UNCOMPRESSED_BYTES`` in all."""
    entries, skipped, n_files, unzipped = [], [], 0, 0
    for path in files:
        if path.suffix.lower() != ".zip":
            n_files += 1
            if path.suffix.lower() in IMAGE_SUFFIXES:
                entries.append(_Entry(_quote(path.name), (path.name,), path.read_bytes))
            else:
                skipped.append(path.name)
            continue
        archive, members = _open_zip(path, stack)
        unzipped += sum(m.file_size for m in members)
        images = []
        for member in members:
            parts = PurePosixPath(member.filename.replace("\\", "/")).parts
            if not parts or _is_metadata(parts):
                continue
            n_files += 1
            if parts[-1].lower().endswith(IMAGE_SUFFIXES):
                images.append(_Entry(f"{_quote(parts[-1], 40)} in {_quote(path.name, 30)}", parts, functools.partial(archive.read, member)))
            else:
                skipped.append(parts[-1])
        entries += _strip_common_root(images)
    if n_files > MAX_FILES:
        raise ValueError(f"the upload holds {n_files:,} files; the limit is {MAX_FILES:,}")
    if unzipped > MAX_UNCOMPRESSED_BYTES:
        raise ValueError(f"the zips are larger than {MAX_UNCOMPRESSED_BYTES // 2**20} MB uncompressed in all")
    return entries, skipped


def _folder_labels(entries: list[_Entry]) -> tuple[np.ndarray | None, tuple[str, ...], str]:
    """ImageFolder-style classes: labels (N,) and the folder names when every image sits in one
    of 2..10 top-level folders; else None (unlabelled) and a note when there were too many."""
    if not entries or any(len(e.parts) < 2 for e in entries):
        return None, _UNLABELLED, ""
    names = sorted({e.parts[0] for e in entries})
    if len(names) < 2:
        return None, _UNLABELLED, ""
    if len(names) > 10:
        return None, _UNLABELLED, f"{len(names)} folders are more than the 10 classes a conditional model takes, so the images are unlabelled"
    index = {n: i for i, n in enumerate(names)}
    return np.array([index[e.parts[0]] for e in entries], dtype=np.int64), tuple(n[:40] for n in names), ""


def _flatten(image: Image.Image) -> Image.Image:
    """Grey ("L") with any transparency composited onto white, and 16-bit or float grey scaled, not clipped, to 0..255."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        pixels = np.asarray(image, dtype=np.float64)
        return Image.fromarray(np.round(pixels * (255 / 65535 if image.mode.startswith("I;16") or pixels.max() > 255 else 1)).clip(0, 255).astype(np.uint8))
    if "A" in image.getbands() or "transparency" in image.info:
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    return image.convert("L")


def _square28(grey: Image.Image, fit: str) -> np.ndarray:
    """(28, 28) uint8 from a grey image: padded with its median border colour (or centre-cropped), Lanczos-shrunk."""
    if fit == "crop":
        return np.asarray(ImageOps.fit(grey, (SIZE, SIZE), method=Image.Resampling.LANCZOS))
    pixels = np.asarray(grey)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    return np.asarray(ImageOps.pad(grey, (SIZE, SIZE), method=Image.Resampling.LANCZOS, color=int(np.median(border))))


def _decode(entry: _Entry, fit: str) -> np.ndarray:
    """Read, check and decode one image file into (28, 28) uint8. Raises ValueError: an unreadable zip member, more
    than ``MAX_IMAGE_PIXELS`` pixels (from the header, before decoding), not a readable PNG/JPEG/WebP/GIF/BMP."""
    try:
        raw = entry.read()
    except RuntimeError:
        raise ValueError(f"{entry.where} is encrypted: upload a zip without a password") from None
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError):
        raise ValueError(f"{entry.where} cannot be read: the zip is damaged or uses an unsupported compression") from None
    too_big = f"{entry.where} has more than {MAX_IMAGE_PIXELS:,} pixels (4096 x 4096), the limit per image"
    unreadable = f"{entry.where} is not a readable image (damaged, or not {_KINDS})"
    try:
        image = Image.open(io.BytesIO(raw), formats=_FORMATS)  # reads the header only
    except Image.DecompressionBombError:
        raise ValueError(too_big) from None
    except (UnidentifiedImageError, SyntaxError, EOFError, OSError, ValueError):
        raise ValueError(unreadable) from None
    with image:
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise ValueError(f"{too_big}: it is {width:,} x {height:,}")
        try:
            image.draft("L", (4 * SIZE, 4 * SIZE))  # JPEG only: decode at a reduced scale, a lot faster for photos
            return _square28(_flatten(image), fit)
        except Exception:  # Pillow's decoders raise many kinds (OSError, SyntaxError, ValueError, ...) on damaged data
            raise ValueError(unreadable) from None


def _array_images(images: np.ndarray) -> np.ndarray:
    """An .npz's ``images`` as uint8 (N, H, W, C); (N, C, H, W) with C in 1, 3, 4 is accepted too.
    Raises ValueError: a wrong shape or dtype, values out of range, too many or too large images."""
    if images.ndim == 3:
        images = images[..., None]
    elif images.ndim == 4 and images.shape[-1] not in (1, 3, 4) and images.shape[1] in (1, 3, 4):
        images = images.transpose(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4) or 0 in images.shape:
        raise ValueError(f"the .npz's images must have shape (N, H, W) or (N, H, W, C) with C = 1, 3 or 4, got {images.shape}")
    n, height, width = images.shape[:3]
    if n > MAX_FILES:
        raise ValueError(f"the .npz holds {n:,} images; the limit is {MAX_FILES:,}")
    if height * width > MAX_IMAGE_PIXELS:
        raise ValueError(f"the .npz's images are {height:,} x {width:,}; the limit is {MAX_IMAGE_PIXELS:,} pixels (4096 x 4096)")
    kind = images.dtype.kind
    if kind == "b" or (kind in "iu" and images.min() >= 0 and images.max() <= 255):
        return images.astype(np.uint8) * (255 if kind == "b" else 1)
    if kind == "f" and np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1:
        return np.round(images * 255).astype(np.uint8)
    raise ValueError(f"the .npz's images must be uint8 in 0..255 or float in [0, 1] (no NaN), got {images.dtype} values outside that")


def _array_labels(labels: np.ndarray, n: int) -> tuple[np.ndarray | None, tuple[str, ...], str]:
    """An .npz's ``labels`` mapped to 0..k-1 (sorted values), the values as class names; unlabelled for 1 or over 10
    values. Raises ValueError: not (N,) integers (or text)."""
    integral = labels.dtype.kind in "iub" or (labels.dtype.kind == "f" and np.isfinite(labels).all() and (labels == np.round(labels)).all())
    if labels.shape != (n,) or not (integral or labels.dtype.kind == "U"):
        raise ValueError(f"the .npz's labels must be {n:,} integers (one per image), got shape {labels.shape} of {labels.dtype}")
    values, index = np.unique(labels.astype(np.int64) if labels.dtype.kind == "f" else labels, return_inverse=True)
    if len(values) > 10:
        return None, _UNLABELLED, f"{len(values)} label values are more than the 10 classes a conditional model takes, so the images are unlabelled"
    if len(values) < 2:
        return None, _UNLABELLED, ""
    return index.astype(np.int64), tuple(str(v)[:40] for v in values), ""


def _read_npz(path: Path, fit: str) -> tuple[np.ndarray, np.ndarray | None, tuple[str, ...], str]:
    """The images (N, 28, 28) uint8, labels, class names and note of an uploaded .npz."""
    with contextlib.ExitStack() as stack:
        names = [m.filename for m in _open_zip(path, stack)[1]]  # an .npz is a zip of .npy files: the same defences
    if "images.npy" not in names:
        raise ValueError(f"the .npz has no 'images' array; it holds {_quote(', '.join(names))}")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            images, labels = arrays["images"], (arrays["labels"] if "labels.npy" in names else None)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as err:
        why = "object arrays are not loaded, as they could run code" if "pickle" in str(err) else type(err).__name__
        raise ValueError(f"{_quote(path.name)} is not a readable .npz ({why})") from None
    pixels = _array_images(images)
    squares = np.stack([_square28(_flatten(Image.fromarray(p[..., 0] if p.shape[-1] == 1 else p)), fit) for p in pixels])
    labels_, names, note = _array_labels(labels, len(pixels)) if labels is not None else (None, _UNLABELLED, "")
    return squares, labels_, names, note


def _invert(images: np.ndarray, how: str) -> np.ndarray:
    """Invert (N, 28, 28) uint8 images: all (``"yes"``), none (``"no"``), or those whose border ring is mostly light (``"auto"``)."""
    ring = np.concatenate([images[:, 0], images[:, -1], images[:, 1:-1, 0], images[:, 1:-1, -1]], axis=1)  # (N, 108)
    flip = {"yes": np.ones(len(images), bool), "no": np.zeros(len(images), bool)}.get(how, (ring > 127).mean(axis=1) > 0.5)
    return np.where(flip[:, None, None], 255 - images, images).astype(np.uint8)


def _split(labels: np.ndarray, fraction: float, seed: int, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/test indices keeping ``fraction`` of each class (at least one) for testing (ValueError: a class
    with a single image). Like ``data.stratified_split``, which keeps a fixed count per class instead."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        if len(idx) < 2:
            raise ValueError(f"class {_quote(names[int(c)], 40)} has {len(idx)} image; each class needs at least 2 (one to train, one to test)")
        n_test = min(len(idx) - 1, max(1, round(fraction * len(idx))))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _clean_name(text: str) -> str:
    return re.sub(r"[^\w .()+-]+", "_", str(text)).strip(" _")[:40]


def import_uploads(paths: Sequence[str | Path] | str | Path, options: ImportOptions = ImportOptions(), name: str | None = None) -> MnistSplits:
    """Turn uploaded files into train/test splits any image family can train on.

    Args:
        paths: the uploaded files: images (PNG, JPEG, WebP, GIF first frame, BMP), zips of images (when every image
            sits in one of 2..10 top-level folders, ImageFolder style, the folder names are the classes; else they are
            unlabelled), or one ``.npz`` alone with ``images`` ((N, H, W) or (N, H, W, C), uint8 0..255 or float 0..1)
            and optional ``labels`` (N,) (at most 10 values, mapped to 0..k-1). Other files are skipped (see ``note``).
        options: inversion, fit, test share and seeds (``ImportOptions``).
        name: the dataset's name (at most 40 characters kept); default from the file names.

    Returns:
        ``MnistSplits``: (N, 1, 28, 28) float32 grey in [0, 1] and binary {0, 1}, ``digits=False``, ``labelled`` and
        ``class_names`` from the folders or labels (unlabelled: labels 0, ``("all",)``); the same input, the same splits.

    Raises:
        ValueError: nothing uploaded; over a limit (``LIMITS``); not a readable zip, .npz or image; an empty zip; a zip
            bomb or an unsafe path; no or fewer than ``MIN_IMAGES`` images; a class with a single image.
    """
    files = _check_paths(paths)
    notes, skipped = [], []
    if any(f.suffix.lower() == ".npz" for f in files):
        if len(files) > 1:
            raise ValueError("upload the .npz on its own: it holds all the images")
        images, labels, class_names, note = _read_npz(files[0], options.fit)
    else:
        with contextlib.ExitStack() as stack:
            entries, skipped = _gather(files, stack)
            if not entries:
                raise ValueError(f"found no images ({_KINDS}) in the upload" + (f"; skipped {len(skipped):,} other files" if skipped else ""))
            labels, class_names, note = _folder_labels(entries)
            images = np.stack([_decode(e, options.fit) for e in entries])
    notes += [note] if note else []
    if skipped:
        examples = ", ".join(_clean_name(s) for s in skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        notes.append(f"skipped {len(skipped):,} files that are not images ({examples})")
    if len(images) < MIN_IMAGES:
        raise ValueError(f"found {len(images)} images; at least {MIN_IMAGES} are needed")
    labelled = labels is not None
    labels = labels if labelled else np.zeros(len(images), dtype=np.int64)
    images = _invert(images, options.invert)
    train_idx, test_idx = _split(labels, options.test_fraction, options.split_seed, class_names)
    return make_splits(
        _clean_name(name or "") or (_clean_name(files[0].name) or "upload") + (f" + {len(files) - 1} more" if len(files) > 1 else ""), images, labels, train_idx, test_idx,
        "; ".join(notes), options.binarize_seed, digits=False, labelled=labelled, class_names=class_names,
    )


@functools.lru_cache(maxsize=4)
def load_named(name: str, options: ImportOptions = ImportOptions()) -> MnistSplits:
    """A dataset by name (``NAMED``): the bundled digits, or a torchvision dataset downloaded once into
    ``data.data_dir() / "torchvision"`` and cached here (shared read-only; ValueError: an unknown name, no download).

    torchvision's train/test split is kept, subsampled (seeded by ``split_seed``) to at most 10,000 / 1,000 images;
    ``fit`` and ``test_fraction`` do not apply (28 x 28 already). EMNIST letters, stored transposed, are turned
    upright; their 26 classes are more than the 10 a conditional model takes, so they come unlabelled.
    """
    if name not in NAMED:
        raise ValueError(f"unknown dataset {_quote(str(name), 40)}; choose one of: {', '.join(NAMED)}")
    if name == "mnist-5k":
        return data.load_mnist("mnist-5k")
    import torchvision.datasets

    cls_name, kwargs = _TORCHVISION[name]
    root = data.data_dir() / "torchvision"
    try:
        train, test = (getattr(torchvision.datasets, cls_name)(str(root), train=flag, download=True, **kwargs) for flag in (True, False))
    except Exception as err:  # any download or read failure (no network, a mirror down, a damaged file)
        raise ValueError(f"could not download {name} ({type(err).__name__}; offline?); the bundled digits are still available") from None
    rng = np.random.default_rng(options.split_seed)
    keep = [np.sort(rng.choice(len(d.targets), size=min(k, len(d.targets)), replace=False)) for d, k in ((train, MAX_NAMED_TRAIN), (test, MAX_NAMED_TEST))]
    images = np.concatenate([np.asarray(d.data)[i] for d, i in zip((train, test), keep)])  # (N, 28, 28) uint8
    labels = np.concatenate([np.asarray(d.targets)[i] for d, i in zip((train, test), keep)]).astype(np.int64)
    if name == "emnist-letters":
        images = images.transpose(0, 2, 1)  # EMNIST is stored transposed
    n_classes = len(np.unique(np.asarray(train.targets)))  # of the whole set, not of the subsample
    labelled = n_classes <= 10
    class_names = (tuple("0123456789") if name == "mnist" else tuple(c[:40] for c in train.classes)) if labelled else _UNLABELLED
    note = f"a seeded subsample of {len(train.targets):,} / {len(test.targets):,}" if len(labels) < len(train.targets) + len(test.targets) else ""
    if not labelled:
        note += f"{'; ' if note else ''}{n_classes} classes are more than 10, so unlabelled"
        labels = np.zeros_like(labels)
    images = _invert(images, options.invert)
    n_train = len(keep[0])
    return make_splits(
        name, images, labels, np.arange(n_train), np.arange(n_train, len(labels)), note, options.binarize_seed,
        digits=name == "mnist", labelled=labelled, class_names=class_names,
    )


def preview(splits: MnistSplits, n: int = 64) -> np.ndarray:
    """The first ``n`` (1..256; ValueError else) training images as one grid (``plots.image_grid``: make_grid,
    padding 2): (H, W) uint8, 0 = black, 255 = white."""
    n = check_int("n", n, 1, 256)
    images = splits.train_grey[:n]
    return image_grid(images, nrow=math.ceil(math.sqrt(len(images))))


def summary(splits: MnistSplits, skipped: int = 0) -> str:
    """Markdown for the dataset panel: the name, train/test counts, the classes (with
    their counts) or "unlabelled", the note (what was skipped or changed) and ``skipped``
    more files the caller itself left out."""
    what = "digits" if splits.digits else "images"
    lines = [f"**{splits.name}**: {len(splits.train_labels):,} train / {len(splits.test_labels):,} test {what}, 28 × 28 grey"]
    if splits.labelled:
        train, test = (torch.bincount(t, minlength=len(splits.class_names)).tolist() for t in (splits.train_labels, splits.test_labels))
        classes = ", ".join(f"{c} ({a:,} / {b:,})" for c, a, b in zip(splits.class_names, train, test))
        lines.append(f"- {len(splits.class_names)} classes (train / test): {classes}")
    else:
        lines.append("- Unlabelled: every image has label 0, so a conditional model trained on them is in effect unconditional")
    if splits.note:
        lines.append(f"- Note: {splits.note}")
    if skipped:
        lines.append(f"- Skipped: {skipped:,} more files that are not images")
    return "\n".join(lines)

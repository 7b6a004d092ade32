"""Points of the plane for the 2D GAN lab: datasets, user points and distances (the lab's
figures are in ``playground.core.plots``).

Every dataset lies in the data square [-2, 2]^2; the lab draws the view square
[-2.5, 2.5]^2 (``BOX``) with fixed axes, so nothing jumps while G's points move.

- Datasets: ``ring`` (8 Gaussians on a circle, after Metz et al. 2016, arXiv:1611.02163),
  ``grid`` (5 x 5 Gaussians), ``spiral`` and ``moons``; users can also draw points on a
  sketchpad or give a CSV of (x, y) rows.
- Distance: Jensen-Shannon divergence between histograms of real and generated points on
  a 60 x 60 grid over the view square, in nats (0 = same histogram, ln 2 ~ 0.693 =
  disjoint).
- Modes covered (for ``ring`` and ``grid``, after Srivastava et al. 2017, "VEEGAN",
  arXiv:1705.07761): a generated point is of high quality if it lies within 3 standard
  deviations of a mode's centre; a mode is covered if it gets at least a fifth of its
  fair share (1 / n_modes) of the generated points.

No gradio here.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from models.checks import check_choice, check_int

DATASETS = ("ring", "grid", "spiral", "moons")
USER_SOURCES = ("drawn", "csv")
SOURCES = DATASETS + USER_SOURCES
SOURCE_NAMES = {
    "ring": "ring of 8 Gaussians", "grid": "5 × 5 grid of Gaussians", "spiral": "spiral", "moons": "two moons",
    "drawn": "your drawing", "csv": "your CSV points",
}
BOX = 2.5  # the view square is [-BOX, BOX]^2
DATA_HALF = 2.0  # datasets (and drawn or uploaded points) fit in [-DATA_HALF, DATA_HALF]^2
N_BINS = 60
MAX_POINTS = 5000
MAX_CSV_BYTES = 1_000_000
MIN_POINTS = 2
RING_RADIUS, RING_STD = 1.6, 0.1
GRID_SPACING, GRID_STD = 0.8, 0.08
MAX_N = 100_000


def mode_centres(name: str) -> tuple[Tensor, float] | None:
    """(centres (n_modes, 2), standard deviation) of the Gaussian mixtures ``ring`` (8
    modes) and ``grid`` (25 modes); None for the other sources, which have no modes."""
    if name == "ring":
        angle = torch.arange(8) * (2 * math.pi / 8)
        return torch.stack([torch.cos(angle), torch.sin(angle)], 1) * RING_RADIUS, RING_STD
    if name == "grid":
        ticks = (torch.arange(5) - 2.0) * GRID_SPACING
        gy, gx = torch.meshgrid(ticks, ticks, indexing="ij")
        return torch.stack([gx.reshape(-1), gy.reshape(-1)], 1), GRID_STD
    return None


def make_dataset(name: str, n: int = 1024, seed: int = 0) -> Tensor:
    """n points of a built-in dataset, (n, 2) float32 inside [-2, 2]^2.

    Args:
        name: ``"ring"`` (8 Gaussians, radius 1.6, std 0.1), ``"grid"`` (5 x 5 Gaussians
            0.8 apart, std 0.08), ``"spiral"`` (two turns, noise std 0.05) or ``"moons"``
            (two interleaved half circles, noise std 0.07).
        n: number of points, in [1, 100000]; mixtures give each mode an equal share
            (up to one point).
        seed: the same seed gives the same points.

    The ring's modes are wider than Metz et al.'s (std 0.02 on a radius of 2) so that a
    60 x 60 histogram and a small D resolve them; they stay 12 std apart.

    Raises:
        ValueError: unknown name or n out of range.
    """
    name = check_choice("dataset", name, DATASETS)
    n = check_int("number of points", n, 1, MAX_N)
    g = torch.Generator().manual_seed(check_int("seed", seed, 0, 2**63 - 1))
    noise = torch.randn(n, 2, generator=g)
    if name in ("ring", "grid"):
        centres, std = mode_centres(name)
        which = torch.randperm(n, generator=g) % len(centres)
        points = centres[which] + std * noise
    elif name == "spiral":
        t = torch.rand(n, generator=g).sqrt()  # uniform along the arc, roughly
        angle = t * 4 * math.pi
        r = 0.15 + 1.65 * t
        points = torch.stack([r * torch.cos(angle), r * torch.sin(angle)], 1) + 0.05 * noise
    else:  # moons: the upper one centred on (0, 0), the lower one on (1, 0.5); then scaled
        t = torch.rand(n, generator=g) * math.pi
        upper = torch.arange(n) % 2 == 0
        x = torch.where(upper, torch.cos(t), 1 - torch.cos(t))
        y = torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))
        points = (torch.stack([x - 0.5, y - 0.25], 1) + 0.07 * noise) * 1.6
    return points.clamp(-DATA_HALF, DATA_HALF).float()


# --- points from the user ---------------------------------------------------------------


def normalise_points(points: Tensor) -> tuple[Tensor, str]:
    """Centre user points on their mean and scale both axes by one factor so they fill
    the data square [-2, 2]^2 (shapes keep their proportions).

    Returns:
        (points (n, 2) float32, a sentence saying what was done).

    Raises:
        ValueError: fewer than 2 points, or NaN or infinite values.

    All points identical (no spread to scale) is a point mass: they are put at the centre
    and the sentence says so (a model fitted to them meets a singular covariance).
    """
    points = torch.as_tensor(points, dtype=torch.float64)
    if points.dim() != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have 2 columns (x, y), got shape {tuple(points.shape)}")
    if len(points) < MIN_POINTS:
        raise ValueError(f"need at least {MIN_POINTS} points to learn a distribution, got {len(points)}")
    if not bool(torch.isfinite(points).all()):
        raise ValueError("the points hold NaN or infinite values")
    centred = points - points.mean(0)
    extent = float(centred.abs().max())
    if extent < 1e-9 * max(1.0, float(points.abs().max())):
        return torch.zeros_like(centred, dtype=torch.float32), f"all {len(points)} points are identical (no spread): put at the centre as a point mass"
    scale = 0.95 * DATA_HALF / extent
    note = f"{len(points)} points, centred and scaled by {scale:.3g} to fit the square [-2, 2]²"
    return (centred * scale).float(), note


_SPLIT = re.compile(r"\s*[,;\t]\s*|\s+")


def points_from_csv(source: str | Path) -> tuple[Tensor, str]:
    """Read points from CSV: two numeric columns (x, y), one point per row.

    A first row that is not numeric is taken as a header. Columns may be separated by
    commas, semicolons, tabs or spaces; blank lines are skipped. At most 5,000 points
    and 1 MB. The points are then centred and scaled to fit [-2, 2]^2 (``normalise_points``).

    Args:
        source: the CSV text itself (``str``), or a ``Path`` to a file.

    Returns:
        (points (n, 2) float32, a sentence saying how many points were read and how they
        were scaled).

    Raises:
        ValueError: a file that is missing, too large or not text; no rows; a row whose
            column count is not 2; a value that is not a number, or NaN or infinite;
            more than 5,000 points; fewer than 2.
    """
    if isinstance(source, Path):
        try:
            if source.stat().st_size > MAX_CSV_BYTES:
                raise ValueError(f"the CSV file is larger than {MAX_CSV_BYTES // 1000:,} KB")
            raw = source.read_bytes()
        except OSError:
            raise ValueError("cannot read the uploaded file") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError("the file is not a text CSV (it is not UTF-8 text)") from None
    elif isinstance(source, str):
        text = source
        if len(text) > MAX_CSV_BYTES:
            raise ValueError(f"the CSV text is longer than {MAX_CSV_BYTES:,} characters")
    else:
        raise TypeError(f"give CSV text (str) or a file (Path), got {type(source).__name__}")
    if "\x00" in text:
        raise ValueError("the file is not a text CSV (it holds binary data)")
    rows = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        fields = [f.strip().strip("\"'") for f in _SPLIT.split(line)]
        if len(fields) != 2:
            raise ValueError(f"line {line_no} has {len(fields)} columns: the CSV must have exactly 2 numeric columns, x and y")
        try:
            values = [float(f) for f in fields]
        except ValueError:
            if not rows and not any(_is_number(f) for f in fields):
                continue  # a header row
            bad = next(f for f in fields if not _is_number(f))
            raise ValueError(f"line {line_no}: {bad[:30]!r} is not a number (x and y must be numbers)") from None
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"line {line_no} holds NaN or an infinite value: every x and y must be a finite number")
        rows.append(values)
        if len(rows) > MAX_POINTS:
            raise ValueError(f"the CSV has more than {MAX_POINTS:,} points: give at most {MAX_POINTS:,}")
    if not rows:
        raise ValueError("the CSV holds no points: give rows of two numbers, x and y")
    return normalise_points(torch.tensor(rows, dtype=torch.float64))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _ink_mask(image: Any) -> np.ndarray | None:
    """Pixels drawn on (H, W) bool from one image: opaque and darker than light grey.
    Transparent pixels (the pad's empty canvas) and white ones are not ink."""
    if image is None:
        return None
    array = np.asarray(image)
    if array.dtype == object or array.ndim not in (2, 3) or array.size == 0:
        raise ValueError("the drawing is not an image")
    is_float = array.dtype.kind == "f"
    array = array.astype(np.float32)
    if is_float and array.max(initial=0) <= 1.0:
        array = array * 255  # float images in [0, 1]
    if array.ndim == 2:
        return array < 160
    channels = array.shape[2]
    grey = array[..., : min(channels, 3)].mean(axis=2)
    opaque = array[..., 3] > 127 if channels == 4 else np.ones(grey.shape, bool)
    return opaque & (grey < 160)


def points_from_sketch(image: Any, n: int = 600, seed: int = 0) -> tuple[Tensor, str]:
    """Sample points from what the user drew on a ``gr.Sketchpad``.

    Args:
        image: what Gradio 6's Sketchpad gives (a dict with ``"composite"`` and
            ``"layers"``, numpy RGBA images), or one image as a numpy array (H, W),
            (H, W, 3) or (H, W, 4), uint8 or float in [0, 1]. Ink is any opaque pixel
            darker than light grey (the pad's brush is black).
        n: points to draw, in [2, 5000], uniformly among the inked pixels (with
            replacement when there are fewer pixels than points).
        seed: the same drawing and seed give the same points.

    Returns:
        (points (n, 2) float32 in [-2, 2]^2, a sentence saying what was taken). The
        canvas maps to the data square, up = +y, with a jitter of one pixel so strokes
        are clouds, not lattices.

    Raises:
        ValueError: nothing drawn, or a single dot (the ink has no spread).
    """
    n = check_int("number of points", n, MIN_POINTS, MAX_POINTS)
    masks = []
    if isinstance(image, dict):
        masks = [m for m in [_ink_mask(image.get("composite"))] if m is not None]
        if not masks or not masks[0].any():
            masks = [m for m in (_ink_mask(layer) for layer in image.get("layers") or []) if m is not None]
    else:
        mask = _ink_mask(image)
        masks = [mask] if mask is not None else []
    if not masks:
        raise ValueError("nothing is drawn: draw some points or strokes on the pad first")
    shape = masks[0].shape
    mask = np.zeros(shape, bool)
    for m in masks:
        if m.shape == shape:
            mask |= m
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        raise ValueError("nothing is drawn: draw some points or strokes on the pad first")
    height, width = shape
    size = max(height, width)
    # A dot of the default brush has a spread of a percent or so of the canvas.
    spread = max(float(np.std(rows)), float(np.std(cols))) / size
    if spread < 0.02:
        raise ValueError("the drawing is a single dot: draw strokes or several dots spread over the pad")
    g = torch.Generator().manual_seed(seed)
    pick = torch.randint(len(rows), (n,), generator=g) if len(rows) < n else torch.randperm(len(rows), generator=g)[:n]
    pixel = 2 * DATA_HALF / size
    r = torch.from_numpy(rows[pick.numpy()]).double() + torch.rand(n, generator=g, dtype=torch.float64)
    c = torch.from_numpy(cols[pick.numpy()]).double() + torch.rand(n, generator=g, dtype=torch.float64)
    # Centre the canvas on the origin, keep its aspect ratio; image rows grow downwards.
    x = (c - width / 2) * pixel
    y = (height / 2 - r) * pixel
    points = torch.stack([x, y], 1).clamp(-DATA_HALF, DATA_HALF).float()
    return points, f"{n} points sampled from the {len(rows):,} pixels you drew"


# --- distances --------------------------------------------------------------------------


def _gaussian_kernel(sigma_bins: float) -> Tensor:
    radius = max(1, math.ceil(3 * sigma_bins))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / sigma_bins) ** 2)
    return k / k.sum()


def histogram2d(points: Tensor, bins: int = N_BINS, smooth_bins: float = 1.0) -> Tensor:
    """A smoothed histogram of points over the view square [-2.5, 2.5]^2.

    Points outside the square count in the nearest edge bin, so mass far away is not
    lost. The counts are blurred by a Gaussian of ``smooth_bins`` bins (0 = none) to
    lower the bias of a histogram of a few hundred points, then normalised.

    Returns:
        (bins, bins) float64 probabilities summing to 1, row i = i-th y bin.

    Raises:
        ValueError: no points, or NaN or infinite ones.
    """
    points = points.detach().double().cpu()
    if points.dim() != 2 or points.shape[1] != 2 or len(points) == 0:
        raise ValueError(f"points must have shape (n, 2) with n >= 1, got {tuple(points.shape)}")
    if not bool(torch.isfinite(points).all()):
        raise ValueError("points must be finite")
    idx = ((points + BOX) / (2 * BOX) * bins).floor().long().clamp(0, bins - 1)  # (n, 2) as (x bin, y bin)
    hist = torch.bincount(idx[:, 1] * bins + idx[:, 0], minlength=bins * bins).double().view(bins, bins)
    if smooth_bins > 0:
        k = _gaussian_kernel(smooth_bins)
        pad = len(k) // 2
        h = hist[None, None]
        h = F.conv2d(F.pad(h, (pad, pad, 0, 0)), k.view(1, 1, 1, -1))
        hist = F.conv2d(F.pad(h, (0, 0, pad, pad)), k.view(1, 1, -1, 1))[0, 0]
    return hist / hist.sum()


def js_divergence(p: Tensor, q: Tensor) -> float:
    """Jensen-Shannon divergence of two histograms of the same shape, in nats:
    JS = KL(p || m) / 2 + KL(q || m) / 2 with m = (p + q) / 2, in [0, ln 2]; 0 iff
    p = q. Divide by ln 2 for bits. Inputs are normalised first.

    Raises:
        ValueError: shapes differ, negative or non-finite entries, or an empty histogram.
    """
    p, q = p.double().flatten(), q.double().flatten()
    if p.shape != q.shape:
        raise ValueError("histograms must have the same shape")
    for h in (p, q):
        if not bool(torch.isfinite(h).all()) or bool((h < 0).any()) or float(h.sum()) <= 0:
            raise ValueError("histograms must be finite, non-negative and not all zero")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    # xlogy gives 0 log 0 = 0; where p > 0, m > 0 too.
    kl_pm = (torch.xlogy(p, p) - torch.xlogy(p, m)).sum()
    kl_qm = (torch.xlogy(q, q) - torch.xlogy(q, m)).sum()
    return float(((kl_pm + kl_qm) / 2).clamp(min=0.0))


def js_distance(real: Tensor, fake: Tensor, bins: int = N_BINS) -> float:
    """JS divergence (nats) between the smoothed histograms of two point sets (n, 2).
    A finite sample puts a floor under the estimate: about 0.01 nats for two samples of
    1,024 points of the same ring, more with fewer points."""
    return js_divergence(histogram2d(real, bins), histogram2d(fake, bins))


def mode_coverage(points: Tensor, centres: Tensor, std: float, min_share: float | None = None) -> tuple[int, float]:
    """How many modes of a Gaussian mixture generated points cover, and their quality.

    Args:
        points: generated points (n, 2), n >= 1.
        centres: the mixture's means (n_modes, 2).
        std: the standard deviation of each mode.
        min_share: the share of all points a mode needs within 3 std of its centre to be
            covered; default a fifth of a fair share, 0.2 / n_modes.

    Returns:
        (modes covered, in [0, n_modes]; share of points within 3 std of some mode, the
        "high-quality" samples, in [0, 1]).
    """
    points = points.detach().float().cpu()
    if len(points) == 0:
        return 0, 0.0
    share = 0.2 / len(centres) if min_share is None else min_share
    dist = torch.cdist(points, centres.float())  # (n, n_modes)
    nearest, which = dist.min(1)
    good = nearest <= 3 * std
    counts = torch.bincount(which[good], minlength=len(centres))
    return int((counts >= share * len(points)).sum()), float(good.float().mean())


# --- the lab's grid -------------------------------------------------------------------


def grid_axis(n: int = N_BINS) -> Tensor:
    """n bin centres across [-2.5, 2.5], the coordinates of the decision-surface grid."""
    return (torch.arange(n, dtype=torch.float32) + 0.5) * (2 * BOX / n) - BOX

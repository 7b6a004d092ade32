"""Traits measured on digit images, for attribute vectors in latent space.

Stroke thickness, slant and width are computed from each image's ink, after the
morphometrics of Castro et al. 2019 ("Morpho-MNIST", arXiv:1809.10780) but with simple
moment-based estimates:

- ``thickness_px``: 2 x ink area / boundary length, where ink is grey > 0.5 and the
  boundary is the ink pixels with a background 4-neighbour (a stroke of width w >= 2 and
  length L has area ~ wL and ~2L boundary pixels);
- ``slant_deg``: the shear of the ink's second moments, atan(-mu11 / mu02), in degrees;
  positive leans right (/), negative leans left (\\);
- ``width_px``: sqrt(12 var(x')) of the deslanted horizontal ink distribution (the width
  of a uniform bar with the same variance).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

TRAITS = {
    "thickness_px": "stroke thickness (px)",
    "slant_deg": "slant (degrees, + leans right)",
    "width_px": "width (px)",
}


@torch.no_grad()
def measure_traits(images: Tensor) -> dict[str, Tensor]:
    """Measure each image's thickness, slant and width.

    Args:
        images: (N, 1, 28, 28) float in [0, 1], white ink on black.

    Returns:
        ``{"thickness_px", "slant_deg", "width_px"}``, each (N,) float32. A blank image
        gives 0 for all three.
    """
    x = images.detach().float().cpu()
    ink = (x > 0.5).float()
    cross = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    eroded = (F.conv2d(F.pad(ink, (1, 1, 1, 1)), cross) == 5).float()  # 4-neighbour erosion
    area = ink.flatten(1).sum(1)
    boundary = (ink - eroded).flatten(1).sum(1)
    thickness = torch.where(boundary > 0, 2 * area / boundary.clamp(min=1), torch.zeros_like(area))

    w = x[:, 0]  # (N, 28, 28) grey levels as weights
    mass = w.flatten(1).sum(1).clamp(min=1e-6)
    rows = torch.arange(28.0).view(1, 28, 1)
    cols = torch.arange(28.0).view(1, 1, 28)
    cy = (w * rows).flatten(1).sum(1) / mass
    cx = (w * cols).flatten(1).sum(1) / mass
    dy = rows - cy.view(-1, 1, 1)
    dx = cols - cx.view(-1, 1, 1)
    mu11 = (w * dx * dy).flatten(1).sum(1) / mass
    mu02 = (w * dy * dy).flatten(1).sum(1) / mass
    mu20 = (w * dx * dx).flatten(1).sum(1) / mass
    shear = mu11 / mu02.clamp(min=1e-6)
    slant = torch.rad2deg(torch.atan(-shear))
    width = torch.sqrt((12 * (mu20 - shear * mu11)).clamp(min=0))
    blank = area == 0
    zeros = torch.zeros_like(area)
    return {
        "thickness_px": torch.where(blank, zeros, thickness),
        "slant_deg": torch.where(blank, zeros, slant),
        "width_px": torch.where(blank, zeros, width),
    }


def attribute_vectors(codes: Tensor, labels: Tensor, traits: dict[str, Tensor], quantile: float = 0.25) -> dict[str, Tensor]:
    """Latent attribute vectors: mean code with the attribute minus mean code without.

    Args:
        codes: (N, D) latent codes (e.g. encoder means) of N images.
        labels: (N,) int64 digit labels.
        traits: ``measure_traits`` of the same images.
        quantile: a trait's "with" group is its top ``quantile``, "without" its bottom.

    Returns:
        ``{"digit 0": v, ..., "digit 9": v, "thickness_px": v, ...}``, each (D,): for a
        digit, mean(codes of that digit) - mean(codes of the others); for a trait,
        mean(codes in its top quantile) - mean(codes in its bottom quantile).

    Raises:
        ValueError: if codes and labels disagree in length or a digit is missing.
    """
    if len(codes) != len(labels):
        raise ValueError(f"{len(codes)} codes but {len(labels)} labels")
    vectors = {}
    for digit in range(10):
        has = labels == digit
        if not has.any() or has.all():
            raise ValueError(f"attribute editing needs training images of every digit 0-9, with and without digit {digit}: this model's data has none (↺ Restore bundled brings the digit VAE back)")
        vectors[f"digit {digit}"] = codes[has].mean(0) - codes[~has].mean(0)
    for name, values in traits.items():
        low, high = torch.quantile(values, torch.tensor([quantile, 1 - quantile]))
        vectors[name] = codes[values >= high].mean(0) - codes[values <= low].mean(0)
    return vectors


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between codes a and b (D,) at fractions t (T,) in [0, 1].

    A variant of White's slerp (White 2016, "Sampling Generative Networks",
    arXiv:1609.04468): it follows the great circle between the directions of a and b and
    interpolates the norm linearly, so the path neither cuts through the low-density
    middle of the prior nor changes radius abruptly. Falls back to linear interpolation
    when a and b are (anti)parallel or either is (near) zero.

    Returns:
        (T, D) codes; row 0 is a and row T-1 is b when t spans [0, 1].
    """
    t = t.view(-1, 1)
    na, nb = a.norm(), b.norm()
    if min(float(na), float(nb)) < 1e-8:
        return (1 - t) * a + t * b
    cos = torch.dot(a, b) / (na * nb).clamp(min=1e-12)
    omega = torch.acos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-4 or (math.pi - omega).abs() < 1e-4:
        return (1 - t) * a + t * b
    direction = (torch.sin((1 - t) * omega) * a / na + torch.sin(t * omega) * b / nb) / torch.sin(omega)
    return direction * ((1 - t) * na + t * nb)

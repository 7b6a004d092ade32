"""The truncation trick: trade a generator's diversity for sample quality at sampling time.

BigGAN (Brock, Donahue & Simonyan 2018, "Large Scale GAN Training for High Fidelity Natural
Image Synthesis", arXiv:1809.11096, section 3.1) samples z from a *truncated* normal: every
component whose magnitude exceeds a threshold psi is drawn again until it falls inside.
StyleGAN (Karras, Laine & Aila 2018, arXiv:1812.04948, appendix B) instead *shrinks* the
latent toward its mean, w' = mean + psi (w - mean); for a GAN fed z ~ N(0, I) directly, the
mean is 0 and the shrink is psi z. Either way, smaller psi keeps samples near the mode of
the latent prior, where G was trained most: samples get more typical (higher precision)
and less varied (lower recall). Nothing is retrained: the trick only changes which z are fed.
"""

from __future__ import annotations

import torch
from torch import Tensor

from models.base import standard_normal
from models.checks import check_choice, check_float

METHODS = ("resample", "shrink")
METHOD_NAMES = {"resample": "resample |z_i| > ψ (BigGAN)", "shrink": "shrink toward the mean, ψ z (StyleGAN)"}
PSI_RANGE = (0.05, 4.0)
MAX_ROUNDS = 1000  # redraws of the out-of-range components; ψ >= 0.05 needs about 25 on average


def truncated_normal(shape: tuple[int, ...], psi: float, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> Tensor:
    """N(0, I) conditioned on every component lying in [-psi, psi], by redrawing the
    components outside (BigGAN's truncation trick): float32 of ``shape``, all |z_i| <= psi.

    Raises:
        ValueError: ``psi`` outside [0.05, 4].
    """
    psi = check_float("ψ (truncation)", psi, *PSI_RANGE)
    z = standard_normal(shape, generator, torch.device(device))
    for _ in range(MAX_ROUNDS):
        outside = z.abs() > psi
        if not bool(outside.any()):
            return z
        z = torch.where(outside, standard_normal(shape, generator, z.device), z)
    return z.clamp(-psi, psi)  # unreachable in practice: P(one component still outside) < 0.96^1000


def truncated_latents(n: int, dim: int, psi: float, method: str = "resample", generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> Tensor:
    """n latents (n, dim) float32 truncated by ``method``: ``"resample"`` (``truncated_normal``:
    every |z_i| <= psi) or ``"shrink"`` (psi z for z ~ N(0, I), the mean being 0; psi > 1
    extrapolates away from it). The same generator state gives, for ``"shrink"``, the same
    z at every psi, so a sweep shows each sample move.

    Raises:
        ValueError: an unknown method or ``psi`` outside [0.05, 4].
    """
    method = check_choice("truncation method", method, METHODS)
    psi = check_float("ψ (truncation)", psi, *PSI_RANGE)
    if method == "resample":
        return truncated_normal((n, dim), psi, generator, device)
    return psi * standard_normal((n, dim), generator, torch.device(device))


def pixel_spread(images: Tensor) -> float:
    """Diversity of a batch (N, 1, H, W) in [0, 1]: the standard deviation across the N images of each pixel, averaged over pixels."""
    return float(images.float().std(0).mean())

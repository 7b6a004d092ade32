"""SRGAN: 14x14 -> 28x28 super-resolution with a content loss plus an adversarial loss.

Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a Generative
Adversarial Network", arXiv:1609.04802. A generator (residual blocks at the low resolution,
then a sub-pixel convolution, i.e. a conv to 4 channels and a pixel shuffle, Shi et al.
2016, arXiv:1609.05158) maps a low-resolution image to a high-resolution one. Trained on
a pixel (MSE) content loss alone it is the paper's SRResNet: it maximises PSNR, and so
predicts the *mean* of the plausible high-resolution images, which is blurred. SRGAN adds
an adversarial loss (a discriminator that tells real high-resolution digits from
generated ones, non-saturating, weight ``adv_weight``), which pushes the output towards
one sharp plausible image, at some cost in PSNR.

Here the low-resolution input is the 2x2 average pool of a digit. With ``consistent`` the
generator ends with a back-projection layer (after Irani & Peleg 1991): each 2x2 block is
rescaled so that its mean is the input pixel, within [0, 1], so that the output,
average-pooled, gives the input back (up to float rounding). One checkpoint holds two generators trained on the same batches:
``generator`` (content + adversarial, SRGAN) and ``baseline`` (content only, SRResNet), so
the page shows both beside bicubic upsampling.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import GenerativeModel, check_images, keep_recent, pick_examples
from models.checks import check_bool, check_float, check_int

WIDTH_RANGE = (4, 64)
BLOCKS_RANGE = (0, 8)
ADV_RANGE = (0.0, 1.0)
N_EXAMPLES = 64


def downsample(x: Tensor) -> Tensor:
    """The low-resolution input: 2x2 average pooling, (B, 1, 28, 28) -> (B, 1, 14, 14)."""
    return F.avg_pool2d(x, 2)


def bicubic(lr: Tensor) -> Tensor:
    """Bicubic 2x upsampling clamped to [0, 1]: (B, 1, 14, 14) -> (B, 1, 28, 28)."""
    return F.interpolate(lr, scale_factor=2, mode="bicubic", align_corners=False).clamp(0, 1)


def back_project(y: Tensor, lr: Tensor) -> Tensor:
    """``y`` (B, 1, 28, 28) in [0, 1] adjusted so that its 2x2 averages are exactly ``lr``
    (B, 1, 14, 14), staying in [0, 1]: in a block whose mean m must fall to l, every pixel
    is scaled by l / m; where it must rise, every pixel's distance to white is scaled by
    (1 - l) / (1 - m). Either keeps the block's pattern (which pixels are darker) and is
    differentiable, and the block's mean becomes l up to float rounding."""
    m = F.interpolate(downsample(y), scale_factor=2, mode="nearest")  # (B, 1, 28, 28): each pixel's block mean
    target = F.interpolate(lr, scale_factor=2, mode="nearest")
    darker = y * target / m.clamp(min=1e-6)
    lighter = 1 - (1 - y) * (1 - target) / (1 - m).clamp(min=1e-6)
    return torch.where(target <= m, darker, lighter).clamp(0, 1)


def psnr(x: Tensor, target: Tensor) -> Tensor:
    """Peak signal-to-noise ratio in dB per image (B,), for images in [0, 1] (peak 1):
    10 log10(1 / MSE), MSE floored at 1e-10."""
    mse = (x - target).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1 / mse.clamp(min=1e-10))


class _Upscaler(nn.Module):
    """SRResNet, scaled down: conv 3x3 at 14x14, residual blocks, a conv to 4w channels and
    a pixel shuffle to 28x28, a conv 3x3 to one channel; sigmoid to [0, 1]."""

    def __init__(self, width: int, n_blocks: int):
        super().__init__()
        w = width
        self.stem = nn.Sequential(nn.Conv2d(1, w, 3, padding=1), nn.PReLU(w))  # (B, w, 14, 14)
        self.blocks = nn.ModuleList(nn.Sequential(nn.Conv2d(w, w, 3, padding=1), nn.PReLU(w), nn.Conv2d(w, w, 3, padding=1)) for _ in range(n_blocks))
        self.up = nn.Sequential(nn.Conv2d(w, 4 * w, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(w))  # (B, w, 28, 28)
        self.out = nn.Conv2d(w, 1, 3, padding=1)

    def forward(self, lr: Tensor) -> Tensor:
        h = skip = self.stem(lr * 2 - 1)
        for block in self.blocks:
            h = h + block(h)
        return torch.sigmoid(self.out(self.up(h + skip)))  # (B, 1, 28, 28)


class SRGAN(GenerativeModel, paper_url="https://arxiv.org/abs/1609.04802"):
    """SRGAN for 14x14 -> 28x28 digits (Ledig et al. 2017, arXiv:1609.04802), with its
    pixel-loss-only twin (SRResNet) trained beside it.

    Args:
        width: channels of the generators and of D's first layer, in [4, 64].
        n_blocks: residual blocks per generator, in [0, 8].
        adv_weight: weight of the adversarial term in SRGAN's loss, in [0, 1] (the paper:
            1e-3 beside a VGG content loss; the content loss here is the pixel MSE).
        consistent: end each generator with the back-projection layer (``back_project``).

    Raises:
        ValueError: any argument outside the ranges above.

    High-resolution images are (B, 1, 28, 28) float32 in [0, 1], low-resolution ones
    (B, 1, 14, 14) (``downsample``). ``examples`` (64, 1, 28, 28) keeps the 64 most recent
    training digits, which ``sample`` super-resolves from their low-resolution versions.
    """

    family: ClassVar[str] = "srgan"
    title: ClassVar[str] = "SRGAN (Ledig et al. 2017)"
    data_kind: ClassVar[str] = "grey"
    nll_kind: ClassVar[str] = "none"
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 1500, "lr": 5e-4, "batch_size": 32}
    card_note: ClassVar[str] = (
        "Settings: the paper's generator shape (residual blocks, sub-pixel upsampling) and non-saturating adversarial loss, scaled down; "
        "width, blocks, adversarial weight (5e-3) and steps were set before training to fit a few CPU minutes, not chosen by the PSNR or "
        "the judges' share reported. At this scale D stays near chance (its loss about 1.36 nats, 2 ln 2 = 1.39), so SRGAN's output is close to SRResNet's."
    )

    def __init__(self, width: int = 16, n_blocks: int = 2, adv_weight: float = 5e-3, consistent: bool = True):
        super().__init__()
        self.width = check_int("width", width, *WIDTH_RANGE)
        self.n_blocks = check_int("n_blocks", n_blocks, *BLOCKS_RANGE)
        self.adv_weight = check_float("adv_weight", adv_weight, *ADV_RANGE)
        self.consistent = check_bool("consistent", consistent)
        self.generator = _Upscaler(self.width, self.n_blocks)
        self.baseline = _Upscaler(self.width, self.n_blocks)
        w = self.width
        self.discriminator = nn.Sequential(
            nn.Conv2d(1, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # (B, w, 14, 14)
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # (B, 2w, 7, 7)
            nn.Flatten(), nn.Linear(2 * w * 49, 1),  # (B, 1)
        )
        self.register_buffer("examples", torch.zeros(N_EXAMPLES, 1, 28, 28))

    def check_low(self, lr: Tensor) -> Tensor:
        """``lr`` as float32 (B, 1, 14, 14) in [0, 1]. Raises ValueError: another shape or range."""
        return check_images(lr, 14)

    def upscale(self, lr: Tensor, which: str = "srgan") -> Tensor:
        """The 28x28 images (B, 1, 28, 28) in [0, 1] for low-resolution ones (B, 1, 14, 14),
        by ``which``: ``"srgan"`` (content + adversarial), ``"pixel"`` (content only,
        SRResNet) or ``"bicubic"``; the networks end with back-projection when ``consistent``.

        Raises:
            ValueError: bad images or ``which``.
        """
        lr = self.check_low(lr)
        if which == "bicubic":
            return bicubic(lr)
        if which not in ("srgan", "pixel"):
            raise ValueError(f"which must be 'srgan', 'pixel' or 'bicubic', got {which!r}")
        y = (self.generator if which == "srgan" else self.baseline)(lr)
        return back_project(y, lr) if self.consistent else y

    # --- the contract -----------------------------------------------------------------
    def configure_optimizers(self, lr: float, lr_d: float | None = None) -> list[torch.optim.Optimizer]:
        """``[Adam for both generators, Adam for D]``, betas (0.9, 0.999) as in the paper."""
        return [
            torch.optim.Adam([*self.generator.parameters(), *self.baseline.parameters()], lr=lr),
            torch.optim.Adam(self.discriminator.parameters(), lr=lr if lr_d is None else lr_d),
        ]

    def _terms(self, x: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """The generators' terms on high-resolution x; also returns SRGAN's output."""
        low = downsample(x)
        sr, base = self.upscale(low, "srgan"), self.upscale(low, "pixel")
        content, pixel = F.mse_loss(sr, x), F.mse_loss(base, x)
        adversarial = F.softplus(-self.discriminator(sr * 2 - 1)).mean()  # -log D(G(lr)), non-saturating
        g_loss = content + self.adv_weight * adversarial
        return {"g_loss": g_loss, "content": content, "adversarial": adversarial, "pixel_loss": pixel}, sr

    def _d_loss(self, x: Tensor, sr: Tensor) -> Tensor:
        real, fake = self.discriminator(x * 2 - 1), self.discriminator(sr.detach() * 2 - 1)
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """The terms on digits x (B, 1, 28, 28) in [0, 1], without updates. Scalars:
        ``"loss"`` and ``"g_loss"``: SRGAN's, content + adv_weight x adversarial;
        ``"content"``: its pixel MSE; ``"adversarial"``: -mean log D(G(lr)) in nats;
        ``"pixel_loss"``: the SRResNet twin's MSE (what it minimises); ``"d_loss"``: D's
        binary cross-entropy in nats."""
        x = check_images(x, 28, min_batch=1)
        terms, sr = self._terms(x)
        return {"loss": terms["g_loss"], **terms, "d_loss": self._d_loss(x, sr)}

    def train_step(self, x: Tensor, y: Tensor | None, optimizers: list[torch.optim.Optimizer], generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """One update of both generators (SRGAN's loss plus the twin's pixel loss: their
        parameters are disjoint), then one of D. Returns the detached terms of ``loss``;
        keeps the batch's digits in ``examples`` (the 64 most recent)."""
        opt_g, opt_d = optimizers
        x = check_images(x, 28, min_batch=1)
        keep_recent(self.examples, x)  # the 64 most recent, newest first
        terms, sr = self._terms(x)
        opt_g.zero_grad(set_to_none=True)
        (terms["g_loss"] + terms["pixel_loss"]).backward()
        opt_g.step()
        d_loss = self._d_loss(x, sr)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        return {"loss": terms["g_loss"].detach(), **{k: v.detach() for k, v in terms.items()}, "d_loss": d_loss.detach()}

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """SRGAN's 28x28 output for ``n`` of the kept ``examples``, from their 14x14 versions
        (drawn with ``generator``, with replacement beyond 64): (n, 1, 28, 28) in [0, 1].

        Raises:
            ValueError: ``n`` not in [1, 10,000], or a label given.
        """
        n = check_int("samples", n, 1, 10_000)
        self.check_labels(y, n)
        return self.upscale(downsample(pick_examples(self.examples, n, generator)))

    @torch.no_grad()
    def test_figures(self, x: Tensor) -> dict[str, float]:
        """On digits x (B, 1, 28, 28): the mean PSNR in dB of SRGAN, the pixel-loss twin and
        bicubic against x, and each one's consistency error: the largest |avgpool(output) -
        input| (0 to 1) over the batch.

        Raises:
            ValueError: bad images.
        """
        x = check_images(x, 28, min_batch=1)
        low = downsample(x)
        figures = {}
        for which in ("srgan", "pixel", "bicubic"):
            out = self.upscale(low, which)
            figures[f"psnr_db_{which}"] = float(psnr(out, x).mean())
            figures[f"consistency_error_{which}"] = float((downsample(out) - low).abs().max())
        return figures

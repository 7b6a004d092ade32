"""CycleGAN: unpaired translation between two digit domains made in code.

Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks", arXiv:1703.10593. Two generators, G: A -> B and F: B -> A, and two
discriminators, D_A and D_B, are trained on *unpaired* images: nothing tells G which B
image a given A image should become. Each generator plays a least-squares GAN (LSGAN, Mao
et al. 2017, arXiv:1611.04076) against the discriminator of its output domain, and the
cycle-consistency loss lambda (||F(G(a)) - a||_1 + ||G(F(b)) - b||_1) makes the two maps
(near) inverses, so G must keep what A and B share (the digit) and change only what tells
the domains apart. The identity loss ||G(b) - b||_1 + ||F(a) - a||_1 (the paper's section
5.2, weight 0.5 lambda there) keeps a generator from changing an image already in its
output domain.

The domains are made from the bundled digits: ``"thickness"``: A = the digits as they are,
B = thick strokes (grey-scale dilation, a 3x3 max-pool); ``"slant"``: A = the digits as
they are, B = slanted (an affine shear of the rows). In each batch the B images are made
from *other* digits than the A images (the batch's second half), so the data are unpaired;
the made-in-code B of the A digits is kept for measuring only (``translation_error``).
The trait that tells the domains apart is measured (``trait``): stroke thickness in pixels
(2 x ink / boundary ink, the width of a stroke whose length is half its boundary) or slant
(the ink's second moment: d column / d row).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import GenerativeModel, check_images, keep_recent, pick_examples
from models.checks import check_bool, check_choice, check_float, check_int

DOMAINS = ("thickness", "slant")
DOMAIN_NAMES = {
    "thickness": "thin ↔ thick strokes (dilation)",
    "slant": "upright ↔ slanted (shear)",
}
TRAIT_NAMES = {"thickness": "stroke thickness (px)", "slant": "slant (columns per row)"}
SHEAR = 0.35  # columns moved per row of height, domain B of "slant"
WIDTH_RANGE = (4, 64)
BLOCKS_RANGE = (0, 4)
WEIGHT_RANGE = (0.0, 100.0)
N_EXAMPLES = 64
IDENTITY_GAIN = 4.0  # a generator's skip from its input to its output logits: sigmoid(4 (2x - 1)) is x, sharpened


def erode(x: Tensor) -> Tensor:
    """Grey-scale erosion by a 3x3 square (a min-pool): (B, 1, H, W) -> same shape."""
    return -F.max_pool2d(-x, 3, stride=1, padding=1)


def dilate(x: Tensor) -> Tensor:
    """Grey-scale dilation by a 3x3 square (a max-pool): thicker strokes, same shape."""
    return F.max_pool2d(x, 3, stride=1, padding=1)


def shear(x: Tensor, amount: float = SHEAR) -> Tensor:
    """Slant images (B, 1, H, W) in [0, 1]: row r (from the centre) moves ``amount`` x r
    columns, top to the right (bilinear resampling, zeros outside)."""
    theta = torch.tensor([[1.0, amount, 0.0], [0.0, 1.0, 0.0]], device=x.device).expand(len(x), 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False).clamp(0, 1)


def to_domain_b(kind: str, x: Tensor) -> Tensor:
    """The made-in-code domain B of images x (B, 1, 28, 28) in [0, 1]: dilated or sheared."""
    return dilate(x) if check_choice("domain", kind, DOMAINS) == "thickness" else shear(x)


def trait(kind: str, x: Tensor) -> Tensor:
    """The trait that tells the domains apart, per image (B,) float32.

    ``"thickness"``: stroke thickness in pixels, 2 x ink / boundary ink, where the boundary
    is x - erode(x): a stroke of width w and length L has ink w L and a boundary of about
    2 L. About 2.4 px for the digits, 4.3 px after dilation.
    ``"slant"``: the ink-weighted second moment cov(column, row) / var(row), in columns per
    row (positive: the top leans right), about 0 for upright digits.
    """
    kind = check_choice("domain", kind, DOMAINS)
    if kind == "thickness":
        boundary = (x - erode(x)).flatten(1).sum(1)
        return 2 * x.flatten(1).sum(1) / boundary.clamp(min=1e-3)
    side = x.shape[-1]
    coords = torch.arange(side, dtype=x.dtype, device=x.device)
    rows, cols = -coords[:, None].expand(side, side), coords[None, :].expand(side, side)  # rows grow upwards
    w = x[:, 0] / x[:, 0].flatten(1).sum(1).clamp(min=1e-6)[:, None, None]  # (B, H, W), sums to 1
    r_mean, c_mean = (w * rows).sum((1, 2)), (w * cols).sum((1, 2))
    dr, dc = rows - r_mean[:, None, None], cols - c_mean[:, None, None]
    return (w * dr * dc).sum((1, 2)) / (w * dr * dr).sum((1, 2)).clamp(min=1e-6)


class _Translator(nn.Module):
    """An image-to-image generator: a 3x3 conv at 28x28, a strided conv to 14x14,
    ``n_blocks`` residual blocks there, a transposed conv back to 28x28 and, with a
    short-cut from the first layer, a 3x3 conv to the output logits, to which the input
    itself is added (``IDENTITY_GAIN``) with ``input_skip``."""

    def __init__(self, width: int, n_blocks: int, input_skip: bool):
        super().__init__()
        w = width
        self.gain = IDENTITY_GAIN if input_skip else 0.0
        self.stem = nn.Sequential(nn.Conv2d(1, w, 3, padding=1), nn.ReLU())  # (B, w, 28, 28)
        self.down = nn.Sequential(nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.ReLU())  # (B, 2w, 14, 14)
        self.blocks = nn.ModuleList(nn.Sequential(nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(), nn.Conv2d(2 * w, 2 * w, 3, padding=1)) for _ in range(n_blocks))
        self.up = nn.Sequential(nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), nn.ReLU())  # (B, w, 28, 28)
        self.out = nn.Conv2d(2 * w, 1, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        skip = self.stem(x * 2 - 1)
        h = self.down(skip)
        for block in self.blocks:
            h = torch.relu(h + block(h))
        # Near the identity at the start (the output conv's values are small): the domains differ
        # in one trait, so a generator has only to learn the change (and the cycle starts closed).
        return torch.sigmoid(self.out(torch.cat([self.up(h), skip], 1)) + self.gain * (x * 2 - 1))  # (B, 1, 28, 28) in [0, 1]


def _patch_discriminator(width: int) -> nn.Sequential:
    """A PatchGAN discriminator (the paper's, scaled down): a score per 7x7 cell, each
    seeing a 10x10 patch: (B, 1, 28, 28) -> (B, 1, 7, 7)."""
    w = width
    return nn.Sequential(
        nn.Conv2d(1, w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # (B, w, 14, 14)
        nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # (B, 2w, 7, 7)
        nn.Conv2d(2 * w, 1, 3, padding=1),  # (B, 1, 7, 7)
    )


def _lsgan(scores: Tensor, target: float) -> Tensor:
    return (scores - target).pow(2).mean()


class CycleGAN(GenerativeModel, paper_url="https://arxiv.org/abs/1703.10593"):
    """CycleGAN on two digit domains (Zhu et al. 2017, arXiv:1703.10593).

    Args:
        domain: ``"thickness"`` (A thin, B thick) or ``"slant"`` (A upright, B slanted).
        width: channels of the first layer of every network, in [4, 64].
        n_blocks: residual blocks in each generator, in [0, 4].
        cycle_weight: lambda, the weight of the cycle-consistency L1 loss, in [0, 100].
        input_skip: add each generator's input to its output logits, so that it starts near
            the identity (the domains differ in one trait; the cycle starts closed).
        identity_weight: the weight of the identity L1 loss, in [0, 100] (the paper: 0.5 lambda; here 2,
            as G must thicken thin strokes and leave thick ones).

    Raises:
        ValueError: any argument outside the ranges above.

    Images are (B, 1, 28, 28) float32 in [0, 1]. ``train_step`` splits each batch in two:
    the first half is domain A, the second half (other digits) is made into domain B.
    ``examples`` (64, 1, 28, 28) keeps the 64 most recent A digits of training (saved with
    the weights), which ``sample`` translates, so a checkpoint can show what it does alone.
    """

    family: ClassVar[str] = "cyclegan"
    title: ClassVar[str] = "CycleGAN (Zhu, Park, Isola & Efros 2017)"
    data_kind: ClassVar[str] = "grey"
    nll_kind: ClassVar[str] = "none"
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 1200, "lr": 5e-4, "batch_size": 32}
    card_note: ClassVar[str] = (
        "Settings: the paper's lambda = 10, LSGAN losses and Adam betas (0.5, 0.999); the identity weight 2 (below the paper's 0.5 lambda) "
        "because with 5, in two 100-step trial runs, the identity term held G near the identity (the trait moved slowly); the networks' width "
        "and the steps were chosen to fit a few CPU minutes. None was chosen by the figures reported."
    )

    def __init__(
        self, domain: str = "thickness", width: int = 16, n_blocks: int = 2, cycle_weight: float = 10.0, identity_weight: float = 2.0,
        input_skip: bool = True,
    ):
        super().__init__()
        self.domain = check_choice("domain", domain, DOMAINS)
        self.width = check_int("width", width, *WIDTH_RANGE)
        self.n_blocks = check_int("n_blocks", n_blocks, *BLOCKS_RANGE)
        self.cycle_weight = check_float("cycle_weight", cycle_weight, *WEIGHT_RANGE)
        self.identity_weight = check_float("identity_weight", identity_weight, *WEIGHT_RANGE)
        self.input_skip = check_bool("input_skip", input_skip)
        self.g_ab = _Translator(self.width, self.n_blocks, self.input_skip)  # G: A -> B
        self.g_ba = _Translator(self.width, self.n_blocks, self.input_skip)  # F: B -> A
        self.d_a = _patch_discriminator(self.width)
        self.d_b = _patch_discriminator(self.width)
        self.register_buffer("examples", torch.zeros(N_EXAMPLES, 1, 28, 28))

    # --- the maps ---------------------------------------------------------------------
    def to_b(self, x: Tensor) -> Tensor:
        """The made-in-code domain B of x (``to_domain_b``)."""
        return to_domain_b(self.domain, x)

    def trait(self, x: Tensor) -> Tensor:
        """The domains' trait per image (``trait``), (B,)."""
        return trait(self.domain, x)

    @torch.no_grad()
    def translate(self, x: Tensor, direction: str = "a2b") -> Tensor:
        """G(x) (``"a2b"``) or F(x) (``"b2a"``) for images x (B, 1, 28, 28) in [0, 1]; same shape, in [0, 1].

        Raises:
            ValueError: bad images or direction.
        """
        x = check_images(x, 28)
        return (self.g_ab if check_choice("direction", direction, ("a2b", "b2a")) == "a2b" else self.g_ba)(x)

    def split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """An unpaired batch from digits x (B >= 2): (domain A: the first half, domain B:
        the second half made into B). The halves hold different digits."""
        half = len(x) // 2
        return x[:half], self.to_b(x[half : 2 * half])

    # --- the contract -----------------------------------------------------------------
    def configure_optimizers(self, lr: float, lr_d: float | None = None) -> list[torch.optim.Optimizer]:
        """``[Adam for G and F, Adam for D_A and D_B]``, betas (0.5, 0.999) as in the paper."""
        gens = [*self.g_ab.parameters(), *self.g_ba.parameters()]
        discs = [*self.d_a.parameters(), *self.d_b.parameters()]
        return [torch.optim.Adam(gens, lr=lr, betas=(0.5, 0.999)), torch.optim.Adam(discs, lr=lr if lr_d is None else lr_d, betas=(0.5, 0.999))]

    def _generator_terms(self, a: Tensor, b: Tensor) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """G and F's terms on unpaired a, b; also returns G(a), F(b)."""
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        adversarial = _lsgan(self.d_b(fake_b), 1.0) + _lsgan(self.d_a(fake_a), 1.0)
        cycle = (self.g_ba(fake_b) - a).abs().mean() + (self.g_ab(fake_a) - b).abs().mean()
        identity = (self.g_ab(b) - b).abs().mean() + (self.g_ba(a) - a).abs().mean() if self.identity_weight else a.new_zeros(())
        g_loss = adversarial + self.cycle_weight * cycle + self.identity_weight * identity
        return {"g_loss": g_loss, "adversarial": adversarial, "cycle": cycle, "identity": identity}, fake_b, fake_a

    def _d_loss(self, a: Tensor, b: Tensor, fake_a: Tensor, fake_b: Tensor) -> Tensor:
        real = _lsgan(self.d_a(a), 1.0) + _lsgan(self.d_b(b), 1.0)
        fake = _lsgan(self.d_a(fake_a.detach()), 0.0) + _lsgan(self.d_b(fake_b.detach()), 0.0)
        return 0.5 * (real + fake)

    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """The terms on a batch of digits x (B >= 2, 1, 28, 28) in [0, 1], without updates
        (``split`` makes it unpaired). Scalars: ``"loss"`` and ``"g_loss"``: what G and F
        minimise, adversarial + lambda cycle + identity weight x identity; ``"adversarial"``:
        the two LSGAN terms (D(fake) - 1)^2; ``"cycle"``: |F(G(a)) - a| + |G(F(b)) - b|,
        mean absolute error per pixel (in [0, 2]); ``"identity"``: |G(b) - b| + |F(a) - a|;
        ``"d_loss"``: the discriminators' LSGAN loss."""
        x = check_images(x, 28, min_batch=2)
        a, b = self.split(x)
        terms, fake_b, fake_a = self._generator_terms(a, b)
        return {"loss": terms["g_loss"], **terms, "d_loss": self._d_loss(a, b, fake_a, fake_b)}

    def train_step(self, x: Tensor, y: Tensor | None, optimizers: list[torch.optim.Optimizer], generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """One update of G and F, then one of D_A and D_B on the same (detached) fakes.
        Returns the detached terms of ``loss``; keeps the batch's A digits in ``examples`` (the 64 most recent)."""
        opt_g, opt_d = optimizers
        x = check_images(x, 28, min_batch=2)
        a, b = self.split(x)
        keep_recent(self.examples, a)  # the 64 most recent, newest first
        terms, fake_b, fake_a = self._generator_terms(a, b)
        opt_g.zero_grad(set_to_none=True)
        terms["g_loss"].backward()
        opt_g.step()
        d_loss = self._d_loss(a, b, fake_a, fake_b)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        return {"loss": terms["g_loss"].detach(), **{k: v.detach() for k, v in terms.items()}, "d_loss": d_loss.detach()}

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """G applied to ``n`` of the kept ``examples`` (drawn with ``generator``, with
        replacement beyond 64): (n, 1, 28, 28) float32 in [0, 1], domain B as G makes it.

        Raises:
            ValueError: ``n`` not in [1, 10,000], or a label given.
        """
        n = check_int("samples", n, 1, 10_000)
        self.check_labels(y, n)
        return self.g_ab(pick_examples(self.examples, n, generator))

    @torch.no_grad()
    def test_figures(self, x: Tensor) -> dict[str, float]:
        """What the model does to digits x (B, 1, 28, 28) (domain A) and to their
        made-in-code B: the mean trait of a, G(a), b and F(b); the cycle errors
        |F(G(a)) - a| and |G(F(b)) - b| (mean per pixel); and ``translation_error``
        |G(a) - b|, against the paired B that training never saw.

        Raises:
            ValueError: bad images.
        """
        a = check_images(x, 28, min_batch=1)
        b = self.to_b(a)
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        figures = {
            "trait_a": self.trait(a), "trait_g_a": self.trait(fake_b), "trait_b": self.trait(b), "trait_f_b": self.trait(fake_a),
            "cycle_error_a": (self.g_ba(fake_b) - a).abs(), "cycle_error_b": (self.g_ab(fake_a) - b).abs(),
            "translation_error": (fake_b - b).abs(), "identity_gap": (a - b).abs(),
        }
        return {k: float(v.mean()) for k, v in figures.items()}


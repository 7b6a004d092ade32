"""Multiscale PixelCNN on binary digits: a 7 x 7 start drawn pixel by pixel, then the
pixels of each finer scale in a few groups drawn in parallel.

Reed, van den Oord, Kalchbrenner, Colmenarejo, Wang, Chen, Belov & de Freitas 2017,
"Parallel Multiscale Autoregressive Density Estimation", arXiv:1703.03664. A PixelCNN
needs one network pass per pixel to sample (784 for a digit). Here the pixels are split
into groups that are modelled as independent given everything before them:

- the 7 x 7 image of every 4th pixel (rows and columns 0, 4, 8, ...), by a small PixelCNN
  in raster order (49 passes on a 7 x 7 grid);
- then, for the 14 x 14 image of every 2nd pixel, the pixels at odd (row, column) offsets
  of each 2 x 2 block in three groups: (1, 1), then (0, 1), then (1, 0) (the (0, 0) pixels
  are the 7 x 7 image); and the same from 14 x 14 to 28 x 28.

Each group has its own small convolutional network, which sees the image at its scale with
only the pixels known so far (the others zeroed, plus a channel marking which are known),
and gives a Bernoulli logit for every pixel of the group at once. So sampling takes 49 + 6
network passes, and the log-likelihood is exact: the groups partition the 784 pixels, and
log p(x) = log p(x_7x7) + sum over the six groups of sum over their pixels of
log p(x_i | the 7 x 7 image and the earlier groups).

The price: pixels of one group cannot see each other, so neighbours drawn in the same step
cannot agree; with few groups the likelihood is worse than a PixelCNN's for the same data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import GenerativeModel, check_images
from models.checks import check_int
from models.layers import generator_device
from models.pixelcnn import PixelCNN

SIDE = 28
BASE_SIDE = 7
OFFSETS = ((1, 1), (0, 1), (1, 0))  # the order of the groups within each 2 x 2 block; (0, 0) is the coarser image
GROUPS = tuple((side, offset) for side in (14, 28) for offset in OFFSETS)  # (side of the scale, (row, column) offset)
MAX_CHANNELS = 128
MAX_LAYERS = 8


def group_masks(side: int, upto: int) -> Tensor:
    """(side, side) float32 in {0, 1}: 1 where the pixel belongs to the coarser image or to
    one of the first ``upto`` groups of ``OFFSETS`` at this scale."""
    rows, cols = torch.arange(side)[:, None] % 2, torch.arange(side)[None, :] % 2
    known = (rows == 0) & (cols == 0)
    for a, b in OFFSETS[:upto]:
        known |= (rows == a) & (cols == b)
    return known.float()


class _GroupNet(nn.Module):
    """Logits of one group from the image at its scale with only the known pixels: (B, 2, S, S) ([x * 2 - 1 where
    known, else 0; the known mask]) -> (B, 1, S, S). Residual 3 x 3 convolutions, dilated 1, 2, 1, 2, ... to widen the view."""

    def __init__(self, channels: int, n_layers: int):
        super().__init__()
        self.input = nn.Conv2d(2, channels, 3, padding=1)
        self.blocks = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1 + i % 2, dilation=1 + i % 2) for i in range(n_layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, 1, 1))

    def forward(self, inputs: Tensor) -> Tensor:
        h = self.input(inputs)
        for block in self.blocks:
            h = h + block(F.relu(h))
        return self.head(h)


class MultiscalePixelCNN(GenerativeModel, paper_url="https://arxiv.org/abs/1703.03664"):
    """Multiscale PixelCNN for binary 28 x 28 digits (see the module docstring).

    Args:
        channels: channels of each group's network, in [4, 128].
        n_layers: residual layers of each group's network, in [1, 8].
        base_channels: channels of the 7 x 7 PixelCNN, in [4, 128].
        base_layers: its type-B layers, in [1, 8].

    Raises:
        ValueError: a setting out of range.
    """

    family: ClassVar[str] = "multiscale_pixelcnn"
    title: ClassVar[str] = "Multiscale PixelCNN (Reed et al. 2017)"
    nll_kind: ClassVar[str] = "exact"
    # Sized by CPU time (about 5 minutes on one shared core), never by the test NLL reported.
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 500, "lr": 2e-3, "batch_size": 32}
    card_note: ClassVar[str] = (
        "Settings chosen by the CPU budget (a few minutes on one shared core), not by the test NLL reported. "
        "Samples take 49 passes of the 7 x 7 PixelCNN and 6 of the group networks, against 784 passes of a PixelCNN."
    )

    def __init__(self, channels: int = 24, n_layers: int = 3, base_channels: int = 32, base_layers: int = 3):
        super().__init__()
        self.channels = check_int("channels", channels, 4, MAX_CHANNELS)
        self.n_layers = check_int("n_layers", n_layers, 1, MAX_LAYERS)
        self.base_channels = check_int("base_channels", base_channels, 4, MAX_CHANNELS)
        self.base_layers = check_int("base_layers", base_layers, 1, MAX_LAYERS)
        self.base = PixelCNN(channels=base_channels, n_layers=base_layers, image_size=BASE_SIDE)
        self.groups = nn.ModuleList(_GroupNet(channels, n_layers) for _ in GROUPS)
        for g, (side, _) in enumerate(GROUPS):
            upto = g % len(OFFSETS)
            self.register_buffer(f"known_{g}", group_masks(side, upto), persistent=False)
            self.register_buffer(f"target_{g}", group_masks(side, upto + 1) - group_masks(side, upto), persistent=False)

    def masks(self, g: int) -> tuple[Tensor, Tensor]:
        """Group ``g``'s (known, target) masks (S, S) in {0, 1}: the pixels it sees and the pixels it gives."""
        return getattr(self, f"known_{g}"), getattr(self, f"target_{g}")

    @staticmethod
    def at_scale(x: Tensor, side: int) -> Tensor:
        """The image of every (28 / side)-th pixel of x (B, 1, 28, 28): (B, 1, side, side)."""
        step = SIDE // side
        return x[:, :, ::step, ::step]

    def group_logits(self, x_scale: Tensor, g: int) -> Tensor:
        """Logits (B, 1, S, S) of group ``g`` from the image at its scale x_scale (B, 1, S, S) in {0, 1}; only the
        pixels of its known mask are read (the others are multiplied by 0), and only its target pixels' logits are used."""
        known, _ = self.masks(g)
        inputs = torch.cat([(x_scale * 2 - 1) * known, known.expand_as(x_scale)], dim=1)
        return self.groups[g](inputs)

    def log_prob_terms(self, x: Tensor) -> dict[str, Tensor]:
        """Exact log-likelihood terms, nats per image (B,): ``"base"`` (the 7 x 7 image) and one per group (``"14x14 (1, 1)"``, ...); they sum to log p(x)."""
        terms = {"base": self.base.log_prob(self.at_scale(x, BASE_SIDE))}
        for g, (side, offset) in enumerate(GROUPS):
            x_scale = self.at_scale(x, side)
            _, target = self.masks(g)
            per_pixel = -F.binary_cross_entropy_with_logits(self.group_logits(x_scale, g), x_scale, reduction="none")
            terms[f"{side}x{side} {offset}"] = (per_pixel * target).flatten(1).sum(1)
        return terms

    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Exact log p(x) in nats, (B,), for binary images x (B, 1, 28, 28).

        Raises:
            ValueError: another shape, values outside [0, 1], or labels given.
        """
        x = check_images(x, SIDE)
        self.check_labels(y, len(x))
        return torch.stack(list(self.log_prob_terms(x).values())).sum(0)

    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``"loss"``/``"nll"``: mean -log p(x) in nats per image; ``"nll_7x7"``: the part of the 7 x 7 start."""
        x = check_images(x, SIDE)
        self.check_labels(y, len(x))
        terms = self.log_prob_terms(x)
        nll = -torch.stack(list(terms.values())).sum(0).mean()
        return {"loss": nll, "nll": nll, "nll_7x7": -terms["base"].detach().mean()}

    @torch.no_grad()
    def stages(self, n: int, generator: torch.Generator | None = None) -> Iterator[tuple[str, Tensor]]:
        """Sample ``n`` digits (1 to 10,000) scale by scale; yield (what was drawn, the image so far (n, 1, S, S) in
        {0, 1} at its scale) after the 7 x 7 start and after each group."""
        n = check_int("samples", n, 1, 10_000)
        current = self.base.sample(n, generator=generator)  # (n, 1, 7, 7)
        yield "7 x 7 start (49 pixels, one at a time)", current
        for g, (side, offset) in enumerate(GROUPS):
            if current.shape[-1] != side:  # a new scale: the coarser image sits at the (0, 0) offsets
                finer = torch.zeros(n, 1, side, side, device=self.device)
                finer[:, :, ::2, ::2] = current
                current = finer
            _, target = self.masks(g)
            p = torch.sigmoid(self.group_logits(current, g))
            u = torch.rand(p.shape, generator=generator, device=generator_device(generator, p.device)).to(p.device)
            current = torch.where(target.bool(), (u < p).float(), current)
            yield f"{side} x {side}, group {offset}: {int(target.sum())} pixels at once", current

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples (n, 1, 28, 28) in {0, 1} (float32): 49 + 6 network passes.

        Raises:
            ValueError: ``n`` not in [1, 10,000], or labels given.
        """
        self.check_labels(y, n)
        *_, (_, images) = self.stages(n, generator)
        return images

    def sample_iter(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Iterator[Tensor | None]:
        """``sample`` in 7 steps: None after the 7 x 7 start and each group but the last, then the samples."""
        self.check_labels(y, n)
        steps = list(range(len(GROUPS) + 1))
        for step, (_, images) in zip(steps, self.stages(n, generator)):
            yield images if step == steps[-1] else None


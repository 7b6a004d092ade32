"""MNIST classifiers, the playground's independent judges of samples.

Each is trained on the bundled train split only (never on any model's samples). The two added judges never chose
any checkpoint; the first, ``classifier``, once chose the bundled DCGAN's step count (by its confident share on
seed-1 samples), so no number rests on it alone. Each scores every family alike: how many samples it classifies confidently, how many digit classes
appear among them, and features of its penultimate layer for the Frechet distance (the idea of FID, Heusel et al.
2017, arXiv:1706.08500, with an MNIST network in place of Inception) and for precision/recall (Kynkaanniemi et al.
2019, arXiv:1904.06991). One judge can be fooled by samples it happens to like; three of different architectures
and training recipes (``playground.core.metrics.JUDGES``) are much harder to fool together.

Architectures (``arch``):

- ``"cnn"``: LeNet-style (LeCun et al. 1998) two blocks of two 3x3 convolutions with batch norm and max pooling;
  the bundled ``classifier``.
- ``"mlp"``: a multilayer perceptron 784 - 16*width - n_features - 10 with dropout (784-512-256-10 at width 32,
  n_features 256); the bundled ``judge-mlp``.
- ``"resnet"``: a small residual network (He et al. 2016, arXiv:1512.03385): a 3x3 stem of ``width`` channels and
  three stages of one basic block each (width, 2 width, 4 width channels at 28, 14, 7 pixels), global average
  pooling and a linear layer to n_features; the bundled ``judge-resnet``.

Augmentation (``augment``): ``"shift"`` (integer shifts of up to 2 pixels), ``"none"``, or ``"affine"`` (random
rotation up to +-15 degrees, scale 0.9-1.1 and shift up to +-2 pixels, bilinear, through ``F.affine_grid``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.checks import N_CLASSES, check_choice, check_int
from models.hub import HubModel

ARCHS = ("cnn", "mlp", "resnet")
AUGMENTS = ("shift", "none", "affine")


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class _BasicBlock(nn.Module):
    """A residual basic block: two 3x3 convolutions with batch norm, plus a 1x1 projection of the input when the
    channels or the stride change (He et al. 2016). (B, c_in, H, W) -> (B, c_out, H / stride, W / stride)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        same = stride == 1 and c_in == c_out
        self.skip = nn.Identity() if same else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.skip(x))


def _body(arch: str, width: int, n_features: int) -> nn.Sequential:
    """The feature extractor of an architecture: (B, 1, 28, 28) -> (B, n_features), non-negative."""
    if arch == "cnn":
        layers = [_block(1, width), _block(width, 2 * width), nn.Flatten(), nn.Linear(2 * width * 49, n_features)]  # (B, 2w * 49) before the linear
    elif arch == "mlp":
        layers = [nn.Flatten(), nn.Linear(784, 16 * width), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16 * width, n_features)]
    else:
        layers = [
            nn.Conv2d(1, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            _BasicBlock(width, width, 1),  # (B, w, 28, 28)
            _BasicBlock(width, 2 * width, 2),  # (B, 2w, 14, 14)
            _BasicBlock(2 * width, 4 * width, 2),  # (B, 4w, 7, 7)
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),  # (B, 4w)
            nn.Linear(4 * width, n_features),
        ]
    return nn.Sequential(*layers, nn.ReLU())


class MnistClassifier(HubModel):
    """Digit classifier on grey images (B, 1, 28, 28) float32 in [0, 1].

    Args:
        width: in [4, 128]: channels of the first convolution block (``cnn``; the second has twice), units of the
            first hidden layer / 16 (``mlp``) or channels of the stem (``resnet``; the stages have 1, 2, 4 times).
        n_features: size of the penultimate feature layer (for the Frechet distance and precision/recall), in [8, 512].
        arch: ``"cnn"``, ``"mlp"`` or ``"resnet"`` (see the module docstring).
        augment: training augmentation: ``"shift"``, ``"none"`` or ``"affine"``.

    Raises:
        ValueError: for arguments out of range.
    """

    family: ClassVar[str] = "classifier"
    title: ClassVar[str] = "MNIST classifier (sample-quality judge)"
    data_kind: ClassVar[str] = "grey"
    conditional: ClassVar[bool] = True
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 3000, "lr": 2e-3, "batch_size": 128}
    card_note: ClassVar[str] = (
        "A judge of samples: trained on the train split only; these are the weights at the last step of the run above (no checkpoint "
        "was chosen by any metric). Of the shipped judges only `classifier` has ever chosen anything (the bundled DCGAN's step count); "
        "the judges' agreement, not one judge, is what the app reports."
    )

    def __init__(self, width: int = 32, n_features: int = 128, arch: str = "cnn", augment: str = "shift"):
        super().__init__()
        self.width = check_int("width", width, 4, 128)
        self.n_features = check_int("n_features", n_features, 8, 512)
        self.arch = check_choice("arch", arch, ARCHS)
        self.augment = check_choice("augment", augment, AUGMENTS)
        self.body = _body(self.arch, self.width, self.n_features)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(self.n_features, N_CLASSES)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate-layer features (B, n_features), float32, non-negative."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits (B, 10)."""
        return self.head(self.dropout(self.features(x)))

    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Cross-entropy (nats) and accuracy (share in [0, 1]) on a labelled batch.

        Raises:
            ValueError: if no labels are given.
        """
        if y is None:
            raise ValueError("the classifier needs labels to compute its loss")
        logits = self(x)
        return {
            "loss": F.cross_entropy(logits, y),
            "accuracy": (logits.argmax(1) == y).float().mean(),
        }

    def configure_optimizers(self, lr: float, lr_d: float | None = None) -> list[torch.optim.Optimizer]:
        return [torch.optim.AdamW(self.parameters(), lr=lr, weight_decay=1e-4)]

    def train_step(self, x, y, optimizers, generator=None):
        """One AdamW step on a batch augmented as ``augment`` says."""
        (optimizer,) = optimizers
        if self.augment == "shift":
            x = _random_shift(x, generator)
        elif self.augment == "affine":
            x = random_affine(x, generator)
        losses = self.loss(x, y)
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimizer.step()
        return {k: v.detach() for k, v in losses.items()}


def _random_shift(x: Tensor, generator: torch.Generator | None, max_shift: int = 2) -> Tensor:
    """Translate each image by an integer offset in [-max_shift, max_shift]^2 (zero fill)."""
    b = x.shape[0]
    device = generator.device if generator is not None else x.device
    shifts = torch.randint(-max_shift, max_shift + 1, (b, 2), generator=generator, device=device).to(x.device)
    padded = F.pad(x, (max_shift,) * 4)  # (B, 1, 32, 32)
    rows = torch.arange(28, device=x.device)
    r = (rows[None, :] + max_shift - shifts[:, :1])[:, :, None]  # (B, 28, 1)
    c = (rows[None, :] + max_shift - shifts[:, 1:])[:, None, :]  # (B, 1, 28)
    return padded[torch.arange(b, device=x.device)[:, None, None], 0, r, c].unsqueeze(1)  # (B, 1, 28, 28)


def random_affine(x: Tensor, generator: torch.Generator | None, max_degrees: float = 15.0, scale: tuple[float, float] = (0.9, 1.1), max_shift: float = 2.0) -> Tensor:
    """Warp each image (B, C, H, W) by a random rotation in [-max_degrees, max_degrees], isotropic scale in ``scale``
    and translation in [-max_shift, max_shift] pixels per axis (bilinear, zero fill); values stay in the input's range."""
    b, _, h, w = x.shape
    device = generator.device if generator is not None else x.device
    u = torch.rand(b, 4, generator=generator, device=device).to(x.device)  # (B, 4) uniform in [0, 1)
    angle = (2 * u[:, 0] - 1) * math.radians(max_degrees)
    s = scale[0] + (scale[1] - scale[0]) * u[:, 1]
    # affine_grid maps output to input coordinates in [-1, 1]: the inverse of the warp, so divide by the scale.
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    tx, ty = (2 * u[:, 2] - 1) * max_shift * 2 / w, (2 * u[:, 3] - 1) * max_shift * 2 / h
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

"""A small convolutional MNIST classifier, the playground's independent judge of samples.

It is trained on the bundled train split only (never on any model's samples) and is used
to score every family alike: how many samples it classifies confidently, how many digit
classes appear among them, and the Frechet distance between its penultimate-layer
features of samples and of real test digits (the idea of FID, Heusel et al. 2017,
arXiv:1706.08500, with an MNIST network in place of Inception).

Architecture after the classic LeNet-style nets (LeCun et al. 1998), with batch norm.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.checks import N_CLASSES, check_int
from models.hub import HubModel


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


class MnistClassifier(HubModel):
    """Digit classifier on grey images (B, 1, 28, 28) float32 in [0, 1].

    Args:
        width: channels of the first convolution block, in [4, 128] (the second has twice).
        n_features: size of the penultimate feature layer used for the Frechet distance,
            in [8, 512].

    Raises:
        ValueError: for arguments out of range.
    """

    family: ClassVar[str] = "classifier"
    title: ClassVar[str] = "MNIST classifier (sample-quality judge)"
    data_kind: ClassVar[str] = "grey"
    conditional: ClassVar[bool] = True
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 3000, "lr": 2e-3, "batch_size": 128}

    def __init__(self, width: int = 32, n_features: int = 128):
        super().__init__()
        self.width = check_int("width", width, 4, 128)
        self.n_features = check_int("n_features", n_features, 8, 512)
        self.body = nn.Sequential(
            _block(1, self.width),  # (B, w, 14, 14)
            _block(self.width, 2 * self.width),  # (B, 2w, 7, 7)
            nn.Flatten(),  # (B, 2w * 49)
            nn.Linear(2 * self.width * 49, self.n_features),
            nn.ReLU(),
        )
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
        """One AdamW step on a batch augmented with random shifts of up to 2 pixels."""
        (optimizer,) = optimizers
        losses = self.loss(_random_shift(x, generator), y)
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

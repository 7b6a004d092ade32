"""NADE: the neural autoregressive distribution estimator.

Larochelle & Murray (2011), "The Neural Autoregressive Distribution Estimator", AISTATS
(JMLR W&CP 15). Each conditional p(x_i = 1 | x_<i) is a one-hidden-layer network whose
hidden layer is shared between all of them, with tied weights:

    h_i = sigmoid(c + W[:, :i] x_<i),    p(x_i = 1 | x_<i) = sigmoid(b_i + V_i . h_i).

The pre-activations a_i = c + W[:, :i] x_<i obey a_{i+1} = a_i + W[:, i] x_i, so all D
conditionals cost O(DH), like one autoencoder pass; here a cumulative sum over the pixels
computes them at once. The order is the raster order of the pixels.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from models.base import AutoregressiveModel, check_int

MAX_HIDDEN = 2000


class NADE(AutoregressiveModel, paper_url="https://proceedings.mlr.press/v15/larochelle11a.html"):
    """NADE on binary S x S images (D = S * S pixels in raster order).

    Args:
        n_hidden: H, the shared hidden layer's units, in [1, 2000].
        image_size: side S, in [2, 64].

    Memory: a forward pass holds a (B, D, H) tensor (B = 64, D = 784, H = 500: 100 MB).

    Raises:
        ValueError: any argument out of range.
    """

    family: ClassVar[str] = "nade"
    title: ClassVar[str] = "NADE (Larochelle & Murray 2011)"
    data_kind: ClassVar[str] = "binary"
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 6000, "lr": 1e-3, "batch_size": 64}

    def __init__(self, n_hidden: int = 500, image_size: int = 28):
        super().__init__()
        self.n_hidden = check_int("hidden units", n_hidden, 1, MAX_HIDDEN)
        self.image_size = check_int("image size", image_size, 2, 64)
        d = self.image_size**2
        self.W = nn.Parameter(torch.randn(n_hidden, d) * 0.01)  # (H, D): x_j -> hidden
        self.c = nn.Parameter(torch.zeros(n_hidden))  # (H,)
        self.V = nn.Parameter(torch.randn(d, n_hidden) * 0.01)  # (D, H): hidden -> x_i
        self.b = nn.Parameter(torch.zeros(d))  # (D,)

    def logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (B, 1, S, S) of p(x_i = 1 | x_<i) for binary x (B, 1, S, S)."""
        self.check_labels(y, len(x))
        flat = x.reshape(len(x), -1)  # (B, D)
        contributions = flat[:, :, None] * self.W.T[None]  # (B, D, H): W[:, j] x_j
        # a_i = c + sum_{j < i} W[:, j] x_j: an exclusive cumulative sum over the pixels.
        cumulative = torch.cumsum(contributions, dim=1)  # (B, D, H): sums over j <= i
        a = self.c + torch.cat([torch.zeros_like(cumulative[:, :1]), cumulative[:, :-1]], dim=1)  # shifted: j < i
        h = torch.sigmoid(a)
        logits = torch.einsum("bdh,dh->bd", h, self.V) + self.b  # (B, D): V_i . h_i
        return logits.view_as(x)

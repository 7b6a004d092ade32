"""NADE: the neural autoregressive distribution estimator.

Larochelle & Murray (2011), "The Neural Autoregressive Distribution Estimator", AISTATS
(JMLR W&CP 15). Each conditional p(x_i = 1 | x_<i) is a one-hidden-layer network whose
hidden layer is shared between all of them, with tied weights:

    h_i = sigmoid(c + W[:, :i] x_<i),    p(x_i = 1 | x_<i) = sigmoid(b_i + V_i . h_i).

The pre-activations a_i = c + W[:, :i] x_<i obey a_{i+1} = a_i + W[:, i] x_i, so all D
conditionals cost O(DH), like one autoencoder pass; here they are computed at once, row by
row (cumulative sums over rows, a triangular product within each row). The order is the raster order of the pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import AutoregressiveModel
from models.checks import check_int

MAX_HIDDEN = 2000


class NADE(AutoregressiveModel, paper_url="https://proceedings.mlr.press/v15/larochelle11a.html"):
    """NADE on binary S x S images (D = S * S pixels in raster order).

    Args:
        n_hidden: H, the shared hidden layer's units, in [1, 2000].
        image_size: side S, in [2, 64].

    Memory: a forward pass holds a (B, D, H) tensor (B = 64, D = 784, H = 500: 100 MB).

    Raises:
        ValueError: the hidden units or the image size out of range.
    """

    family: ClassVar[str] = "nade"
    title: ClassVar[str] = "NADE (Larochelle & Murray 2011)"

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
        s = self.image_size
        rows = x.reshape(len(x), s, s)  # (B, R, S): the pixels in blocks of one row each
        w_rows = self.W.T.reshape(s, s, self.n_hidden)  # (R, S, H): W[:, j] for the pixels j of each row
        # a_i = c + sum_{j < i} W[:, j] x_j, split into the rows above pixel i (an exclusive
        # cumulative sum of per-row sums) and the pixels to its left in its own row (a
        # strictly lower-triangular matrix product): the same sums as one cumulative sum
        # over all 784 pixels, but as matrix products, which run several times faster.
        row_sums = torch.einsum("brs,rsh->brh", rows, w_rows)  # (B, R, H)
        above = F.pad(torch.cumsum(row_sums, 1)[:, :-1], (0, 0, 1, 0))  # rows strictly above
        left_of = torch.ones(s, s, device=x.device).tril(-1)  # [i, j] = 1 for j < i in a row
        within = torch.matmul(rows[:, :, None, :] * left_of, w_rows)  # (B, R, S, H)
        h = torch.sigmoid(self.c + above[:, :, None, :] + within).reshape(len(x), s * s, self.n_hidden)
        logits = torch.einsum("bdh,dh->bd", h, self.V) + self.b  # (B, D): V_i . h_i
        return logits.view_as(x)

    def conditional_fn(self, x: Tensor, y: Tensor | None) -> Callable[[int], Tensor]:
        """Incremental conditionals for sampling in raster order: the pre-activation
        a = c + W[:, :i] x_<i is carried from pixel to pixel (a_{i+1} = a_i + W[:, i] x_i),
        so each pixel costs O(H) per image instead of a whole pass."""
        self.check_labels(y, len(x))
        flat = x.view(len(x), -1)
        state = {"a": self.c.expand(len(x), -1).clone(), "done": 0}  # a covers pixels < done

        def p(i: int) -> Tensor:
            if i < state["done"]:  # not raster order from here: start again
                state["a"], state["done"] = self.c.expand(len(x), -1).clone(), 0
            if i > state["done"]:
                state["a"] += flat[:, state["done"] : i] @ self.W[:, state["done"] : i].T
                state["done"] = i
            return torch.sigmoid(torch.sigmoid(state["a"]) @ self.V[i] + self.b[i])

        return p

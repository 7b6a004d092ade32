"""MADE: the masked autoencoder for distribution estimation.

Germain, Gregor, Murray & Larochelle (2015), "MADE: Masked Autoencoder for Distribution
Estimation", arXiv:1502.03509. An ordinary MLP autoencoder becomes autoregressive by
masking its weights: each input gets a position m(d) in an ordering, each hidden unit a
degree m(k) drawn in [1, D - 1], and a connection is kept only from a unit of lower or
equal degree (hidden layers) or strictly lower degree (the output layer). Output d then
depends only on the inputs before it in the ordering, so one pass gives every conditional
p(x_d | x_<d).

Order-agnostic training: with ``n_masks`` > 1 the model keeps several orderings and
connectivity patterns and trains on a different one at each update; at test time its
density is the average of the ``n_masks`` models, log p(x) = log mean_m p_m(x), itself an
exact, normalised likelihood (a mixture). Mask 0 uses the raster order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import AutoregressiveModel
from models.checks import check_int
from models.layers import MaskedLinear

MAX_HIDDEN = 4000
MAX_MASKS = 32


class MADE(AutoregressiveModel, paper_url="https://arxiv.org/abs/1502.03509"):
    """MADE on binary S x S images.

    Args:
        hidden_sizes: units of each hidden layer (1 to 3 layers of [1, 4000]).
        n_masks: orderings / connectivity patterns, in [1, 32] (1: the raster order only).
        image_size: side S, in [2, 64].
        mask_seed: seeds the orderings and degrees (so a config rebuilds the same masks).

    Raises:
        ValueError: hidden sizes, masks, image size or mask seed out of range.
    """

    family: ClassVar[str] = "made"
    title: ClassVar[str] = "MADE (Germain et al. 2015)"

    def __init__(self, hidden_sizes: list[int] | tuple[int, ...] = (500,), n_masks: int = 1, image_size: int = 28, mask_seed: int = 0):
        super().__init__()
        if not isinstance(hidden_sizes, list | tuple) or not 1 <= len(hidden_sizes) <= 3:
            raise ValueError(f"hidden_sizes must list 1 to 3 layer sizes, got {hidden_sizes!r}")
        self.hidden_sizes = [check_int(f"units in hidden layer {i + 1}", n, 1, MAX_HIDDEN) for i, n in enumerate(hidden_sizes)]
        self.n_masks = check_int("masks", n_masks, 1, MAX_MASKS)
        self.image_size = check_int("image size", image_size, 2, 64)
        self.mask_seed = check_int("mask seed", mask_seed, 0, 2**31 - 1)
        d = self.image_size**2
        sizes = [d, *self.hidden_sizes, d]
        self.layers = nn.ModuleList(MaskedLinear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1))
        orderings, masks = self._build_masks(d)
        self.register_buffer("orderings", orderings, persistent=False)  # (M, D): orderings[m][t] = pixel drawn t-th
        for i, layer_masks in enumerate(masks):
            self.register_buffer(f"masks_{i}", layer_masks, persistent=False)  # (M, out, in) bool
        self.active_mask = -1
        self.use_mask(0)
        self._n_updates = 0

    def _build_masks(self, d: int) -> tuple[Tensor, list[Tensor]]:
        rng = np.random.default_rng(self.mask_seed)
        orderings, per_layer = [], [[] for _ in range(len(self.hidden_sizes) + 1)]
        for m in range(self.n_masks):
            order = np.arange(d) if m == 0 else rng.permutation(d)
            degree_in = np.empty(d, dtype=np.int64)
            degree_in[order] = np.arange(1, d + 1)  # m(d): the position of pixel d in the ordering
            degrees = [degree_in]
            for n in self.hidden_sizes:
                low = min(int(degrees[-1].min()), d - 1)
                degrees.append(rng.integers(low, d, size=n))  # in [low, D - 1]
            for i in range(len(self.hidden_sizes)):
                per_layer[i].append(torch.from_numpy(degrees[i + 1][:, None] >= degrees[i][None, :]))
            per_layer[-1].append(torch.from_numpy(degree_in[:, None] > degrees[-1][None, :]))
            orderings.append(torch.from_numpy(order))
        return torch.stack(orderings), [torch.stack(masks) for masks in per_layer]

    def connectivity(self, m: int = 0) -> list[Tensor]:
        """The 0/1 masks of mask set ``m``: one (out, in) bool tensor per layer, on the CPU.

        Raises:
            ValueError: no such mask set.
        """
        m = check_int("mask", m, 0, self.n_masks - 1)
        return [getattr(self, f"masks_{i}")[m].cpu() for i in range(len(self.layers))]

    def dependency(self, m: int = 0) -> Tensor:
        """Which inputs each output of mask set ``m`` depends on: (D, D) bool on the CPU,
        True at [d, j] where a path of kept connections leads from input j to output d.
        Reordered by ``orderings[m]`` it is strictly lower triangular: the network is
        autoregressive in that ordering.

        Raises:
            ValueError: no such mask set.
        """
        layers = self.connectivity(m)
        path = layers[0].float()  # (H1, D)
        for mask in layers[1:]:
            path = (mask.float() @ path).clamp(max=1)  # (out, D): 1 where a path exists
        return path.bool()

    def use_mask(self, m: int) -> None:
        """Make mask set ``m`` (ordering and connectivity) the active one.

        Raises:
            ValueError: no such mask set.
        """
        m = check_int("mask", m, 0, self.n_masks - 1)
        if m != self.active_mask:
            for i, layer in enumerate(self.layers):
                layer.set_mask(getattr(self, f"masks_{i}")[m])
            self.active_mask = m

    def ordering(self) -> Tensor:
        """The active mask set's ordering: (D,) pixel indices in generation order."""
        return self.orderings[self.active_mask]

    def logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (B, 1, S, S) of p(x_d = 1 | x_<d) under the active mask set."""
        self.check_labels(y, len(x))
        h = x.reshape(len(x), -1)  # (B, D)
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1:
                h = torch.relu(h)
        return h.view_as(x)

    def conditional_fn(self, x: Tensor, y: Tensor | None) -> Callable[[int], Tensor]:
        """Incremental conditionals under the active mask set (fixed when this is called):
        the first layer's pre-activation is updated only for the inputs that changed since
        the last call (one pixel when the caller fills them in the ordering), and only
        output i is computed, so with one hidden layer a pixel costs O(H) per image
        instead of a whole pass (O(DH))."""
        self.check_labels(y, len(x))
        flat = x.view(len(x), -1)  # (B, D), filled in place by the caller
        weights = [layer.mask * layer.weight for layer in self.layers]  # this mask set's (out, in) weights
        first, hidden, out = weights[0], weights[1:-1], weights[-1]
        state = {"seen": flat.clone(), "a": F.linear(flat, first, self.layers[0].bias)}  # (B, D), (B, H1)

        def p(i: int) -> Tensor:
            changed = (flat != state["seen"]).any(0).nonzero().flatten()
            if len(changed):
                state["a"] += (flat[:, changed] - state["seen"][:, changed]) @ first[:, changed].T
                state["seen"][:, changed] = flat[:, changed]
            h = torch.relu(state["a"])
            for weight, layer in zip(hidden, self.layers[1:-1], strict=True):
                h = torch.relu(F.linear(h, weight, layer.bias))
            return torch.sigmoid(h @ out[i] + self.layers[-1].bias[i])

        return p

    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Exact log p(x) in nats, (B,): log mean_m p_m(x) over the ``n_masks`` mask sets
        (for one mask set, that model's log-likelihood). Leaves mask set 0 active."""
        if self.n_masks == 1:
            return super().log_prob(x, y)
        per_mask = []
        for m in range(self.n_masks):
            self.use_mask(m)
            per_mask.append(super().log_prob(x, y))
        self.use_mask(0)
        return torch.logsumexp(torch.stack(per_mask), 0) - float(np.log(self.n_masks))

    def configure_optimizers(self, lr: float, lr_d: float | None = None) -> list[torch.optim.Optimizer]:
        """Adam over all weights; restarts the cycle of mask sets at 0."""
        self._n_updates = 0
        return super().configure_optimizers(lr, lr_d)

    def train_step(self, x: Tensor, y: Tensor | None, optimizers: list[torch.optim.Optimizer], generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """One Adam step on the NLL of the next mask set in turn (order-agnostic training).

        Returns:
            ``"loss"`` and ``"nll"`` (nats per image, under that mask set).
        """
        self.use_mask(self._n_updates % self.n_masks)
        self._n_updates += 1
        (optimizer,) = optimizers
        nll = -super().log_prob(x, y).mean()
        optimizer.zero_grad(set_to_none=True)
        nll.backward()
        optimizer.step()
        self.use_mask(0)
        return {"loss": nll.detach(), "nll": nll.detach()}

"""Layers shared by the autoregressive families: masked linear and convolutional layers,
the gated activation, and the Bernoulli likelihood they all end in.

Masks are registered buffers applied functionally (``F.linear(x, mask * weight, bias)``),
never written into the weights, so a checkpoint holds the free weights and the masks are
rebuilt from the config.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MaskedLinear(nn.Linear):
    """A linear layer whose weight (out, in) is multiplied by a fixed 0/1 mask (MADE;
    Germain et al. 2015, arXiv:1502.03509). ``set_mask`` replaces the mask in place."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__(in_features, out_features, bias)
        self.register_buffer("mask", torch.ones(out_features, in_features), persistent=False)  # rebuilt from the config

    def set_mask(self, mask: Tensor) -> None:
        """Set the (out, in) 0/1 mask.

        Raises:
            ValueError: a mask of the wrong shape.
        """
        if tuple(mask.shape) != tuple(self.weight.shape):
            raise ValueError(f"mask must have shape {tuple(self.weight.shape)}, got {tuple(mask.shape)}")
        self.mask.copy_(mask.to(self.mask.dtype))

    def forward(self, x: Tensor) -> Tensor:
        """(..., in) -> (..., out) with the masked weight."""
        return F.linear(x, self.mask * self.weight, self.bias)


def conv_mask(kernel_size: int, mask_type: str, in_channels: int, out_channels: int) -> Tensor:
    """The PixelCNN mask (out, in, k, k) of a k x k kernel (van den Oord et al. 2016,
    arXiv:1601.06759, Fig. 2): rows above the centre, and in the centre row the pixels to
    the left, are open; the centre itself is open for type ``"B"`` (a layer that may see
    the features of its own pixel) and closed for type ``"A"`` (the first layer, which must
    not see the pixel it predicts). Binary images have one channel, so no colour masking.

    Raises:
        ValueError: an even kernel or an unknown type.
    """
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"masked convolutions need an odd kernel size, got {kernel_size}")
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask type must be 'A' or 'B', got {mask_type!r}")
    c = kernel_size // 2
    mask = torch.ones(kernel_size, kernel_size)
    mask[c, c + (mask_type == "B") :] = 0
    mask[c + 1 :] = 0
    return mask.expand(out_channels, in_channels, kernel_size, kernel_size).clone()


class MaskedConv2d(nn.Conv2d):
    """A k x k convolution (same padding) with a type-A or type-B causal mask (see
    ``conv_mask``). Input (B, C_in, H, W) -> (B, C_out, H, W)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.mask_type = mask_type
        self.register_buffer("mask", conv_mask(kernel_size, mask_type, in_channels, out_channels), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.mask * self.weight, self.bias, padding=self.padding)


class GatedActivation(nn.Module):
    """tanh(a) * sigmoid(b) for the two halves [a, b] of the channels (van den Oord et al.
    2016, arXiv:1606.05328): (B, 2C, H, W) -> (B, C, H, W)."""

    def forward(self, x: Tensor) -> Tensor:
        a, b = x.chunk(2, dim=1)
        return torch.tanh(a) * torch.sigmoid(b)


def bernoulli_log_prob(logits: Tensor, x: Tensor) -> Tensor:
    """log p(x) = sum_i [x_i log sigmoid(l_i) + (1 - x_i) log sigmoid(-l_i)] in nats, per
    example: logits and binary x of the same shape (B, ...) -> (B,)."""
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


class CausalConv1d(nn.Conv1d):
    """A 1-D convolution whose output at time t sees only inputs at t and before: it is
    padded on the left by ``(kernel_size - 1) * dilation`` zeros and not on the right
    (WaveNet's causal, dilated convolution; van den Oord et al. 2016, arXiv:1609.03499).

    Shapes: (B, in_channels, T) -> (B, out_channels, T).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias)
        self.left_padding = (kernel_size - 1) * dilation

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, T) -> (B, C_out, T); output t depends on inputs t - left_padding .. t."""
        return super().forward(F.pad(x, (self.left_padding, 0)))

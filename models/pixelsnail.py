"""PixelSNAIL: masked convolutions plus causal self-attention over the raster order, an
autoregressive image model p(x) = prod_i p(x_i | x_<i) whose every pixel sees its whole
past.

Chen, Mishra, Rohaninejad & Abbeel (2018), "PixelSNAIL: An Improved Autoregressive
Generative Model", arXiv:1712.09763. A stack of masked convolutions (PixelCNN, arXiv:1601.06759)
sees a triangle above each pixel that grows by one row per layer: the pixels far up, and
those up and to the right (the blind spot), stay out of reach. PixelSNAIL interleaves the
residual masked convolutions with *causal self-attention*: every position i of the S x S
map sends a query, every position j a key and a value, and position i reads the values
of the positions j before it in raster order, weighted by softmax(q_i . k_j / sqrt(d)).
One attention layer gives a pixel access to every earlier pixel, however far.

Causality, with care for the type-A shift: after the first (type-A) masked convolution
the features at position j summarise pixels < j only, and type-B convolutions keep that.
As in the paper, the keys and values also read the network's *input* (the pixels in
{-1, 1} and two position channels), whose position j holds pixel j itself; so position i
attends to j < i strictly (the first pixel attends to nothing and its attention output is
zero), which keeps logit i free of pixels >= i. A 1 x 1 convolution of the attention
output is added to the features (a residual connection), and ELU, 1 x 1 convolutions and
a final 1 x 1 convolution give one Bernoulli logit per pixel.

Sized for 28 x 28 binarised digits on a CPU: one attention head of ``key_dim`` keys over
all 784 positions, ``n_layers`` blocks of ``n_res`` residual 3 x 3 type-B convolutions and
one attention layer each. Training is one parallel pass; sampling is one pass per pixel
over the rows down to it (``context_rows``: every row above can matter).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import AutoregressiveModel
from models.checks import check_int
from models.layers import MaskedConv2d

MAX_CHANNELS = 128
MAX_LAYERS = 6
MAX_RES = 4
MAX_KEY_DIM = 64
IN_CHANNELS = 3  # the pixel in {-1, 1} and two position channels (row, column in [0, 1))
INPUT_KERNEL = 7


class CausalAttention(nn.Module):
    """One head of causal self-attention over the raster order of a feature map.

    Args:
        channels: C of the features; the output has C.
        key_dim: d of the queries, keys and values.

    Shapes: features (B, C, H, W), inputs (B, 3, H, W) -> (B, C, H, W). Output position i
    depends on features at positions j < i and inputs at positions j < i (raster order);
    position 0 gets zeros.
    """

    def __init__(self, channels: int, key_dim: int):
        super().__init__()
        self.key_dim = key_dim
        self.query = nn.Conv2d(channels, key_dim, 1)
        self.key = nn.Conv2d(channels + IN_CHANNELS, key_dim, 1)
        self.value = nn.Conv2d(channels + IN_CHANNELS, key_dim, 1)
        self.out = nn.Conv2d(key_dim, channels, 1)

    def forward(self, h: Tensor, inputs: Tensor) -> Tensor:
        b, c, height, width = h.shape
        both = torch.cat([h, inputs], dim=1)  # (B, C + 3, H, W)
        q = self.query(h).flatten(2).transpose(1, 2)  # (B, N, d), N = H W in raster order
        k = self.key(both).flatten(2).transpose(1, 2)  # (B, N, d)
        v = self.value(both).flatten(2).transpose(1, 2)  # (B, N, d)
        # Strictly earlier keys through a shift: key/value slot j holds position j - 1 and
        # slot 0 a zero key with a zero value, so the usual causal mask (slots j <= i)
        # lets query i read positions < i. The first position reads only the zero value.
        k, v = (F.pad(t, (0, 0, 1, 0))[:, :-1] for t in (k, v))
        out = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None], is_causal=True)[:, 0]  # (B, N, d)
        return self.out(out.transpose(1, 2).reshape(b, self.key_dim, height, width))  # (B, C, H, W)


class ResidualBlock(nn.Module):
    """h + conv(ELU(conv(ELU(h)))) with 3 x 3 type-B masked convolutions: (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = MaskedConv2d(channels, channels, 3, "B")
        self.conv2 = MaskedConv2d(channels, channels, 3, "B")

    def forward(self, h: Tensor) -> Tensor:
        return h + self.conv2(F.elu(self.conv1(F.elu(h))))


class PixelSNAIL(AutoregressiveModel, paper_url="https://arxiv.org/abs/1712.09763"):
    """PixelSNAIL for binary S x S images: a 7 x 7 type-A masked convolution, ``n_layers``
    blocks of ``n_res`` residual type-B 3 x 3 convolutions followed by causal
    self-attention (one head), and ELU, 1 x 1, ELU, 1 x 1 to one Bernoulli logit per pixel.

    Args:
        channels: feature channels C, in [1, 128].
        n_layers: blocks (each ends in an attention layer), in [1, 6].
        image_size: side S, in [2, 64] (28 for digits).
        n_res: residual convolution blocks per block, in [1, 4].
        key_dim: width d of the queries and keys, in [1, 64].

    Tensors: images (B, 1, S, S) float32 in {0, 1}; logits (B, 1, S, S) (log-odds of
    p(x_i = 1 | x_<i)); ``log_prob`` in nats per image.

    Raises:
        ValueError: an argument out of range.
    """

    family: ClassVar[str] = "pixelsnail"
    title: ClassVar[str] = "PixelSNAIL (Chen, Mishra, Rohaninejad & Abbeel 2018)"
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 1000, "lr": 2e-3, "batch_size": 32}

    def __init__(self, channels: int = 32, n_layers: int = 2, image_size: int = 28, n_res: int = 1, key_dim: int = 16):
        super().__init__()
        self.channels = check_int("channels", channels, 1, MAX_CHANNELS)
        self.n_layers = check_int("layers", n_layers, 1, MAX_LAYERS)
        self.image_size = check_int("image size", image_size, 2, 64)
        self.n_res = check_int("residual blocks", n_res, 1, MAX_RES)
        self.key_dim = check_int("key dimension", key_dim, 1, MAX_KEY_DIM)
        # The attention reaches back to the first row: ``complete`` feeds rows 0..r for a
        # pixel of row r (a crop of the top rows gives those rows' logits).
        self.context_rows = self.image_size - 1
        s = self.image_size
        grid = torch.arange(s, dtype=torch.float32) / s
        self.register_buffer("position", torch.stack(torch.meshgrid(grid, grid, indexing="ij"))[None], persistent=False)  # (1, 2, S, S)
        self.input = MaskedConv2d(IN_CHANNELS, self.channels, INPUT_KERNEL, "A")
        self.blocks = nn.ModuleList(
            nn.ModuleList([*(ResidualBlock(self.channels) for _ in range(self.n_res)), CausalAttention(self.channels, self.key_dim)])
            for _ in range(self.n_layers)
        )
        self.head = nn.Sequential(nn.ELU(), nn.Conv2d(self.channels, self.channels, 1), nn.ELU(), nn.Conv2d(self.channels, 1, 1))

    def logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (B, 1, R, S) of p(x_i = 1 | x_<i) for binary images x (B, 1, R, S), R = S
        for whole images or R < S for the top rows alone (``complete`` uses such crops);
        the logit of pixel i depends only on the pixels before it in raster order.

        Raises:
            ValueError: a label (the family is unconditional).
        """
        self.check_labels(y, len(x))
        rows = x.shape[2]
        inputs = torch.cat([x * 2 - 1, self.position[:, :, :rows].expand(len(x), -1, -1, -1)], dim=1)  # (B, 3, R, S)
        h = self.input(inputs)  # (B, C, R, S): position j sees pixels < j
        for block in self.blocks:
            *residuals, attention = block
            for residual in residuals:
                h = residual(h)
            h = h + attention(h, inputs)
        return self.head(h)

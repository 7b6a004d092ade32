"""PixelRNN with Diagonal BiLSTM layers: an autoregressive image model whose LSTM state
sweeps the image along its diagonals, p(x) = prod_i p(x_i | x_<i) in raster order, with
no blind spot.

van den Oord, Kalchbrenner & Kavukcuoglu (2016), "Pixel Recurrent Neural Networks",
arXiv:1601.06759, section 3.2. The Row LSTM (``models.pixelrnn``) sees a triangle above
each pixel. The Diagonal LSTM sees the whole quadrant up and to the left: the input map is
*skewed* (row r shifted right by r, S x S -> S x (2S - 1)), so that each column of the
skewed map is one diagonal of the image, and an LSTM runs over those columns left to
right. Its state-to-state part is a 2 x 1 convolution over the previous column: the state
at pixel (r, c) comes from the states at (r, c - 1) and (r - 1, c), which reach every
pixel above and to the left. The input-to-state part is a 1 x 1 convolution. The result
is *unskewed* back to S x S.

The *bi*-directional layer runs a second Diagonal LSTM on the mirrored image (the quadrant
up and to the right) and shifts its output down one row, so that pixel (r, c) hears it
from row r - 1 only (its own row to the right is the future): together the two cover every
pixel before (r, c). As in the paper, the first layer is a 7 x 7 type-A masked convolution
(the pixel must not see itself), each Diagonal BiLSTM layer adds its two directions'
states through a 1 x 1 convolution to its input (a residual connection), and ReLU and two
1 x 1 convolutions give one Bernoulli logit per pixel. Positions of the skewed map that
are no pixel keep zero states, so a row starts from zero on its left.

Training runs the 2S - 1 diagonal steps of each direction in parallel over the batch;
sampling (``conditional_fn``) follows the recurrence pixel by pixel in raster order: one
left-to-right step per layer per pixel, and one right-to-left sweep per layer per finished
row, the states of the rows above kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import AutoregressiveModel
from models.checks import check_int
from models.layers import MaskedConv2d

MAX_CHANNELS = 128
MAX_LAYERS = 8
INPUT_KERNEL = 7


def skew(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, C, H, W + H - 1): row r shifted right by r (zeros elsewhere).
    Done by padding each row to W + H and reading the flat map back in rows of W + H - 1
    (row r then starts r places further right), not by slicing row by row, whose backward
    would write a whole zero map per row."""
    b, c, h, w = x.shape
    flat = F.pad(x, (0, h)).flatten(2)[:, :, : h * (w + h - 1)]  # (B, C, H (W + H - 1))
    return flat.view(b, c, h, w + h - 1)


def unskew(x: Tensor, width: int) -> Tensor:
    """The inverse of ``skew``: (B, C, H, width + H - 1) -> (B, C, H, width)."""
    b, c, h, _ = x.shape
    flat = F.pad(x.flatten(2), (0, h))  # (B, C, H (width + H))
    return flat.view(b, c, h, width + h)[..., :width]


def _lstm(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """One LSTM update from gates [o, f, i, g] (B, 4h, ...) and the cell c (B, h, ...): (h, c)."""
    o, f, i, g = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class DiagonalLSTM(nn.Module):
    """One direction: a Diagonal LSTM, left to right over the skewed map.

    Shapes: x (B, in_channels, H, W) -> hidden states (B, h, H, W); the state at (r, c)
    depends on the input at rows <= r, columns <= c.
    """

    def __init__(self, channels: int, in_channels: int):
        super().__init__()
        self.channels = channels
        self.input_to_state = nn.Conv2d(in_channels, 4 * channels, 1)
        # 2 x 1 over the rows of the previous diagonal: row r hears rows r - 1 and r there.
        self.state_to_state = nn.Conv1d(channels, 4 * channels, 2, bias=False)
        with torch.no_grad():  # forget gate biased open at the start, a common LSTM init
            self.input_to_state.bias[channels : 2 * channels] += 1.0

    def step(self, gates_in: Tensor, above: Tensor, left: Tensor, c_left: Tensor) -> tuple[Tensor, Tensor]:
        """One pixel (or a batch of them): gates from the input (B, 4h), the state above (B, h)
        and to the left (B, h) with its cell (B, h) -> (h, c), each (B, h)."""
        w = self.state_to_state.weight  # (4h, h, 2): [:, :, 0] for the row above, [:, :, 1] for the same row
        return _lstm(gates_in + above @ w[:, :, 0].T + left @ w[:, :, 1].T, c_left)

    def forward(self, x: Tensor) -> Tensor:
        b, _, height, width = x.shape
        gates_in = skew(self.input_to_state(x))  # (B, 4h, H, W + H - 1)
        cols = torch.arange(gates_in.shape[-1], device=x.device)
        rows = torch.arange(height, device=x.device)[:, None]
        valid = ((cols >= rows) & (cols < rows + width)).to(x.dtype)  # (H, W + H - 1): skewed positions that are pixels
        h = x.new_zeros(b, self.channels, height)
        c = x.new_zeros(b, self.channels, height)
        states = []
        for j, column in enumerate(gates_in.unbind(-1)):  # unbind, not slices: one backward for all columns
            gates = column + self.state_to_state(F.pad(h, (1, 0)))  # (B, 4h, H): row r from rows r - 1, r
            h, c = _lstm(gates, c)
            h, c = h * valid[:, j], c * valid[:, j]  # no pixel there: zero state
            states.append(h)
        return unskew(torch.stack(states, dim=-1), width)  # (B, h, H, W)


class DiagonalBiLSTMLayer(nn.Module):
    """Both directions and the residual connection: features (B, 2h, H, W) and the pixels
    (B, 1, H, W) in {-1, 1} -> (B, 2h, H, W), position (r, c) depending on the features at
    positions before it in raster order and at (r, c), and on the pixels before it.

    The right-to-left direction also reads the pixels themselves: its output reaches row
    r + 1 only, so it may, and the last pixel of a row, which no feature of that row holds
    (each feature sees the pixels to its left), is then heard at the start of the next."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.left_to_right = DiagonalLSTM(channels, 2 * channels)
        self.right_to_left = DiagonalLSTM(channels, 2 * channels + 1)
        self.output = nn.Conv2d(channels, 2 * channels, 1)

    def forward(self, x: Tensor, pixels: Tensor) -> Tensor:
        forward = self.left_to_right(x)
        backward = self.right_to_left(torch.cat([x, pixels], 1).flip(-1)).flip(-1)  # the quadrant up and to the right, own row included
        backward = F.pad(backward, (0, 0, 1, 0))[:, :, :-1]  # down one row: row r hears rows < r
        return x + self.output(forward + backward)


class DiagonalBiLSTM(AutoregressiveModel, paper_url="https://arxiv.org/abs/1601.06759"):
    """PixelRNN with Diagonal BiLSTM layers for binary S x S images: a 7 x 7 type-A masked
    convolution to 2h features, ``n_layers`` residual Diagonal BiLSTM layers, then ReLU,
    1 x 1 (2h -> 2h), ReLU and 1 x 1 to one Bernoulli logit per pixel.

    Args:
        channels: hidden features h of each LSTM direction (the feature map has 2h), in [1, 128].
        n_layers: Diagonal BiLSTM layers, in [1, 8].
        image_size: side S, in [2, 64] (28 for digits).

    Tensors: images (B, 1, S, S) float32 in {0, 1}; logits (B, 1, S, S) (log-odds of
    p(x_i = 1 | x_<i)); ``log_prob`` in nats per image.

    Raises:
        ValueError: an argument out of range.
    """

    family: ClassVar[str] = "diagonal_bilstm"
    title: ClassVar[str] = "PixelRNN, Diagonal BiLSTM (van den Oord, Kalchbrenner & Kavukcuoglu 2016)"
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 1000, "lr": 3e-3, "batch_size": 32}

    def __init__(self, channels: int = 16, n_layers: int = 2, image_size: int = 28):
        super().__init__()
        self.channels = check_int("channels", channels, 1, MAX_CHANNELS)
        self.n_layers = check_int("layers", n_layers, 1, MAX_LAYERS)
        self.image_size = check_int("image size", image_size, 2, 64)
        width = 2 * self.channels
        self.input = MaskedConv2d(1, width, INPUT_KERNEL, "A")
        self.layers = nn.ModuleList(DiagonalBiLSTMLayer(self.channels) for _ in range(self.n_layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(width, width, 1), nn.ReLU(), nn.Conv2d(width, 1, 1))

    def logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (B, 1, S, S) of p(x_i = 1 | x_<i) for binary images x (B, 1, S, S); the
        logit of pixel i depends only on the pixels before it in raster order.

        Raises:
            ValueError: a label (the family is unconditional).
        """
        self.check_labels(y, len(x))
        pixels = x * 2 - 1  # inputs in {-1, 1}: the zero padding reads as "unknown"
        features = self.input(pixels)  # (B, 2h, S, S)
        for layer in self.layers:
            features = layer(features, pixels)
        return self.head(features)

    def conditional_fn(self, x: Tensor, y: Tensor | None) -> Callable[[int], Tensor]:
        """The conditionals for sampling in raster order, from the recurrence pixel by
        pixel: for pixel (r, c), each layer takes one left-to-right step from its states at
        (r, c - 1) and (r - 1, c), and adds the right-to-left states of row r - 1, computed
        by one sweep per layer when row r - 1 was finished. The same numbers as ``logits``,
        at a cost of one pixel's steps instead of a pass over the image."""
        self.check_labels(y, len(x))
        b, s, n_layers = len(x), self.image_size, len(self.layers)
        zeros = x.new_zeros(b, self.channels, s)
        cache: dict[str, Any] = {}

        def reset() -> None:
            cache.update(next=0, above=[zeros] * n_layers, backward=[zeros] * n_layers, row=[zeros.clone() for _ in range(n_layers)],
                         c_row=[zeros.clone() for _ in range(n_layers)], inputs=[x.new_zeros(b, 2 * self.channels, s) for _ in range(n_layers)])

        def finish_row(r: int) -> None:
            """Row done: its left-to-right states become the row above, and the right-to-left
            sweep over its layer inputs gives what the next row hears from it."""
            for k, layer in enumerate(self.layers):
                rl = layer.right_to_left
                row = torch.cat([cache["inputs"][k], x[:, :, r] * 2 - 1], 1)  # (B, 2h + 1, S): the layer's inputs and the pixels of row r
                gates_in = rl.input_to_state(row[:, :, None])[:, :, 0]  # (B, 4h, S)
                h, c, states = zeros[:, :, 0], zeros[:, :, 0], [None] * s
                for col in reversed(range(s)):
                    h, c = rl.step(gates_in[:, :, col], cache["backward"][k][:, :, col], h, c)
                    states[col] = h
                cache["backward"][k] = torch.stack(states, dim=2)
                cache["above"][k] = cache["row"][k]
                cache["row"][k], cache["c_row"][k] = zeros.clone(), zeros.clone()

        def step(i: int) -> Tensor:
            r, col = divmod(i, s)
            if col == 0 and r > 0:  # row r - 1 is final only now: its last pixel was drawn after its step
                finish_row(r - 1)
            top = max(0, r - INPUT_KERNEL // 2)
            f = self.input(x[:, :, top : r + 1] * 2 - 1)[:, :, -1, col]  # (B, 2h): the 7 x 7 layer at (r, col)
            for k, layer in enumerate(self.layers):
                lr = layer.left_to_right
                cache["inputs"][k][:, :, col] = f
                left = cache["row"][k][:, :, col - 1] if col else zeros[:, :, 0]
                c_left = cache["c_row"][k][:, :, col - 1] if col else zeros[:, :, 0]
                gates_in = lr.input_to_state(f[:, :, None, None])[:, :, 0, 0]
                h, c = lr.step(gates_in, cache["above"][k][:, :, col], left, c_left)
                cache["row"][k][:, :, col], cache["c_row"][k][:, :, col] = h, c
                f = f + layer.output((h + cache["backward"][k][:, :, col])[:, :, None, None])[:, :, 0, 0]
            cache["next"] = i + 1
            return self.head(f[:, :, None, None])[:, 0, 0, 0]

        reset()

        def p(i: int) -> Tensor:
            if i < cache["next"]:  # going back: start again from the top
                reset()
            while cache["next"] < i:  # pixels given, not drawn: step the states past them
                step(cache["next"])
            return torch.sigmoid(step(i))

        return p

"""PixelRNN with Row LSTM layers: an autoregressive image model whose hidden state runs
down the image one row at a time, p(x) = prod_i p(x_i | x_<i) in raster order.

van den Oord, Kalchbrenner & Kavukcuoglu (2016), "Pixel Recurrent Neural Networks",
arXiv:1601.06759, section 3.1. A Row LSTM layer processes the rows of a feature map top
to bottom; each row is one step of an LSTM whose state is a whole row of h features.
For row r the four gates come from two convolutions,

    [o, f, i, g] = [sigmoid, sigmoid, sigmoid, tanh](K_ss * h_{r-1} + K_is * x_r),
    c_r = f . c_{r-1} + i . g,        h_r = o . tanh(c_r),

where K_is * x_r, the *input-to-state* part, is a 1 x k convolution along row r of the
layer's input, masked (type B) so that column c sees columns <= c only, and K_ss * h_{r-1},
the *state-to-state* part, is a 1-D convolution of width k over the previous row's
hidden state. The input-to-state part does not depend on the recurrence, so it is
computed for all rows in one masked convolution; only the state-to-state part loops over
the S rows. The first layer of the network is a 7 x 7 type-A masked convolution (the
pixel must not see itself); the later layers keep "column c of row r depends only on
pixels before (r, c)", so the logits are causal. As in the paper, the network's feature
map has 2h channels: each Row LSTM turns it into h features per gate, and its output h_r
is brought back to 2h features by a 1 x 1 convolution and added to the layer's input (a
residual connection). ReLU and two 1 x 1 convolutions then give one Bernoulli logit per
pixel.

Training is parallel over the columns and the batch but sequential over the S rows (S
small steps per layer), so it is slower than a PixelCNN of the same width; sampling still
computes one row step of each layer per pixel, the states of the rows above cached. Each state-to-state step widens the context by (k - 1) / 2
columns per row upwards, so the Row LSTM sees a *triangle* above each pixel: pixels far
to the right in the rows above (for instance the end of the previous row when predicting
the start of a row) lie outside it, a blind spot that the paper's Diagonal BiLSTM removes.
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

MAX_CHANNELS = 256
MAX_LAYERS = 12
MAX_KERNEL = 7
INPUT_KERNEL = 7  # the first layer's type-A masked convolution (7 x 7, as in the paper)


class RowLSTM(nn.Module):
    """One Row LSTM layer with its residual connection.

    Args:
        channels: hidden features h per position; the layer's input and output have 2h.
        kernel_size: width k (odd) of the input-to-state and state-to-state convolutions.

    Shapes: x (B, 2h, S, S) -> (B, 2h, S, S). Column c of row r of the output depends on
    the input at rows < r (columns within the triangle of the recurrence) and at row r,
    columns <= c only.
    """

    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.channels = channels
        self.k = kernel_size
        # Input-to-state: a 1 x k convolution along the row, 2h -> 4h gates, with a type-B
        # mask (the centre column and those to its left). The masked half of the kernel
        # is never stored: the kernel is cropped to its k // 2 + 1 open columns and the
        # row padded on the left only, which computes the same masked convolution.
        self.input_to_state = nn.Conv2d(2 * channels, 4 * channels, (1, kernel_size // 2 + 1))
        # State-to-state: a width-k 1-D convolution over h_{r-1}, h -> 4h (the gates' bias
        # lives in the input-to-state convolution).
        self.state_to_state = nn.Conv1d(channels, 4 * channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.output = nn.Conv2d(channels, 2 * channels, 1)  # h -> 2h, added to the input
        with torch.no_grad():  # forget gate biased open at the start, a common LSTM init
            self.input_to_state.bias[channels : 2 * channels] += 1.0

    def forward(self, x: Tensor) -> Tensor:
        b, _, s, w = x.shape
        h_dim = self.channels
        # Column c of the gates sees input columns c - k // 2 .. c of its row.
        gates_in = self.input_to_state(F.pad(x, (self.k // 2, 0, 0, 0)))  # (B, 4h, S, W)
        gates_in = gates_in.permute(2, 0, 1, 3).contiguous()  # (S, B, 4h, W): one slice per row
        h = x.new_zeros(b, h_dim, w)  # h_{-1} (B, h, W)
        c = x.new_zeros(b, h_dim, w)  # c_{-1} (B, h, W)
        rows = []
        for r in range(s):
            gates = gates_in[r] + self.state_to_state(h)  # (B, 4h, W), gates [o, f, i, g]
            ofi = torch.sigmoid(gates[:, : 3 * h_dim])  # (B, 3h, W)
            g = torch.tanh(gates[:, 3 * h_dim :])  # (B, h, W)
            c = ofi[:, h_dim : 2 * h_dim] * c + ofi[:, 2 * h_dim :] * g
            h = ofi[:, :h_dim] * torch.tanh(c)
            rows.append(h)
        hidden = torch.stack(rows, dim=2)  # S x (B, h, W) -> (B, h, S, W)
        return x + self.output(hidden)


class PixelRNN(AutoregressiveModel, paper_url="https://arxiv.org/abs/1601.06759"):
    """PixelRNN with Row LSTM layers for binary S x S images: a 7 x 7 type-A masked
    convolution to 2h features, ``n_layers`` residual Row LSTM layers, then ReLU, a 1 x 1
    convolution (2h -> 2h), ReLU and a 1 x 1 convolution to one Bernoulli logit per pixel.

    Args:
        channels: hidden features h of each Row LSTM (the feature map has 2h), in [1, 256].
        n_layers: Row LSTM layers, in [1, 12].
        image_size: side S, in [2, 64] (28 for digits).
        kernel_size: width k of the input-to-state and state-to-state convolutions, odd,
            in [3, 7] (the paper uses 3).

    Tensors: images (B, 1, S, S) float32 with values in {0, 1}; logits (B, 1, S, S) in
    nats (log-odds of p(x_i = 1 | x_<i)).

    Raises:
        ValueError: any argument out of range, or an even kernel.
    """

    family: ClassVar[str] = "pixelrnn"
    title: ClassVar[str] = "PixelRNN, Row LSTM (van den Oord, Kalchbrenner & Kavukcuoglu 2016)"
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 3000, "lr": 3e-3, "batch_size": 64}

    def __init__(self, channels: int = 32, n_layers: int = 2, image_size: int = 28, kernel_size: int = 3):
        super().__init__()
        self.channels = check_int("channels", channels, 1, MAX_CHANNELS)
        self.n_layers = check_int("layers", n_layers, 1, MAX_LAYERS)
        self.image_size = check_int("image size", image_size, 2, 64)
        self.kernel_size = check_int("kernel size", kernel_size, 3, MAX_KERNEL)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel size must be odd (3, 5 or 7), got {self.kernel_size}")
        # Sampling (the base class's ``complete``) may feed only rows 0..r for a pixel in
        # row r: rows below never reach it, but the LSTM state runs from the top row, so
        # the context is every row above.
        self.context_rows = self.image_size - 1
        width = 2 * self.channels
        self.input = MaskedConv2d(1, width, INPUT_KERNEL, "A")
        self.layers = nn.ModuleList(RowLSTM(self.channels, self.kernel_size) for _ in range(self.n_layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(width, width, 1), nn.ReLU(), nn.Conv2d(width, 1, 1))

    def logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (B, 1, S, S) of p(x_i = 1 | x_<i) for binary images x (B, 1, S, S);
        the logit of pixel i depends only on the pixels before it in raster order. Also
        takes the top R <= S rows alone, (B, 1, R, S), giving those rows' logits.

        Raises:
            ValueError: a label (the family is unconditional).
        """
        self.check_labels(y, len(x))
        features = self.input(x * 2 - 1)  # inputs in {-1, 1}: the zero padding reads as "unknown"; (B, 2h, S, S)
        for layer in self.layers:
            features = layer(features)
        return self.head(features)

    def _row_step(self, x: Tensor, r: int, states: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """Row r of the network alone, given each layer's LSTM state (h, c) after row
        r - 1 ((B, h, S) each, zeros before row 0): (logits of row r (B, S), the states
        after row r)."""
        top = max(0, r - INPUT_KERNEL // 2)
        features = self.input(x[:, :, top : r + 1] * 2 - 1)[:, :, -1:]  # (B, 2h, 1, S): the 7 x 7 layer at row r
        new_states = []
        for layer, (h, c) in zip(self.layers, states):
            h_dim = layer.channels
            gates = layer.input_to_state(F.pad(features, (layer.k // 2, 0, 0, 0)))[:, :, 0] + layer.state_to_state(h)
            ofi = torch.sigmoid(gates[:, : 3 * h_dim])
            c = ofi[:, h_dim : 2 * h_dim] * c + ofi[:, 2 * h_dim :] * torch.tanh(gates[:, 3 * h_dim :])
            h = ofi[:, :h_dim] * torch.tanh(c)
            features = features + layer.output(h[:, :, None, :])
            new_states.append((h, c))
        return self.head(features)[:, 0, 0], new_states

    def conditional_fn(self, x: Tensor, y: Tensor | None) -> Callable[[int], Tensor]:
        """Row-cached conditionals for sampling in raster order: the LSTM states after the
        rows above are kept, so each pixel costs one row step of each layer instead of a
        pass over every row above (the rows above are fixed while row r is drawn)."""
        self.check_labels(y, len(x))
        b, s = len(x), self.image_size
        zeros = [(x.new_zeros(b, layer.channels, s), x.new_zeros(b, layer.channels, s)) for layer in self.layers]
        cache: dict[str, Any] = {"row": 0, "states": zeros}  # states after the rows above ``row``

        def p(i: int) -> Tensor:
            r, c = divmod(i, s)
            if r < cache["row"]:  # going back: start again from the top
                cache["row"], cache["states"] = 0, zeros
            while cache["row"] < r:  # the rows above are final now: step the states past them
                cache["states"] = self._row_step(x, cache["row"], cache["states"])[1]
                cache["row"] += 1
            return torch.sigmoid(self._row_step(x, r, cache["states"])[0][:, c])

        return p

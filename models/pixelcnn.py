"""PixelCNN and the Gated PixelCNN: autoregressive image models built of masked
convolutions, p(x) = prod_i p(x_i | x_<i) in raster order.

PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016, "Pixel Recurrent Neural
Networks", arXiv:1601.06759) masks each convolution kernel so that a pixel sees only the
pixels above it and to its left: the first layer with a type-A mask (the centre closed:
the pixel must not see itself), the later ones with type-B masks (the centre open: the
features of a position already summarise only its past). All conditionals are computed
in one pass (training is parallel, "teacher forcing"), but sampling draws one pixel at a
time. Stacking masked 3 x 3 convolutions grows the receptive field as a triangle that
misses the pixels above and to the right: the *blind spot*.

The Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
Decoders", arXiv:1606.05328) removes the blind spot with two stacks: a vertical stack
that sees every row above (a k x k kernel cropped to the rows above), fed into a
horizontal stack that sees the pixels to the left in the current row; each layer uses the
gated activation tanh(W_f * x) * sigmoid(W_g * x), and a class label can shift both
gates (class-conditional generation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import AutoregressiveModel
from models.checks import N_CLASSES, check_int
from models.layers import GatedActivation, MaskedConv2d, generator_device

MAX_CHANNELS = 256
MAX_LAYERS = 20


def _check_size(image_size: int) -> int:
    return check_int("image size", image_size, 2, 64)


class PixelCNN(AutoregressiveModel, paper_url="https://arxiv.org/abs/1601.06759"):
    """PixelCNN for binary S x S images: a 7 x 7 type-A masked convolution, ``n_layers``
    residual blocks of type-B masked 3 x 3 convolutions, and two 1 x 1 layers to one
    Bernoulli logit per pixel.

    Args:
        channels: feature channels, in [1, 256].
        n_layers: residual type-B blocks, in [1, 20].
        image_size: side S, in [2, 64] (28 for digits).

    Raises:
        ValueError: the channels, layers or image size out of range.
    """

    family: ClassVar[str] = "pixelcnn"
    title: ClassVar[str] = "PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016)"

    def __init__(self, channels: int = 32, n_layers: int = 6, image_size: int = 28):
        super().__init__()
        self.channels = check_int("channels", channels, 1, MAX_CHANNELS)
        self.n_layers = check_int("layers", n_layers, 1, MAX_LAYERS)
        self.image_size = _check_size(image_size)
        self.input = MaskedConv2d(1, channels, 7, "A")
        self.blocks = nn.ModuleList(MaskedConv2d(channels, channels, 3, "B") for _ in range(n_layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, 1, 1))

    @property
    def context_rows(self) -> int:
        """Rows above a pixel that can influence it: 3 (the 7 x 7 layer) + 1 per 3 x 3 layer."""
        return 3 + self.n_layers

    def logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (B, 1, H, W) of p(x_i = 1 | x_<i) for binary images x (B, 1, H, W)
        (H = W = S for whole images; fewer rows for the crops ``complete`` uses)."""
        self.check_labels(y, len(x))
        h = self.input(x * 2 - 1)  # inputs in {-1, 1}: a zero-padded border reads as "unknown"
        for block in self.blocks:
            h = h + block(F.relu(h))
        return self.head(h)


class GatedLayer(nn.Module):
    """One layer of the Gated PixelCNN: a vertical and a horizontal stack.

    Shapes: v, h (B, C, H, W) -> (B, C, H, W) each (the first layer takes ``in_channels``:
    1 for binary pixels, an embedding's width for the codes of a VQ-VAE prior);
    ``label_bias``, added to both stacks' gates: None, (B, 2C) (a class label) or
    (B, 2C, H, W) (a spatial conditioning map, e.g. the top codes of a VQ-VAE-2).
    The vertical stack's output at row r sees input rows <= r; it reaches the horizontal
    stack shifted down one row, so that a pixel hears only the rows above it. The
    horizontal stack sees columns <= c of its row (< c in the first layer, ``first``).
    """

    def __init__(self, channels: int, kernel_size: int, first: bool, in_channels: int = 1):
        super().__init__()
        self.k = kernel_size
        self.first = first
        c_in = in_channels if first else channels
        self.vertical = nn.Conv2d(c_in, 2 * channels, (kernel_size // 2 + 1, kernel_size))
        self.horizontal = nn.Conv2d(c_in, 2 * channels, (1, kernel_size // 2 + 1))
        self.v_to_h = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.h_out = nn.Conv2d(channels, channels, 1)
        self.gate = GatedActivation()

    def forward(self, v: Tensor, h: Tensor, label_bias: Tensor | None) -> tuple[Tensor, Tensor]:
        k = self.k
        height, width = v.shape[-2:]
        # Vertical: pad k//2 rows above (none below) and k//2 columns each side: row r sees rows r-k//2..r.
        v_feat = self.vertical(F.pad(v, (k // 2, k // 2, k // 2, 0)))  # (B, 2C, S, S)
        # Shift down one row for the horizontal stack: row r then hears rows < r only.
        v_shifted = F.pad(v_feat, (0, 0, 1, 0))[:, :, :height, :]
        # Horizontal: pad k//2 columns on the left: column c sees columns c-k//2..c.
        h_feat = self.horizontal(F.pad(h, (k // 2, 0, 0, 0)))
        if self.first:  # type A: shift right one column, so column c sees columns < c
            h_feat = F.pad(h_feat, (1, 0, 0, 0))[:, :, :, :width]
        h_feat = h_feat + self.v_to_h(v_shifted)
        if label_bias is not None:
            bias = label_bias[:, :, None, None] if label_bias.dim() == 2 else label_bias
            v_feat, h_feat = v_feat + bias, h_feat + bias
        v_next = self.gate(v_feat)
        h_next = self.h_out(self.gate(h_feat))
        if not self.first:
            h_next = h_next + h  # residual connection in the horizontal stack
        return v_next, h_next


class GatedPixelCNN(AutoregressiveModel, paper_url="https://arxiv.org/abs/1606.05328"):
    """Gated PixelCNN with vertical and horizontal stacks (no blind spot), optionally
    class-conditional, for binary S x S images.

    Args:
        channels: feature channels, in [1, 256].
        n_layers: gated layers, in [1, 20] (the first uses a 7 x 7 kernel, the rest 3 x 3).
        image_size: side S, in [2, 64].
        n_classes: 0 for an unconditional model, or 10 for one that takes digit labels:
            a learnt per-class bias on every gate (h = tanh(W_f x + V_f y) * sigmoid(...)).

    Raises:
        ValueError: the channels, layers or image size out of range, or n_classes not 0 or 10.
    """

    family: ClassVar[str] = "gated_pixelcnn"
    title: ClassVar[str] = "Gated PixelCNN (van den Oord et al. 2016)"

    def __init__(self, channels: int = 32, n_layers: int = 6, image_size: int = 28, n_classes: int = 0):
        super().__init__()
        self.channels = check_int("channels", channels, 1, MAX_CHANNELS)
        self.n_layers = check_int("layers", n_layers, 1, MAX_LAYERS)
        self.image_size = _check_size(image_size)
        if n_classes not in (0, N_CLASSES):
            raise ValueError(f"n_classes must be 0 (unconditional) or {N_CLASSES} (digit labels), got {n_classes!r}")
        self.n_classes = n_classes
        self.layers = nn.ModuleList(GatedLayer(channels, 7 if i == 0 else 3, first=i == 0) for i in range(n_layers))
        self.label_embedding = nn.Embedding(n_classes, 2 * channels * n_layers) if n_classes else None
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, 1, 1))

    @property
    def conditional(self) -> bool:  # type: ignore[override]
        """Whether the model takes digit labels (``n_classes`` = 10)."""
        return bool(self.n_classes)

    @property
    def context_rows(self) -> int:
        """Rows above a pixel that can influence it: the one-row shift into the horizontal
        stack, 3 rows of the 7 x 7 vertical layer and 1 per 3 x 3 layer after it."""
        return 3 + self.n_layers

    def logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (B, 1, H, W) of p(x_i = 1 | x_<i[, y]) for binary x (B, 1, H, W) (whole
        images or the row crops ``complete`` uses) and, for a conditional model, labels
        y (B,) int64 in [0, 9]."""
        y = self.check_labels(y, len(x))
        biases = self.label_embedding(y).chunk(len(self.layers), dim=1) if y is not None else [None] * len(self.layers)
        v = h = x * 2 - 1
        for layer, bias in zip(self.layers, biases):
            v, h = layer(v, h, bias)
        return self.head(h)

    def conditional_fn(self, x: Tensor, y: Tensor | None) -> Callable[[int], Tensor]:
        """Row-cached conditionals for sampling in raster order. While row r is drawn, the
        rows above are fixed, so the vertical stack's features of row r - 1 (all that the
        horizontal stack hears from above) are computed once per row, from the
        ``context_rows`` rows above; each pixel then costs only the horizontal stack on its
        own row of 28 pixels, several times less than a pass over the crop."""
        y = self.check_labels(y, len(x))
        biases = self.label_embedding(y).chunk(len(self.layers), dim=1) if y is not None else [None] * len(self.layers)
        s = self.image_size
        cache: dict[str, Any] = {"row": -1, "from_above": []}

        def from_above(r: int) -> list[Tensor]:
            """Per layer: what the horizontal stack of row r hears from the vertical stack
            (v_to_h of the vertical features of row r - 1, plus the label bias), (B, 2C, 1, 1)
            or (B, 2C, 1, S)."""
            per_layer = []
            if r == 0:  # nothing above: the shifted vertical features are zero padding
                v_rows = [None] * len(self.layers)
            else:
                top = max(0, r - self.context_rows)
                v = x[:, :, top:r] * 2 - 1
                v_rows = []
                for layer, bias in zip(self.layers, biases):
                    k = layer.k
                    v_feat = layer.vertical(F.pad(v, (k // 2, k // 2, k // 2, 0)))
                    v_rows.append(v_feat[:, :, -1:])  # row r - 1, as v_to_h hears it (before the label bias)
                    v = layer.gate(v_feat if bias is None else v_feat + bias[:, :, None, None])
            for layer, v_row, bias in zip(self.layers, v_rows, biases):
                if v_row is None:
                    heard = layer.v_to_h.bias.view(1, -1, 1, 1).expand(len(x), -1, 1, 1)
                else:
                    heard = layer.v_to_h(v_row)
                per_layer.append(heard if bias is None else heard + bias[:, :, None, None])
            return per_layer

        def p(i: int) -> Tensor:
            r, c = divmod(i, s)
            if cache["row"] != r:
                cache["row"], cache["from_above"] = r, from_above(r)
            h = x[:, :, r : r + 1] * 2 - 1  # (B, 1, 1, S)
            for layer, heard in zip(self.layers, cache["from_above"]):
                k = layer.k
                h_feat = layer.horizontal(F.pad(h, (k // 2, 0, 0, 0)))
                if layer.first:
                    h_feat = F.pad(h_feat, (1, 0, 0, 0))[:, :, :, :s]
                h_next = layer.h_out(layer.gate(h_feat + heard))
                h = h_next if layer.first else h_next + h
            return torch.sigmoid(self.head(h)[:, 0, 0, c])

        return p


class CodePrior(nn.Module):
    """A Gated PixelCNN over an H x W grid of codes (van den Oord et al. 2016,
    arXiv:1606.05328): p(z) = prod_i p(z_i | z_<i [, y, c]) in raster order, a categorical
    over K per cell. The codes enter through an embedding; the Gated PixelCNN's layers
    (``models.pixelcnn.GatedLayer``) keep it causal, and a label y and/or a grid of codes c
    from the level above (VQ-VAE-2) shift every gate.

    Args:
        n_codes: K of the codes modelled.
        grid: (H, W).
        channels, n_layers: of the gated stack, in [1, 256] and [1, 12].
        n_classes: 0, or 10 for a class-conditional prior.
        cond_codes: 0, or K of the level above whose codes (any grid) condition this one.
    """

    def __init__(self, n_codes: int, grid: tuple[int, int], channels: int, n_layers: int, n_classes: int, cond_codes: int = 0):
        super().__init__()
        self.n_codes, self.grid = n_codes, tuple(grid)
        self.n_layers, self.channels = n_layers, channels
        self.embed = nn.Embedding(n_codes, channels)
        self.layers = nn.ModuleList(GatedLayer(channels, 5 if i == 0 else 3, first=i == 0, in_channels=channels) for i in range(n_layers))
        self.label_embedding = nn.Embedding(n_classes, 2 * channels * n_layers) if n_classes else None
        self.cond_embed = nn.Embedding(cond_codes, channels) if cond_codes else None
        self.cond_net = nn.Conv2d(channels, 2 * channels * n_layers, 3, padding=1) if cond_codes else None
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, n_codes, 1))

    def logits(self, codes: Tensor, y: Tensor | None = None, cond: Tensor | None = None) -> Tensor:
        """Logits (B, K, H, W) of p(z_i | z_<i [, y, cond]) for every cell at once (teacher
        forcing) from codes (B, H, W) int64, labels y (B,) and the level above's codes."""
        return self._stack(codes, self._biases(y, cond))

    def _biases(self, y: Tensor | None, cond: Tensor | None) -> list[Tensor | None]:
        """Per layer, what shifts its gates: the label's (B, 2C, 1, 1) plus the level above's
        (B, 2C, H, W), or None."""
        biases: list[Tensor | None] = [None] * self.n_layers
        if self.label_embedding is not None and y is not None:
            biases = [b[:, :, None, None] for b in self.label_embedding(y).chunk(self.n_layers, dim=1)]
        if self.cond_net is not None and cond is not None:
            c = F.interpolate(self.cond_embed(cond).permute(0, 3, 1, 2), size=self.grid, mode="nearest")  # (B, C, H, W)
            spatial = self.cond_net(c).chunk(self.n_layers, dim=1)
            biases = [s if b is None else b + s for b, s in zip(biases, spatial)]
        return biases

    def _stack(self, codes: Tensor, biases: list[Tensor | None]) -> Tensor:
        """The gated stack and head on codes (B, R, W) (R <= H: rows from the top; a row
        sees only the rows above it, so a crop gives the same logits for its rows)."""
        rows = codes.shape[1]
        h = v = self.embed(codes).permute(0, 3, 1, 2)  # (B, C, R, W)
        for layer, bias in zip(self.layers, biases):
            v, h = layer(v, h, None if bias is None else bias[:, :, :rows])
        return self.head(h)

    def log_prob(self, codes: Tensor, y: Tensor | None = None, cond: Tensor | None = None) -> Tensor:
        """log p(codes [| y, cond]) in nats, (B,), for codes (B, H, W) int64."""
        return -F.cross_entropy(self.logits(codes, y, cond), codes, reduction="none").flatten(1).sum(1)

    @torch.no_grad()
    def draw(
        self, codes: Tensor, n_known: int, y: Tensor | None = None, cond: Tensor | None = None,
        generator: torch.Generator | None = None, temperature: float = 1.0,
    ) -> Iterator[int]:
        """Sample the cells after the first ``n_known`` (raster order) of ``codes`` (B, H, W)
        int64 in place, one at a time, yielding the cells drawn so far after each."""
        h, w = self.grid
        biases = self._biases(y, cond)  # once per draw; each cell then runs the stack on the rows down to its own
        for step, i in enumerate(range(n_known, h * w), start=1):
            r, c = divmod(i, w)
            logits = self._stack(codes[:, : r + 1], biases)[:, :, r, c]
            probs = torch.softmax(logits / temperature, dim=1)
            pick = torch.multinomial(probs.to(generator_device(generator, probs.device)), 1, generator=generator).flatten()
            codes[:, r, c] = pick.to(codes.device)
            yield step

"""PixelCNN++ ideas on grey 8-bit digits, and the 256-way softmax PixelCNN they improve on.

Both model p(x) = prod_i p(x_i | x_<i) in raster order over the 256 grey levels of each
pixel (the digits' grey values in [0, 1] times 255, rounded: exact 8-bit integers), so
their exact log-likelihoods are comparable, reported in bits per dimension (bits/dim:
nats / (784 ln 2)).

PixelCNN++ (Salimans, Karpathy, Chen & Kingma 2017, "PixelCNN++: Improving the PixelCNN
with Discretized Logistic Mixture Likelihood and Other Modifications", arXiv:1701.05517):

- **Discretised logistic mixture likelihood.** Instead of a 256-way softmax per pixel
  (256 free numbers that must each learn that level 200 is near 201), each conditional is
  a mixture of K logistic distributions on [-1, 1], integrated over the bin of width 2/255
  around each level; the edge levels 0 and 255 take all the mass below and above
  (``logistic_mixture_log_prob``). 3K numbers per pixel, smooth in the level, so few
  steps teach it what a softmax learns level by level.
- **Down- and up-sampling with short-cuts.** Two causal streams (one that sees the rows
  above, one that sees above and to the left: no blind spot) go 28 -> 14 -> 7 with strided
  causal convolutions and back up with strided transposed ones; each block of the
  upward pass gets the matching block of the downward one as an extra input (the
  short-cut, as in a U-Net), so far context is cheap and detail is not lost.
- **Gated resnet blocks** with the concatenated ELU (elu([x, -x])).

``SoftmaxPixelCNN`` is the baseline: the PixelCNN of ``models.pixelcnn`` (van den Oord,
Kalchbrenner & Kavukcuoglu 2016, arXiv:1601.06759) with a 256-way softmax per pixel, as
that paper uses on grey images.

Both sample one pixel at a time (784 network passes, each on the rows down to the pixel).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import GenerativeModel, check_images
from models.checks import N_PIXELS, check_int
from models.layers import MaskedConv2d, generator_device

N_LEVELS = 256  # grey levels of an 8-bit pixel
LOG_SCALE_MIN = -7.0  # PixelCNN++'s floor on a logistic's log scale (a bin is 2/255 wide: -7 is far narrower)
MAX_FILTERS = 128
MAX_RESNETS = 4
MAX_MIX = 10
MAX_LAYERS = 12
SIDE = 28
N_RESOLUTIONS = 3  # 28, 14, 7: two down-samplings by 2


def _log1mexp(d: Tensor) -> Tensor:
    """log(1 - exp(-d)) for d > 0, accurate for small and large d (Maechler 2012)."""
    d = d.clamp(min=1e-30)
    return torch.where(d < math.log(2), torch.log(-torch.expm1(-d)), torch.log1p(-torch.exp(-d)))


def logistic_mixture_log_prob(params: Tensor, levels: Tensor) -> Tensor:
    """log P(level) under a discretised mixture of K logistics, in nats.

    Args:
        params: (B, 3K, H, W) float: K mixture logits, K means (in the [-1, 1] scale of the
            levels), K log scales (floored at ``LOG_SCALE_MIN``).
        levels: (B, 1, H, W) integers in [0, 255] (any dtype).

    Returns:
        (B, 1, H, W) log-probabilities, <= 0. For level v at x = 2v/255 - 1 with bin edges
        x -+ 1/255 (the edges of levels 0 and 255 at -inf and +inf), a component gives
        sigma(a) - sigma(b), a = (x + 1/255 - mu)/s, b = (x - 1/255 - mu)/s, computed as
        log sigma(a) + log sigma(-b) + log(1 - exp(b - a)) (an identity): exact and finite
        however far the level lies in a tail, with no floor on the probability.
    """
    logit_probs, means, log_scales = params.chunk(3, dim=1)  # (B, K, H, W) each
    inv_s = torch.exp(-log_scales.clamp(min=LOG_SCALE_MIN))
    v = levels.to(params.dtype)
    # Each bin edge is computed the same way for the level below and the level above it, so that
    # the probabilities telescope to 1 in float32 too (x +- 1/255 rounds differently from level to level).
    upper = (2 * v + 1) / (N_LEVELS - 1) - 1  # (B, 1, H, W) broadcasts over the K components
    lower = (2 * v - 1) / (N_LEVELS - 1) - 1
    a = inv_s * (upper - means)
    b = inv_s * (lower - means)
    below_top, above_bottom = v < N_LEVELS - 1, v > 0
    log_p = (
        torch.where(below_top, -F.softplus(-a), 0.0)  # log sigma(a): mass below the upper edge
        + torch.where(above_bottom, -F.softplus(b), 0.0)  # log sigma(-b): mass above the lower edge
        + torch.where(below_top & above_bottom, _log1mexp(a - b), 0.0)  # a - b = 2 / (255 s) > 0, as rounded in a and b
    )
    return torch.logsumexp(F.log_softmax(logit_probs, dim=1) + log_p, dim=1, keepdim=True)


def logistic_mixture_sample(params: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Draw a level from each mixture: params (N, 3K) -> (N,) int64 in [0, 255]. A
    component is picked by its weight, a logistic value drawn from it and rounded to the
    nearest level (clamped at 0 and 255): exactly the discretised distribution above."""
    logit_probs, means, log_scales = params.chunk(3, dim=1)
    dev = generator_device(generator, params.device)
    k = torch.multinomial(torch.softmax(logit_probs, dim=1).to(dev), 1, generator=generator).to(params.device)  # (N, 1)
    u = torch.rand(len(params), 1, generator=generator, device=dev).to(params.device).clamp(1e-6, 1 - 1e-6)
    x = means.gather(1, k) + torch.exp(log_scales.clamp(min=LOG_SCALE_MIN).gather(1, k)) * (torch.log(u) - torch.log1p(-u))
    return torch.round((x[:, 0] + 1) * (N_LEVELS - 1) / 2).clamp(0, N_LEVELS - 1).long()


class GreyAutoregressive(GenerativeModel):
    """An autoregressive model of 8-bit grey S x S images in raster order. A subclass
    implements ``params(x)`` (the network: what each pixel's conditional is computed
    from, for every pixel at once), ``level_log_prob(params, levels)`` and
    ``draw_levels(params, generator)``; the likelihood, loss and sampling follow.

    Images go in and come out as float32 (B, 1, S, S) in [0, 1], the level / 255.
    """

    data_kind: ClassVar[str] = "grey"
    nll_kind: ClassVar[str] = "exact"
    # Sized by CPU time, not by the likelihood: 400 steps of 32 digits are about 5 minutes on one shared core for
    # either model, and both bundled checkpoints get exactly this budget (same data, steps, batch and learning rate).
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 400, "lr": 2e-3, "batch_size": 32}
    card_note: ClassVar[str] = (
        "Settings chosen by the CPU budget (a few minutes on one shared core: 400 steps of 32 grey digits, learning rate 2e-3), "
        "the same for PixelCNN++ and the 256-way softmax PixelCNN; never by the test NLL reported."
    )
    eval_batch_size: ClassVar[int] = 100
    image_size: int = SIDE
    row_multiple: int = 1  # a crop of the top rows must have a multiple of this many (the down-sampling's factor)

    def params(self, x: Tensor) -> Tensor:
        """(B, P, H, W): the numbers each pixel's conditional p(x_i | x_<i) is made of, from images x (B, 1, H, W) in [0, 1]."""
        raise NotImplementedError

    def level_log_prob(self, params: Tensor, levels: Tensor) -> Tensor:
        """(B, 1, H, W) log P(levels) in nats, from ``params`` (B, P, H, W) and integer levels (B, 1, H, W)."""
        raise NotImplementedError

    def draw_levels(self, params: Tensor, generator: torch.Generator | None) -> Tensor:
        """(N,) int64 levels drawn from the conditionals of ``params`` (N, P) (one pixel each)."""
        raise NotImplementedError

    @staticmethod
    def levels(x: Tensor) -> Tensor:
        """The 8-bit levels (B, 1, S, S) float32 in {0, ..., 255} of images in [0, 1]."""
        return torch.round(x * (N_LEVELS - 1))

    def level_probs(self, params: Tensor) -> Tensor:
        """The whole conditional of each pixel: params (N, P) -> (N, 256) probabilities (they sum to 1)."""
        n = len(params)
        grid = params[:, :, None, None].expand(-1, -1, 1, N_LEVELS)  # (N, P, 1, 256): one column per level
        levels = torch.arange(N_LEVELS, device=params.device).view(1, 1, 1, N_LEVELS).expand(n, 1, 1, N_LEVELS)
        return self.level_log_prob(grid, levels).view(n, N_LEVELS).exp()

    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Exact log p(x) in nats, (B,), of grey images x (B, 1, S, S) in [0, 1] (rounded to 8 bits).

        Raises:
            ValueError: another shape, values outside [0, 1], or labels given.
        """
        x = check_images(x, self.image_size)
        self.check_labels(y, len(x))
        levels = self.levels(x)
        return self.level_log_prob(self.params(levels / (N_LEVELS - 1)), levels).flatten(1).sum(1)

    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``"loss"`` and ``"nll"``: mean negative log-likelihood in nats per image; ``"bits_per_dim"`` the same in bits per pixel."""
        nll = -self.log_prob(x, y).mean()
        return {"loss": nll, "nll": nll, "bits_per_dim": nll.detach() / (N_PIXELS * math.log(2))}

    def _rows_for(self, r: int) -> int:
        """Rows of the top crop that pixel row ``r`` needs: r + 1, rounded up to ``row_multiple``."""
        m = self.row_multiple
        return min(self.image_size, -(-(r + 1) // m) * m)

    def conditional_params(self, x: Tensor, i: int) -> Tensor:
        """(B, P): the conditional of pixel ``i`` (raster index) of images x (B, 1, S, S) in [0, 1], from the rows down to it."""
        r, c = divmod(i, self.image_size)
        return self.params(x[:, :, : self._rows_for(r)])[:, :, r, c]

    @torch.no_grad()
    def draw_rows(self, n: int, generator: torch.Generator | None = None) -> Iterator[tuple[int, Tensor]]:
        """Draw ``n`` images (1 to 10,000) pixel by pixel; after each row yield (rows drawn, the images so far
        (n, 1, S, S) in [0, 1], zero below), the same tensor each time, updated in place: clone what you keep."""
        n = check_int("samples", n, 1, 10_000)
        s = self.image_size
        x = torch.zeros(n, 1, s, s, device=self.device)
        for r in range(s):
            for c in range(s):
                x[:, 0, r, c] = self.draw_levels(self.conditional_params(x, r * s + c), generator).float() / (N_LEVELS - 1)
            yield r + 1, x

    @torch.no_grad()
    def sample_iter(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Iterator[Tensor | None]:
        """``sample`` one row per step: yields None after each row (S - 1 times) and the samples last."""
        self.check_labels(y, check_int("samples", n, 1, 10_000))
        for rows, x in self.draw_rows(n, generator):
            yield x if rows == self.image_size else None

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples drawn one pixel at a time: (n, 1, S, S) float32, levels / 255 in [0, 1].

        Raises:
            ValueError: ``n`` not in [1, 10,000], or labels given.
        """
        *_, images = self.sample_iter(n, y, generator)
        return images


def _down_shift(x: Tensor) -> Tensor:
    """Move every row down one (a zero row on top): row r then holds what was computed at row r - 1."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def _right_shift(x: Tensor) -> Tensor:
    """Move every column right one (a zero column on the left)."""
    return F.pad(x, (1, 0))[:, :, :, :-1]


def _concat_elu(x: Tensor) -> Tensor:
    return F.elu(torch.cat([x, -x], dim=1))


class _CausalConv(nn.Module):
    """A convolution whose output at (r, c) sees inputs in rows <= r only: "down" kernels
    (kh, kw) centred on column c, or "down_right" kernels seeing columns <= c too; stride 2
    halves the grid. With ``transposed``, the strided transposed convolution that doubles
    it back (fine row r hears coarse row r // 2 only)."""

    def __init__(self, c_in: int, c_out: int, kernel: tuple[int, int], kind: str, stride: int = 1, transposed: bool = False):
        super().__init__()
        self.kernel, self.kind, self.transposed = kernel, kind, transposed
        kh, kw = kernel
        if transposed:
            self.conv = nn.ConvTranspose2d(c_in, c_out, kernel, stride=2, output_padding=1)
        else:
            self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride)
        left = (kw - 1) // 2 if kind == "down" else kw - 1
        self.pad = (left, kw - 1 - left, kh - 1, 0)

    def forward(self, x: Tensor) -> Tensor:
        if not self.transposed:
            return self.conv(F.pad(x, self.pad))
        out = self.conv(x)  # (B, C, 2H + kh - 1, 2W + kw - 1): crop back to (2H, 2W), keeping it causal
        left, right, top, _ = self.pad
        if self.kind == "down_right":  # drop the columns on the right: column c hears coarse columns <= c // 2 only
            left, right = 0, left
        return out[:, :, : out.shape[2] - top, left : out.shape[3] - right]


class _GatedResnet(nn.Module):
    """x + a * sigmoid(b), [a, b] = conv(elu([h, -h])), h = conv(elu([x, -x])) (+ the short-cut input's 1 x 1 projection)."""

    def __init__(self, channels: int, kind: str, n_aux: int = 0):
        super().__init__()
        kernel = (2, 3) if kind == "down" else (2, 2)
        self.conv_in = _CausalConv(2 * channels, channels, kernel, kind)
        self.aux = nn.Conv2d(2 * n_aux * channels, channels, 1) if n_aux else None
        self.conv_out = _CausalConv(2 * channels, 2 * channels, kernel, kind)

    def forward(self, x: Tensor, aux: Tensor | None = None) -> Tensor:
        h = self.conv_in(_concat_elu(x))
        if self.aux is not None:
            h = h + self.aux(_concat_elu(aux))
        a, b = self.conv_out(_concat_elu(h)).chunk(2, dim=1)
        return x + a * torch.sigmoid(b)


class PixelCNNpp(GreyAutoregressive, paper_url="https://arxiv.org/abs/1701.05517"):
    """PixelCNN++ for 8-bit grey 28 x 28 digits (see the module docstring): two causal
    streams, u (sees the rows above) and ul (also the pixels to the left), through
    ``n_resnets`` gated resnet blocks at each of 28, 14 and 7 pixels on the way down and
    ``n_resnets`` + 1 on the way up, each upward block fed the matching downward block's
    output (short-cuts); a 1 x 1 head gives 3 * ``n_mix`` numbers per pixel.

    Args:
        filters: channels of both streams, in [4, 128].
        n_resnets: gated resnet blocks per resolution, in [1, 4].
        n_mix: logistic components per pixel, in [1, 10].

    Raises:
        ValueError: a setting out of range.
    """

    family: ClassVar[str] = "pixelcnnpp"
    title: ClassVar[str] = "PixelCNN++ (Salimans et al. 2017)"
    row_multiple: int = 2 ** (N_RESOLUTIONS - 1)

    def __init__(self, filters: int = 16, n_resnets: int = 1, n_mix: int = 5):
        super().__init__()
        self.filters = f = check_int("filters", filters, 4, MAX_FILTERS)
        self.n_resnets = r = check_int("n_resnets", n_resnets, 1, MAX_RESNETS)
        self.n_mix = check_int("n_mix", n_mix, 1, MAX_MIX)
        self.u_init = _CausalConv(2, f, (2, 3), "down")
        self.ul_init_above = _CausalConv(2, f, (1, 3), "down")
        self.ul_init_left = _CausalConv(2, f, (2, 1), "down_right")
        levels = range(N_RESOLUTIONS)
        self.up_u = nn.ModuleList(nn.ModuleList(_GatedResnet(f, "down") for _ in range(r)) for _ in levels)
        self.up_ul = nn.ModuleList(nn.ModuleList(_GatedResnet(f, "down_right", 1) for _ in range(r)) for _ in levels)
        self.shrink_u = nn.ModuleList(_CausalConv(f, f, (2, 3), "down", stride=2) for _ in levels[1:])
        self.shrink_ul = nn.ModuleList(_CausalConv(f, f, (2, 2), "down_right", stride=2) for _ in levels[1:])
        n_down = [r] + [r + 1] * (N_RESOLUTIONS - 1)  # the first resolution back up starts from the last block's output
        self.down_u = nn.ModuleList(nn.ModuleList(_GatedResnet(f, "down", 1) for _ in range(n)) for n in n_down)
        self.down_ul = nn.ModuleList(nn.ModuleList(_GatedResnet(f, "down_right", 2) for _ in range(n)) for n in n_down)
        self.grow_u = nn.ModuleList(_CausalConv(f, f, (2, 3), "down", transposed=True) for _ in levels[1:])
        self.grow_ul = nn.ModuleList(_CausalConv(f, f, (2, 2), "down_right", transposed=True) for _ in levels[1:])
        self.head = nn.Conv2d(f, 3 * self.n_mix, 1)

    def params(self, x: Tensor) -> Tensor:
        """(B, 3K, H, W): mixture logits, means and log scales of each pixel's conditional,
        from images x (B, 1, H, W) in [0, 1], H a multiple of 4 (whole digits: 28)."""
        x = torch.cat([x * 2 - 1, torch.ones_like(x)], dim=1)  # the ones channel marks the image against the zero padding
        u_list = [_down_shift(self.u_init(x))]  # row r: rows < r
        ul_list = [_down_shift(self.ul_init_above(x)) + _right_shift(self.ul_init_left(x))]  # rows < r, and row r left of c
        for level in range(N_RESOLUTIONS):
            for u_block, ul_block in zip(self.up_u[level], self.up_ul[level]):
                u_list.append(u_block(u_list[-1]))
                ul_list.append(ul_block(ul_list[-1], u_list[-1]))
            if level < N_RESOLUTIONS - 1:
                u_list.append(self.shrink_u[level](u_list[-1]))  # (B, F, H / 2, W / 2)
                ul_list.append(self.shrink_ul[level](ul_list[-1]))
        u, ul = u_list.pop(), ul_list.pop()
        for level in range(N_RESOLUTIONS):
            for u_block, ul_block in zip(self.down_u[level], self.down_ul[level]):
                u = u_block(u, u_list.pop())  # the short-cut from the same resolution on the way down
                ul = ul_block(ul, torch.cat([u, ul_list.pop()], dim=1))
            if level < N_RESOLUTIONS - 1:
                u, ul = self.grow_u[level](u), self.grow_ul[level](ul)  # (B, F, 2H, 2W)
        return self.head(F.elu(ul))

    def level_log_prob(self, params: Tensor, levels: Tensor) -> Tensor:
        """(B, 1, H, W) log P(levels) under each pixel's discretised logistic mixture."""
        return logistic_mixture_log_prob(params, levels)

    def draw_levels(self, params: Tensor, generator: torch.Generator | None) -> Tensor:
        """(N,) levels drawn from the mixtures ``params`` (N, 3K)."""
        return logistic_mixture_sample(params, generator)


class SoftmaxPixelCNN(GreyAutoregressive, paper_url="https://arxiv.org/abs/1601.06759"):
    """The PixelCNN baseline on 8-bit grey digits: a 7 x 7 type-A masked convolution,
    ``n_layers`` residual type-B 3 x 3 blocks and two 1 x 1 layers to 256 logits per pixel
    (a softmax over the grey levels).

    Args:
        channels: feature channels, in [4, 128].
        n_layers: residual blocks, in [1, 12].

    Raises:
        ValueError: a setting out of range.
    """

    family: ClassVar[str] = "pixelcnn256"
    title: ClassVar[str] = "PixelCNN with a 256-way softmax (van den Oord et al. 2016)"

    def __init__(self, channels: int = 32, n_layers: int = 5):
        super().__init__()
        self.channels = check_int("channels", channels, 4, MAX_FILTERS)
        self.n_layers = check_int("layers", n_layers, 1, MAX_LAYERS)
        self.input = MaskedConv2d(1, channels, 7, "A")
        self.blocks = nn.ModuleList(MaskedConv2d(channels, channels, 3, "B") for _ in range(n_layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, 4 * channels, 1), nn.ReLU(), nn.Conv2d(4 * channels, N_LEVELS, 1))

    def params(self, x: Tensor) -> Tensor:
        """(B, 256, H, W): each pixel's logits over the grey levels, from x (B, 1, H, W) in [0, 1]."""
        h = self.input(x * 2 - 1)
        for block in self.blocks:
            h = h + block(F.relu(h))
        return self.head(h)

    def level_log_prob(self, params: Tensor, levels: Tensor) -> Tensor:
        """(B, 1, H, W) log softmax(params) at ``levels``."""
        return F.log_softmax(params, dim=1).gather(1, levels.long())

    def draw_levels(self, params: Tensor, generator: torch.Generator | None) -> Tensor:
        """(N,) levels drawn from the softmaxes of ``params`` (N, 256)."""
        probs = torch.softmax(params, dim=1).to(generator_device(generator, params.device))
        return torch.multinomial(probs, 1, generator=generator).flatten().to(params.device)

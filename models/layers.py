"""Layers shared by the families: masked linear and convolutional layers, the gated
activation and the Bernoulli likelihood the autoregressive families end in, the causal
convolution of WaveNet and the vector quantiser of the VQ-VAEs.

Masks are registered buffers applied functionally (``F.linear(x, mask * weight, bias)``),
never written into the weights, so a checkpoint holds the free weights and the masks are
rebuilt from the config.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.checks import check_bool, check_float, check_int

N_CODES_RANGE = (2, 512)
CODE_DIM_RANGE = (1, 64)
LAPLACE_EPS = 1e-5


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


def generator_device(generator: torch.Generator | None, device: torch.device) -> torch.device:
    """The device a draw from ``generator`` happens on (``device`` when there is none)."""
    return generator.device if generator is not None else device


class VectorQuantizer(nn.Module):
    """A codebook of ``n_codes`` vectors of size ``code_dim`` and nearest-neighbour
    quantisation (van den Oord et al. 2017, arXiv:1711.00937).

    Args:
        n_codes: K, in [2, 512].
        code_dim: D, in [1, 64].
        ema: update the codes by exponential moving averages (``ema_update``) rather than
            by the codebook loss's gradient.
        decay: the EMA's decay gamma, in [0, 1).

    Raises:
        ValueError: an argument out of range.
    """

    def __init__(self, n_codes: int, code_dim: int, ema: bool, decay: float):
        super().__init__()
        self.n_codes = check_int("codebook size K", n_codes, *N_CODES_RANGE)
        self.code_dim = check_int("code size", code_dim, *CODE_DIM_RANGE)
        self.ema = check_bool("ema", ema)
        self.decay = check_float("EMA decay", decay, 0.0, 0.9999)
        self.embedding = nn.Parameter(torch.empty(n_codes, code_dim).uniform_(-1 / n_codes, 1 / n_codes), requires_grad=not ema)
        self.register_buffer("ema_count", torch.ones(n_codes))
        self.register_buffer("ema_sum", self.embedding.detach().clone())
        self.register_buffer("usage", torch.zeros(n_codes), persistent=False)  # assignments since the last restart

    def nearest(self, z_e: Tensor) -> Tensor:
        """The index of the nearest code of each vector: z_e (B, D, H, W) -> (B, H, W) int64."""
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, self.code_dim)  # (B*H*W, D)
        distances = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.embedding.t() + self.embedding.pow(2).sum(1)
        b, _, h, w = z_e.shape
        return distances.argmin(1).view(b, h, w)

    def lookup(self, codes: Tensor) -> Tensor:
        """The code vectors of ``codes`` (B, H, W) int64: (B, D, H, W)."""
        return self.embedding[codes].permute(0, 3, 1, 2)

    def check_codes(self, codes: Any, shape: tuple[int, int], device: torch.device) -> Tensor:
        """``codes`` as int64 (B, H, W) on ``device``.

        Raises:
            ValueError: not integers, another grid shape, or ids outside [0, K - 1].
        """
        try:
            codes = torch.as_tensor(codes)
        except (TypeError, ValueError, RuntimeError, OverflowError):
            raise ValueError(f"code ids must be integers in [0, {self.n_codes - 1}] (K = {self.n_codes}), in a grid of shape (B, {shape[0]}, {shape[1]})") from None
        if codes.dtype.is_floating_point or codes.dtype == torch.bool:
            raise ValueError(f"codes must be integer ids, got {codes.dtype}")
        if codes.dim() != 3 or tuple(codes.shape[1:]) != tuple(shape):
            raise ValueError(f"a code grid must have shape (B, {shape[0]}, {shape[1]}), got {tuple(codes.shape)}")
        if len(codes) and (int(codes.min()) < 0 or int(codes.max()) >= self.n_codes):
            raise ValueError(f"code ids must be in [0, {self.n_codes - 1}] (K = {self.n_codes}), got {int(codes.min())}..{int(codes.max())}")
        return codes.to(device=device, dtype=torch.int64)

    def forward(self, z_e: Tensor, beta: float) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Quantise z_e (B, D, H, W).

        Returns:
            (z_q with the straight-through gradient, z_e + sg[z_q - z_e], (B, D, H, W);
            codes (B, H, W) int64; terms, each a scalar mean over the batch:
            ``"commitment"`` beta * sum over cells ||z_e - sg[e]||^2, ``"codebook"``
            sum over cells ||sg[z_e] - e||^2 (zero with EMA updates, which move the codes
            instead), ``"perplexity"`` exp(-sum_k p_k log p_k) of the batch's code
            frequencies p and ``"codes_used"``, how many codes the batch uses.)
        """
        codes = self.nearest(z_e)
        z_q = self.lookup(codes)
        commitment = (z_e - z_q.detach()).pow(2).flatten(1).sum(1).mean()
        codebook = (z_e.detach() - z_q).pow(2).flatten(1).sum(1).mean() if not self.ema else z_e.new_zeros(())
        freq = torch.bincount(codes.flatten(), minlength=self.n_codes).float() / codes.numel()
        perplexity = torch.exp(-(freq * torch.log(freq + 1e-10)).sum())
        terms = {"commitment": beta * commitment, "codebook": codebook, "perplexity": perplexity, "codes_used": (freq > 0).sum().float()}
        return z_e + (z_q - z_e).detach(), codes, terms

    @torch.no_grad()
    def ema_update(self, z_e: Tensor, codes: Tensor) -> None:
        """One EMA step (van den Oord et al. 2017, appendix A.1): with n_k the vectors of
        z_e (B, D, H, W) assigned to code k (``codes`` (B, H, W)) and s_k their sum,
        N_k <- gamma N_k + (1 - gamma) n_k, m_k <- gamma m_k + (1 - gamma) s_k, and
        e_k = m_k / N~_k with Laplace smoothing N~_k = (N_k + eps) / (N + K eps) N."""
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, self.code_dim)
        one_hot = F.one_hot(codes.flatten(), self.n_codes).type_as(flat)  # (B*H*W, K)
        self.ema_count.mul_(self.decay).add_(one_hot.sum(0), alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(one_hot.t() @ flat, alpha=1 - self.decay)
        total = self.ema_count.sum()
        smoothed = (self.ema_count + LAPLACE_EPS) / (total + self.n_codes * LAPLACE_EPS) * total
        self.embedding.copy_(self.ema_sum / smoothed[:, None])

    @torch.no_grad()
    def count(self, codes: Tensor) -> None:
        """Add the assignments of ``codes`` (B, H, W) to ``usage`` (for ``restart_dead``)."""
        self.usage += torch.bincount(codes.flatten(), minlength=self.n_codes).float()

    @torch.no_grad()
    def restart_dead(self, z_e: Tensor, generator: torch.Generator | None = None) -> int:
        """Re-seed every code unused since the last call (``usage`` 0) with an encoder
        output of z_e (B, D, H, W) drawn at random, and clear ``usage``. Returns how many
        codes were restarted."""
        dead = (self.usage == 0).nonzero().flatten()
        self.usage.zero_()
        if not len(dead):
            return 0
        flat = z_e.detach().permute(0, 2, 3, 1).reshape(-1, self.code_dim)
        pick = torch.randint(len(flat), (len(dead),), generator=generator, device=generator_device(generator, flat.device))
        self.embedding[dead] = flat[pick.to(flat.device)]
        self.ema_count[dead] = 1.0
        self.ema_sum[dead] = flat[pick.to(flat.device)]
        return len(dead)

"""The mu-law codec WaveNet models audio in (ITU-T G.711 companding, as in van den Oord
et al. 2016, "WaveNet: A Generative Model for Raw Audio", arXiv:1609.03499, section 2.2),
and, for comparison, plain linear quantisation.

The mu-law compands a waveform x in [-1, 1] by F(x) = sign(x) ln(1 + mu |x|) / ln(1 + mu)
before rounding F to ``n_codes`` levels: fine steps near silence, coarse ones for loud
sounds, where the ear notices less. 256 codes (8 bits, mu = 255) make each audio sample a
256-way classification for the network.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

N_CODES = 256


def mu_law_encode(x: Tensor, n_codes: int = N_CODES) -> Tensor:
    """Mu-law companding and quantisation (ITU-T G.711), with mu = n_codes - 1:
    F(x) = sign(x) ln(1 + mu |x|) / ln(1 + mu), then F in [-1, 1] is rounded to one of
    ``n_codes`` evenly spaced levels.

    Args:
        x: waveform, any shape, float in [-1, 1] (values outside are clipped).

    Returns:
        int64 codes in [0, n_codes - 1] of the same shape (silence, x = 0, is code
        ``n_codes // 2`` for 256 codes: 128).
    """
    mu = n_codes - 1
    x = x.clamp(-1.0, 1.0)
    f = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
    return ((f + 1) / 2 * mu + 0.5).floor().long().clamp(0, mu)


def mu_law_decode(codes: Tensor, n_codes: int = N_CODES) -> Tensor:
    """The inverse of ``mu_law_encode``: codes (int, any shape, in [0, n_codes - 1]) to
    float32 waveform values in [-1, 1], x = sign(F) ((1 + mu)^|F| - 1) / mu.

    Quantisation bound: for |x| <= 1, |decode(encode(x)) - x| <= (1 + mu |x|) ((1 + mu)^(1 / mu) - 1) / mu,
    which is about 8.6e-5 at x = 0 and 0.022 at full scale (for mu = 255): fine steps for
    quiet sounds, coarse ones for loud sounds, as the ear hears them.
    """
    mu = n_codes - 1
    f = codes.float() / mu * 2 - 1
    return torch.sign(f) * torch.expm1(f.abs() * math.log1p(mu)) / mu


def linear_quantise(x: Tensor, n_codes: int = N_CODES) -> Tensor:
    """For comparison: x in [-1, 1] rounded to ``n_codes`` evenly spaced levels (plain
    8-bit PCM for 256), returned as float32 values in [-1, 1] (step 2 / (n_codes - 1))."""
    mu = n_codes - 1
    return ((x.clamp(-1, 1) + 1) / 2 * mu).round() / mu * 2 - 1

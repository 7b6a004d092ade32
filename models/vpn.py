"""A Video Pixel Network in miniature: the chain rule over frames, and over pixels in a frame.

p(video) = prod_t prod_i p(v_t,i | v_<t, v_t,<i): frame t is drawn pixel by pixel (raster order)
by a masked PixelCNN decoder, conditioned on a summary of the frames before it. The summary is
a **ConvLSTM** (Shi et al. 2015, arXiv:1506.04214) over **frame-wise conv encodings**: its state
after frames 0..t-1 is upsampled and added to every decoder layer, so the decoder knows where the
digits were and how they moved. Frame 0 has no past (a zero state): its NLL is a plain PixelCNN's.
Pixels are binary (Bernoulli); the NLL is exact, in nats per frame.

Kalchbrenner et al. 2016, "Video Pixel Networks", arXiv:1610.00527 (here: one small ConvLSTM and
a 4-layer PixelCNN decoder instead of dilated resolution-preserving encoders and multiplicative units).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from models.base import GenerativeModel
from models.checks import check_int
from models.layers import MaskedConv2d, bernoulli_log_prob

SIZE = 32


class ConvLSTMCell(nn.Module):
    """One ConvLSTM step: gates by a 3 x 3 convolution of [input, h]; (B, C_in, H, W) -> h, c (B, C, H, W)."""

    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        self.gates = nn.Conv2d(in_channels + channels, 4 * channels, 3, padding=1)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], 1)).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class VideoPixelNetwork(GenerativeModel, paper_url="https://arxiv.org/abs/1610.00527", tags=["video", "pixelcnn", "convlstm"]):
    """The miniature VPN (see the module docstring).

    Inputs are clips ``x`` (B, T, 32, 32) float32 in {0, 1}. ``loss`` is in nats per frame;
    ``log_prob`` in nats per clip (exact).

    Args:
        channels: encoder, ConvLSTM and decoder width, 4 to 128; decoder_layers: mask-B layers, 1 to 8.

    Raises:
        ValueError: a setting out of range, or clips of the wrong shape or values.
    """

    family: ClassVar[str] = "vpn"
    title: ClassVar[str] = "Video Pixel Network (miniature) on moving digits"
    data_kind: ClassVar[str] = "video"
    nll_kind: ClassVar[str] = "exact"
    eval_batch_size: ClassVar[int] = 16
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 600, "lr": 3e-3, "batch_size": 8}
    n_frames: int = 10  # frames drawn by ``sample``

    def __init__(self, channels: int = 24, decoder_layers: int = 4):
        super().__init__()
        self.channels = C = check_int("channels", channels, 4, 128)
        self.decoder_layers = check_int("decoder_layers", decoder_layers, 1, 8)
        self.encoder = nn.Sequential(nn.Conv2d(1, C, 4, stride=2, padding=1), nn.ReLU(), nn.Conv2d(C, C, 3, padding=1), nn.ReLU())  # 32 -> 16
        self.lstm = ConvLSTMCell(C, C)
        self.up = nn.ConvTranspose2d(C, C, 4, stride=2, padding=1)  # 16 -> 32
        self.first = MaskedConv2d(1, 2 * C, 7, "A")
        self.layers = nn.ModuleList(MaskedConv2d(C, 2 * C, 3, "B") for _ in range(self.decoder_layers))
        self.context = nn.ModuleList(nn.Conv2d(C, 2 * C, 1) for _ in range(self.decoder_layers + 1))
        self.out = nn.Conv2d(C, 1, 1)

    def check_clips(self, x: Tensor) -> Tensor:
        """Validate clips (B, T, 32, 32) float in {0, 1}. Raises ValueError."""
        if not isinstance(x, Tensor) or x.dim() != 4 or x.shape[2:] != (SIZE, SIZE) or not x.is_floating_point():
            raise ValueError(f"clips must be float of shape (B, T, {SIZE}, {SIZE}), got {getattr(x, 'dtype', type(x))} {tuple(getattr(x, 'shape', ()))}")
        if bool(((x != 0) & (x != 1)).any()):
            raise ValueError("clip pixels must be 0 or 1")
        return x

    def contexts(self, x: Tensor) -> Tensor:
        """(B, T, C, 32, 32): the context of each frame t, from frames 0..t-1 only (zeros for frame 0)."""
        b, t = x.shape[:2]
        h = c = torch.zeros(b, self.channels, SIZE // 2, SIZE // 2, device=x.device)
        out = []
        for k in range(t):
            out.append(self.up(h))
            h, c = self.lstm(self.encoder(x[:, k : k + 1]), (h, c))
        return torch.stack(out, 1)

    def decode(self, frames: Tensor, context: Tensor) -> Tensor:
        """Logits (N, 1, 32, 32) of each pixel given the pixels before it (raster) in ``frames`` (N, 1, 32, 32) and ``context`` (N, C, 32, 32)."""
        C = self.channels
        a = self.first(frames) + self.context[0](context)
        h = torch.tanh(a[:, :C]) * torch.sigmoid(a[:, C:])
        for layer, ctx in zip(self.layers, self.context[1:], strict=True):
            a = layer(h) + ctx(context)
            h = h + torch.tanh(a[:, :C]) * torch.sigmoid(a[:, C:])
        return self.out(h)

    def logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """(B, T, 32, 32) logits of every pixel of every frame, all at once (teacher forcing)."""
        x = self.check_clips(x).to(self.device)
        b, t = x.shape[:2]
        ctx = self.contexts(x).flatten(0, 1)
        return self.decode(x.reshape(b * t, 1, SIZE, SIZE), ctx).view(b, t, SIZE, SIZE)

    def frame_nll(self, x: Tensor) -> Tensor:
        """(B, T) nats: -log p(frame t | frames before), each frame's exact NLL."""
        logits = self.logits(x)
        return -bernoulli_log_prob(logits.flatten(0, 1), x.to(self.device).flatten(0, 1)).view(x.shape[:2])

    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """log p(clip) in nats, (B,), exact: the sum over frames and pixels."""
        return -self.frame_nll(x).sum(1)

    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """``loss``: mean NLL per frame (nats); ``first_frame`` and ``later_frames``: the same for frame 0 and the others."""
        nll = self.frame_nll(x)
        return {"loss": nll.mean(), "first_frame": nll[:, 0].mean().detach(), "later_frames": nll[:, 1:].mean().detach() if nll.shape[1] > 1 else nll[:, 0].mean().detach()}

    @torch.no_grad()
    def predict(self, given: Tensor, n_new: int, generator: torch.Generator | None = None) -> Iterator[Tensor]:
        """Continue clips ``given`` (B, k, 32, 32), k >= 1, by ``n_new`` (1 to 20) frames, each drawn
        pixel by pixel; yields the clip so far (B, k + j, 32, 32) after each new row of pixels.

        Raises:
            ValueError: bad clips or a count out of range.
        """
        given = self.check_clips(given).to(self.device)
        if given.shape[1] < 1:
            raise ValueError("give at least one frame to continue")
        yield from self._continue(given, check_int("frames to predict", n_new, 1, 20), generator)

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` clips of 3 frames drawn from nothing, (n, 3, 32, 32) in {0, 1} (3: pixel by pixel is slow)."""
        *_, clip = self.sample_iter(n, y, generator)
        return clip

    def sample_iter(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Iterator[Tensor | None]:
        """``sample`` row by row (None between), the clips last."""
        n = check_int("clips", n, 1, 64)
        first = torch.zeros(n, 0, SIZE, SIZE, device=self.device)
        clip = None
        for clip in self._continue(first, 3, generator):
            yield None
        yield clip

    def _continue(self, clip: Tensor, n_frames: int, generator: torch.Generator | None) -> Iterator[Tensor]:
        """Draw ``n_frames`` after ``clip`` (B, k, 32, 32), k >= 0: the ConvLSTM reads the frames so far, then each new frame is
        drawn pixel by pixel (one decoder pass per pixel, on the rows drawn so far: the masks make later rows irrelevant)."""
        b = len(clip)
        h = c = torch.zeros(b, self.channels, SIZE // 2, SIZE // 2, device=self.device)
        for k in range(clip.shape[1]):
            h, c = self.lstm(self.encoder(clip[:, k : k + 1]), (h, c))
        for _ in range(n_frames):
            context = self.up(h)
            frame = torch.zeros(b, 1, SIZE, SIZE, device=self.device)
            for r in range(SIZE):
                for col in range(SIZE):
                    p = torch.sigmoid(self.decode(frame[:, :, : r + 1], context[:, :, : r + 1])[:, 0, r, col])
                    frame[:, 0, r, col] = (torch.rand(b, generator=generator) < p.cpu()).float().to(self.device)
                yield torch.cat([clip, frame], 1)
            clip = torch.cat([clip, frame], 1)
            h, c = self.lstm(self.encoder(frame), (h, c))

"""WaveNet with **local conditioning** on a pitch contour.

Global conditioning (``models.wavenet``) adds one learnt vector per clip to every gate. Local
conditioning adds a *time series*: here the fundamental frequency f0 of the sound, one value
per frame of ``frame_ms`` milliseconds, as log2(f0 / 440 Hz). The frames are brought to the
audio rate by a **transposed convolution** (stride = samples per frame), and each layer adds
a 1x1 convolution of the result to its gates:

    z = tanh(W_f * x + V_f * c) . sigmoid(W_g * x + V_g * c),   c = upsample(contour)

so every audio sample is told the pitch it should have at that moment. The contour is given
for the whole clip (past and future), as the paper's linguistic features are; the samples
stay causal: output t sees x_<t only.

van den Oord et al. 2016, "WaveNet: A Generative Model for Raw Audio", arXiv:1609.03499,
section 2.5 (conditional WaveNets: local conditioning).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from models.checks import check_float, check_int
from models.wavenet import WaveNet

F0_RANGE_HZ = (50.0, 2000.0)
REFERENCE_HZ = 440.0


class PitchWaveNet(WaveNet, paper_url="https://arxiv.org/abs/1609.03499", tags=["audio", "wavenet", "local-conditioning"]):
    """A WaveNet told the pitch contour to follow (see the module docstring).

    Inputs are mu-law codes ``x`` (B, T) int64 as for ``WaveNet``; the labels ``y`` are pitch
    contours (B, F) float32 in Hz, in [50, 2000], one value per frame of ``frame_ms``; F frames
    cover F * frame_ms milliseconds, at least the clip. ``loss`` is in nats per audio sample.

    Args:
        cond_channels: channels of the upsampled contour, in [1, 64]; frame_ms: milliseconds
            per contour value, in [1, 100] (a whole number of samples); the others as ``WaveNet``
            (no classes).

    Raises:
        ValueError: a setting out of range; contours of the wrong shape, non-finite or out of
            [50, 2000] Hz, or too short for the clip.
    """

    family: ClassVar[str] = "wavenet_pitch"
    title: ClassVar[str] = "WaveNet with local conditioning on a pitch contour"
    data_kind: ClassVar[str] = "pitch"
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 1500, "lr": 2e-3, "batch_size": 8}

    def __init__(
        self, residual_channels: int = 32, skip_channels: int = 64, dilations: list[int] | None = None, kernel_size: int = 2,
        n_codes: int = 256, sample_rate_hz: int = 8000, clip_seconds: float = 0.5, cond_channels: int = 16, frame_ms: float = 10.0,
    ):
        super().__init__(0, residual_channels, skip_channels, dilations, kernel_size, n_codes, sample_rate_hz, clip_seconds)
        self.cond_channels = check_int("cond_channels", cond_channels, 1, 64)
        self.frame_ms = check_float("frame_ms", frame_ms, 1.0, 100.0)
        hop = self.frame_ms * self.sample_rate_hz / 1000
        if abs(hop - round(hop)) > 1e-6:
            raise ValueError(f"frame_ms must be a whole number of samples at {self.sample_rate_hz} Hz, got {frame_ms} ms")
        self.hop = int(round(hop))
        self.upsample = nn.ConvTranspose1d(1, self.cond_channels, self.hop, stride=self.hop)
        # V_f * c and V_g * c of every layer at once: a 1x1 convolution to layers * 2R channels.
        self.local = nn.Conv1d(self.cond_channels, self.n_layers * 2 * self.residual_channels, 1)

    @property
    def conditional(self) -> bool:  # type: ignore[override]
        """Always: the model needs a pitch contour."""
        return True

    def frames_for(self, n_samples: int) -> int:
        """Contour frames that cover ``n_samples`` audio samples."""
        return math.ceil(n_samples / self.hop)

    def check_labels(self, y: Tensor | None, n: int) -> Tensor:
        """Validate pitch contours for ``n`` clips: (n, F) float, finite, in [50, 2000] Hz.

        Raises:
            ValueError: missing, of the wrong shape, or out of range (the message says which).
        """
        if y is None:
            raise ValueError("this WaveNet follows a pitch contour: give one, (clips, frames) in Hz")
        if not isinstance(y, Tensor) or y.dim() != 2 or len(y) != n or not y.is_floating_point() or y.shape[1] < 1:
            raise ValueError(f"the pitch contour must be float of shape ({n}, frames), got {getattr(y, 'dtype', type(y))} {tuple(getattr(y, 'shape', ()))}")
        v = y.detach()
        if not bool(torch.isfinite(v).all()) or float(v.min()) < F0_RANGE_HZ[0] or float(v.max()) > F0_RANGE_HZ[1]:
            raise ValueError(f"the pitch contour must be in [{F0_RANGE_HZ[0]:g}, {F0_RANGE_HZ[1]:g}] Hz")
        return y

    def _conditioning(self, y: Tensor | None, n: int) -> Tensor:
        """(n, layers, 2R, F * hop) gate biases V * upsample(log2(f0 / 440)) for every sample."""
        c = torch.log2(y.to(self.device, self.embedding.weight.dtype) / REFERENCE_HZ)
        features = self.upsample(c[:, None, :])  # (n, cond_channels, F * hop)
        return self.local(features).view(n, self.n_layers, 2 * self.residual_channels, -1)

    def logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (B, n_codes, T) of p(x_t | x_<t, contour). Raises ValueError: bad codes, or a contour shorter than the clip."""
        x = self.check_codes(x)
        self._check_covers(y, x.shape[1], len(x))
        return super().logits(x, y)

    def _check_covers(self, y: Tensor | None, n_samples: int, n: int) -> None:
        y = self.check_labels(y, n)
        if y.shape[1] * self.hop < n_samples:
            raise ValueError(f"the contour covers {y.shape[1] * self.hop} samples; the clip has {n_samples}: give {self.frames_for(n_samples)} frames")

    def _check_generate(self, n: int, n_samples: int, y: Tensor | None, temperature: float, prime: Tensor | None) -> tuple:
        if prime is not None:
            raise ValueError("this WaveNet does not continue a clip: it draws one to follow the contour")
        out = super()._check_generate(n, n_samples, y, temperature, prime)
        self._check_covers(y, out[1], out[0])
        return out

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None, **kwargs: Any) -> Tensor:
        """``n`` clips following the contours ``y`` (n, F) in Hz: waveforms (n, T) float32 in [-1, 1];
        T (``n_samples``) defaults to the contour's length (F frames), at most 10 s. Without ``y``, a steady
        A4 (440 Hz) of ``n_samples``, or of the model's clip length (the CLI's ``sample``)."""
        if y is None:
            asked = kwargs.get("n_samples")  # a bad value is refused by WaveNet's checks below, with its sentence
            y = torch.full((n, self.frames_for(asked if isinstance(asked, int) and asked > 0 else self.clip_samples)), REFERENCE_HZ)
        kwargs.setdefault("n_samples", min(y.shape[1] * self.hop, 10 * self.sample_rate_hz))
        return super().sample(n, y, generator, **kwargs)

    def sample_iter(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None):
        """``sample`` in one step; labels that are not contours (the trainer's class ids) give a steady A4."""
        yield self.sample(n, y if y is not None and y.is_floating_point() else None, generator)

    @torch.no_grad()
    def init_from(self, wavenet: WaveNet) -> PitchWaveNet:
        """Copy the audio path (embedding, dilated and 1x1 convolutions, head) of a trained
        ``WaveNet`` of the same shape, so that training starts from a model that already makes
        tones and only learns to follow the contour; the conditioning layers keep their init.

        Raises:
            ValueError: a WaveNet of another shape.
        """
        mine = self.state_dict()
        shared = {k: v for k, v in wavenet.state_dict().items() if not k.startswith("class_embedding")}
        bad = [k for k, v in shared.items() if k not in mine or mine[k].shape != v.shape]
        if bad:
            raise ValueError(f"the WaveNet's layers do not match this model's ({', '.join(bad[:3])})")
        self.load_state_dict(shared, strict=False)
        return self

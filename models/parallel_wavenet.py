"""Parallel WaveNet: an inverse autoregressive flow student distilled from a WaveNet teacher.

The student turns logistic noise z (one value per audio sample) into audio in one parallel
pass. Each of its flows is a small dilated causal convolution network (a WaveNet without a
softmax) that reads z_<t and gives a shift mu_t and a scale s_t:

    x_t = z_t * s_t(z_<t) + mu_t(z_<t)

Stacked flows compose: the whole student is again a logistic per step, with scale prod_k s_t^(k)
and a shift that accumulates, so x_t given z_<t is Logistic(mu_t, s_t) with both known. Sampling
needs no loop over time (every z is drawn first); evaluating the student's own density would
(that is the IAF's trade, the opposite of the teacher's).

**Probability density distillation**: the student minimises KL(P_S || P_T) = H(P_S, P_T) - H(P_S)
per step, on its own samples. The teacher (a trained ``models.wavenet.WaveNet``, 256-way softmax
over mu-law codes) reads the student's sample x_<t once, in parallel, and gives p_T(. | x_<t); the
student's step distribution, Logistic(mu_t, s_t), is put into the same 256 code bins (differences of
the logistic CDF at the bin edges), so both the cross-entropy and the entropy are sums over 256
bins, computed exactly, not sampled: KL_t = sum_k P_S(k) (log P_S(k) - log P_T(k)) >= 0. The teacher
is frozen and its input x_<t carries no gradient (its input is discrete codes); the gradient flows
through the student's mu_t and s_t. The paper also adds a power (spectral) loss; this one does not.

van den Oord et al. 2017, "Parallel WaveNet: Fast High-Fidelity Speech Synthesis", arXiv:1711.10433;
IAF: Kingma et al. 2016, arXiv:1606.04934.

Values live in the mu-law companded domain [-1, 1] (code k sits at 2k / 255 - 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import GenerativeModel
from models.checks import check_float, check_int
from models.layers import CausalConv1d
from models.mu_law import N_CODES, mu_law_decode

LOG_SCALE_RANGE = (-9.0, 2.0)


class Flow(nn.Module):
    """One IAF step: a dilated causal stack over z (B, T) that gives (mu, log s), each (B, T), where
    position t sees z_<t only (the input is shifted by one). Gated layers with a class bias."""

    def __init__(self, channels: int, dilations: list[int], n_classes: int):
        super().__init__()
        self.inp = CausalConv1d(1, channels, 2)
        self.dilated = nn.ModuleList(CausalConv1d(channels, 2 * channels, 2, dilation=d) for d in dilations)
        self.res = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in dilations)
        self.classes = nn.Embedding(n_classes, len(dilations) * 2 * channels) if n_classes else None
        self.out = nn.Conv1d(channels, 2, 1)
        nn.init.zeros_(self.out.weight)  # each flow starts as the identity (mu 0, s 1)
        nn.init.zeros_(self.out.bias)

    def forward(self, z: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        h = self.inp(F.pad(z, (1, 0))[:, None, :-1])  # position t reads z_<t
        cond = self.classes(y).view(len(z), len(self.dilated), -1, 1) if self.classes is not None else None
        c = h.shape[1]
        for i, (conv, res) in enumerate(zip(self.dilated, self.res, strict=True)):
            a = conv(h) + (cond[:, i] if cond is not None else 0)
            h = h + res(torch.tanh(a[:, :c]) * torch.sigmoid(a[:, c:]))
        mu, log_s = self.out(h).unbind(1)
        return mu, log_s.clamp(*LOG_SCALE_RANGE)


class ParallelWaveNet(GenerativeModel, paper_url="https://arxiv.org/abs/1711.10433", tags=["audio", "wavenet", "iaf", "distillation"]):
    """The IAF student (see the module docstring).

    Args:
        n_classes: the teacher's classes (0 or up to 64); n_flows: 1 to 6; channels: 4 to 128;
            dilations: per flow, each 1 to 4096, 1 to 16 layers (default 1, 2, ..., 256);
            sample_rate_hz: 1000 to 48000; clip_seconds: training clip length (0, 10];
            teacher: the bundled checkpoint that taught it (a name, for the record).

    Raises:
        ValueError: a setting out of range; ``loss`` without a teacher (``set_teacher``).
    """

    family: ClassVar[str] = "parallel_wavenet"
    title: ClassVar[str] = "Parallel WaveNet (IAF student, probability density distillation)"
    data_kind: ClassVar[str] = "audio"
    nll_kind: ClassVar[str] = "none"
    eval_batch_size: ClassVar[int] = 8
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 1500, "lr": 1e-3, "batch_size": 4}

    def __init__(
        self, n_classes: int = 10, n_flows: int = 3, channels: int = 32, dilations: list[int] | None = None, sample_rate_hz: int = 8000,
        clip_seconds: float = 0.25, teacher: str = "wavenet",
    ):
        super().__init__()
        dilations = [2**i for i in range(9)] if dilations is None else dilations
        if not isinstance(dilations, list | tuple) or not 1 <= len(dilations) <= 16:
            raise ValueError("dilations must be a list of 1 to 16 layers")
        self.dilations = [check_int("dilation", d, 1, 4096) for d in dilations]
        self.n_classes, self.n_flows = check_int("n_classes", n_classes, 0, 64), check_int("n_flows", n_flows, 1, 6)
        self.channels = check_int("channels", channels, 4, 128)
        self.sample_rate_hz = check_int("sample_rate_hz", sample_rate_hz, 1000, 48_000)
        self.clip_seconds = check_float("clip_seconds", clip_seconds, 1e-3, 10.0)
        if not isinstance(teacher, str):
            raise ValueError("teacher must be the name of a checkpoint")
        self.teacher_name = teacher
        self.flows = nn.ModuleList(Flow(self.channels, self.dilations, self.n_classes) for _ in range(self.n_flows))
        self._teacher: list[Any] = []  # a list, so the teacher is neither a submodule nor saved with the student

    @property
    def conditional(self) -> bool:  # type: ignore[override]
        return self.n_classes > 0

    @property
    def clip_samples(self) -> int:
        return round(self.clip_seconds * self.sample_rate_hz)

    def check_labels(self, y: Tensor | None, n: int) -> Tensor | None:
        """Class ids (n,) int64 in [0, n_classes - 1], or None for an unconditional student. Raises ValueError."""
        if not self.conditional:
            if y is not None:
                raise ValueError("this student is not conditional: it takes no class")
            return None
        if y is None or y.shape != (n,) or y.dtype != torch.int64 or bool(((y < 0) | (y >= self.n_classes)).any()):
            raise ValueError(f"give one class id in [0, {self.n_classes - 1}] per clip")
        return y

    def set_teacher(self, teacher: nn.Module) -> ParallelWaveNet:
        """Attach the frozen teacher (a ``WaveNet`` with the same classes and rate) used by ``loss``. Raises ValueError: a mismatch."""
        if getattr(teacher, "n_classes", None) != self.n_classes or getattr(teacher, "sample_rate_hz", None) != self.sample_rate_hz:
            raise ValueError("the teacher must be a WaveNet with the student's classes and sample rate")
        self._teacher[:] = [teacher.eval().requires_grad_(False)]
        return self

    # -- the flow -----------------------------------------------------------------------------------
    def noise(self, n: int, n_samples: int, generator: torch.Generator | None = None) -> Tensor:
        """Standard logistic noise (n, n_samples) float32: log(u) - log(1 - u), u uniform."""
        u = torch.rand(n, n_samples, generator=generator).clamp(1e-5, 1 - 1e-5).to(self.device)
        return torch.log(u) - torch.log1p(-u)

    def transform(self, z: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Noise z (B, T) through every flow, in parallel: (x, mu, log_s), each (B, T), where x_t =
        z_t * exp(log_s_t) + mu_t and (mu_t, log_s_t) depend on z_<t only: the student's step
        distribution is Logistic(mu_t, exp(log_s_t)) given the noise before t."""
        y = self.check_labels(y, len(z))
        x, mu_total, log_s_total = z, torch.zeros_like(z), torch.zeros_like(z)
        for flow in self.flows:
            mu, log_s = flow(x, y)
            x = x * log_s.exp() + mu
            mu_total = mu_total * log_s.exp() + mu
            log_s_total = log_s_total + log_s
        return x, mu_total, log_s_total

    @staticmethod
    def bin_probs(mu: Tensor, log_s: Tensor, n_codes: int = N_CODES) -> Tensor:
        """The logistic's mass in each of ``n_codes`` bins of [-1, 1] (the ends open), (..., n_codes), summing to 1."""
        edges = (torch.arange(n_codes - 1, device=mu.device) * 2 + 1) / (n_codes - 1) - 1  # midway between code k's value 2k / 255 - 1 and the next
        cdf = torch.sigmoid((edges - mu[..., None]) * torch.exp(-log_s[..., None]))
        cdf = F.pad(cdf, (1, 0), value=0.0)
        cdf = F.pad(cdf, (0, 1), value=1.0)
        return (cdf[..., 1:] - cdf[..., :-1]).clamp_min(1e-12)

    @staticmethod
    def to_codes(x: Tensor, n_codes: int = N_CODES) -> Tensor:
        """Companded values (any shape) to mu-law codes in [0, n_codes - 1] (clipped to [-1, 1])."""
        return ((x.clamp(-1, 1) + 1) / 2 * (n_codes - 1)).round().long()

    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Distillation on the student's own samples (``x``, real clips, gives only the batch size and
        length): ``loss`` = ``kl`` = ``cross_entropy`` - ``entropy``, nats per audio sample, over the 256
        code bins, and ``entropy_continuous`` (mean log s + 2: the logistic's differential entropy)."""
        if not self._teacher:
            raise ValueError("attach the teacher WaveNet first (set_teacher)")
        teacher = self._teacher[0]
        z = self.noise(len(x), x.shape[1], generator)
        sample, mu, log_s = self.transform(z, y)
        with torch.no_grad():
            log_p_teacher = F.log_softmax(teacher.logits(self.to_codes(sample.detach()), y).float(), dim=1).transpose(1, 2)  # (B, T, 256)
        p = self.bin_probs(mu, log_s)
        cross_entropy = -(p * log_p_teacher).sum(-1).mean()
        entropy = -(p * p.log()).sum(-1).mean()
        kl = cross_entropy - entropy
        return {"loss": kl, "kl": kl.detach(), "cross_entropy": cross_entropy.detach(), "entropy": entropy.detach(), "entropy_continuous": (log_s + 2).mean().detach()}

    # -- generation: one parallel pass ----------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None, *, n_samples: int | None = None, temperature: float = 1.0, **_: Any,
    ) -> Tensor:
        """``n`` clips (n, n_samples) float32 waveforms in [-1, 1] in one pass: noise (scaled by
        ``temperature``, 0.01 to 5), the flows, mu-law codes, decoded. Raises ValueError: a bad value."""
        n = check_int("clips", n, 1, 256)
        n_samples = check_int("samples", self.clip_samples if n_samples is None else n_samples, 1, 10 * self.sample_rate_hz)
        temperature = check_float("temperature", temperature, 0.01, 5.0)
        x, _, _ = self.transform(self.noise(n, n_samples, generator) * temperature, self.check_labels(y, n))
        return mu_law_decode(self.to_codes(x))

    def sample_iter(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Iterator[Tensor | None]:
        """``sample`` in one step: it is one pass."""
        yield self.sample(n, y, generator)

"""WaveNet: an autoregressive model of raw audio, one 256-way softmax per sample.

A waveform x_1..x_T (floats in [-1, 1]) is companded by the mu-law and quantised to 8
bits (``models.mu_law``), so each sample is one of 256 codes, and modelled by the chain rule,
p(x) = prod_t p(x_t | x_<t, y), each factor a softmax over the 256 codes. The network
that gives the softmax at t sees only x_<t: a stack of **causal convolutions** whose
**dilation** doubles layer by layer (1, 2, 4, ..., 512, and the cycle may repeat), so the
receptive field grows exponentially with depth: ``1 + (kernel_size - 1) * sum(dilations)``
samples. Each layer is a **gated activation unit**, tanh(W_f * h + V_f y) . sigmoid(W_g * h
+ V_g y), with a **residual** connection to the next layer and a **skip** connection to
the output head (ReLU, 1x1, ReLU, 1x1, softmax). **Global conditioning**: a class id y
(here the pitch of a note, a chirp or a melody) adds a learnt vector to every gate.

van den Oord et al. 2016, "WaveNet: A Generative Model for Raw Audio", arXiv:1609.03499.

Training computes every conditional at once (teacher forcing). Generation is sequential,
and two generators are built:

- ``naive``: for every new sample, run the whole stack over the last receptive field of
  inputs: O(receptive field x layers) per sample;
- ``fast`` (Paine et al. 2016, "Fast Wavenet Generation Algorithm", arXiv:1611.09482):
  each layer keeps a queue of its last ``(kernel_size - 1) * dilation`` inputs, so a new
  sample costs one step of each layer: O(layers) per sample.

For the same weights, seed, conditioning and priming they draw identical samples (the
same uniform numbers go through the same softmax), which the tests check.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import GenerativeModel, seeded_init
from models.checks import check_float, check_int
from models.layers import CausalConv1d
from models.mu_law import N_CODES, mu_law_decode

DEFAULT_DILATIONS = [2**i for i in range(10)]  # 1, 2, ..., 512: a receptive field of 1,024 samples
MAX_LAYERS = 64
MAX_DILATION = 4096
MAX_CLASSES = 64
MAX_SAMPLE_RATE_HZ = 48_000
MAX_GENERATE_SAMPLES = 10 * MAX_SAMPLE_RATE_HZ  # 10 s at the highest rate
SAMPLE_STEP = 250  # audio samples between the yields of ``sample_iter``


def receptive_field(dilations: Sequence[int], kernel_size: int = 2) -> int:
    """Samples of the past the stack sees for one prediction: ``1 + (kernel_size - 1) *
    sum(dilations)``. The input is shifted by one sample, so the softmax for x_t is a
    function of x_{t - R} .. x_{t - 1} with R this number."""
    return 1 + (kernel_size - 1) * sum(dilations)


def measured_receptive_field(dilations: Sequence[int], kernel_size: int = 2) -> int:
    """The receptive field of a stack of ``dilations`` measured by backpropagation, as a
    check of ``receptive_field``: the number of input positions with a non-zero gradient
    of the last position's ``WaveNet.skip_sum`` (taken before the head, whose ReLUs may
    silence a random network's gradient) in a random 2-channel network, in float64.
    Cached (64 stacks): the same stack is measured once per process.

    It equals ``receptive_field`` for a stack without gaps (dilations doubling from 1
    with 2 taps, tripling from 1 with 3 taps, repeated or not); a stack with gaps, such
    as [2, 4], sees fewer positions (4) than it spans (7).

    Args:
        dilations: each in [1, 4096], 1 to 64 layers; kernel_size: taps, in [2, 4].

    Raises:
        ValueError: a stack ``WaveNet`` refuses.
    """
    return _measure_receptive_field(tuple(dilations), kernel_size)


@functools.lru_cache(maxsize=64)
def _measure_receptive_field(dilations: tuple[int, ...], kernel_size: int) -> int:
    net = seeded_init(WaveNet, 0, n_classes=0, residual_channels=2, skip_channels=2, dilations=list(dilations), kernel_size=kernel_size)
    net = net.double()
    field = receptive_field(dilations, kernel_size)
    h = torch.randn(1, 2, field + 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))  # (1, R, T): 16 past the field
    h.requires_grad_(True)
    with torch.enable_grad():  # also when called under no_grad or inference_mode
        net.skip_sum(h)[0, :, -1].sum().backward()
    return int((h.grad[0].abs().sum(0) > 0).sum())


class WaveNet(GenerativeModel, paper_url="https://arxiv.org/abs/1609.03499", tags=["audio", "wavenet"]):
    """WaveNet over 8-bit mu-law audio with optional global conditioning (see the module
    docstring; van den Oord et al. 2016, arXiv:1609.03499; fast generation after Paine et
    al. 2016, arXiv:1611.09482).

    Inputs are clips of mu-law codes ``x`` (B, T) int64 in [0, n_codes - 1], at
    ``sample_rate_hz``; labels ``y`` (B,) int64 in [0, n_classes - 1] when ``n_classes``
    > 0. ``loss`` is in nats per audio sample; ``log_prob`` in nats per clip.

    Args:
        n_classes: 0 (unconditional) or the number of conditioning classes, <= 64.
        residual_channels: channels of the residual stream (and of the gate), in [2, 256].
        skip_channels: channels of the skip connections and the output head, in [2, 512].
        dilations: the dilation of each layer, each in [1, 4096], at most 64 layers; by
            default 1, 2, ..., 512 (a receptive field of 1,024 samples, 128 ms at 8 kHz).
        kernel_size: taps of each dilated convolution, in [2, 4].
        n_codes: quantisation levels of the mu-law, in [2, 65536] (256 is 8 bits).
        sample_rate_hz: the rate the model was trained at, in [1000, 48000].
        clip_seconds: length of a sample drawn by ``sample`` by default, in (0, 10].

    Raises:
        ValueError: a setting out of range (the message names it).
    """

    family: ClassVar[str] = "wavenet"
    title: ClassVar[str] = "WaveNet over mu-law audio (van den Oord et al. 2016)"
    data_kind: ClassVar[str] = "audio"
    nll_kind: ClassVar[str] = "exact"
    eval_batch_size: ClassVar[int] = 32
    # One minute on 2 CPU cores is about 230 steps of these defaults.
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 3000, "lr": 2e-3, "batch_size": 8}

    def __init__(
        self, n_classes: int = 10, residual_channels: int = 32, skip_channels: int = 64, dilations: list[int] | None = None,
        kernel_size: int = 2, n_codes: int = N_CODES, sample_rate_hz: int = 8000, clip_seconds: float = 0.25,
    ):
        super().__init__()
        dilations = list(DEFAULT_DILATIONS) if dilations is None else dilations
        if not isinstance(dilations, list | tuple) or not 1 <= len(dilations) <= MAX_LAYERS:
            raise ValueError(f"dilations must be a list of 1 to {MAX_LAYERS} layers, got {dilations!r}"[:300])
        self.dilations = [check_int("dilation", d, 1, MAX_DILATION) for d in dilations]
        self.n_classes = check_int("n_classes", n_classes, 0, MAX_CLASSES)
        self.residual_channels = R = check_int("residual_channels", residual_channels, 2, 256)
        self.skip_channels = S = check_int("skip_channels", skip_channels, 2, 512)
        self.kernel_size = check_int("kernel_size", kernel_size, 2, 4)
        self.n_codes = check_int("n_codes", n_codes, 2, 65536)
        self.sample_rate_hz = check_int("sample_rate_hz", sample_rate_hz, 1000, MAX_SAMPLE_RATE_HZ)
        self.clip_seconds = check_float("clip_seconds", clip_seconds, 1e-3, 10.0)
        # The one-hot input times a 1x1 convolution is an embedding.
        self.embedding = nn.Embedding(self.n_codes, R)
        self.dilated = nn.ModuleList(CausalConv1d(R, 2 * R, self.kernel_size, dilation=d) for d in self.dilations)
        self.res_skip = nn.ModuleList(nn.Conv1d(R, R + S, 1) for _ in self.dilations)
        # V_f y and V_g y of every layer at once: (n_classes, layers * 2R).
        self.class_embedding = nn.Embedding(self.n_classes, len(self.dilations) * 2 * R) if self.n_classes else None
        self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(S, S, 1), nn.ReLU(), nn.Conv1d(S, self.n_codes, 1))

    @property
    def conditional(self) -> bool:  # type: ignore[override]
        """Whether the model takes class ids (``n_classes`` > 0)."""
        return bool(self.n_classes)

    @property
    def n_layers(self) -> int:
        """The number of dilated layers."""
        return len(self.dilations)

    @property
    def receptive_field(self) -> int:
        """Samples of the past each prediction sees (see ``receptive_field``)."""
        return receptive_field(self.dilations, self.kernel_size)

    @property
    def receptive_field_ms(self) -> float:
        """The receptive field in milliseconds at ``sample_rate_hz``."""
        return 1000.0 * self.receptive_field / self.sample_rate_hz

    @property
    def clip_samples(self) -> int:
        """Samples in a clip of ``clip_seconds``."""
        return max(1, round(self.clip_seconds * self.sample_rate_hz))

    # -- checks -------------------------------------------------------------------------------
    def check_labels(self, y: Tensor | None, n: int) -> Tensor | None:
        """Validate class ids for ``n`` clips.

        Raises:
            ValueError: ids given to an unconditional model, missing for a conditional
                one, of the wrong shape or dtype, or outside [0, n_classes - 1].
        """
        if not self.conditional:
            if y is not None:
                raise ValueError("this WaveNet is not conditional: it takes no class")
            return None
        if y is None:
            raise ValueError(f"this WaveNet is conditional: give a class in [0, {self.n_classes - 1}]")
        if y.shape != (n,) or y.dtype != torch.int64:
            raise ValueError(f"classes must be int64 of shape ({n},), got {y.dtype} {tuple(y.shape)}")
        if bool(((y < 0) | (y >= self.n_classes)).any()):
            raise ValueError(f"classes must be in [0, {self.n_classes - 1}]")
        return y.to(self.device)

    def check_codes(self, x: Tensor) -> Tensor:
        """Validate a batch of mu-law codes (B, T) int64 in [0, n_codes - 1].

        Raises:
            ValueError: another shape, dtype or range.
        """
        if not isinstance(x, Tensor) or x.ndim != 2 or x.dtype != torch.int64 or x.shape[1] < 1:
            raise ValueError(f"audio must be mu-law codes of shape (B, T) int64, got {getattr(x, 'dtype', type(x))} {tuple(getattr(x, 'shape', ()))}")
        if bool(((x < 0) | (x >= self.n_codes)).any()):
            raise ValueError(f"mu-law codes must be in [0, {self.n_codes - 1}]")
        return x.to(self.device)

    # -- teacher forcing ------------------------------------------------------------------------
    def _conditioning(self, y: Tensor | None, n: int) -> Tensor | None:
        """(n, layers, 2R) gate biases V y of every layer, or None."""
        if self.class_embedding is None:
            return None
        return self.class_embedding(y).view(n, self.n_layers, 2 * self.residual_channels)

    def skip_sum(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        """The sum of the skip connections, (B, S, T), that the output head turns into
        logits, from the stack's input features ``h`` (B, R, T) float (position t holds
        the embedding of x_{t-1}; any features will do, e.g. to probe which positions an
        output depends on) and, for a conditional model, class ids ``y`` (B,) int64.

        Raises:
            ValueError: ``h`` not (B, residual_channels, T), or bad class ids.
        """
        if h.ndim != 3 or h.shape[1] != self.residual_channels:
            raise ValueError(f"features must be (B, {self.residual_channels}, T), got {tuple(h.shape)}")
        y = self.check_labels(y, len(h))
        return self._skips(h, self._conditioning(y, len(h)))

    def _skips(self, h: Tensor, cond: Tensor | None) -> Tensor:
        """``skip_sum`` with the gate biases ``cond`` (B, layers, 2R) already computed."""
        R = self.residual_channels
        skip = 0
        for i, (conv, res_skip) in enumerate(zip(self.dilated, self.res_skip)):
            z = conv(h)  # (B, 2R, T)
            if cond is not None:  # global (B, layers, 2R), or local (B, layers, 2R, >= T): see models.wavenet_local
                z = z + (cond[:, i, :, : z.shape[-1]] if cond.dim() == 4 else cond[:, i, :, None])
            u = torch.tanh(z[:, :R]) * torch.sigmoid(z[:, R:])
            rs = res_skip(u)  # (B, R + S, T)
            h = h + rs[:, :R]
            skip = skip + rs[:, R:]
        return skip

    def _stack(self, h: Tensor, cond: Tensor | None, last_only: bool = False) -> Tensor:
        """Logits (B, n_codes, T) from the shifted input features h (B, R, T); with
        ``last_only``, (B, n_codes, 1) of the last position (the head runs only there)."""
        skip = self._skips(h, cond)
        return self.head(skip[:, :, -1:] if last_only else skip)

    def _shifted_input(self, x: Tensor) -> Tensor:
        """Input features (B, R, T): position t holds the embedding of x_{t-1}, position 0
        zeros (the start), so output t never sees x_t."""
        h = self.embedding(x[:, :-1]).transpose(1, 2)  # (B, R, T - 1)
        return F.pad(h, (1, 0))

    def logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (B, n_codes, T) of p(x_t | x_<t, y) for every t at once (teacher forcing).

        Args:
            x: mu-law codes (B, T) int64 in [0, n_codes - 1].
            y: class ids (B,) int64, for a conditional model.

        Raises:
            ValueError: bad codes or class ids.
        """
        x = self.check_codes(x)
        y = self.check_labels(y, len(x))
        return self._stack(self._shifted_input(x), self._conditioning(y, len(x)))

    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Exact log-likelihood of each clip, (B,) nats (sum over its T samples)."""
        return -F.cross_entropy(self.logits(x, y), x.to(self.device), reduction="none").sum(1)

    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Mean negative log-likelihood per audio sample on codes x (B, T).

        Returns:
            ``{"loss", "nll"}`` in nats per sample and ``"bits_per_sample"`` (nll / ln 2).
        """
        nll = F.cross_entropy(self.logits(x, y), x.to(self.device))
        return {"loss": nll, "nll": nll.detach(), "bits_per_sample": nll.detach() / math.log(2)}

    # -- generation ----------------------------------------------------------------------------
    def _draw(self, logits: Tensor, temperature: float, generator: torch.Generator | None) -> Tensor:
        """One code per row of logits (B, n_codes), by inverse-CDF sampling of
        softmax(logits / temperature) with one uniform number per row."""
        probs = torch.softmax(logits.double() / temperature, dim=-1)
        u = torch.rand(len(logits), 1, generator=generator, dtype=torch.float64, device=generator.device if generator else "cpu")
        code = torch.searchsorted(probs.cumsum(-1), u.to(probs.device))
        return code.squeeze(1).clamp_(max=self.n_codes - 1)

    def _check_generate(self, n: int, n_samples: int, y: Tensor | None, temperature: float, prime: Tensor | None) -> tuple:
        n = check_int("clips", n, 1, 256)
        n_samples = check_int("samples to generate", n_samples, 1, MAX_GENERATE_SAMPLES)
        temperature = check_float("temperature", temperature, 0.01, 5.0)
        y = self.check_labels(y, n)
        if prime is not None:
            prime = self.check_codes(prime)
            if len(prime) != n:
                raise ValueError(f"the priming audio must have one row per clip ({n}), got {len(prime)}")
        return n, n_samples, y, temperature, prime

    @torch.inference_mode()
    def generate(
        self, n: int, n_samples: int, y: Tensor | None = None, *, temperature: float = 1.0, prime: Tensor | None = None,
        generator: torch.Generator | None = None, method: str = "fast", chunk: int = 2000,
    ) -> Iterator[Tensor]:
        """Generate ``n`` clips of ``n_samples`` new samples each, one sample at a time.

        Args:
            n: clips, in [1, 256]; n_samples: new samples per clip, in [1, 480,000].
            y: class ids (n,) for a conditional model.
            temperature: the softmax's temperature, in [0.01, 5] (below 1: more certain).
            prime: optional mu-law codes (n, P) the clips continue (teacher-forced first).
            generator: a CPU ``torch.Generator`` for reproducible draws.
            method: ``"fast"`` (per-layer queues, O(layers) per sample) or ``"naive"``
                (the whole receptive field recomputed per sample).
            chunk: new samples between yields, >= 1.

        Yields:
            The new codes so far, (n, t) int64, every ``chunk`` samples and at the end
            (the last yield has t = n_samples). The model must be in eval mode.

        Raises:
            ValueError: any argument out of range, or a model in training mode.
        """
        if self.training:
            raise ValueError("call model.eval() before generating")
        n, n_samples, y, temperature, prime = self._check_generate(n, n_samples, y, temperature, prime)
        chunk = check_int("chunk", chunk, 1, MAX_GENERATE_SAMPLES)
        if method == "fast":
            steps = self._fast(n, n_samples, y, temperature, prime, generator)
        elif method == "naive":
            steps = self._naive(n, n_samples, y, temperature, prime, generator)
        else:
            raise ValueError(f"method must be 'fast' or 'naive', got {method!r}")
        out = torch.empty(n, n_samples, dtype=torch.int64, device=self.device)
        for t, code in enumerate(steps):
            out[:, t] = code
            if (t + 1) % chunk == 0 or t + 1 == n_samples:
                yield out[:, : t + 1]

    def _naive(self, n: int, n_samples: int, y, temperature: float, prime, generator) -> Iterator[Tensor]:
        """Codes (n,) of each new sample, recomputing the last receptive field every time."""
        cond = self._conditioning(y, n)
        history = prime if prime is not None else torch.empty(n, 0, dtype=torch.int64, device=self.device)
        field = self.receptive_field
        for _ in range(n_samples):
            t = history.shape[1]  # the position being drawn
            start = max(0, t - field + 1)
            # Input features at positions start..t: embeddings of x_{start-1}..x_{t-1}.
            h = self.embedding(history[:, max(0, start - 1) :]).transpose(1, 2)
            if start == 0:
                h = F.pad(h, (1, 0))  # position 0 sees the start (zeros)
            local = cond if cond is None or cond.dim() == 3 else cond[..., start : t + 1]  # a local conditioning's positions start..t
            code = self._draw(self._stack(h, local, last_only=True)[:, :, -1], temperature, generator)
            history = torch.cat([history, code[:, None]], 1)
            yield code

    def _fast(self, n: int, n_samples: int, y, temperature: float, prime, generator) -> Iterator[Tensor]:
        """Codes (n,) of each new sample with per-layer queues (Paine et al. 2016): layer l
        keeps its last (kernel_size - 1) * d_l inputs, so each step runs every layer once,
        on one time step, as a few matrix products.

        Each queue is a Python list of tensors used as a ring buffer (a read or a write is
        a list access, not a tensor operation: at 8 kHz every microsecond counts). The
        residual biases are folded: the stream carries h - B_l, where B_l is the sum of
        the residual biases below layer l, and each layer's gate bias absorbs B_l."""
        R, k = self.residual_channels, self.kernel_size
        cond = self._conditioning(y, n)
        dtype, device = self.embedding.weight.dtype, self.device
        lengths = [(k - 1) * d for d in self.dilations]
        offsets = torch.zeros(self.n_layers, R, dtype=dtype, device=device)  # B_l
        if self.n_layers > 1:
            offsets[1:] = torch.stack([m.bias[:R] for m in self.res_skip[:-1]]).cumsum(0)
        layers = []
        for i, (conv, res_skip) in enumerate(zip(self.dilated, self.res_skip)):
            taps = [conv.weight[:, :, k - 1 - j].t().contiguous() for j in range(k)]  # tap j reads h_{t - j d}: (R, 2R)
            bias = conv.bias + offsets[i] @ sum(taps)
            c = cond[:, i] if cond is not None else None  # (n, 2R), or (n, 2R, T) for local conditioning: a bias per step
            bias = bias.expand(n, 2 * R) if c is None else (bias + c if c.dim() == 2 else bias[:, None] + c)
            queue = [(-offsets[i]).expand(n, R)] * lengths[i]  # the zeros before the start, minus B_l
            layers.append((self.dilations[i], lengths[i], taps, bias.contiguous(), res_skip.weight[:R, :, 0].t().contiguous(), queue))
        skip_w = torch.cat([m.weight[R:, :, 0].t() for m in self.res_skip])  # (layers * R, S)
        skip_b = torch.stack([m.bias[R:] for m in self.res_skip]).sum(0)
        head_1, head_2 = self.head[1], self.head[3]
        head_w1, head_w2 = head_1.weight[:, :, 0].t(), head_2.weight[:, :, 0].t()
        t = 0
        h = torch.zeros(n, R, dtype=dtype, device=device)  # the input at position 0: the start
        if prime is not None and prime.shape[1] > 0:
            t, h = self._fill_queues(prime, cond, [layer[5] for layer in layers], offsets)
        for _ in range(n_samples):
            gates = []
            for d, length, taps, bias, res_w, queue in layers:
                z = torch.addmm(bias if bias.dim() == 2 else bias[:, :, t], h, taps[0])
                for j in range(1, k):
                    z.addmm_(queue[(t - j * d) % length], taps[j])
                queue[t % length] = h
                zf, zg = z.chunk(2, 1)
                u = torch.tanh(zf) * torch.sigmoid(zg)
                gates.append(u)
                h = torch.addmm(h, u, res_w)
            skip = torch.addmm(skip_b, torch.cat(gates, 1), skip_w)
            # The head (ReLU, 1x1, ReLU, 1x1) on one time step, as matrix products.
            logits = torch.addmm(head_2.bias, torch.relu(torch.addmm(head_1.bias, torch.relu(skip), head_w1)), head_w2)
            code = self._draw(logits, temperature, generator)
            h = self.embedding(code)
            t += 1
            yield code

    def _fill_queues(self, prime: Tensor, cond: Tensor | None, queues: list[list[Tensor]], offsets: Tensor) -> tuple[int, Tensor]:
        """Teacher-force the priming codes (n, P) in one pass and load every layer's queue
        with its inputs (minus its offset B_l) at positions P - length .. P - 1. Returns
        (P, the input at position P: the embedding of the last priming code)."""
        R, P = self.residual_channels, prime.shape[1]
        h = self._shifted_input(prime)  # (n, R, P): positions 0..P-1
        for i, (conv, res_skip) in enumerate(zip(self.dilated, self.res_skip)):
            length = len(queues[i])
            for s in range(max(0, P - length), P):
                queues[i][s % length] = h[:, :, s] - offsets[i]
            z = conv(h)
            if cond is not None:
                z = z + cond[:, i, :, None]
            u = torch.tanh(z[:, :R]) * torch.sigmoid(z[:, R:])
            h = h + res_skip(u)[:, :R]
        return P, self.embedding(prime[:, -1])

    @torch.no_grad()
    def sample(
        self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None, *,
        n_samples: int | None = None, temperature: float = 1.0, prime: Tensor | None = None, method: str = "fast",
    ) -> Tensor:
        """``n`` generated clips as waveforms, (n, n_samples) float32 in [-1, 1] (decoded
        mu-law) at ``sample_rate_hz``; ``n_samples`` defaults to ``clip_seconds``' worth.
        A conditional model needs ``y`` (n,). See ``generate`` for the other arguments."""
        codes = None
        for codes in self.generate(
            n, self.clip_samples if n_samples is None else n_samples, y, temperature=temperature, prime=prime,
            generator=generator, method=method, chunk=MAX_GENERATE_SAMPLES,
        ):
            pass
        return mu_law_decode(codes, self.n_codes)

    @torch.no_grad()
    def sample_iter(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Iterator[Tensor | None]:
        """``sample`` (fast, temperature 1, ``clip_seconds`` long) in steps of
        ``SAMPLE_STEP`` audio samples: yields None after each and the waveforms
        (n, clip_samples) in [-1, 1] last, the same as ``sample`` draws."""
        n_samples = self.clip_samples
        for codes in self.generate(n, n_samples, y, generator=generator, chunk=SAMPLE_STEP):
            yield mu_law_decode(codes, self.n_codes) if codes.shape[1] == n_samples else None

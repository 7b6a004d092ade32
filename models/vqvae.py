"""VQ-VAE and VQ-VAE-2: a discrete autoencoder whose codes keep the image's layout, and a
Gated PixelCNN prior over the grid of codes, fitted after it.

An encoder maps a digit to a grid of vectors z_e(x) (7 x 7 here); each is replaced by its
nearest entry of a codebook {e_1, ..., e_K} (vector quantisation), and a decoder maps the
grid of codes z_q(x) back to Bernoulli pixel probabilities. The argmin has no gradient, so
the decoder's gradient is copied onto the encoder's output (the straight-through
estimator, z_e + sg[z_q - z_e]). Van den Oord, Vinyals & Kavukcuoglu (2017, "Neural
Discrete Representation Learning", arXiv:1711.00937) train with

    L = -log p(x | z_q(x)) + ||sg[z_e(x)] - e||^2 + beta ||z_e(x) - sg[e]||^2,

the reconstruction, the codebook loss (moves the codes towards the encoder's outputs) and
the commitment loss (keeps the encoder near its codes; beta = 0.25 in the paper). Instead
of the codebook loss the codes can follow exponential moving averages of the outputs
assigned to them (the paper's appendix A.1). Codes that nothing is assigned to never move
again (index collapse); a dead-code restart re-seeds them from encoder outputs.

Training the autoencoder assumes a uniform prior over the codes. A Gated PixelCNN (van den
Oord et al. 2016, arXiv:1606.05328) is then fitted over the grids of codes of the training
digits: a categorical over K per cell, 49 cells instead of 784 pixels. Sampling draws a
grid of codes from the prior, then decodes it. With a deterministic encoder,
log p(x) >= log p(x | z_q(x)) + log p_prior(z_q(x)): ``log_prob`` is this bound, in nats.

VQ-VAE-2 (Razavi, van den Oord & Vinyals 2019, "Generating Diverse High-Fidelity Images
with VQ-VAE-2", arXiv:1906.00446) quantises at two scales: a top grid (4 x 4 here) for
the global shape and a bottom grid (7 x 7), encoded given the top, for the detail; one
prior per level, the bottom one conditioned on the top codes.

Training is one run (as the DBN's greedy run): the first ``ae_steps`` updates train the
autoencoder, the rest the prior(s) on the frozen autoencoder's codes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import GenerativeModel, check_images
from models.checks import N_CLASSES, check_bool, check_float, check_int
from models.layers import CODE_DIM_RANGE, N_CODES_RANGE, VectorQuantizer, bernoulli_log_prob, generator_device
from models.pixelcnn import CodePrior

MAX_CHANNELS = 256
PHASES = ("autoencoder", "prior")


@dataclass
class Level:
    """One level of codes of an encoded batch: ``z_e`` (B, D, H, W) the encoder's output,
    ``z_q`` (B, D, H, W) its quantisation with the straight-through gradient, ``codes``
    (B, H, W) int64 and the quantiser's ``terms``."""

    z_e: Tensor
    z_q: Tensor
    codes: Tensor
    terms: dict[str, Tensor]


def _res_block(channels: int) -> nn.Module:
    return nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(), nn.Conv2d(channels, channels, 1))


class _Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.block = _res_block(channels)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class VQVAE(GenerativeModel, paper_url="https://arxiv.org/abs/1711.00937"):
    """VQ-VAE on binary 28 x 28 digits with a 7 x 7 grid of codes and a Gated PixelCNN
    prior over it (van den Oord, Vinyals & Kavukcuoglu 2017, arXiv:1711.00937).

    Args:
        n_codes: codebook size K, in [2, 512].
        code_dim: size D of each code vector, in [1, 64].
        hidden: channels of the encoder and decoder, an even number in [8, 256].
        beta: weight of the commitment loss, in [0, 10] (0.25 in the paper).
        ema: codes follow EMAs of their assigned outputs (decay ``decay``, in [0, 0.9999])
            instead of the codebook loss.
        restart_every: re-seed the codes unused over each window of this many updates
            from encoder outputs (dead-code restart), in [0, 10^6]; 0: never.
        ae_steps: the updates that train the autoencoder before the prior trains, in
            [0, 10^7]. Train for more steps than this to fit the prior.
        prior_channels, prior_layers: of the Gated PixelCNN prior, in [1, 256], [1, 12].
        n_classes: 0, or 10 for a class-conditional prior p(z | y).
        prior_shift: the prior trains on the codes of the digits shifted by up to this
            many pixels each way (a random translation per digit and update), in [0, 4].
            On 4,500 training digits a prior fitted to their codes alone memorises them
            (K = 64 without it: the test prior NLL rose from 181 to 376 nats over 4,000
            updates while the train NLL fell to 74); with shifts of up to 2 pixels the
            two stayed within a nat of each other.

    Raises:
        ValueError: an argument out of range.

    Images are (B, 1, 28, 28) float32 in {0, 1}; losses are means over the batch, in nats
    per image for the likelihood terms.
    """

    family: ClassVar[str] = "vqvae"
    title: ClassVar[str] = "VQ-VAE (van den Oord, Vinyals & Kavukcuoglu 2017)"
    data_kind: ClassVar[str] = "binary"
    nll_kind: ClassVar[str] = "bound"
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 5000, "lr": 2e-3, "batch_size": 64}
    grids: ClassVar[tuple[tuple[int, int], ...]] = ((7, 7),)
    level_names: ClassVar[tuple[str, ...]] = ("",)

    def __init__(
        self, n_codes: int = 16, code_dim: int = 16, hidden: int = 64, beta: float = 0.25, ema: bool = True, decay: float = 0.99,
        restart_every: int = 100, ae_steps: int = 2500, prior_channels: int = 64, prior_layers: int = 6, n_classes: int = 0,
        prior_shift: int = 2,
    ):
        super().__init__()
        self.n_codes = check_int("codebook size K", n_codes, *N_CODES_RANGE)
        self.code_dim = check_int("code size", code_dim, *CODE_DIM_RANGE)
        self.hidden = check_int("hidden channels", hidden, 8, MAX_CHANNELS)
        if self.hidden % 2:
            raise ValueError(f"hidden channels must be even, got {hidden}")
        self.beta = check_float("beta", beta, 0.0, 10.0)
        self.ema = check_bool("ema", ema)
        self.restart_every = check_int("restart_every", restart_every, 0, 10**6)
        self.ae_steps = check_int("ae_steps", ae_steps, 0, 10**7)
        if n_classes not in (0, N_CLASSES):
            raise ValueError(f"n_classes must be 0 (unconditional prior) or {N_CLASSES} (class-conditional), got {n_classes!r}")
        self.n_classes = n_classes
        self.prior_shift = check_int("prior_shift", prior_shift, 0, 4)
        prior_channels = check_int("prior channels", prior_channels, 1, MAX_CHANNELS)
        prior_layers = check_int("prior layers", prior_layers, 1, 12)
        self.quantizers = nn.ModuleList(VectorQuantizer(n_codes, code_dim, ema, decay) for _ in self.grids)
        self.priors = nn.ModuleList(
            CodePrior(n_codes, grid, prior_channels, prior_layers, n_classes, cond_codes=n_codes if i else 0) for i, grid in enumerate(self.grids)
        )
        self.build_autoencoder()
        self.first_phase = "autoencoder"  # "prior": a run trains only the prior(s) of a trained autoencoder
        self._n_updates = 0

    @property
    def conditional(self) -> bool:  # type: ignore[override]
        """Whether the prior takes digit labels (``n_classes`` = 10)."""
        return bool(self.n_classes)

    # -- the autoencoder (a subclass changes these three) ---------------------------------------------
    def build_autoencoder(self) -> None:
        """The encoder (B, 1, 28, 28) -> z_e (B, D, 7, 7) and decoder z_q -> logits (B, 1, 28, 28)."""
        h, d = self.hidden, self.code_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(1, h // 2, 4, stride=2, padding=1), nn.ReLU(),  # (B, h/2, 14, 14)
            nn.Conv2d(h // 2, h, 4, stride=2, padding=1),  # (B, h, 7, 7)
            _Residual(h), _Residual(h), nn.ReLU(), nn.Conv2d(h, d, 1),  # (B, D, 7, 7)
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(d, h, 3, padding=1), _Residual(h), _Residual(h), nn.ReLU(),
            nn.ConvTranspose2d(h, h // 2, 4, stride=2, padding=1), nn.ReLU(),  # (B, h/2, 14, 14)
            nn.ConvTranspose2d(h // 2, 1, 4, stride=2, padding=1),  # (B, 1, 28, 28)
        )

    def encode_levels(self, x: Tensor) -> list[Level]:
        """Encode and quantise images x (B, 1, 28, 28): one ``Level`` per grid, top first."""
        z_e = self.encoder(x)
        z_q, codes, terms = self.quantizers[0](z_e, self.beta)
        return [Level(z_e, z_q, codes, terms)]

    def decoder_logits(self, z_q: list[Tensor]) -> Tensor:
        """Bernoulli logits (B, 1, 28, 28) of p(x | z_q) from each level's code vectors, top first."""
        return self.decoder(z_q[0])

    # -- codes -----------------------------------------------------------------------------------------
    def check_images(self, x: Tensor) -> Tensor:
        """``x`` as float32 (B, 1, 28, 28), B >= 1 (``models.base.check_images``). Raises ValueError: another shape, or values outside [0, 1]."""
        return check_images(x, 28, min_batch=1)

    def check_codes(self, codes: Any) -> list[Tensor]:
        """A list of code grids, one per level (top first), as int64 (B, H, W) on the model's
        device. Raises ValueError: the wrong number of levels, shapes, batch sizes or ids."""
        if isinstance(codes, Tensor) and len(self.grids) == 1:
            codes = [codes]
        if not isinstance(codes, list | tuple) or len(codes) != len(self.grids):
            raise ValueError(f"{self.family} takes {len(self.grids)} code grid(s), top first, of shapes {list(self.grids)}")
        checked = [q.check_codes(c, grid, self.device) for q, c, grid in zip(self.quantizers, codes, self.grids)]
        if len({len(c) for c in checked}) != 1:
            raise ValueError("every level's code grid must hold the same number of images")
        return checked

    @torch.no_grad()
    def codes(self, x: Tensor) -> list[Tensor]:
        """The code grids of images x (B, 1, 28, 28): int64 (B, H, W) per level, top first."""
        return [level.codes for level in self.encode_levels(self.check_images(x))]

    @torch.no_grad()
    def decode_codes(self, codes: Any) -> Tensor:
        """Pixel probabilities p(x = 1 | z_q) (B, 1, 28, 28) in [0, 1] of code grids (see
        ``check_codes``). Raises ValueError: bad code grids."""
        codes = self.check_codes(codes)
        return torch.sigmoid(self.decoder_logits([q.lookup(c) for q, c in zip(self.quantizers, codes)]))

    @torch.no_grad()
    def uniform_codes(self, n: int, generator: torch.Generator | None = None) -> list[Tensor]:
        """n grids of codes drawn uniformly at random (no prior), per level: (n, H, W) int64."""
        n = check_int("samples", n, 1, 10_000)
        device = generator_device(generator, self.device)
        return [torch.randint(self.n_codes, (n, *grid), generator=generator, device=device).to(self.device) for grid in self.grids]

    @torch.no_grad()
    def code_usage(self, x: Tensor, batch_size: int = 500) -> list[Tensor]:
        """How often each code is used on images x (N, 1, 28, 28): (K,) int64 per level on the CPU."""
        x = self.check_images(x)
        counts = [torch.zeros(self.n_codes, dtype=torch.int64) for _ in self.grids]
        for start in range(0, len(x), batch_size):
            for i, c in enumerate(self.codes(x[start : start + batch_size].to(self.device))):
                counts[i] += torch.bincount(c.flatten().cpu(), minlength=self.n_codes)
        return counts

    # -- the prior ---------------------------------------------------------------------------------------
    def prior_log_prob(self, codes: list[Tensor], y: Tensor | None = None) -> Tensor:
        """log p_prior(z [| y]) in nats, (B,): the sum over levels, each level's prior
        conditioned on the codes of the level above."""
        return sum(prior.log_prob(c, y, codes[i - 1] if i else None) for i, (prior, c) in enumerate(zip(self.priors, codes)))

    @torch.no_grad()
    def draw_codes(
        self, codes: list[Tensor], n_known: list[int], y: Tensor | None = None, generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> Iterator[tuple[int, int]]:
        """Sample each level's cells after its first ``n_known[level]`` (raster order) from
        the prior, top level first, in place in ``codes`` (as ``check_codes`` returns).

        Yields:
            (level, cells of that level drawn so far) after every cell.

        Raises:
            ValueError: bad labels, counts or temperature (in (0, 10]).
        """
        if not isinstance(n_known, list | tuple) or len(n_known) != len(self.grids):
            raise ValueError(f"n_known must give one count of known cells per level ({len(self.grids)}), got {n_known!r}")
        y = self.check_labels(y, len(codes[0]))
        temperature = check_float("temperature", temperature, 1e-3, 10.0)
        for i, (prior, c, grid) in enumerate(zip(self.priors, codes, self.grids)):
            known = check_int("known cells", n_known[i], 0, grid[0] * grid[1])
            for step in prior.draw(c, known, y, codes[i - 1] if i else None, generator, temperature):
                yield i, step

    def _empty_codes(self, n: Any) -> list[Tensor]:
        """Zero code grids for n in [1, 10,000] images, one per level, for ``draw_codes`` to fill."""
        n = check_int("samples", n, 1, 10_000)
        return [torch.zeros(n, *grid, dtype=torch.int64, device=self.device) for grid in self.grids]

    @torch.no_grad()
    def sample_codes(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None, temperature: float = 1.0) -> list[Tensor]:
        """n grids of codes per level drawn from the prior(s): (n, H, W) int64, top first."""
        codes = self._empty_codes(n)
        for _ in self.draw_codes(codes, [0] * len(codes), y, generator, temperature):
            pass
        return codes

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """n samples: codes from the prior, then decoded. Returns the Bernoulli means
        (n, 1, 28, 28) float32 in [0, 1]. Raises ValueError: bad ``n`` or labels."""
        return self.decode_codes(self.sample_codes(n, y, generator))

    @torch.no_grad()
    def sample_iter(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Iterator[Tensor | None]:
        """``sample`` a row of codes per step: None after each row, the samples last."""
        codes = self._empty_codes(n)
        for level, step in self.draw_codes(codes, [0] * len(codes), y, generator):
            if step % self.grids[level][1] == 0:
                yield None
        yield self.decode_codes(codes)

    # -- training ------------------------------------------------------------------------------------------
    def phase(self, update: int) -> str:
        """What update ``update`` (0-based) of a run trains: "autoencoder" or "prior"."""
        return "autoencoder" if update < self.ae_steps else "prior"

    def shifted(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Images x (B, 1, 28, 28) each translated by a random (dy, dx) in
        [-prior_shift, prior_shift]^2, zeros shifted in (the prior's data augmentation)."""
        s = self.prior_shift
        if not s:
            return x
        b, size = len(x), x.shape[-1]
        offsets = torch.randint(0, 2 * s + 1, (2, b), generator=generator, device=generator_device(generator, x.device)).to(x.device)
        padded = F.pad(x, (s, s, s, s))  # (B, 1, 28 + 2s, 28 + 2s)
        grid = torch.arange(size, device=x.device)
        rows, cols = offsets[0][:, None] + grid, offsets[1][:, None] + grid  # (B, 28) each
        return padded[torch.arange(b, device=x.device)[:, None, None], 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)

    def configure_optimizers(self, lr: float, lr_d: float | None = None) -> list[torch.optim.Optimizer]:
        """One Adam over every trainable weight (each phase gives gradients only to its
        own); starts the schedule at ``first_phase``."""
        self._n_updates = 0 if self.first_phase == "autoencoder" else self.ae_steps
        return [torch.optim.Adam([p for p in self.parameters() if p.requires_grad], lr=lr)]

    def _autoencoder_terms(self, x: Tensor) -> tuple[list[Level], dict[str, Tensor]]:
        levels = self.encode_levels(x)
        reconstruction = -bernoulli_log_prob(self.decoder_logits([lv.z_q for lv in levels]), x).mean()
        terms = {"reconstruction": reconstruction, "commitment": sum(lv.terms["commitment"] for lv in levels),
                 "codebook": sum(lv.terms["codebook"] for lv in levels)}
        for name, lv in zip(self.level_names, levels):
            for k in ("perplexity", "codes_used"):
                terms[f"{k}_{name}" if name else k] = lv.terms[k]
        return levels, terms

    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Every term on images x (B, 1, 28, 28), means over the batch: ``"reconstruction"``
        -log p(x | z_q) and ``"prior_nll"`` -log p_prior(z) (nats per image), their sum
        ``"nll_bound"`` (>= -log p(x)), ``"commitment"`` (with beta), ``"codebook"``,
        ``"perplexity"`` and ``"codes_used"`` (per level for VQ-VAE-2); ``"loss"`` is the
        bound (``train_step`` reports what each phase minimises instead). Labels y (B,) are
        required for a class-conditional prior."""
        x = self.check_images(x)
        y = self.check_labels(y, len(x))
        levels, terms = self._autoencoder_terms(x)
        prior_nll = -self.prior_log_prob([lv.codes for lv in levels], y).mean()
        bound = terms["reconstruction"] + prior_nll
        return {"loss": bound, **terms, "prior_nll": prior_nll, "nll_bound": bound}

    def train_step(
        self, x: Tensor, y: Tensor | None, optimizers: list[torch.optim.Optimizer], generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """One update of the current phase. Autoencoder: a gradient step on reconstruction
        + commitment + codebook, the EMA step of the codes, and at the end of each
        ``restart_every`` window the dead-code restart. Prior: a gradient step on the
        prior's NLL of the (frozen) autoencoder's codes. Returns the phase's terms and
        ``"phase"`` (1 or 2)."""
        (optimizer,) = optimizers
        y = self.check_labels(y, len(x))
        phase = self.phase(self._n_updates)
        self._n_updates += 1
        optimizer.zero_grad(set_to_none=True)
        if phase == "prior":
            with torch.no_grad():
                codes = [lv.codes for lv in self.encode_levels(self.shifted(x, generator))]
            prior_nll = -self.prior_log_prob(codes, y).mean()
            prior_nll.backward()
            optimizer.step()
            return {"loss": prior_nll.detach(), "prior_nll": prior_nll.detach(), "phase": torch.tensor(2.0)}
        levels, terms = self._autoencoder_terms(x)
        loss = terms["reconstruction"] + terms["commitment"] + terms["codebook"]
        loss.backward()
        optimizer.step()
        restarted = 0
        for q, lv in zip(self.quantizers, levels):
            if self.ema:
                q.ema_update(lv.z_e.detach(), lv.codes)
            q.count(lv.codes)
            if self.restart_every and self._n_updates % self.restart_every == 0:
                restarted += q.restart_dead(lv.z_e, generator)
        out = {"loss": loss, **terms, "phase": torch.tensor(1.0), "restarted": torch.tensor(float(restarted))}
        return {k: torch.as_tensor(v).detach() for k, v in out.items()}

    # -- likelihood ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The bound log p(x | z_q(x)) + log p_prior(z_q(x)) <= log p(x), nats, (B,), for
        binary images x (B, 1, 28, 28). A class-conditional model given no labels uses
        the marginal prior mean_y p(z | y) (a uniform p(y))."""
        x = self.check_images(x)
        levels = self.encode_levels(x)
        log_px_z = bernoulli_log_prob(self.decoder_logits([lv.z_q for lv in levels]), x)
        codes = [lv.codes for lv in levels]
        if self.conditional and y is None:
            per_label = [self.prior_log_prob(codes, torch.full((len(x),), k, dtype=torch.int64, device=x.device)) for k in range(N_CLASSES)]
            return log_px_z + torch.logsumexp(torch.stack(per_label, 1), 1) - math.log(N_CLASSES)
        return log_px_z + self.prior_log_prob(codes, self.check_labels(y, len(x)))


class VQVAE2(VQVAE, paper_url="https://arxiv.org/abs/1906.00446"):
    """VQ-VAE-2 on digits: a top 4 x 4 grid of codes (the global shape) and a bottom 7 x 7
    grid encoded given the top (the detail), both decoded together, with a prior per
    level, the bottom one conditioned on the top codes (Razavi, van den Oord & Vinyals
    2019, arXiv:1906.00446). Arguments as ``VQVAE``'s; both levels have K codes of size D.
    """

    family: ClassVar[str] = "vqvae2"
    title: ClassVar[str] = "VQ-VAE-2 (Razavi, van den Oord & Vinyals 2019)"
    grids: ClassVar[tuple[tuple[int, int], ...]] = ((4, 4), (7, 7))
    level_names: ClassVar[tuple[str, ...]] = ("top", "bottom")

    def build_autoencoder(self) -> None:
        """Bottom encoder to 7 x 7 features, top encoder from them to 4 x 4, the top's
        quantised codes upsampled back to 7 x 7 to encode the bottom level given the top,
        and a decoder of both levels."""
        h, d = self.hidden, self.code_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(1, h // 2, 4, stride=2, padding=1), nn.ReLU(), nn.Conv2d(h // 2, h, 4, stride=2, padding=1), _Residual(h), nn.ReLU(),
        )  # (B, h, 7, 7)
        self.encoder_top = nn.Sequential(nn.Conv2d(h, h, 3, stride=2, padding=1), _Residual(h), nn.ReLU(), nn.Conv2d(h, d, 1))  # (B, D, 4, 4)
        self.top_to_bottom = nn.ConvTranspose2d(d, d, 3, stride=2, padding=1)  # (B, D, 4, 4) -> (B, D, 7, 7)
        self.pre_bottom = nn.Conv2d(h + d, d, 1)
        self.upsample_top = nn.ConvTranspose2d(d, d, 3, stride=2, padding=1)
        self.decoder = nn.Sequential(
            nn.Conv2d(2 * d, h, 3, padding=1), _Residual(h), _Residual(h), nn.ReLU(),
            nn.ConvTranspose2d(h, h // 2, 4, stride=2, padding=1), nn.ReLU(), nn.ConvTranspose2d(h // 2, 1, 4, stride=2, padding=1),
        )

    def encode_levels(self, x: Tensor) -> list[Level]:
        features = self.encoder(x)
        z_e_top = self.encoder_top(features)
        z_q_top, codes_top, terms_top = self.quantizers[0](z_e_top, self.beta)
        z_e_bottom = self.pre_bottom(torch.cat([features, self.top_to_bottom(z_q_top)], 1))
        z_q_bottom, codes_bottom, terms_bottom = self.quantizers[1](z_e_bottom, self.beta)
        return [Level(z_e_top, z_q_top, codes_top, terms_top), Level(z_e_bottom, z_q_bottom, codes_bottom, terms_bottom)]

    def decoder_logits(self, z_q: list[Tensor]) -> Tensor:
        return self.decoder(torch.cat([z_q[1], self.upsample_top(z_q[0])], 1))

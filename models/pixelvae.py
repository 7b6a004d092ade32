"""PixelVAE: a variational autoencoder whose decoder is a small PixelCNN conditioned on the
latent, on binarised digits.

Gulrajani, Kumar, Ahmed, Taiga, Visin, Vazquez & Courville (2017), "PixelVAE: A Latent
Variable Model for Natural Images", arXiv:1611.05013. A VAE's decoder p(x|z) =
prod_i Bernoulli(x_i; pi_i(z)) draws every pixel independently given z, so whatever z does
not say comes out as blur (the decoder's mean) or as salt-and-pepper noise (its draws).
PixelVAE keeps the encoder q(z|x) = N(mu(x), diag sigma^2(x)) and the prior N(0, I), but
decodes autoregressively: p(x|z) = prod_i p(x_i | x_<i, z), a PixelCNN (masked
convolutions, arXiv:1601.06759) whose every layer also receives a map computed from z.
Local detail (stroke edges, continuity) is left to the PixelCNN, the global shape to z.

The training objective is the usual evidence lower bound, in nats per image,

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))  <=  log p(x),

with one reparameterised sample of z per image. A PixelCNN that sees the whole past could
model the digits alone and leave z unused (KL = 0, "posterior collapse"); as in the paper
the decoder's PixelCNN is kept small (it sees ``context_rows``, 3 by default, rows up),
so the latent still carries the digit's shape and the KL stays well above zero. On 2 CPU cores a
few hundred steps are not enough for that alone: the PixelCNN learns the local strokes first and z
is switched off, so training adds an auxiliary term (``aux_weight``), the reconstruction of a plain
VAE decoder from the same z, which makes z carry the digit from the start.
``log_prob`` is the importance-weighted bound (Burda et al. 2015, arXiv:1509.00519) with
``n_importance`` samples. Sampling draws z from the prior, then the pixels one at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import GenerativeModel, check_images, standard_normal
from models.checks import check_float, check_int
from models.layers import MaskedConv2d, bernoulli_log_prob, generator_device

SIZE = 28
_LOG_2PI = math.log(2 * math.pi)


class PixelVAE(GenerativeModel, paper_url="https://arxiv.org/abs/1611.05013"):
    """A VAE with a PixelCNN decoder for binary 28 x 28 digits.

    Args:
        latent_dim: size of z, in [1, 64].
        hidden: channels of the convolutional encoder and of the z-map, in [4, 128].
        channels: the decoder PixelCNN's channels, in [4, 128].
        n_layers: the decoder's residual type-B 3 x 3 layers after its type-A one, in [1, 8].
        kernel_size: of the decoder's first (type-A) layer, 3, 5 or 7.
        free_nats: the "free bits" of the training loss (Kingma et al. 2016, arXiv:1606.04934),
            nats per latent dimension in [0, 4]: a dimension whose batch-mean KL is below it
            costs that much, so the optimiser gains nothing by switching it off early, when
            the PixelCNN alone improves faster. 0 (the default) counts the KL as it is.
        aux_weight: weight in [0, 10] of an auxiliary reconstruction term in the training
            loss: -log p(x|z) under a plain VAE decoder (independent pixels, one 1 x 1
            convolution of the z-map). It makes z carry the digit from the first steps,
            before the PixelCNN learns to do without it (see the module docstring); 0
            trains on the ELBO alone. The ELBO and ``log_prob`` never include it.
        n_importance: K of the importance-weighted bound in ``log_prob``, in [1, 1000].

    Tensors: images (B, 1, 28, 28) float32 in {0, 1}; z (B, latent_dim); all losses in
    nats per image.

    Raises:
        ValueError: an argument out of range.
    """

    family: ClassVar[str] = "pixelvae"
    title: ClassVar[str] = "PixelVAE (Gulrajani et al. 2017)"
    data_kind: ClassVar[str] = "binary"
    nll_kind: ClassVar[str] = "iwae_bound"
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 1500, "lr": 2e-3, "batch_size": 64}

    def __init__(
        self, latent_dim: int = 16, hidden: int = 32, channels: int = 32, n_layers: int = 1, kernel_size: int = 5, free_nats: float = 0.0,
        aux_weight: float = 1.0, n_importance: int = 100,
    ):
        super().__init__()
        self.latent_dim = check_int("latent_dim", latent_dim, 1, 64)
        self.hidden = check_int("hidden", hidden, 4, 128)
        self.channels = check_int("channels", channels, 4, 128)
        self.n_layers = check_int("layers", n_layers, 1, 8)
        self.kernel_size = check_int("kernel size", kernel_size, 3, 7)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel size must be odd (3, 5 or 7), got {self.kernel_size}")
        self.free_nats = check_float("free_nats", free_nats, 0.0, 4.0)
        self.aux_weight = check_float("aux_weight", aux_weight, 0.0, 10.0)
        self.n_importance = check_int("n_importance", n_importance, 1, 1000)
        h, c = self.hidden, self.channels
        self.encoder = nn.Sequential(
            nn.Conv2d(1, h, 4, 2, 1), nn.ReLU(), nn.Conv2d(h, 2 * h, 4, 2, 1), nn.ReLU(),  # 28 -> 14 -> 7
            nn.Flatten(), nn.Linear(2 * h * 49, 2 * self.latent_dim),
        )
        self.z_map = nn.Sequential(  # z -> a (C, 28, 28) map that every decoder layer hears
            nn.Linear(self.latent_dim, 2 * h * 49), nn.Unflatten(1, (2 * h, 7, 7)), nn.ReLU(),
            nn.ConvTranspose2d(2 * h, h, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(h, c, 4, 2, 1),  # 7 -> 14 -> 28
        )
        self.input = MaskedConv2d(1, c, self.kernel_size, "A")
        self.blocks = nn.ModuleList(MaskedConv2d(c, c, 3, "B") for _ in range(self.n_layers))
        self.z_to_block = nn.ModuleList(nn.Conv2d(c, c, 1) for _ in range(self.n_layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 1), nn.ReLU(), nn.Conv2d(c, 1, 1))
        self.aux = nn.Conv2d(c, 1, 1)  # the plain decoder of the auxiliary term: independent pixels given z

    @property
    def context_rows(self) -> int:
        """Rows above a pixel that the decoder's PixelCNN sees: k // 2 (the first layer) + 1 per 3 x 3 layer."""
        return self.kernel_size // 2 + self.n_layers

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, logvar) of q(z|x), each (B, latent_dim), for images x (B, 1, 28, 28) in [0, 1]."""
        mu, logvar = self.encoder(x * 2 - 1).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)

    def condition(self, z: Tensor) -> Tensor:
        """The decoder's map of z (B, latent_dim) -> (B, C, 28, 28)."""
        return self.z_map(z)

    def decoder_logits(self, x: Tensor, cond: Tensor) -> Tensor:
        """Logits (B, 1, R, 28) of p(x_i = 1 | x_<i, z) for binary x (B, 1, R, 28) (R = 28,
        or the top R rows) and the z-map ``cond`` (B, C, 28, 28) (``condition``); logit i
        depends on the pixels before i in raster order and on z only."""
        cond = cond[:, :, : x.shape[2]]
        h = self.input(x * 2 - 1) + cond
        for block, z_in in zip(self.blocks, self.z_to_block):
            h = h + block(F.relu(h)) + z_in(cond)
        return self.head(h)

    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """The negative ELBO with one sample of z per image, and its terms.

        Returns:
            ``"loss"``: reconstruction + the KL with free nats (each latent dimension's
            batch-mean KL counted as at least ``free_nats``) + ``aux_weight`` times the
            plain decoder's reconstruction; ``"reconstruction"``: -log p(x|z);
            ``"kl"``: KL(q(z|x) || N(0, I)); ``"elbo"``: -(reconstruction + KL). Scalar
            means over the batch, nats per image.
        """
        self.check_labels(y, len(x))
        terms = self.elbo_terms(x, generator)
        losses = {k: v.mean() for k, v in terms.items()}
        losses["loss"] = losses["reconstruction"] + terms["kl_per_dim"].mean(0).clamp(min=self.free_nats).sum()
        if self.aux_weight:
            losses["loss"] = losses["loss"] + self.aux_weight * terms["auxiliary"].mean()
        del losses["kl_per_dim"], losses["auxiliary"]
        return losses

    def elbo_terms(self, x: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Per image (B,): ``"loss"`` (the negative ELBO), ``"reconstruction"``, ``"kl"`` and
        ``"elbo"`` in nats (see ``loss``), ``"kl_per_dim"`` (B, latent_dim) and ``"auxiliary"``,
        -log p(x|z) under the plain decoder (``aux_weight``)."""
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * standard_normal(tuple(mu.shape), generator, mu.device)
        cond = self.condition(z)
        reconstruction = -bernoulli_log_prob(self.decoder_logits(x, cond), x)
        auxiliary = -bernoulli_log_prob(self.aux(cond), x)
        kl_per_dim = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)  # (B, latent_dim)
        kl = kl_per_dim.sum(1)
        return {"loss": reconstruction + kl, "reconstruction": reconstruction, "kl": kl, "elbo": -(reconstruction + kl), "kl_per_dim": kl_per_dim,
                "auxiliary": auxiliary}

    @torch.no_grad()
    def decode_iter(self, z: Tensor, generator: torch.Generator | None = None) -> Iterator[Tensor | None]:
        """Draw images given z (B, latent_dim), pixel by pixel: yields None after each row
        (27 times) and the images (B, 1, 28, 28) in {0, 1} last."""
        cond = self.condition(z)
        x = torch.zeros(len(z), 1, SIZE, SIZE, device=z.device)
        for r in range(SIZE):
            top = max(0, r - self.context_rows)
            for c in range(SIZE):
                p = torch.sigmoid(self.decoder_logits(x[:, :, top : r + 1], cond[:, :, top:])[:, 0, -1, c])
                u = torch.rand(len(z), generator=generator, device=generator_device(generator, z.device))
                x[:, 0, r, c] = (u.to(z.device) < p).float()
            yield x if r == SIZE - 1 else None

    @torch.no_grad()
    def decode(self, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Images (B, 1, 28, 28) in {0, 1} drawn from p(x|z) for z (B, latent_dim)."""
        *_, x = self.decode_iter(z, generator)
        return x

    def prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws of z from N(0, I), (n, latent_dim), on the model's device."""
        return standard_normal((check_int("samples", n, 1, 10_000), self.latent_dim), generator, self.device)

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples: z from the prior, then the pixels one at a time; (n, 1, 28, 28) in {0, 1}."""
        self.check_labels(y, n)
        return self.decode(self.prior(n, generator), generator)

    def sample_iter(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Iterator[Tensor | None]:
        """``sample`` one row per step: None 27 times, then the samples."""
        self.check_labels(y, n)
        yield from self.decode_iter(self.prior(n, generator), generator)

    @torch.no_grad()
    def log_prob(self, x: Tensor, y: Tensor | None = None, n_importance: int | None = None) -> Tensor:
        """Importance-weighted lower bound on log p(x), (B,) in nats, with K =
        ``n_importance`` (default ``self.n_importance``) samples of q(z|x); K = 1 is the ELBO.

        Raises:
            ValueError: bad images or K.
        """
        self.check_labels(y, len(x))
        x = check_images(x, SIZE, min_batch=1)
        k = check_int("n_importance", self.n_importance if n_importance is None else n_importance, 1, 100_000)
        mu, logvar = self.encode(x)
        std = torch.exp(0.5 * logvar)
        log_w = []
        for _ in range(k):
            eps = torch.randn_like(mu)
            z = mu + std * eps
            log_px_z = bernoulli_log_prob(self.decoder_logits(x, self.condition(z)), x)
            log_pz = -0.5 * (z.pow(2) + _LOG_2PI).sum(1)
            log_qz = -0.5 * (eps.pow(2) + logvar + _LOG_2PI).sum(1)
            log_w.append(log_px_z + log_pz - log_qz)
        return torch.logsumexp(torch.stack(log_w), dim=0) - math.log(k)

    def nll_details(self) -> dict[str, Any]:
        """``{"iwae_k": K}``: the importance samples per image behind ``log_prob``."""
        return {"iwae_k": self.n_importance}

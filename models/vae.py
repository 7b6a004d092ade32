"""Variational autoencoder with a Bernoulli likelihood on binarised digits.

An encoder q(z|x) = N(mu(x), diag sigma^2(x)) and a decoder p(x|z) = Bernoulli(pi(z)),
with prior p(z) = N(0, I), are trained together by maximising the evidence lower bound

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z))  <=  log p(x),

whose gradient flows through the sample thanks to the reparameterisation
z = mu + sigma * eps, eps ~ N(0, I). The KL term is analytic for Gaussians. A weight beta
on the KL (Higgins et al. 2017) trades reconstruction for a smoother latent space; beta = 0
is a plain autoencoder, whose latent space has holes that decode to nonsense.

The test log-likelihood is bounded more tightly by importance weighting (Burda et al.
2015, "Importance Weighted Autoencoders", arXiv:1509.00519):
log p(x) >= E[log (1/K) sum_k p(x, z_k) / q(z_k|x)], which tends to log p(x) as K grows.

Kingma & Welling 2013, "Auto-Encoding Variational Bayes", arXiv:1312.6114.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import GenerativeModel, standard_normal
from models.checks import IMAGE_SHAPE, N_PIXELS, check_choice, check_float, check_int

ARCHITECTURES = ("mlp", "conv")
LATENT_DIM_RANGE = (2, 32)
# The hidden width of each architecture when the app trains a VAE from scratch.
TRAIN_HIDDEN_DIM = {"mlp": 512, "conv": 256}
_LOG_2PI = math.log(2 * math.pi)


def _dense(*sizes: int) -> list[nn.Module]:
    """Linear layers through ``sizes`` (n_in, n_hidden..., n_out), a ReLU between each two."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return layers[:-1]


def _mlp_encoder(hidden_dim: int, out_dim: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), *_dense(N_PIXELS, hidden_dim, hidden_dim, out_dim))  # (B, 784) -> (B, out_dim)


def _mlp_decoder(latent_dim: int, hidden_dim: int) -> nn.Module:
    return nn.Sequential(*_dense(latent_dim, hidden_dim, hidden_dim, N_PIXELS), nn.Unflatten(1, IMAGE_SHAPE))  # (B, 1, 28, 28)


def _conv_encoder(hidden_dim: int, out_dim: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 4, stride=2, padding=1),  # (B, 32, 14, 14)
        nn.ReLU(),
        nn.Conv2d(32, 64, 4, stride=2, padding=1),  # (B, 64, 7, 7)
        nn.ReLU(),
        nn.Flatten(),  # (B, 3136)
        *_dense(64 * 7 * 7, hidden_dim, out_dim),
    )


def _conv_decoder(latent_dim: int, hidden_dim: int) -> nn.Module:
    return nn.Sequential(
        *_dense(latent_dim, hidden_dim, 64 * 7 * 7),
        nn.ReLU(),
        nn.Unflatten(1, (64, 7, 7)),  # (B, 64, 7, 7)
        nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),  # (B, 32, 14, 14)
        nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1),  # (B, 1, 28, 28)
    )


class VAE(GenerativeModel, paper_url="https://arxiv.org/abs/1312.6114"):
    """Variational autoencoder (Kingma & Welling 2013, arXiv:1312.6114).

    Args:
        latent_dim: size of z, in [2, 32].
        arch: ``"mlp"`` (two hidden layers) or ``"conv"`` (two strided convolutions each
            way) encoder and decoder.
        hidden_dim: width of the hidden layers, in [16, 2048].
        beta: weight of the KL term in the training loss, in [0, 10]; 1 gives the ELBO,
            0 a plain (deterministic) autoencoder: z = mu(x) in training, no noise.

    Raises:
        ValueError: for any argument outside the ranges above.

    Images are (B, 1, 28, 28) float32 in [0, 1] (binary for the likelihood to be a
    probability). All losses are in nats per image.
    """

    family: ClassVar[str] = "vae"
    title: ClassVar[str] = "Variational autoencoder (Kingma & Welling 2013)"
    data_kind: ClassVar[str] = "binary"
    nll_kind: ClassVar[str] = "iwae_bound"
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 1750, "lr": 1e-3, "batch_size": 128}

    def __init__(self, latent_dim: int = 16, arch: str = "conv", hidden_dim: int = 128, beta: float = 1.0):
        super().__init__()
        self.latent_dim = check_int("latent_dim", latent_dim, *LATENT_DIM_RANGE)
        self.arch = check_choice("arch", arch, ARCHITECTURES)
        self.hidden_dim = check_int("hidden_dim", hidden_dim, 16, 2048)
        self.beta = check_float("beta", beta, 0.0, 10.0)
        self.n_importance = 1000
        if self.arch == "mlp":
            self.encoder = _mlp_encoder(self.hidden_dim, 2 * self.latent_dim)
            self.decoder = _mlp_decoder(self.latent_dim, self.hidden_dim)
        else:
            self.encoder = _conv_encoder(self.hidden_dim, 2 * self.latent_dim)
            self.decoder = _conv_decoder(self.latent_dim, self.hidden_dim)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Parameters of q(z|x) for images x (B, 1, 28, 28) in [0, 1].

        Returns:
            ``(mu, logvar)``, each (B, latent_dim) float32; logvar is log sigma^2.
        """
        mu, logvar = self.encoder(x).chunk(2, dim=1)  # (B, latent_dim) each
        return mu, logvar

    def decoder_logits(self, z: Tensor) -> Tensor:
        """Bernoulli logits of p(x|z), (B, 1, 28, 28), for z of shape (B, latent_dim)."""
        return self.decoder(z)

    def decode(self, z: Tensor) -> Tensor:
        """Mean of p(x|z): pixel probabilities (B, 1, 28, 28) in [0, 1]."""
        return torch.sigmoid(self.decoder(z))

    def reparameterise(self, mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): a sample of q(z|x) that gradients
        flow through (the reparameterisation trick). Shapes (B, latent_dim)."""
        eps = standard_normal(tuple(mu.shape), generator, mu.device)
        return mu + torch.exp(0.5 * logvar) * eps

    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Negative beta-ELBO with one sample of z per image (z = mu when beta = 0: a plain
        autoencoder), and its terms.

        Returns:
            ``"loss"``: reconstruction + beta * KL (minimised); ``"reconstruction"``:
            -log p(x|z) (at z = mu when beta = 0); ``"kl"``: KL(q(z|x) || p(z)); ``"elbo"``:
            the true ELBO (beta = 1, z sampled from q(z|x) whatever beta). Each is a scalar
            mean over the batch, in nats per image.
        """
        self.check_labels(y, x.shape[0])
        mu, logvar = self.encode(x)
        z = self.reparameterise(mu, logvar, generator)  # drawn for beta = 0 too: the same random stream, so the same batches
        logits = self.decoder_logits(mu if self.beta == 0 else z)  # beta = 0: a deterministic autoencoder
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
        sampled = reconstruction
        if self.beta == 0:  # the ELBO needs the reconstruction at a sample of q(z|x), not at its mean
            with torch.no_grad():
                sampled = F.binary_cross_entropy_with_logits(self.decoder_logits(z), x, reduction="none").flatten(1).sum(1)
        return {
            "loss": (reconstruction + self.beta * kl).mean(),
            "reconstruction": reconstruction.mean(),
            "kl": kl.mean(),
            "elbo": -(sampled + kl).mean(),
        }

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Decode n draws from the prior N(0, I).

        Returns:
            (n, 1, 28, 28) float32 in [0, 1]: the Bernoulli means p(x = 1 | z), shown as
            grey levels as in Kingma & Welling's figures, rather than binary draws.
        """
        self.check_labels(y, n)
        z = standard_normal((n, self.latent_dim), generator, self.device)
        return self.decode(z)

    @torch.no_grad()
    def log_prob(self, x: Tensor, y: Tensor | None = None, n_importance: int | None = None) -> Tensor:
        """Importance-weighted lower bound on log p(x) (Burda et al. 2015, arXiv:1509.00519).

        Args:
            x: binary images (B, 1, 28, 28).
            n_importance: K, the number of samples of q(z|x) per image (default
                ``self.n_importance`` = 1000). K = 1 gives the ELBO.

        Returns:
            (B,) float32, nats; a lower bound that tightens as K grows.
        """
        self.check_labels(y, x.shape[0])
        if x.shape[0] == 0:
            raise ValueError("log_prob needs at least one image")
        k = check_int("n_importance", self.n_importance if n_importance is None else n_importance, 1, 100_000)
        mu, logvar = self.encode(x)
        std = torch.exp(0.5 * logvar)
        chunk = max(1, 4096 // x.shape[0])  # bounds memory: ~4k decoded images at a time
        log_w = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            eps = torch.randn((m, *mu.shape), device=mu.device)  # (m, B, D)
            z = mu + std * eps
            logits = self.decoder_logits(z.flatten(0, 1))  # (m * B, 1, 28, 28)
            target = x.expand(m, *x.shape).flatten(0, 1)
            log_px_z = -F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1)
            log_pz = -0.5 * (z.pow(2) + _LOG_2PI).sum(-1)  # (m, B)
            log_qz = -0.5 * (eps.pow(2) + logvar + _LOG_2PI).sum(-1)
            log_w.append(log_px_z.view(m, -1) + log_pz - log_qz)
        return torch.logsumexp(torch.cat(log_w), dim=0) - math.log(k)

    def nll_details(self) -> dict[str, Any]:
        """``{"iwae_k": K}``: the importance samples per image behind ``log_prob``."""
        return {"iwae_k": self.n_importance}

"""BEGAN: the boundary equilibrium GAN on 28x28 digits.

Berthelot, Schumm & Metz 2017, "BEGAN: Boundary Equilibrium Generative Adversarial
Networks", arXiv:1703.10717. The discriminator D is an autoencoder; its per-image L1
reconstruction loss L(v) = mean |v - D(v)| (mean absolute error per pixel, images in
[0, 1]) is the "energy" of v. D learns to reconstruct real digits well and generated ones
badly, G learns to make digits D reconstructs well:

    L_D = L(x) - k_t L(G(z)),    L_G = L(G(z)),
    k_{t+1} = clip(k_t + lambda_k (gamma L(x) - L(G(z))), 0, 1).

k_t is a proportional controller that holds the *equilibrium* E[L(G(z))] = gamma E[L(x)]:
when G's samples are reconstructed too well (gamma L(x) - L(G(z)) > 0), k grows and D
pushes their energy up; when too badly, k shrinks and D attends to the real digits. The
diversity ratio gamma in (0, 1] trades variety (higher) for sharpness (lower). The
convergence measure M_global = L(x) + |gamma L(x) - L(G(z))| falls as the pair learns
(the paper's figure 2): a loss that tells whether a GAN is converging, which the classic
losses do not.

The networks follow the paper's shape at digit size: an encoder of 3x3 convolutions with
ELUs, stride-2 downsampling to 7x7 and a linear map to an embedding h; a decoder (the same
shape as G) from h (or z) through a linear map to 7x7 and nearest-neighbour upsampling.
No batch norm. k_t is a buffer ``k``, saved with the weights, so training resumes where
the controller was.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from models.base import GenerativeModel, check_images, standard_normal
from models.checks import check_float, check_int

LATENT_DIM_RANGE = (2, 256)
WIDTH_RANGE = (4, 128)
GAMMA_RANGE = (0.05, 1.0)
LAMBDA_K_RANGE = (0.0, 0.1)


def _decoder(n_in: int, w: int) -> nn.Sequential:
    """(B, n_in) -> (B, 1, 28, 28) in [0, 1]: linear to 7x7, two nearest upsamplings."""
    return nn.Sequential(
        nn.Linear(n_in, w * 7 * 7),
        nn.Unflatten(1, (w, 7, 7)),  # (B, w, 7, 7)
        nn.Conv2d(w, w, 3, padding=1), nn.ELU(),
        nn.Upsample(scale_factor=2),  # (B, w, 14, 14)
        nn.Conv2d(w, w, 3, padding=1), nn.ELU(),
        nn.Upsample(scale_factor=2),  # (B, w, 28, 28)
        nn.Conv2d(w, 1, 3, padding=1),  # (B, 1, 28, 28): no w-channel convolution at 28x28, the costliest layer on a CPU
        nn.Sigmoid(),
    )


def _encoder(w: int, n_out: int) -> nn.Sequential:
    """(B, 1, 28, 28) -> (B, n_out): 3x3 convolutions, two stride-2 downsamplings."""
    return nn.Sequential(
        nn.Conv2d(1, w, 3, padding=1), nn.ELU(),  # (B, w, 28, 28)
        nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.ELU(),  # (B, 2w, 14, 14)
        nn.Conv2d(2 * w, 3 * w, 3, stride=2, padding=1), nn.ELU(),  # (B, 3w, 7, 7)
        nn.Flatten(),  # (B, 3w * 49)
        nn.Linear(3 * w * 7 * 7, n_out),
    )


class BEGAN(GenerativeModel, paper_url="https://arxiv.org/abs/1703.10717"):
    """BEGAN for 28x28 grey digits (Berthelot, Schumm & Metz 2017, arXiv:1703.10717).

    Args:
        latent_dim: size of z (G's input), in [2, 256].
        hidden_dim: size of D's embedding h (the autoencoder's bottleneck), in [2, 256].
        width: channels of the convolutions (the encoder's deeper layers have 2x and 3x), in [4, 128].
        gamma: diversity ratio E[L(G(z))] / E[L(x)] that the controller holds, in [0.05, 1].
            The default 0.7 rather than the paper's 0.5: at 0.5 a 3,000-step run on our digits drew only 1s (the digit D
            reconstructs best); at 0.7 the bundled run still draws mostly 1s (mode collapse at this scale).
        lambda_k: the controller's proportional gain (learning rate of k), in [0, 0.1]; the default 0.05 is fifty
            times the paper's 0.001, so that k acts within the few thousand steps a CPU run has (at 0.01 it reached
            only 0.06 in 3,000 steps).

    Raises:
        ValueError: for any argument outside the ranges above.

    Images are (B, 1, 28, 28) float32 in [0, 1]. Reconstruction losses are mean absolute
    errors per pixel, in grey levels (0 = black, 1 = white); k is in [0, 1].
    """

    family: ClassVar[str] = "began"
    title: ClassVar[str] = "BEGAN (Berthelot, Schumm & Metz 2017)"
    data_kind: ClassVar[str] = "grey"
    nll_kind: ClassVar[str] = "none"
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 3000, "lr": 5e-4, "batch_size": 32}

    def __init__(self, latent_dim: int = 32, hidden_dim: int = 32, width: int = 16, gamma: float = 0.7, lambda_k: float = 0.05):
        super().__init__()
        self.latent_dim = check_int("latent_dim", latent_dim, *LATENT_DIM_RANGE)
        self.hidden_dim = check_int("hidden_dim", hidden_dim, *LATENT_DIM_RANGE)
        self.width = check_int("width", width, *WIDTH_RANGE)
        self.gamma = check_float("gamma", gamma, *GAMMA_RANGE)
        self.lambda_k = check_float("lambda_k", lambda_k, *LAMBDA_K_RANGE)
        self.generator = _decoder(self.latent_dim, self.width)
        self.encoder = _encoder(self.width, self.hidden_dim)
        self.decoder = _decoder(self.hidden_dim, self.width)
        # k_0 = 0 as in the paper: D first learns to reconstruct real digits.
        self.register_buffer("k", torch.zeros(()))

    # --- the networks -----------------------------------------------------------------

    def generate(self, z: Tensor) -> Tensor:
        """G(z): images (B, 1, 28, 28) float32 in [0, 1] for z (B, latent_dim).

        Raises:
            ValueError: z of the wrong shape.
        """
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        return self.generator(z)

    def reconstruct(self, x: Tensor) -> Tensor:
        """D(x): the autoencoder's reconstruction (B, 1, 28, 28) in [0, 1] of x (B, 1, 28, 28) in [0, 1]."""
        return self.decoder(self.encoder(x))

    def energy(self, x: Tensor) -> Tensor:
        """L(x) per image: mean |x - D(x)| over the pixels, (B,) in [0, 1]."""
        return (x - self.reconstruct(x)).abs().flatten(1).mean(1)

    def latents(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws of z ~ N(0, I): (n, latent_dim) float32 on the model's device."""
        return standard_normal((n, self.latent_dim), generator, self.device)

    # --- the contract -----------------------------------------------------------------

    def configure_optimizers(self, lr: float, lr_d: float | None = None) -> list[torch.optim.Optimizer]:
        """``[Adam for G, Adam for D (encoder and decoder)]``, betas (0.5, 0.999); D's rate is ``lr_d`` (default ``lr``)."""
        d_params = [*self.encoder.parameters(), *self.decoder.parameters()]
        return [
            torch.optim.Adam(self.generator.parameters(), lr=lr, betas=(0.5, 0.999)),
            torch.optim.Adam(d_params, lr=lr if lr_d is None else lr_d, betas=(0.5, 0.999)),
        ]

    def terms(self, real_energy: Tensor, fake_energy: Tensor) -> dict[str, Tensor]:
        """The figures of one batch from mean L(x) and mean L(G(z)) (scalars): ``"loss"`` and
        ``"convergence"``: M_global = L(x) + |gamma L(x) - L(G(z))|; ``"balance"``:
        gamma L(x) - L(G(z)) (0 at equilibrium); ``"d_loss"``: L(x) - k L(G(z)); ``"g_loss"``:
        L(G(z)); ``"recon_real"``: L(x); ``"k"``: k_t."""
        balance = self.gamma * real_energy - fake_energy
        convergence = real_energy + balance.abs()
        return {
            "loss": convergence, "convergence": convergence, "balance": balance, "d_loss": real_energy - self.k * fake_energy,
            "g_loss": fake_energy, "recon_real": real_energy, "k": self.k.clone(),
        }

    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """The figures (``terms``) on real images x (B, 1, 28, 28) in [0, 1] and as many samples, without updates.

        Raises:
            ValueError: bad images, or a label (BEGAN is unconditional).
        """
        x = check_images(x, 28, min_batch=1)
        self.check_labels(y, len(x))
        fake = self.generate(self.latents(len(x), generator))
        return self.terms(self.energy(x).mean(), self.energy(fake).mean())

    def train_step(
        self, x: Tensor, y: Tensor | None, optimizers: list[torch.optim.Optimizer], generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """One update of D on L_D = L(x) - k L(G(z)), one of G on L_G = L(G(z)) (the same z, D
        already updated), then k <- clip(k + lambda_k (gamma L(x) - L(G(z))), 0, 1). Returns the
        detached ``terms`` of this step (k before its update)."""
        opt_g, opt_d = optimizers
        self.check_labels(y, len(x))
        fake = self.generate(self.latents(len(x), generator))
        real_energy = self.energy(x).mean()
        d_loss = real_energy - self.k * self.energy(fake.detach()).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        fake_energy = self.energy(fake).mean()
        opt_g.zero_grad(set_to_none=True)
        fake_energy.backward()  # D's parameters get gradients too; opt_g steps only G's, opt_d clears them first
        opt_g.step()
        out = {k: v.detach() for k, v in self.terms(real_energy.detach(), fake_energy.detach()).items()}
        out["d_loss"] = d_loss.detach()  # what D minimised, before its update
        with torch.no_grad():
            self.k.add_(self.lambda_k * out["balance"]).clamp_(0.0, 1.0)
        return out

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """G(z) for n draws z ~ N(0, I): (n, 1, 28, 28) float32 in [0, 1].

        Raises:
            ValueError: ``n`` not in [1, 10,000], or a label (BEGAN is unconditional).
        """
        n = check_int("samples", n, 1, 10_000)
        self.check_labels(y, n)
        return self.generate(self.latents(n, generator))

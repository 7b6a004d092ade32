"""Generative adversarial networks: DCGAN and the conditional GAN on 28x28 digits.

A generator G maps noise z ~ N(0, I) to an image; a discriminator D tells real images
from generated ones. They play the minimax game (Goodfellow et al. 2014, "Generative
Adversarial Nets", arXiv:1406.2661)

    min_G max_D  V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))],

whose inner maximum, for a fixed G, is reached by D*(x) = p_data(x) / (p_data(x) + p_g(x));
against D*, G minimises 2 JS(p_data || p_g) - log 4. Early in training D rejects G's
samples easily, log(1 - D(G(z))) saturates and its gradient vanishes, so Goodfellow et al.
have G maximise log D(G(z)) instead: the *non-saturating* loss, with the same fixed point.
The Wasserstein GAN with gradient penalty (Gulrajani et al. 2017, "Improved Training of
Wasserstein GANs", arXiv:1704.00028) replaces D by a critic f whose gradient norm is
pushed to 1 on lines between real and fake images, and G minimises -E[f(G(z))].
Spectral normalisation of D's layers (Miyato et al. 2018, arXiv:1802.05957) bounds D's
Lipschitz constant another way. On a small training set (4,500 digits) D also learns to
tell G's samples apart by their *lack of variety*, if it can see it: the minibatch standard
deviation feature (Karras et al. 2017, "Progressive Growing of GANs", arXiv:1710.10196)
gives D the spread of its batch's features, so a G that drops modes is easy to reject;
dropout in D (as in many MNIST DCGANs) keeps D from memorising the training digits.

The networks follow DCGAN (Radford, Metz & Chintala 2015, arXiv:1511.06434): strided
(transposed) convolutions, batch norm, ReLU in G with a tanh output, LeakyReLU in D. G can
refine its 7x7 feature map with stride-1 3x3 convolutions before upsampling, as MNIST
DCGANs commonly do: on our 4,500 digits one such block reached the shallow G's quality in
half the steps.
The conditional GAN (Mirza & Osindero 2014, "Conditional Generative Adversarial Nets",
arXiv:1411.1784) gives both networks the digit label: G sees z concatenated with a
one-hot label, D scores the image with a label-dependent projection of its features
(the projection discriminator of Miyato & Koyama 2018, arXiv:1802.05637), so that the
same z under a different label keeps its style and changes its class.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from models.base import GenerativeModel, standard_normal
from models.checks import N_CLASSES, check_bool, check_choice, check_float, check_int

LOSSES = ("non_saturating", "minimax", "wgan_gp")
LOSS_NAMES = {
    "non_saturating": "non-saturating (-log D(G(z)))",
    "minimax": "minimax / saturating (log(1 - D(G(z))))",
    "wgan_gp": "WGAN-GP (critic with gradient penalty)",
}
LATENT_DIM_RANGE = (2, 256)
WIDTH_RANGE = (8, 256)
D_STEPS_RANGE = (1, 10)


def discriminator_loss(kind: str, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The discriminator's loss, a scalar to minimise (without any gradient penalty).

    Args:
        kind: one of ``LOSSES``.
        real_logits, fake_logits: D's outputs (B,) on real and generated inputs: logits
            of D(x) = sigmoid(logit) for the minimax and non-saturating losses, critic
            values f(x) for WGAN-GP.

    Returns:
        For the two classic losses, -[mean log D(x) + mean log(1 - D(G(z)))] = -V(D, G),
        in nats (binary cross-entropy on real = 1, fake = 0). For WGAN-GP,
        mean f(G(z)) - mean f(x), the negative of the critic's Wasserstein estimate.

    Raises:
        ValueError: unknown ``kind``.
    """
    kind = check_choice("loss", kind, LOSSES)
    if kind == "wgan_gp":
        return fake_logits.mean() - real_logits.mean()
    # -log sigmoid(l) = softplus(-l); -log(1 - sigmoid(l)) = softplus(l)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(kind: str, fake_logits: Tensor) -> Tensor:
    """The generator's loss on D's outputs for generated inputs (B,), a scalar to minimise.

    ``"minimax"``: mean log(1 - D(G(z))) (saturates when D rejects the fakes);
    ``"non_saturating"``: -mean log D(G(z)); ``"wgan_gp"``: -mean f(G(z)).

    Raises:
        ValueError: unknown ``kind``.
    """
    kind = check_choice("loss", kind, LOSSES)
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()  # log(1 - sigmoid(l)) = -softplus(l)
    if kind == "non_saturating":
        return F.softplus(-fake_logits).mean()
    return -fake_logits.mean()


def gradient_penalty(critic: Any, real: Tensor, fake: Tensor, eps: Tensor) -> Tensor:
    """WGAN-GP's penalty E[(||grad_x f(x_hat)||_2 - 1)^2] (Gulrajani et al. 2017).

    Args:
        critic: callable mapping a batch like ``real`` to scores (B,).
        real, fake: (B, ...) tensors of the same shape.
        eps: (B,) mixing weights in [0, 1]; x_hat = eps * real + (1 - eps) * fake.

    Returns:
        A scalar, differentiable with respect to the critic's parameters.
    """
    shape = (-1,) + (1,) * (real.dim() - 1)
    x_hat = (eps.view(shape) * real.detach() + (1 - eps.view(shape)) * fake.detach()).requires_grad_(True)
    with torch.enable_grad():
        scores = critic(x_hat)
        (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def discriminator_terms(
    kind: str, discriminate: Any, real: Tensor, fake: Tensor, gp_weight: float, generator: torch.Generator | None = None,
) -> tuple[dict[str, Tensor], Tensor]:
    """D's side of the game on a batch, for any pair of networks (images or 2D points).

    Args:
        kind: one of ``LOSSES``.
        discriminate: callable mapping a batch like ``real`` to logits or critic values (B,).
        real, fake: (B, ...) real and generated inputs of the same shape.
        gp_weight: lambda, the weight of the gradient penalty (WGAN-GP only).
        generator: draws WGAN-GP's mixing weights, after both forward passes.

    Returns:
        (terms, D's outputs on ``fake`` (B,)). Terms, scalars with their graphs:
        ``"loss"``: ``discriminator_loss`` (-V(D, G) for the classic losses, in nats);
        ``"d_loss"``: what D minimises, that plus lambda x ``"gp"`` for WGAN-GP;
        ``"d_real"``, ``"d_fake"``: mean ``d_output`` on each; ``"gp"`` for WGAN-GP.
    """
    real_logits, fake_logits = discriminate(real), discriminate(fake)
    d_loss = discriminator_loss(kind, real_logits, fake_logits)
    terms = {
        "loss": d_loss,
        "d_loss": d_loss,
        "d_real": d_output(kind, real_logits).mean(),
        "d_fake": d_output(kind, fake_logits).mean(),
    }
    if kind == "wgan_gp":
        eps = torch.rand((real.shape[0],), generator=generator, device=real.device)
        terms["gp"] = gradient_penalty(discriminate, real, fake, eps)
        terms["d_loss"] = d_loss + gp_weight * terms["gp"]
    return terms, fake_logits


def d_output(kind: str, logits: Tensor) -> Tensor:
    """What D says about its inputs: D(x) = sigmoid(logit), a probability in [0, 1], for
    the classic losses; the raw critic value (unbounded) for WGAN-GP. Shape as ``logits``."""
    return logits if kind == "wgan_gp" else torch.sigmoid(logits)


def label_blends(labels: Tensor, t: Tensor) -> Tensor:
    """The conditional GAN's label input along a path through digit classes, for
    ``GAN.generate_mixed``: on the leg from ``labels[i]`` to ``labels[i + 1]``, the weights
    (1 - t) one_hot(labels[i]) + t one_hot(labels[i + 1]) at each point of ``t``.

    Args:
        labels: (L,) int64 digits in [0, 9], L >= 2.
        t: (T,) float positions along each leg, in [0, 1].

    Returns:
        ((L - 1) * T, 10) float32, leg after leg; rows are non-negative and sum to 1.
    """
    onehot = F.one_hot(labels, N_CLASSES).float()  # (L, 10)
    t = t.float()[:, None]  # (T, 1)
    return torch.cat([(1 - t) * onehot[i] + t * onehot[i + 1] for i in range(len(labels) - 1)])


def _maybe_sn(layer: nn.Module, on: bool) -> nn.Module:
    return _spectral_norm(layer) if on else layer


class MinibatchStd(nn.Module):
    """Append one channel holding the batch's mean feature standard deviation (Karras et
    al. 2017, arXiv:1710.10196, section 3): (B, C, H, W) -> (B, C + 1, H, W). A batch of
    near-identical samples has a small value there, which D learns to reject. A batch of
    one gets 0 (no spread to measure)."""

    def forward(self, h: Tensor) -> Tensor:
        std = h.std(0, unbiased=False).mean() if h.shape[0] > 1 else h.new_zeros(())
        return torch.cat([h, std.expand(h.shape[0], 1, *h.shape[2:])], dim=1)  # (B, C + 1, H, W)


class GAN(GenerativeModel, paper_url="https://arxiv.org/abs/1511.06434"):
    """DCGAN for 28x28 digits (Radford et al. 2015, arXiv:1511.06434).

    Args:
        latent_dim: size of z, in [2, 256].
        width: channels of the last hidden layer of G and the first of D, in [8, 256]
            (the other hidden layer has twice as many).
        loss: ``"non_saturating"`` (default), ``"minimax"`` (the saturating original) or
            ``"wgan_gp"`` (Gulrajani et al. 2017, arXiv:1704.00028).
        d_steps: k, discriminator updates per generator update, in [1, 10].
        spectral_norm: spectrally normalise every layer of D (Miyato et al. 2018,
            arXiv:1802.05957). D uses batch norm only when this is off and the loss is not
            WGAN-GP (the gradient penalty is per example, which batch norm would break).
        minibatch_std: give D the minibatch standard deviation feature (Karras et al.
            2017, arXiv:1710.10196), against mode dropping.
        g_blocks: stride-1 3x3 conv blocks (conv, batch norm, ReLU) in G at 7x7, before
            upsampling, in [0, 4].
        d_dropout: dropout probability after each of D's hidden layers, in [0, 0.9].
        gp_weight: lambda, the weight of the gradient penalty (WGAN-GP only), in [0, 100].

    Raises:
        ValueError: for any argument outside the ranges above.

    Images are (B, 1, 28, 28) float32 in [0, 1]; the networks work in [-1, 1] inside.
    """

    family: ClassVar[str] = "gan"
    title: ClassVar[str] = "DCGAN (Radford, Metz & Chintala 2015)"
    data_kind: ClassVar[str] = "grey"
    nll_kind: ClassVar[str] = "none"
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 28000, "lr": 2e-4, "batch_size": 64}

    def __init__(
        self,
        latent_dim: int = 64,
        width: int = 64,
        loss: str = "non_saturating",
        d_steps: int = 1,
        spectral_norm: bool = False,
        gp_weight: float = 10.0,
        minibatch_std: bool = False,
        d_dropout: float = 0.0,
        g_blocks: int = 1,
    ):
        super().__init__()
        self.latent_dim = check_int("latent_dim", latent_dim, *LATENT_DIM_RANGE)
        self.width = check_int("width", width, *WIDTH_RANGE)
        self.loss_kind = check_choice("loss", loss, LOSSES)
        self.d_steps = check_int("d_steps", d_steps, *D_STEPS_RANGE)
        self.spectral_norm = check_bool("spectral_norm", spectral_norm)
        self.gp_weight = check_float("gp_weight", gp_weight, 0.0, 100.0)
        self.minibatch_std = check_bool("minibatch_std", minibatch_std)
        self.d_dropout = check_float("d_dropout", d_dropout, 0.0, 0.9)
        self.g_blocks = check_int("g_blocks", g_blocks, 0, 4)
        n_classes = N_CLASSES if self.conditional else 0
        w = self.width
        self.generator = nn.Sequential(
            nn.Linear(self.latent_dim + n_classes, 2 * w * 7 * 7),
            nn.BatchNorm1d(2 * w * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (2 * w, 7, 7)),  # (B, 2w, 7, 7)
            *[m for _ in range(self.g_blocks) for m in (nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU())],
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1),  # (B, w, 14, 14)
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.ConvTranspose2d(w, 1, 4, stride=2, padding=1),  # (B, 1, 28, 28)
            nn.Tanh(),
        )
        sn = self.spectral_norm
        batch_norm = not sn and self.loss_kind != "wgan_gp"
        dropout = [nn.Dropout(self.d_dropout)] if self.d_dropout else []
        self.discriminator = nn.Sequential(
            _maybe_sn(nn.Conv2d(1, w, 4, stride=2, padding=1), sn),  # (B, w, 14, 14)
            nn.LeakyReLU(0.2),
            *dropout,
            _maybe_sn(nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), sn),  # (B, 2w, 7, 7)
            nn.BatchNorm2d(2 * w) if batch_norm else nn.Identity(),
            nn.LeakyReLU(0.2),
            *dropout,
            *([MinibatchStd()] if self.minibatch_std else []),  # (B, 2w + 1, 7, 7)
            nn.Flatten(),  # (B, n_features)
        )
        n_features = (2 * w + self.minibatch_std) * 7 * 7
        self.d_head = _maybe_sn(nn.Linear(n_features, 1), sn)
        # Projection discriminator: logit += <embed(y), features>.
        self.d_embed = _maybe_sn(nn.Embedding(N_CLASSES, n_features), sn) if self.conditional else None
        if self.d_embed is not None:
            nn.init.normal_(self.d_embed.weight if not sn else self.d_embed.parametrizations.weight.original, std=0.01)

    # --- the two networks -------------------------------------------------------------

    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """G(z): images (B, 1, 28, 28) float32 in [0, 1] for latents z (B, latent_dim)
        (and labels y (B,) int64 in [0, 9] for the conditional GAN).

        Raises:
            ValueError: z of the wrong shape, or labels wrong for this family.
        """
        y = self.check_labels(y, self._check_z(z).shape[0])
        return self._decode(z, None if y is None else F.one_hot(y, N_CLASSES))

    def generate_mixed(self, z: Tensor, label_weights: Tensor) -> Tensor:
        """G(z) with a *blend* of labels, for the conditional GAN: images (B, 1, 28, 28) in
        [0, 1] for z (B, latent_dim) and label_weights (B, 10) (non-negative, rows summing
        to 1; a one-hot row is the same as ``generate(z, y)``). Lets an interpolation
        morph one digit class into another while the style (z) moves too.

        Raises:
            ValueError: for an unconditional model or weights of the wrong shape or sign.
        """
        if not self.conditional:
            raise ValueError(f"{self.family} is not class-conditional: it takes no label")
        if label_weights.shape != (self._check_z(z).shape[0], N_CLASSES) or bool((label_weights < 0).any()):
            raise ValueError(f"label weights must be non-negative, of shape ({z.shape[0]}, {N_CLASSES})")
        return self._decode(z, label_weights)

    def _check_z(self, z: Tensor) -> Tensor:
        """``z`` if it is (B, latent_dim); ValueError otherwise."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        return z

    def _decode(self, z: Tensor, label_weights: Tensor | None) -> Tensor:
        """G on checked z (B, latent_dim), concatenated with label weights (B, 10) when
        given; images (B, 1, 28, 28) in [0, 1]."""
        if label_weights is not None:
            z = torch.cat([z, label_weights.to(z.dtype)], dim=1)  # (B, latent + 10)
        return (self.generator(z) + 1) / 2

    def discriminate(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """D's logits (B,) for images x (B, 1, 28, 28) in [0, 1]: logit of D(x) for the
        classic losses, the critic value f(x) for WGAN-GP."""
        y = self.check_labels(y, x.shape[0])
        h = self.discriminator(x * 2 - 1)  # (B, n_features)
        logits = self.d_head(h).squeeze(1)  # (B,)
        if y is not None:
            logits = logits + (self.d_embed(y) * h).sum(1)
        return logits

    def latents(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws of z ~ N(0, I): (n, latent_dim) float32 on the model's device."""
        return standard_normal((n, self.latent_dim), generator, self.device)

    # --- the contract -----------------------------------------------------------------

    def configure_optimizers(self, lr: float, lr_d: float | None = None) -> list[torch.optim.Optimizer]:
        """``[Adam for G, Adam for D]``; D's learning rate is ``lr_d`` (default ``lr``).
        Betas (0.5, 0.999) as in DCGAN, (0, 0.9) for WGAN-GP as in Gulrajani et al."""
        betas = (0.0, 0.9) if self.loss_kind == "wgan_gp" else (0.5, 0.999)
        d_params = [*self.discriminator.parameters(), *self.d_head.parameters()]
        if self.d_embed is not None:
            d_params += list(self.d_embed.parameters())
        return [
            torch.optim.Adam(self.generator.parameters(), lr=lr, betas=betas),
            torch.optim.Adam(d_params, lr=lr if lr_d is None else lr_d, betas=betas),
        ]

    def _d_terms(self, x: Tensor, y: Tensor | None, fake: Tensor, generator: torch.Generator | None) -> tuple[dict[str, Tensor], Tensor]:
        """D's terms on real x and generated ``fake`` (``discriminator_terms``); also
        returns D's logits on ``fake``."""
        return discriminator_terms(self.loss_kind, lambda t: self.discriminate(t, y), x, fake, self.gp_weight, generator)

    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """The game on a batch of real images x (B, 1, 28, 28) in [0, 1], without updates.

        Returns scalars: ``"loss"``: -V(D, G) as D sees it (``discriminator_loss``; D
        minimises it, G maximises it); ``"d_loss"``: that plus the gradient penalty;
        ``"g_loss"``: ``generator_loss``; ``"d_real"``, ``"d_fake"``: mean D(x) and mean
        D(G(z)) (probabilities, or critic values for WGAN-GP); ``"gp"`` for WGAN-GP.
        Nats for the classic losses.
        """
        y = self.check_labels(y, x.shape[0])
        fake = self.generate(self.latents(x.shape[0], generator), y)
        terms, fake_logits = self._d_terms(x, y, fake, generator)
        terms["g_loss"] = generator_loss(self.loss_kind, fake_logits)
        return terms

    def train_step(
        self,
        x: Tensor,
        y: Tensor | None,
        optimizers: list[torch.optim.Optimizer],
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """k = ``d_steps`` updates of D (each with fresh z, on the same real batch), then
        one update of G. Returns the detached terms of ``loss`` (D's from its last update,
        before it; G's before its update)."""
        opt_g, opt_d = optimizers
        y = self.check_labels(y, x.shape[0])
        n = x.shape[0]
        for _ in range(self.d_steps):
            with torch.no_grad():
                fake = self.generate(self.latents(n, generator), y)
            terms, _ = self._d_terms(x, y, fake, generator)
            opt_d.zero_grad(set_to_none=True)
            terms["d_loss"].backward()
            opt_d.step()
        fake_logits = self.discriminate(self.generate(self.latents(n, generator), y), y)
        g_loss = generator_loss(self.loss_kind, fake_logits)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        out = {k: v.detach() for k, v in terms.items()}
        out["g_loss"] = g_loss.detach()
        return out

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """G(z) for n draws z ~ N(0, I): (n, 1, 28, 28) float32 in [0, 1]. The
        conditional GAN needs labels y (n,) int64 in [0, 9].

        Raises:
            ValueError: labels wrong for this family.
        """
        self.check_labels(y, n)
        return self.generate(self.latents(n, generator), y)


class ConditionalGAN(GAN, paper_url="https://arxiv.org/abs/1411.1784"):
    """Conditional DCGAN (Mirza & Osindero 2014, arXiv:1411.1784): G and D take the
    digit label y (B,) int64 in [0, 9]. Same arguments as ``GAN``."""

    family: ClassVar[str] = "cgan"
    title: ClassVar[str] = "Conditional GAN (Mirza & Osindero 2014)"
    conditional: ClassVar[bool] = True

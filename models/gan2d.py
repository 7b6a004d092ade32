"""A GAN on points of the plane: two small MLPs you can watch play the game.

GAN Lab (Kahng, Thorat, Chau, Viégas & Wattenberg 2018, "GAN Lab: Understanding Complex
Deep Generative Models using Interactive Visual Experimentation", arXiv:1809.01587)
showed that a GAN is easiest to understand in two dimensions: the real data is a cloud
of points, the generator G moves its own points (images of noise z ~ N(0, I)), and the
discriminator D is a function of the plane whose level sets one can draw. This module is
that game in PyTorch: G maps z to R^2, D maps R^2 to a logit, and each can be updated on
its own, so one can step D until it separates the clouds, then step G and watch its
points follow -dL_G/dx.

The losses are those of ``models.gan`` (Goodfellow et al. 2014, "Generative Adversarial
Nets", arXiv:1406.2661; WGAN-GP of Gulrajani et al. 2017, arXiv:1704.00028, with the
gradient-penalty weight lambda = 0.1 they use on toy data). On the ring of eight Gaussians
(Metz, Poole, Pfau & Sohl-Dickstein 2016, "Unrolled Generative Adversarial Networks",
arXiv:1611.02163) the saturating loss log(1 - D(G(z))) shows mode collapse: once D rejects
G's points, their gradient vanishes except near the one mode G already sits on.

A step whose losses or weights are not finite is undone: the weights and optimiser
states go back to the snapshot taken before it and ``DivergedError`` says what happened.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from models.base import standard_normal
from models.checks import check_choice, check_float, check_int
from models.gan import (
    D_STEPS_RANGE,
    LOSSES,
    d_output,
    discriminator_terms,
    generator_loss,
)

NOISE_DIM_RANGE = (1, 16)
HIDDEN_RANGE = (4, 256)
DEPTH_RANGE = (1, 4)
LR_RANGE = (1e-5, 1.0)
GP_WEIGHT_RANGE = (0.0, 100.0)
MODES = ("d", "g", "both")
MAX_BATCH = 10_000
_KEPT = "The last finite weights are kept; lower the learning rates or press Reset."


class DivergedError(ValueError):
    """A step produced a NaN or infinite loss or weight. The model has been restored to
    the weights (and optimiser states) it had before that step; the message says which
    network diverged."""


def _mlp(n_in: int, hidden: int, depth: int, n_out: int, activation: Callable[[], nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(n_in if i == 0 else hidden, hidden), activation()]
    layers.append(nn.Linear(hidden, n_out))
    return nn.Sequential(*layers)


class ToyGAN(nn.Module):
    """An MLP generator R^noise_dim -> R^2 and an MLP discriminator R^2 -> logit, each
    with its own Adam optimiser.

    Args:
        noise_dim: size of z ~ N(0, I), in [1, 16]. With 1, G's points lie on a curve.
        hidden: units per hidden layer of both networks, in [4, 256].
        depth: hidden layers of each network, in [1, 4].
        loss: one of ``models.gan.LOSSES``: ``"non_saturating"`` (default), ``"minimax"``
            (the saturating original) or ``"wgan_gp"`` (D becomes a critic f).
        lr_d, lr_g: Adam learning rates of D and G, in [1e-5, 1]; ``set_learning_rates``
            changes them between steps.
        gp_weight: lambda of the gradient penalty (WGAN-GP only), in [0, 100].

    Raises:
        ValueError: for any argument outside those ranges.

    Points are (B, 2) float32; the datasets of ``playground.core.toy2d`` lie in [-2, 2]^2.
    G uses ReLU, D LeakyReLU(0.2); no normalisation layers, so every output depends on
    its own input only (the gradient penalty needs that).
    """

    def __init__(
        self,
        noise_dim: int = 2,
        hidden: int = 64,
        depth: int = 2,
        loss: str = "non_saturating",
        lr_d: float = 1e-3,
        lr_g: float = 1e-3,
        gp_weight: float = 0.1,
    ):
        super().__init__()
        self.noise_dim = check_int("noise dimension", noise_dim, *NOISE_DIM_RANGE)
        self.hidden = check_int("hidden width", hidden, *HIDDEN_RANGE)
        self.depth = check_int("depth", depth, *DEPTH_RANGE)
        self.loss_kind = check_choice("loss", loss, LOSSES)
        self.gp_weight = check_float("gradient-penalty weight", gp_weight, *GP_WEIGHT_RANGE)
        self.generator = _mlp(self.noise_dim, self.hidden, self.depth, 2, nn.ReLU)
        self.discriminator = _mlp(2, self.hidden, self.depth, 1, lambda: nn.LeakyReLU(0.2))
        # Adam with beta1 = 0.5 as in DCGAN; (0.5, 0.9) for WGAN-GP as in Gulrajani et
        # al.'s toy-data code.
        betas = (0.5, 0.9) if self.loss_kind == "wgan_gp" else (0.5, 0.999)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=LR_RANGE[0], betas=betas)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=LR_RANGE[0], betas=betas)
        self.set_learning_rates(lr_d, lr_g)

    def set_learning_rates(self, lr_d: float, lr_g: float) -> None:
        """Set D's and G's Adam learning rates (each in [1e-5, 1]); Adam's moments are kept.

        Raises:
            ValueError: for NaN, infinite or out-of-range values (nothing is changed).
        """
        lr_d = check_float("learning rate of D", lr_d, *LR_RANGE)
        lr_g = check_float("learning rate of G", lr_g, *LR_RANGE)
        for opt, lr in ((self.opt_d, lr_d), (self.opt_g, lr_g)):
            for group in opt.param_groups:
                group["lr"] = lr

    def set_loss(self, loss: str) -> None:
        """Play on with another loss (one of ``LOSSES``), keeping the weights and the
        optimisers (with the Adam betas of the loss the model was built with). Switching
        between the saturating and non-saturating losses changes only G's gradient, which
        makes their difference visible on the same D; to or from WGAN-GP, D's logit is
        read as a critic value (or back).

        Raises:
            ValueError: unknown loss.
        """
        self.loss_kind = check_choice("loss", loss, LOSSES)

    # --- the two networks -------------------------------------------------------------

    def noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws of z ~ N(0, I): (n, noise_dim) float32."""
        return standard_normal((n, self.noise_dim), generator, torch.device("cpu"))

    def generate(self, z: Tensor) -> Tensor:
        """G(z): points (B, 2) for noise z (B, noise_dim)."""
        return self.generator(z)

    def discriminate(self, x: Tensor) -> Tensor:
        """D's logits (B,) for points x (B, 2): the logit of D(x) for the classic losses,
        the critic value f(x) for WGAN-GP."""
        return self.discriminator(x).squeeze(1)

    # --- updates ------------------------------------------------------------------------

    def d_step(self, real: Tensor, generator: torch.Generator | None = None) -> dict[str, float]:
        """One Adam update of D on real points (B, 2) against B fresh generated points.

        Returns:
            ``d_loss`` (what D minimised: ``discriminator_loss``, plus lambda x ``gp`` for
            WGAN-GP; nats for the classic losses), ``d_real`` and ``d_fake`` (mean D(x) on
            each, probabilities or critic values), and ``gp`` for WGAN-GP; all before the
            update.
        """
        with torch.no_grad():
            fake = self.generate(self.noise(real.shape[0], generator))
        terms, _ = discriminator_terms(self.loss_kind, self.discriminate, real, fake, self.gp_weight, generator)
        self.opt_d.zero_grad(set_to_none=True)
        terms["d_loss"].backward()
        self.opt_d.step()
        return {k: float(v.detach()) for k, v in terms.items() if k != "loss"}

    def g_step(self, n: int, generator: torch.Generator | None = None) -> dict[str, float]:
        """One Adam update of G on n fresh points (D's weights get no update, though the
        gradient flows through D). Returns ``g_loss`` (``generator_loss``) before it."""
        n = check_int("batch size", n, 1, MAX_BATCH)
        g_loss = generator_loss(self.loss_kind, self.discriminate(self.generate(self.noise(n, generator))))
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        # G's backward pass also filled D's .grad; drop it so it cannot leak into D's
        # next update (d_step zeroes it too, this keeps the state clean in between).
        self.opt_d.zero_grad(set_to_none=True)
        return {"g_loss": float(g_loss.detach())}

    def step(self, real: Tensor, mode: str = "both", d_steps: int = 1, generator: torch.Generator | None = None) -> dict[str, float]:
        """Update D only (``"d"``: one update), G only (``"g"``: one update on as many
        points as ``real`` has) or both (``"both"``: ``d_steps`` = k updates of D on
        ``real``, then one of G: Algorithm 1 of Goodfellow et al. 2014).

        Args:
            real: (B, 2) finite real points, B in [1, 10000].
            mode: ``"d"``, ``"g"`` or ``"both"``.
            d_steps: k, in [1, 10].
            generator: draws the noise (and WGAN-GP's mixing weights).

        Returns:
            The losses of the last updates made (see ``d_step`` and ``g_step``), floats.

        Raises:
            ValueError: bad arguments (nothing is changed).
            DivergedError: a loss or weight became NaN or infinite; every weight and
                optimiser state is back to what it was before this call.
        """
        mode = check_choice("mode", mode, MODES)
        k = check_int("D steps per G step (k)", d_steps, *D_STEPS_RANGE)
        if real.dim() != 2 or real.shape[1] != 2 or not 1 <= real.shape[0] <= MAX_BATCH:
            raise ValueError(f"real points must have shape (B, 2) with B in [1, {MAX_BATCH}], got {tuple(real.shape)}")
        real = real.float()
        if not bool(torch.isfinite(real).all()):
            raise ValueError("real points must be finite numbers")
        snapshot = self._snapshot()
        out: dict[str, float] = {}
        try:
            if mode != "g":
                for _ in range(1 if mode == "d" else k):
                    out.update(self.d_step(real, generator))
                    self._check("D", out, real)
            if mode != "d":
                out.update(self.g_step(real.shape[0], generator))
                self._check("G", out, real)
        except DivergedError:
            self._restore(snapshot)
            raise
        return out

    @torch.no_grad()
    def _check(self, name: str, losses: dict[str, float], real: Tensor) -> None:
        """Raise DivergedError unless the losses, the weights of network ``name`` ("D"
        or "G") and its outputs are finite. Weights can be finite yet so large that the
        outputs overflow, and the next step would start from them: D is probed on the
        real points, G on a few fixed noise vectors (and D on G's probes)."""
        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        if bad:
            raise DivergedError(f"{name} diverged: its loss became {losses[bad[0]]} ({bad[0]}). " + _KEPT)
        net = self.discriminator if name == "D" else self.generator
        if not bool(torch.isfinite(torch.cat([p.reshape(-1) for p in net.parameters()])).all()):
            raise DivergedError(f"{name} diverged: its weights became NaN or infinite. " + _KEPT)
        if name == "D":
            if not bool(torch.isfinite(self.discriminate(real)).all()):
                raise DivergedError("D diverged: its output on the real points overflowed. " + _KEPT)
            return
        fake = self.generate(torch.cat([torch.eye(self.noise_dim), -torch.eye(self.noise_dim)]))  # (2 noise_dim, 2)
        if not bool(torch.isfinite(fake).all() and torch.isfinite(self.discriminate(fake)).all()):
            raise DivergedError("G diverged: its points went off to infinity. " + _KEPT)

    def _snapshot(self) -> tuple[list[Tensor], list[dict]]:
        """Copies of the weights and of both optimisers' states (Adam's moments and step
        counts). Cheaper than deep-copying state dicts: a third of a step, not a whole one."""
        weights = [p.detach().clone() for p in self.parameters()]
        states = [
            {p: {k: v.clone() if torch.is_tensor(v) else v for k, v in st.items()} for p, st in opt.state.items()}
            for opt in (self.opt_d, self.opt_g)
        ]
        return weights, states

    @torch.no_grad()
    def _restore(self, snapshot: tuple[list[Tensor], list[dict]]) -> None:
        weights, states = snapshot
        for p, saved in zip(self.parameters(), weights):
            p.copy_(saved)
        for opt, saved in zip((self.opt_d, self.opt_g), states):
            # The snapshot's own copies become the state: it is used once, then dropped.
            opt.state.clear()
            opt.state.update(saved)
            opt.zero_grad(set_to_none=True)

    # --- what the lab draws -------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """G(z) for n draws z ~ N(0, I): (n, 2) float32."""
        return self.generate(self.noise(check_int("number of samples", n, 1, MAX_BATCH * 10), generator))

    @torch.no_grad()
    def decision_surface(self, xs: Tensor, ys: Tensor) -> Tensor:
        """D over the grid xs x ys (1-D tensors of coordinates): (len(ys), len(xs)),
        row i at y = ys[i] (plotly's heatmap layout). Probabilities D(x) in [0, 1] that
        x is real for the classic losses; critic values f(x) (unbounded, higher = more
        real) for WGAN-GP."""
        gy, gx = torch.meshgrid(ys.float(), xs.float(), indexing="ij")
        logits = self.discriminate(torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1))
        return d_output(self.loss_kind, logits).view(len(ys), len(xs))  # (len(ys), len(xs))

    def generator_gradient(self, points: Tensor) -> Tensor:
        """-dL_G/dx for each generated point x (B, 2): the direction (and size) in which
        G's loss pushes that point, per point (the gradient of that point's own term, not
        of the batch mean). Under the saturating loss it vanishes where D(x) is near 0."""
        x = points.detach().float().clone().requires_grad_(True)
        with torch.enable_grad():
            # generator_loss is a batch mean; times B, each point's term has weight 1.
            loss = generator_loss(self.loss_kind, self.discriminate(x)) * x.shape[0]
            (grad,) = torch.autograd.grad(loss, x)
        return -grad

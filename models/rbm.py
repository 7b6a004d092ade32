"""The restricted Boltzmann machine: energy, block Gibbs sampling and contrastive
divergence (its partition function is in ``models.partition``).

A Bernoulli-Bernoulli RBM has binary visible units v in {0, 1}^V (the binarised pixels)
and binary hidden units h in {0, 1}^H, joined by weights W (V, H) with biases a (V) and
b (H). Its energy and distribution are

    E(v, h) = -a.v - b.h - v.W.h,        p(v, h) = exp(-E(v, h)) / Z,

where the partition function Z sums exp(-E) over all 2^(V+H) states: intractable for
digits. There are no visible-visible or hidden-hidden connections (the "restricted"
architecture), so the conditionals factorise,

    p(h_j = 1 | v) = sigmoid(b_j + v.W[:, j]),   p(v_i = 1 | h) = sigmoid(a_i + W[i, :].h),

and block Gibbs sampling updates a whole layer at once. Summing h out gives the free
energy, F(v) = -a.v - sum_j softplus(b_j + v.W[:, j]), with p(v) = exp(-F(v)) / Z.

The log-likelihood gradient is <v h^T>_data - <v h^T>_model; the model term needs samples
from p. Contrastive divergence (CD-k; Hinton 2002, "Training Products of Experts by
Minimizing Contrastive Divergence", Neural Computation 14(8)) replaces them with k Gibbs
steps started at the data: biased ("wrong, but it works"). Persistent CD (PCD; Tieleman
2008, "Training Restricted Boltzmann Machines using Approximations to the Likelihood
Gradient", ICML) keeps the negative chains running from one update to the next, so they
approach the model's distribution. Updates use SGD with momentum and L2 weight decay on W
(Hinton 2010, "A Practical Guide to Training Restricted Boltzmann Machines", UTML TR 2010-003).

Test log-likelihoods need log Z, exact for a few hidden units and otherwise estimated by
annealed importance sampling (Salakhutdinov & Murray 2008): ``models.partition``, mixed
into the RBM.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import GenerativeModel
from models.checks import N_PIXELS, check_bool, check_float, check_int
from models.partition import MAX_AIS_BETAS, MAX_AIS_RUNS, MIN_AIS_BETAS, MIN_AIS_RUNS, PartitionFunction, bernoulli

MAX_HIDDEN = 4096  # the largest layer the constructor accepts (about 3.2 M weights on digits)
MAX_VISIBLE = 4096
MAX_CD_K = 100
MAX_GIBBS_STEPS = 100_000
SAMPLE_STEP = 50  # Gibbs steps between the yields of ``sample_iter``


def weights_as_images(w: Tensor) -> Tensor:
    """Columns of a (784, H) weight matrix (one per hidden unit: its "filter") as images
    (H, 1, 28, 28) in [0, 1]: each column divided by its largest absolute value, so that
    0.5 (grey) is zero weight, white excitatory and black inhibitory.

    Raises:
        ValueError: a matrix without 784 rows.
    """
    if w.dim() != 2 or w.shape[0] != N_PIXELS:
        raise ValueError(f"filters need a ({N_PIXELS}, H) weight matrix, got {tuple(w.shape)}")
    w = w.detach().float().cpu().T  # (H, 784)
    scale = w.abs().amax(1, keepdim=True).clamp_min(1e-8)
    return (0.5 + 0.5 * w / scale).view(-1, 1, 28, 28)


class RBM(PartitionFunction, GenerativeModel, paper_url="https://www.cs.toronto.edu/~hinton/absps/guideTR.pdf"):
    """Bernoulli-Bernoulli RBM on binary images (V = 784 pixels by default).

    Args:
        n_hidden: hidden units H, in [1, 4096].
        n_visible: visible units V, in [1, 4096] (784 for digits; a DBN's upper layers
            take the hidden units below as their visible units).
        cd_k: Gibbs steps k of each CD-k or PCD-k update, in [1, 100].
        persistent: train by persistent CD (Tieleman 2008) instead of CD-k (Hinton 2002).
        momentum: SGD momentum, in [0, 0.99].
        weight_decay: L2 penalty on W (not the biases), in [0, 0.1].
        n_gibbs: Gibbs steps ``sample`` runs from noise (the "fantasy" length), in
            [1, 100,000]; settable after loading (the CLI's ``--gibbs-steps``).
        ais_betas: intermediate distributions of ``log_partition``'s AIS, in [10, 100,000].
        ais_runs: independent AIS runs, in [2, 10,000].

    Tensors: images are (B, 1, 28, 28) or (B, V) float32 with values in {0, 1} (means in
    [0, 1] are accepted where noted); hidden states are (B, H) float32 in {0, 1}.
    Energies and free energies are in nats.

    Raises:
        ValueError: any argument out of range (the message names it and the limit).
    """

    family: ClassVar[str] = "rbm"
    title: ClassVar[str] = "Restricted Boltzmann machine (CD-k / PCD; Hinton 2002, Tieleman 2008)"
    data_kind: ClassVar[str] = "binary"
    nll_kind: ClassVar[str] = "ais_estimate"
    # Tieleman (2008): PCD with a learning rate decaying linearly to 0. With a constant
    # rate the fantasies of a snapshot fall into one or two digits.
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 20000, "lr": 0.02, "batch_size": 100, "lr_schedule": "linear"}

    def __init__(
        self,
        n_hidden: int = 500,
        n_visible: int = N_PIXELS,
        cd_k: int = 1,
        persistent: bool = True,
        momentum: float = 0.5,
        weight_decay: float = 1e-4,
        n_gibbs: int = 1000,
        ais_betas: int = 14500,
        ais_runs: int = 100,
    ):
        super().__init__()
        self.n_hidden = check_int("hidden units", n_hidden, 1, MAX_HIDDEN)
        self.n_visible = check_int("visible units", n_visible, 1, MAX_VISIBLE)
        self.cd_k = check_int("k (Gibbs steps per update)", cd_k, 1, MAX_CD_K)
        self.persistent = check_bool("persistent", persistent)
        self.momentum = check_float("momentum", momentum, 0.0, 0.99)
        self.weight_decay = check_float("weight decay", weight_decay, 0.0, 0.1)
        self.n_gibbs = check_int("Gibbs steps", n_gibbs, 1, MAX_GIBBS_STEPS)
        self.ais_betas = check_int("AIS temperatures", ais_betas, MIN_AIS_BETAS, MAX_AIS_BETAS)
        self.ais_runs = check_int("AIS runs", ais_runs, MIN_AIS_RUNS, MAX_AIS_RUNS)
        # Hinton (2010), section 8: small random weights, zero biases.
        self.weight = nn.Parameter(0.01 * torch.randn(self.n_visible, self.n_hidden))  # W (V, H)
        self.visible_bias = nn.Parameter(torch.zeros(self.n_visible))  # a (V,)
        self.hidden_bias = nn.Parameter(torch.zeros(self.n_hidden))  # b (H,)
        self._chains: Tensor | None = None  # PCD's persistent visible states (B, V)
        self._log_z_cache: tuple[Any, dict[str, Any]] | None = None
        self._base_data: Tensor | None = None  # images whose pixel means set AIS's base rates

    # -- the energy and its conditionals ------------------------------------------------
    def flat(self, v: Tensor) -> Tensor:
        """``v`` as (B, V) float32: images (B, 1, 28, 28) are flattened.

        Raises:
            ValueError: the wrong number of visible values.
        """
        v = v.reshape(len(v), -1) if v.dim() != 2 else v
        if v.shape[1] != self.n_visible:
            raise ValueError(f"this RBM has {self.n_visible} visible units, got inputs of {v.shape[1]} values")
        return v.to(self.weight.dtype)

    def energy(self, v: Tensor, h: Tensor) -> Tensor:
        """E(v, h) = -a.v - b.h - v.W.h in nats: (B,) for v (B, V) or images, h (B, H).

        Raises:
            ValueError: shapes that do not match the RBM or each other.
        """
        v = self.flat(v)
        if h.shape != (len(v), self.n_hidden):
            raise ValueError(f"h must have shape ({len(v)}, {self.n_hidden}), got {tuple(h.shape)}")
        return -(v @ self.visible_bias) - (h @ self.hidden_bias) - ((v @ self.weight) * h).sum(1)

    def free_energy(self, v: Tensor) -> Tensor:
        """F(v) = -log sum_h exp(-E(v, h)) = -a.v - sum_j softplus(b_j + v.W[:, j]), in
        nats, (B,), for v (B, V) or images (B, 1, 28, 28), binary or in [0, 1]."""
        v = self.flat(v)
        return -(v @ self.visible_bias) - F.softplus(v @ self.weight + self.hidden_bias).sum(1)

    def hidden_probs(self, v: Tensor) -> Tensor:
        """p(h = 1 | v) = sigmoid(b + v W): (B, H) in (0, 1)."""
        return torch.sigmoid(self.flat(v) @ self.weight + self.hidden_bias)

    def visible_probs(self, h: Tensor) -> Tensor:
        """p(v = 1 | h) = sigmoid(a + W h): (B, V) in (0, 1)."""
        return torch.sigmoid(h @ self.weight.T + self.visible_bias)

    def gibbs_step(self, v: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """One block Gibbs step v -> h ~ p(h | v) -> v' ~ p(v | h).

        Returns:
            (h (B, H) binary, p(v' = 1 | h) (B, V) in (0, 1), v' (B, V) binary).
        """
        h = bernoulli(self.hidden_probs(v), generator)
        mean = self.visible_probs(h)
        return h, mean, bernoulli(mean, generator)

    @torch.no_grad()
    def gibbs_chain(
        self, v: Tensor, n_steps: int, every: int = 0, clamp: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor, list[tuple[int, Tensor, Tensor]]]:
        """Run ``n_steps`` block Gibbs steps from visible states ``v`` (B, V) or images.

        Args:
            n_steps: in [0, 100,000].
            every: record a frame every ``every`` steps (0: none); the start is frame 0.
            clamp: optional (V,) or (B, V) bool mask of visible units held at their
                values in ``v`` (clamped Gibbs sampling: the chain fills in the others).

        Returns:
            (final states (B, V) binary, their means p(v = 1 | h) (B, V), frames as a list
            of (step, states, means) on the CPU).

        Raises:
            ValueError: a step count or mask out of range.
        """
        n_steps = check_int("Gibbs steps", n_steps, 0, MAX_GIBBS_STEPS)
        every = check_int("frame interval", every, 0, MAX_GIBBS_STEPS)
        v = self.flat(v).clone()
        fixed = None
        if clamp is not None:
            fixed = clamp.to(v.device, torch.bool)
            if tuple(fixed.shape) not in {(self.n_visible,), tuple(v.shape)}:
                raise ValueError(f"the clamp mask must have shape ({self.n_visible},) or {tuple(v.shape)}, got {tuple(fixed.shape)}")
            fixed = fixed.expand_as(v)
            values = v.clone()
        mean = v.clone()
        frames = [(0, v.cpu(), mean.cpu())] if every else []
        for step in range(1, n_steps + 1):
            _, mean, v = self.gibbs_step(v, generator)
            if fixed is not None:
                v = torch.where(fixed, values, v)
                mean = torch.where(fixed, values, mean)
            if every and (step % every == 0 or step == n_steps):
                frames.append((step, v.cpu(), mean.cpu()))
        return v, mean, frames

    # -- training --------------------------------------------------------------------------
    def configure_optimizers(self, lr: float, lr_d: float | None = None) -> list[torch.optim.Optimizer]:
        """SGD with ``momentum``; weight decay on W only. Resets PCD's chains."""
        self._chains = None
        return [
            torch.optim.SGD(
                [
                    {"params": [self.weight], "weight_decay": self.weight_decay},
                    {"params": [self.visible_bias, self.hidden_bias], "weight_decay": 0.0},
                ],
                lr=lr, momentum=self.momentum,
            )
        ]

    def cd_gradients(self, v0: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Set ``.grad`` of W, a, b to minus the CD-k (or PCD-k) estimate of the
        log-likelihood gradient on the batch v0 (B, V) or images, binary:

            -dlog p/dW ~ -( <v h^T>_data - <v h^T>_model ) / B,

        the data term with p(h | v0), the model term with the chain's last v and p(h | v).

        Returns:
            Detached scalars: ``"reconstruction_error"`` (squared error of the
            mean-field reconstruction p(v | p(h | v0)), pixels per image) and ``"free_energy"`` (mean F of
            the batch, nats).
        """
        v0 = self.flat(v0).detach()
        with torch.no_grad():
            x0 = v0 @ self.weight + self.hidden_bias  # (B, H), shared by p(h | v0) and F(v0)
            ph0 = torch.sigmoid(x0)
            if self.persistent:
                if self._chains is None or self._chains.shape != v0.shape:
                    self._chains = bernoulli(torch.full_like(v0, 0.5), generator)
                vk = self._chains
            else:
                vk = v0
            for _ in range(self.cd_k):
                _, _, vk = self.gibbs_step(vk, generator)
            if self.persistent:
                self._chains = vk
            recon = self.visible_probs(ph0)  # the mean-field reconstruction, as in ``loss``
            phk = self.hidden_probs(vk)
            n = len(v0)
            self.weight.grad = -(v0.T @ ph0 - vk.T @ phk) / n
            self.visible_bias.grad = -(v0 - vk).mean(0)
            self.hidden_bias.grad = -(ph0 - phk).mean(0)
            return {
                "reconstruction_error": ((v0 - recon) ** 2).sum(1).mean(),
                "free_energy": (-(v0 @ self.visible_bias) - F.softplus(x0).sum(1)).mean(),  # F(v0), as free_energy
            }

    def train_step(
        self, x: Tensor, y: Tensor | None, optimizers: list[torch.optim.Optimizer], generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """One CD-k / PCD-k update on binary images ``x`` (B, 1, 28, 28).

        Returns:
            ``"loss"`` (the reconstruction error, what the curves show: CD follows no
            loss), ``"reconstruction_error"`` and ``"free_energy"``.
        """
        self.check_labels(y, len(x))
        (optimizer,) = optimizers
        terms = self.cd_gradients(x, generator)
        optimizer.step()
        return {"loss": terms["reconstruction_error"], **terms}

    @torch.no_grad()
    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Deterministic monitors on a batch (B, 1, 28, 28): ``"loss"`` and
        ``"reconstruction_error"``, the squared error of the mean-field reconstruction
        p(v | p(h | x)) (pixels per image); ``"cross_entropy"`` of that reconstruction
        (nats per image); ``"free_energy"``, mean F(x) in nats (its train - test gap
        grows when the RBM overfits)."""
        self.check_labels(y, len(x))
        v = self.flat(x)
        recon = self.visible_probs(self.hidden_probs(v))
        error = ((v - recon) ** 2).sum(1).mean()
        cross_entropy = F.binary_cross_entropy(recon.clamp(1e-7, 1 - 1e-7), v, reduction="none").sum(1).mean()
        return {"loss": error, "reconstruction_error": error, "cross_entropy": cross_entropy, "free_energy": self.free_energy(v).mean()}

    # -- sampling ----------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` fantasies: ``n_gibbs`` block Gibbs steps from uniform noise (each pixel
        on with probability 1/2). Returns the last step's means p(v = 1 | h),
        (n, 1, 28, 28) float32 in [0, 1] (grey levels read better than one binary draw).

        Raises:
            ValueError: ``n`` not in [1, 100,000], labels given, or a model whose visible
                layer is not 28 x 28.
        """
        *_, images = self.sample_iter(n, y, generator)
        return images

    @torch.no_grad()
    def sample_iter(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Iterator[Tensor | None]:
        """``sample`` in runs of ``SAMPLE_STEP`` Gibbs steps (see ``gibbs_runs``), so that
        a trainer's Stop is seen between them: yields None after each run but the last,
        then the samples, the same draws as ``sample``."""
        n = check_int("samples", n, 1, 100_000)
        self.check_labels(y, n)
        if self.n_visible != N_PIXELS:
            raise ValueError(f"only an RBM with {N_PIXELS} visible units draws images")
        noise = bernoulli(torch.full((n, self.n_visible), 0.5, device=self.device), generator)
        for run in self.gibbs_runs(noise, self.n_gibbs, generator):
            yield None if run is None else run[1].view(n, 1, 28, 28)

    @torch.no_grad()
    def gibbs_runs(self, v: Tensor, n_steps: int, generator: torch.Generator | None = None) -> Iterator[tuple[Tensor, Tensor] | None]:
        """``gibbs_chain`` from ``v`` (B, V) for ``n_steps`` (>= 1) steps, ``SAMPLE_STEP``
        at a time: yields None after each run but the last, then (states, means), each
        (B, V), the same draws as one ``gibbs_chain`` (the runs consume ``generator`` in
        the same order)."""
        done = 0
        while True:
            chunk = min(SAMPLE_STEP, n_steps - done)
            v, mean, _ = self.gibbs_chain(v, chunk, generator=generator)
            done += chunk
            if done >= n_steps:
                break
            yield None
        yield v, mean

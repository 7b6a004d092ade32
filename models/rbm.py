"""The restricted Boltzmann machine: energy, block Gibbs sampling, contrastive divergence
and annealed importance sampling of its partition function.

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

Test log-likelihoods need log Z. Annealed importance sampling (AIS; Neal 2001,
arXiv:physics/9803008; for RBMs Salakhutdinov & Murray 2008, "On the Quantitative Analysis
of Deep Belief Networks", ICML) anneals from a base-rate RBM (W = 0, whose Z is known)
to the model through intermediate distributions with inverse temperatures beta in [0, 1],
and averages importance weights over independent runs. For an RBM with at most
``MAX_EXACT_HIDDEN`` hidden units, ``exact_log_partition`` enumerates h instead.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import GenerativeModel
from models.checks import N_PIXELS, check_bool, check_float, check_int

MAX_HIDDEN = 4096  # the largest layer the constructor accepts (about 3.2 M weights on digits)
MAX_VISIBLE = 4096
MAX_CD_K = 100
MAX_GIBBS_STEPS = 100_000
MAX_EXACT_HIDDEN = 20  # exact log Z enumerates 2^H hidden states
MAX_AIS_BETAS = 100_000
MAX_AIS_RUNS = 10_000


def _uniform(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """U(0, 1) noise drawn on the generator's device (so a CPU-seeded run is the same on
    any device), then moved to ``device``."""
    if generator is None:
        return torch.rand(shape, device=device)
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def bernoulli(probs: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Binary states {0., 1.} drawn with the given probabilities (any shape, float)."""
    return (_uniform(tuple(probs.shape), generator, probs.device) < probs).to(probs.dtype)


def ais_betas(n_betas: int) -> Tensor:
    """The inverse temperatures of AIS: ``n_betas`` + 1 values from 0 to 1, float64,
    spaced as in Salakhutdinov & Murray (2008): 500 : 4,000 : 10,000 of them in [0, 0.5),
    [0.5, 0.9) and [0.9, 1], so most of them sit near beta = 1, where the distributions
    change fastest."""
    n_betas = check_int("AIS temperatures", n_betas, 10, MAX_AIS_BETAS)
    n1 = max(1, round(n_betas * 500 / 14500))
    n2 = max(1, round(n_betas * 4000 / 14500))
    n3 = n_betas - n1 - n2
    return torch.cat([
        torch.linspace(0, 0.5, n1 + 1, dtype=torch.float64)[:-1],
        torch.linspace(0.5, 0.9, n2 + 1, dtype=torch.float64)[:-1],
        torch.linspace(0.9, 1.0, n3 + 1, dtype=torch.float64),
    ])


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


class RBM(GenerativeModel, paper_url="https://www.cs.toronto.edu/~hinton/absps/guideTR.pdf"):
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
        self.ais_betas = check_int("AIS temperatures", ais_betas, 10, MAX_AIS_BETAS)
        self.ais_runs = check_int("AIS runs", ais_runs, 2, MAX_AIS_RUNS)
        # Hinton (2010), section 8: small random weights, zero biases.
        self.weight = nn.Parameter(0.01 * torch.randn(self.n_visible, self.n_hidden))  # W (V, H)
        self.visible_bias = nn.Parameter(torch.zeros(self.n_visible))  # a (V,)
        self.hidden_bias = nn.Parameter(torch.zeros(self.n_hidden))  # b (H,)
        self._chains: Tensor | None = None  # PCD's persistent visible states (B, V)
        self._log_z_cache: tuple[Any, dict[str, float]] | None = None
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
        n = check_int("samples", n, 1, 100_000)
        self.check_labels(y, n)
        if self.n_visible != N_PIXELS:
            raise ValueError(f"only an RBM with {N_PIXELS} visible units draws images")
        noise = bernoulli(torch.full((n, self.n_visible), 0.5, device=self.device), generator)
        _, mean, _ = self.gibbs_chain(noise, self.n_gibbs, generator=generator)
        return mean.view(n, 1, 28, 28)

    # -- the partition function --------------------------------------------------------------
    @torch.no_grad()
    def exact_log_partition(self) -> float:
        """log Z by enumerating the 2^H hidden states (H <= 20), in nats (float64):
        log Z = logsumexp_h [b.h + sum_i softplus(a_i + W[i, :].h)].

        Raises:
            ValueError: more than ``MAX_EXACT_HIDDEN`` hidden units.
        """
        if self.n_hidden > MAX_EXACT_HIDDEN:
            raise ValueError(f"exact log Z enumerates 2^H states: at most {MAX_EXACT_HIDDEN} hidden units, this RBM has {self.n_hidden}")
        w, a, b = self.weight.double(), self.visible_bias.double(), self.hidden_bias.double()
        bits = torch.arange(self.n_hidden, device=w.device)
        chunks = []
        for start in range(0, 2**self.n_hidden, 2**14):
            codes = torch.arange(start, min(start + 2**14, 2**self.n_hidden), device=w.device)
            h = ((codes[:, None] >> bits) & 1).double()  # (C, H)
            chunks.append(torch.logsumexp(h @ b + F.softplus(h @ w.T + a).sum(1), 0))
        return float(torch.logsumexp(torch.stack(chunks), 0))

    def base_rate_bias(self, data: Tensor | None) -> Tensor:
        """Visible biases (V,) of AIS's base-rate RBM: log(p / (1 - p)) of the pixel means
        of ``data`` (N, V) or images, smoothed; zeros (p = 1/2) without data."""
        if data is None:
            return torch.zeros(self.n_visible, dtype=torch.float64, device=self.device)
        p = self.flat(data.to(self.device)).double().mean(0)
        p = (p * len(data) + 0.05) / (len(data) + 0.1)  # never exactly 0 or 1
        return torch.log(p) - torch.log1p(-p)

    @torch.no_grad()
    def log_z_floor(self, states: Tensor | None = None) -> float:
        """A sure lower bound on log Z: logsumexp of -F(v) over distinct binary states
        ``states`` (N, V) or images, plus the blank and the all-ones image. AIS tends to
        underestimate log Z when its runs miss a mode; an estimate below this floor is
        certainly too low (then some known image would get log p(v) > 0).

        Returns:
            The floor in nats (float).
        """
        extremes = torch.stack([torch.zeros(self.n_visible), torch.ones(self.n_visible)]).to(self.device)
        v = extremes if states is None else torch.cat([extremes, self.flat(states.to(self.device)).round()])
        v = torch.unique(v, dim=0)  # distinct states: each counts once in Z
        return float(torch.logsumexp(-self.free_energy(v).double(), 0))

    @torch.no_grad()
    def ais(
        self, n_betas: int | None = None, n_runs: int | None = None, base_data: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[str, Any]:
        """Estimate log Z by annealed importance sampling (Salakhutdinov & Murray 2008).

        The base model A has W = 0, visible biases a_A (``base_rate_bias(base_data)``) and
        log Z_A = sum_i softplus(a_A,i) + H log 2. The intermediate distributions are

            p*_beta(v) = exp((1 - beta) a_A.v + beta a.v) prod_j (1 + exp(beta (b_j + v.W[:, j]))),

        each sampled by one Gibbs step at its temperature. Each run's log weight is
        sum_k [log p*_k(v_k) - log p*_{k-1}(v_k)], and log Z = log Z_A + log mean_runs w.

        Args:
            n_betas: intermediate distributions (default ``self.ais_betas``), in [10, 100,000].
            n_runs: independent runs (default ``self.ais_runs``), in [2, 10,000].
            base_data: training images for the base rates (None: p = 1/2).

        Returns:
            ``log_z`` (nats), ``log_z_low`` and ``log_z_high`` (log of mean w -/+ 3
            standard errors; low is -inf when the interval reaches 0), ``log_z_base``,
            ``log_z_floor`` (``log_z_floor(base_data)``: an estimate below it is surely too
            low), ``log_weights`` (n_runs,) float64 on the CPU, ``n_betas``, ``n_runs``.

        Raises:
            ValueError: counts out of range.
        """
        betas = ais_betas(self.ais_betas if n_betas is None else n_betas).tolist()
        n_runs = check_int("AIS runs", self.ais_runs if n_runs is None else n_runs, 2, MAX_AIS_RUNS)
        w, a, b = self.weight.detach(), self.visible_bias.detach(), self.hidden_bias.detach()
        a_base = self.base_rate_bias(base_data)
        log_z_base = float(F.softplus(a_base).sum()) + self.n_hidden * math.log(2)
        a_base = a_base.to(w.dtype)
        v = bernoulli(torch.sigmoid(a_base).expand(n_runs, -1), generator)
        log_w = torch.zeros(n_runs, dtype=torch.float64, device=self.device)
        for k in range(1, len(betas)):
            beta, previous = betas[k], betas[k - 1]
            # log p*_k(v) - log p*_{k-1}(v), from x = vW + b, which the Gibbs step reuses.
            x = v @ w + b  # (R, H)
            step = (beta - previous) * (v @ (a - a_base)) + (F.softplus(beta * x) - F.softplus(previous * x)).sum(1)
            log_w += step.double()
            h = bernoulli(torch.sigmoid(beta * x), generator)
            v = bernoulli(torch.sigmoid((1 - beta) * a_base + beta * (a + h @ w.T)), generator)
        log_mean = float(torch.logsumexp(log_w, 0)) - math.log(n_runs)
        # The spread: mean w +/- 3 standard errors, in log space, relative to the mean.
        ratio = torch.exp(log_w - log_w.max())
        rel = float(ratio.std() / ratio.mean()) * 3 / math.sqrt(n_runs)
        return {
            "log_z": log_z_base + log_mean,
            "log_z_low": log_z_base + log_mean + (math.log(1 - rel) if rel < 1 else -math.inf),
            "log_z_high": log_z_base + log_mean + math.log(1 + rel),
            "log_z_base": log_z_base,
            "log_z_floor": self.log_z_floor(base_data),
            "log_weights": log_w.cpu(),
            "n_betas": len(betas) - 1,
            "n_runs": n_runs,
        }

    def _weights_key(self) -> tuple:
        return tuple((p.data_ptr(), p._version) for p in (self.weight, self.visible_bias, self.hidden_bias))

    def log_partition(self, base_data: Tensor | None = None, seed: int = 0) -> dict[str, float]:
        """log Z for ``log_prob``: exact when H <= ``MAX_EXACT_HIDDEN``, else by ``ais``
        (with ``ais_betas`` and ``ais_runs``, seeded). Cached until the weights change.

        Returns:
            ``log_z``, ``log_z_low``, ``log_z_high`` (equal to log_z when exact),
            ``log_z_floor`` (see ``log_z_floor``), ``exact`` (1.0 or 0.0), ``n_betas``,
            ``n_runs`` (0 when exact).
        """
        key = (self._weights_key(), self.ais_betas, self.ais_runs, id(base_data), seed)
        if self._log_z_cache is not None and self._log_z_cache[0] == key:
            return self._log_z_cache[1]
        if self.n_hidden <= MAX_EXACT_HIDDEN:
            log_z = self.exact_log_partition()
            result = {"log_z": log_z, "log_z_low": log_z, "log_z_high": log_z, "log_z_floor": log_z, "exact": 1.0, "n_betas": 0, "n_runs": 0}
        else:
            generator = torch.Generator(device=self.device).manual_seed(seed)
            est = self.ais(base_data=base_data, generator=generator)
            result = {k: est[k] for k in ("log_z", "log_z_low", "log_z_high", "log_z_floor", "n_betas", "n_runs")} | {"exact": 0.0}
        self._log_z_cache = (key, result)
        return result

    def set_base_data(self, data: Tensor | None) -> None:
        """Images whose pixel means set AIS's base-rate model (the CLI passes the train
        split); None for p = 1/2. Forgets a cached log Z."""
        self._base_data = data
        self._log_z_cache = None

    @torch.no_grad()
    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """log p(x) = -F(x) - log Z in nats, (B,), for binary images (B, 1, 28, 28); log Z
        from ``log_partition`` (an AIS estimate for H > 20: see ``nll_details``)."""
        self.check_labels(y, len(x))
        log_z = self.log_partition(self._base_data)["log_z"]
        return -self.free_energy(x).double() - log_z

    def nll_details(self) -> dict[str, Any]:
        """log Z behind the last ``log_prob`` and its spread (nats). The test NLL's range
        is NLL + (log_z_low - log_z) to NLL + (log_z_high - log_z); ``log_z_below_floor``
        says the estimate is surely too low (see ``log_z_floor``)."""
        if self._log_z_cache is None:
            return {}
        r = self._log_z_cache[1]
        return {
            "log_z": r["log_z"], "log_z_low": r["log_z_low"], "log_z_high": r["log_z_high"], "log_z_floor": r["log_z_floor"],
            "log_z_below_floor": r["log_z"] < r["log_z_floor"],
            "log_z_exact": bool(r["exact"]), "ais_betas": int(r["n_betas"]), "ais_runs": int(r["n_runs"]),
        }

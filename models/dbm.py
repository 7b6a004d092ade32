"""The deep Boltzmann machine with two hidden layers: greedy pre-training, a mean-field
posterior, persistent chains, and an AIS estimate of its partition function.

Salakhutdinov & Hinton (2009), "Deep Boltzmann Machines", AISTATS (JMLR W&CP 5). Binary
visible units v (V = 784 pixels), hidden layers h1 (H1) and h2 (H2), and the energy

    E(v, h1, h2) = -a.v - b1.h1 - b2.h2 - v.W1.h1 - h1.W2.h2,    p = exp(-E) / Z.

Unlike a DBN every connection is undirected, so h1 hears both v (bottom-up) and h2
(top-down): p(h1 | v, h2) = sigmoid(b1 + v W1 + h2 W2^T). The posterior p(h1, h2 | v) is
no longer factorial; it is approximated by a factorial q with means mu1, mu2 found by the
mean-field fixed-point equations

    mu1 = sigmoid(b1 + v W1 + mu2 W2^T),    mu2 = sigmoid(b2 + mu1 W2),

iterated (one layer after the other: each update maximises the bound over one layer, so
the iteration converges) from a bottom-up pass. q gives the data term of the gradient;
persistent Gibbs chains (v, h2 | h1 and h1 | v, h2 alternately; Tieleman 2008) give the
model term. q also gives the variational lower bound

    log p(v) >= E_q[-E(v, h)] + H(q) - log Z,

which, with log Z estimated by annealed importance sampling (AIS, as for the RBM in
``models.dbm_partition``; here over h1 with v and h2 summed out), is the test NLL reported:
a bound whose log Z is an estimate, so neither a sure bound nor exact.

Pre-training (the paper's section 3.1): layer 1 is an RBM whose hidden units see the
pixels twice (p(h1 | v) = sigmoid(b1 + 2 v W1)), layer 2 an RBM on samples of that
h1 whose h1 sees h2 twice (p(h1 | h2) = sigmoid(b1 + 2 h2 W2^T)); composed, h1 gets half
its input from each side, and the DBM starts where the two RBMs left off. One training run
of ``2 * pretrain_steps + joint_steps`` updates does all three phases.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from models.base import GenerativeModel
from models.checks import N_PIXELS, check_bool, check_float, check_int
from models.dbm_partition import DbmPartition
from models.partition import MAX_AIS_BETAS, MAX_AIS_RUNS, MIN_AIS_BETAS, MIN_AIS_RUNS, bernoulli
from models.rbm import MAX_GIBBS_STEPS, MAX_HIDDEN, MAX_VISIBLE, SAMPLE_STEP

MAX_MF_ITERS = 1000
PHASES = ("layer 1 (pre-training)", "layer 2 (pre-training)", "joint (mean-field + persistent chains)")


def _entropy(mu: Tensor) -> Tensor:
    """Summed binary entropies of factorial Bernoulli means ``mu`` (B, N), nats, (B,)."""
    mu = mu.clamp(1e-7, 1 - 1e-7)
    return -(mu * mu.log() + (1 - mu) * (1 - mu).log()).sum(1)


class DBM(DbmPartition, GenerativeModel, paper_url="https://proceedings.mlr.press/v5/salakhutdinov09a.html"):
    """A two-hidden-layer Bernoulli DBM on binary digits.

    Args:
        n_hidden1, n_hidden2: units of h1 and h2, each in [1, 4096].
        n_visible: visible units V, in [1, 4096] (784 for digits).
        pretrain_steps: updates of each pre-training RBM, in [0, 10^7] (0: no pre-training).
        joint_steps: updates of the whole DBM afterwards, in [1, 10^7].
        mf_iters: mean-field iterations per training batch, in [1, 1000].
        n_chains: persistent chains of the model term, in [1, 10,000].
        momentum: SGD momentum, in [0, 0.99]; weight_decay: L2 on W1, W2, in [0, 0.1].
        lr_decay: each phase's learning rate decays linearly to 0 (Tieleman 2008).
        n_gibbs: Gibbs steps of ``sample`` from noise, in [1, 100,000].
        ais_betas, ais_runs: AIS settings of ``log_prob``, in [10, 100,000] and [2, 10,000].

    Tensors: images (B, 1, 28, 28) or (B, V) float32 in {0, 1}; means in [0, 1]. Energies,
    bounds and log Z in nats.

    Raises:
        ValueError: any argument out of range (the message names it and the limit).
    """

    family: ClassVar[str] = "dbm"
    title: ClassVar[str] = "Deep Boltzmann machine (Salakhutdinov & Hinton 2009)"
    data_kind: ClassVar[str] = "binary"
    nll_kind: ClassVar[str] = "bound"
    train_defaults: ClassVar[dict[str, Any]] = {"steps": 9000, "lr": 0.02, "batch_size": 100}  # 2 * pretrain_steps + joint_steps
    card_note: ClassVar[str] = (
        "Recipe (the defaults, chosen before training from the paper's scaled down to a few CPU minutes, never by the test NLL): "
        "784-500-250 units; each pre-training RBM 2,500 CD-1 updates with doubled weights; then 4,000 joint updates with 5 mean-field "
        "sweeps per batch and 100 persistent chains; SGD, momentum 0.5, weight decay 1e-4, batches of 100, learning rate 0.02 decaying "
        "linearly to 0 in each phase. The paper used 784-500-1000 units and 300,000 joint updates."
    )

    def __init__(
        self, n_hidden1: int = 500, n_hidden2: int = 250, n_visible: int = N_PIXELS, pretrain_steps: int = 2500, joint_steps: int = 4000,
        mf_iters: int = 5, n_chains: int = 100, momentum: float = 0.5, weight_decay: float = 1e-4, lr_decay: bool = True,
        n_gibbs: int = 1000, ais_betas: int = 14500, ais_runs: int = 100,
    ):
        super().__init__()
        self.n_hidden1 = check_int("units in h1", n_hidden1, 1, MAX_HIDDEN)
        self.n_hidden2 = check_int("units in h2", n_hidden2, 1, MAX_HIDDEN)
        self.n_visible = check_int("visible units", n_visible, 1, MAX_VISIBLE)
        self.pretrain_steps = check_int("pre-training steps per layer", pretrain_steps, 0, 10**7)
        self.joint_steps = check_int("joint training steps", joint_steps, 1, 10**7)
        self.mf_iters = check_int("mean-field iterations", mf_iters, 1, MAX_MF_ITERS)
        self.n_chains = check_int("persistent chains", n_chains, 1, 10_000)
        self.momentum = check_float("momentum", momentum, 0.0, 0.99)
        self.weight_decay = check_float("weight decay", weight_decay, 0.0, 0.1)
        self.lr_decay = check_bool("lr_decay", lr_decay)
        self.n_gibbs = check_int("Gibbs steps", n_gibbs, 1, MAX_GIBBS_STEPS)
        self.ais_betas = check_int("AIS temperatures", ais_betas, MIN_AIS_BETAS, MAX_AIS_BETAS)
        self.ais_runs = check_int("AIS runs", ais_runs, MIN_AIS_RUNS, MAX_AIS_RUNS)
        self.weight1 = nn.Parameter(0.01 * torch.randn(self.n_visible, self.n_hidden1))  # W1 (V, H1)
        self.weight2 = nn.Parameter(0.01 * torch.randn(self.n_hidden1, self.n_hidden2))  # W2 (H1, H2)
        self.visible_bias = nn.Parameter(torch.zeros(self.n_visible))  # a (V,)
        self.hidden1_bias = nn.Parameter(torch.zeros(self.n_hidden1))  # b1 (H1,)
        self.hidden2_bias = nn.Parameter(torch.zeros(self.n_hidden2))  # b2 (H2,)
        self._chains: tuple[Tensor, Tensor] | None = None  # the persistent chains' (v, h2), (n_chains, V) and (n_chains, H2)
        self._n_updates = 0
        self._base_lr = 0.0
        self._base_data: Tensor | None = None
        self._log_z_cache: tuple[Any, dict[str, Any]] | None = None

    # -- conditionals and the energy ----------------------------------------------------------
    def flat(self, v: Tensor) -> Tensor:
        """``v`` as (B, V) float32. Raises ValueError: the wrong number of values."""
        v = v.reshape(len(v), -1) if v.dim() != 2 else v
        if v.shape[1] != self.n_visible:
            raise ValueError(f"this DBM has {self.n_visible} visible units, got inputs of {v.shape[1]} values")
        return v.to(self.weight1.dtype)

    def energy(self, v: Tensor, h1: Tensor, h2: Tensor) -> Tensor:
        """E(v, h1, h2) in nats, (B,), for v (B, V) or images, h1 (B, H1), h2 (B, H2)."""
        v = self.flat(v)
        return -(v @ self.visible_bias) - h1 @ self.hidden1_bias - h2 @ self.hidden2_bias - ((v @ self.weight1) * h1).sum(1) - ((h1 @ self.weight2) * h2).sum(1)

    def h1_probs(self, v: Tensor, h2: Tensor) -> Tensor:
        """p(h1 = 1 | v, h2) = sigmoid(b1 + v W1 + h2 W2^T): (B, H1)."""
        return torch.sigmoid(v @ self.weight1 + h2 @ self.weight2.T + self.hidden1_bias)

    def h2_probs(self, h1: Tensor) -> Tensor:
        """p(h2 = 1 | h1) = sigmoid(b2 + h1 W2): (B, H2)."""
        return torch.sigmoid(h1 @ self.weight2 + self.hidden2_bias)

    def visible_probs(self, h1: Tensor) -> Tensor:
        """p(v = 1 | h1) = sigmoid(a + h1 W1^T): (B, V)."""
        return torch.sigmoid(h1 @ self.weight1.T + self.visible_bias)

    # -- the mean-field posterior --------------------------------------------------------------
    @torch.no_grad()
    def mean_field_update(self, v: Tensor, mu1: Tensor, mu2: Tensor) -> tuple[Tensor, Tensor]:
        """One sweep of the mean-field equations: mu1 from (v, mu2), then mu2 from the new mu1."""
        mu1 = self.h1_probs(self.flat(v), mu2)
        return mu1, self.h2_probs(mu1)

    @torch.no_grad()
    def mean_field(self, v: Tensor, n_iters: int | None = None, tol: float = 0.0) -> tuple[Tensor, Tensor, int]:
        """q(h1, h2 | v) = prod Bernoulli(mu1) Bernoulli(mu2) by fixed-point iteration.

        Starts from the pre-training's bottom-up pass (mu1 = sigmoid(b1 + 2 v W1), mu2 =
        sigmoid(b2 + mu1 W2)) and sweeps ``mean_field_update`` until the largest change of
        any mean is below ``tol`` or ``n_iters`` sweeps are done.

        Args:
            v: (B, V) or images, binary (or in [0, 1]).
            n_iters: at most this many sweeps, in [1, 1000] (default ``mf_iters``).
            tol: stop early below this change, in [0, 1] (0: always ``n_iters`` sweeps).

        Returns:
            (mu1 (B, H1), mu2 (B, H2), sweeps done).

        Raises:
            ValueError: settings out of range or inputs of the wrong size.
        """
        n_iters = check_int("mean-field iterations", self.mf_iters if n_iters is None else n_iters, 1, MAX_MF_ITERS)
        tol = check_float("mean-field tolerance", tol, 0.0, 1.0)
        v = self.flat(v)
        mu1 = torch.sigmoid(2 * v @ self.weight1 + self.hidden1_bias)
        mu2 = self.h2_probs(mu1)
        for sweep in range(1, n_iters + 1):
            new1, new2 = self.mean_field_update(v, mu1, mu2)
            change = max(float((new1 - mu1).abs().max()), float((new2 - mu2).abs().max()))
            mu1, mu2 = new1, new2
            if change < tol:
                break
        return mu1, mu2, sweep

    @torch.no_grad()
    def variational_bound(self, v: Tensor, mu1: Tensor, mu2: Tensor) -> Tensor:
        """E_q[-E(v, h1, h2)] + H(q) for the factorial q of means mu1, mu2: a lower bound on
        log sum_h exp(-E(v, h)) (log p(v) + log Z), nats, (B,) float64."""
        v = self.flat(v)
        neg_energy = v @ self.visible_bias + mu1 @ self.hidden1_bias + mu2 @ self.hidden2_bias + ((v @ self.weight1) * mu1).sum(1) + ((mu1 @ self.weight2) * mu2).sum(1)
        return neg_energy.double() + _entropy(mu1).double() + _entropy(mu2).double()

    # -- Gibbs sampling ----------------------------------------------------------------------------
    @torch.no_grad()
    def gibbs_step(self, v: Tensor, h2: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """One sweep: h1 ~ p(h1 | v, h2), then v ~ p(v | h1) and h2 ~ p(h2 | h1) (the two
        are independent given h1). Returns (v' (B, V), p(v' = 1 | h1) (B, V), h2' (B, H2))."""
        h1 = bernoulli(self.h1_probs(v, h2), generator)
        mean = self.visible_probs(h1)
        return bernoulli(mean, generator), mean, bernoulli(self.h2_probs(h1), generator)

    @torch.no_grad()
    def gibbs_chain(self, v: Tensor, h2: Tensor, n_steps: int, every: int = 0, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor, list[tuple[int, Tensor]]]:
        """``n_steps`` (0 to 100,000) Gibbs sweeps from (v, h2); a frame of the means every
        ``every`` steps (0: none). Returns (v, means, h2, [(step, means (B, V) on the CPU)])."""
        n_steps = check_int("Gibbs steps", n_steps, 0, MAX_GIBBS_STEPS)
        mean, frames = v, []
        for step in range(1, n_steps + 1):
            v, mean, h2 = self.gibbs_step(v, h2, generator)
            if every and (step % every == 0 or step == n_steps):
                frames.append((step, mean.cpu()))
        return v, mean, h2, frames

    def noise(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Chains' first states: (v, h2) each unit on with probability 1/2."""
        v = bernoulli(torch.full((n, self.n_visible), 0.5, device=self.device), generator)
        return v, bernoulli(torch.full((n, self.n_hidden2), 0.5, device=self.device), generator)

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples: ``n_gibbs`` Gibbs sweeps from noise; the last p(v = 1 | h1) as
        (n, 1, 28, 28) float32 in [0, 1]. Raises ValueError: n not in [1, 100,000], labels."""
        *_, images = self.sample_iter(n, y, generator)
        return images

    @torch.no_grad()
    def sample_iter(self, n: int, y: Tensor | None = None, generator: torch.Generator | None = None) -> Iterator[Tensor | None]:
        """``sample`` in runs of ``SAMPLE_STEP`` sweeps: None after each run but the last, then the samples."""
        n = check_int("samples", n, 1, 100_000)
        self.check_labels(y, n)
        if self.n_visible != N_PIXELS:
            raise ValueError(f"only a DBM with {N_PIXELS} visible units draws images")
        v, h2 = self.noise(n, generator)
        done = 0
        while True:
            chunk = min(SAMPLE_STEP, self.n_gibbs - done)
            v, mean, h2, _ = self.gibbs_chain(v, h2, chunk, generator=generator)
            done += chunk
            if done >= self.n_gibbs:
                break
            yield None
        yield mean.view(n, 1, 28, 28)

    # -- training ------------------------------------------------------------------------------------
    def phase(self, update: int) -> int:
        """The phase (0, 1, 2: see ``PHASES``) that update ``update`` (0-based) belongs to."""
        return min(update // self.pretrain_steps, 2) if self.pretrain_steps else 2

    def configure_optimizers(self, lr: float, lr_d: float | None = None) -> list[torch.optim.Optimizer]:
        """SGD with ``momentum``, weight decay on W1 and W2; restarts the schedule and the chains."""
        self._n_updates, self._base_lr, self._chains = 0, lr, None
        return [
            torch.optim.SGD(
                [
                    {"params": [self.weight1, self.weight2], "weight_decay": self.weight_decay},
                    {"params": [self.visible_bias, self.hidden1_bias, self.hidden2_bias], "weight_decay": 0.0},
                ],
                lr=lr, momentum=self.momentum,
            )
        ]

    def _set_grads(self, grads: dict[str, Tensor]) -> None:
        """``.grad`` = minus each named statistic difference; the other parameters' None (SGD skips them)."""
        for name, p in self.named_parameters():
            p.grad = -grads[name] if name in grads else None

    @torch.no_grad()
    def _pretrain_grads(self, v0: Tensor, layer: int, generator: torch.Generator | None) -> Tensor:
        """CD-1 of pre-training RBM ``layer`` (0 or 1) on binary v0 (B, V), with the doubled
        weights; returns its reconstruction error (units per example)."""
        n = len(v0)
        if layer == 0:  # h1 sees two copies of v
            ph0 = torch.sigmoid(2 * v0 @ self.weight1 + self.hidden1_bias)
            mean = self.visible_probs(bernoulli(ph0, generator))
            v1 = bernoulli(mean, generator)
            ph1 = torch.sigmoid(2 * v1 @ self.weight1 + self.hidden1_bias)
            self._set_grads({"weight1": (v0.T @ ph0 - v1.T @ ph1) / n, "visible_bias": (v0 - v1).mean(0), "hidden1_bias": (ph0 - ph1).mean(0)})
            return ((v0 - mean) ** 2).sum(1).mean()
        x0 = bernoulli(torch.sigmoid(2 * v0 @ self.weight1 + self.hidden1_bias), generator)  # data: h1 of the frozen layer 1
        ph0 = self.h2_probs(x0)
        mean = torch.sigmoid(2 * bernoulli(ph0, generator) @ self.weight2.T + self.hidden1_bias)  # h1 sees two copies of h2
        x1 = bernoulli(mean, generator)
        ph1 = self.h2_probs(x1)
        self._set_grads({"weight2": (x0.T @ ph0 - x1.T @ ph1) / n, "hidden2_bias": (ph0 - ph1).mean(0)})
        return ((x0 - mean) ** 2).sum(1).mean()

    @torch.no_grad()
    def _joint_grads(self, v0: Tensor, generator: torch.Generator | None) -> Tensor:
        """Salakhutdinov & Hinton (2009), algorithm 1: the data term from mean-field, the model
        term from one sweep of the persistent chains (Rao-Blackwellised: h1's probabilities
        given the chains' v and h2). Returns the mean-field reconstruction error."""
        mu1, mu2, _ = self.mean_field(v0)
        if self._chains is None or len(self._chains[0]) != self.n_chains:
            self._chains = self.noise(self.n_chains, generator)
        v, _, h2 = self.gibbs_step(*self._chains, generator)
        self._chains = (v, h2)
        p1 = self.h1_probs(v, h2)
        n, m = len(v0), len(v)
        self._set_grads({
            "weight1": v0.T @ mu1 / n - v.T @ p1 / m, "weight2": mu1.T @ mu2 / n - p1.T @ h2 / m,
            "visible_bias": v0.mean(0) - v.mean(0), "hidden1_bias": mu1.mean(0) - p1.mean(0), "hidden2_bias": mu2.mean(0) - h2.mean(0),
        })
        return ((v0 - self.visible_probs(mu1)) ** 2).sum(1).mean()

    def train_step(self, x: Tensor, y: Tensor | None, optimizers: list[torch.optim.Optimizer], generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """One update of the phase the schedule is on (``phase``), on binary images x (B, 1, 28, 28).

        Returns:
            ``"loss"`` and ``"reconstruction_error"`` (of that phase's input, units per
            example) and ``"phase"`` (1, 2 or 3).
        """
        self.check_labels(y, len(x))
        (optimizer,) = optimizers
        phase = self.phase(self._n_updates)
        length = self.joint_steps if phase == 2 else self.pretrain_steps
        done = self._n_updates - phase * self.pretrain_steps
        if self.lr_decay:
            for group in optimizer.param_groups:
                group["lr"] = self._base_lr * max(0.0, 1.0 - done / length)
        self._n_updates += 1
        v0 = self.flat(x).detach()
        error = self._joint_grads(v0, generator) if phase == 2 else self._pretrain_grads(v0, phase, generator)
        optimizer.step()
        return {"loss": error, "reconstruction_error": error, "phase": torch.tensor(float(phase + 1))}

    @torch.no_grad()
    def loss(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Deterministic monitors on binary images (B, 1, 28, 28): ``"loss"`` and
        ``"reconstruction_error"`` (squared error of p(v | mu1), pixels per image) and
        ``"neg_bound"``: -(E_q[-E] + H(q)), the variational free energy in nats (the test
        NLL bound is it plus log Z)."""
        self.check_labels(y, len(x))
        v = self.flat(x)
        mu1, mu2, _ = self.mean_field(v)
        error = ((v - self.visible_probs(mu1)) ** 2).sum(1).mean()
        return {"loss": error, "reconstruction_error": error, "neg_bound": -self.variational_bound(v, mu1, mu2).mean().float()}

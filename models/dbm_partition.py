"""The partition function of a two-layer DBM and its likelihood bound, mixed into
``models.dbm.DBM`` (as ``models.partition`` is into the RBM).

Given h1, the visible units and h2 are independent, so both sum out in closed form:
log sum_{v, h2} exp(-E) = b1.h1 + sum_i softplus(a_i + (W1 h1)_i) + sum_k softplus(b2_k +
(h1 W2)_k). log Z is then exact by enumerating h1 (H1 <= 20) or estimated by annealed
importance sampling over h1 (Salakhutdinov & Hinton 2009, section 4; Neal 2001,
arXiv:physics/9803008), and log p(v) is bounded below by the mean-field bound minus log Z.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from models.checks import check_int
from models.partition import MAX_AIS_RUNS, MAX_EXACT_HIDDEN, MIN_AIS_RUNS, ais_betas, bernoulli


class DbmPartition:
    """log Z and the bound on log p(v) of a ``DBM``, whose weights, biases, ``mean_field``,
    ``variational_bound``, ``flat`` and AIS settings it reads. Nats throughout."""

    weight1: Tensor
    weight2: Tensor
    visible_bias: Tensor
    hidden1_bias: Tensor
    hidden2_bias: Tensor
    n_visible: int
    n_hidden1: int
    n_hidden2: int
    ais_betas: int
    ais_runs: int
    device: torch.device
    _base_data: Tensor | None
    _log_z_cache: tuple[Any, dict[str, Any]] | None
    flat: Callable[[Tensor], Tensor]
    mean_field: Callable[..., tuple[Tensor, Tensor, int]]
    variational_bound: Callable[[Tensor, Tensor, Tensor], Tensor]
    check_labels: Callable[..., Any]
    parameters: Callable[..., Any]

    def _h1_inputs(self, h1: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """What states h1 (B, H1) give the rest: b1.h1 (B,), h1 W1^T (B, V) and b2 + h1 W2 (B, H2)."""
        return h1 @ self.hidden1_bias, h1 @ self.weight1.T, h1 @ self.weight2 + self.hidden2_bias

    def _log_h1_marginal(self, inputs: tuple[Tensor, Tensor, Tensor], beta: float = 1.0, a_base: Tensor | None = None) -> Tensor:
        """log sum_{v, h2} exp(-beta E(v, h1, h2) + (1 - beta) a_base.v), (B,) nats: v and h2
        summed out analytically given h1's ``_h1_inputs``."""
        s1, x_v, x_2 = inputs
        a = self.visible_bias if a_base is None else (1 - beta) * a_base + beta * self.visible_bias
        return beta * s1 + F.softplus(beta * x_v + a).sum(1) + F.softplus(beta * x_2).sum(1)

    @torch.no_grad()
    def exact_log_partition(self) -> float:
        """log Z by enumerating the 2^H1 states of h1 (H1 <= 20), nats (float64).

        Raises:
            ValueError: more than ``MAX_EXACT_HIDDEN`` units in h1.
        """
        if self.n_hidden1 > MAX_EXACT_HIDDEN:
            raise ValueError(f"exact log Z enumerates 2^H1 states: at most {MAX_EXACT_HIDDEN} units in h1, this DBM has {self.n_hidden1}")
        bits = torch.arange(self.n_hidden1, device=self.device)
        chunks = []
        for start in range(0, 2**self.n_hidden1, 2**14):
            codes = torch.arange(start, min(start + 2**14, 2**self.n_hidden1), device=self.device)
            h1 = ((codes[:, None] >> bits) & 1).to(self.weight1.dtype)  # (C, H1)
            chunks.append(torch.logsumexp(self._log_h1_marginal(self._h1_inputs(h1)).double(), 0))
        return float(torch.logsumexp(torch.stack(chunks), 0))

    @torch.no_grad()
    def ais(self, n_betas: int | None = None, n_runs: int | None = None, base_data: Tensor | None = None, generator: torch.Generator | None = None,
            progress: Callable[[float], None] | None = None) -> dict[str, Any]:
        """Estimate log Z by AIS over h1 (Salakhutdinov & Hinton 2009, section 4).

        The intermediate distributions are p*_beta(v, h1, h2) = exp(-beta E + (1 - beta)
        a_A.v), from beta = 0 (independent units: v with the base rates a_A of
        ``base_data``'s pixel means, h1 and h2 uniform; log Z_A known) to 1 (the DBM).
        Their marginal over h1 is ``_log_h1_marginal``; each temperature takes one Gibbs
        sweep (v and h2 given h1, then h1).

        Args:
            n_betas, n_runs: as for the RBM's ``ais`` (defaults: ``ais_betas``, ``ais_runs``).
            base_data: images for the base rates (None: p = 1/2).
            progress: called with the fraction done, about 100 times.

        Returns:
            ``log_z``, ``log_z_low``, ``log_z_high`` (mean weight -/+ 3 standard errors),
            ``log_z_base``, ``log_weights`` (n_runs,) float64, ``n_betas``, ``n_runs``.
        """
        betas = ais_betas(self.ais_betas if n_betas is None else n_betas).tolist()
        n_runs = check_int("AIS runs", self.ais_runs if n_runs is None else n_runs, MIN_AIS_RUNS, MAX_AIS_RUNS)
        if base_data is None:
            a_base = torch.zeros(self.n_visible, device=self.device)
        else:
            p = self.flat(base_data.to(self.device)).double().mean(0)
            p = (p * len(base_data) + 0.05) / (len(base_data) + 0.1)
            a_base = (torch.log(p) - torch.log1p(-p)).float()
        log_z_base = float(F.softplus(a_base.double()).sum()) + (self.n_hidden1 + self.n_hidden2) * math.log(2)
        h1 = bernoulli(torch.full((n_runs, self.n_hidden1), 0.5, device=self.device), generator)
        log_w = torch.zeros(n_runs, dtype=torch.float64, device=self.device)
        report_every = max(1, len(betas) // 100)
        for k in range(1, len(betas)):
            beta, previous = betas[k], betas[k - 1]
            inputs = self._h1_inputs(h1)  # shared by both weights and the sweep
            log_w += (self._log_h1_marginal(inputs, beta, a_base) - self._log_h1_marginal(inputs, previous, a_base)).double()
            _, x_v, x_2 = inputs
            v = bernoulli(torch.sigmoid((1 - beta) * a_base + beta * (x_v + self.visible_bias)), generator)
            h2 = bernoulli(torch.sigmoid(beta * x_2), generator)
            h1 = bernoulli(torch.sigmoid(beta * (v @ self.weight1 + h2 @ self.weight2.T + self.hidden1_bias)), generator)
            if progress is not None and k % report_every == 0:
                progress(k / (len(betas) - 1))
        log_mean = float(torch.logsumexp(log_w, 0)) - math.log(n_runs)
        ratio = torch.exp(log_w - log_w.max())
        rel = float(ratio.std() / ratio.mean()) * 3 / math.sqrt(n_runs)
        return {
            "log_z": log_z_base + log_mean, "log_z_low": log_z_base + log_mean + (math.log(1 - rel) if rel < 1 else -math.inf),
            "log_z_high": log_z_base + log_mean + math.log(1 + rel), "log_z_base": log_z_base, "log_weights": log_w.cpu(),
            "n_betas": len(betas) - 1, "n_runs": n_runs,
        }

    @torch.no_grad()
    def log_z_floor(self, states: Tensor | None) -> float:
        """A sure lower bound on log Z: logsumexp of the variational bounds of the distinct
        binary images ``states`` (each bound <= log sum_h exp(-E(v, h)) whatever q, so ``mf_iters``
        sweeps do), nats; -inf for None."""
        if states is None:
            return -math.inf
        v = torch.unique(self.flat(states.to(self.device)).round(), dim=0)
        mu1, mu2, _ = self.mean_field(v)
        return float(torch.logsumexp(self.variational_bound(v, mu1, mu2), 0))

    def log_z_report(self, n_betas: int | None = None, n_runs: int | None = None, base_data: Tensor | None = None,
                     generator: torch.Generator | None = None, progress: Callable[[float], None] | None = None) -> dict[str, Any]:
        """log Z exact (H1 <= 20) or by ``ais``, with ``log_z_floor(base_data)``, ``below_floor`` and ``exact``."""
        if self.n_hidden1 <= MAX_EXACT_HIDDEN:
            log_z = self.exact_log_partition()
            return {"log_z": log_z, "log_z_low": log_z, "log_z_high": log_z, "log_z_floor": log_z, "below_floor": False, "exact": True, "n_betas": 0, "n_runs": 0}
        est = self.ais(n_betas, n_runs, base_data, generator, progress)
        floor = self.log_z_floor(base_data)
        return est | {"log_z_floor": floor, "below_floor": est["log_z"] < floor, "exact": False}

    def set_base_data(self, data: Tensor | None) -> None:
        """Training images for AIS's base rates and the floor (the CLI passes the train split)."""
        self._base_data, self._log_z_cache = data, None

    def log_partition(self, seed: int = 0) -> dict[str, Any]:
        """``log_z_report`` at the model's AIS settings, seeded; cached until the weights or settings change."""
        key = (tuple((p.data_ptr(), p._version) for p in self.parameters()), self.ais_betas, self.ais_runs, id(self._base_data), seed)
        if self._log_z_cache is None or self._log_z_cache[0] != key:
            generator = torch.Generator(device=self.device).manual_seed(seed)
            self._log_z_cache = (key, self.log_z_report(self.ais_betas, self.ais_runs, self._base_data, generator))
        return self._log_z_cache[1]

    @torch.no_grad()
    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The variational lower bound on log p(x): E_q[-E] + H(q) - log Z, nats, (B,) float64,
        for binary images (B, 1, 28, 28); q by mean-field to a change below 1e-5 (at most
        100 sweeps), log Z from ``log_partition`` (AIS for H1 > 20: see ``nll_details``)."""
        self.check_labels(y, len(x))
        v = self.flat(x)
        mu1, mu2, _ = self.mean_field(v, 100, 1e-5)
        return self.variational_bound(v, mu1, mu2) - self.log_partition()["log_z"]

    def nll_details(self) -> dict[str, Any]:
        """log Z behind the last ``log_prob`` and its spread (nats), as the RBM's."""
        if self._log_z_cache is None:
            return {}
        r = self._log_z_cache[1]
        return {
            "log_z": r["log_z"], "log_z_low": r["log_z_low"], "log_z_high": r["log_z_high"], "log_z_floor": r["log_z_floor"],
            "log_z_below_floor": r["below_floor"], "log_z_exact": r["exact"], "ais_betas": r["n_betas"], "ais_runs": r["n_runs"],
        }

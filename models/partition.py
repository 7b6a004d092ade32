"""The partition function of a Bernoulli RBM, exactly or by annealed importance
sampling, and the log-likelihood report built on it; with the Bernoulli noise that its
Gibbs sampling and AIS both draw.

log Z sums exp(-E(v, h)) over every joint state: for digits, 2^(784 + H) of them. With
few hidden units it is exact by enumerating h (``exact_log_partition``). Otherwise
annealed importance sampling (AIS; Neal 2001, "Annealed Importance Sampling",
arXiv:physics/9803008; for RBMs Salakhutdinov & Murray 2008, "On the Quantitative Analysis
of Deep Belief Networks", ICML) anneals from a base-rate RBM (W = 0, whose Z is known)
to the model through intermediate distributions with inverse temperatures beta in
[0, 1], one Gibbs step at each, and averages the runs' importance weights.
``log_z_report`` makes that choice, once, for ``log_prob`` (the CLI's test NLL) and the
app's estimate alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from models.checks import check_int

MAX_EXACT_HIDDEN = 20  # exact log Z enumerates 2^H hidden states
MIN_AIS_BETAS, MAX_AIS_BETAS = 10, 100_000
MIN_AIS_RUNS, MAX_AIS_RUNS = 2, 10_000


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
    n_betas = check_int("AIS temperatures", n_betas, MIN_AIS_BETAS, MAX_AIS_BETAS)
    n1 = max(1, round(n_betas * 500 / 14500))
    n2 = max(1, round(n_betas * 4000 / 14500))
    n3 = n_betas - n1 - n2
    return torch.cat([
        torch.linspace(0, 0.5, n1 + 1, dtype=torch.float64)[:-1],
        torch.linspace(0.5, 0.9, n2 + 1, dtype=torch.float64)[:-1],
        torch.linspace(0.9, 1.0, n3 + 1, dtype=torch.float64),
    ])


class PartitionFunction:
    """log Z and log p(v) of an RBM, mixed into ``models.rbm.RBM``, whose weight W (V, H),
    biases a (V) and b (H), ``free_energy``, ``flat`` and AIS settings (``ais_betas``,
    ``ais_runs``) it reads. Energies and log Z are in nats."""

    weight: Tensor
    visible_bias: Tensor
    hidden_bias: Tensor
    n_visible: int
    n_hidden: int
    ais_betas: int
    ais_runs: int
    device: torch.device
    _log_z_cache: tuple[Any, dict[str, Any]] | None
    _base_data: Tensor | None
    free_energy: Callable[[Tensor], Tensor]
    flat: Callable[[Tensor], Tensor]
    check_labels: Callable[..., Any]

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
        generator: torch.Generator | None = None, progress: Callable[[float], None] | None = None,
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
            progress: called with the fraction of temperatures done, in [0, 1], about
                100 times over the run.

        Returns:
            ``log_z`` (nats), ``log_z_low`` and ``log_z_high`` (log of mean w -/+ 3
            standard errors; low is -inf when the interval reaches 0), ``log_z_base``,
            ``log_z_floor`` (``log_z_floor(base_data)``: an estimate below it is surely too
            low), ``log_weights`` (n_runs,) float64 on the CPU, ``n_betas``, ``n_runs``.

        Raises:
            ValueError: counts out of range.
        """
        betas = ais_betas(self.ais_betas if n_betas is None else n_betas).tolist()
        n_runs = check_int("AIS runs", self.ais_runs if n_runs is None else n_runs, MIN_AIS_RUNS, MAX_AIS_RUNS)
        report_every = max(1, len(betas) // 100)
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
            if progress is not None and k % report_every == 0:
                progress(k / (len(betas) - 1))
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

    @torch.no_grad()
    def log_z_report(
        self, n_betas: int | None = None, n_runs: int | None = None, base_data: Tensor | None = None,
        generator: torch.Generator | None = None, progress: Callable[[float], None] | None = None,
    ) -> dict[str, Any]:
        """log Z and how sure it is: exact (``exact_log_partition``) when H <=
        ``MAX_EXACT_HIDDEN``, else an ``ais`` estimate with these settings (the test NLL of
        any report is mean F(test) + log Z, nats per image).

        Args:
            n_betas, n_runs, base_data, generator, progress: as for ``ais`` (unused when
                exact; ``progress`` is then never called).

        Returns:
            ``log_z``, ``log_z_low`` and ``log_z_high`` (nats; equal when exact),
            ``log_z_floor`` (a sure lower bound: ``log_z_floor(base_data)``, log Z itself
            when exact), ``below_floor`` (the estimate is surely too low), ``exact``
            (bool), ``n_betas`` and ``n_runs`` (0 when exact), ``log_z_base`` (the base-rate
            model's, None when exact) and ``log_weights`` ((n_runs,) float64 on the CPU,
            None when exact).

        Raises:
            ValueError: AIS settings out of range (checked even when exact).
        """
        if n_betas is not None:
            check_int("AIS temperatures", n_betas, MIN_AIS_BETAS, MAX_AIS_BETAS)
        if n_runs is not None:
            check_int("AIS runs", n_runs, MIN_AIS_RUNS, MAX_AIS_RUNS)
        if self.n_hidden <= MAX_EXACT_HIDDEN:
            log_z = self.exact_log_partition()
            return {
                "log_z": log_z, "log_z_low": log_z, "log_z_high": log_z, "log_z_floor": log_z, "below_floor": False,
                "exact": True, "n_betas": 0, "n_runs": 0, "log_z_base": None, "log_weights": None,
            }
        est = self.ais(n_betas, n_runs, base_data, generator, progress)
        return est | {"below_floor": est["log_z"] < est["log_z_floor"], "exact": False}

    def _weights_key(self) -> tuple:
        return tuple((p.data_ptr(), p._version) for p in (self.weight, self.visible_bias, self.hidden_bias))

    def log_partition(self, base_data: Tensor | None = None, seed: int = 0) -> dict[str, Any]:
        """``log_z_report`` for ``log_prob``, with AIS at the model's ``ais_betas`` and
        ``ais_runs``, seeded; cached until the weights, settings or data change."""
        key = (self._weights_key(), self.ais_betas, self.ais_runs, id(base_data), seed)
        if self._log_z_cache is None or self._log_z_cache[0] != key:
            generator = torch.Generator(device=self.device).manual_seed(seed)
            self._log_z_cache = (key, self.log_z_report(self.ais_betas, self.ais_runs, base_data, generator))
        return self._log_z_cache[1]

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
            "log_z_below_floor": r["below_floor"], "log_z_exact": r["exact"], "ais_betas": r["n_betas"], "ais_runs": r["n_runs"],
        }

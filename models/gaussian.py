"""The Gaussian before the networks: sampling it from uniforms, fitting it by maximum
likelihood, and mixtures of Gaussians fitted by expectation-maximisation (EM).

- Box-Muller: uniforms U1, U2 in (0, 1] give two independent N(0, 1) draws X = R cos Θ,
  Y = R sin Θ with R = √(−2 ln U1), Θ = 2πU2 (Box & Muller 1958, "A note on the generation
  of random normal deviates", Ann. Math. Statist. 29(2)); a Kolmogorov-Smirnov test against
  N(0, 1) with Kolmogorov's asymptotic p-value (Stephens' correction, as in Press et al.,
  "Numerical Recipes", 3rd ed. 2007, §14.3.3).
- Maximum likelihood: the mean and the biased (1/N) covariance maximise the average
  log-likelihood (1/N) Σ log N(xₙ | μ, Σ) (nats per point). One point, identical or collinear
  points make it singular (an unbounded likelihood), so fits take the maximum over
  covariances with eigenvalues ≥ a floor: those below are raised to it, and fits say so.
- Mixtures by EM (Dempster, Laird & Rubin 1977, "Maximum likelihood from incomplete data via
  the EM algorithm", JRSS B 39(1); Bishop 2006, "Pattern Recognition and Machine Learning",
  ch. 9): the E step sets r_nk = p(k | xₙ), lifting the bound F(q, θ) to the log-likelihood;
  the M step maximises F over θ (over a fixed set of floored covariances holding the old
  ones), so the log-likelihood never decreases. Means start at data points spread by
  k-means++ (Arthur & Vassilvitskii 2007, "k-means++: the advantages of careful seeding",
  SODA) or at random ones; BIC = −2 log L + p ln N chooses K (Schwarz 1978, "Estimating the
  dimension of a model", Ann. Statist. 6(2)).

Maths in float64 on the CPU; log-likelihoods in nats. Bad input raises ``ValueError``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor

COVARIANCES = ("full", "diag", "spherical")
INITS = ("k-means++", "random")
MIN_VARIANCE = 1e-6  # the default covariance floor (eigenvalues), in squared data units
_LOG_2PI = math.log(2 * math.pi)


def _check_count(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def _check_number(name: str, value: Any, low: float, strict: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < low or (strict and value == low):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {low:g}, got {value!r}")
    return float(value)


# --- Box-Muller and Kolmogorov-Smirnov --------------------------------------------------------------
def uniforms(n: int, generator: torch.Generator | None = None) -> Tensor:
    """n uniforms in (0, 1], float64 (n,): 1 − U with U = ``torch.rand`` in [0, 1), so ln U is
    finite. The CPU generator is a Mersenne Twister (mt19937). Raises ValueError: n not an int ≥ 0."""
    return 1.0 - torch.rand(_check_count("the number of uniforms", n, 0), generator=generator, dtype=torch.float64)


def box_muller(u1: Tensor, u2: Tensor) -> tuple[Tensor, Tensor]:
    """(X, Y) = R (cos Θ, sin Θ), R = √(−2 ln U1) (R² ~ χ²₂), Θ = 2πU2: two independent N(0, 1)
    tensors (float64) from uniforms ``u1``, ``u2`` in (0, 1] of one shape (Box & Muller 1958).

    Raises:
        ValueError: shapes differ, or a value outside (0, 1] (0, negative, > 1, NaN).
    """
    u1, u2 = torch.as_tensor(u1, dtype=torch.float64), torch.as_tensor(u2, dtype=torch.float64)
    if u1.shape != u2.shape:
        raise ValueError(f"u1 and u2 must have the same shape, got {tuple(u1.shape)} and {tuple(u2.shape)}")
    for name, u in (("u1", u1), ("u2", u2)):
        if not bool(((u > 0) & (u <= 1)).all()):  # NaN fails both comparisons
            raise ValueError(f"{name} must lie in (0, 1]: ln(0) is -inf, so a uniform of 0 has no normal partner")
    r, theta = torch.sqrt(-2.0 * torch.log(u1)), 2 * math.pi * u2
    return r * torch.cos(theta), r * torch.sin(theta)


def kolmogorov_survival(lam: float) -> float:
    """P(K > λ) in [0, 1] for Kolmogorov's limit law of √n D: 2 Σ_{j≥1} (−1)^{j−1} exp(−2j²λ²) for
    λ ≥ 1.18, else 1 − (√(2π)/λ) Σ_{j≥1} exp(−(2j−1)²π²/(8λ²)), the theta series that converges
    fast there (100 terms: double precision). Raises ValueError: λ negative or not finite."""
    lam = _check_number("lambda", lam, 0.0, False)
    if lam < 0.2:
        return 1.0  # P(K <= 0.2) < 1e-25
    if lam < 1.18:
        s = sum(math.exp(-((2 * j - 1) ** 2) * math.pi**2 / (8 * lam**2)) for j in range(1, 101))
        return min(1.0, max(0.0, 1.0 - math.sqrt(2 * math.pi) / lam * s))
    return min(1.0, max(0.0, 2 * sum((-1) ** (j - 1) * math.exp(-2 * j * j * lam * lam) for j in range(1, 101))))


def normal_cdf(x: Tensor) -> Tensor:
    """Φ(x) of N(0, 1), elementwise, float64 in [0, 1] (via erfc, accurate in the tails)."""
    return 0.5 * torch.special.erfc(-torch.as_tensor(x, dtype=torch.float64) / math.sqrt(2))


def ks_test_normal(x: Tensor) -> tuple[float, float]:
    """Kolmogorov-Smirnov test of the sample ``x`` (n,) against N(0, 1): (D, p) with D = sup |F_n − Φ|
    in [0, 1] and p = P(K > (√n + 0.12 + 0.11/√n) D), asymptotic; a small p rejects N(0, 1).

    Raises:
        ValueError: empty, not 1-D, or non-finite values.
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.dim() != 1 or len(x) == 0 or not bool(torch.isfinite(x).all()):
        raise ValueError("the KS test needs a non-empty 1-D sample of finite numbers")
    n, cdf = len(x), normal_cdf(torch.sort(x).values)
    i = torch.arange(1, n + 1, dtype=torch.float64)
    d = float(torch.maximum(i / n - cdf, cdf - (i - 1) / n).max())
    return d, kolmogorov_survival((math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d)


# --- one Gaussian --------------------------------------------------------------------------------
def as_points(x: Any, name: str = "points") -> Tensor:
    """``x`` as float64 points (N, D) (a 1-D ``x``: N points of dimension 1).
    Raises ValueError: not numbers, not 1-D or 2-D, no points, or NaN / infinite values."""
    try:
        x = torch.as_tensor(x, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be numbers") from None
    x = x[:, None] if x.dim() == 1 else x
    if x.dim() != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must have shape (N,) or (N, D) with N >= 1, got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} hold NaN or infinite values")
    return x


def floor_covariance(cov: Tensor, min_variance: float) -> tuple[Tensor, Tensor]:
    """``cov`` (..., D, D) with its eigenvalues below ``min_variance`` raised to it: the Gaussian
    likelihood's maximum over covariances with eigenvalues ≥ the floor. Returns (covariances,
    which (...) bool had to change); the others are returned bit for bit."""
    low = torch.linalg.eigvalsh(cov)[..., 0] < min_variance
    if not bool(low.any()):
        return cov, low
    values, vectors = torch.linalg.eigh(cov[low])
    fixed = (vectors * values.clamp_min(min_variance)[..., None, :]) @ vectors.transpose(-1, -2)
    out = cov.clone()
    out[low] = (fixed + fixed.transpose(-1, -2)) / 2
    return out, low


class GaussianFit(NamedTuple):
    """The maximum-likelihood Gaussian of some points."""

    mean: Tensor  # (D,) the sample mean
    cov: Tensor  # (D, D) the biased (1/N) sample covariance, floored
    regularised: bool  # True if the floor raised an eigenvalue (no spread in some direction)


def fit_gaussian(x: Any, min_variance: float = MIN_VARIANCE) -> GaussianFit:
    """The maximum-likelihood Gaussian of ``x`` (N,) or (N, D): mean Σx/N and covariance
    Σ(x − μ)(x − μ)ᵀ/N (biased), eigenvalues floored at ``min_variance`` > 0 so one point or
    identical points keep a finite likelihood. Raises ValueError: bad points or floor."""
    x, floor = as_points(x), _check_number("the variance floor", min_variance, 0.0, True)
    centred = x - x.mean(0)
    cov, low = floor_covariance(centred.T @ centred / len(x), floor)
    return GaussianFit(x.mean(0), cov, bool(low))


def _cholesky(cov: Tensor) -> Tensor:
    chol, info = torch.linalg.cholesky_ex(cov)
    if bool((info != 0).any()):
        raise ValueError("the covariance must be symmetric positive definite")
    return chol


def gaussian_log_density(x: Any, mean: Any, cov: Any) -> Tensor:
    """log N(xₙ | μ, Σ) in nats, (N,) float64, of points ``x`` (N, D) or (N,) under ``mean`` (D,)
    and ``cov`` (D, D) (a number each for D = 1). Raises ValueError: bad points, shapes that do
    not match, or a covariance that is not positive definite."""
    x = as_points(x)
    d = x.shape[1]
    mean, cov = torch.as_tensor(mean, dtype=torch.float64).reshape(-1), torch.as_tensor(cov, dtype=torch.float64)
    if mean.shape != (d,) or cov.numel() != d * d:
        raise ValueError(f"mean must have shape ({d},) and the covariance ({d}, {d}) for points of dimension {d}")
    chol = _cholesky(cov.reshape(d, d))
    z = torch.linalg.solve_triangular(chol, (x - mean).T, upper=False)  # (D, N)
    return -0.5 * (d * _LOG_2PI + (z * z).sum(0)) - torch.log(torch.diagonal(chol)).sum()


def mean_log_likelihood(x: Any, mean: Tensor, cov: Tensor) -> Tensor:
    """(1/N) Σ log N(xₙ | μ, Σ) in nats per point, for a batch of parameters ``mean`` (..., D),
    ``cov`` (..., D, D) at once (e.g. a likelihood surface): from the statistics m = x̄ and the
    biased S, −½ [D ln 2π + ln|Σ| + tr(Σ⁻¹S) + (m − μ)ᵀ Σ⁻¹ (m − μ)]. Returns (...) float64.
    Raises ValueError: bad points ``x`` (N, D), or a covariance that is not positive definite."""
    x = as_points(x)
    m = x.mean(0)
    s = (x - m).T @ (x - m) / len(x)
    mean, cov = torch.as_tensor(mean, dtype=torch.float64), torch.as_tensor(cov, dtype=torch.float64)
    chol = _cholesky(cov)
    inv = torch.cholesky_inverse(chol)
    diff = (m - mean)[..., None]  # (..., D, 1)
    quad = (diff.transpose(-1, -2) @ inv @ diff)[..., 0, 0]
    trace = (inv * s).sum((-1, -2))  # S is symmetric: tr(Σ⁻¹S) = Σ_ij (Σ⁻¹)_ij S_ij
    log_det = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    return -0.5 * (x.shape[1] * _LOG_2PI + log_det + trace + quad)


def ellipse(mean: Any, cov: Any, n_sigma: float = 1.0, n_points: int = 73) -> Tensor:
    """The points at Mahalanobis distance ``n_sigma`` of a 2-D Gaussian, μ + n_sigma L (cos t, sin t)
    with LLᵀ = Σ: (n_points, 2) float64, closed (the last point is the first, to rounding). Raises ValueError: not 2-D, or a
    covariance that is not positive definite."""
    mean, cov = torch.as_tensor(mean, dtype=torch.float64), torch.as_tensor(cov, dtype=torch.float64)
    if mean.shape != (2,) or cov.shape != (2, 2):
        raise ValueError("an ellipse needs a mean (2,) and a covariance (2, 2)")
    t = torch.linspace(0, 2 * math.pi, n_points, dtype=torch.float64)
    return mean + n_sigma * (_cholesky(cov) @ torch.stack([torch.cos(t), torch.sin(t)])).T


# --- mixtures ------------------------------------------------------------------------------------
class StepReport(NamedTuple):
    """What an M step had to do besides the plain maximum."""

    regularised: tuple[int, ...]  # components whose covariance hit the floor (singular: too few or identical points)
    empty: tuple[int, ...]  # components with (numerically) no responsibility: their mean and covariance are kept


class GaussianMixture:
    """p(x) = Σ_k π_k N(x | μ_k, Σ_k) with K components, fitted by EM (see the module
    docstring). The parameters are tensors, float64: ``weights`` (K,) summing to 1,
    ``means`` (K, D), ``covariances`` (K, D, D), kept full even when constrained: "diag"
    zeroes the off-diagonal entries, "spherical" makes each Σ_k = σ_k² I. None until
    ``initialise`` (or ``fit``) sees data.

    Args:
        n_components: K ≥ 1 (at most the number of points it is fitted on).
        covariance: "full", "diag" or "spherical".
        init: "k-means++" (means at data points spread out by D² sampling) or "random"
            (means at K distinct random data points); covariances start at the data's
            covariance (constrained likewise) and weights at 1/K.
        min_variance: the floor on every covariance eigenvalue (> 0), in squared data units.

    Raises:
        ValueError: a bad setting.
    """

    def __init__(self, n_components: int = 3, covariance: str = "full", init: str = "k-means++", min_variance: float = MIN_VARIANCE):
        self.n_components = _check_count("the number of components K", n_components, 1)
        if covariance not in COVARIANCES or init not in INITS:
            raise ValueError(f"covariance must be one of {COVARIANCES} and init one of {INITS}, got {covariance!r} and {init!r}")
        self.covariance, self.init, self.min_variance = covariance, init, _check_number("the variance floor", min_variance, 0.0, True)
        self.weights: Tensor | None = None
        self.means: Tensor | None = None
        self.covariances: Tensor | None = None
        self.converged, self.report = False, StepReport((), ())  # set by fit: whether it converged, its last M step's report

    @classmethod
    def from_parameters(cls, weights: Any, means: Any, covariances: Any, min_variance: float = MIN_VARIANCE) -> GaussianMixture:
        """A full-covariance mixture of ``weights`` (K,), ``means`` (K, D), ``covariances`` (K, D, D)
        (e.g. to sample data from). Raises ValueError: shapes that do not match, weights that are
        not a distribution, or a covariance that is not positive definite."""
        weights, means, covs = (torch.as_tensor(v, dtype=torch.float64) for v in (weights, means, covariances))
        k, d = means.shape
        if weights.shape != (k,) or covs.shape != (k, d, d) or bool((weights < 0).any()) or abs(float(weights.sum()) - 1) > 1e-9:
            raise ValueError("weights (K,) must be a distribution, means (K, D) and covariances (K, D, D)")
        _cholesky(covs)
        mixture = cls(k, "full", min_variance=min_variance)
        mixture.weights, mixture.means, mixture.covariances = weights, means, covs
        return mixture

    # -- parameters -----------------------------------------------------------------------------
    def _points(self, x: Any) -> Tensor:
        x = as_points(x)
        if self.means is None:
            raise ValueError("the mixture has no parameters yet: initialise or fit it first")
        if x.shape[1] != self.means.shape[1]:
            raise ValueError(f"points have dimension {x.shape[1]}, the mixture {self.means.shape[1]}")
        return x

    def _constrain(self, cov: Tensor) -> tuple[Tensor, Tensor]:
        """The covariance type's maximum from sample covariances (K, D, D), floored; and
        which components hit the floor (K,) bool."""
        if self.covariance == "full":
            return floor_covariance(cov, self.min_variance)
        var = torch.diagonal(cov, dim1=-2, dim2=-1)  # (K, D)
        if self.covariance == "spherical":
            var = var.mean(-1, keepdim=True).expand_as(var)
        return torch.diag_embed(var.clamp_min(self.min_variance)), (var < self.min_variance).any(-1)

    def initialise(self, x: Any, generator: torch.Generator | None = None) -> None:
        """Set the starting parameters from the points ``x`` (N, D) with ``generator``.
        Raises ValueError: bad points, or K larger than the number of points."""
        x = as_points(x)
        n, k = len(x), self.n_components
        if k > n:
            raise ValueError(f"K = {k} components need at least {k} points, got {n}")
        if self.init == "random":
            idx = torch.randperm(n, generator=generator)[:k]
        else:
            idx = torch.empty(k, dtype=torch.long)
            idx[0] = torch.randint(n, (1,), generator=generator)
            d2 = ((x - x[idx[0]]) ** 2).sum(1)
            for j in range(1, k):
                # D² sampling; all points on the centres (identical points): any point will do.
                probs = d2 if float(d2.sum()) > 0 else torch.ones(n, dtype=torch.float64)
                idx[j] = torch.multinomial(probs, 1, generator=generator)
                d2 = torch.minimum(d2, ((x - x[idx[j]]) ** 2).sum(1))
        centred = x - x.mean(0)
        self.covariances, _ = self._constrain((centred.T @ centred / n).expand(k, -1, -1).clone())
        self.means = x[idx].clone()
        self.weights = torch.full((k,), 1.0 / k, dtype=torch.float64)
        self.converged = False

    def n_parameters(self) -> int:
        """The free parameters: K − 1 weights, K·D means, and K·D(D+1)/2 (full), K·D (diag)
        or K (spherical) covariance entries. Raises ValueError: no parameters yet."""
        if self.means is None:
            raise ValueError("the mixture has no parameters yet: initialise or fit it first")
        k, d = self.means.shape
        per_cov = {"full": d * (d + 1) // 2, "diag": d, "spherical": 1}[self.covariance]
        return k - 1 + k * d + k * per_cov

    # -- EM ---------------------------------------------------------------------------------------
    def joint_log_prob(self, x: Any) -> Tensor:
        """log π_k + log N(xₙ | μ_k, Σ_k) in nats: (N, K) float64. Raises ValueError: bad points
        ``x`` (N, D), or no parameters yet."""
        x = self._points(x)
        chol = _cholesky(self.covariances)  # (K, D, D)
        diff = (x[None] - self.means[:, None]).transpose(-1, -2)  # (K, D, N)
        z = torch.linalg.solve_triangular(chol, diff, upper=False)
        log_n = -0.5 * (x.shape[1] * _LOG_2PI + (z * z).sum(1)) - torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1, keepdim=True)
        return (log_n + torch.log(self.weights)[:, None]).T

    def log_density(self, x: Any) -> Tensor:
        """log p(xₙ) in nats: (N,) float64."""
        return torch.logsumexp(self.joint_log_prob(x), 1)

    def log_density_grid(self, xs: Any, ys: Any) -> Tensor:
        """log p on the grid ``xs`` (M,) × ``ys`` (L,) of a 2-D mixture: (L, M), row i at ys[i]."""
        xs, ys = torch.as_tensor(xs, dtype=torch.float64), torch.as_tensor(ys, dtype=torch.float64)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        return self.log_density(torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)).view(len(ys), len(xs))

    def log_likelihood(self, x: Any) -> float:
        """The average log-likelihood (1/N) Σ log p(xₙ), nats per point."""
        return float(self.log_density(x).mean())

    def e_step(self, x: Any) -> tuple[Tensor, float]:
        """Responsibilities r_nk = p(k | xₙ) (N, K), rows summing to 1, and the average
        log-likelihood of the current parameters (nats per point)."""
        joint = self.joint_log_prob(x)
        log_p = torch.logsumexp(joint, 1, keepdim=True)
        return torch.exp(joint - log_p), float(log_p.mean())

    def lower_bound(self, x: Any, resp: Tensor) -> tuple[float, float]:
        """(F, L) in nats per point from one pass: the bound F(q, θ) = (1/N) Σ_n Σ_k r_nk (log π_k
        N(xₙ | μ_k, Σ_k) − log r_nk) for the responsibilities ``resp`` (N, K), and the average
        log-likelihood L(θ) ≥ F (equal right after an E step)."""
        joint = self.joint_log_prob(x)
        terms = torch.where(resp > 0, resp * joint, torch.zeros_like(joint)) - torch.special.xlogy(resp, resp)
        return float(terms.sum() / len(joint)), float(torch.logsumexp(joint, 1).mean())

    def m_step(self, x: Any, resp: Any) -> StepReport:
        """Set the parameters that maximise the lower bound for the responsibilities
        ``resp`` (N, K): π_k = N_k / N, μ_k = Σ r x / N_k, Σ_k the responsibility-weighted
        covariance (constrained to the type and floored).

        Returns which components hit the floor and which were empty (N_k ≈ 0: kept as they
        were). Raises ValueError: bad points, responsibilities of the wrong shape or not in [0, 1].
        """
        x = self._points(x)
        resp = torch.as_tensor(resp, dtype=torch.float64)
        if resp.shape != (len(x), self.n_components) or not bool(((resp >= 0) & (resp <= 1)).all()):
            raise ValueError(f"responsibilities must be ({len(x)}, {self.n_components}) values in [0, 1]")
        nk = resp.sum(0)  # (K,)
        empty = nk < 1e-12
        safe = torch.where(empty, torch.ones_like(nk), nk)
        means = resp.T @ x / safe[:, None]
        diff = x[None] - means[:, None]  # (K, N, D)
        cov = torch.einsum("nk,kni,knj->kij", resp, diff, diff) / safe[:, None, None]
        cov, low = self._constrain((cov + cov.transpose(-1, -2)) / 2)
        self.weights = nk / nk.sum()
        self.means = torch.where(empty[:, None], self.means, means)
        self.covariances = torch.where(empty[:, None, None], self.covariances, cov)
        return StepReport(tuple(torch.nonzero(low & ~empty).flatten().tolist()), tuple(torch.nonzero(empty).flatten().tolist()))

    def fit(self, x: Any, max_iter: int = 100, tol: float = 1e-4, generator: torch.Generator | None = None) -> list[float]:
        """EM from ``initialise`` (if there are no parameters of this dimension yet) until
        the average log-likelihood gains less than ``tol`` nats per point in an iteration,
        or ``max_iter`` iterations. Sets ``converged`` and ``report`` (the last M step's).

        Returns the average log-likelihood (nats per point) before the first M step and after
        each one: never decreasing. Raises ValueError: bad points, K larger than their number, or
        a bad max_iter or tol.
        """
        x, max_iter, tol = as_points(x), _check_count("max_iter", max_iter, 1), _check_number("tol", tol, 0.0, False)
        if self.means is None or self.means.shape[1] != x.shape[1]:
            self.initialise(x, generator)
        resp, ll = self.e_step(x)
        history, self.converged, self.report = [ll], False, StepReport((), ())
        for _ in range(max_iter):
            self.report = self.m_step(x, resp)
            resp, ll = self.e_step(x)
            history.append(ll)
            if ll - history[-2] < tol:
                self.converged = True
                break
        return history

    def bic(self, x: Any) -> float:
        """BIC = −2 Σ log p(xₙ) + p ln N (Schwarz 1978), nats; lower is better."""
        x = self._points(x)
        return -2 * float(self.log_density(x).sum()) + self.n_parameters() * math.log(len(x))

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """n points from the mixture: (points (n, D) float64, components (n,) int64).
        Raises ValueError: n not an integer ≥ 0, or no parameters yet."""
        _check_count("the number of samples", n, 0)
        if self.means is None:
            raise ValueError("the mixture has no parameters yet: initialise or fit it first")
        which = torch.multinomial(self.weights, n, replacement=True, generator=generator) if n else torch.zeros(0, dtype=torch.long)
        z = torch.randn(n, self.means.shape[1], generator=generator, dtype=torch.float64)
        return self.means[which] + (_cholesky(self.covariances)[which] @ z[..., None])[..., 0], which

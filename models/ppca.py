"""Two closed-form or EM-fitted latent-variable models that come before any network:
probabilistic PCA on grey digits and a mixture of Bernoullis on binarised digits.

**Probabilistic PCA** (Tipping & Bishop 1999, "Probabilistic principal component
analysis", J. R. Statist. Soc. B 61(3), 611-622): z ~ N(0, I_K), x | z ~ N(Wz + μ, σ²I_D),
so x ~ N(μ, C) with C = WWᵀ + σ²I. Its maximum-likelihood fit is closed form from the
eigendecomposition S = U Λ Uᵀ of the sample covariance (eigenvalues in decreasing order):
μ is the mean, σ² the mean of the D - K discarded eigenvalues, and W = U_K (Λ_K - σ²I)^{1/2}
(up to a rotation of z). As σ² → 0 the posterior mean E[z|x] = M⁻¹Wᵀ(x - μ),
M = WᵀW + σ²I, becomes the orthogonal projection onto the principal subspace: PCA. The
density is evaluated in O(DK) per point with the Woodbury identity and the matrix
determinant lemma, C⁻¹ = σ⁻²(I - W M⁻¹ Wᵀ) and log|C| = (D - K) log σ² + log|M|.

**Mixture of Bernoullis** (Bishop 2006, "Pattern Recognition and Machine Learning",
§9.3.3): p(x) = Σ_k π_k Π_d μ_kd^x_d (1 - μ_kd)^(1 - x_d) on binary vectors, fitted by EM
(Dempster, Laird & Rubin 1977). The means are kept in [ε, 1 - ε] (ε = 1e-3) so that a pixel
never seen on in training does not give a test digit probability 0. This is an exact
constrained M step, not a heuristic: per component and pixel the expected complete-data
log-likelihood A log μ + B log(1 - μ) is concave in μ, so its maximum over [ε, 1 - ε] is
the unconstrained maximiser A / (A + B) clipped; EM on the box therefore never decreases
the log-likelihood itself (no prior term to add to the objective).

Everything here is float64 (the density of 784 pixels sums hundreds of log terms), on the
CPU or any device the inputs are on. All log-likelihoods are in nats.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from models.checks import check_int

MAX_COMPONENTS = 64  # PPCA: K in [1, min(64, D - 1)]
MAX_MIXTURE = 200  # Bernoulli mixture: K in [1, 200]
MEAN_CLAMP = 1e-3  # Bernoulli means live in [ε, 1 - ε]
MIXTURE_INITS = ("data", "uniform")
_LOG_2PI = math.log(2 * math.pi)


def _matrix(name: str, x: Any, dim: int | None = None, min_rows: int = 1) -> Tensor:
    """``x`` as a finite float64 matrix (N, D) (a tensor or array of rows; images
    (N, 1, H, W) are flattened to (N, H*W)).

    Raises:
        ValueError: not numeric, fewer than 2 dimensions, fewer than ``min_rows`` rows,
            D different from ``dim``, or any NaN or infinite value.
    """
    try:
        t = torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be a numeric matrix (N, D), got {type(x).__name__}") from None
    if t.dtype == torch.bool or not (t.is_floating_point() or t.dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)):
        raise ValueError(f"{name} must be a real-valued matrix (N, D), got dtype {t.dtype}")
    if t.dim() < 2:
        raise ValueError(f"{name} must have shape (N, D), got {tuple(t.shape)}")
    t = t.flatten(1).to(torch.float64)
    if len(t) < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {len(t)}")
    if dim is not None and t.shape[1] != dim:
        raise ValueError(f"{name} must have {dim} columns (the model's D), got {t.shape[1]}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} holds NaN or infinite values")
    return t


def covariance_eigen(x: Any) -> tuple[Tensor, Tensor, Tensor]:
    """Mean and eigendecomposition of the maximum-likelihood (1/N) sample covariance.

    Args:
        x: (N, D) data, N >= 2, finite (float64 is used throughout).

    Returns:
        (mean (D,), eigenvalues (D,) in decreasing order (>= 0 up to rounding),
        eigenvectors (D, D) as columns in the same order), all float64.

    Raises:
        ValueError: bad data (see ``_matrix``).
    """
    x = _matrix("data", x, min_rows=2)
    mean = x.mean(0)
    centred = x - mean
    values, vectors = torch.linalg.eigh(centred.T @ centred / len(x))  # ascending
    return mean, values.flip(0), vectors.flip(1)


class PPCA:
    """Probabilistic PCA, x ~ N(μ, WWᵀ + σ²I) (Tipping & Bishop 1999; see the module
    docstring). Build it with ``PPCA.fit`` (or ``from_eigen``) or from given parameters.

    Args:
        mean: μ, (D,).
        weight: W, (D, K), K >= 1.
        sigma2: σ² >= 0, the isotropic noise variance (0: PCA, which has no density).
        eigenvalues: the data's covariance eigenvalues (D,) in decreasing order, when fitted
            (for ``explained_variance_ratio``); None otherwise.

    Raises:
        ValueError: shapes that do not match, non-finite values, or σ² < 0.
    """

    def __init__(self, mean: Tensor, weight: Tensor, sigma2: float, eigenvalues: Tensor | None = None):
        self.mean = _matrix("mean", torch.as_tensor(mean)[None])[0]
        self.weight = _matrix("W", weight, dim=None)
        if self.weight.shape[0] != len(self.mean):
            raise ValueError(f"W must have D = {len(self.mean)} rows, got shape {tuple(self.weight.shape)}")
        if not (isinstance(sigma2, int | float | Tensor) and math.isfinite(float(sigma2)) and float(sigma2) >= 0):
            raise ValueError(f"σ² must be a finite number >= 0, got {sigma2!r}")
        self.sigma2 = float(sigma2)
        self.eigenvalues = eigenvalues
        self.fit_s = 0.0  # seconds the fit took (set by ``fit``)

    @property
    def n_components(self) -> int:
        """K, the latent dimension."""
        return self.weight.shape[1]

    @property
    def dim(self) -> int:
        """D, the data dimension."""
        return self.weight.shape[0]

    # -- fitting -------------------------------------------------------------------------------
    @classmethod
    def from_eigen(cls, mean: Tensor, eigenvalues: Tensor, eigenvectors: Tensor, n_components: Any, sigma2: Any = None) -> PPCA:
        """The ML PPCA from ``covariance_eigen``'s output (reuse one eigendecomposition for
        every K).

        Args:
            n_components: K in [1, min(64, D - 1)].
            sigma2: None for the ML σ² (mean of the D - K discarded eigenvalues), else a
                fixed σ² >= 0; W is then U_K (Λ_K - σ²I)^{1/2} with directions whose
                eigenvalue is below σ² set to 0 (their ML value for that σ²).

        Raises:
            ValueError: K out of range, a bad σ², or σ² = 0 with a principal eigenvalue
                that is 0 (the data span fewer than K dimensions: no posterior).
        """
        d = len(mean)
        k = check_int("number of components K", n_components, 1, min(MAX_COMPONENTS, d - 1))
        values = eigenvalues.clamp_min(0)  # rounding can make zero eigenvalues slightly negative
        if sigma2 is None:
            sigma2 = float(values[k:].mean())
        elif isinstance(sigma2, bool) or not isinstance(sigma2, int | float) or not math.isfinite(sigma2) or sigma2 < 0:
            raise ValueError(f"σ² must be None (maximum likelihood) or a finite number >= 0, got {sigma2!r}")
        if float(sigma2) == 0 and bool((values[:k] <= 0).any()):
            raise ValueError(f"the data span fewer than K = {k} dimensions: with σ² = 0 the model is degenerate; use σ² > 0")
        weight = eigenvectors[:, :k] * (values[:k] - sigma2).clamp_min(0).sqrt()  # (D, K): U_K (Λ_K - σ²I)^{1/2}
        return cls(mean, weight, float(sigma2), values)

    @classmethod
    def fit(cls, x: Any, n_components: Any = 16, sigma2: Any = None) -> PPCA:
        """The closed-form maximum-likelihood fit on data x (N, D), N >= 2 (Tipping &
        Bishop 1999, eqs. 7-8); ``sigma2`` as in ``from_eigen``. About 0.2 s for 4,500 x 784
        on 2 cores (the eigendecomposition of the 784 x 784 covariance).

        Raises:
            ValueError: bad data (NaN, wrong shape, one row) or a bad K or σ².
        """
        start = time.perf_counter()
        x = _matrix("data", x, min_rows=2)
        check_int("number of components K", n_components, 1, min(MAX_COMPONENTS, x.shape[1] - 1))
        model = cls.from_eigen(*covariance_eigen(x), n_components, sigma2)
        model.fit_s = time.perf_counter() - start
        return model

    # -- the model's quantities ------------------------------------------------------------------
    def _m(self) -> Tensor:
        """M = WᵀW + σ²I, (K, K)."""
        return self.weight.T @ self.weight + self.sigma2 * torch.eye(self.n_components, dtype=torch.float64, device=self.weight.device)

    def covariance(self) -> Tensor:
        """C = WWᵀ + σ²I, (D, D) float64 (dense: for tests and small D)."""
        return self.weight @ self.weight.T + self.sigma2 * torch.eye(self.dim, dtype=torch.float64, device=self.weight.device)

    def explained_variance_ratio(self) -> Tensor:
        """Each principal direction's share of the data's total variance, (K,) float64 in
        [0, 1] (their sum: the share the K directions explain).

        Raises:
            ValueError: a model not fitted to data (no eigenvalues).
        """
        if self.eigenvalues is None:
            raise ValueError("explained variance needs a model fitted to data (PPCA.fit)")
        return self.eigenvalues[: self.n_components] / self.eigenvalues.sum().clamp_min(1e-300)

    def log_prob(self, x: Any) -> Tensor:
        """log N(x; μ, WWᵀ + σ²I) in nats, (N,) float64, for x (N, D), by the Woodbury
        identity and the matrix determinant lemma (O(NDK), no D x D matrix).

        Raises:
            ValueError: bad x (shape, NaN), or σ² = 0 (PCA has no density).
        """
        x = _matrix("x", x, dim=self.dim).to(self.weight.device)
        if self.sigma2 <= 0:
            raise ValueError("σ² = 0 (PCA) has no density: use σ² > 0 for a log-likelihood")
        chol = torch.linalg.cholesky(self._m())  # M = LLᵀ
        e = x - self.mean  # (N, D)
        a = torch.linalg.solve_triangular(chol, (e @ self.weight).T, upper=False)  # (K, N): L⁻¹Wᵀe
        quad = (e.pow(2).sum(1) - a.pow(2).sum(0)) / self.sigma2  # eᵀC⁻¹e = (‖e‖² - eᵀW M⁻¹ Wᵀe) / σ²
        log_det = (self.dim - self.n_components) * math.log(self.sigma2) + 2 * chol.diagonal().log().sum()
        return -0.5 * (self.dim * _LOG_2PI + log_det + quad)

    def posterior_mean(self, x: Any) -> Tensor:
        """E[z | x] = M⁻¹Wᵀ(x - μ), (N, K) float64, for x (N, D).

        Raises:
            ValueError: bad x, or a singular M (σ² = 0 with a zero column of W).
        """
        x = _matrix("x", x, dim=self.dim).to(self.weight.device)
        try:
            return torch.linalg.solve(self._m(), ((x - self.mean) @ self.weight).T).T
        except RuntimeError:  # torch.linalg.LinAlgError
            raise ValueError("M = WᵀW + σ²I is singular: use σ² > 0") from None

    def decode(self, z: Any) -> Tensor:
        """Wz + μ, (N, D) float64, for codes z (N, K) (the mean of p(x | z)).

        Raises:
            ValueError: z not (N, K) or not finite.
        """
        return _matrix("z", z, dim=self.n_components).to(self.weight.device) @ self.weight.T + self.mean

    def reconstruct(self, x: Any) -> Tensor:
        """W E[z|x] + μ, (N, D) float64: x's projection, shrunk towards μ when σ² > 0."""
        return self.decode(self.posterior_mean(x))

    @torch.no_grad()
    def sample(self, n: Any, generator: torch.Generator | None = None, noise: bool = True) -> tuple[Tensor, Tensor]:
        """``n`` draws: z ~ N(0, I), x = Wz + μ (+ σε with ε ~ N(0, I) when ``noise``).

        Returns:
            (x (n, D), z (n, K)), float64, drawn on the generator's device (CPU default).

        Raises:
            ValueError: n not an integer in [1, 100,000].
        """
        n = check_int("number of samples", n, 1, 100_000)
        device = generator.device if generator is not None else torch.device("cpu")
        z = torch.randn(n, self.n_components, generator=generator, device=device, dtype=torch.float64).to(self.weight.device)
        x = self.decode(z)
        if noise:
            eps = torch.randn(n, self.dim, generator=generator, device=device, dtype=torch.float64).to(self.weight.device)
            x = x + math.sqrt(self.sigma2) * eps
        return x, z


class BernoulliMixture:
    """A mixture of K products of Bernoullis over D binary pixels, fitted by EM (Bishop
    2006, §9.3.3; see the module docstring).

    Args:
        n_components: K in [1, 200].
        dim: D >= 1, pixels per example.
        shape: the shape of one example, e.g. (1, 28, 28) (``sample`` returns (n, *shape));
            default (D,).

    Attributes:
        means: (K, D) float64 in [ε, 1 - ε], pixel-on probabilities per component.
        weights: (K,) float64 mixing weights, >= 0, summing to 1.

    Raises:
        ValueError: K or D out of range, or a shape that does not hold D values.
    """

    def __init__(self, n_components: Any = 20, dim: Any = 784, shape: tuple[int, ...] | None = None):
        self.n_components = check_int("number of components K", n_components, 1, MAX_MIXTURE)
        self.dim = check_int("D", dim, 1, 1 << 20)
        self.shape = tuple(shape) if shape is not None else (self.dim,)
        if math.prod(self.shape) != self.dim:
            raise ValueError(f"an example of shape {self.shape} does not hold D = {self.dim} values")
        self.means = torch.full((self.n_components, self.dim), 0.5, dtype=torch.float64)
        self.weights = torch.full((self.n_components,), 1.0 / self.n_components, dtype=torch.float64)

    def _binary(self, x: Any, min_rows: int = 1) -> Tensor:
        """x as float64 (N, D) in {0, 1}.

        Raises:
            ValueError: wrong shape, NaN, or a value other than 0 and 1.
        """
        x = _matrix("x", x, dim=self.dim, min_rows=min_rows).to(self.means.device)
        if not bool(((x == 0) | (x == 1)).all()):
            raise ValueError("the Bernoulli mixture takes binary data: every value must be 0 or 1 (binarise grey images first)")
        return x

    def init(self, x: Any, generator: torch.Generator | None = None, how: str = "data") -> BernoulliMixture:
        """Seeded initialisation of the means (weights uniform), in place.

        Args:
            x: the binary training data (N, D), N >= K for ``"data"``.
            how: ``"data"``: K distinct training points drawn with ``generator``, each
                blended half and half with the data mean; ``"uniform"``: uniform in
                [0.25, 0.75] (Bishop 2006, §9.3.3).

        Raises:
            ValueError: bad data, an unknown ``how``, or K larger than the number of points.
        """
        x = self._binary(x)
        if how not in MIXTURE_INITS:
            raise ValueError(f"initialisation must be one of {', '.join(MIXTURE_INITS)}, got {how!r}")
        if how == "data":
            if self.n_components > len(x):
                raise ValueError(f"K = {self.n_components} components need at least K training points, got {len(x)}")
            pick = torch.randperm(len(x), generator=generator)[: self.n_components].to(x.device)
            means = 0.5 * x[pick] + 0.5 * x.mean(0)
        else:
            means = 0.25 + 0.5 * torch.rand(self.n_components, self.dim, generator=generator, dtype=torch.float64).to(x.device)
        self.means = means.clamp(MEAN_CLAMP, 1 - MEAN_CLAMP)
        self.weights = torch.full((self.n_components,), 1.0 / self.n_components, dtype=torch.float64, device=x.device)
        return self

    def _joint(self, x: Tensor) -> Tensor:
        """log π_k + log p(x_n | k), (N, K), for binary x (N, D) float64."""
        log_on, log_off = self.means.log(), (-self.means).log1p()  # (K, D)
        return x @ (log_on - log_off).T + log_off.sum(1) + self.weights.log()

    def e_step(self, x: Any) -> tuple[Tensor, Tensor]:
        """Responsibilities r_nk = p(k | x_n) (N, K) and log p(x_n) (N,) in nats, float64.

        Raises:
            ValueError: x not binary (N, D).
        """
        joint = self._joint(self._binary(x))
        log_px = torch.logsumexp(joint, 1)
        return (joint - log_px[:, None]).exp(), log_px

    def m_step(self, x: Any, resp: Tensor) -> None:
        """Update the weights (N_k / N) and means (Σ_n r_nk x_n / N_k, clipped to
        [ε, 1 - ε]: the exact maximiser on that box), in place.

        Raises:
            ValueError: x not binary (N, D), or responsibilities not (N, K).
        """
        x = self._binary(x)
        if tuple(resp.shape) != (len(x), self.n_components):
            raise ValueError(f"responsibilities must have shape {(len(x), self.n_components)}, got {tuple(resp.shape)}")
        counts = resp.sum(0)  # (K,): N_k
        self.weights = counts / len(x)
        # A component with no responsibility keeps its means (any value maximises its term).
        means = (resp.T @ x) / counts.clamp_min(1e-300)[:, None]
        self.means = torch.where(counts[:, None] > 0, means, self.means).clamp(MEAN_CLAMP, 1 - MEAN_CLAMP)

    def fit(self, x: Any, n_iters: Any = 30, generator: torch.Generator | None = None, how: str = "data") -> Iterator[float]:
        """Initialise (``init``) and run ``n_iters`` EM iterations (in [1, 1000]) on binary
        x (N, D), lazily.

        Yields:
            ``n_iters + 1`` values: the training mean log-likelihood, nats per example, of
            the initialisation, then of the model after each iteration (M step, then the
            E step that scores it): a non-decreasing sequence (up to rounding, ~1e-12
            relative).

        Raises:
            ValueError: bad data, K > N, or a bad count (raised on the first ``next``).
        """
        n_iters = check_int("EM iterations", n_iters, 1, 1000)
        x = self._binary(x)
        self.init(x, generator, how)
        resp, log_px = self.e_step(x)
        yield float(log_px.mean())
        for _ in range(n_iters):
            self.m_step(x, resp)
            resp, log_px = self.e_step(x)
            yield float(log_px.mean())

    def log_prob(self, x: Any) -> Tensor:
        """Exact log p(x) in nats, (N,) float64, for binary x (N, D) (logsumexp over K).

        Raises:
            ValueError: x not binary (N, D).
        """
        return torch.logsumexp(self._joint(self._binary(x)), 1)

    @torch.no_grad()
    def sample(self, n: Any, generator: torch.Generator | None = None) -> Tensor:
        """``n`` binary draws: k ~ π, then each pixel ~ Bernoulli(μ_k).

        Returns:
            (n, *shape) float32 in {0, 1}, on the CPU.

        Raises:
            ValueError: n not an integer in [1, 100,000].
        """
        n = check_int("number of samples", n, 1, 100_000)
        k = torch.multinomial(self.weights.cpu().float(), n, replacement=True, generator=generator)
        u = torch.rand(n, self.dim, generator=generator, dtype=torch.float64)
        return (u < self.means.cpu()[k]).float().view(n, *self.shape)

"""models.gaussian against formulas: Box-Muller passes a Kolmogorov-Smirnov test (and a wrong
transform fails it), the MLE equals numpy's mean and biased covariance, EM never lowers the
log-likelihood (a property over seeds, K, covariance types and data), mixtures recover clear
blobs, BIC picks their number, singular data are regularised, not NaN, and bad input raises."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from models import gaussian
from models.gaussian import COVARIANCES, INITS, GaussianMixture
from playground.core import toy2d

pytestmark = pytest.mark.usefixtures("one_thread")


def _g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _blobs(centres, n_per: int, std: float, seed: int) -> torch.Tensor:
    centres = torch.tensor(centres, dtype=torch.float64)
    noise = torch.randn(len(centres), n_per, centres.shape[1], generator=_g(seed), dtype=torch.float64)
    return (centres[:, None] + std * noise).reshape(-1, centres.shape[1])


# --- Box-Muller and the KS test -------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_box_muller_passes_a_kolmogorov_smirnov_test(seed):
    g = _g(seed)
    u1, u2 = gaussian.uniforms(20_000, g), gaussian.uniforms(20_000, g)
    assert bool((u1 > 0).all() and (u1 <= 1).all())
    x, y = gaussian.box_muller(u1, u2)
    for sample in (x, y):
        d, p = gaussian.ks_test_normal(sample)
        assert p > 0.01 and d < 0.02
    assert abs(float(torch.corrcoef(torch.stack([x, y]))[0, 1])) < 0.03  # X and Y independent: uncorrelated at least


def test_wrong_transforms_fail_the_test():
    g = _g(0)
    u1, u2 = gaussian.uniforms(20_000, g), gaussian.uniforms(20_000, g)
    no_two = torch.sqrt(-torch.log(u1)) * torch.cos(2 * math.pi * u2)  # R = √(−ln U1): std 1/√2
    half_angle = torch.sqrt(-2 * torch.log(u1)) * torch.sin(math.pi * u2)  # Θ = πU2: Y ≥ 0 only
    uniform = 2 * u1 - 1
    for wrong in (no_two, half_angle, uniform):
        assert gaussian.ks_test_normal(wrong)[1] < 1e-6


def test_ks_statistic_and_p_value_against_formulas():
    x = torch.randn(300, generator=_g(5), dtype=torch.float64)
    xs = np.sort(x.numpy())
    cdf = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in xs])
    i = np.arange(1, 301)
    d, p = gaussian.ks_test_normal(x)
    assert d == pytest.approx(max(np.max(i / 300 - cdf), np.max(cdf - (i - 1) / 300)), abs=1e-12)
    lam = (math.sqrt(300) + 0.12 + 0.11 / math.sqrt(300)) * d
    assert p == pytest.approx(gaussian.kolmogorov_survival(lam))
    # Kolmogorov's critical values: 5% at 1.3581, 1% at 1.6276; both series agree at the switch.
    assert gaussian.kolmogorov_survival(1.3581) == pytest.approx(0.05, abs=2e-4)
    assert gaussian.kolmogorov_survival(1.6276) == pytest.approx(0.01, abs=1e-4)
    assert gaussian.kolmogorov_survival(1.18 - 1e-12) == pytest.approx(gaussian.kolmogorov_survival(1.18), abs=1e-12)
    values = [gaussian.kolmogorov_survival(v) for v in np.linspace(0, 3, 61)]
    assert values[0] == 1.0 and all(a >= b for a, b in zip(values, values[1:])) and values[-1] < 1e-7


@pytest.mark.parametrize(
    "u1,u2",
    [([0.0, 0.5], [0.5, 0.5]), ([0.5, 1.5], [0.5, 0.5]), ([0.5, float("nan")], [0.5, 0.5]), ([0.5, 0.5], [-0.1, 0.5]), ([0.5], [0.5, 0.5])],
)
def test_box_muller_refuses_values_outside_the_unit_interval(u1, u2):
    with pytest.raises(ValueError):
        gaussian.box_muller(torch.tensor(u1), torch.tensor(u2))


def test_box_muller_edges_and_bad_counts():
    x, y = gaussian.box_muller(torch.tensor([1.0, 1e-300], dtype=torch.float64), torch.tensor([1.0, 0.25], dtype=torch.float64))
    assert float(x[0]) == 0.0 and bool(torch.isfinite(torch.stack([x, y])).all())  # U1 = 1: R = 0
    for bad in (-1, 2.5, "10", True):
        with pytest.raises(ValueError):
            gaussian.uniforms(bad)
    with pytest.raises(ValueError):
        gaussian.ks_test_normal(torch.tensor([0.0, float("inf")]))
    with pytest.raises(ValueError):
        gaussian.kolmogorov_survival(-1.0)


# --- one Gaussian ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [1, 2, 3])
def test_mle_equals_numpy_mean_and_biased_covariance(dim):
    x = torch.randn(400, dim, generator=_g(dim), dtype=torch.float64) @ torch.randn(dim, dim, generator=_g(9), dtype=torch.float64) + 0.7
    fit = gaussian.fit_gaussian(x[:, 0] if dim == 1 else x)
    assert not fit.regularised
    np.testing.assert_allclose(fit.mean.numpy(), x.numpy().mean(0), rtol=1e-12)
    np.testing.assert_allclose(fit.cov.numpy(), np.cov(x.numpy().T, bias=True).reshape(dim, dim), rtol=1e-10)
    # log N(x | μ, Σ) against the textbook formula, and the batched average against the plain mean.
    diff = x.numpy() - fit.mean.numpy()
    inv = np.linalg.inv(fit.cov.numpy())
    expected = -0.5 * (dim * math.log(2 * math.pi) + math.log(np.linalg.det(fit.cov.numpy())) + np.einsum("ni,ij,nj->n", diff, inv, diff))
    np.testing.assert_allclose(gaussian.gaussian_log_density(x, fit.mean, fit.cov).numpy(), expected, rtol=1e-10)
    means = torch.stack([fit.mean, fit.mean + 0.3])
    covs = torch.stack([fit.cov, 2 * fit.cov])
    batched = gaussian.mean_log_likelihood(x, means, covs)
    for j in range(2):
        assert float(batched[j]) == pytest.approx(float(gaussian.gaussian_log_density(x, means[j], covs[j]).mean()), rel=1e-10)
    assert float(batched[0]) > float(batched[1])  # the MLE is the maximum


def test_singular_data_are_regularised_not_nan():
    one = gaussian.fit_gaussian(torch.tensor([[0.3, -0.2]]), 0.0025)
    same = gaussian.fit_gaussian(torch.full((6, 2), 1.5), 0.0025)
    for fit in (one, same):
        assert fit.regularised and torch.allclose(fit.cov, 0.0025 * torch.eye(2, dtype=torch.float64))
    line = torch.stack([torch.linspace(-1, 1, 11, dtype=torch.float64)] * 2, 1)  # collinear: one zero eigenvalue
    fit = gaussian.fit_gaussian(line, 0.0025)
    values = torch.linalg.eigvalsh(fit.cov)
    assert fit.regularised and values[0] == pytest.approx(0.0025) and values[1] == pytest.approx(2 * 0.4, rel=1e-9)
    assert bool(torch.isfinite(gaussian.gaussian_log_density(line, fit.mean, fit.cov)).all())
    assert not gaussian.fit_gaussian(torch.tensor([0.0, 1.0])).regularised


def test_ellipse_is_at_the_right_mahalanobis_distance():
    cov = torch.tensor([[1.0, 0.6], [0.6, 0.5]], dtype=torch.float64)
    points = gaussian.ellipse(torch.tensor([1.0, -1.0]), cov, 2.0, 50)
    diff = points - torch.tensor([1.0, -1.0], dtype=torch.float64)
    np.testing.assert_allclose(((diff @ torch.linalg.inv(cov)) * diff).sum(1).numpy(), 4.0, rtol=1e-10)
    assert torch.allclose(points[0], points[-1], atol=1e-12)  # closed


@pytest.mark.parametrize(
    "call",
    [
        lambda: gaussian.fit_gaussian(torch.tensor([[0.0, float("nan")]])),
        lambda: gaussian.fit_gaussian(torch.zeros(0, 2)),
        lambda: gaussian.fit_gaussian(["a", "b"]),
        lambda: gaussian.fit_gaussian(torch.zeros(3, 2), 0.0),
        lambda: gaussian.gaussian_log_density(torch.zeros(3, 2), torch.zeros(3), torch.eye(2)),
        lambda: gaussian.gaussian_log_density(torch.zeros(3, 2), torch.zeros(2), -torch.eye(2)),
        lambda: gaussian.ellipse(torch.zeros(3), torch.eye(3)),
    ],
)
def test_bad_input_to_the_gaussian_raises(call):
    with pytest.raises(ValueError):
        call()


# --- mixtures --------------------------------------------------------------------------------------
_DUPLICATES = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]], dtype=torch.float64).repeat(8, 1)  # 3 distinct points, 8 times each
_DATA = {
    "ring": toy2d.make_dataset("ring", 300, 0).double(),
    "blobs": _blobs([[-2, 0], [2, 0], [0, 3]], 60, 0.6, 1),
    "duplicates": _DUPLICATES,
    "3-D": torch.randn(150, 3, generator=_g(2), dtype=torch.float64) * torch.tensor([1.0, 0.3, 2.0], dtype=torch.float64),
}
# 48 runs: seeds 0-47 cycling through K, covariance types, inits and data.
_RUNS = [(seed, k, cov, init, data) for seed, (k, cov, init, data) in enumerate(itertools.islice(itertools.cycle(itertools.product([1, 2, 3, 5, 8], COVARIANCES, INITS, _DATA)), 0, 48 * 7, 7))]


@pytest.mark.parametrize("seed,k,covariance,init,data", _RUNS)
def test_em_never_lowers_the_log_likelihood(seed, k, covariance, init, data):
    x = _DATA[data]
    mixture = GaussianMixture(k, covariance, init, min_variance=1e-4)
    history = mixture.fit(x, max_iter=40, tol=0.0, generator=_g(seed))
    assert all(math.isfinite(v) for v in history)
    for before, after in zip(history, history[1:]):
        assert after >= before - 1e-9 * abs(before), (before, after)
    # The two halves of the argument: after an M step F(q_old, θ_new) lies between L_old and L_new.
    resp, ll = mixture.e_step(x)
    mixture.m_step(x, resp)
    bound, ll_new = mixture.lower_bound(x, resp)
    assert ll - 1e-9 * abs(ll) <= bound <= ll_new + 1e-9 * abs(ll_new)
    assert torch.allclose(mixture.weights.sum(), torch.tensor(1.0, dtype=torch.float64))
    if covariance != "full":
        off = mixture.covariances - torch.diag_embed(torch.diagonal(mixture.covariances, dim1=-2, dim2=-1))
        assert bool((off == 0).all())
    if covariance == "spherical":
        diag = torch.diagonal(mixture.covariances, dim1=-2, dim2=-1)
        assert torch.equal(diag, diag[:, :1].expand_as(diag))


def test_a_mixture_recovers_well_separated_blobs():
    centres = [[-3.0, -2.0], [3.0, -2.0], [0.0, 3.0]]
    x = _blobs(centres, 200, 0.5, 3)
    mixture = GaussianMixture(3, "full")
    mixture.fit(x, 200, 1e-8, _g(0))
    assert mixture.converged
    found = sorted(mixture.means.tolist())
    np.testing.assert_allclose(found, sorted(centres), atol=0.1)
    np.testing.assert_allclose(mixture.weights.numpy(), 1 / 3, atol=1e-3)


def test_bic_picks_the_number_of_clear_blobs():
    x = _blobs([[-3, -3], [3, -3], [-3, 3], [3, 3]], 100, 0.5, 4)
    bics = []
    for k in range(1, 8):
        fits = [GaussianMixture(k, "full") for _ in range(3)]
        for i, m in enumerate(fits):
            m.fit(x, 200, 1e-6, _g(i))
        best = max(fits, key=lambda m: m.log_likelihood(x))
        bics.append(best.bic(x))
        assert best.bic(x) == pytest.approx(-2 * 400 * best.log_likelihood(x) + best.n_parameters() * math.log(400))
    assert int(np.argmin(bics)) + 1 == 4


def test_singular_components_are_floored_and_reported():
    mixture = GaussianMixture(3, "full", min_variance=1e-4)
    mixture.fit(_DUPLICATES, 50, 1e-9, _g(0))
    assert mixture.report.regularised  # each component sits on one repeated point
    assert bool(torch.isfinite(mixture.covariances).all()) and math.isfinite(mixture.log_likelihood(_DUPLICATES))
    assert torch.linalg.eigvalsh(mixture.covariances).min() >= 1e-4 * (1 - 1e-9)
    same = GaussianMixture(2, "diag", min_variance=1e-4)
    same.fit(torch.ones(5, 2), 5, 0.0, _g(0))  # identical points: k-means++ still starts
    assert math.isfinite(same.log_likelihood(torch.ones(5, 2)))


def test_n_parameters_sampling_and_the_density():
    for covariance, expected in (("full", 2 + 3 * 2 + 3 * 3), ("diag", 2 + 6 + 6), ("spherical", 2 + 6 + 3)):
        mixture = GaussianMixture(3, covariance)
        mixture.initialise(_DATA["blobs"], _g(0))
        assert mixture.n_parameters() == expected
    one = GaussianMixture.from_parameters([1.0], [[0.5, -1.0]], [[[0.5, 0.2], [0.2, 0.3]]])
    points, which = one.sample(20_000, _g(1))
    assert points.shape == (20_000, 2) and bool((which == 0).all())
    np.testing.assert_allclose(points.mean(0).numpy(), [0.5, -1.0], atol=0.02)
    np.testing.assert_allclose(np.cov(points.numpy().T), [[0.5, 0.2], [0.2, 0.3]], atol=0.02)
    mixture = GaussianMixture.from_parameters([0.3, 0.7], [[-1.0, 0.0], [1.0, 0.5]], [[[0.2, 0.0], [0.0, 0.2]], [[0.3, -0.1], [-0.1, 0.2]]])
    axis = torch.linspace(-5, 5, 201, dtype=torch.float64)
    grid = mixture.log_density_grid(axis, axis)
    assert grid.shape == (201, 201)
    assert float(grid.exp().sum()) * 0.05**2 == pytest.approx(1.0, abs=1e-6)  # the density integrates to 1


@pytest.mark.parametrize(
    "call",
    [
        lambda: GaussianMixture(0),
        lambda: GaussianMixture(2.5),
        lambda: GaussianMixture(3, "tied"),
        lambda: GaussianMixture(3, "full", "kmeans"),
        lambda: GaussianMixture(3, min_variance=0),
        lambda: GaussianMixture(3, min_variance=float("nan")),
        lambda: GaussianMixture(5).fit(torch.zeros(4, 2)),  # K > N
        lambda: GaussianMixture(2).fit(torch.tensor([[0.0, float("nan")], [1.0, 1.0]])),
        lambda: GaussianMixture(2).fit(torch.zeros(4, 2), max_iter=0),
        lambda: GaussianMixture(2).fit(torch.zeros(4, 2), tol=-1.0),
        lambda: GaussianMixture(2).n_parameters(),
        lambda: GaussianMixture(2).e_step(torch.zeros(4, 2)),
        lambda: GaussianMixture(2).sample(3),
        lambda: GaussianMixture.from_parameters([0.5, 0.6], [[0.0], [1.0]], [[[1.0]], [[1.0]]]),
    ],
)
def test_bad_input_to_a_mixture_raises(call):
    with pytest.raises(ValueError):
        call()


def test_m_step_checks_the_responsibilities_and_the_dimension():
    mixture = GaussianMixture(2)
    mixture.initialise(_DATA["blobs"], _g(0))
    with pytest.raises(ValueError, match="responsibilities"):
        mixture.m_step(_DATA["blobs"], torch.full((len(_DATA["blobs"]), 3), 1 / 3))
    with pytest.raises(ValueError, match="dimension"):
        mixture.log_likelihood(torch.zeros(4, 3))

"""Probabilistic PCA and the Bernoulli mixture against independent numpy formulas."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from models.ppca import MEAN_CLAMP, PPCA, BernoulliMixture, covariance_eigen


def _data(n=400, d=10, k=3, seed=0):
    """Gaussian data near a k-dimensional subspace, (n, d) float64."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, k)) @ rng.normal(size=(k, d)) * 2 + rng.normal(size=(n, d)) * 0.5 + rng.normal(size=d)


def _numpy_log_density(x, mean, cov):
    """log N(x; mean, cov) per row, dense (slogdet and solve)."""
    d = x.shape[1]
    e = x - mean
    _, logdet = np.linalg.slogdet(cov)
    return -0.5 * (d * np.log(2 * np.pi) + logdet + np.einsum("nd,nd->n", e, np.linalg.solve(cov, e.T).T))


def test_ml_solution_matches_the_eigendecomposition_formula():
    x = _data()
    model = PPCA.fit(torch.from_numpy(x), 3)
    cov = np.cov(x.T, bias=True)
    values, vectors = np.linalg.eigh(cov)
    values, vectors = values[::-1], vectors[:, ::-1]
    sigma2 = values[3:].mean()
    w = vectors[:, :3] * np.sqrt(values[:3] - sigma2)
    assert model.sigma2 == pytest.approx(sigma2, rel=1e-10)
    assert np.allclose(model.weight.numpy() @ model.weight.numpy().T, w @ w.T, atol=1e-9)  # W is unique up to a rotation
    assert np.allclose(model.mean.numpy(), x.mean(0))
    assert np.allclose(model.covariance().numpy(), w @ w.T + sigma2 * np.eye(10), atol=1e-9)
    assert np.allclose(model.explained_variance_ratio().numpy(), values[:3] / values.sum())
    ours = model.log_prob(torch.from_numpy(x)).numpy()
    assert ours.dtype == np.float64 and ours.shape == (400,)
    assert np.allclose(ours, _numpy_log_density(x, x.mean(0), w @ w.T + sigma2 * np.eye(10)), atol=1e-8)


@pytest.mark.parametrize("seed", range(4))
def test_the_ml_fit_beats_perturbed_parameters(seed):
    x = torch.from_numpy(_data(seed=seed))
    model = PPCA.fit(x, 3)
    best = float(model.log_prob(x).mean())
    g = torch.Generator().manual_seed(seed)
    for scale in (0.3, 0.03):
        w = model.weight + scale * torch.randn(model.weight.shape, generator=g, dtype=torch.float64)
        assert float(PPCA(model.mean, w, model.sigma2).log_prob(x).mean()) < best
    for sigma2 in (model.sigma2 * 0.9, model.sigma2 * 1.1):
        assert float(PPCA.fit(x, 3, sigma2=sigma2).log_prob(x).mean()) < best
    # A Woodbury log-density for a W that is not orthogonal agrees with the dense one too.
    w = torch.randn(10, 3, generator=g, dtype=torch.float64)
    other = PPCA(model.mean, w, 0.7)
    assert np.allclose(other.log_prob(x).numpy(), _numpy_log_density(x.numpy(), model.mean.numpy(), other.covariance().numpy()), atol=1e-8)


def test_sigma2_to_zero_gives_pca():
    x = torch.from_numpy(_data())
    _, _, vectors = covariance_eigen(x)
    pca = PPCA.fit(x, 3, sigma2=0.0)
    basis = vectors[:, :3]
    projector = basis @ basis.T
    assert torch.allclose(pca.weight @ torch.linalg.pinv(pca.weight), projector, atol=1e-9)  # span W = the top-3 subspace
    assert torch.allclose(pca.reconstruct(x), (x - x.mean(0)) @ projector + x.mean(0), atol=1e-8)  # orthogonal projection
    shrunk = PPCA.fit(x, 3, sigma2=1e-6).reconstruct(x)
    assert torch.allclose(shrunk, pca.reconstruct(x), atol=1e-5)
    with pytest.raises(ValueError, match="no density"):
        pca.log_prob(x)


def test_posterior_decode_and_samples_have_the_model_moments():
    x = torch.from_numpy(_data(n=2000))
    model = PPCA.fit(x, 3)
    z = model.posterior_mean(x[:5])
    assert z.shape == (5, 3) and model.decode(z).shape == (5, 10)
    samples, codes = model.sample(20000, torch.Generator().manual_seed(0))
    assert samples.shape == (20000, 10) and codes.shape == (20000, 3)
    assert torch.allclose(torch.cov(samples.T, correction=0), model.covariance(), atol=0.15 * float(model.covariance().abs().max()))
    means, _ = model.sample(4, torch.Generator().manual_seed(1), noise=False)
    assert torch.allclose(means, model.decode(model.sample(4, torch.Generator().manual_seed(1), noise=False)[1]))


@pytest.mark.parametrize(
    "x,k,sigma2,match",
    [
        ([[float("nan")] * 10] * 5, 3, None, "NaN"),
        (np.zeros(10), 3, None, r"shape \(N, D\)"),
        ([[1.0] * 10], 3, None, "at least 2 rows"),
        ("digits", 3, None, "numeric"),
        (_data(), 0, None, r"K must be in \[1, 9\]"),
        (_data(), 10, None, r"K must be in \[1, 9\]"),
        (_data(), 2.5, None, "integer"),
        (_data(), None, None, "integer"),
        (_data(), 3, -1.0, "σ²"),
        (_data(), 3, float("nan"), "σ²"),
    ],
)
def test_ppca_bad_input_is_a_readable_error(x, k, sigma2, match):
    with pytest.raises(ValueError, match=match):
        PPCA.fit(x, k, sigma2=sigma2)


def test_ppca_refuses_points_of_the_wrong_size():
    model = PPCA.fit(_data(), 3)
    for bad in (torch.zeros(4, 9), torch.full((2, 10), float("inf"))):
        with pytest.raises(ValueError):
            model.log_prob(bad)
    with pytest.raises(ValueError, match="3 columns"):
        model.decode(torch.zeros(1, 4))


def _fitted_mixture(k=4, seed=0, n=60, how="data"):
    rng = np.random.default_rng(seed)
    x = torch.from_numpy((rng.random((n, 9)) < rng.random((1, 9))).astype(np.float64))
    model = BernoulliMixture(k, dim=9, shape=(1, 3, 3))
    curve = list(model.fit(x, 25, torch.Generator().manual_seed(seed), how))
    return model, x, curve


@pytest.mark.parametrize("how", ["data", "uniform"])
def test_mixture_probabilities_over_all_3x3_images_sum_to_one(how):
    model, _, _ = _fitted_mixture(how=how)
    every = torch.tensor(list(itertools.product([0.0, 1.0], repeat=9)), dtype=torch.float64)  # all 2^9 images
    assert float(model.log_prob(every).exp().sum()) == pytest.approx(1.0, abs=1e-12)
    assert float(model.weights.sum()) == pytest.approx(1.0) and bool((model.means >= MEAN_CLAMP).all() and (model.means <= 1 - MEAN_CLAMP).all())


@pytest.mark.parametrize("seed", range(8))
def test_em_never_decreases_the_log_likelihood(seed):
    _, x, curve = _fitted_mixture(k=1 + seed % 6, seed=seed)
    assert len(curve) == 26 and all(b >= a - 1e-12 * abs(a) for a, b in itertools.pairwise(curve)), curve
    fresh = BernoulliMixture(1 + seed % 6, dim=9)
    fresh.init(x, torch.Generator().manual_seed(seed))
    assert float(fresh.log_prob(x).mean()) == pytest.approx(curve[0])  # curve[0] scores the initialisation


def test_em_on_digits_never_decreases_and_learns(data):
    x = data.train_binary[:500]
    model = BernoulliMixture(10, shape=(1, 28, 28))
    curve = list(model.fit(x, 8, torch.Generator().manual_seed(0)))
    assert all(b >= a - 1e-12 * abs(a) for a, b in itertools.pairwise(curve))
    assert 80 < -curve[-1] < 250
    samples = model.sample(5, torch.Generator().manual_seed(0))
    assert samples.shape == (5, 1, 28, 28) and samples.dtype == torch.float32 and set(samples.unique().tolist()) <= {0.0, 1.0}


def test_e_step_responsibilities_are_posteriors():
    model, x, _ = _fitted_mixture()
    resp, log_px = model.e_step(x)
    assert torch.allclose(resp.sum(1), torch.ones(len(x), dtype=torch.float64))
    assert torch.allclose(log_px, model.log_prob(x))


@pytest.mark.parametrize(
    "x,k,match",
    [
        (torch.full((20, 9), 0.5), 3, "binary"),
        (torch.full((20, 9), float("nan")), 3, "NaN"),
        (torch.zeros(20, 8), 3, "9 columns"),
        (torch.zeros(2, 9), 3, "at least K training points"),
        (torch.zeros(20, 9), 0, r"K must be in \[1, 200\]"),
        (torch.zeros(20, 9), 201, r"K must be in \[1, 200\]"),
        (torch.zeros(20, 9), "many", "integer"),
    ],
)
def test_mixture_bad_input_is_a_readable_error(x, k, match):
    with pytest.raises(ValueError, match=match):
        next(BernoulliMixture(k, dim=9).fit(x, 5))

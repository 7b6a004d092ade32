"""PixelCNN++ (discretised logistic mixture, down/up-sampling streams) and the 256-way
softmax PixelCNN on 8-bit grey digits: the mixture is a proper distribution over the 256
levels, both networks are causal by gradient, save/load, sampling, and training lowers
the loss on real digits."""

from __future__ import annotations

import math

import pytest
import torch

from models import FAMILIES
from models.base import seeded_init
from models.pixelcnnpp import N_LEVELS, PixelCNNpp, SoftmaxPixelCNN, logistic_mixture_log_prob, logistic_mixture_sample

TINY = {"pixelcnnpp": (PixelCNNpp, dict(filters=8, n_resnets=1, n_mix=3)), "pixelcnn256": (SoftmaxPixelCNN, dict(channels=8, n_layers=2))}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _mixture_probs(params: torch.Tensor) -> torch.Tensor:
    """(N, 256) probabilities of every level under mixtures params (N, 3K)."""
    n = len(params)
    grid = params[:, :, None, None].expand(-1, -1, 1, N_LEVELS)
    levels = torch.arange(N_LEVELS).view(1, 1, 1, N_LEVELS).expand(n, 1, 1, N_LEVELS)
    return logistic_mixture_log_prob(grid, levels).view(n, N_LEVELS).exp()


@pytest.mark.parametrize("k", [1, 5])
@pytest.mark.parametrize("spread", [0.3, 3.0, 30.0])
def test_mixture_probabilities_over_all_256_levels_sum_to_one(k, spread):
    """Random logits, means (inside and far outside [-1, 1]) and log scales (down to the floor)."""
    g = torch.Generator().manual_seed(k * 100 + int(spread))
    params = torch.cat([torch.randn(200, k, generator=g) * spread, torch.randn(200, k, generator=g) * spread, torch.rand(200, k, generator=g) * 9 - 8], 1)
    probs = _mixture_probs(params).double()
    assert torch.isfinite(probs).all() and (probs >= 0).all()
    assert (probs.sum(1) - 1).abs().max() < 1e-5


def test_mixture_matches_the_sigmoid_differences_and_its_edge_levels():
    """One logistic (mu, s): P(0) = sigma((-1 + 1/255 - mu)/s), P(255) = 1 - sigma((1 - 1/255 - mu)/s), in between the CDF over the bin."""
    mu, log_s = 0.1, -2.0
    params = torch.tensor([[0.0, mu, log_s]])
    probs = _mixture_probs(params)[0].double()
    s = math.exp(log_s)
    cdf = lambda t: 1 / (1 + math.exp(-(t - mu) / s))  # noqa: E731
    x = lambda v: 2 * v / 255 - 1  # noqa: E731
    assert probs[0] == pytest.approx(cdf(x(0) + 1 / 255), rel=1e-4)
    assert probs[255] == pytest.approx(1 - cdf(x(255) - 1 / 255), rel=1e-4)
    for v in (1, 100, 140, 254):
        assert probs[v] == pytest.approx(cdf(x(v) + 1 / 255) - cdf(x(v) - 1 / 255), rel=1e-4)


def test_mixture_log_prob_is_finite_far_in_the_tails():
    """A level 100 scales away from a sharp mean still has a finite (very negative) log-probability and gradient."""
    params = torch.tensor([[[[0.0]], [[-1.0]], [[-7.0]]]], requires_grad=True)  # (1, 3, 1, 1): mean at level 0, smallest scale
    log_p = logistic_mixture_log_prob(params, torch.tensor([[[[200.0]]]]))
    (grad,) = torch.autograd.grad(log_p.sum(), params)
    assert torch.isfinite(log_p).all() and float(log_p.detach()) < -1000
    assert torch.isfinite(grad).all()


def test_mixture_sampler_draws_from_the_discretised_distribution():
    params = torch.tensor([[0.5, -0.5, -0.2, 0.6, -3.0, -2.5]])  # two components
    probs = _mixture_probs(params)[0]
    n = 40_000
    draws = logistic_mixture_sample(params.expand(n, -1), torch.Generator().manual_seed(0))
    assert draws.dtype == torch.int64 and int(draws.min()) >= 0 and int(draws.max()) <= 255
    freq = torch.bincount(draws, minlength=N_LEVELS).float() / n
    assert (freq - probs).abs().max() < 0.01
    assert float(0.5 * (freq - probs).abs().sum()) < 0.04  # total variation


@pytest.mark.parametrize("name", sorted(TINY))
def test_causal_by_gradient(name):
    """The conditional of pixel i (every number of it) has zero gradient w.r.t. the inputs at pixels >= i, and some on earlier ones."""
    cls, config = TINY[name]
    model = seeded_init(cls, 0, **config).eval()
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    out = model.params(x)
    for i in [0, 1, 27, 28, 29, 57, 300, 405, 420, 783]:
        r, c = divmod(i, 28)
        (grad,) = torch.autograd.grad(out[:, :, r, c].sum(), x, retain_graph=True)
        seen = grad.abs().sum(0).flatten()
        assert float(seen[i:].sum()) == 0.0, f"pixel {i} sees its own or a later input"
        assert i == 0 or float(seen[:i].sum()) > 0


@pytest.mark.parametrize("name", sorted(TINY))
def test_top_row_crops_give_the_whole_image_conditionals(name):
    """Sampling feeds only the rows down to the pixel (a multiple of 4 for PixelCNN++'s two down-samplings)."""
    cls, config = TINY[name]
    model = seeded_init(cls, 0, **config).eval()
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full = model.params(x)
        for i in (5, 30, 200, 783):
            assert torch.allclose(model.conditional_params(x, i), full[:, :, i // 28, i % 28], atol=1e-5)


@pytest.mark.parametrize("name", sorted(TINY))
def test_registered_grey_exact_and_level_probs_sum_to_one(name, data):
    cls, config = TINY[name]
    assert FAMILIES[name] is cls and cls.data_kind == "grey" and cls.nll_kind == "exact"
    model = seeded_init(cls, 0, **config).eval()
    x = data.images("test", "grey")[:3]
    with torch.no_grad():
        params = model.params(x)[:, :, 14, 10]
        probs = model.level_probs(params).double()
        assert probs.shape == (3, N_LEVELS) and (probs.sum(1) - 1).abs().max() < 1e-5
        level = torch.round(x[:, 0, 14, 10] * 255).long()
        per_pixel = model.level_log_prob(model.params(x), model.levels(x))[:, 0, 14, 10]
        assert torch.allclose(per_pixel.exp().double(), probs[torch.arange(3), level], rtol=1e-4)
        log_p = model.log_prob(x)
    assert log_p.shape == (3,) and (log_p < 0).all()


@pytest.mark.parametrize("name", sorted(TINY))
def test_samples_are_8_bit_and_seeded(name):
    cls, config = TINY[name]
    model = seeded_init(cls, 0, **config).eval()
    a = model.sample(2, generator=torch.Generator().manual_seed(3))
    assert a.shape == (2, 1, 28, 28) and a.dtype == torch.float32 and 0 <= float(a.min()) and float(a.max()) <= 1
    assert torch.equal(torch.round(a * 255) / 255, a)
    steps = list(model.sample_iter(2, generator=torch.Generator().manual_seed(3)))
    assert len(steps) == 28 and all(s is None for s in steps[:-1]) and torch.equal(steps[-1], a)


@pytest.mark.parametrize("name", sorted(TINY))
def test_save_load_round_trip(name, tmp_path, data):
    cls, config = TINY[name]
    model = seeded_init(cls, 0, **config).eval()
    model.save_pretrained(tmp_path / "ck")
    loaded = cls.from_pretrained(tmp_path / "ck").eval()
    assert loaded.config == model.config
    x = data.images("test", "grey")[:4]
    with torch.no_grad():
        assert torch.equal(model.log_prob(x), loaded.log_prob(x))


@pytest.mark.parametrize("name", sorted(TINY))
def test_training_lowers_the_loss_on_real_grey_digits(name, data):
    cls, config = TINY[name]
    model = seeded_init(cls, 0, **config)
    x = data.images("train", "grey")[:16]
    (opt,) = model.configure_optimizers(lr=3e-3)
    before = float(model.loss(x)["bits_per_dim"])
    for _ in range(15):
        model.train_step(x, None, [opt])
    after = float(model.loss(x)["bits_per_dim"])
    assert after < before - 0.3, (before, after)


@pytest.mark.parametrize(
    ("cls", "bad"),
    [(PixelCNNpp, dict(filters=2)), (PixelCNNpp, dict(n_resnets=0)), (PixelCNNpp, dict(n_mix=11)), (PixelCNNpp, dict(n_mix=2.5)), (SoftmaxPixelCNN, dict(channels=1000)), (SoftmaxPixelCNN, dict(n_layers=0))],
)
def test_bad_settings_are_readable_errors(cls, bad):
    with pytest.raises(ValueError, match="must"):
        cls(**bad)


def test_refuses_labels_and_bad_images():
    model = seeded_init(PixelCNNpp, 0, filters=4)
    with pytest.raises(ValueError, match="not class-conditional"):
        model.log_prob(torch.zeros(1, 1, 28, 28), torch.zeros(1, dtype=torch.long))
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(torch.zeros(1, 1, 14, 14))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.log_prob(torch.full((1, 1, 28, 28), 2.0))

"""PixelVAE: the decoder is causal given z (by gradients) and hears z, the ELBO's terms,
the latent is used after training on real digits (KL > 0), sampling given z, the
importance-weighted bound, save/load, argument checks."""

from __future__ import annotations

import pytest
import torch

from models.base import seeded_init
from models.pixelvae import PixelVAE
from playground.core import checkpoints

TINY = dict(latent_dim=4, hidden=8, channels=8, n_layers=1, kernel_size=3, n_importance=4)


def test_the_decoder_is_causal_given_z_and_hears_z():
    model = seeded_init(PixelVAE, 0, **TINY).eval()
    x = (torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(1)) < 0.5).float().requires_grad_(True)
    z = torch.randn(1, 4, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
    for i in [0, 1, 30, 28 * 14 + 5, 783]:
        gx, gz = torch.autograd.grad(model.decoder_logits(x, model.condition(z)).flatten()[i], (x, z))
        gx = gx.flatten()
        assert bool((gx[i:] == 0).all()), f"logit {i} depends on pixels {(gx[i:] != 0).nonzero().flatten() + i}"
        assert float(gz.abs().sum()) > 0
        if i % 28:
            assert float(gx[i - 1].abs()) > 0  # the pixel to its left
    assert model.context_rows == 2  # kernel 3 (one row up) + one 3 x 3 layer


def test_the_loss_is_the_negative_elbo_with_its_terms(data):
    model = seeded_init(PixelVAE, 0, **TINY)
    x = data.images("train", "binary")[:8]
    terms = model.elbo_terms(x, torch.Generator().manual_seed(0))
    assert torch.allclose(terms["elbo"], -(terms["reconstruction"] + terms["kl"])) and bool((terms["kl"] >= 0).all())
    with torch.no_grad():
        losses = model.loss(x, generator=torch.Generator().manual_seed(0))
    assert set(losses) == {"loss", "reconstruction", "kl", "elbo"}
    # Free nats: each dimension's batch-mean KL costs at least free_nats, so the loss is not below the negative ELBO.
    assert float(losses["loss"]) >= float(-losses["elbo"]) - 1e-4
    with torch.no_grad():
        plain = seeded_init(PixelVAE, 0, **TINY, aux_weight=0.0).loss(x, generator=torch.Generator().manual_seed(0))
    assert float(plain["loss"]) == pytest.approx(float(-plain["elbo"]), rel=1e-5)


def test_a_few_adam_steps_lower_the_loss(data):
    x = data.images("train", "binary")[:32]
    model = seeded_init(PixelVAE, 0, **TINY)
    (optimizer,) = model.configure_optimizers(lr=3e-3)
    first = float(model.loss(x, generator=torch.Generator().manual_seed(0))["elbo"].detach())
    for _ in range(10):
        model.train_step(x, None, [optimizer])
    assert float(model.loss(x, generator=torch.Generator().manual_seed(0))["elbo"].detach()) > first + 20  # nats per image


@torch.no_grad()
def test_the_bundled_model_uses_its_latent(data):
    """After training on real digits the KL is well above zero (no posterior collapse),
    and decoding the same z twice gives closer digits than two different z."""
    model = checkpoints.load("pixelvae").eval()
    x = data.images("test", "binary")[:200]
    terms = model.elbo_terms(x, torch.Generator().manual_seed(0))
    assert float(terms["kl"].mean()) > 2.0
    z = model.prior(8, torch.Generator().manual_seed(0))
    a, b = model.decode(z, torch.Generator().manual_seed(1)), model.decode(z, torch.Generator().manual_seed(2))
    c = model.decode(model.prior(8, torch.Generator().manual_seed(3)), torch.Generator().manual_seed(4))
    same = float((a != b).float().mean())
    other = float((a != c).float().mean())
    assert same < other, (same, other)


@torch.no_grad()
def test_sampling_given_z_and_from_the_prior():
    model = seeded_init(PixelVAE, 0, **TINY).eval()
    a = model.sample(3, generator=torch.Generator().manual_seed(3))
    assert a.shape == (3, 1, 28, 28) and set(a.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a, model.sample(3, generator=torch.Generator().manual_seed(3)))
    steps = list(model.sample_iter(2, generator=torch.Generator().manual_seed(0)))
    assert len(steps) == 28 and all(s is None for s in steps[:-1]) and steps[-1].shape == (2, 1, 28, 28)
    with pytest.raises(ValueError):
        model.sample(2, y=torch.zeros(2, dtype=torch.int64))  # no labels


@torch.no_grad()
def test_the_importance_weighted_bound(data):
    model = seeded_init(PixelVAE, 0, **TINY).eval()
    x = data.images("test", "binary")[:4]
    torch.manual_seed(0)
    bound = model.log_prob(x)
    assert bound.shape == (4,) and bool(torch.isfinite(bound).all()) and bool((bound < 0).all())
    assert model.nll_details() == {"iwae_k": 4}
    with pytest.raises(ValueError):
        model.log_prob(x, n_importance=0)
    with pytest.raises(ValueError):
        model.log_prob(torch.zeros(2, 1, 14, 14))


@torch.no_grad()
def test_save_and_load_round_trip(tmp_path):
    model = seeded_init(PixelVAE, 2, **TINY).eval()
    model.save_pretrained(tmp_path / "ck")
    loaded = PixelVAE.from_pretrained(tmp_path / "ck").eval()
    assert loaded.config == model.config
    x = (torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    z = torch.randn(2, 4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(loaded.decoder_logits(x, loaded.condition(z)), model.decoder_logits(x, model.condition(z)))
    assert all(torch.equal(a, b) for a, b in zip(loaded.encode(x), model.encode(x)))


@pytest.mark.parametrize(
    "kwargs", [dict(latent_dim=0), dict(hidden=2), dict(channels=200), dict(n_layers=0), dict(kernel_size=4), dict(free_nats=-1.0), dict(n_importance=0)],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        PixelVAE(**kwargs)

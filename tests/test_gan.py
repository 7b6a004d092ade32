"""DCGAN and conditional GAN specifics: losses by hand, the gradient penalty, each
player improving its own objective, label conditioning and bad settings."""

from __future__ import annotations

import math
import threading

import pytest
import torch
import torch.nn.functional as F

from models import GAN, ConditionalGAN
from models.base import seeded_init
from models.gan import (
    LOSSES,
    MinibatchStd,
    d_output,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    label_blends,
)
from playground.core.training import TrainConfig, train

LOGITS_REAL = torch.tensor([2.0, -1.0, 0.5])
LOGITS_FAKE = torch.tensor([-3.0, 0.0, 1.5])


def _sig(t):
    return 1 / (1 + torch.exp(-t))


def test_classic_discriminator_loss_is_minus_v_by_hand():
    d_real, d_fake = _sig(LOGITS_REAL), _sig(LOGITS_FAKE)
    minus_v = -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
    for kind in ("minimax", "non_saturating"):
        assert discriminator_loss(kind, LOGITS_REAL, LOGITS_FAKE) == pytest.approx(float(minus_v), rel=1e-6)
    assert discriminator_loss("wgan_gp", LOGITS_REAL, LOGITS_FAKE) == pytest.approx(float(LOGITS_FAKE.mean() - LOGITS_REAL.mean()))


def test_generator_losses_by_hand():
    d_fake = _sig(LOGITS_FAKE)
    assert generator_loss("minimax", LOGITS_FAKE) == pytest.approx(float(torch.log(1 - d_fake).mean()), rel=1e-6)
    assert generator_loss("non_saturating", LOGITS_FAKE) == pytest.approx(float(-torch.log(d_fake).mean()), rel=1e-6)
    assert generator_loss("wgan_gp", LOGITS_FAKE) == pytest.approx(float(-LOGITS_FAKE.mean()))
    assert torch.allclose(d_output("minimax", LOGITS_FAKE), d_fake)
    with pytest.raises(ValueError, match="loss must be one of"):
        generator_loss("hinge", LOGITS_FAKE)


def test_the_saturating_loss_gives_no_gradient_when_d_rejects_the_fakes():
    """Goodfellow et al.'s argument: with D(G(z)) ~ 0, log(1 - D) is flat."""
    logit = torch.tensor([-8.0], requires_grad=True)
    (g_minimax,) = torch.autograd.grad(generator_loss("minimax", logit), logit)
    (g_ns,) = torch.autograd.grad(generator_loss("non_saturating", logit), logit)
    assert abs(float(g_minimax)) < 1e-3
    assert abs(float(g_ns)) > 0.99


def test_gradient_penalty_equals_hand_computed_values():
    real = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    fake = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    eps = torch.tensor([0.25, 0.5])
    # linear critic f(x) = w.x: the gradient is w everywhere, so GP = (|w| - 1)^2 = (5 - 1)^2
    w = torch.tensor([3.0, 4.0])
    assert float(gradient_penalty(lambda x: x @ w, real, fake, eps)) == pytest.approx(16.0)
    # quadratic critic f(x) = |x|^2 / 2: the gradient at x_hat is x_hat itself
    x_hat = torch.tensor([[0.25 * 1 + 0.75 * 3, 0.25 * 2 + 0], [0.5 * 0 + 0.5 * 1, 0.5 * -1 + 0.5 * 1]])
    expected = float(((x_hat.norm(dim=1) - 1) ** 2).mean())
    gp = gradient_penalty(lambda x: 0.5 * (x**2).sum(1), real, fake, eps)
    assert float(gp.detach()) == pytest.approx(expected, rel=1e-6)
    # and it is differentiable with respect to the critic's parameters
    wp = torch.tensor([3.0, 4.0], requires_grad=True)
    (grad,) = torch.autograd.grad(gradient_penalty(lambda x: x @ wp, real, fake, eps), wp)
    assert torch.allclose(grad, 2 * (5 - 1) * wp.detach() / 5)


@pytest.mark.parametrize("cls", [GAN, ConditionalGAN])
@pytest.mark.parametrize("spectral_norm", [False, True])
@pytest.mark.parametrize("minibatch_std", [False, True])
def test_shapes_and_ranges_of_g_and_d(cls, spectral_norm, minibatch_std):
    model = seeded_init(cls, 0, latent_dim=6, width=8, spectral_norm=spectral_norm, minibatch_std=minibatch_std, d_dropout=0.2).eval()
    z = model.latents(5, torch.Generator().manual_seed(0))
    y = torch.arange(5) if model.conditional else None
    x = model.generate(z, y)
    assert z.shape == (5, 6) and x.shape == (5, 1, 28, 28) and x.dtype == torch.float32
    assert 0 <= float(x.detach().min()) and float(x.detach().max()) <= 1
    logits = model.discriminate(x, y)
    assert logits.shape == (5,) and torch.isfinite(logits).all()
    with pytest.raises(ValueError, match="z must have shape"):
        model.generate(torch.zeros(5, 7), y)


@pytest.mark.parametrize("loss", LOSSES)
def test_each_loss_variant_runs_a_step_that_moves_both_networks(loss, data):
    model = seeded_init(GAN, 0, latent_dim=8, width=8, loss=loss, d_steps=2)
    x = data.images("train", "grey")[:16]
    opts = model.configure_optimizers(1e-3)
    g_before = [p.detach().clone() for p in model.generator.parameters()]
    d_before = [p.detach().clone() for p in model.d_head.parameters()]
    terms = model.train_step(x, None, opts, torch.Generator().manual_seed(0))
    assert {"loss", "d_loss", "g_loss", "d_real", "d_fake"} <= set(terms)
    assert ("gp" in terms) == (loss == "wgan_gp")
    assert all(math.isfinite(float(v)) for v in terms.values())
    assert any(not torch.equal(a, b) for a, b in zip(g_before, model.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d_before, model.d_head.parameters()))
    if loss != "wgan_gp":
        assert 0 <= float(terms["d_real"]) <= 1 and 0 <= float(terms["d_fake"]) <= 1


def test_each_player_improves_its_own_objective(data):
    """With the other player's learning rate ~0, D lowers its loss and G lowers its own."""
    x = data.images("train", "grey")[:32]
    g = torch.Generator().manual_seed(0)

    def losses(model):
        model.eval()
        with torch.no_grad():
            t = model.loss(x, None, torch.Generator().manual_seed(1))
        model.train()
        return float(t["d_loss"]), float(t["g_loss"])

    # only D learns (G's rate 1e-12): D's loss falls; only G learns: G's loss falls
    for lr_g, lr_d, which in ((1e-12, 2e-3, 0), (2e-3, 1e-12, 1)):
        model = seeded_init(GAN, 0, latent_dim=8, width=8)
        before = losses(model)
        opts = model.configure_optimizers(lr=lr_g, lr_d=lr_d)
        for _ in range(10):
            model.train_step(x, None, opts, g)
        assert losses(model)[which] < before[which], (lr_g, lr_d)


def test_the_label_changes_the_image_and_mixed_labels_agree_with_one_hot():
    model = seeded_init(ConditionalGAN, 0, latent_dim=8, width=8).eval()
    z = model.latents(10, torch.Generator().manual_seed(0))
    a = model.generate(z, torch.full((10,), 3))
    b = model.generate(z, torch.full((10,), 8))
    assert (a - b).abs().mean() > 1e-3
    same = model.generate_mixed(z, F.one_hot(torch.full((10,), 3), 10).float())
    assert torch.allclose(a, same, atol=1e-6)
    with pytest.raises(ValueError, match="class-conditional"):
        model.generate(z)
    with pytest.raises(ValueError, match="digits in"):
        model.generate(z, torch.full((10,), 10))
    with pytest.raises(ValueError, match="not class-conditional"):
        seeded_init(GAN, 0, latent_dim=8, width=8).generate(z, torch.zeros(10, dtype=torch.int64))


def test_label_blends_walk_from_one_digit_to_the_next_leg_by_leg():
    t = torch.linspace(0, 1, 5)
    weights = label_blends(torch.tensor([3, 8, 1]), t)
    assert weights.shape == (10, 10) and weights.dtype == torch.float32
    assert torch.allclose(weights.sum(1), torch.ones(10)) and bool((weights >= 0).all())
    assert weights[0, 3] == 1 and weights[4, 8] == 1 and weights[5, 8] == 1 and weights[9, 1] == 1
    assert weights[2, 3] == weights[2, 8] == 0.5


@pytest.mark.parametrize(
    "config,match",
    [
        (dict(loss="hinge"), "loss must be one of"),
        (dict(d_steps=0), r"d_steps must be in \[1, 10\]"),
        (dict(d_steps=10**6), "d_steps"),
        (dict(latent_dim=1), "latent_dim"),
        (dict(width=10**5), "width"),
        (dict(gp_weight=float("nan")), "gp_weight"),
        (dict(gp_weight=-1.0), "gp_weight"),
        (dict(spectral_norm="yes"), "spectral_norm must be true or false"),
        (dict(minibatch_std=1), "minibatch_std must be true or false"),
        (dict(d_dropout=float("nan")), "d_dropout"),
        (dict(d_dropout=1.0), "d_dropout"),
        (dict(g_blocks=5), r"g_blocks must be in \[0, 4\]"),
        (dict(g_blocks=1.5), "g_blocks"),
    ],
)
def test_bad_settings_are_refused_with_their_names(config, match):
    with pytest.raises(ValueError, match=match):
        GAN(**config)


def test_a_run_that_turns_nan_restores_the_last_finite_weights(data):
    """A diverging duel (NaN in D) ends the run and keeps the last finite weights."""
    model = seeded_init(GAN, 0, latent_dim=8, width=8)
    real_step = model.train_step
    calls = {"n": 0}

    def poisoned_step(x, y, optimizers, generator=None):
        calls["n"] += 1
        out = real_step(x, y, optimizers, generator)
        if calls["n"] == 25:
            with torch.no_grad():
                model.d_head.weight.fill_(float("nan"))
        return out

    model.train_step = poisoned_step
    events = list(train(model, data, TrainConfig(steps=60, batch_size=16, lr=2e-4, log_every=10, sample_every=0, eval_every=0, n_eval=32), stop=threading.Event()))
    final = events[-1]
    assert final.status == "diverged" and "weight" in final.message and final.step == 30
    assert all(torch.isfinite(v).all() for v in model.state_dict().values() if v.is_floating_point())


def test_minibatch_std_appends_the_batch_spread_as_a_channel():
    h = torch.tensor([[1.0, 2.0], [3.0, 6.0]]).view(2, 2, 1, 1)  # two examples, two channels
    out = MinibatchStd()(h)
    assert out.shape == (2, 3, 1, 1) and torch.equal(out[:, :2], h)
    # per-feature std over the batch (biased): |1 - 3| / 2 = 1 and |2 - 6| / 2 = 2; their mean 1.5
    assert torch.allclose(out[:, 2].flatten(), torch.tensor([1.5, 1.5]))
    assert float(MinibatchStd()(h[:1])[0, 2]) == 0.0  # one example: no spread
    # identical samples (a collapsed G) get 0: D can tell such a batch from real digits
    assert float(MinibatchStd()(h[:1].repeat(4, 1, 1, 1))[:, 2].abs().max()) == 0.0


def test_d_sees_the_spread_of_its_batch_only_with_minibatch_std():
    """With the feature, D's score of an image depends on the rest of its batch."""
    x = torch.rand(4, 1, 28, 28)
    for on in (False, True):
        model = seeded_init(GAN, 0, latent_dim=4, width=8, minibatch_std=on, spectral_norm=True).eval()
        alone = model.discriminate(x[:2])
        with_others = model.discriminate(torch.cat([x[:2], torch.zeros(2, 1, 28, 28)]))[:2]
        assert torch.allclose(alone, with_others, atol=1e-6) != on

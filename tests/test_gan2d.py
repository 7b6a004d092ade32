"""The toy GAN of the 2D lab (models.gan2d): every loss and mode steps, D and G update
separately, G's gradient, divergence and argument checks."""

from __future__ import annotations

import math

import pytest
import torch

from models.gan import LOSSES
from models.gan2d import DivergedError, ToyGAN
from playground.core import toy2d

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks (see conftest.single_thread)


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


# --- the toy GAN ------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("mode", ["d", "g", "both"])
def test_every_loss_and_mode_takes_a_finite_step(loss, mode):
    model = ToyGAN(loss=loss, hidden=16)
    out = model.step(toy2d.make_dataset("ring", 64), mode, d_steps=2, generator=torch.Generator().manual_seed(0))
    expected = {"d": {"d_loss", "d_real", "d_fake"}, "g": {"g_loss"}, "both": {"d_loss", "d_real", "d_fake", "g_loss"}}[mode]
    if loss == "wgan_gp" and mode != "g":
        expected = expected | {"gp"}
    assert set(out) == expected and all(math.isfinite(v) for v in out.values())


def test_d_step_changes_only_d_and_g_step_only_g():
    model = ToyGAN(hidden=16)
    real = toy2d.make_dataset("ring", 64)
    d0, g0 = _params(model.discriminator), _params(model.generator)
    model.step(real, "d")
    d1, g1 = _params(model.discriminator), _params(model.generator)
    assert _same(g0, g1) and not _same(d0, d1)
    model.step(real, "g")
    d2, g2 = _params(model.discriminator), _params(model.generator)
    assert _same(d1, d2) and not _same(g1, g2)


def test_generator_gradient_points_up_the_surface_and_vanishes_when_saturated():
    model = ToyGAN(hidden=4, depth=1, loss="minimax")
    with torch.no_grad():
        for p in model.discriminator.parameters():
            p.zero_()
        first, last = model.discriminator[0], model.discriminator[-1]
        first.weight[0, 0], first.bias[0], last.weight[0, 0] = 1.0, 5.0, 1.0
        last.bias.fill_(-40.0)  # logit = x1 - 35 on [-2, 2]^2: D(x) ~ 1e-15, saturated
    points = torch.rand(20, 2) * 4 - 2
    assert float(model.generator_gradient(points).norm(dim=1).max()) < 1e-12  # minimax: D(x) dlogit/dx
    model.loss_kind = "non_saturating"
    grad = model.generator_gradient(points)  # -log D: (1 - D(x)) dlogit/dx = (1, 0)
    assert torch.allclose(grad, torch.tensor([1.0, 0.0]).expand(20, 2), atol=1e-6)


def test_a_divergent_step_restores_the_last_finite_weights():
    model = ToyGAN(hidden=16)
    real = toy2d.make_dataset("ring", 64)
    model.step(real, "both")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    adam_before = model.opt_d.state_dict()["state"][0]["exp_avg"].clone()
    for group in model.opt_d.param_groups:
        group["lr"] = 1e38  # D's weights jump to about 1e38: finite, but its outputs overflow
    with pytest.raises(DivergedError, match="D diverged.*last finite weights are kept"):
        model.step(real, "both")
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert torch.equal(model.opt_d.state_dict()["state"][0]["exp_avg"], adam_before)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"noise_dim": 0}, "noise dimension"), ({"hidden": 10_000}, "hidden width"), ({"loss": "hinge"}, "loss"),
        ({"lr_d": float("nan")}, "learning rate of D"), ({"lr_g": -1.0}, "learning rate of G"),
        ({"lr_d": 1e9}, "learning rate of D"),
    ],
)
def test_bad_model_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ToyGAN(**kwargs)


def test_bad_step_arguments_are_refused():
    model = ToyGAN(hidden=16)
    real = toy2d.make_dataset("ring", 8)
    for args, match in (((real, "x"), "mode"), ((real, "both", 0), "k"), ((real[:, :1],), "shape"), ((real * float("nan"),), "finite")):
        with pytest.raises(ValueError, match=match):
            model.step(*args)

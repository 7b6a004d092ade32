"""CycleGAN (models/cyclegan.py): the domains and their trait, shapes and ranges, argument
checks, the save/load round trip, and the defining property: over a short training on
unpaired digits the cycle loss falls and G moves the trait towards B, F back towards A."""

from __future__ import annotations

import pytest
import torch

from models import FAMILIES
from models.base import seeded_init
from models.cyclegan import CycleGAN, dilate, erode, shear, to_domain_b, trait

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = dict(width=8, n_blocks=1)
OPEN = dict(TINY, input_skip=False)  # generators that start far from the identity: the cycle starts open


def test_registered_and_domains_have_their_trait(data):
    assert FAMILIES["cyclegan"] is CycleGAN
    x = data.test_grey[:100]
    assert trait("thickness", dilate(x)).mean() > trait("thickness", x).mean() + 1.0 > trait("thickness", erode(x)).mean() + 1.0
    assert trait("slant", shear(x)).mean() > trait("slant", x).mean() + 0.2
    assert torch.equal(to_domain_b("thickness", x), dilate(x))


def test_shapes_ranges_and_checks(data):
    model = seeded_init(CycleGAN, 0, **TINY).eval()
    x = data.test_grey[:6]
    for direction in ("a2b", "b2a"):
        out = model.translate(x, direction)
        assert out.shape == x.shape and 0 <= float(out.min()) and float(out.max()) <= 1
    losses = model.loss(x)
    assert {"loss", "g_loss", "adversarial", "cycle", "identity", "d_loss"} <= set(losses)
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    samples = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (5, 1, 28, 28) and model.sample(70).shape == (70, 1, 28, 28)
    figures = model.test_figures(x)
    assert figures["identity_gap"] > 0 and all(v == v for v in figures.values())
    with pytest.raises(ValueError, match="domain"):
        CycleGAN(domain="colour")
    with pytest.raises(ValueError, match="cycle_weight"):
        CycleGAN(cycle_weight=-1)
    with pytest.raises(ValueError, match="direction"):
        model.translate(x, "sideways")
    with pytest.raises(ValueError, match="images"):
        model.loss(x[:1])
    with pytest.raises(ValueError, match="not class-conditional"):
        model.sample(2, y=torch.zeros(2, dtype=torch.int64))


def test_save_load_round_trip(tmp_path, data):
    model = seeded_init(CycleGAN, 1, domain="slant", **TINY)
    model.examples.copy_(data.test_grey[:64])
    model.save_pretrained(tmp_path)
    loaded = CycleGAN.from_pretrained(tmp_path)
    assert loaded.config == model.config and torch.equal(loaded.examples, model.examples)
    x = data.test_grey[:4]
    assert torch.equal(loaded.eval().translate(x), model.eval().translate(x))


def test_cycle_loss_falls_and_the_trait_moves(data):
    """The defining property: unpaired training lowers the cycle loss (from an open cycle), G thickens, F thins."""
    model = seeded_init(CycleGAN, 0, **OPEN)
    optimizers = model.configure_optimizers(1e-3)
    g = torch.Generator().manual_seed(0)
    x_train, x_test = data.train_grey, data.test_grey[:200]
    cycles = []
    for _ in range(150):
        losses = model.train_step(x_train[torch.randint(len(x_train), (32,), generator=g)], None, optimizers, g)
        cycles.append(float(losses["cycle"]))
    assert sum(cycles[-20:]) / 20 < 0.6 * sum(cycles[:10]) / 10
    figures = model.eval().test_figures(x_test)
    assert figures["trait_g_a"] > figures["trait_a"] + 0.3, figures
    assert figures["trait_f_b"] < figures["trait_b"] - 0.3, figures
    assert figures["cycle_error_a"] < 0.1 and figures["cycle_error_b"] < 0.1, figures

"""Multiscale PixelCNN (Reed et al. 2017): pixels of one group are conditionally
independent (gradient test), the exact log-likelihood is a proper sum over the groups (and
a distribution: it sums to 1 over every image of a tiny scale), sampling in 7 stages,
save/load, and training lowers the loss on real digits."""

from __future__ import annotations

import itertools

import pytest
import torch

from models import FAMILIES
from models.base import seeded_init
from models.multiscale import GROUPS, OFFSETS, MultiscalePixelCNN, group_masks

TINY = dict(channels=6, n_layers=2, base_channels=6, base_layers=1)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def model():
    return seeded_init(MultiscalePixelCNN, 0, **TINY).eval()


def test_groups_partition_the_784_pixels():
    total = torch.zeros(28, 28)
    total[::4, ::4] += 1  # the 7 x 7 start
    for side in (14, 28):
        step = 28 // side
        for g in range(len(OFFSETS)):
            total[::step, ::step] += group_masks(side, g + 1) - group_masks(side, g)
    assert torch.equal(total, torch.ones(28, 28))
    assert len(GROUPS) == 6


@pytest.mark.parametrize("g", range(len(GROUPS)))
def test_pixels_within_a_group_are_conditionally_independent(model, g):
    """The logit of every pixel of group g has zero gradient w.r.t. every other pixel of group g (and the later
    groups), and a non-zero one w.r.t. the pixels known before it."""
    side, _ = GROUPS[g]
    known, target = model.masks(g)
    x = (torch.rand(3, 1, side, side, generator=torch.Generator().manual_seed(g)) < 0.4).float().requires_grad_(True)
    logits = model.group_logits(x, g)
    for r, c in [(int(i) // side, int(i) % side) for i in torch.nonzero(target.flatten()).flatten()[:: max(1, int(target.sum()) // 6)]]:
        (grad,) = torch.autograd.grad(logits[:, 0, r, c].sum(), x, retain_graph=True)
        seen = grad.abs().sum((0, 1))
        assert float((seen * (1 - known)).sum()) == 0.0, f"group {g} pixel ({r}, {c}) sees a pixel of its own or a later group"
        assert float((seen * known).sum()) > 0


def test_log_prob_is_the_sum_of_the_7x7_start_and_the_six_groups(model, data):
    x = data.images("test", "binary")[:4]
    with torch.no_grad():
        terms = model.log_prob_terms(x)
        assert list(terms)[0] == "base" and len(terms) == 7
        assert torch.allclose(model.log_prob(x), sum(terms.values()), atol=1e-4)
        assert torch.allclose(terms["base"], model.base.log_prob(x[:, :, ::4, ::4]))
        assert all((t <= 0).all() for t in terms.values())


def test_each_group_is_a_distribution_over_its_pixels(model):
    """For a 14 x 14 group, the probabilities of its 49 pixels given what is known are independent Bernoullis:
    the exact sum over all 2^k settings of k of them (the rest fixed) is the product of (p + 1 - p) = 1."""
    g = 0
    side, _ = GROUPS[g]
    _, target = model.masks(g)
    base = (torch.rand(1, 1, side, side, generator=torch.Generator().manual_seed(5)) < 0.5).float()
    free = torch.nonzero(target.flatten()).flatten()[:8]
    images = base.repeat(2 ** len(free), 1, 1, 1).view(-1, side * side)
    for row, bits in enumerate(itertools.product((0.0, 1.0), repeat=len(free))):
        images[row, free] = torch.tensor(bits)
    images = images.view(-1, 1, side, side)
    with torch.no_grad():
        logits = model.group_logits(images, g)
        per_pixel = -torch.nn.functional.binary_cross_entropy_with_logits(logits, images, reduction="none").flatten(1)
        log_p = per_pixel[:, free].sum(1)
    assert abs(float(torch.logsumexp(log_p.double(), 0))) < 1e-5


def test_samples_binary_seeded_in_seven_stages(model):
    stages = list(model.stages(3, torch.Generator().manual_seed(1)))
    assert [s.shape[-1] for _, s in stages] == [7, 14, 14, 14, 28, 28, 28]
    a = model.sample(3, generator=torch.Generator().manual_seed(1))
    assert a.shape == (3, 1, 28, 28) and a.dtype == torch.float32
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a, stages[-1][1])
    assert torch.equal(a[:, :, ::4, ::4], stages[0][1])  # the start is kept as the coarse pixels
    assert torch.equal(a, model.sample(3, generator=torch.Generator().manual_seed(1)))
    steps = list(model.sample_iter(3, generator=torch.Generator().manual_seed(1)))
    assert len(steps) == 7 and torch.equal(steps[-1], a)


def test_save_load_round_trip(model, tmp_path, data):
    assert FAMILIES["multiscale_pixelcnn"] is MultiscalePixelCNN and MultiscalePixelCNN.data_kind == "binary"
    model.save_pretrained(tmp_path / "ck")
    loaded = MultiscalePixelCNN.from_pretrained(tmp_path / "ck").eval()
    x = data.images("test", "binary")[:4]
    with torch.no_grad():
        assert torch.equal(model.log_prob(x), loaded.log_prob(x))


def test_training_lowers_the_loss_on_real_digits(data):
    model = seeded_init(MultiscalePixelCNN, 0, **TINY)
    x = data.images("train", "binary")[:32]
    (opt,) = model.configure_optimizers(lr=3e-3)
    before = float(model.loss(x)["nll"].detach())
    for _ in range(20):
        model.train_step(x, None, [opt])
    after = float(model.loss(x)["nll"].detach())
    assert after < before - 30, (before, after)


@pytest.mark.parametrize("bad", [dict(channels=2), dict(n_layers=9), dict(base_channels=0), dict(base_layers=1.5)])
def test_bad_settings_are_readable_errors(bad):
    with pytest.raises(ValueError, match="must"):
        MultiscalePixelCNN(**bad)


def test_refuses_labels_and_grey_shapes(model):
    with pytest.raises(ValueError, match="not class-conditional"):
        model.sample(2, y=torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(torch.zeros(2, 1, 14, 14))

"""The autoregressive families: the causal property by gradients, normalisation by
enumeration on a tiny image, the blind spot, MADE's masks and sampling/completion."""

from __future__ import annotations

import itertools

import pytest
import torch

from models import MADE, NADE, GatedPixelCNN, PixelCNN, PixelRNN
from models.base import seeded_init
from models.layers import conv_mask

SMALL = {
    "nade": (NADE, dict(n_hidden=12)),
    "made": (MADE, dict(hidden_sizes=[40, 40])),
    "made-masks": (MADE, dict(hidden_sizes=[40], n_masks=3)),
    "pixelcnn": (PixelCNN, dict(channels=16, n_layers=2)),
    "gated_pixelcnn": (GatedPixelCNN, dict(channels=16, n_layers=3)),
    "gated_pixelcnn-cond": (GatedPixelCNN, dict(channels=16, n_layers=2, n_classes=10)),
    "pixelrnn": (PixelRNN, dict(channels=8, n_layers=2)),
}


def _model(name: str, size: int):
    cls, config = SMALL[name]
    return seeded_init(cls, 0, image_size=size, **config).eval()


def _labels(model, n: int):
    return torch.arange(n) % 10 if model.conditional else None


def _input_gradient(model, x: torch.Tensor, pixel: int) -> torch.Tensor:
    """sum_b |d logit_pixel(x_b) / d x_b|, (S * S,), over the images x (B, 1, S, S): a
    pixel that influences the logit for any of them (ReLUs can be off for one) counts."""
    x = x.clone().requires_grad_(True)
    model.logits(x, _labels(model, len(x))).view(len(x), -1)[:, pixel].sum().backward()
    return x.grad.abs().sum(0).view(-1)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_no_output_pixel_sees_itself_or_its_future(name):
    size = 5
    model = _model(name, size)
    masks = range(model.n_masks) if isinstance(model, MADE) else [0]
    x = (torch.rand(8, 1, size, size, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    for m in masks:
        if isinstance(model, MADE):
            model.use_mask(m)
        order = model.ordering().tolist()
        position = {pixel: t for t, pixel in enumerate(order)}
        for t in (0, 1, size + 1, 12, size * size - 1):
            pixel = order[t]
            grad = _input_gradient(model, x, pixel)
            future = [j for j in range(size * size) if position[j] >= t]
            assert torch.all(grad[future] == 0), (name, m, pixel)
            if t > 0 and not isinstance(model, MADE):  # it sees the pixel just before it
                assert grad[order[t - 1]] != 0, (name, m, pixel)
            if t > 1:  # (MADE's random degrees may cut a given connection, not all of them)
                assert grad[order[:t]].sum() > 0, (name, m, pixel)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_probabilities_of_all_3x3_images_sum_to_one(name):
    model = _model(name, 3)
    with torch.no_grad():
        for p in model.parameters():  # random, non-trivial conditionals
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.5)
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=9))).view(-1, 1, 3, 3)
    y = torch.full((len(images),), 3) if model.conditional else None
    with torch.no_grad():
        total = torch.logsumexp(model.log_prob(images, y).double(), 0).exp()
    assert float(total) == pytest.approx(1.0, abs=1e-4)


def test_pixelcnn_has_a_blind_spot_that_the_gated_pixelcnn_does_not():
    size, r, c = 10, 6, 4
    pixel = r * size + c
    blind = (r - 1) * size + c + 4  # one row up, four columns right: in the past
    x = (torch.rand(8, 1, size, size, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    plain = seeded_init(PixelCNN, 0, channels=6, n_layers=3, image_size=size).eval()
    gated = seeded_init(GatedPixelCNN, 0, channels=6, n_layers=3, image_size=size).eval()
    assert _input_gradient(plain, x, pixel)[blind] == 0
    assert _input_gradient(gated, x, pixel)[blind] != 0
    # The gated model sees every earlier pixel within its reach: the rows above from
    # column c - 5 to c + 5 and the row's pixels to the left.
    grad = _input_gradient(gated, x, pixel).view(size, size)
    assert bool((grad[r - 2 : r, c - 3 : c + 6] != 0).all()) and bool((grad[r, :c] != 0).all())


def test_conv_masks_open_the_past_and_type_b_the_centre():
    a, b = conv_mask(3, "A", 1, 1)[0, 0], conv_mask(3, "B", 1, 1)[0, 0]
    assert a.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert b.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    with pytest.raises(ValueError, match="odd"):
        conv_mask(4, "A", 1, 1)


def test_made_masks_follow_the_degrees_and_average_over_orderings(data):
    model = seeded_init(MADE, 0, hidden_sizes=[30], n_masks=3, image_size=4)
    first, second = model.connectivity(0), model.connectivity(1)
    assert [tuple(m.shape) for m in first] == [(30, 16), (16, 30)]
    assert not all(torch.equal(a, b) for a, b in zip(first, second))
    assert model.ordering().tolist() == list(range(16))
    model.use_mask(2)
    assert sorted(model.ordering().tolist()) == list(range(16)) and model.ordering().tolist() != list(range(16))
    model.use_mask(0)
    # The ensemble's log p is log mean_m p_m.
    x = (torch.rand(5, 1, 4, 4, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    per_mask = []
    for m in range(3):
        model.use_mask(m)
        per_mask.append(-torch.nn.functional.binary_cross_entropy_with_logits(model.logits(x), x, reduction="none").flatten(1).sum(1))
    expected = torch.logsumexp(torch.stack(per_mask), 0) - torch.log(torch.tensor(3.0))
    assert torch.allclose(model.log_prob(x), expected, atol=1e-5)
    with pytest.raises(ValueError, match="mask"):
        model.use_mask(3)


def test_made_order_agnostic_training_cycles_through_the_masks(data):
    model = seeded_init(MADE, 0, hidden_sizes=[32], n_masks=3)
    optimizers = model.configure_optimizers(1e-3)
    x = data.images("train", "binary")[:8]
    seen = []
    original = model.use_mask

    def spy(m):
        seen.append(m)
        original(m)

    model.use_mask = spy
    for _ in range(4):
        model.train_step(x, None, optimizers)
    assert seen[::2] == [0, 1, 2, 0] and model.active_mask == 0


@pytest.mark.parametrize("name", sorted(SMALL))
def test_completion_keeps_the_known_pixels_and_draws_the_rest(name):
    model = _model(name, 4)
    x = torch.ones(3, 1, 4, 4)
    g = torch.Generator().manual_seed(0)
    out, frames = model.complete(x, 6, _labels(model, 3), g, every=5)
    order = model.ordering()
    assert torch.equal(out.view(3, -1)[:, order[:6]], torch.ones(3, 6))
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    assert [f[0] for f in frames] == [5, 10]
    step, images, probs = frames[-1]
    assert images.shape == probs.shape == (3, 1, 4, 4) and 0 <= float(probs.min()) and float(probs.max()) <= 1


def test_training_lowers_the_nll_on_real_digits(data):
    x = data.images("train", "binary")[:64]
    for cls, config in ((NADE, dict(n_hidden=32)), (PixelCNN, dict(channels=8, n_layers=2)), (GatedPixelCNN, dict(channels=8, n_layers=2))):
        model = seeded_init(cls, 0, **config)
        (opt,) = model.configure_optimizers(3e-3)
        before = float(model.loss(x)["nll"].detach())
        for _ in range(20):
            model.train_step(x, None, [opt])
        assert float(model.loss(x)["nll"].detach()) < before - 20, cls.family


@pytest.mark.parametrize(
    "cls,bad",
    [
        (NADE, dict(n_hidden=0)), (MADE, dict(hidden_sizes=[])), (MADE, dict(n_masks=0)), (PixelCNN, dict(channels=0)),
        (PixelCNN, dict(image_size=1)), (GatedPixelCNN, dict(n_classes=5)), (GatedPixelCNN, dict(n_layers=100)),
    ],
)
def test_bad_settings_are_refused(cls, bad):
    with pytest.raises(ValueError):
        cls(**bad)


def test_log_prob_refuses_images_of_the_wrong_size():
    model = seeded_init(PixelCNN, 0, channels=4, n_layers=1)
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(torch.zeros(2, 1, 27, 28))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.log_prob(torch.full((2, 1, 28, 28), 2.0))


@pytest.mark.parametrize("cls", [PixelCNN, GatedPixelCNN])
def test_the_row_crop_used_for_sampling_gives_the_full_images_logits(cls):
    size = 12
    model = seeded_init(cls, 0, channels=8, n_layers=3, image_size=size).eval()
    x = (torch.rand(2, 1, size, size, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    with torch.no_grad():
        full = model.logits(x)
        for r in (0, 2, model.context_rows, size - 1):
            top = max(0, r - model.context_rows)
            crop = model.logits(x[:, :, top : r + 1])
            assert torch.allclose(crop[:, :, r - top], full[:, :, r], atol=1e-5), r
            if top > 0:  # one row fewer is not enough: the context is tight
                short = model.logits(x[:, :, top + 1 : r + 1])
                assert not torch.allclose(short[:, :, r - top - 1], full[:, :, r], atol=1e-5), r


def test_nade_incremental_conditionals_equal_full_passes():
    model = _model("nade", 5)
    x = (torch.rand(3, 1, 5, 5, generator=torch.Generator().manual_seed(2)) < 0.5).float()
    fast = model.conditional_fn(x, None)
    full = torch.sigmoid(model.logits(x)).view(3, -1)
    with torch.no_grad():
        for i in (0, 1, 2, 7, 24, 3):  # the last one goes back: the cache restarts
            assert torch.allclose(fast(i), full[:, i], atol=1e-6), i


@pytest.mark.parametrize("name,mask", [("made", 0), ("made-masks", 2)])
def test_made_incremental_conditionals_equal_full_passes_while_pixels_are_drawn(name, mask):
    model = _model(name, 5)
    model.use_mask(mask)
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(3, 1, 5, 5, generator=g) < 0.5).float()
    drawn = (torch.rand(3, 25, generator=g) < 0.5).float()
    with torch.no_grad():
        fast = model.conditional_fn(x, None)
        for i in model.ordering().tolist():  # as ``draw`` does: ask for pixel i, then fill it in
            assert torch.allclose(fast(i), torch.sigmoid(model.logits(x)).view(3, -1)[:, i], atol=1e-5), i
            x.view(3, -1)[:, i] = drawn[:, i]
    model.use_mask(0)


def test_made_dependency_is_the_product_of_its_masks():
    model = _model("made-masks", 4)
    for m in range(model.n_masks):
        order = model.orderings[m]
        dependency = model.dependency(m)
        assert dependency.dtype == torch.bool and dependency.shape == (16, 16)
        assert not torch.triu(dependency[order][:, order]).any() and dependency.any()
        model.use_mask(m)
        probes = torch.rand(8, 1, 4, 4, generator=torch.Generator().manual_seed(m))
        for pixel in (int(order[5]), int(order[15])):  # a path of kept connections is a non-zero gradient
            assert torch.equal(dependency[pixel], _input_gradient(model, probes, pixel) > 0)
    model.use_mask(0)


def test_a_conditional_model_gives_an_exact_marginal_and_label_posterior():
    model = _model("gated_pixelcnn-cond", 3)
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=9))).view(-1, 1, 3, 3)
    with torch.no_grad():
        marginal = model.log_prob(images)  # no labels: log mean_y p(x | y)
        assert abs(float(torch.logsumexp(marginal, 0))) < 1e-4
        x = images[100:104]
        per_label = torch.stack([model.log_prob(x, torch.full((4,), k)) for k in range(10)], 1)
        assert torch.allclose(model.label_posterior(x, 9), torch.softmax(per_label, 1), atol=1e-5)
        assert torch.allclose(model.label_posterior(x, 0), torch.full((4, 10), 0.1))
    with pytest.raises(ValueError, match="not class-conditional"):
        _model("pixelcnn", 3).label_posterior(x, 4)


def test_completion_without_a_label_draws_one_from_the_posterior():
    model = _model("gated_pixelcnn-cond", 4)
    out, _ = model.complete(torch.ones(5, 1, 4, 4), 8, None, torch.Generator().manual_seed(0))
    assert torch.equal(out.view(5, -1)[:, :8], torch.ones(5, 8))


@pytest.mark.parametrize("name", ["pixelcnn", "gated_pixelcnn", "made", "pixelrnn"])
def test_receptive_field_is_zero_on_the_future_and_not_on_the_previous_pixel(name):
    model = _model(name, 5)
    order = model.ordering().tolist()
    t = 12
    field = model.receptive_field(order[t]).view(-1)
    assert field.shape == (25,) and float(field.min()) >= 0
    assert torch.all(field[order[t:]] == 0)
    if name != "made":
        assert field[order[t - 1]] > 0
    with pytest.raises(ValueError, match="pixel"):
        model.receptive_field(25)


def test_the_receptive_field_shows_the_blind_spot_of_pixelcnn_only():
    # The centre of a 9 x 9 image: a 7 x 7 type-A layer sees 3 columns right in the row
    # above; type-B layers reach further right only by going up a row too, so (3, 8) is
    # in PixelCNN's blind spot while (3, 7) and (2, 8) are seen.
    pixel = 4 * 9 + 4
    fields = {}
    for cls in (PixelCNN, GatedPixelCNN):
        model = seeded_init(cls, 0, channels=8, n_layers=4, image_size=9).eval()
        fields[cls] = model.receptive_field(pixel, n_probes=8)
        assert all(p.grad is None for p in model.parameters())
    assert fields[PixelCNN][3, 8] == 0 and fields[PixelCNN][3, 7] > 0 and fields[PixelCNN][2, 8] > 0
    assert fields[GatedPixelCNN][3, 8] > 0


@pytest.mark.parametrize("config", [dict(n_layers=3), dict(n_layers=2, n_classes=10)])
def test_gated_pixelcnn_row_cached_conditionals_equal_full_passes(config):
    size = 9
    model = seeded_init(GatedPixelCNN, 0, channels=8, image_size=size, **config).eval()
    x = (torch.rand(3, 1, size, size, generator=torch.Generator().manual_seed(3)) < 0.5).float()
    y = torch.tensor([1, 5, 9]) if model.conditional else None
    with torch.no_grad():
        full = torch.sigmoid(model.logits(x, y)).view(3, -1)
        fast = model.conditional_fn(x, y)
        for i in range(size * size):
            assert torch.allclose(fast(i), full[:, i], atol=1e-5), i


def test_pixelrnn_row_cached_conditionals_equal_full_passes():
    size = 8
    model = seeded_init(PixelRNN, 0, channels=4, n_layers=2, image_size=size).eval()
    x = (torch.rand(3, 1, size, size, generator=torch.Generator().manual_seed(4)) < 0.5).float()
    with torch.no_grad():
        full = torch.sigmoid(model.logits(x)).view(3, -1)
        fast = model.conditional_fn(x, None)
        for i in [*range(size * size), 5]:  # the last one goes back: the cache restarts
            assert torch.allclose(fast(i), full[:, i], atol=1e-5), i

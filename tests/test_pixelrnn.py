"""PixelRNN (Row LSTM): the causal property by gradients, a normalised distribution by
enumeration on 3 x 3 images, sampling and completion, a few training steps, argument
checks."""

from __future__ import annotations

import itertools

import pytest
import torch

from models.base import seeded_init
from models.pixelrnn import PixelRNN


def _input_gradient(model: PixelRNN, x: torch.Tensor, i: int) -> torch.Tensor:
    """d logit_i / d x for one image x (1, 1, S, S), flattened to (S * S,)."""
    x = x.clone().requires_grad_(True)
    model.logits(x).flatten()[i].backward()
    return x.grad.flatten()


@pytest.mark.parametrize("kernel_size", [3, 5])
def test_logits_are_causal_in_raster_order(kernel_size):
    s = 5
    model = seeded_init(PixelRNN, 0, channels=8, n_layers=2, image_size=s, kernel_size=kernel_size).eval()
    x = (torch.rand(1, 1, s, s, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    for i in [0, 1, 7, 12, 13, 18, s * s - 1]:
        grad = _input_gradient(model, x, i)
        assert bool((grad[i:] == 0).all()), f"logit {i} depends on pixels {(grad[i:] != 0).nonzero().flatten() + i}"
        row, col = divmod(i, s)
        if col > 0:
            assert float(grad[i - 1].abs()) > 0, f"logit {i} ignores the pixel to its left"
        if row > 0:
            assert float(grad[i - s].abs()) > 0, f"logit {i} ignores the pixel above it"
            assert float(grad[: row * s].abs().max()) > 0


def test_row_lstm_context_is_a_triangle():
    # The Row LSTM's known blind spot (van den Oord et al. 2016, section 3.1): the start of
    # a row does not see the far end of the row above.
    s = 5
    model = seeded_init(PixelRNN, 0, channels=8, n_layers=2, image_size=s).eval()
    grad = _input_gradient(model, torch.ones(1, 1, s, s), 2 * s)  # logit of pixel (2, 0)
    assert float(grad[2 * s - 1]) == 0  # pixel (1, 4)
    assert float(grad[s].abs()) > 0  # pixel (1, 0)


@torch.no_grad()
def test_the_top_rows_alone_give_the_full_images_logits():
    # complete() feeds rows 0..r only when it draws a pixel of row r (context_rows = S - 1).
    s = 6
    model = seeded_init(PixelRNN, 0, channels=8, n_layers=2, image_size=s).eval()
    assert model.context_rows == s - 1
    x = (torch.rand(2, 1, s, s, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    full = model.logits(x)
    for r in range(s):
        assert torch.allclose(model.logits(x[:, :, : r + 1]), full[:, :, : r + 1], atol=1e-6), r


@torch.no_grad()
def test_probabilities_of_all_3x3_images_sum_to_one():
    model = seeded_init(PixelRNN, 0, channels=4, n_layers=2, image_size=3).eval()
    for p in model.parameters():  # random weights well away from the initial ones
        p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.5)
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=9))).view(-1, 1, 3, 3)
    log_p = model.log_prob(images).double()
    assert log_p.shape == (512,)
    assert float(log_p.exp().sum()) == pytest.approx(1.0, abs=1e-4)
    assert float(log_p.exp().max()) < 0.9  # not a degenerate model that puts all mass on one image


@torch.no_grad()
def test_sample_and_complete():
    s = 5
    model = seeded_init(PixelRNN, 0, channels=8, n_layers=1, image_size=s).eval()
    a = model.sample(4, generator=torch.Generator().manual_seed(3))
    b = model.sample(4, generator=torch.Generator().manual_seed(3))
    assert a.shape == (4, 1, s, s)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a, b)
    assert not torch.equal(a, model.sample(4, generator=torch.Generator().manual_seed(4)))
    known = (torch.rand(3, 1, s, s, generator=torch.Generator().manual_seed(5)) < 0.5).float()
    done, frames = model.complete(known, 12, generator=torch.Generator().manual_seed(6), every=5)
    assert done.shape == known.shape and set(done.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(done.flatten(1)[:, :12], known.flatten(1)[:, :12])
    assert [step for step, _, _ in frames] == [5, 10, 13]
    with pytest.raises(ValueError):
        model.logits(known, torch.zeros(3, dtype=torch.int64))  # unconditional: no labels


def test_a_few_adam_steps_lower_the_loss(data):
    x = data.images("train", "binary")[:32]
    model = seeded_init(PixelRNN, 0, channels=8, n_layers=1)
    (optimizer,) = model.configure_optimizers(lr=3e-3)
    model.train()
    first = float(model.loss(x)["loss"].detach())
    for _ in range(8):
        model.train_step(x, None, [optimizer])
    last = float(model.loss(x)["loss"].detach())
    assert last < first - 20, (first, last)  # nats per image


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(channels=0),
        dict(channels=1.5),
        dict(n_layers=0),
        dict(n_layers=True),
        dict(image_size=1),
        dict(image_size=65),
        dict(kernel_size=4),
        dict(kernel_size=1),
        dict(kernel_size=9),
    ],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        PixelRNN(**kwargs)


def test_defaults_and_contract():
    model = PixelRNN()
    assert model.image_size == 28 and model.family == "pixelrnn" and model.data_kind == "binary"
    assert set(model.train_defaults) >= {"steps", "lr", "batch_size"}
    x = torch.zeros(2, 1, 28, 28)
    with torch.no_grad():
        assert model.logits(x).shape == (2, 1, 28, 28)
        assert model.log_prob(x).shape == (2,)

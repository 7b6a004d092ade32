"""PixelRNN with Diagonal BiLSTM layers: causality by gradients with the whole past heard
(no blind spot, the previous row's last pixel included), sampling from the recurrence equal
to the full pass's conditionals, skewing, a normalised distribution on 3 x 3 images,
save/load, a few training steps, argument checks."""

from __future__ import annotations

import itertools

import pytest
import torch

from models.base import seeded_init
from models.diagonal_bilstm import DiagonalBiLSTM, skew, unskew


def _input_gradient(model, x: torch.Tensor, i: int) -> torch.Tensor:
    """d logit_i / d x for one image x (1, 1, S, S), flattened to (S * S,)."""
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.logits(x).flatten()[i], x)
    return grad.flatten()


def test_skew_shifts_row_r_right_by_r_and_unskew_inverts_it():
    x = torch.arange(24.0).view(1, 2, 3, 4)
    skewed = skew(x)
    assert skewed.shape == (1, 2, 3, 6)
    for r in range(3):
        assert torch.equal(skewed[0, :, r, r : r + 4], x[0, :, r]) and float(skewed[0, :, r].abs().sum() - x[0, :, r].abs().sum()) == 0
    assert torch.equal(unskew(skewed, 4), x)


@pytest.mark.parametrize("n_layers", [1, 2])
def test_logits_are_causal_and_hear_the_whole_past(n_layers):
    s = 8
    model = seeded_init(DiagonalBiLSTM, 0, channels=4, n_layers=n_layers, image_size=s).eval()
    x = (torch.rand(1, 1, s, s, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    for i in [0, 1, 7, 8, 9, 20, 40, s * s - 1]:
        grad = _input_gradient(model, x, i)
        assert bool((grad[i:] == 0).all()), f"logit {i} depends on pixels {(grad[i:] != 0).nonzero().flatten() + i}"
        assert bool((grad[:i] != 0).all()), f"logit {i} ignores earlier pixels {(grad[:i] == 0).nonzero().flatten()}"


@torch.no_grad()
@pytest.mark.parametrize("n_known", [0, 13])
def test_sampling_from_the_recurrence_gives_the_full_pass_conditionals(n_known):
    s = 6
    model = seeded_init(DiagonalBiLSTM, 0, channels=4, n_layers=2, image_size=s).eval()
    known = (torch.rand(3, 1, s, s, generator=torch.Generator().manual_seed(2)) < 0.5).float()
    *_, (_, images, probs) = model.draw(known, n_known, None, torch.Generator().manual_seed(0))
    assert torch.equal(images.flatten(1)[:, :n_known], known.flatten(1)[:, :n_known]) and set(images.unique().tolist()) <= {0.0, 1.0}
    full = torch.sigmoid(model.logits(images)).flatten(1)[:, n_known:]
    assert torch.allclose(probs.flatten(1)[:, n_known:], full, atol=1e-5)
    a = model.sample(2, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, model.sample(2, generator=torch.Generator().manual_seed(3)))


@torch.no_grad()
def test_probabilities_of_all_3x3_images_sum_to_one():
    model = seeded_init(DiagonalBiLSTM, 0, channels=3, n_layers=1, image_size=3).eval()
    for p in model.parameters():  # random weights well away from the initial ones
        p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.5)
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=9))).view(-1, 1, 3, 3)
    log_p = model.log_prob(images).double()
    assert log_p.shape == (512,)
    assert float(log_p.exp().sum()) == pytest.approx(1.0, abs=1e-4)
    assert float(log_p.exp().max()) < 0.9


@torch.no_grad()
def test_save_and_load_round_trip(tmp_path):
    model = seeded_init(DiagonalBiLSTM, 2, channels=4, n_layers=2).eval()
    model.save_pretrained(tmp_path / "ck")
    loaded = DiagonalBiLSTM.from_pretrained(tmp_path / "ck").eval()
    assert loaded.config == model.config
    x = (torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    assert torch.equal(loaded.log_prob(x), model.log_prob(x))


def test_a_few_adam_steps_lower_the_loss(data):
    x = data.images("train", "binary")[:16]
    model = seeded_init(DiagonalBiLSTM, 0, channels=8, n_layers=1)
    (optimizer,) = model.configure_optimizers(lr=3e-3)
    model.train()
    first = float(model.loss(x)["loss"].detach())
    for _ in range(8):
        model.train_step(x, None, [optimizer])
    last = float(model.loss(x)["loss"].detach())
    assert last < first - 20, (first, last)  # nats per image


@pytest.mark.parametrize("kwargs", [dict(channels=0), dict(channels=129), dict(n_layers=0), dict(n_layers=9), dict(image_size=1), dict(channels=2.5)])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        DiagonalBiLSTM(**kwargs)


def test_defaults_and_contract():
    model = DiagonalBiLSTM()
    assert model.image_size == 28 and model.family == "diagonal_bilstm" and model.data_kind == "binary" and model.nll_kind == "exact"
    with torch.no_grad():
        assert model.logits(torch.zeros(2, 1, 28, 28)).shape == (2, 1, 28, 28)

"""PixelSNAIL: causal self-attention by gradients (logit i free of pixels >= i, yet hearing
the far past that a small PixelCNN cannot reach), a normalised distribution on 3 x 3
images, row crops, sampling, save/load, a few training steps, argument checks."""

from __future__ import annotations

import itertools

import pytest
import torch

from models.base import seeded_init
from models.pixelcnn import PixelCNN
from models.pixelsnail import PixelSNAIL


def _input_gradient(model, x: torch.Tensor, i: int) -> torch.Tensor:
    """d logit_i / d x for one image x (1, 1, S, S), flattened to (S * S,)."""
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.logits(x).flatten()[i], x)
    return grad.flatten()


def test_attention_is_causal_by_gradient_and_reaches_the_whole_past():
    s = 8
    model = seeded_init(PixelSNAIL, 0, channels=8, n_layers=1, image_size=s, key_dim=4).eval()
    x = (torch.rand(1, 1, s, s, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    for i in [0, 1, 9, 30, 47, s * s - 1]:
        grad = _input_gradient(model, x, i)
        assert bool((grad[i:] == 0).all()), f"logit {i} depends on pixels {(grad[i:] != 0).nonzero().flatten() + i}"
        assert bool((grad[:i] != 0).all()), f"logit {i} ignores earlier pixels {(grad[:i] == 0).nonzero().flatten()}"
    # The last pixel hears the first row through the attention; a PixelCNN with the same
    # 7 x 7 + one 3 x 3 convolutions reaches only 4 rows up, and never sees the blind spot.
    pixelcnn = seeded_init(PixelCNN, 0, channels=8, n_layers=1, image_size=s).eval()
    assert float(_input_gradient(pixelcnn, x, s * s - 1)[:s].abs().max()) == 0
    assert float(_input_gradient(model, x, s * s - 1)[:s].abs().min()) > 0


def test_the_receptive_field_is_the_whole_past_with_no_blind_spot():
    model = seeded_init(PixelSNAIL, 0, channels=8, n_layers=1, key_dim=4).eval()
    pixel = 14 * 28 + 3
    field = model.receptive_field(pixel, n_probes=2).flatten()
    assert bool((field[:pixel] > 0).all()) and bool((field[pixel:] == 0).all())


@torch.no_grad()
def test_the_top_rows_alone_give_the_full_images_logits():
    s = 6
    model = seeded_init(PixelSNAIL, 0, channels=8, n_layers=2, image_size=s, key_dim=4).eval()
    assert model.context_rows == s - 1
    x = (torch.rand(2, 1, s, s, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    full = model.logits(x)
    for r in range(s):
        assert torch.allclose(model.logits(x[:, :, : r + 1]), full[:, :, : r + 1], atol=1e-5), r


@torch.no_grad()
def test_probabilities_of_all_3x3_images_sum_to_one():
    model = seeded_init(PixelSNAIL, 0, channels=4, n_layers=1, image_size=3, key_dim=4).eval()
    for p in model.parameters():  # random weights well away from the initial ones
        p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.5)
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=9))).view(-1, 1, 3, 3)
    log_p = model.log_prob(images).double()
    assert log_p.shape == (512,)
    assert float(log_p.exp().sum()) == pytest.approx(1.0, abs=1e-4)
    assert float(log_p.exp().max()) < 0.9


@torch.no_grad()
def test_sample_and_complete():
    s = 5
    model = seeded_init(PixelSNAIL, 0, channels=8, n_layers=1, image_size=s, key_dim=4).eval()
    a = model.sample(4, generator=torch.Generator().manual_seed(3))
    assert a.shape == (4, 1, s, s) and set(a.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(a, model.sample(4, generator=torch.Generator().manual_seed(3)))
    known = (torch.rand(3, 1, s, s, generator=torch.Generator().manual_seed(5)) < 0.5).float()
    done, frames = model.complete(known, 12, generator=torch.Generator().manual_seed(6), every=5)
    assert torch.equal(done.flatten(1)[:, :12], known.flatten(1)[:, :12])
    assert [step for step, _, _ in frames] == [5, 10, 13]
    with pytest.raises(ValueError):
        model.logits(known, torch.zeros(3, dtype=torch.int64))  # unconditional: no labels


@torch.no_grad()
def test_save_and_load_round_trip(tmp_path):
    model = seeded_init(PixelSNAIL, 2, channels=8, n_layers=2, key_dim=4, n_res=2).eval()
    model.save_pretrained(tmp_path / "ck")
    loaded = PixelSNAIL.from_pretrained(tmp_path / "ck").eval()
    assert loaded.config == model.config
    x = (torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    assert torch.equal(loaded.log_prob(x), model.log_prob(x))


def test_a_few_adam_steps_lower_the_loss(data):
    x = data.images("train", "binary")[:16]
    model = seeded_init(PixelSNAIL, 0, channels=8, n_layers=1, key_dim=8)
    (optimizer,) = model.configure_optimizers(lr=3e-3)
    model.train()
    first = float(model.loss(x)["loss"].detach())
    for _ in range(8):
        model.train_step(x, None, [optimizer])
    last = float(model.loss(x)["loss"].detach())
    assert last < first - 20, (first, last)  # nats per image


@pytest.mark.parametrize(
    "kwargs",
    [dict(channels=0), dict(channels=129), dict(n_layers=0), dict(n_layers=7), dict(image_size=1), dict(n_res=0), dict(key_dim=0), dict(key_dim=1.5)],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        PixelSNAIL(**kwargs)


def test_defaults_and_contract():
    model = PixelSNAIL()
    assert model.image_size == 28 and model.family == "pixelsnail" and model.data_kind == "binary" and model.nll_kind == "exact"
    with torch.no_grad():
        assert model.logits(torch.zeros(2, 1, 28, 28)).shape == (2, 1, 28, 28)

"""The miniature Video Pixel Network: causal over frames and over pixels within a frame (by
gradient), exact per-frame NLL, prediction shapes, the moving-digits data, save/load, learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.base import seeded_init
from models.vpn import VideoPixelNetwork
from playground.core.moving_digits import DIGIT, SIZE, bounce, moving_digits

TINY = dict(channels=4, decoder_layers=1)


@pytest.fixture
def model():
    return seeded_init(VideoPixelNetwork, 0, **TINY).eval()


def test_pixel_i_of_frame_t_sees_only_earlier_frames_and_earlier_pixels(model):
    x = (torch.rand(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0)) < 0.3).float().requires_grad_(True)
    logits = model.decode(x[0, :, None], model.contexts(x)[0]).view(1, 3, SIZE, SIZE)
    for t, r, c in ((0, 0, 0), (1, 10, 7), (2, 31, 31), (2, 0, 5)):
        (grad,) = torch.autograd.grad(logits[0, t, r, c], x, retain_graph=True)
        g = grad[0].abs()
        assert float(g[t + 1 :].sum()) == 0.0, "sees a later frame"
        later = g[t].flatten()[r * SIZE + c :]
        assert float(later.sum()) == 0.0, "sees its own pixel or a later one"
        if t > 0:
            assert float(g[:t].sum()) > 0, "ignores the past frames"


def test_frame_nll_is_the_exact_bernoulli_likelihood_and_sums_to_log_prob(model):
    x = moving_digits().test_clips[:2, :4]
    nll = model.frame_nll(x)
    logits = model.logits(x)
    by_hand = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((2, 3))
    assert nll.shape == (2, 4) and torch.allclose(nll, by_hand, atol=1e-3)
    assert torch.allclose(model.log_prob(x), -nll.sum(1), atol=1e-3)


def test_prediction_keeps_the_given_frames_and_draws_binary_frames(model):
    given = moving_digits().test_clips[:1, :2]
    steps = list(model.predict(given, 1, torch.Generator().manual_seed(0)))
    assert len(steps) == SIZE and steps[-1].shape == (1, 3, SIZE, SIZE)
    assert torch.equal(steps[-1][:, :2], given) and set(steps[-1].unique().tolist()) <= {0.0, 1.0}
    again = list(model.predict(given, 1, torch.Generator().manual_seed(0)))[-1]
    assert torch.equal(again, steps[-1])


def test_bad_clips_are_refused(model):
    for bad, message in ((torch.zeros(1, 2, 28, 28), "shape"), (torch.full((1, 2, SIZE, SIZE), 0.5), "0 or 1"), (torch.zeros(1, 2, SIZE, SIZE, dtype=torch.int64), "float")):
        with pytest.raises(ValueError, match=message):
            model.frame_nll(bad)
    with pytest.raises(ValueError, match="frames to predict"):
        next(model.predict(torch.zeros(1, 1, SIZE, SIZE), 0))


def test_digits_bounce_and_stay_in_the_frame():
    rng = np.random.default_rng(0)
    for _ in range(50):
        path = bounce(30, rng)
        assert path.min() >= 0 and path.max() <= SIZE - DIGIT
        steps = np.abs(np.diff(path, axis=0))
        assert steps.max() <= 6
    data = moving_digits()
    assert data.train_clips.shape == (1000, 10, SIZE, SIZE) and data.test_clips.shape == (100, 10, SIZE, SIZE)
    assert set(data.test_clips.unique().tolist()) == {0.0, 1.0} and 0.02 < float(data.train_clips.mean()) < 0.12
    moved = (data.test_clips[:, 1:] != data.test_clips[:, :-1]).flatten(2).any(2).float().mean()
    assert float(moved) > 0.95  # the digits move from frame to frame


def test_save_load_round_trip_and_loss_falls(model, tmp_path, one_thread):
    model.save_pretrained(tmp_path / "ck")
    loaded = VideoPixelNetwork.from_pretrained(tmp_path / "ck")
    x = moving_digits().train_clips[:4, :4]
    assert torch.equal(loaded.frame_nll(x), model.frame_nll(x))
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), 1e-2)
    before = float(model.loss(x)["loss"])
    for _ in range(15):
        model.train_step(x, None, [optimizer])
    assert float(model.loss(x)["loss"]) < before * 0.8

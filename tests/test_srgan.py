"""SRGAN (models/srgan.py): shapes and ranges, the back-projection layer, argument checks,
the save/load round trip, training lowering the content loss on real digits, and the
defining property: the content-loss model's output, average-pooled as the input was made,
gives the input back."""

from __future__ import annotations

import pytest
import torch

from models import FAMILIES
from models.base import seeded_init
from models.srgan import SRGAN, back_project, bicubic, downsample, psnr

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = dict(width=8, n_blocks=1)
TOLERANCE = 1e-5  # a small fraction of one grey level (1/255)


def test_registered_and_helpers(data):
    assert FAMILIES["srgan"] is SRGAN
    x = data.test_grey[:8]
    low = downsample(x)
    assert low.shape == (8, 1, 14, 14) and bicubic(low).shape == x.shape
    assert float(psnr(x, x).min()) == pytest.approx(100.0)
    y = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    projected = back_project(y, low)
    assert 0 <= float(projected.min()) and float(projected.max()) <= 1
    assert float((downsample(projected) - low).abs().max()) < TOLERANCE


def test_shapes_ranges_and_checks(data):
    model = seeded_init(SRGAN, 0, **TINY).eval()
    low = downsample(data.test_grey[:5])
    for which in ("srgan", "pixel", "bicubic"):
        with torch.no_grad():
            out = model.upscale(low, which)
        assert out.shape == (5, 1, 28, 28) and 0 <= float(out.min()) and float(out.max()) <= 1
    losses = model.loss(data.test_grey[:4])
    assert {"loss", "content", "adversarial", "pixel_loss", "d_loss"} <= set(losses) and all(torch.isfinite(v) for v in losses.values())
    assert model.sample(3, generator=torch.Generator().manual_seed(1)).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match="adv_weight"):
        SRGAN(adv_weight=2.0)
    with pytest.raises(ValueError, match="which"):
        model.upscale(low, "nearest")
    with pytest.raises(ValueError, match=r"\(B, 1, 14, 14\)"):
        model.upscale(data.test_grey[:2])


def test_save_load_round_trip(tmp_path, data):
    model = seeded_init(SRGAN, 2, consistent=False, **TINY)
    model.examples.copy_(data.test_grey[:64])
    model.save_pretrained(tmp_path)
    loaded = SRGAN.from_pretrained(tmp_path).eval()
    low = downsample(data.test_grey[:4])
    with torch.no_grad():
        assert loaded.config == model.config and torch.equal(loaded.upscale(low), model.eval().upscale(low))


def test_training_lowers_the_content_loss_and_the_output_pools_back_to_the_input(data):
    """The defining property: after a short training, avgpool(SR(lr)) = lr within TOLERANCE
    for the content-loss networks, and both beat bicubic's PSNR; bicubic is not consistent."""
    model = seeded_init(SRGAN, 0, **TINY)
    optimizers = model.configure_optimizers(1e-3)
    g = torch.Generator().manual_seed(0)
    x_train, x_test = data.train_grey, data.test_grey[:200]
    before = model.loss(x_test)["content"].item()
    for _ in range(60):
        model.train_step(x_train[torch.randint(len(x_train), (32,), generator=g)], None, optimizers, g)
    model.eval()
    assert model.loss(x_test)["content"].item() < 0.5 * before
    figures = model.test_figures(x_test)
    assert figures["consistency_error_srgan"] < TOLERANCE and figures["consistency_error_pixel"] < TOLERANCE, figures
    assert figures["consistency_error_bicubic"] > 0.05
    assert figures["psnr_db_pixel"] > figures["psnr_db_bicubic"] and figures["psnr_db_srgan"] > figures["psnr_db_bicubic"], figures

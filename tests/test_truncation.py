"""The truncation trick (BigGAN's resampling, StyleGAN's shrink): truncated latents never
exceed the threshold, smaller psi gives less spread samples of the bundled DCGAN, and the
page's views read the cached curve so that the figures under the samples are the curve's."""

from __future__ import annotations

import json

import pytest
import torch

from models.truncation import METHODS, pixel_spread, truncated_latents, truncated_normal
from playground.core import checkpoints
from playground.views import truncation
from playground.views.base import Context

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("psi", [0.05, 0.3, 1.0, 2.5])
def test_truncated_z_never_exceeds_the_threshold(psi):
    z = truncated_normal((2000, 16), psi, torch.Generator().manual_seed(0))
    assert z.shape == (2000, 16) and z.dtype == torch.float32 and float(z.abs().max()) <= psi
    if psi >= 1.0:  # inside the threshold it is still a normal: resampling only cuts the tails
        assert abs(float(z.mean())) < 0.02


def test_resampling_keeps_the_components_inside_and_is_seeded():
    a = truncated_latents(50, 8, 0.5, "resample", torch.Generator().manual_seed(3))
    b = truncated_latents(50, 8, 0.5, "resample", torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and float(a.abs().max()) <= 0.5
    full = torch.randn(50, 8, generator=torch.Generator().manual_seed(3))
    inside = full.abs() <= 0.5
    assert torch.equal(a[inside], full[inside])  # only what lay outside was drawn again


def test_shrink_scales_the_same_z():
    z1 = truncated_latents(10, 4, 1.0, "shrink", torch.Generator().manual_seed(1))
    z_half = truncated_latents(10, 4, 0.5, "shrink", torch.Generator().manual_seed(1))
    assert torch.allclose(z_half, 0.5 * z1)


@pytest.mark.parametrize(("kwargs", "message"), [(dict(psi=0.0), "ψ"), (dict(psi=float("nan")), "ψ"), (dict(psi=1.0, method="clip"), "truncation method")])
def test_bad_settings_are_readable_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        truncated_latents(4, 4, **kwargs)


@pytest.mark.parametrize("method", METHODS)
def test_smaller_psi_gives_less_spread_samples_of_the_bundled_dcgan(method):
    model = checkpoints.load("gan").eval()
    spreads, feature_spreads = [], []
    for psi in (0.25, 0.5, 1.0):
        with torch.no_grad():
            z = truncated_latents(256, model.latent_dim, psi, method, torch.Generator().manual_seed(0))
            x = model.generate(z)
            h = model.discriminator(x * 2 - 1)  # D's features (B, n_features): spread in a learnt feature space too
        spreads.append(pixel_spread(x))
        feature_spreads.append(float(h.std(0).mean()))
    assert spreads[0] < spreads[1] < spreads[2]
    assert feature_spreads[0] < feature_spreads[1] < feature_spreads[2]


def test_the_cached_curve_covers_every_slider_value_and_falls_in_recall():
    figures = json.loads(truncation.FIGURES_PATH.read_text())
    assert figures["checkpoint"] == "gan" and figures["n_samples"] == truncation.N_CURVE
    for method in METHODS:
        points = figures["curves"][method]
        assert [p["psi"] for p in points] == list(truncation.PSIS)
        assert all(0 <= p[k] <= 1 for p in points for k in ("agreed_confident_share", "precision", "recall"))
        assert points[0]["recall"] < points[3]["recall"] and points[0]["precision"] > points[3]["precision"]  # ψ 0.25 against 1
        assert points[0]["pixel_spread"] < points[3]["pixel_spread"]


@pytest.fixture(scope="module")
def views(data):
    return truncation.TruncationViews(Context(torch.device("cpu"), data))


def test_the_page_samples_are_the_first_of_the_curves_and_say_its_figures(views, data):
    picture, line = views.samples(0.5, "resample", 0)
    assert picture.dtype == "uint8" and picture.shape[0] == 8 * 28 + 9 * 2
    point = views.point(0.5, "resample")
    assert f"**{point['agreed_confident_share']:.1%}**" in line and f"recall **{point['recall']:.3f}**" in line and "these 64 are its first" in line
    fresh = truncation.curve_point(views.model, data, 0.5, "resample")  # the cache is what the code computes
    for key in ("agreed_confident_share", "precision", "recall", "pixel_spread"):
        assert fresh[key] == pytest.approx(point[key], abs=0.01), key


def test_the_curve_marks_psi_and_bad_values_are_refused(views):
    fig = views.curve(1.5, "shrink")
    assert len(fig.data) == 2 * len(truncation.CURVE_NAMES) and fig.layout.shapes[0].x0 == 1.5
    for bad, message in ((0.3, "must be one of"), (5, "ψ"), ("x", "ψ")):
        with pytest.raises(ValueError, match=message):
            views.samples(bad, "resample", 0)
    with pytest.raises(ValueError, match="truncation method"):
        views.curve(1.0, "clip")
    with pytest.raises(ValueError, match="seed"):
        views.samples(1.0, "shrink", -1)

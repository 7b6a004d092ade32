"""The 2D GAN lab's data: datasets, user points, distances, and the lab's figures."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.gan2d import ToyGAN
from playground.core import plots, toy2d

# --- datasets and user points -------------------------------------------------------------


@pytest.mark.parametrize("name", toy2d.DATASETS)
def test_datasets_are_seeded_points_in_the_square(name):
    points = toy2d.make_dataset(name, 300, seed=1)
    assert points.shape == (300, 2) and points.dtype == torch.float32
    assert float(points.abs().max()) <= toy2d.DATA_HALF
    assert float(points.std(0).min()) > 0.3  # spread over the square, not a blob
    assert torch.equal(points, toy2d.make_dataset(name, 300, seed=1))
    assert not torch.equal(points, toy2d.make_dataset(name, 300, seed=2))


def test_ring_and_grid_points_sit_on_their_modes():
    for name, n_modes in (("ring", 8), ("grid", 25)):
        points = toy2d.make_dataset(name, 1000)
        covered, good = toy2d.mode_coverage(points, *toy2d.mode_centres(name))
        assert covered == n_modes and good > 0.97  # 1 - exp(-9/2) = 98.9% within 3 std in 2D


def test_csv_with_header_and_other_separators():
    points, note = toy2d.points_from_csv("x,y\n0,0\n1,2\n\n3;4\n5\t-6\n")
    assert points.shape == (4, 2)
    assert float(points.abs().max()) == pytest.approx(0.95 * toy2d.DATA_HALF)
    assert torch.allclose(points.mean(0), torch.zeros(2), atol=1e-6)
    assert "4 points" in note and "scaled" in note


def test_csv_from_a_file(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("a,b\n" + "\n".join(f"{i},{i * i}" for i in range(50)))
    points, _ = toy2d.points_from_csv(path)
    assert points.shape == (50, 2)
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ValueError, match="not a text CSV"):
        toy2d.points_from_csv(path)


def test_identical_points_are_a_point_mass_at_the_centre_and_said_so():
    points, note = toy2d.points_from_csv("1,2\n1,2\n1,2\n")
    assert points.shape == (3, 2) and bool((points == 0).all()) and "identical" in note


@pytest.mark.parametrize(
    "text,match",
    [
        ("x,y\n1,2\nfoo,3\n", r"line 3: 'foo' is not a number"),
        ("1,2,3\n4,5,6\n", "line 1 has 3 columns"),
        ("1\n2\n", "line 1 has 1 columns"),
        ("", "holds no points"),
        ("x,y\n", "holds no points"),
        ("1,2\n", "at least 2 points"),
        ("1,2\nnan,3\n", "NaN or an infinite"),
        ("1,2\n3,inf\n", "NaN or an infinite"),
        ("\n".join(f"{i},{i}" for i in range(toy2d.MAX_POINTS + 1)), "more than 5,000 points"),
    ],
)
def test_bad_csv_gets_a_clear_message(text, match):
    with pytest.raises(ValueError, match=match):
        toy2d.points_from_csv(text)


def _canvas(size=200):
    """A transparent RGBA canvas, as Gradio 6's Sketchpad composite gives it."""
    return np.zeros((size, size, 4), np.uint8)


def _ink(image, rows, cols):
    image[rows, cols] = (0, 0, 0, 255)
    return image


def test_sketch_points_follow_the_drawing():
    # A horizontal stroke in the top half, left side: x < 0, y > 0.
    image = _ink(_canvas(), slice(40, 44), slice(20, 90))
    points, note = toy2d.points_from_sketch({"background": None, "layers": [], "composite": image}, n=200)
    assert points.shape == (200, 2)
    assert float(points[:, 0].max()) < 0 and float(points[:, 1].min()) > 0
    assert float(points[:, 1].std()) < 0.1 < float(points[:, 0].std())
    assert "200 points" in note
    # A float image in [0, 1] (white paper, black ink) reads the same.
    paper = np.ones((200, 200), np.float32)
    paper[40:44, 20:90] = 0.0
    assert torch.allclose(toy2d.points_from_sketch(paper, n=200)[0].mean(0), points.mean(0), atol=0.05)
    # The layers are used when there is no composite; a white opaque background is no ink.
    white = np.full((200, 200, 3), 255, np.uint8)
    white[150:160, 100:190] = 0
    layer_points, _ = toy2d.points_from_sketch({"composite": None, "layers": [white]}, n=50)
    assert float(layer_points[:, 1].max()) < 0 and float(layer_points[:, 0].min()) > -0.1


@pytest.mark.parametrize(
    "sketch,match",
    [
        (None, "nothing is drawn"),
        ({"background": None, "layers": [], "composite": None}, "nothing is drawn"),
        ({"composite": _canvas()}, "nothing is drawn"),
        ({"composite": np.full((100, 100, 3), 255, np.uint8)}, "nothing is drawn"),
        ({"composite": _ink(_canvas(), slice(100, 103), slice(100, 103))}, "single dot"),
        ("hello", "not an image"),
    ],
)
def test_degenerate_drawings_are_refused(sketch, match):
    with pytest.raises(ValueError, match=match):
        toy2d.points_from_sketch(sketch)


# --- distances ------------------------------------------------------------------------------


def test_js_is_zero_for_identical_and_ln2_for_disjoint_histograms():
    p = toy2d.histogram2d(toy2d.make_dataset("ring", 500))
    assert toy2d.js_divergence(p, p.clone()) == 0.0
    left = toy2d.histogram2d(torch.full((100, 2), -2.0), smooth_bins=0)
    right = toy2d.histogram2d(torch.full((100, 2), 2.0), smooth_bins=0)
    assert toy2d.js_divergence(left, right) == pytest.approx(math.log(2))
    same = toy2d.js_distance(toy2d.make_dataset("ring", 1000, 0), toy2d.make_dataset("ring", 1000, 1))
    other = toy2d.js_distance(toy2d.make_dataset("ring", 1000, 0), toy2d.make_dataset("moons", 1000, 0))
    assert same < 0.1
    assert 0.4 < other < math.log(2)
    with pytest.raises(ValueError, match="same shape"):
        toy2d.js_divergence(p, p[:10])


def test_modes_covered_on_hand_made_points():
    centres, std = toy2d.mode_centres("ring")
    three = centres[[0, 3, 5]].repeat(30, 1) + 0.5 * std  # well within 3 std of three modes
    assert toy2d.mode_coverage(three, centres, std) == (3, 1.0)
    far = torch.zeros(40, 2)  # the ring's centre is no mode
    assert toy2d.mode_coverage(far, centres, std) == (0, 0.0)
    # Two points on a fourth mode are under a fifth of its fair share of 93 points.
    mixed = torch.cat([three, centres[[1, 1]]])
    assert toy2d.mode_coverage(mixed, centres, std)[0] == 3
    assert toy2d.mode_coverage(mixed, centres, std, min_share=0.01)[0] == 4



# --- figures ---------------------------------------------------------------------------------


def test_figures_have_fixed_axes_and_optional_arrows():
    model = ToyGAN()
    axis = toy2d.grid_axis()
    surface = model.decision_surface(axis, axis)
    assert surface.shape == (60, 60) and float(surface.min()) >= 0 and float(surface.max()) <= 1
    fake = model.sample(50, torch.Generator().manual_seed(0))
    fig = plots.lab_figure(surface, axis, toy2d.make_dataset("ring", 100), fake, model.generator_gradient(fake[:10]) * 0.1, box=toy2d.BOX)
    assert [t.type for t in fig.data] == ["heatmap", "scatter", "scatter", "scatter"]
    assert list(fig.layout.xaxis.range) == [-2.5, 2.5] == list(fig.layout.yaxis.range)
    assert len(fig.data[3].x) == 30  # ten arrows of (start, end, gap)
    curves = plots.lab_curves_figure([{"step": 0, "js": 0.5}, {"step": 1, "d_loss": 1.3, "g_loss": 0.7, "js": 0.4}])
    assert [t.name for t in curves.data] == ["D loss", "G loss", "JS(real ‖ generated)"]

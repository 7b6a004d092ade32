"""The 2D GAN lab: datasets, user points, distances, the toy GAN and the tab's handlers
(called directly, no browser)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import torch

from models.gan import LOSSES
from models.gan2d import DivergedError, ToyGAN
from playground.core import toy2d
from playground.core.sessions import SessionRegistry
from playground.ui.tabs import gan_lab
from playground.ui.tabs.gan_lab import GanLab, LabSession
from playground.ui.legacy import AppContext


@pytest.fixture
def lab():
    # The lab needs neither the digits nor a device beyond the CPU.
    return GanLab(AppContext(torch.device("cpu"), None, SessionRegistry()))


def _request(name="alice"):
    return SimpleNamespace(session_hash=name)


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


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


@pytest.mark.parametrize(
    "text,match",
    [
        ("x,y\n1,2\nfoo,3\n", r"line 3: 'foo' is not a number"),
        ("1,2,3\n4,5,6\n", "line 1 has 3 columns"),
        ("1\n2\n", "line 1 has 1 columns"),
        ("", "holds no points"),
        ("x,y\n", "holds no points"),
        ("1,2\n", "at least 2 points"),
        ("1,2\n1,2\n1,2\n", "identical"),
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


def test_figures_have_fixed_axes_and_optional_arrows():
    model = ToyGAN()
    axis = toy2d.grid_axis()
    surface = model.decision_surface(axis, axis)
    assert surface.shape == (60, 60) and float(surface.min()) >= 0 and float(surface.max()) <= 1
    fake = model.sample(50, torch.Generator().manual_seed(0))
    fig = toy2d.lab_figure(surface, toy2d.make_dataset("ring", 100), fake, model.generator_gradient(fake[:10]) * 0.1)
    assert [t.type for t in fig.data] == ["heatmap", "scatter", "scatter", "scatter"]
    assert list(fig.layout.xaxis.range) == [-2.5, 2.5] == list(fig.layout.yaxis.range)
    assert len(fig.data[3].x) == 30  # ten arrows of (start, end, gap)
    curves = toy2d.curves_figure([{"step": 0, "js": 0.5}, {"step": 1, "d_loss": 1.3, "g_loss": 0.7, "js": 0.4}])
    assert [t.name for t in curves.data] == ["D loss", "G loss", "JS(real ‖ generated)"]


# --- the toy GAN ------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("mode", ["d", "g", "both"])
def test_every_loss_and_mode_takes_a_finite_step(loss, mode):
    model = ToyGAN(loss=loss, hidden=16)
    out = model.step(toy2d.make_dataset("ring", 64), mode, d_steps=2, generator=torch.Generator().manual_seed(0))
    expected = {"d": {"d_loss", "d_real", "d_fake"}, "g": {"g_loss"}, "both": {"d_loss", "d_real", "d_fake", "g_loss"}}[mode]
    if loss == "wgan_gp" and mode != "g":
        expected = expected | {"gp"}
    assert set(out) == expected and all(math.isfinite(v) for v in out.values())


def test_d_step_changes_only_d_and_g_step_only_g():
    model = ToyGAN(hidden=16)
    real = toy2d.make_dataset("ring", 64)
    d0, g0 = _params(model.discriminator), _params(model.generator)
    model.step(real, "d")
    d1, g1 = _params(model.discriminator), _params(model.generator)
    assert _same(g0, g1) and not _same(d0, d1)
    model.step(real, "g")
    d2, g2 = _params(model.discriminator), _params(model.generator)
    assert _same(d1, d2) and not _same(g1, g2)


def test_generator_gradient_points_up_the_surface_and_vanishes_when_saturated():
    model = ToyGAN(hidden=4, depth=1, loss="minimax")
    with torch.no_grad():
        for p in model.discriminator.parameters():
            p.zero_()
        first, last = model.discriminator[0], model.discriminator[-1]
        first.weight[0, 0], first.bias[0], last.weight[0, 0] = 1.0, 5.0, 1.0
        last.bias.fill_(-40.0)  # logit = x1 - 35 on [-2, 2]^2: D(x) ~ 1e-15, saturated
    points = torch.rand(20, 2) * 4 - 2
    assert float(model.generator_gradient(points).norm(dim=1).max()) < 1e-12  # minimax: D(x) dlogit/dx
    model.loss_kind = "non_saturating"
    grad = model.generator_gradient(points)  # -log D: (1 - D(x)) dlogit/dx = (1, 0)
    assert torch.allclose(grad, torch.tensor([1.0, 0.0]).expand(20, 2), atol=1e-6)


def test_a_divergent_step_restores_the_last_finite_weights():
    model = ToyGAN(hidden=16)
    real = toy2d.make_dataset("ring", 64)
    model.step(real, "both")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    adam_before = model.opt_d.state_dict()["state"][0]["exp_avg"].clone()
    for group in model.opt_d.param_groups:
        group["lr"] = 1e38  # D's weights jump to about 1e38: finite, but its outputs overflow
    with pytest.raises(DivergedError, match="D diverged.*last finite weights are kept"):
        model.step(real, "both")
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert torch.equal(model.opt_d.state_dict()["state"][0]["exp_avg"], adam_before)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"noise_dim": 0}, "noise dimension"), ({"hidden": 10_000}, "hidden width"), ({"loss": "hinge"}, "loss"),
        ({"lr_d": float("nan")}, "learning rate of D"), ({"lr_g": -1.0}, "learning rate of G"),
        ({"lr_d": 1e9}, "learning rate of D"),
    ],
)
def test_bad_model_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ToyGAN(**kwargs)


def test_bad_step_arguments_are_refused():
    model = ToyGAN(hidden=16)
    real = toy2d.make_dataset("ring", 8)
    for args, match in (((real, "x"), "mode"), ((real, "both", 0), "k"), ((real[:, :1],), "shape"), ((real * float("nan"),), "finite")):
        with pytest.raises(ValueError, match=match):
            model.step(*args)


# --- the tab's handlers ---------------------------------------------------------------------


def test_reset_from_nothing_gives_the_default_lab(lab):
    session, figure, curves, status = lab.reset(None)
    assert isinstance(session, LabSession) and session.source == "ring" and session.step == 0
    assert [t.type for t in figure.data] == ["heatmap", "scatter", "scatter"]
    assert "step 0" in status and "modes covered" in status and "JS" in status
    assert [len(t.x) for t in curves.data] == [0, 0, 1]  # D loss, G loss (none yet), the JS at step 0
    session2, *_ = lab.reset(session, "moons", "wgan_gp", 4, 32, 3, True)
    assert session2.source == "moons" and session2.model.loss_kind == "wgan_gp" and session2.model.noise_dim == 4


def test_step_handlers_update_only_what_they_step(lab):
    session = lab.session(None)
    d0, g0 = _params(session.model.discriminator), _params(session.model.generator)
    out = lab.step(session, 10, 1e-3, 1e-3, 1, False, mode="d")
    assert out[0] is session and session.step == 10 and session.n_d == 10 and session.n_g == 0
    assert _same(g0, _params(session.model.generator)) and not _same(d0, _params(session.model.discriminator))
    lab.step(session, 1, 1e-3, 1e-3, 3, True, mode="both")
    assert session.n_d == 13 and session.n_g == 1
    figure, status = lab.redraw(session, True)[1], lab.redraw(session, True)[3]
    assert figure.data[-1].name == "G's gradient" and "D loss" in status and "G loss" in status
    fresh = lab.step(None, 1, 1e-3, 1e-3, 1, False, mode="g")[0]  # an API client with no state
    assert fresh.n_g == 1 and fresh.n_d == 0


def test_switching_the_loss_keeps_the_weights_and_changes_the_arrows(lab):
    session = lab.step(None, 30, 1e-3, 1e-3, 1, False, mode="d")[0]
    weights = _params(session.model)
    minimax = lab.set_loss(session, "minimax", True)
    non_saturating = lab.set_loss(session, "non_saturating", True)
    assert _same(weights, _params(session.model)) and session.model.loss_kind == "non_saturating"
    lengths = [np.hypot(np.diff(out[1].data[-1].x[:2]), np.diff(out[1].data[-1].y[:2])) for out in (minimax, non_saturating)]
    assert lengths[0] < lengths[1]  # D rejects G's points: the saturating push is weaker
    with pytest.raises(gr.Error, match="loss"):
        lab.set_loss(session, "hinge", True)


@pytest.mark.parametrize(
    "args,match",
    [
        ((1, float("nan"), 1e-3, 1), "learning rate of D"),
        ((1, 1e-3, -0.1, 1), "learning rate of G"),
        ((1, 1e6, 1e-3, 1), "learning rate of D"),
        ((1, 1e-3, 1e-3, 0), "k"),
        ((1, 1e-3, 1e-3, 11), "k"),
        ((0, 1e-3, 1e-3, 1), "steps"),
        ((10**9, 1e-3, 1e-3, 1), "steps"),
        (("ten", 1e-3, 1e-3, 1), "steps"),
    ],
)
def test_bad_values_through_the_api_are_ui_errors(lab, args, match):
    with pytest.raises(gr.Error, match=match):
        lab.step(None, *args, False, mode="both")
    with pytest.raises(gr.Error, match=match):
        next(lab.train(None, *args, False, request=_request()))


@pytest.mark.parametrize(
    "args,match",
    [(("ring", "hinge"), "loss"), (("circle",), "dataset"), (("ring", "minimax", 0), "noise"), (("ring", "minimax", 2, 2**20), "hidden"), (("ring", "minimax", 2, 8, -1), "seed")],
)
def test_bad_reset_settings_are_ui_errors(lab, args, match):
    with pytest.raises(gr.Error, match=match):
        lab.reset(None, *args)


def test_train_streams_and_stop_keeps_the_weights(lab, monkeypatch):
    monkeypatch.setattr(gan_lab, "YIELD_EVERY_S", 0.0)
    run = lab.train(None, 200, 1e-3, 1e-3, 1, False, request=_request())
    session, _, _, status = next(run)
    assert session.step == 1 and "Training: 1 / 200" in status
    with pytest.raises(gr.Error, match="training"):
        lab.step(session, 1, 1e-3, 1e-3, 1, False)  # the run holds the lab
    assert lab.stop(_request()) == "Stopping…"
    outputs = list(run)
    session, _, _, status = outputs[-1]
    assert "Stopped after 1 of 200" in status and session.step == 1
    assert lab.stop(_request()) == "Nothing is training."
    assert len(lab.ctx.sessions) == 0
    final = list(lab.train(session, 5, 1e-3, 1e-3, 2, False, request=_request()))[-1]
    assert final[0].step == 6 and final[0].n_d == 1 + 10 and "Trained 5 steps" in final[3]


@pytest.mark.filterwarnings("ignore:.*diverged:UserWarning")  # gr.Warning outside a request
def test_divergence_in_the_lab_keeps_the_last_finite_weights(lab, monkeypatch):
    # Let a huge learning rate through the checks, as a bug or a tampered client might.
    monkeypatch.setattr(gan_lab, "LR_RANGE", (1e-5, 1e40))
    monkeypatch.setattr("models.gan2d.LR_RANGE", (1e-5, 1e40))
    session = lab.step(None, 3, 1e-3, 1e-3, 1, False)[0]
    before = _params(session.model)
    session, _, _, status = lab.step(session, 5, 1e38, 1e-3, 1, False, mode="d")
    assert "Diverged at step 4" in status and "last finite weights are kept" in status
    assert session.step == 3 and _same(before, _params(session.model))
    session, _, _, status = list(lab.train(session, 50, 1e-3, 1e38, 1, False, request=_request()))[-1]
    assert "Diverged at step 4**, after 0 of 50 steps" in status and "G diverged" in status
    assert all(bool(torch.isfinite(p).all()) for p in session.model.parameters())


def test_user_points_through_the_handlers(lab, tmp_path):
    with pytest.raises(gr.Error, match="no points drawn yet"):
        lab.reset(None, "drawn")
    with pytest.raises(gr.Error, match="no CSV points yet"):
        lab.reset(None, "csv")
    image = _ink(_canvas(), slice(20, 180), slice(98, 102))  # a vertical stroke
    session, source, _, _, status = lab.draw(None, {"composite": image, "layers": [], "background": None})
    assert source == "drawn" and session.source == "drawn" and len(session.real) == 600
    assert "600 points sampled" in status
    with pytest.raises(gr.Error, match="nothing is drawn"):
        lab.draw(session, {"composite": _canvas(), "layers": []})
    session, source, *_ = lab.paste_csv(session, "x,y\n0,0\n1,1\n2,0\n")
    assert source == "csv" and len(session.real) == 3
    with pytest.raises(gr.Error, match="not a number"):
        lab.paste_csv(session, "x,y\n1,2\nfoo,bar\n")
    with pytest.raises(gr.Error, match="paste CSV"):
        lab.paste_csv(session, "  ")
    path = tmp_path / "p.csv"
    path.write_text("1,2,3\n")
    with pytest.raises(gr.Error, match="3 columns"):
        lab.load_csv(session, str(path))
    with pytest.raises(gr.Error, match="upload a CSV"):
        lab.load_csv(session, None)
    # Both kinds of user points survive a reset to another dataset and back.
    session = lab.reset(session, "grid")[0]
    assert len(lab.reset(session, "drawn")[0].real) == 600 and len(lab.reset(session, "csv")[0].real) == 3


def test_build_lab_binds_the_public_api(lab):
    with gr.Blocks() as demo:
        gan_lab.build_lab(lab.ctx)
    names = {d.get("api_name") for d in demo.config["dependencies"] if d.get("api_visibility", "public") != "private"}
    expected = {"gan_lab_reset", "gan_lab_step_d", "gan_lab_step_g", "gan_lab_step_both", "gan_lab_train", "gan_lab_stop",
                "gan_lab_view", "gan_lab_set_loss", "gan_lab_draw", "gan_lab_load_csv", "gan_lab_paste_csv"}
    assert expected <= names
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    assert {"gan-lab-plot", "gan-lab-status", "gan-lab-step-both", "gan-lab-step-d", "gan-lab-step-g", "gan-lab-reset",
            "gan-lab-dataset", "gan-lab-loss", "gan-lab-train", "gan-lab-stop"} <= ids


def _modes_after(lab, settings: dict, steps: int, request) -> int:
    """Reset the lab with ``settings`` (as the preset's buttons do), train ``steps`` steps
    through the handlers, and count the ring's modes G's fixed-noise points cover."""
    s = settings
    session = lab.reset(None, s["dataset"], s["loss"], s["noise_dim"], s["hidden"], s["seed"], False)[0]
    session = list(lab.train(session, steps, s["lr_d"], s["lr_g"], s["k"], False, request=request))[-1][0]
    with torch.no_grad():
        fake = session.model.generate(session.eval_noise)
    return toy2d.mode_coverage(fake, *toy2d.mode_centres("ring"))[0]


def test_the_mode_collapse_demo_collapses_and_equal_rates_do_not(lab):
    """The saturating loss with D far ahead of G gathers G's points on a mode or two of
    the ring; the same loss with equal learning rates covers all eight."""
    preset = dict(zip(gan_lab.COLLAPSE_PRESET, gan_lab._mode_collapse_preset()))
    assert preset["loss"] == "minimax" and preset["dataset"] == "ring"
    steps = 600  # the demo runs 1,500; it has collapsed well before
    assert _modes_after(lab, preset, steps, _request("collapse")) <= 2
    balanced = dict(preset, lr_d=gan_lab.DEFAULT_LR, lr_g=gan_lab.DEFAULT_LR)
    assert _modes_after(lab, balanced, steps, _request("balanced")) == 8

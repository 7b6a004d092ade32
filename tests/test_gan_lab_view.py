"""The 2D GAN lab's views, called directly (no gradio): reset, steps, the loss switch, the
training stream and its stop, divergence, the user's points and the mode-collapse demo."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from models.checks import Range
from playground.core import toy2d
from playground.views import gan_lab
from playground.views.gan_lab import COLLAPSE_PRESET, LabFrame, LabSession, LabViews

# One intra-op thread: the lab's networks are tiny, and a second thread only adds
# synchronisation (see conftest.single_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def views():
    return LabViews()


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def _canvas(size=200):
    """A transparent RGBA canvas, as Gradio 6's Sketchpad composite gives it."""
    return np.zeros((size, size, 4), np.uint8)


def test_reset_from_nothing_gives_the_default_lab(views):
    session, (figure, curves, status, notice) = views.reset(None)
    assert isinstance(session, LabSession) and session.source == "ring" and session.step == 0
    assert [t.type for t in figure.data] == ["heatmap", "scatter", "scatter"]
    assert "step 0" in status and "modes covered" in status and "JS" in status and notice == ""
    assert [len(t.x) for t in curves.data] == [0, 0, 1]  # D loss, G loss (none yet), the JS at step 0
    session2, _ = views.reset(session, "moons", "wgan_gp", 4, 32, 3, True)
    assert session2.source == "moons" and session2.model.loss_kind == "wgan_gp" and session2.model.noise_dim == 4


def test_steps_update_only_what_they_step(views):
    session = views.session(None)
    d0, g0 = _params(session.model.discriminator), _params(session.model.generator)
    frame = views.step(session, 10, 1e-3, 1e-3, 1, False, mode="d")
    assert isinstance(frame, LabFrame) and session.step == 10 and session.n_d == 10 and session.n_g == 0
    assert _same(g0, _params(session.model.generator)) and not _same(d0, _params(session.model.discriminator))
    views.step(session, 1, 1e-3, 1e-3, 3, True, mode="both")
    assert session.n_d == 13 and session.n_g == 1
    figure, _, status, _ = views.frame(session, True)
    assert figure.data[-1].name == "G's gradient" and "D loss" in status and "G loss" in status
    fresh = views.session(None)  # an API client with no state
    views.step(fresh, 1, 1e-3, 1e-3, 1, False, mode="g")
    assert fresh.n_g == 1 and fresh.n_d == 0


def test_switching_the_loss_keeps_the_weights_and_changes_the_arrows(views):
    session = views.session(None)
    views.step(session, 30, 1e-3, 1e-3, 1, False, mode="d")
    weights = _params(session.model)
    minimax = views.set_loss(session, "minimax", True)
    non_saturating = views.set_loss(session, "non_saturating", True)
    assert _same(weights, _params(session.model)) and session.model.loss_kind == "non_saturating"
    lengths = [np.hypot(np.diff(f.figure.data[-1].x[:2]), np.diff(f.figure.data[-1].y[:2])) for f in (minimax, non_saturating)]
    assert lengths[0] < lengths[1]  # D rejects G's points: the saturating push is weaker
    with pytest.raises(ValueError, match="loss"):
        views.set_loss(session, "hinge", True)


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
def test_bad_values_are_refused_before_anything_changes(views, args, match):
    session = views.session(None)
    with pytest.raises(ValueError, match=match):
        views.step(session, *args, False, mode="both")
    with pytest.raises(ValueError, match=match):
        next(views.train(session, *args, False, stop=threading.Event()))
    assert session.step == 0 and not session.lock.locked()
    with pytest.raises(ValueError, match="show gradient"):
        views.frame(session, "yes")


@pytest.mark.parametrize(
    "args,match",
    [(("ring", "hinge"), "loss"), (("circle",), "dataset"), (("ring", "minimax", 0), "noise"), (("ring", "minimax", 2, 2**20), "hidden"), (("ring", "minimax", 2, 8, -1), "seed")],
)
def test_bad_reset_settings_are_refused(views, args, match):
    with pytest.raises(ValueError, match=match):
        views.reset(None, *args)


def test_train_streams_and_stop_keeps_the_weights(views, monkeypatch):
    monkeypatch.setattr(gan_lab, "YIELD_EVERY_S", 0.0)
    session, stop = views.session(None), threading.Event()
    run = views.train(session, 200, 1e-3, 1e-3, 1, False, stop=stop)
    assert "Starting: 200 steps" in next(run)[2] and session.step == 0
    _, _, status = next(run)
    assert session.step == 1 and "Training: 1 / 200" in status
    with pytest.raises(ValueError, match="training"):
        views.step(session, 1, 1e-3, 1e-3, 1, False)  # the run holds the lab
    with pytest.raises(ValueError, match="training"):
        views.reset(session, "grid")
    stop.set()
    _, _, status = list(run)[-1]
    assert "Stopped after 1 of 200" in status and session.step == 1 and not session.lock.locked()
    final = list(views.train(session, 5, 1e-3, 1e-3, 2, False, stop=threading.Event()))[-1]
    assert session.step == 6 and session.n_d == 1 + 10 and "Trained 5 steps" in final[2]


def test_divergence_keeps_the_last_finite_weights_and_says_so(views, monkeypatch):
    # Let a huge learning rate through the checks, as a bug or a tampered client might.
    monkeypatch.setattr(gan_lab, "LR", Range(1e-5, 1e40, 1e-3, integer=False))
    monkeypatch.setattr("models.gan2d.LR_RANGE", (1e-5, 1e40))
    session = views.session(None)
    views.step(session, 3, 1e-3, 1e-3, 1, False)
    before = _params(session.model)
    _, _, status, notice = views.step(session, 5, 1e38, 1e-3, 1, False, mode="d")
    assert "Diverged at step 4" in status and "last finite weights are kept" in status and "D diverged" in notice
    assert session.step == 3 and _same(before, _params(session.model))
    _, _, status = list(views.train(session, 50, 1e-3, 1e38, 1, False, stop=threading.Event()))[-1]
    assert "Diverged at step 4**, after 0 of 50 steps" in status and "G diverged" in status
    assert all(bool(torch.isfinite(p).all()) for p in session.model.parameters())


def test_the_users_points(views, tmp_path):
    with pytest.raises(ValueError, match="no points drawn yet"):
        views.reset(None, "drawn")
    with pytest.raises(ValueError, match="no CSV points yet"):
        views.reset(None, "csv")
    image = _canvas()
    image[20:180, 98:102] = (0, 0, 0, 255)  # a vertical stroke
    session, frame = views.draw(None, {"composite": image, "layers": [], "background": None})
    assert session.source == "drawn" and len(session.real) == 600
    assert "600 points sampled" in frame.status and frame.notice.startswith("Using 600 points")
    with pytest.raises(ValueError, match="nothing is drawn"):
        views.draw(session, {"composite": _canvas(), "layers": []})
    session, frame = views.paste_csv(session, "x,y\n0,0\n1,1\n2,0\n")
    assert session.source == "csv" and len(session.real) == 3
    with pytest.raises(ValueError, match="not a number"):
        views.paste_csv(session, "x,y\n1,2\nfoo,bar\n")
    with pytest.raises(ValueError, match="paste CSV"):
        views.paste_csv(session, "  ")
    path = tmp_path / "p.csv"
    path.write_text("1,2,3\n")
    with pytest.raises(ValueError, match="3 columns"):
        views.load_csv(session, str(path))
    with pytest.raises(ValueError, match="upload a CSV"):
        views.load_csv(session, None)
    # Both kinds of user points survive a reset to another dataset and back.
    session = views.reset(session, "grid")[0]
    assert len(views.reset(session, "drawn")[0].real) == 600 and len(views.reset(session, "csv")[0].real) == 3


def _modes_after(views, settings: dict, steps: int) -> int:
    """Reset the lab with ``settings`` (as the demo's button does), train ``steps`` steps,
    and count the ring's modes G's fixed-noise points cover."""
    s = settings
    session = views.reset(None, s["dataset"], s["loss"], s["noise_dim"], s["hidden"], s["seed"], False)[0]
    list(views.train(session, steps, s["lr_d"], s["lr_g"], s["k"], False, stop=threading.Event()))
    with torch.no_grad():
        fake = session.model.generate(session.eval_noise)
    return toy2d.mode_coverage(fake, *toy2d.mode_centres("ring"))[0]


def test_the_mode_collapse_demo_collapses_and_equal_rates_do_not(views):
    """The saturating loss with D far ahead of G gathers G's points on a mode or two of
    the ring; the same loss with equal learning rates covers all eight."""
    assert COLLAPSE_PRESET["loss"] == "minimax" and COLLAPSE_PRESET["dataset"] == "ring"
    assert COLLAPSE_PRESET["steps"] <= 300  # the demo trains as it starts: a few seconds, for the tour
    assert _modes_after(views, COLLAPSE_PRESET, COLLAPSE_PRESET["steps"]) <= 2
    balanced = dict(COLLAPSE_PRESET, lr_d=gan_lab.LR.default, lr_g=gan_lab.LR.default)
    assert _modes_after(views, balanced, 600) == 8

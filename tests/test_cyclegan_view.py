"""The CycleGAN page's views, called directly (no gradio): the strips and figures of the
page's model, bad values refused with a sentence, a training run that streams and replaces
the model, and its Stop."""

from __future__ import annotations

import threading

import pytest
import torch

from models.base import seeded_init
from models.cyclegan import CycleGAN
from playground.views.base import Context
from playground.views.cyclegan import CycleSession, CycleViews

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def views(data):
    views = CycleViews(Context(torch.device("cpu"), data))
    views.__dict__["bundled"] = seeded_init(CycleGAN, 0, width=4, n_blocks=0).eval()  # a tiny stand-in for the checkpoint
    return views


def test_a_new_session_shows_the_bundled_model_strips_and_figures(views):
    session = views.session(None)
    assert isinstance(session, CycleSession) and session.model is views.bundled and session.name == "bundled"
    picture, figures = views.strips(session, 3, 5)
    assert picture.dtype == "uint8" and picture.shape[0] == 3 * 28 + 4 * 2 and picture.shape[1] > 2 * 5 * 28
    assert "stroke thickness (px)" in figures and "Cycle error" in figures and "A → B → A" in figures


@pytest.mark.parametrize(
    ("start", "n_shown", "message"), [(-1, 8, "first test digit"), (495, 8, "first test digit"), (0, 13, "digits shown"), ("x", 8, "first test digit")],
)
def test_bad_strip_values_are_refused_with_a_sentence(views, start, n_shown, message):
    with pytest.raises(ValueError, match=message):
        views.strips(views.session(None), start, n_shown)


@pytest.mark.parametrize(
    ("settings", "message"),
    [(dict(domain="colour"), "domain"), (dict(steps=5), "steps"), (dict(cycle_weight=-1), "cycle weight"), (dict(lr=1.0), "learning rate"), (dict(seed=-2), "seed")],
)
def test_bad_training_settings_change_nothing(views, settings, message):
    session = views.session(None)
    with pytest.raises(ValueError, match=message):
        next(views.train(session, **settings, stop=threading.Event()))
    assert session.model is views.bundled


def test_training_streams_and_replaces_the_model(views):
    session = views.session(None)
    updates = list(views.train(session, "slant", 20, 10.0, 5.0, 1e-3, 0, stop=threading.Event()))
    assert updates[0][0] == "Starting…" and len(updates) >= 3
    status, picture, figures, curves = updates[-1]
    assert status.startswith("**done**") and picture is not None and curves is not None
    assert session.model is not views.bundled and session.model.domain == "slant" and session.name.startswith("trained here (20 steps")
    assert "slant" in figures and not session.lock.locked()
    assert views.restore(session).model is views.bundled


def test_stop_keeps_the_weights_reached(views):
    session = views.session(None)
    stop = threading.Event()
    stream = views.train(session, "thickness", 3000, stop=stop)
    next(stream)
    next(stream)
    stop.set()
    status = list(stream)[-1][0]
    assert status.startswith("**stopped**") and session.model is not views.bundled and "of 3,000 steps" in session.name

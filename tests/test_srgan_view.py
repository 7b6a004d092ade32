"""The SRGAN page's views, called directly (no gradio): the side-by-side comparison and its
table (PSNR, consistency, the judges), bad values refused with a sentence, a training run
that streams and replaces the model, and its Stop."""

from __future__ import annotations

import threading

import pytest
import torch

from models.base import seeded_init
from models.srgan import SRGAN
from playground.views.base import Context
from playground.views.srgan import SRSession, SRViews

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def views(data):
    views = SRViews(Context(torch.device("cpu"), data))
    views.__dict__["bundled"] = seeded_init(SRGAN, 0, width=4, n_blocks=0).eval()  # a tiny stand-in for the checkpoint
    return views


def test_a_new_session_shows_the_comparison_and_its_table(views):
    session = views.session(None)
    assert isinstance(session, SRSession) and session.model is views.bundled and session.name == "bundled"
    picture, figures = views.compare(session, 10, 4)
    assert picture.dtype == "uint8" and picture.shape == (5 * 28 + 6 * 2, 4 * 28 + 5 * 2)
    for words in ("PSNR (dB)", "bicubic", "pixel loss only (SRResNet)", "SRGAN (content + adversarial)", "judges agree", "original 28×28"):
        assert words in figures
    assert views.compare(session, 0, 2)[1] is figures  # computed once per model


@pytest.mark.parametrize(("start", "n_shown", "message"), [(-1, 8, "first test digit"), (499, 2, "first test digit"), (0, 1, "digits shown"), (0, None, "digits shown")])
def test_bad_values_are_refused_with_a_sentence(views, start, n_shown, message):
    with pytest.raises(ValueError, match=message):
        views.compare(views.session(None), start, n_shown)


@pytest.mark.parametrize(("settings", "message"), [(dict(steps=4000), "steps"), (dict(adv_weight=float("nan")), "adversarial weight"), (dict(lr=0), "learning rate")])
def test_bad_training_settings_change_nothing(views, settings, message):
    session = views.session(None)
    with pytest.raises(ValueError, match=message):
        next(views.train(session, **settings, stop=threading.Event()))
    assert session.model is views.bundled


def test_training_streams_and_replaces_the_model(views):
    session = views.session(None)
    updates = list(views.train(session, 20, 0.01, 1e-3, 3, stop=threading.Event()))
    assert updates[0][0] == "Starting…" and len(updates) >= 3
    status, picture, figures, curves = updates[-1]
    assert status.startswith("**done**") and picture is not None and curves is not None and "judges agree" in figures
    assert session.model is not views.bundled and session.model.adv_weight == 0.01 and session.name.startswith("trained here (20 steps")
    assert views.restore(session).model is views.bundled and not session.lock.locked()


def test_stop_keeps_the_weights_reached(views):
    session = views.session(None)
    stop = threading.Event()
    stream = views.train(session, 3000, stop=stop)
    next(stream)
    next(stream)
    stop.set()
    assert list(stream)[-1][0].startswith("**stopped**") and "of 3,000 steps" in session.name

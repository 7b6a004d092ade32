"""The wake-sleep page's views, without gradio: the first pictures, a short fine-tuning run
that streams and keeps the fine-tuned copy, Stop, bad values."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from models.base import seeded_init
from models.dbn import DBN
from playground.views.base import Context, Session
from playground.views.wake_sleep import WakeSleepView, WakeSleepViews

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def views(data):
    return WakeSleepViews(Context(torch.device("cpu"), data))


def _small(views) -> Session:
    model = seeded_init(DBN, 0, hidden_sizes=[40, 20], n_gibbs=5)
    with torch.no_grad():
        model.layers[0].weight.normal_(0, 0.1, generator=torch.Generator().manual_seed(0))
    return Session({"dbn": WakeSleepView(model, "tiny", views.ctx)})


def test_first_pictures_before_any_fine_tuning(views):
    before, after, recognition, generative, figure, summary = views.pictures(_small(views))
    assert after is None and before.dtype == np.uint8 and np.array_equal(recognition, generative)  # tied: the same filters
    assert "Untied" in summary and figure is not None


def test_fine_tuning_streams_and_keeps_the_tuned_copy(views):
    session = _small(views)
    events = list(views.fine_tune(session, 30, 0.05, 1, 0, stop=threading.Event()))
    status, _figure, after, recognition, generative = events[-1]
    assert status.startswith("**done** after 30 steps") and after is not None and not np.array_equal(recognition, generative)
    assert session.view.tuned is not None and [h["step"] for h in session.view.history] == [0, 25, 30]
    last = session.view.history[-1]
    assert last["wake"]["recognition"] == 0 and last["sleep"]["generative"] == 0 and last["wake"]["generative"] > 0


def test_stop_keeps_what_was_learnt(views):
    session, stop = _small(views), threading.Event()
    run = views.fine_tune(session, 2000, 0.05, 1, 0, stop=stop)
    next(run)
    stop.set()
    assert "**stopped**" in list(run)[-1][0] and session.view.tuned is not None


@pytest.mark.parametrize(
    "args,message",
    [((0, 0.05, 1, 0), "steps must be in"), ((10, float("nan"), 1, 0), "learning rate must be"), ((10, 0.05, 50, 0), "top-level Gibbs steps must be in")],
)
def test_bad_values_are_readable_errors(views, args, message):
    with pytest.raises(ValueError, match=message):
        next(views.fine_tune(_small(views), *args, stop=threading.Event()))

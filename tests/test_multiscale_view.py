"""The multiscale PixelCNN page's views, without gradio: the stages picture, the race with
samples/s, the table, bad values, and live training with Stop."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from models.base import seeded_init
from models.multiscale import MultiscalePixelCNN
from models.pixelcnn import PixelCNN
from playground.views.base import Context
from playground.views.multiscale import MsViews

TINY = dict(channels=4, n_layers=1, base_channels=4, base_layers=1)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def views(data):
    v = MsViews(Context(device=torch.device("cpu"), data=data))
    v._bundled = (seeded_init(MultiscalePixelCNN, 0, **TINY).eval(), seeded_init(PixelCNN, 0, channels=4, n_layers=1).eval())
    return v


@pytest.fixture
def session(views):
    return views.session(None)


def test_stages_show_one_row_per_digit_and_seven_columns(views, session):
    picture, text = views.stages(session, 3, 1)
    assert picture.dtype == np.uint8
    assert picture.shape[0] < picture.shape[1]  # 3 rows of 7
    assert "55 network passes" in text


def test_first_picture_names_both_speeds(views, session):
    picture, caption = views.first(session)
    assert picture.dtype == np.uint8 and "samples/s" in caption and "PixelCNN" in caption


def test_race_streams_the_pixelcnn_rows_and_ends_with_samples_per_second(views, session):
    frames = list(views.race(session, 1, 0))
    assert len(frames) == 1 + 27 + 1
    assert "samples/s" in frames[-1][1] and "faster" in frames[-1][1]
    assert not session.lock.locked()


def test_table_lists_the_three_models(views, session):
    text = views.table(session)
    assert "Multiscale PixelCNN" in text and "same budget" in text and "bundled" in text
    assert session.nll is not None and session.nll > 0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda v, s: v.stages(s, 0, 0), "samples"),
        (lambda v, s: v.stages(s, 2, -1), "seed"),
        (lambda v, s: list(v.race(s, 17, 0)), "samples"),
        (lambda v, s: list(v.train(s, 10, stop=threading.Event())), "steps"),
        (lambda v, s: list(v.train(s, 100, 2.0, stop=threading.Event())), "learning rate"),
    ],
)
def test_bad_values_are_readable_errors(views, session, call, match):
    with pytest.raises(ValueError, match=match):
        call(views, session)


def test_training_streams_and_stop_keeps_the_weights_reached(views, session):
    stop = threading.Event()
    before = session.model
    updates = []
    for update in views.train(session, 500, 2e-3, 1, stop=stop):
        updates.append(update)
        if len(updates) == 2:
            stop.set()
    assert updates[0][0].startswith("Starting")
    assert "stopped" in updates[-1][0] and "drives this page" in updates[-1][0]
    assert session.model is not before and session.name.startswith("trained here")

"""The PixelCNN++ page's views, without gradio: first picture, drawing with samples/s,
the likelihood table, one pixel's distributions, bad values, and live training with Stop."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from models.base import seeded_init
from models.pixelcnnpp import PixelCNNpp, SoftmaxPixelCNN
from playground.views.base import Context
from playground.views.pixelcnnpp import FAMILIES, PpSession, PpViews, read_figures, write_figures


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def views(data):
    return PpViews(Context(device=torch.device("cpu"), data=data))


@pytest.fixture
def session():
    models = {"pixelcnnpp": seeded_init(PixelCNNpp, 0, filters=4, n_mix=2).eval(), "pixelcnn256": seeded_init(SoftmaxPixelCNN, 0, channels=4, n_layers=1).eval()}
    samples = {f: (torch.zeros(4, 1, 28, 28), 1.0) for f in FAMILIES}
    return PpSession(models, dict.fromkeys(FAMILIES, "tiny"), dict.fromkeys(FAMILIES), samples)


def test_first_picture_is_immediate_and_names_both(views, session):
    picture, caption = views.first(session)
    assert picture.dtype == np.uint8 and picture.ndim == 2
    assert "PixelCNN++" in caption and "softmax" in caption


def test_draw_streams_rows_and_ends_with_samples_per_second(views, session):
    frames = list(views.draw(session, 1, 5))
    assert len(frames) == 28
    assert all(f[0].dtype == np.uint8 for f in frames)
    assert "row 1 of 28" in frames[0][1] and "samples/s" in frames[-1][1]
    assert not session.lock.locked()


def test_table_gives_bits_per_dim_of_both(views, session):
    text = views.table(session)
    assert "PixelCNN++" in text and "bits/dim" in text
    assert all(0 < session.bits[f] < 9 for f in FAMILIES)


def test_conditional_plots_both_distributions(views, session, data):
    fig, text = views.conditional(session, 3, 14, 14)
    assert len(fig.data) == 2
    for trace in fig.data:
        assert abs(float(np.sum(trace.y)) - 1) < 1e-4
    true = int(round(float(data.images("test", "grey")[3, 0, 14, 14]) * 255))
    assert f"true level **{true}**" in text


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda v, s: v.conditional(s, 10_000, 3, 3), "test digit"),
        (lambda v, s: v.conditional(s, 0, 28, 3), "row"),
        (lambda v, s: v.conditional(s, 0, 3, -1), "column"),
        (lambda v, s: list(v.draw(s, 0, 0)), "samples"),
        (lambda v, s: list(v.draw(s, 2, -3)), "seed"),
        (lambda v, s: list(v.train(s, "gan", stop=threading.Event())), "model"),
        (lambda v, s: list(v.train(s, "pixelcnnpp", 5, stop=threading.Event())), "steps"),
        (lambda v, s: list(v.train(s, "pixelcnnpp", 100, float("nan"), stop=threading.Event())), "learning rate"),
    ],
)
def test_bad_values_are_readable_errors(views, session, call, match):
    with pytest.raises(ValueError, match=match):
        call(views, session)


def test_training_streams_and_stop_keeps_the_weights_reached(views, session):
    stop = threading.Event()
    before = session.models["pixelcnn256"]
    updates = []
    for update in views.train(session, "pixelcnn256", 400, 2e-3, 1, stop=stop):
        updates.append(update)
        if len(updates) == 2:
            stop.set()
    assert updates[0][0].startswith("Starting")
    status = updates[-1][0]
    assert "stopped" in status and "now stands for" in status
    assert session.models["pixelcnn256"] is not before and session.names["pixelcnn256"].startswith("trained here")


def test_figures_round_trip(tmp_path, session, data):
    model = session.models["pixelcnn256"]
    figures = write_figures(model, data, tmp_path)
    bits, (images, seconds) = read_figures(model, tmp_path, data)
    assert bits == figures["test_nll"]["bits_per_dim"] and images.shape == (16, 1, 28, 28)
    assert read_figures(session.models["pixelcnnpp"], tmp_path, data) == (None, None)  # another model's weights

"""The DBM page's views, without gradio: samples, the mean-field panel reaching its fixed
point, the NLL table beside the RBM's and DBN's, live training with Stop, bad values."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from models.base import seeded_init
from models.dbm import DBM
from playground.views.base import Context, Session
from playground.views.dbm import DbmView, DbmViews

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def views(data):
    return DbmViews(Context(torch.device("cpu"), data))


def _small(views) -> Session:
    model = seeded_init(DBM, 0, n_hidden1=16, n_hidden2=8, n_gibbs=5)
    with torch.no_grad():
        model.weight1.normal_(0, 0.1, generator=torch.Generator().manual_seed(0))
    return Session({"dbm": DbmView(model, "tiny", views.ctx)})


def test_samples_are_a_grid_with_a_reading(views):
    grid, text = views.samples(_small(views), 5, 3)
    assert grid.dtype == np.uint8 and grid.ndim >= 2 and "5 Gibbs sweeps" in text


def test_mean_field_panel_reaches_its_fixed_point(views):
    strip, figure, text = views.mean_field(_small(views), 7, 60)
    assert strip.dtype == np.uint8 and "a fixed point" in text and "not yet" not in text
    assert len(figure.data[0].y) == 60 and figure.data[0].y[-1] < 1e-4


def test_estimate_fills_the_table_beside_the_rbm_and_dbn(views):
    session = _small(views)
    assert "press Estimate" in views.nll_table(session)
    session, table = views.estimate(session, 100, 10, 0)
    assert "exact log Z" in table and "press Estimate" not in table  # 16 units in h1: log Z by enumeration
    assert session.view.estimate and "DBM (tiny)" in table


def test_training_streams_and_replaces_the_session_model(views):
    session = _small(views)
    events = list(views.train(session, 10, 10, 1, 1, 0.05, 0, stop=threading.Event()))
    assert events[0][0] == "Starting…" and "done" in events[-1][0] and events[-1][2] is not None
    assert session.view.model.n_hidden1 == 10 and "trained here" in session.view.name


def test_stop_keeps_the_weights_reached(views):
    session, stop = _small(views), threading.Event()
    run = views.train(session, 10, 10, 2, 2, 0.05, 0, stop=stop)
    next(run), next(run)
    stop.set()
    last = list(run)[-1]
    assert "stopped" in last[0] and session.view.model.n_hidden1 == 10


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda v, s: v.samples(s, 0, 0), "Gibbs steps must be in"),
        (lambda v, s: v.mean_field(s, 600, 5), "test digit must be in"),
        (lambda v, s: v.mean_field(s, 0, 0), "mean-field sweeps must be in"),
        (lambda v, s: v.estimate(s, 5, 10, 0), "AIS temperatures must be in"),
        (lambda v, s: next(v.train(s, 5, 10, 1, 1, 0.05, 0, stop=threading.Event())), "units in h1 must be in"),
        (lambda v, s: next(v.train(s, 10, 10, 1, 1, float("nan"), 0, stop=threading.Event())), "learning rate must be"),
    ],
)
def test_bad_values_are_readable_errors(views, call, message):
    with pytest.raises(ValueError, match=message):
        call(views, _small(views))

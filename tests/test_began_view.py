"""The BEGAN page's views, called directly (no gradio): samples beside D's reconstructions
and the equilibrium figures, bad values refused with a sentence, a training run that
streams the convergence measure and replaces the model, and its Stop."""

from __future__ import annotations

import threading

import pytest
import torch

from models.base import seeded_init
from models.began import BEGAN
from playground.views.base import Context
from playground.views.began import CURVES, BeganSession, BeganViews

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def views(data):
    views = BeganViews(Context(torch.device("cpu"), data))
    views.__dict__["bundled"] = seeded_init(BEGAN, 0, latent_dim=8, hidden_dim=8, width=4).eval()  # a tiny stand-in for the checkpoint
    return views


def test_a_new_session_shows_samples_reconstructions_and_figures(views):
    session = views.session(None)
    assert isinstance(session, BeganSession) and session.model is views.bundled and session.name == "bundled"
    picture, figures = views.samples(session, 3)
    assert picture.dtype == "uint8" and picture.shape[0] == 4 * 28 + 5 * 2 and picture.shape[1] > 2 * 8 * 28
    assert "judges" in figures and "L(x)" in figures and "M_global" in figures and "k = " in figures
    again, _ = views.samples(session, 3)
    other, _ = views.samples(session, 4)
    assert (picture == again).all() and not (picture == other).all()


@pytest.mark.parametrize("seed", [-1, 2**31, "x", 1.5])
def test_a_bad_seed_is_refused_with_a_sentence(views, seed):
    with pytest.raises(ValueError, match="seed"):
        views.samples(views.session(None), seed)


@pytest.mark.parametrize(
    ("settings", "message"),
    [(dict(gamma=0), "γ"), (dict(gamma=1.5), "γ"), (dict(lambda_k=0.5), "λ_k"), (dict(steps=5), "steps"), (dict(lr=1.0), "learning rate"), (dict(seed=-2), "seed")],
)
def test_bad_training_settings_change_nothing(views, settings, message):
    session = views.session(None)
    with pytest.raises(ValueError, match=message):
        next(views.train(session, **settings, stop=threading.Event()))
    assert session.model is views.bundled


def test_training_streams_the_convergence_measure_and_replaces_the_model(views):
    session = views.session(None)
    updates = list(views.train(session, 0.7, 0.02, 20, 1e-3, 0, stop=threading.Event()))
    assert updates[0][0] == "Starting…" and len(updates) >= 3
    assert any(u[0].startswith("step ") and "M_global" in u[0] for u in updates[1:-1])
    status, picture, figures, curves = updates[-1]
    assert status.startswith("**done**") and picture is not None and "γ = 0.7" in figures
    panels = {trace.yaxis for trace in curves.data}
    assert len(panels) == len(CURVES)  # M_global, k and the balance, each its own panel
    k_axis = "y" if list(CURVES).index("k") == 0 else f"y{list(CURVES).index('k') + 1}"
    assert all(0.0 <= v <= 1.0 for trace in curves.data if trace.yaxis == k_axis for v in trace.y)
    assert session.model is not views.bundled and session.model.gamma == 0.7 and session.name.startswith("trained here (20 steps")


def test_stop_keeps_the_weights_reached_and_one_run_per_session(views):
    session = views.session(None)
    stop = threading.Event()
    run = views.train(session, 0.5, 0.01, 2000, 5e-4, 1, stop=stop)
    assert next(run)[0] == "Starting…"
    with pytest.raises(ValueError, match="already training"):
        next(views.train(session, stop=threading.Event()))
    with pytest.raises(ValueError, match="press Stop"):
        views.restore(session)
    next(run)
    stop.set()
    status = list(run)[-1][0]
    assert status.startswith("**stopped**") and session.name.startswith("trained here (") and " of 2,000 steps" in session.name
    assert views.restore(session).model is views.bundled

"""The PixelVAE page's views, without gradio: the VAE beside the PixelVAE, the same-z grid,
the KL table, the whole-past receptive fields, training and bad values."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from models.base import seeded_init
from models.pixelvae import PixelVAE
from playground.views import pixelvae as pv
from playground.views.base import Context

TINY = dict(latent_dim=4, hidden=8, channels=8, n_layers=1, kernel_size=3, n_importance=4)


@pytest.fixture(scope="module")
def views(data):
    return pv.PvViews(Context(torch.device("cpu"), data))


def _small(views) -> pv.PvSession:
    return pv.PvSession(seeded_init(PixelVAE, 0, **TINY).eval(), "small")


def test_the_vae_beside_the_pixelvae(views):
    picture, text = views.compare(_small(views), 2, 0)
    assert picture.dtype == np.uint8 and "VAE" in text and "PixelVAE" in text and "small" in text
    again, _ = views.compare(_small(views), 2, 0)
    assert np.array_equal(picture, again)  # seeded


def test_the_same_z_grid_and_its_figures(views):
    grid, text = views.latent(_small(views), 2, 3, 0)
    assert grid.shape == (2 * 30 + 2, 3 * 30 + 2) and "same z" in text and "different z" in text
    with pytest.raises(ValueError, match="latents"):
        views.latent(_small(views), 7, 3, 0)
    with pytest.raises(ValueError, match="draws per latent"):
        views.latent(_small(views), 2, 0, 0)


def test_the_kl_table_has_every_digit_class(views):
    text = views.kl_table(_small(views))
    assert "PixelVAE" in text and "| VAE |" in text and all(f"KL {d}" in text for d in range(10))


def test_the_whole_past_models_have_no_blind_spot(views):
    picture, text = views.receptive_fields(14, 3)
    assert picture.shape == (280, 3 * 292 - 12, 3)
    counts = {part.split(":")[0].strip(" .").split(". ")[-1]: part for part in text.split(" · ")}
    assert "blind to **0**" in counts["PixelSNAIL"] and "blind to **0**" in counts["Diagonal BiLSTM"]
    assert "blind to **0**" not in counts["PixelCNN"]
    with pytest.raises(ValueError, match="row"):
        views.receptive_fields(28, 0)


def test_training_replaces_the_sessions_model_and_bad_values_are_refused(views, monkeypatch):
    monkeypatch.setattr(views, "_bundled_model", lambda name: seeded_init(PixelVAE, 0, **TINY))
    session = _small(views)
    out = list(views.train(session, 20, 3e-3, 0, stop=threading.Event()))
    assert "Starting" in out[0][0] and session.name != "small" and "drives this page" in out[-1][0]
    for bad in (dict(steps=10), dict(lr=1.0), dict(seed=-1)):
        with pytest.raises(ValueError):
            list(views.train(session, **{**dict(steps=20, lr=1e-3, seed=0), **bad}, stop=threading.Event()))
    with pytest.raises(ValueError, match="seed"):
        views.compare(session, 2, -1)

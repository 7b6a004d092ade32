"""Autoregressive tab handlers, called directly (no browser): outputs, limits and isolation."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import torch

from models import MADE, NADE, GatedPixelCNN, PixelCNN, PixelRNN
from models.base import seeded_init
from playground.core.sessions import SessionRegistry
from playground.ui.tabs import autoregressive as ar
from playground.ui.legacy import AppContext


@pytest.fixture(scope="module")
def tab(data):
    return ar.AutoregressiveTab(AppContext(torch.device("cpu"), data, SessionRegistry()))


def _request(name="alice"):
    return SimpleNamespace(session_hash=name)


def _small_session(tab) -> ar.ArSession:
    models = {
        "nade": seeded_init(NADE, 0, n_hidden=16),
        "made": seeded_init(MADE, 0, hidden_sizes=[64], n_masks=3),
        "pixelcnn": seeded_init(PixelCNN, 0, channels=8, n_layers=3),
        "gated_pixelcnn": seeded_init(GatedPixelCNN, 0, channels=8, n_layers=3, n_classes=10),
        "pixelrnn": seeded_init(PixelRNN, 0, channels=4, n_layers=1),
    }
    return ar.ArSession({f: ar.ArView(m, "small", tab.ctx) for f, m in models.items()})


def _train(tab, request=None, state=None, **overrides):
    settings = dict(family="pixelcnn", size=8, layers=2, masks=1, conditional=False, steps=50, lr=3e-3, seed=0)
    settings.update(overrides)
    return list(tab.train(state, request=request or _request(), **settings))


def test_a_bundled_model_of_every_family_is_alive_on_open(tab):
    session = tab.session(None)
    assert set(session.models) == set(ar.FAMILIES)
    for family, view in session.models.items():
        assert view.model.family == family and view.name == f"bundled `{family}`"
    assert session.models["gated_pixelcnn"].model.conditional
    text = tab.describe(session)
    assert all(name in text for name in ar.NAMES.values())
    grid, note = tab.samples(None, "nade", 4, 0)
    assert grid.dtype == np.uint8 and grid.shape == (32, 4 * 30 + 2) and "4 samples" in note


def test_the_likelihood_table_lists_every_model_next_to_the_published_figures(tab):
    session = _small_session(tab)
    text = tab.table(session)
    for title, _, published, _ in ar.PUBLISHED:
        assert title in text
        if published is not None:
            assert f"{published:.2f}" in text
    # Exact: an untrained PixelCNN starts near 784 ln 2 = 543 nats per digit.
    nll = session.models["pixelcnn"].test_nll
    assert 400 < nll < 700 and f"**{nll:.1f}**" in text


def test_training_streams_curves_and_samples_and_replaces_the_family_model(tab):
    session = _small_session(tab)
    events = _train(tab, state=session, steps=60)
    session_out, status, curves, samples = events[-1]
    assert session_out is session and "**done**" in status and "Test NLL" in status
    assert session.models["pixelcnn"].model.channels == 8 and session.models["pixelcnn"].name.startswith("trained here")
    assert {trace.name for trace in curves.data} >= {"train", "test"}
    assert isinstance(samples, np.ndarray) and samples.shape == (2 * 30 + 2, 8 * 30 + 2)
    assert session.models["nade"].name == "small"  # the other families are untouched


def test_training_lowers_the_nll_on_real_digits(tab, data):
    events = _train(tab, family="nade", size=32, steps=100, lr=5e-3)
    session = events[-1][0]
    trained = ar.ArView(session.models["nade"].model, "trained", tab.ctx).test_nll
    fresh = ar.ArView(seeded_init(NADE, 0, n_hidden=32), "fresh", tab.ctx).test_nll
    assert trained < 0.5 * fresh, (trained, fresh)


def test_each_session_trains_its_own_models(tab):
    alice, bob = _small_session(tab), _small_session(tab)
    _train(tab, request=_request("alice"), state=alice, steps=50)
    assert alice.models["pixelcnn"].name.startswith("trained here") and bob.models["pixelcnn"].name == "small"
    assert tab.session(None).models["pixelcnn"].name == "bundled `pixelcnn`"


@pytest.mark.parametrize(
    "bad,message",
    [
        (dict(family="vae"), "model"), (dict(size=0), "channels"), (dict(family="nade", size=5000), "hidden units"),
        (dict(layers=99), "layers"), (dict(steps=10**7), "steps"), (dict(lr=float("nan")), "learning rate"),
        (dict(lr=-1), "learning rate"), (dict(conditional=True), "Gated"), (dict(family="made", masks=99), "masks"),
        (dict(seed=-1), "seed"),
    ],
)
def test_bad_training_settings_get_a_clear_message(tab, bad, message):
    with pytest.raises(gr.Error, match=message):
        _train(tab, **bad)


def test_watch_streams_the_samples_and_the_probability_map(tab):
    session = _small_session(tab)
    events = list(tab.watch(session, "nade", 4, 100, ar.LABEL_ANY, 0))
    picture, status, animation = events[-1]
    assert picture.ndim == 3 and picture.shape[2] == 3  # samples | probability map, RGB
    assert picture.shape[1] == 2 * (2 * 30 + 2) + 8
    assert "4 samples" in status and animation.endswith(".gif")
    # Conditional: a chosen digit for the gated model; refused for the others.
    picture, status, _ = list(tab.watch(session, "gated_pixelcnn", 2, 392, "3", 0))[-1]
    with pytest.raises(gr.Error, match="not class-conditional"):
        list(tab.watch(session, "pixelcnn", 2, 392, "3", 0))


@pytest.mark.parametrize(
    "bad,message",
    [(dict(n=0), "samples"), (dict(n=17), "samples"), (dict(every=0), "pixels per frame"), (dict(every=10**6), "pixels per frame"),
     (dict(family="rbm"), "model"), (dict(label="12"), "digit label"), (dict(seed=2**40), "seed")],
)
def test_bad_watch_values_get_a_clear_message(tab, bad, message):
    settings = dict(family="nade", n=2, every=100, label=ar.LABEL_ANY, seed=0)
    settings.update(bad)
    with pytest.raises(gr.Error, match=message):
        list(tab.watch(_small_session(tab), **settings))


def test_completion_keeps_the_top_rows_of_a_test_digit(tab, data):
    session = _small_session(tab)
    grid, note = tab.complete(session, "pixelcnn", "test digit", 5, None, 10, 3, ar.LABEL_ANY, 0)
    assert grid.shape == (32, 5 * 30 + 2)
    digit = data.images("test", "binary")[5, 0].numpy()
    for k in range(3):  # the completions (tiles 2..4) keep the top 10 rows
        tile = grid[2 : 2 + 28, 2 + (2 + k) * 30 : 2 + (2 + k) * 30 + 28]
        assert np.array_equal(tile[:10] > 127, digit[:10] > 0.5)
    assert f"a {int(data.test_labels[5])}" in note and "read as the true digit" in note


def test_conditional_completion_infers_the_digit_or_takes_a_given_one(tab):
    session = _small_session(tab)
    _, note = tab.complete(session, "gated_pixelcnn", "test digit", 0, None, 14, 2, ar.LABEL_ANY, 0)
    assert "p(y | kept rows)" in note
    _, note = tab.complete(session, "gated_pixelcnn", "test digit", 0, None, 14, 2, "4", 0)
    assert "p(y | kept rows)" not in note


def _pad(strokes: np.ndarray) -> dict:
    """A Sketchpad value: black strokes (alpha 255) on a transparent layer over white."""
    rgba = np.zeros((*strokes.shape, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[strokes] = (0, 0, 0, 255)
    return {"background": None, "layers": [rgba], "composite": rgba}


def _a_one(size=280):
    """A vertical bar: rows 1/7 to 6/7 of the canvas, a 14th of it wide, in the middle."""
    strokes = np.zeros((size, size), bool)
    strokes[size // 7 : size * 6 // 7, size * 13 // 28 : size * 15 // 28] = True
    return strokes


def test_completion_of_a_drawing(tab):
    grid, note = tab.complete(_small_session(tab), "made", "drawing", 0, _pad(_a_one()), 14, 2, ar.LABEL_ANY, 0)
    assert grid.shape == (32, 4 * 30 + 2) and "your 280 x 280 drawing" in note
    tile = grid[2:30, 2:30]  # the drawing as the model sees it: a vertical bar, centred
    cols = np.nonzero(tile.max(0) > 127)[0]
    assert 11 <= cols.mean() <= 16 and (tile.max(1) > 127).sum() == 20


@pytest.mark.parametrize(
    "drawing,message",
    [
        (None, "nothing is drawn"),
        (_pad(np.zeros((280, 280), bool)), "blank"),
        (np.full((280, 280, 3), 255, np.uint8), "blank"),
        (_pad(np.ones((280, 280), bool)), "ink"),
        (np.zeros((5, 5), np.uint8), "at least"),
        (np.zeros((5000, 10), np.uint8), "at most"),
        (np.zeros((40, 40, 4), np.uint8), "transparent"),
        (np.zeros((40, 40, 2), np.uint8), "grey, RGB or RGBA"),
        ({"composite": "not an image"}, "not an image"),
        (np.full((40, 40), np.nan), "NaN"),
    ],
)
def test_bad_drawings_get_a_clear_message(tab, drawing, message):
    with pytest.raises(gr.Error, match=message):
        tab.complete(_small_session(tab), "made", "drawing", 0, drawing, 14, 2, ar.LABEL_ANY, 0)


def test_a_colour_or_white_on_black_upload_is_read_as_a_digit(tab):
    strokes = _a_one(100)
    colour = np.zeros((100, 100, 3), np.uint8)
    colour[strokes] = (200, 30, 30)  # red strokes on black: light-on-dark
    _, note = tab.complete(_small_session(tab), "made", "drawing", 0, colour, 14, 2, ar.LABEL_ANY, 0)
    assert "colour turned into grey" in note


@pytest.mark.parametrize(
    "bad,message",
    [(dict(rows=0), "rows kept"), (dict(rows=28), "rows kept"), (dict(n=9), "completions"), (dict(index=10**6), "test digit"),
     (dict(source="camera"), "source"), (dict(label="x"), "digit label")],
)
def test_bad_completion_values_get_a_clear_message(tab, bad, message):
    settings = dict(family="gated_pixelcnn", source="test digit", index=0, drawing=None, rows=14, n=2, label=ar.LABEL_ANY, seed=0)
    settings.update(bad)
    with pytest.raises(gr.Error, match=message):
        tab.complete(_small_session(tab), **settings)


def test_the_receptive_field_view_shows_pixelcnns_blind_spot_and_none_for_the_gated_model(tab):
    picture, note = tab.receptive_field(_small_session(tab), 14, 14)
    assert picture.shape == (280, 2 * 280 + 12, 3)
    left, right = picture[:, :280], picture[:, 292:]
    orange = np.array([255, 160, 40])

    def n_orange(p):
        return int((np.abs(p[5::10, 5::10].astype(int) - orange).sum(2) < 10).sum())

    assert n_orange(left) > 0 and n_orange(right) == 0
    pixel_cnn, gated = note.split(" · ")
    assert "blind to **0**" in gated and "blind to **0**" not in pixel_cnn
    with pytest.raises(gr.Error, match="row"):
        tab.receptive_field(None, 28, 0)


def test_made_masks_are_strictly_lower_triangular_in_the_ordering(tab):
    session = _small_session(tab)
    for mask in range(3):
        matrix, picture, note = tab.made_masks(session, mask, 3, 4)
        connected = matrix < 128
        assert matrix.shape == (784, 784) and not np.triu(connected).any() and connected.any()
        assert picture.shape == (280, 280, 3) and f"Mask set {mask} of 3" in note
    with pytest.raises(gr.Error, match="mask set"):
        tab.made_masks(session, 3, 3, 4)


def test_loading_replaces_only_that_familys_model_and_refuses_others(tab, tmp_path):
    session = _small_session(tab)
    seeded_init(NADE, 1, n_hidden=8).save_pretrained(tmp_path / "nade8")
    session, info, family = tab.load(session, None, str(tmp_path / "nade8"))
    assert family == "nade" and session.models["nade"].model.n_hidden == 8 and session.models["made"].name == "small"
    with pytest.raises(gr.Error):
        tab.load(session, "rbm", "")
    seeded_init(PixelCNN, 0, channels=4, n_layers=1, image_size=10).save_pretrained(tmp_path / "small-image")
    with pytest.raises(gr.Error, match="28 x 28"):
        tab.load(session, None, str(tmp_path / "small-image"))
    assert session.models["pixelcnn"].name == "small"


def test_download_gives_a_zip_that_loads_back(tab, tmp_path):
    from playground.core import checkpoints

    session = _small_session(tab)
    path = tab.download(session, "made")
    model = checkpoints.load(str(checkpoints.unpack_zip(path, tmp_path)), family="made")
    assert model.n_masks == 3

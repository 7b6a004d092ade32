"""The autoregressive tab's views, called directly (no gradio): outputs, limits, isolation,
the figures kept with the bundled checkpoints, and Stop."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import numpy as np
import pytest
import torch

from models import MADE, NADE, DiagonalBiLSTM, GatedPixelCNN, PixelCNN, PixelRNN, PixelSNAIL
from models.base import seeded_init
from playground.core import checkpoints, metrics
from playground.views import ar_model
from playground.views import autoregressive as ar
from playground.views.base import Context

# Tiny models drawn pixel by pixel: a second intra-op thread only adds synchronisation.
pytestmark = pytest.mark.usefixtures("one_thread", "no_pacing")


@pytest.fixture
def no_pacing(monkeypatch):
    """Draws as fast as they compute (the app spreads a fast one over ``ar.PACE_S``)."""
    monkeypatch.setattr(ar, "PACE_S", 0.0)


@pytest.fixture(scope="module")
def views(data):
    return ar.ArViews(Context(torch.device("cpu"), data))


def _small_session(views) -> ar.ArSession:
    models = {
        "nade": seeded_init(NADE, 0, n_hidden=16),
        "made": seeded_init(MADE, 0, hidden_sizes=[64], n_masks=3),
        "pixelcnn": seeded_init(PixelCNN, 0, channels=8, n_layers=3),
        "gated_pixelcnn": seeded_init(GatedPixelCNN, 0, channels=8, n_layers=3, n_classes=10),
        "pixelrnn": seeded_init(PixelRNN, 0, channels=4, n_layers=1),
        "pixelsnail": seeded_init(PixelSNAIL, 0, channels=8, n_layers=1, key_dim=4),
        "diagonal_bilstm": seeded_init(DiagonalBiLSTM, 0, channels=4, n_layers=1),
    }
    return ar.ArSession({f: ar.ArView(m, "small", views.ctx) for f, m in models.items()})


def _train(views, session=None, stop=None, **overrides):
    settings = dict(family="pixelcnn", size=8, layers=2, masks=1, conditional=False, steps=50, lr=3e-3, seed=0)
    settings.update(overrides)
    return list(views.train(session if session is not None else views.session(None), **settings, stop=stop or threading.Event()))


def test_a_bundled_model_of_every_family_is_alive_on_open(views):
    session = views.session(None)
    assert set(session.views) == set(ar.FAMILIES)
    for family, view in session.views.items():
        assert view.model.family == family and view.name == f"bundled `{family}`"
    assert session.views["gated_pixelcnn"].model.conditional
    text = views.describe(session)
    assert all(name in text for name in ar.NAMES.values())
    grid, note = views.samples(None, "nade", 4, 0)
    assert grid.dtype == np.uint8 and grid.shape == (32, 4 * 30 + 2) and "4 samples" in note
    # No classifier score on samples: one classifier reads the Gated PixelCNN's scribbles
    # as confidently as NADE's digits, so a score would not be honest about them.
    assert "classifier reads" not in note and ar.NO_SCORE in note


def test_the_bundled_models_figures_are_kept_with_their_checkpoints(views):
    """The table and the first samples need no computing; what is kept is what the models give."""
    session = views.session(None)
    assert all(session.views[f].known_nll is not None for f in ar.FAMILIES)
    assert "computing…" not in views.table(session, compute=False)
    nade = session.views["nade"]
    assert nade.known_nll == pytest.approx(metrics.test_nll(nade.model, views.ctx.data, labels=False)["nll_nats"], abs=1e-3)
    kept, _, was_kept = nade.samples(ar.N_SHOWN, 0)
    assert was_kept and torch.equal(kept, ar_model.draw_samples(nade.model, ar.N_SHOWN, 0)[0])
    start = time.perf_counter()
    grid, note = views.samples(session, "gated_pixelcnn", ar.N_SHOWN, 0)  # the tab's first samples
    assert time.perf_counter() - start < 2.0 and "kept with the checkpoint" in note
    assert "kept" not in views.samples(session, "nade", ar.N_SHOWN, 1)[1]  # another seed is drawn


def test_kept_figures_are_ignored_for_other_weights_or_other_digits(views, data):
    nade = checkpoints.load("nade")
    assert ar_model.CachedFigures(nade).test_nll(data) is not None
    other = dataclasses.replace(data, name="mnist-full")
    assert ar_model.CachedFigures(nade).test_nll(other) is None
    with torch.no_grad():
        nade.b[0] += 1e-3
    changed = ar_model.CachedFigures(nade)
    assert changed.test_nll(data) is None and changed.samples(ar.N_SHOWN, 0) is None
    assert ar.ArView(nade, "changed", views.ctx).known_nll is None


def test_figures_round_trip_through_a_folder(views, tmp_path):
    model = seeded_init(NADE, 3, n_hidden=8).eval()
    written = ar_model.write_figures(model, views.ctx.data, tmp_path)
    kept = ar_model.CachedFigures(model, tmp_path)
    assert kept.test_nll(views.ctx.data) == written["test_nll"]["nll_nats"]
    images, seconds = kept.samples(ar_model.N_CACHED_SAMPLES, ar_model.CACHED_SEED)
    assert torch.equal(images, ar_model.draw_samples(model, ar_model.N_CACHED_SAMPLES, ar_model.CACHED_SEED)[0]) and seconds >= 0
    assert json.loads((tmp_path / ar_model.FIGURES_FILE).read_text())["weights_sha256"] == ar_model.weights_sha256(model)
    (tmp_path / ar_model.FIGURES_FILE).write_text("not json")
    assert ar_model.CachedFigures(model, tmp_path).test_nll(views.ctx.data) is None


def test_the_likelihood_table_lists_every_model_next_to_the_published_figures(views):
    session = _small_session(views)
    partial = views.table(session, compute=False)
    assert partial.count("computing…") == len(ar.FAMILIES)
    stream = list(views.table_stream(session))
    assert stream[0] == partial and len(stream) == len(ar.FAMILIES) + 1
    text = stream[-1]
    assert text == views.table(session) and "computing…" not in text
    for title, _, published, _ in ar_model.PUBLISHED:
        assert title in text
        if published is not None:
            assert f"{published:.2f}" in text
    # Exact: an untrained PixelCNN starts near 784 ln 2 = 543 nats per digit.
    nll = session.views["pixelcnn"].test_nll
    assert 400 < nll < 700 and f"**{nll:.1f}**" in text


def test_training_streams_curves_and_samples_and_replaces_the_family_model(views):
    session = _small_session(views)
    events = _train(views, session, steps=60)
    assert events[0] == ("Starting…", None, None)
    status, curves, samples = events[-1]
    assert "**done**" in status and "Test NLL" in status
    view = session.views["pixelcnn"]
    assert view.model.channels == 8 and view.name == "trained here (60 steps, seed 0)"
    assert {trace.name for trace in curves.data} >= {"train", "test"}
    assert isinstance(samples, np.ndarray) and samples.shape == (2 * 30 + 2, 8 * 30 + 2)
    assert session.views["nade"].name == "small"  # the other families are untouched
    # The run's last evaluation is the table's figure: the whole test split, no label.
    assert view.known_nll == pytest.approx(metrics.test_nll(view.model, views.ctx.data)["nll_nats"], abs=0.05)


def test_a_conditional_models_table_figure_is_left_to_the_table(views):
    session = _small_session(views)
    status = _train(views, session, family="gated_pixelcnn", size=4, layers=1, conditional=True, steps=50)[-1][0]
    assert "(given the label)" in status and session.views["gated_pixelcnn"].known_nll is None


def test_training_lowers_the_nll_on_real_digits(views):
    session = views.session(None)
    _train(views, session, family="nade", size=32, steps=100, lr=5e-3)
    trained = ar.ArView(session.views["nade"].model, "trained", views.ctx).test_nll
    fresh = ar.ArView(seeded_init(NADE, 0, n_hidden=32), "fresh", views.ctx).test_nll
    assert trained < 0.5 * fresh, (trained, fresh)


def test_each_session_trains_its_own_models(views):
    alice, bob = _small_session(views), _small_session(views)
    _train(views, alice, steps=50)
    assert alice.views["pixelcnn"].name.startswith("trained here") and bob.views["pixelcnn"].name == "small"
    assert views.session(None).views["pixelcnn"].name == "bundled `pixelcnn`"


def test_a_stopped_run_ends_at_once_and_is_named_by_the_steps_done(views):
    session = _small_session(views)
    stop = threading.Event()
    run = views.train(session, "pixelcnn", 8, 2, 1, False, 20_000, 3e-3, 0, stop=stop)
    for status, _, _ in run:
        if status.startswith("step"):
            stop.set()
            break
    start = time.perf_counter()
    status, _, _ = list(run)[-1]
    assert time.perf_counter() - start < 1.0
    view = session.views["pixelcnn"]
    assert "**stopped**" in status and "Test NLL" not in status
    assert " of 20,000 steps, seed 0)" in view.name and view.known_nll is None


@pytest.mark.parametrize(
    "bad,message",
    [
        (dict(family="vae"), "model"), (dict(size=0), "channels"), (dict(family="nade", size=5000), "hidden units"),
        (dict(layers=99), "layers"), (dict(steps=10**7), "steps"), (dict(lr=float("nan")), "learning rate"),
        (dict(lr=-1), "learning rate"), (dict(conditional=True), "Gated"), (dict(family="made", masks=99), "masks"),
        (dict(seed=-1), "seed"), (dict(conditional="yes"), "class-conditional"),
    ],
)
def test_bad_training_settings_get_a_clear_message(views, bad, message):
    with pytest.raises(ValueError, match=message):
        _train(views, _small_session(views), **bad)


def test_the_train_panels_defaults_build_every_family(views):
    for family in ar.FAMILIES:
        d = ar_model.default_settings(family)
        cls, config = ar.model_config(family, d["size"], d["layers"], d["masks"], d["conditional"], 0)
        assert cls.family == family and d["lr"] in (1e-3, 3e-3, 5e-3)


@pytest.mark.parametrize("family", ar.FAMILIES)
def test_the_train_panel_offers_each_familys_own_limits_and_the_views_check_the_same(family):
    """One slider per setting, whose limits and label follow the model chosen."""
    c = ar_model.train_controls(family)
    size, layers = c["size"], c["layers"]
    assert f"({size.low} to {size.high})" in c["size_label"] and ar.NAMES[family] in c["size_label"]
    assert (layers is None) == (family == "nade") and c["masks"] == (family == "made") and c["conditional"] == (family == "gated_pixelcnn")
    depth = layers.high if layers is not None else 1
    ar.model_config(family, size.high, depth, 1, False, 0)  # the top of each slider is accepted...
    with pytest.raises(ValueError, match="hidden units|channels"):
        ar.model_config(family, size.high + 1, depth, 1, False, 0)  # ...one more is not
    if layers is not None:
        assert f"({layers.low} to {layers.high})" in c["layers_label"]
        with pytest.raises(ValueError, match="layers"):
            ar.model_config(family, size.default, layers.high + 1, 1, False, 0)


def test_the_watch_view_opens_on_finished_kept_samples_with_the_probabilities_they_were_drawn_with(views):
    session = views.session(None)
    picture, status = views.watch_still(session, "nade", 4)
    nade = session.views["nade"].model
    kept = session.views["nade"].kept.samples(ar_model.N_CACHED_SAMPLES, ar_model.CACHED_SEED)[0][:4]
    with torch.no_grad():
        probs = torch.sigmoid(nade.logits(kept))
    assert np.array_equal(picture, ar.pictures.drawing_frame(kept, probs, None, 2)) and "drew earlier" in status
    # Teacher forcing gives p(x_i = 1 | x_<i) of the finished samples in one pass: the
    # numbers the draw had when it drew them.
    _, images, drawn = list(nade.draw(torch.zeros(16, 1, 28, 28), 0, None, torch.Generator().manual_seed(ar_model.CACHED_SEED)))[-1]
    assert torch.equal(images[:4], kept) and torch.allclose(drawn[:4], probs, atol=1e-5)
    gated, _ = views.watch_still(session, "gated_pixelcnn", 9)  # labels 0-8, as the kept samples were drawn
    assert gated.shape == (3 * 30 + 2, 2 * (3 * 30 + 2) + 8, 3)
    blank, status = views.watch_still(_small_session(views), "pixelcnn", 4)  # nothing kept: an empty canvas
    assert blank.shape == picture.shape and "Press **Draw**" in status
    assert np.array_equal(views.thumbnail(session), picture)
    with pytest.raises(ValueError, match="samples"):
        views.watch_still(session, "nade", 17)


def test_likelihood_and_looks_of_the_bundled_models_best_likelihood_first(views):
    shown, text = views.looks()
    nll = [float(title.rsplit("· ", 1)[1]) for title, _ in shown]
    assert len(shown) == len(ar.FAMILIES) and nll == sorted(nll)
    assert all(grid.shape == (4 * 30 + 2, 4 * 30 + 2) for _, grid in shown)
    # The lectures' point, made with the bundled models: the Gated PixelCNN's likelihood is
    # better than NADE's, though NADE's samples look more like digits. A retrained
    # checkpoint that breaks the order must change the text.
    gated, nade = (views.bundled_view(f).test_nll for f in ("gated_pixelcnn", "nade"))
    assert gated < nade and f"({gated:.1f} nats)" in text and f"({nade:.1f})" in text and "arXiv:1511.01844" in text


def test_the_card_and_the_tour(views, data):
    assert ar.CARD.tab == "ar-watch" and ar.CARD.kind == "explicit density · tractable (autoregressive)"
    assert 3 <= len(ar.TOUR) <= 5 and all(len(step.title) <= 30 for step in ar.TOUR)
    finish = next(step for step in ar.TOUR if step.tab == "ar-complete")
    assert f"this {int(data.test_labels[finish.values['c_index']])}" in finish.text  # "this 9": the digit it names


def test_watch_streams_the_samples_and_the_probability_map(views):
    session = _small_session(views)
    events = list(views.watch(session, "nade", 4, 100, ar.LABEL_ANY, 0))
    picture, status, animation = events[-1]
    assert picture.ndim == 3 and picture.shape[2] == 3  # samples | probability map, RGB
    assert picture.shape[1] == 2 * (2 * 30 + 2) + 8
    assert "4 samples" in status and animation.endswith(".gif") and "classifier" not in status
    assert all(a is None for _, _, a in events[:-1])
    # Conditional: a chosen digit for the gated model; refused for the others.
    list(views.watch(session, "gated_pixelcnn", 2, 392, "3", 0))
    with pytest.raises(ValueError, match="not class-conditional"):
        list(views.watch(session, "pixelcnn", 2, 392, "3", 0))


def test_a_fast_draw_is_spread_over_the_pace_to_be_watched_and_its_status_gives_the_computing_time(views, monkeypatch):
    monkeypatch.setattr(ar, "PACE_S", 1.0)
    start = time.perf_counter()
    events = list(views.watch(_small_session(views), "nade", 1, 28, ar.LABEL_ANY, 0))  # one digit: a grid without a border
    elapsed = time.perf_counter() - start
    assert elapsed >= 0.9 and len(events) >= 5  # about one picture every FRAME_S
    computing = float(events[-1][1].split(" s of computing")[0].rsplit(" ", 1)[1])
    assert computing < 0.5 * elapsed and "shown over" in events[-1][1]


@pytest.mark.parametrize(
    "bad,message",
    [(dict(n=0), "samples"), (dict(n=17), "samples"), (dict(every=0), "pixels per frame"), (dict(every=10**6), "pixels per frame"),
     (dict(family="rbm"), "model"), (dict(label="12"), "digit label"), (dict(seed=2**40), "seed")],
)
def test_bad_watch_values_get_a_clear_message(views, bad, message):
    settings = dict(family="nade", n=2, every=100, label=ar.LABEL_ANY, seed=0)
    settings.update(bad)
    with pytest.raises(ValueError, match=message):
        list(views.watch(_small_session(views), **settings))


def test_completion_keeps_the_top_rows_of_a_test_digit(views, data):
    session = _small_session(views)
    grid, note = views.complete(session, "pixelcnn", "test digit", 5, None, 10, 3, ar.LABEL_ANY, 0)
    assert grid.shape == (32, 5 * 30 + 2)
    digit = data.images("test", "binary")[5, 0].numpy()
    for k in range(3):  # the completions (tiles 2..4) keep the top 10 rows
        tile = grid[2 : 2 + 28, 2 + (2 + k) * 30 : 2 + (2 + k) * 30 + 28]
        assert np.array_equal(tile[:10] > 127, digit[:10] > 0.5)
    assert f"a {int(data.test_labels[5])}" in note and "read as the true digit" in note


def test_conditional_completion_infers_the_digit_or_takes_a_given_one(views):
    session = _small_session(views)
    _, note = views.complete(session, "gated_pixelcnn", "test digit", 0, None, 14, 2, ar.LABEL_ANY, 0)
    assert "p(y | kept rows)" in note
    _, note = views.complete(session, "gated_pixelcnn", "test digit", 0, None, 14, 2, "4", 0)
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


def test_completion_of_a_drawing(views):
    grid, note = views.complete(_small_session(views), "made", "drawing", 0, _pad(_a_one()), 14, 2, ar.LABEL_ANY, 0)
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
def test_bad_drawings_get_a_clear_message(views, drawing, message):
    with pytest.raises(ValueError, match=message):
        views.complete(_small_session(views), "made", "drawing", 0, drawing, 14, 2, ar.LABEL_ANY, 0)


def test_a_colour_or_white_on_black_upload_is_read_as_a_digit(views):
    strokes = _a_one(100)
    colour = np.zeros((100, 100, 3), np.uint8)
    colour[strokes] = (200, 30, 30)  # red strokes on black: light-on-dark
    _, note = views.complete(_small_session(views), "made", "drawing", 0, colour, 14, 2, ar.LABEL_ANY, 0)
    assert "colour turned into grey" in note


@pytest.mark.parametrize(
    "bad,message",
    [(dict(rows=0), "rows kept"), (dict(rows=28), "rows kept"), (dict(n=9), "completions"), (dict(index=10**6), "test digit"),
     (dict(source="camera"), "source"), (dict(label="x"), "digit label")],
)
def test_bad_completion_values_get_a_clear_message(views, bad, message):
    settings = dict(family="gated_pixelcnn", source="test digit", index=0, drawing=None, rows=14, n=2, label=ar.LABEL_ANY, seed=0)
    settings.update(bad)
    with pytest.raises(ValueError, match=message):
        views.complete(_small_session(views), **settings)


def test_the_receptive_field_view_shows_pixelcnns_blind_spot_and_none_for_the_gated_model(views):
    picture, note = views.receptive_field(_small_session(views), 14, 14)
    assert picture.shape == (280, 2 * 280 + 12, 3)
    left, right = picture[:, :280], picture[:, 292:]
    orange = np.array([255, 160, 40])

    def n_orange(p):
        return int((np.abs(p[5::10, 5::10].astype(int) - orange).sum(2) < 10).sum())

    assert n_orange(left) > 0 and n_orange(right) == 0
    pixel_cnn, gated = note.split(" · ")
    assert "blind to **0**" in gated and "blind to **0**" not in pixel_cnn
    with pytest.raises(ValueError, match="row"):
        views.receptive_field(None, 28, 0)


def test_made_masks_are_strictly_lower_triangular_in_the_ordering(views):
    session = _small_session(views)
    assert views.mask_choices(session) == [0, 1, 2]
    for mask in range(3):
        matrix, picture, note = views.made_masks(session, mask, 3, 4)
        connected = matrix < 128
        assert matrix.shape == (784, 784) and not np.triu(connected).any() and connected.any()
        assert picture.shape == (280, 280, 3) and f"Mask set {mask} of 3" in note
    with pytest.raises(ValueError, match="mask set"):
        views.made_masks(session, 3, 3, 4)


def test_loading_replaces_only_that_familys_model_and_refuses_others(views, tmp_path, allow_folders):
    session = _small_session(views)
    seeded_init(NADE, 1, n_hidden=8).save_pretrained(tmp_path / "nade8")
    views.load(session, None, str(tmp_path / "nade8"))
    assert session.loaded == "nade" and session.views["nade"].model.n_hidden == 8 and session.views["made"].name == "small"
    with pytest.raises(ValueError):
        views.load(session, "rbm", "")
    seeded_init(PixelCNN, 0, channels=4, n_layers=1, image_size=10).save_pretrained(tmp_path / "small-image")
    with pytest.raises(ValueError, match="28 x 28"):
        views.load(session, None, str(tmp_path / "small-image"))
    assert session.views["pixelcnn"].name == "small"
    views.restore(session)
    assert session.loaded is None and session.views["nade"].name == "bundled `nade`"


def test_download_gives_a_zip_that_loads_back(views, tmp_path):
    session = _small_session(views)
    path = views.download(session, "made")
    model = checkpoints.load(str(checkpoints.unpack_zip(path, tmp_path)), family="made")
    assert model.n_masks == 3
    with pytest.raises(ValueError, match="model"):
        views.download(session, "rbm")

"""The GAN's views, called directly (no gradio): outputs, checks and isolation."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from playground.core.metrics import classify
from playground.views.base import Context
from playground.views.gan import GanSession, GanViews, digit_shares
from playground.views.gan_latent import OPERATOR_COLOUR, OPERATOR_WIDTH, POOL_SIZE, parse_slot

# One intra-op thread: tiny networks only lose to a second thread's synchronisation
# (see conftest.single_thread).
pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(
    conditional=False, loss="non_saturating", d_steps=1, lr_g=2e-4, lr_d=2e-4, latent_dim=8, width=16,
    spectral_norm=False, minibatch_std=False, d_dropout=0.0, steps=30, seed=0,
)


@pytest.fixture(scope="module")
def views(data):
    return GanViews(Context(torch.device("cpu"), data))


def _train(views, session=None, stop=None, **overrides):
    session = session or views.session(None)
    return list(views.train(session, **dict(TINY, **overrides), stop=stop or threading.Event()))


def _cgan(views) -> GanSession:
    session = views.session(None)
    views.load(session, "cgan", "")
    return session


def test_samples_are_seeded_grids_and_the_cgan_puts_one_digit_per_column(views):
    a, b, c = views.samples(None, 1), views.samples(None, 1), views.samples(None, 2)
    assert a.dtype == np.uint8 and a.shape == (8 * 30 + 2, 8 * 30 + 2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert views.samples(_cgan(views), 0).shape == (8 * 30 + 2, 10 * 30 + 2)


@pytest.mark.parametrize("seed", [-1, 2**40, "x", None, float("nan")])
def test_bad_seed_is_a_readable_error(views, seed):
    with pytest.raises(ValueError, match="seed"):
        views.samples(None, seed)


def test_pool_interpolation_and_walk(views):
    pool = views.pool(None, 3)
    assert len(pool) == POOL_SIZE and pool[5][1] == "#5" and pool[0][0].shape == (28, 28)
    strip = views.interpolate(None, 3, 0, 5, 7)
    assert strip.shape == (2 * 30 + 2, 7 * 30 + 2)
    # the ends of both paths are samples A and B of the pool
    tiles = [strip[2:30, 2 + 30 * i : 30 + 30 * i] for i in (0, 6)]
    assert np.array_equal(tiles[0], pool[0][0]) and np.array_equal(tiles[1], pool[5][0])
    with Image.open(views.walk(None, 3, 0, 5, 1)) as gif:
        assert gif.format == "GIF" and gif.n_frames >= 30
    for bad, match in (((3, 60, 5, 7), "sample A"), ((3, 0, None, 7), "sample B"), ((3, 0, 5, 2), "images")):
        with pytest.raises(ValueError, match=match):
            views.interpolate(None, *bad)


def test_conditional_interpolation_blends_the_label(views):
    strip = views.interpolate(_cgan(views), 0, 1, 8, 5)  # pool #1 is a 1, #8 an 8 (columns are digits)
    images = torch.from_numpy(strip[2:30].copy()).float().div(255)
    first, last = images[:, 2:30], images[:, 2 + 4 * 30 : 30 + 4 * 30]
    preds = classify(torch.stack([first, last])[:, None])[0].argmax(1).tolist()
    assert preds == [1, 8]
    with Image.open(views.walk(_cgan(views), 0, 1, 8, 0)) as gif:
        assert gif.n_frames >= 30


@pytest.mark.parametrize("text,expected", [("3, 7,12", [3, 7, 12]), ("5", [5]), ("1;2 3", [1, 2, 3])])
def test_slots_parse(text, expected):
    assert parse_slot("A", text) == expected


@pytest.mark.parametrize(
    "slot,match",
    [("", "slot A is empty"), ("x", "'x' is not a sample number"), ("60", "not a sample number in \\[0, 59\\]"),
     ("1,2,3,4,5,6,7,8,9", "at most 8"), ("-1", "not a sample number"), (None, "empty")],
)
def test_bad_slots_are_refused_clearly(views, slot, match):
    with pytest.raises(ValueError, match=match):
        views.arithmetic(None, 0, slot, "1", "2")


def _tile(equation: np.ndarray, i: int) -> np.ndarray:
    """Image i (0: mean of A ... 3: the result) of the equation picture, without its frame."""
    left = i * (32 + OPERATOR_WIDTH) + 2
    return equation[2:30, left : left + 28]


def test_arithmetic_shows_the_slot_means_and_the_result(views):
    equation, neighbours, table = views.arithmetic(None, 0, "1, 2", "3", "4")
    assert equation.shape == (32, 4 * 32 + 3 * OPERATOR_WIDTH, 3) and equation.dtype == np.uint8 and neighbours.shape == (92, 92)
    assert "A − B + C" in table and "classifier says" in table
    # A - B + C with B = C is A: the result equals the mean of A
    equation, _, _ = views.arithmetic(None, 0, "1, 2", "3", "3")
    assert np.array_equal(_tile(equation, 0), _tile(equation, 3))
    # the images are grey (the model's ink), only the signs are coloured
    assert all((_tile(equation, i) == _tile(equation, i)[..., :1]).all() for i in range(4))


def test_the_equation_draws_minus_plus_and_equals_between_the_images(views):
    """The issue: four images with no − / + / = between them. Each gap between two images
    holds a sign in the operator colour: one horizontal bar, a cross, two bars."""
    equation, _, _ = views.arithmetic(None, 0, "1, 2", "3", "4")
    signs = []
    for gap in range(3):
        left = 32 + gap * (32 + OPERATOR_WIDTH)
        ink = (equation[:, left : left + OPERATOR_WIDTH] == OPERATOR_COLOUR).all(axis=2)  # (32, OPERATOR_WIDTH)
        bar_rows = np.flatnonzero(ink.sum(axis=1) >= 8)
        n_bars = int(len(bar_rows) > 0) + int((np.diff(bar_rows) > 1).sum())
        signs.append((n_bars, bool((ink.sum(axis=0) >= 8).any())))
    assert signs == [(1, False), (1, True), (2, False)]  # −, +, =


def _table_readings(table: str) -> tuple[dict[str, str], dict[str, float]]:
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| mean") or line.startswith("| A")}
    return {k: v.split("|")[2].strip()[0] for k, v in rows.items()}, {k: float(v.split("|")[3]) for k, v in rows.items()}


def test_the_cgan_preset_turns_a_thin_1_thick(views):
    """Radford et al.'s Fig. 7 on digits: thick 7 - thin 7 + thin 1 reads as a 1 and is
    thicker than the thin 1s it started from."""
    seed, pool, a, b, c, la, lb, lc, equation, neighbours, table = views.preset(_cgan(views), 0)
    assert seed == 0 and len(pool) == POOL_SIZE and (la, lb, lc) == ("7", "7", "1")
    assert len(parse_slot("A", a)) == 3 and not set(parse_slot("A", a)) & set(parse_slot("B", b))
    reading, thickness = _table_readings(table)
    assert reading["A − B + C (digit 1)"] == "1"
    assert thickness["A − B + C (digit 1)"] > thickness["mean of C (digit 1)"]
    assert thickness["mean of A (digit 7)"] > thickness["mean of B (digit 7)"]


def test_the_dcgan_preset_finds_a_pool_where_the_arithmetic_reads_as_a_thick_1(views):
    """The unconditional model mixes style and class in z, so the preset searches pools
    from the given seed, says which one it took, and reports its progress."""
    heard = []
    seed, pool, a, b, c, *_, table = views.preset(None, 0, progress=lambda fraction, text: heard.append((fraction, text)))
    assert seed >= 0 and len(pool) == POOL_SIZE and a and b and c
    reading, thickness = _table_readings(table)
    assert [reading[k] for k in ("mean of A", "mean of B", "mean of C", "A − B + C")] == list("7711")
    assert thickness["A − B + C"] > thickness["mean of C"]
    assert f"Pool seed {seed} is the first from 0" in table
    assert heard[0] == (0.0, "searching pool 0") and len(heard) == seed + 1
    # from that seed on, it takes that very pool at once
    assert views.preset(None, seed)[0] == seed


def test_after_a_change_of_model_the_arithmetic_is_redrawn_from_its_slots_and_says_when_they_no_longer_fit(views):
    session = views.session(None)
    seed, _, a, b, c, la, lb, lc, *_, table = views.preset(session, 0)
    settings = (seed, a, b, c, la, lb, lc, 0)
    assert views.redraw_arithmetic(session, *settings)[2] == views.arithmetic(session, *settings)[2]  # same model: no warning
    _train(views, session, steps=20)  # a model that draws no clear digit yet
    _, _, redrawn = views.redraw_arithmetic(session, *settings)
    assert "The slots no longer fit this model" in redrawn and "7, 7, 1 before" in redrawn and "press the preset" in redrawn.lower()
    # A session with no reading of its own compares with the digits the slots stand for.
    fresh = views.session(None)
    _train(views, fresh, steps=20)
    assert ", not 7, 7, 1." in views.redraw_arithmetic(fresh, *settings)[2]


def test_class_conditional_grid_and_label_sweep(views):
    grid, note = views.digit_grid(None, 4, 0)
    assert grid.shape == (242, 242) and "bundled `cgan`" in note and "as 4" in note
    share = float(note.split("**")[1].rstrip("%")) / 100
    assert share >= 0.8
    assert np.array_equal(views.digit_grid(None, "4", 0)[0], grid)  # the radio's text
    sweep = views.label_sweep(None, 0, 3)
    assert sweep.shape == (3 * 30 + 2, 10 * 30 + 2)
    with pytest.raises(ValueError, match="digit"):
        views.digit_grid(None, 10, 0)
    with pytest.raises(ValueError, match="rows"):
        views.label_sweep(None, 0, 1000)
    assert "not a conditional GAN" in views.conditional_info(None)
    assert "Uses your current model" in views.conditional_info(_cgan(views))


@pytest.mark.parametrize(
    "override,match",
    [
        (dict(lr_g=float("nan")), "generator learning rate"),
        (dict(lr_d=-1.0), "discriminator learning rate"),
        (dict(d_steps=0), "k \\(D steps per G step\\)"),
        (dict(steps=10**9), "steps must be in"),
        (dict(loss="hinge"), "loss must be one of"),
        (dict(width=10**6), "width"),
        (dict(conditional="yes"), "conditional must be true or false"),
        (dict(minibatch_std=None), "minibatch std must be true or false"),
        (dict(d_dropout=0.9), "D dropout"),
    ],
)
def test_bad_training_settings_are_refused_before_anything_is_shown(views, override, match):
    session = views.session(None)
    before = session.view
    with pytest.raises(ValueError, match=match):
        _train(views, session, **override)
    assert session.view is before


def test_training_streams_the_duel_and_leaves_a_replayable_animation(views):
    session = views.session(None)
    outputs = _train(views, session, conditional=True, loss="wgan_gp", d_steps=2, spectral_norm=True, minibatch_std=True, d_dropout=0.2, steps=60)
    assert outputs[0][0] == "Starting…" and not any(isinstance(v, GanSession) for out in outputs for v in out)
    status, grid, loss_plot, d_plot, animation, download = outputs[-1]
    assert session.view.conditional and session.view.name == "trained here (60 steps, seed 0)"
    assert "done" in status and "trained 60 steps" in status and "The judges agree confidently on **" in status and "of 500 samples, " in status
    assert grid.shape == (8 * 30 + 2, 10 * 30 + 2)
    assert {a["text"] for a in loss_plot.to_dict()["layout"]["annotations"]} == {"discriminator loss", "generator loss"}
    # What D says: one panel (two titles side by side overlapped), named in its legend.
    d_layout = d_plot.to_dict()["layout"]
    assert not d_layout.get("annotations") and "xaxis2" not in d_layout
    assert {t.name for t in d_plot.data if t.showlegend is not False} == {"mean D(x), real digits", "mean D(G(z)), generated"}  # WGAN-GP: no ½ line
    with Image.open(animation) as gif:
        assert gif.n_frames == len(session.frames) >= 2
    assert download == animation
    assert views.animation(session) == animation and views.animation(None) is None  # made once
    # the new cGAN is the session's model, and its class-conditional panel's
    trained = session.view
    assert views.conditional_view(session) is trained
    # a later unconditional model keeps it for the class-conditional panel; Restore does not
    views.load(session, "gan", "")
    assert views.conditional_view(session) is trained and "trained here" in views.conditional_info(session)
    views.restore(session)
    assert views.conditional_view(session) is views.bundled_view("cgan")


def test_stop_keeps_the_weights_names_the_steps_done_and_leaves_the_scoring_to_the_description(views):
    session, stop = views.session(None), threading.Event()
    run = views.train(session, **dict(TINY, steps=1000), stop=stop)
    while next(run)[1] is None:  # until a first progress grid
        pass
    stop.set()
    status, _, _, d_plot, animation, download = list(run)[-1]
    view = session.view
    assert "stopped" in status and "of 1,000 steps" in view.name and "scored in the description" in status
    assert "½: D can't tell" in {t.name for t in d_plot.data}  # D's probabilities have a balance point
    # Neither the 500-sample score nor the GIF is made on the way out: the description
    # and the replay, drawn next, make them.
    assert "quality" not in view.__dict__ and animation is None is download and session.replay is None
    with Image.open(views.animation(session)) as gif:
        assert gif.n_frames == len(session.frames) >= 1
    assert "agreed-confident" in views.describe(session) and "quality" in view.__dict__


def test_load_download_and_upload_round_trip(views, tmp_path):
    session = views.session(None)
    assert views.load(session, "cgan", "") == "cgan"
    assert session.view.conditional and "Conditional GAN" in views.describe(session)
    grid = views.samples(session, 0)
    assert grid.shape[1] == 10 * 30 + 2
    path = views.download(session)
    with zipfile.ZipFile(path) as z:
        assert {"cgan-playground/config.json", "cgan-playground/model.safetensors"} <= set(z.namelist())
    again = views.session(None)
    views.load_zip(again, path)
    assert np.array_equal(grid, views.samples(again, 0))
    with pytest.raises(ValueError, match="holds a vae checkpoint|not one of|family"):
        views.load(again, "vae", "")
    with pytest.raises(ValueError, match="upload a checkpoint"):
        views.load_zip(again, None)
    bad = Path(tmp_path / "bad.zip")
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError):
        views.load_zip(again, str(bad))
    assert again.view.conditional  # every refused load kept the model


def test_sessions_do_not_share_trained_models(views):
    before = views.samples(None, 0)
    session = views.session(None)
    _train(views, session, steps=20)
    assert not np.array_equal(views.samples(session, 0), before)
    assert np.array_equal(views.samples(None, 0), before)


def test_the_description_names_the_digits_g_draws_least_and_most(views):
    assert digit_shares([144, 18, 31, 70, 19, 132, 118, 84, 51, 104]) == (
        " · drawn least: 1 (2%), 4 (2%); most: 0 (19%), 5 (17%) (the data: 10% each)"
    )
    assert digit_shares([0] * 10) == ""
    assert "drawn least" in views.bundled_view("gan").describe()
    assert "drawn least" not in views.bundled_view("cgan").describe()  # it draws what it is asked

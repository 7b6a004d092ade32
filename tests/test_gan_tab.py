"""GAN tab handlers, called directly (no browser): outputs, checks and isolation."""

from __future__ import annotations

import zipfile
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from playground.core.metrics import classify
from playground.core.sessions import SessionRegistry
from playground.ui.tabs.gan import POOL_SIZE, GanSession, GanTab, _parse_slot
from playground.ui.legacy import AppContext


@pytest.fixture(scope="module")
def tab(data):
    return GanTab(AppContext(torch.device("cpu"), data, SessionRegistry()))


def _request(name="alice"):
    return SimpleNamespace(session_hash=name)


def _train(tab, request=None, **overrides):
    settings = dict(
        conditional=False, loss="non_saturating", d_steps=1, lr_g=2e-4, lr_d=2e-4, latent_dim=8, width=16,
        spectral_norm=False, minibatch_std=False, d_dropout=0.0, steps=30, seed=0,
    )
    settings.update(overrides)
    return list(tab.train(None, request=request or _request(), **settings))


def test_samples_are_seeded_grids_and_the_cgan_puts_one_digit_per_column(tab):
    a, b, c = tab.samples(None, 1), tab.samples(None, 1), tab.samples(None, 2)
    assert a.dtype == np.uint8 and a.shape == (8 * 30 + 2, 8 * 30 + 2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    cgan = GanSession(tab.bundled_view("cgan"))
    grid = tab.samples(cgan, 0)
    assert grid.shape == (8 * 30 + 2, 10 * 30 + 2)


@pytest.mark.parametrize("seed", [-1, 2**40, "x", None, float("nan")])
def test_bad_seed_is_a_readable_ui_error(tab, seed):
    with pytest.raises(gr.Error, match="seed"):
        tab.samples(None, seed)


def test_pool_interpolation_and_walk(tab):
    pool = tab.pool(None, 3)
    assert len(pool) == POOL_SIZE and pool[5][1] == "#5" and pool[0][0].shape == (28, 28)
    strip = tab.interpolate(None, 3, 0, 5, 7)
    assert strip.shape == (2 * 30 + 2, 7 * 30 + 2)
    # the ends of both paths are samples A and B of the pool
    tiles = [strip[2 : 30, 2 + 30 * i : 30 + 30 * i] for i in (0, 6)]
    assert np.array_equal(tiles[0], pool[0][0]) and np.array_equal(tiles[1], pool[5][0])
    assert tab.interpolate(None, 3, None, 5, 7) is not None  # a box being retyped: skipped
    path = tab.walk(None, 3, 0, 5, 1)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames >= 30


def test_conditional_interpolation_blends_the_label(tab):
    cgan = GanSession(tab.bundled_view("cgan"))
    strip = tab.interpolate(cgan, 0, 1, 8, 5)  # pool #1 is a 1, #8 an 8 (columns are digits)
    images = torch.from_numpy(strip[2:30].copy()).float().div(255)
    first, last = images[:, 2:30], images[:, 2 + 4 * 30 : 30 + 4 * 30]
    preds = classify(torch.stack([first, last])[:, None])[0].argmax(1).tolist()
    assert preds == [1, 8]


@pytest.mark.parametrize("text,expected", [("3, 7,12", [3, 7, 12]), ("5", [5]), ("1;2 3", [1, 2, 3])])
def test_slots_parse(text, expected):
    assert _parse_slot("A", text) == expected


@pytest.mark.parametrize(
    "slot,match",
    [("", "slot A is empty"), ("x", "'x' is not a sample number"), ("60", "not a sample number in \\[0, 59\\]"),
     ("1,2,3,4,5,6,7,8,9", "at most 8"), ("-1", "not a sample number"), (None, "empty")],
)
def test_bad_slots_are_refused_clearly(tab, slot, match):
    with pytest.raises(gr.Error, match=match):
        tab.arithmetic(None, 0, slot, "1", "2")


def test_arithmetic_shows_the_slot_means_and_the_result(tab):
    equation, neighbours, table = tab.arithmetic(None, 0, "1, 2", "3", "4")
    assert equation.shape == (32, 4 * 30 + 2) and neighbours.shape == (92, 92)
    assert "A − B + C" in table and "classifier says" in table
    # A - B + C with B = C is A: the result equals the mean of A
    equation, _, _ = tab.arithmetic(None, 0, "1, 2", "3", "3")
    assert np.array_equal(equation[:, 2:30], equation[:, 2 + 90 : 30 + 90])


def test_the_cgan_preset_turns_a_thin_1_thick(tab):
    """Radford et al.'s Fig. 7 on digits: thick 7 - thin 7 + thin 1 reads as a 1 and is
    thicker than the thin 1s it started from."""
    cgan = GanSession(tab.bundled_view("cgan"))
    seed, pool, a, b, c, la, lb, lc, equation, neighbours, table = tab.preset(cgan, 0)
    assert seed == 0 and len(pool) == POOL_SIZE and (la, lb, lc) == ("7", "7", "1")
    assert len(_parse_slot("A", a)) == 3 and not set(_parse_slot("A", a)) & set(_parse_slot("B", b))
    reading, thickness = _table_readings(table)
    assert reading["A − B + C (digit 1)"] == "1"
    assert thickness["A − B + C (digit 1)"] > thickness["mean of C (digit 1)"]
    assert thickness["mean of A (digit 7)"] > thickness["mean of B (digit 7)"]


def _table_readings(table: str) -> tuple[dict[str, str], dict[str, float]]:
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| mean") or line.startswith("| A")}
    return {k: v.split("|")[2].strip()[0] for k, v in rows.items()}, {k: float(v.split("|")[3]) for k, v in rows.items()}


def test_the_dcgan_preset_finds_a_pool_where_the_arithmetic_reads_as_a_thick_1(tab):
    """The unconditional model mixes style and class in z, so the preset searches pools
    from the given seed and says which one it took."""
    seed, pool, a, b, c, *_, table = tab.preset(None, 0)
    assert seed >= 0 and len(pool) == POOL_SIZE and a and b and c
    reading, thickness = _table_readings(table)
    assert [reading[k] for k in ("mean of A", "mean of B", "mean of C", "A − B + C")] == list("7711")
    assert thickness["A − B + C"] > thickness["mean of C"]
    assert f"Pool seed {seed} is the first from 0" in table
    # from that seed on, it takes that very pool at once
    assert tab.preset(None, seed)[0] == seed


def test_class_conditional_grid_and_label_sweep(tab):
    grid, note = tab.digit_grid(None, 4, 0)
    assert grid.shape == (242, 242) and "bundled `cgan`" in note and "as 4" in note
    share = float(note.split("**")[1].rstrip("%")) / 100
    assert share >= 0.8
    sweep = tab.label_sweep(None, 0, 3)
    assert sweep.shape == (3 * 30 + 2, 10 * 30 + 2)
    with pytest.raises(gr.Error, match="digit"):
        tab.digit_grid(None, 10, 0)
    with pytest.raises(gr.Error, match="rows"):
        tab.label_sweep(None, 0, 1000)


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
def test_bad_training_settings_are_refused(tab, override, match):
    with pytest.raises(gr.Error, match=match):
        _train(tab, **override)


def test_training_streams_the_duel_and_leaves_a_replayable_animation(tab):
    outputs = _train(tab, conditional=True, loss="wgan_gp", d_steps=2, spectral_norm=True, minibatch_std=True, d_dropout=0.2, steps=60)
    session, status, grid, loss_plot, d_plot, animation, download = outputs[-1]
    assert isinstance(session, GanSession) and session.view.conditional
    assert "done" in status and "trained 60 steps" in status
    assert grid.shape == (8 * 30 + 2, 10 * 30 + 2)
    titles = {a["text"] for a in loss_plot.to_dict()["layout"]["annotations"]} | {a["text"] for a in d_plot.to_dict()["layout"]["annotations"]}
    assert {"discriminator loss", "generator loss", "mean D(x): real digits", "mean D(G(z)): generated"} <= titles
    with Image.open(animation) as gif:
        assert gif.n_frames == len(session.frames) >= 2
    assert download == animation
    assert tab.animation(session) and tab.animation(None) is None
    # the new cGAN is the session's model, and its class-conditional panel's
    assert tab.conditional_view(session) is session.view
    # a later unconditional model keeps it for the class-conditional panel
    later = tab._new_session(session, tab.bundled_view("gan").model, "x")
    assert tab.conditional_view(later) is session.view


def test_one_training_run_per_session_and_stop_keeps_the_weights(tab):
    request = _request("bob")
    run = tab.train(None, False, "non_saturating", 1, 2e-4, 2e-4, 8, 16, False, False, 0.0, 5000, 0, request)
    next(run)
    with pytest.raises(gr.Error, match="already training"):
        _train(tab, request=request)
    assert tab.stop(request) == "Stopping…"
    final = list(run)[-1]
    assert "stopped" in final[1] and isinstance(final[0], GanSession)
    assert tab.stop(request) == "Nothing is training."


def test_load_download_and_upload_round_trip(tab, tmp_path):
    session, info, grid = tab.load(None, "cgan", "")
    assert session.view.conditional and "Conditional GAN" in info and grid.shape[1] == 10 * 30 + 2
    path = tab.download(session)
    with zipfile.ZipFile(path) as z:
        assert {"cgan-playground/config.json", "cgan-playground/model.safetensors"} <= set(z.namelist())
    again, _, grid2 = tab.load_zip(None, path)
    assert np.array_equal(grid, grid2)
    with pytest.raises(gr.Error, match="holds a vae checkpoint|not one of|family"):
        tab.load(None, "vae", "")
    with pytest.raises(gr.Error, match="upload a checkpoint"):
        tab.load_zip(None, None)
    bad = Path(tmp_path / "bad.zip")
    bad.write_bytes(b"not a zip")
    with pytest.raises(gr.Error):
        tab.load_zip(None, str(bad))


def test_sessions_do_not_share_trained_models(tab):
    before = tab.samples(None, 0)
    session = _train(tab, request=_request("carol"), steps=20)[-1][0]
    assert not np.array_equal(tab.samples(session, 0), before)
    assert np.array_equal(tab.samples(None, 0), before)


def test_views_draw_each_panel_from_its_own_pool_seed(tab):
    """After a load or a training run the interpolation panel is redrawn from its own pool
    seed, the arithmetic panel from its own."""
    from playground.ui.tabs.gan import _views

    session = tab.session(None)
    views = _views(tab, session, 5, 0, 1, 2, 4)
    assert [item[1] for item in views["pool"]] == [item[1] for item in tab.pool(None, 5)]
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(views["pool"], tab.pool(None, 5)))
    assert np.array_equal(views["interpolation"], tab.interpolate(None, 5, 1, 2, 4))
    with Image.open(views["walk"]) as gif:
        assert gif.n_frames >= 30
    preset = tab.preset(session, 0)  # the arithmetic panel searches from its own seed, 0
    assert views["preset"][0] == preset[0] and views["preset"][2:5] == preset[2:5]


def test_views_keep_the_class_conditional_panels_settings(tab):
    """A refresh after a load redraws the digit grid and the label sweep with the digit,
    seed and rows the panel shows, not with the page's first ones."""
    from playground.ui.tabs.gan import _views

    views = _views(tab, tab.session(None), 0, 0, 1, 2, 4, walk_seed=1, digit="7", cond_seed=2, sweep_rows=3)
    grid, note = tab.digit_grid(None, 7, 2)
    assert np.array_equal(views["digit_grid"], grid) and views["digit_note"] == note and "as 7" in note
    assert np.array_equal(views["sweep"], tab.label_sweep(None, 2, 3))
    assert "not a conditional GAN" in views["cond_info"]


def test_the_description_names_the_digits_g_draws_least_and_most(tab):
    from playground.ui.tabs.gan import _digit_shares

    assert _digit_shares([144, 18, 31, 70, 19, 132, 118, 84, 51, 104]) == (
        " · drawn least: 1 (2%), 4 (2%); most: 0 (19%), 5 (17%) (the data: 10% each)"
    )
    assert _digit_shares([0] * 10) == ""
    assert "drawn least" in tab.bundled_view("gan").describe()
    assert "drawn least" not in tab.bundled_view("cgan").describe()  # it draws what it is asked


def test_training_updates_do_not_resend_the_session(tab):
    events = _train(tab, request=_request("gina"), steps=60)
    assert not any(isinstance(e[0], GanSession) for e in events[:-1])
    assert isinstance(events[-1][0], GanSession)

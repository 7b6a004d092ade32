"""Boltzmann tab handlers, called directly (no browser): outputs, limits and isolation."""

from __future__ import annotations

import math
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from models.base import seeded_init
from models.dbn import DBN
from models.rbm import RBM
from playground.core.sessions import SessionRegistry
from playground.ui.tabs.boltzmann import BoltzmannSession, BoltzmannTab, DbnView, RbmView
from playground.ui.legacy import AppContext


@pytest.fixture(scope="module")
def tab(data):
    return BoltzmannTab(AppContext(torch.device("cpu"), data, SessionRegistry()))


def _request(name="alice"):
    return SimpleNamespace(session_hash=name)


def _small_session(tab, n_hidden=24) -> BoltzmannSession:
    rbm = seeded_init(RBM, 0, n_hidden=n_hidden)
    dbn = seeded_init(DBN, 0, hidden_sizes=[16, 8], n_gibbs=5)
    return BoltzmannSession(RbmView(rbm, "small", tab.ctx), DbnView(dbn, "small", tab.ctx))


def _train(tab, request=None, state=None, **overrides):
    settings = dict(n_hidden=32, method="PCD", k=1, lr=0.05, epochs=2, momentum=0.5, weight_decay=1e-4, decay=False, seed=0)
    settings.update(overrides)
    return list(tab.train(state, request=request or _request(), **settings))


def test_the_bundled_models_are_alive_on_open(tab):
    session = tab.session(None)
    assert isinstance(session.rbm.model, RBM) and isinstance(session.dbn.model, DBN)
    text = tab.describe(session)
    assert "RBM: bundled `rbm`" in text and "DBN: bundled `dbn`" in text
    filters = tab.filters(None)
    assert filters.dtype == np.uint8 and filters.shape == (10 * 30 + 2, 10 * 30 + 2)
    recon = tab.reconstructions(None)
    assert recon.shape == (2 * 30 + 2, 10 * 30 + 2)


def test_training_streams_filters_curves_and_replaces_the_sessions_rbm(tab):
    events = _train(tab)
    session, status, filters, recon, curves, fantasies = events[-1]
    assert "**done**" in status and "Fantasies after" in status
    assert session.rbm.model.n_hidden == 32 and session.rbm.model.persistent
    assert filters.shape == (6 * 30 + 2, 6 * 30 + 2)  # 32 filters in a 6 x 6 mosaic
    assert fantasies.shape == (8 * 30 + 2, 8 * 30 + 2)
    names = {trace.name for trace in curves.data}
    assert {"train", "test"} <= names
    # The free-energy gap was measured at least once per epoch.
    assert sum(1 for e in events if e[4] is not None) >= 1
    # Every other panel now uses the new model.
    assert tab.filters(session).shape == filters.shape
    assert session.dbn is tab.session(None).dbn


def test_training_lowers_the_reconstruction_error(tab, data):
    session, *_ = _train(tab, epochs=3, method="CD", lr=0.1)[-1]
    fresh = seeded_init(RBM, 0, n_hidden=32)
    x = data.images("test", "binary")[:200]
    assert float(session.rbm.model.loss(x)["reconstruction_error"]) < 0.8 * float(fresh.loss(x)["reconstruction_error"])


@pytest.mark.parametrize(
    "bad,message",
    [
        (dict(n_hidden=0), "hidden units"),
        (dict(n_hidden=10**6), r"hidden units must be in \[1, 1000\]"),
        (dict(k=0), "k \\(Gibbs steps per update\\)"),
        (dict(k=10**6), r"\[1, 25\]"),
        (dict(lr=float("nan")), "learning rate"),
        (dict(lr=float("inf")), "learning rate"),
        (dict(epochs=0), "epochs"),
        (dict(method="CD-∞"), "method"),
        (dict(weight_decay=-1), "weight decay"),
        (dict(decay="yes"), "learning-rate decay"),
    ],
)
def test_bad_training_settings_are_refused_with_the_limit(tab, bad, message):
    with pytest.raises(gr.Error, match=message):
        _train(tab, **bad)


def test_a_diverging_run_keeps_the_last_finite_weights(tab, monkeypatch):
    # An RBM's sigmoids rarely overflow, so make the 30th update produce NaN gradients.
    original = RBM.cd_gradients
    calls = {"n": 0}

    def breaking(self, v0, generator=None):
        terms = original(self, v0, generator)
        calls["n"] += 1
        if calls["n"] >= 30:
            self.weight.grad.fill_(float("nan"))
        return terms

    monkeypatch.setattr(RBM, "cd_gradients", breaking)
    start = _small_session(tab)
    old = start.rbm.model
    events = _train(tab, state=start, epochs=2)
    session, status = events[-1][0], events[-1][1]
    assert "**diverged**" in status and "restored the last finite weights" in status
    model = session.rbm.model
    assert model is not old and model.n_hidden == 32
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
    # It stopped at the last event before the NaN: 25 updates (events every 5).
    assert "by step 30" in status


def test_one_training_run_per_session_and_sessions_are_isolated(tab):
    flag = tab.ctx.sessions.start("bob", "boltzmann-train")
    try:
        with pytest.raises(gr.Error, match="already training"):
            _train(tab, request=_request("bob"))
        # Another session trains meanwhile, and the bundled model is untouched.
        before = tab.session(None).rbm.model.weight.clone()
        session = _train(tab, request=_request("carol"))[-1][0]
        assert session.rbm.model is not tab.session(None).rbm.model
        assert torch.equal(before, tab.session(None).rbm.model.weight)
    finally:
        tab.ctx.sessions.finish("bob", "boltzmann-train", flag)


def test_fantasies_stream_states_and_means_and_make_an_animation(tab):
    session = _small_session(tab)
    out = list(tab.fantasies(session, "noise", 0, 9, 40, 10, 0))
    states, means, status, animation = out[-1]
    assert states.shape == means.shape == (3 * 30 + 2, 3 * 30 + 2)
    assert set(np.unique(states)) <= {0, 89, 255}  # binary states (and the grey grid lines)
    assert "After **40** Gibbs steps (5 frames" in status
    with Image.open(animation) as gif:
        assert gif.n_frames == 5
    again = list(tab.fantasies(session, "noise", 0, 9, 40, 10, 0))[-1]
    assert np.array_equal(again[1], means)


def test_fantasies_from_test_digits_start_at_the_digits(tab, data):
    session = _small_session(tab)
    frames = []
    out = list(tab.fantasies(session, "test digits", 5, 4, 1, 1, 0))
    _, _, _, animation = out[-1]
    with Image.open(animation) as gif:
        gif.seek(0)
        frames.append(np.array(gif.convert("L")))
    # Frame 0 shows the starting states: test digits 5..8, on the left half.
    first = frames[0][::2, ::2]  # the GIF is scaled 2x
    tile = first[2:30, 2:30]
    assert np.array_equal(tile > 127, data.images("test", "binary")[5, 0].numpy() > 0.5)


@pytest.mark.parametrize(
    "args,message",
    [
        (("noise", 0, 0, 10, 1, 0), "chains"),
        (("noise", 0, 101, 10, 1, 0), r"chains must be in \[1, 100\]"),
        (("noise", 0, 4, 10**6, 100, 0), r"Gibbs steps must be in \[1, 10000\]"),
        (("noise", 0, 4, 10_000, 1, 0), "at most 200"),
        (("lava", 0, 4, 10, 1, 0), "start"),
        (("test digits", 500, 4, 10, 1, 0), "first test digit"),
        (("noise", 0, 4, 10, 1, -1), "seed"),
    ],
)
def test_bad_chain_settings_are_refused(tab, args, message):
    with pytest.raises(gr.Error, match=message):
        list(tab.fantasies(None, *args))


def test_completion_keeps_the_clamped_rows(tab, data):
    session = _small_session(tab)
    grid, note = list(tab.complete(session, 3, 2, 14, 3, 20, 0))[-1]
    assert grid.shape == (2 * 30 + 2, 5 * 30 + 2)
    assert "test digits #3–#4" in note and "3 completions" in note
    digit = data.images("test", "binary")[3, 0].numpy()
    for col in range(2, 5):  # each completion's top 14 rows are the digit's
        tile = grid[2 : 30, 2 + 30 * col : 30 + 30 * col] / 255
        assert np.allclose(tile[:14], digit[:14], atol=1 / 255)
    with pytest.raises(gr.Error, match="clamped rows"):
        list(tab.complete(session, 0, 1, 28, 1, 10, 0))


def test_dbn_samples_and_receptive_fields(tab):
    session = _small_session(tab)
    out = list(tab.dbn_samples(session, 4, 20, 10, "noise", 0))
    grid, status, animation = out[-1]
    assert grid.shape == (2 * 30 + 2, 2 * 30 + 2) and "top-level Gibbs steps" in status
    with Image.open(animation) as gif:
        assert gif.n_frames == 3
    fields, text = tab.dbn_fields(session, 2)
    assert fields.shape == (1 * 30 + 2, 8 * 30 + 2) and "Layer 2" in text
    with pytest.raises(gr.Error, match="layer"):
        tab.dbn_fields(session, 3)


def test_the_energy_view_orders_a_digit_above_noise(tab):
    images, fig, table = tab.energy(None, 0, 3, 0)
    assert images.shape == (30 + 2, 6 * 30 + 2)
    free = dict(zip(fig.data[0].x, fig.data[0].y))
    assert free["the digit"] < free["noise (same ink)"] and free["the digit"] < free["pixels shuffled"]
    assert "Estimate log Z" in table
    with pytest.raises(gr.Error, match="shift"):
        tab.energy(None, 0, 0, 0)


def test_exact_log_z_for_a_small_rbm_gives_log_probabilities(tab):
    session = _small_session(tab, n_hidden=12)
    session, text, fig, description = tab.estimate(session, 100, 10, 0)
    assert "**Exact** log Z" in text and fig is None and "test NLL" in description
    _, _, table = tab.energy(session, 0, 3, 0)
    assert "log p(v), nats" in table
    rows = [line.split("|") for line in table.splitlines()[2:8]]
    assert all(float(r[3]) < 0 for r in rows)  # exact log Z: every log p(v) is negative


def test_ais_in_the_tab_reports_a_spread_and_a_sanity_floor(tab):
    session = _small_session(tab, n_hidden=40)
    session, text, fig, _ = tab.estimate(session, 200, 20, 0)
    assert "AIS: log Z ≈" in text and ("Sanity check passed" in text or "too low" in text)
    assert len(fig.data[0].x) == 20
    assert session.rbm.ais is not None and math.isfinite(session.rbm.ais["nll"])
    with pytest.raises(gr.Error, match="AIS runs"):
        tab.estimate(session, 200, 10**6, 0)


def test_loading_a_dbn_keeps_the_rbm_and_wrong_families_are_refused(tab, tmp_path):
    model = seeded_init(DBN, 0, hidden_sizes=[16, 8])
    model.save_pretrained(tmp_path / "dbn")
    start = tab.session(None)
    rbm_before = start.rbm
    session, text = tab.load(start, "", str(tmp_path / "dbn"))
    assert session.dbn.model.hidden_sizes == [16, 8] and session.rbm is rbm_before
    assert "DBN: `" in text and tab.session(None).dbn.model.hidden_sizes == [500, 500]  # the bundled one is untouched
    with pytest.raises(gr.Error, match="vae"):
        tab.load(start, "vae", "")
    assert session.dbn.model.hidden_sizes == [16, 8]  # a refused load changes nothing


def test_download_round_trips_the_sessions_rbm(tab, tmp_path):
    session = _small_session(tab)
    path = tab.download(session, "rbm")
    loaded = tab.load_zip(None, path)[0]
    assert torch.equal(loaded.rbm.model.weight, session.rbm.model.weight)
    with pytest.raises(gr.Error, match="model must be one of"):
        tab.download(session, "vae")


def test_stacking_a_layer_on_the_sessions_rbm_makes_a_new_dbn(tab):
    start = _small_session(tab)
    rbm_before = start.rbm
    events = list(tab.stack(start, 12, 1, 0.05, True, 0, request=_request("dave")))
    session, status, fields, curves, samples = events[-1]
    assert "**done**" in status and "Samples of the new DBN" in status
    assert session.dbn.model.hidden_sizes == [24, 12] and session.rbm is rbm_before
    assert torch.equal(session.dbn.model.layers[0].weight, start.rbm.model.weight)
    assert fields.shape == (2 * 30 + 2, 10 * 30 + 2) and samples.shape == (6 * 30 + 2, 6 * 30 + 2)
    with pytest.raises(gr.Error, match="units in the new layer"):
        list(tab.stack(start, 0, 1, 0.05, True, 0, request=_request("dave")))


def test_a_load_during_a_training_run_is_not_undone_by_its_end(tab, tmp_path):
    dbn = seeded_init(DBN, 0, hidden_sizes=[16, 8])
    dbn.save_pretrained(tmp_path / "dbn")
    run = tab.train(None, request=_request("erin"), n_hidden=16, method="CD", k=1, lr=0.05, epochs=1, momentum=0.5, weight_decay=0.0, decay=False, seed=0)
    session = next(run)[0]  # the State holds this session from the first yield
    loaded, _ = tab.load(session, "", str(tmp_path / "dbn"))  # the same user loads a DBN meanwhile
    assert loaded is session
    final = list(run)[-1][0]
    assert final is session and final.dbn.model.hidden_sizes == [16, 8] and final.rbm.model.n_hidden == 16


def test_an_rbm_that_does_not_draw_digits_is_refused_on_load(tab, tmp_path):
    seeded_init(RBM, 0, n_hidden=8, n_visible=100).save_pretrained(tmp_path / "small")
    start = _small_session(tab)
    with pytest.raises(gr.Error, match="784 visible units"):
        tab.load(start, "", str(tmp_path / "small"))
    assert start.rbm.model.n_visible == 784


@pytest.mark.parametrize("first", [None, float("nan"), "abc", 1e30, -1])
def test_the_first_test_digit_is_checked_even_for_chains_from_noise(tab, first):
    with pytest.raises(gr.Error, match="first test digit"):
        list(tab.fantasies(None, "noise", first, 4, 10, 5, 0))


def test_the_frame_limit_counts_the_last_partial_interval(tab):
    with pytest.raises(gr.Error, match="201 frames"):
        list(tab.fantasies(None, "noise", 0, 4, 1999, 10, 0))

"""The Boltzmann machines' views, called directly (no gradio): outputs, limits, Stop and
isolation."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image

from models.base import seeded_init
from models.dbn import DBN
from models.partition import MAX_AIS_BETAS, MAX_AIS_RUNS, MIN_AIS_BETAS, MIN_AIS_RUNS
from models.rbm import MAX_CD_K, MAX_GIBBS_STEPS, MAX_HIDDEN, RBM
from playground.core.metrics import classify
from playground.core.plots import image_grid
from playground.views.base import Context, quality_line
from playground.views.boltzmann import CARD, EPOCHS, HIDDEN, TOUR, TRAIN_DEFAULTS, BoltzmannSession, BoltzmannViews, DbnView, K, RbmView
from playground.views.energy import AIS_BETAS, AIS_RUNS
from playground.views.gibbs import COMPLETE_STEPS, GIBBS_STEPS, near_digits, reading

# Tiny models run step by step (Gibbs chains, CD updates): a second thread only adds
# synchronisation (see conftest.single_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def views(data):
    return BoltzmannViews(Context(torch.device("cpu"), data))


def small_session(views, n_hidden=24) -> BoltzmannSession:
    rbm = seeded_init(RBM, 0, n_hidden=n_hidden)
    dbn = seeded_init(DBN, 0, hidden_sizes=[16, 8], n_gibbs=5)
    return BoltzmannSession({"rbm": RbmView(rbm, "small", views.ctx), "dbn": DbnView(dbn, "small", views.ctx)})


def _train(views, session=None, stop=None, **overrides):
    settings = dict(n_hidden=32, method="PCD", k=1, lr=0.05, epochs=2, momentum=0.5, weight_decay=1e-4, decay=False, seed=0)
    settings.update(overrides)
    return list(views.train(session or views.session(None), **settings, stop=stop or threading.Event()))


def test_the_pages_limits_stay_inside_the_models():
    assert HIDDEN.high <= MAX_HIDDEN and K.high <= MAX_CD_K and GIBBS_STEPS.high <= MAX_GIBBS_STEPS and COMPLETE_STEPS.high <= MAX_GIBBS_STEPS
    assert MIN_AIS_BETAS <= AIS_BETAS.low <= AIS_BETAS.default <= AIS_BETAS.high <= MAX_AIS_BETAS
    assert MIN_AIS_RUNS <= AIS_RUNS.low <= AIS_RUNS.default <= AIS_RUNS.high <= MAX_AIS_RUNS
    assert TRAIN_DEFAULTS["n_hidden"] == HIDDEN.default and TRAIN_DEFAULTS["epochs"] == EPOCHS.default


def test_the_card_and_the_tour_speak_to_a_newcomer():
    assert CARD.tab == "boltzmann-fantasies" and CARD.kind == "explicit density · approximate (energy-based; Z by AIS)" and 0 < CARD.seconds < 60
    assert 3 <= len(TOUR) <= 5
    for step in TOUR:
        assert len(step.title) <= 30 and step.title[-1] not in ".?!", step.title  # the tour adds its own full stop
        assert step.text.count(". ") + step.text.count("? ") <= 1 and step.tab.startswith("boltzmann-"), step.title


def test_the_bundled_models_are_alive_on_open(views):
    session = views.session(None)
    assert isinstance(session.rbm.model, RBM) and isinstance(session.dbn.model, DBN)
    text = views.describe(session)
    assert "RBM: bundled `rbm`" in text and "DBN: bundled `dbn`" in text
    filters = views.filters(None)
    assert filters.dtype == np.uint8 and filters.shape == (10 * 30 + 2, 10 * 30 + 2)
    recon = views.reconstructions(None)
    assert recon.shape == (2 * 30 + 2, 10 * 30 + 2)


def test_page_samples_are_seeded_grids_and_an_untrained_rbms_get_no_reading(views):
    session = small_session(views)
    rbm, dbn, quality = views.samples(session, 3)
    assert rbm.shape == dbn.shape == (8 * 30 + 2, 8 * 30 + 2)
    # An untrained RBM's fantasies are blobs a single classifier would read confidently (as it
    # reads noise): the page says it gives no reading of them.
    assert quality.startswith("**RBM:** No judges' reading: only **") and "of these lie near real digits" in quality
    assert "\n**DBN:** " in quality
    assert np.array_equal(rbm, views.samples(session, 3)[0])
    with pytest.raises(ValueError, match="seed"):
        views.samples(session, -1)


def test_the_judges_are_read_only_where_it_is_honest(data):
    noise = (torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    assert float((classify(noise)[0].max(1).values >= 0.9).float().mean()) == 1.0  # one classifier alone reads noise as digits
    assert "read **0%** of these 64 confidently" in quality_line(noise)  # the three judges together do not
    assert not near_digits(noise, data).any() and reading(noise, data).startswith("No judges' reading: only **0%**")
    digits = data.images("train", "grey")[:64]
    assert near_digits(digits, data).float().mean() >= 0.8
    assert reading(digits, data).startswith("All 3 judges read **") and "of them lie near real digits" in reading(digits, data)


def test_the_page_fantasies_are_kept_for_seed_0_and_name_the_model(views):
    session = small_session(views)
    session.rbm.model.n_gibbs = 5
    first = session.rbm.page_fantasies(0)
    assert session.rbm.page_fantasies(0) is first and session.dbn.page_samples(0) is session.dbn.page_samples(0)
    assert views.draw(session, 0)[1] is first[1] and not torch.equal(views.draw(session, 1)[1], first[1])
    states, means, status = views.page_chains(session)
    assert states.shape == means.shape == (8 * 30 + 2, 8 * 30 + 2)
    assert status.startswith("64 chains of 5 Gibbs steps from noise in the RBM (small).") and "No judges' reading" in status
    grid, status = views.page_dbn(session)
    assert grid.shape == (8 * 30 + 2, 8 * 30 + 2) and status.startswith("DBN (small): 64 samples, 5 Gibbs steps")
    assert np.array_equal(views.thumbnail(session), image_grid(first[1]))


def test_training_streams_filters_curves_and_replaces_the_sessions_rbm(views):
    session = views.session(None)
    events = _train(views, session)
    status, filters, recon, curves, fantasies = events[-1]
    assert events[0] == ("Starting…", None, None, None, None)
    assert "**done**" in status and "Fantasies after" in status
    assert session.rbm.model.n_hidden == 32 and session.rbm.model.persistent
    assert session.rbm.name == "trained here (2 epochs by PCD-1, seed 0)"
    assert filters.shape == (6 * 30 + 2, 6 * 30 + 2)  # 32 filters in a 6 x 6 mosaic
    assert fantasies.shape == (8 * 30 + 2, 8 * 30 + 2)
    names = {trace.name for trace in curves.data}
    assert {"train", "test"} <= names
    # The free-energy gap was measured at least once per epoch.
    assert sum(1 for e in events if e[3] is not None) >= 1
    assert any(len(trace.x) for trace in curves.data if trace.xaxis == "x2")
    # Every other panel now uses the new model.
    assert views.filters(session).shape == filters.shape
    assert session.dbn is views.session(None).dbn


def test_training_lowers_the_reconstruction_error(views, data):
    session = views.session(None)
    _train(views, session, epochs=3, method="CD", lr=0.1)
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
def test_bad_training_settings_are_refused_with_the_limit(views, bad, message):
    session = views.session(None)
    with pytest.raises(ValueError, match=message):
        _train(views, session, **bad)
    assert session.rbm is views.session(None).rbm


def test_a_diverging_run_keeps_the_last_finite_weights(views, monkeypatch):
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
    session = small_session(views)
    old = session.rbm.model
    status = _train(views, session, epochs=2)[-1][0]
    assert "**diverged**" in status and "restored the last finite weights" in status
    model = session.rbm.model
    assert model is not old and model.n_hidden == 32
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
    # It stopped at the last event before the NaN: 25 updates (events every 5).
    assert "by step 30" in status


@pytest.mark.parametrize("what", ["train", "stack"])
def test_stop_ends_a_run_at_once_and_names_the_model_by_the_epochs_done(views, what):
    session = small_session(views)
    stop = threading.Event()
    if what == "train":
        run = views.train(session, **dict(TRAIN_DEFAULTS, n_hidden=16, epochs=200), stop=stop)
    else:
        run = views.stack(session, 12, 200, 0.05, True, 0, stop=stop)
    next(run), next(run)  # "Starting…" and the first progress line
    stop.set()
    start = time.perf_counter()
    *_, last = run
    assert time.perf_counter() - start < 1.0
    assert last[0].startswith("**stopped**") and last[-1] is None  # no samples after a Stop
    view = session.rbm if what == "train" else session.dbn
    assert "of 200 epochs" in view.name and view.model is not None


def test_sessions_are_isolated_and_the_bundled_model_is_untouched(views):
    before = views.session(None).rbm.model.weight.clone()
    session = views.session(None)
    _train(views, session)
    assert session.rbm.model is not views.session(None).rbm.model
    assert torch.equal(before, views.session(None).rbm.model.weight)


def test_fantasies_stream_states_and_means_and_make_an_animation(views):
    session = small_session(views)
    out = list(views.fantasies(session, "noise", 0, 9, 40, 10, 0))
    states, means, status, animation = out[-1]
    assert states.shape == means.shape == (3 * 30 + 2, 3 * 30 + 2)
    assert set(np.unique(states)) <= {0, 89, 255}  # binary states (and the grey grid lines)
    assert "After **40** Gibbs steps from noise in the RBM (small; 5 frames" in status
    with Image.open(animation) as gif:
        assert gif.n_frames == 5
    again = list(views.fantasies(session, "noise", 0, 9, 40, 10, 0))[-1]
    assert np.array_equal(again[1], means)


def test_fantasies_from_test_digits_start_at_the_digits(views, data):
    session = small_session(views)
    _, _, _, animation = list(views.fantasies(session, "test digits", 5, 4, 1, 1, 0))[-1]
    with Image.open(animation) as gif:
        gif.seek(0)
        first = np.array(gif.convert("L"))[::2, ::2]  # the GIF is scaled 2x
    # Frame 0 shows the starting states: test digits 5..8, on the left half.
    tile = first[2:30, 2:30]
    assert np.array_equal(tile > 127, data.images("test", "binary")[5, 0].numpy() > 0.5)


@pytest.mark.parametrize(
    "args,message",
    [
        (("noise", 0, 0, 10, 1, 0), "chains"),
        (("noise", 0, 101, 10, 1, 0), r"chains must be in \[1, 100\]"),
        (("noise", 0, 4, 10**6, 100, 0), r"Gibbs steps must be in \[1, 10000\]"),
        (("noise", 0, 4, 10_000, 1, 0), "at most 200"),
        (("noise", 0, 4, 10, 501, 0), r"frame every \(steps\) must be in \[1, 500\]"),
        (("lava", 0, 4, 10, 1, 0), "start"),
        (("test digits", 500, 4, 10, 1, 0), "first test digit"),
        (("noise", 0, 4, 10, 1, -1), "seed"),
    ],
)
def test_bad_chain_settings_are_refused(views, args, message):
    with pytest.raises(ValueError, match=message):
        list(views.fantasies(None, *args))


@pytest.mark.parametrize("first", [None, float("nan"), "abc", 1e30, -1])
def test_the_first_test_digit_is_checked_even_for_chains_from_noise(views, first):
    with pytest.raises(ValueError, match="first test digit"):
        list(views.fantasies(None, "noise", first, 4, 10, 5, 0))


def test_the_frame_limit_counts_the_last_partial_interval(views):
    with pytest.raises(ValueError, match="201 frames"):
        list(views.fantasies(None, "noise", 0, 4, 1999, 10, 0))


def test_completion_keeps_the_clamped_rows(views, data):
    session = small_session(views)
    grid, note = list(views.complete(session, 3, 2, 14, 3, 20, 0))[-1]
    assert grid.shape == (2 * 30 + 2, 5 * 30 + 2)
    assert "test digits #3–#4" in note and "3 completions" in note
    digit = data.images("test", "binary")[3, 0].numpy()
    for col in range(2, 5):  # each completion's top 14 rows are the digit's
        tile = grid[2:30, 2 + 30 * col : 30 + 30 * col] / 255
        assert np.allclose(tile[:14], digit[:14], atol=1 / 255)
    with pytest.raises(ValueError, match="clamped rows"):
        list(views.complete(session, 0, 1, 28, 1, 10, 0))
    assert views.completion(session, 3, 2, 14, 3, 20, 0)[1] == note and "of the RBM (small)" in note
    with pytest.raises(ValueError, match="clamped rows"):
        views.completion(session, 0, 1, 28, 1, 10, 0)


def test_dbn_samples_and_receptive_fields(views):
    session = small_session(views)
    out = list(views.dbn_samples(session, 4, 20, 10, "noise", 0))
    assert out[0][0] is None and out[0][1].startswith("Running 20 Gibbs steps")
    grid, status, animation = out[-1]
    assert grid.shape == (2 * 30 + 2, 2 * 30 + 2) and "top-level Gibbs steps" in status
    with Image.open(animation) as gif:
        assert gif.n_frames == 3
    fields, text = views.dbn_fields(session, 2)
    assert fields.shape == (1 * 30 + 2, 8 * 30 + 2) and "Layer 2" in text
    with pytest.raises(ValueError, match="layer"):
        views.dbn_fields(session, 3)


def test_the_dbn_panel_falls_back_to_layer_1_for_a_shallower_dbn(views):
    session = small_session(views)
    session.views["dbn"] = DbnView(seeded_init(DBN, 0, hidden_sizes=[16]), "one layer", views.ctx)
    choices, shown, fields, text = views.redraw_fields(session, "2")
    assert choices == ["1"] and shown == "1" and "Layer 1" in text
    with pytest.raises(ValueError, match="layer"):
        views.redraw_fields(session, "7")


def test_the_energy_view_orders_a_digit_above_noise(views):
    images, fig, table = views.energy(None, 0, 3, 0)
    assert images.shape == (30 + 2, 6 * 30 + 2)
    free = dict(zip(fig.data[0].x, fig.data[0].y, strict=True))
    assert free["the digit"] < free["noise (same ink)"] and free["the digit"] < free["pixels shuffled"]
    assert "Estimate log Z" in table
    with pytest.raises(ValueError, match="shift"):
        views.energy(None, 0, 0, 0)


def test_exact_log_z_for_a_small_rbm_gives_log_probabilities(views):
    session = small_session(views, n_hidden=12)
    text, fig = views.estimate(session, 100, 10, 0, progress=lambda *_: pytest.fail("no AIS for 12 hidden units"))
    assert "**Exact** log Z" in text and not fig.data
    assert "test NLL" in views.describe(session) and "exact log Z" in views.describe(session)
    assert views.estimate_shown(session)[0] == text
    _, _, table = views.energy(session, 0, 3, 0)
    assert "log p(v), nats" in table
    rows = [line.split("|") for line in table.splitlines()[2:8]]
    assert all(float(r[3]) < 0 for r in rows)  # exact log Z: every log p(v) is negative


def test_ais_reports_a_spread_a_sanity_floor_and_its_progress(views):
    session = small_session(views, n_hidden=40)
    heard = []
    text, fig = views.estimate(session, 200, 20, 0, progress=lambda done, what: heard.append((done, what)))
    assert "AIS: log Z ≈" in text and ("Sanity check passed" in text or "too low" in text)
    assert len(fig.data[0].x) == 20
    estimate = session.rbm.estimate
    assert estimate is not None and math.isfinite(estimate.nll()) and estimate.log_z["n_betas"] == 200
    assert heard[-1] == (1.0, "AIS: 20 runs × 200 temperatures") and [d for d, _ in heard] == sorted(d for d, _ in heard)
    with pytest.raises(ValueError, match="AIS runs"):
        views.estimate(session, 200, 10**6, 0)
    # Another RBM has no estimate: the panel shows the hint again.
    views.use(session, RbmView(seeded_init(RBM, 1, n_hidden=40), "another", views.ctx))
    assert views.estimate_shown(session)[0].startswith("Estimates take")


def test_loading_a_dbn_keeps_the_rbm_and_wrong_families_are_refused(views, tmp_path, allow_folders):
    model = seeded_init(DBN, 0, hidden_sizes=[16, 8])
    model.save_pretrained(tmp_path / "dbn")
    start = views.session(None)
    rbm_before = start.rbm
    views.load(start, "", str(tmp_path / "dbn"))
    assert start.dbn.model.hidden_sizes == [16, 8] and start.rbm is rbm_before
    assert "DBN: `" in views.describe(start) and views.session(None).dbn.model.hidden_sizes == [500, 500]  # the bundled one is untouched
    with pytest.raises(ValueError, match="vae"):
        views.load(start, "vae", "")
    assert start.dbn.model.hidden_sizes == [16, 8]  # a refused load changes nothing


def test_download_round_trips_the_sessions_rbm(views):
    session = small_session(views)
    path = views.download(session, "rbm")
    loaded = views.session(None)
    views.load_zip(loaded, path)
    assert torch.equal(loaded.rbm.model.weight, session.rbm.model.weight)
    with pytest.raises(ValueError, match="model must be one of"):
        views.download(session, "vae")


def test_stacking_a_layer_on_the_sessions_rbm_makes_a_new_dbn(views):
    session = small_session(views)
    rbm_before = session.rbm
    events = list(views.stack(session, 12, 1, 0.05, True, 0, stop=threading.Event()))
    status, fields, curves, samples = events[-1]
    assert "**done**" in status and "Samples of the new DBN" in status
    assert session.dbn.model.hidden_sizes == [24, 12] and session.rbm is rbm_before
    assert session.dbn.name == "trained here (1 epoch of a 12-unit layer 2, seed 0)"
    assert torch.equal(session.dbn.model.layers[0].weight, session.rbm.model.weight)
    assert fields.shape == (2 * 30 + 2, 10 * 30 + 2) and samples.shape == (6 * 30 + 2, 6 * 30 + 2)
    assert {trace.name for trace in curves.data} >= {"train", "test"}
    with pytest.raises(ValueError, match="units in the new layer"):
        list(views.stack(session, 0, 1, 0.05, True, 0, stop=threading.Event()))


def test_a_load_during_a_training_run_is_not_undone_by_its_end(views, tmp_path, allow_folders):
    seeded_init(DBN, 0, hidden_sizes=[16, 8]).save_pretrained(tmp_path / "dbn")
    session = views.session(None)
    run = views.train(session, n_hidden=16, method="CD", k=1, lr=0.05, epochs=1, momentum=0.5, weight_decay=0.0, decay=False, seed=0, stop=threading.Event())
    next(run)
    views.load(session, "", str(tmp_path / "dbn"))  # the same user loads a DBN meanwhile
    list(run)
    assert session.dbn.model.hidden_sizes == [16, 8] and session.rbm.model.n_hidden == 16


def test_an_rbm_that_does_not_draw_digits_is_refused_on_load(views, tmp_path, allow_folders):
    seeded_init(RBM, 0, n_hidden=8, n_visible=100).save_pretrained(tmp_path / "small")
    session = small_session(views)
    with pytest.raises(ValueError, match="784 visible units"):
        views.load(session, "", str(tmp_path / "small"))
    assert session.rbm.model.n_visible == 784

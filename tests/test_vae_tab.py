"""VAE tab handlers, called directly (no browser): outputs, checks and isolation."""

from __future__ import annotations

import zipfile
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import torch

from models import VAE
from playground.core.attributes import measure_traits
from playground.core.metrics import classify
from playground.core.sessions import SessionRegistry
from playground.ui.tabs.vae import N_SLIDERS, VaeSession, VaeTab
from playground.ui.widgets import AppContext


@pytest.fixture(scope="module")
def tab(data):
    return VaeTab(AppContext(torch.device("cpu"), data, SessionRegistry()))


def _request(name="alice"):
    return SimpleNamespace(session_hash=name)


def test_samples_are_a_seeded_8x8_grid(tab):
    a, b, c = tab.samples(None, 1), tab.samples(None, 1), tab.samples(None, 2)
    assert a.dtype == np.uint8 and a.shape == (8 * 30 + 2, 8 * 30 + 2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("seed", [-1, 2**40, "x", None, float("nan")])
def test_bad_seed_is_a_readable_ui_error(tab, seed):
    with pytest.raises(gr.Error, match="seed"):
        tab.samples(None, seed)


def test_decode_follows_the_sliders_and_keeps_other_dimensions(tab):
    session = tab.session(None)
    base = tab.decode(session, *[0.0] * N_SLIDERS)
    moved = tab.decode(session, *([2.5] + [0.0] * (N_SLIDERS - 1)))
    assert base.shape == (28, 28) and not np.array_equal(base, moved)
    d0 = session.view.order[0]
    assert float(session.z[d0]) == 2.5
    again = tab.decode(session, *([2.5] + [0.0] * (N_SLIDERS - 1)))
    assert np.array_equal(moved, again)


@pytest.mark.parametrize("values,match", [([9.0] + [0.0] * 7, r"slider 1 must be a number in \[-4, 4\]"), ([float("nan")] * 8, "slider 1"), ([0.0] * 3, "give 8 slider values"), (["abc"] + [0.0] * 7, "slider 1")])
def test_decode_refuses_bad_values(tab, values, match):
    with pytest.raises(gr.Error, match=match):
        tab.decode(tab.session(None), *values)


def test_encode_sets_every_slider_from_a_test_digit(tab):
    session = tab.session(None)
    out = tab.encode(session, 13)
    new_session, updates, image, original = out[0], out[1 : 1 + N_SLIDERS], out[1 + N_SLIDERS], out[2 + N_SLIDERS]
    view = new_session.view
    assert torch.equal(new_session.z, view.test_codes[13])
    assert updates[0]["value"] == pytest.approx(float(view.test_codes[13][view.order[0]]), abs=0.01)
    probs, _ = classify(torch.from_numpy(image).float().div(255).view(1, 1, 28, 28))
    assert int(probs.argmax()) == int(view.ctx.data.test_labels[13])
    assert original.shape == (28, 28)
    with pytest.raises(gr.Error, match="test digit must be in"):
        tab.encode(session, 500)


def test_randomise_draws_from_the_prior(tab):
    session = tab.session(None)
    out = tab.randomise(session, 4)
    assert out[0] is session and session.z.shape == (16,)
    assert not torch.equal(session.z, torch.zeros(16))


def test_manifold_grid_and_its_checks(tab):
    grid = tab.manifold(None, 0, 1, 5)
    assert grid.shape == (5 * 30 + 2, 5 * 30 + 2)
    for args, match in (((0, 0, 5), "different"), ((0, 16, 5), "y dimension"), ((0, 1, 100), "grid size")):
        with pytest.raises(gr.Error, match=match):
            tab.manifold(None, *args)


def test_interpolation_starts_at_a_and_ends_at_b(tab):
    view = tab.session(None).view
    strip = tab.interpolate(None, 13, 18, 5)
    assert strip.shape == (2 * 30 + 2, 5 * 30 + 2)
    ends = view.decode(torch.stack([view.test_codes[13], view.test_codes[18]]))
    first = strip[2:30, 2:30] / 255.0
    last = strip[2:30, 4 * 30 + 2 : 4 * 30 + 30] / 255.0
    assert np.abs(first - ends[0, 0].numpy()).max() < 0.01
    assert np.abs(last - ends[1, 0].numpy()).max() < 0.01
    with pytest.raises(gr.Error, match="steps"):
        tab.interpolate(None, 0, 1, 1000)


def test_make_it_a_7_turns_other_digits_into_7s(tab):
    view = tab.session(None).view
    picked = torch.nonzero(view.ctx.data.test_labels != 7).flatten()[:40]
    edited = view.decode(view.test_codes[picked] + 2.0 * view.vectors["digit 7"])
    probs, _ = classify(edited)
    assert float((probs.argmax(1) == 7).float().mean()) >= 0.9


@pytest.mark.parametrize("trait", ["thickness_px", "slant_deg", "width_px"])
def test_trait_vectors_move_the_measured_trait(tab, trait):
    view = tab.session(None).view
    codes = view.test_codes[:40]
    low = measure_traits(view.decode(codes - 2 * view.vectors[trait]))[trait]
    high = measure_traits(view.decode(codes + 2 * view.vectors[trait]))[trait]
    assert float((high > low).float().mean()) >= 0.9


def test_edit_handler_outputs_and_zero_strength(tab):
    triple, sweep, table = tab.edit(None, 20, "digit 7", 0.0)
    assert triple.shape == (30 + 2, 3 * 30 + 2) and sweep.shape == (32, 7 * 30 + 2)
    assert np.array_equal(triple[:, 32:62], triple[:, 62:92])  # strength 0: edited == reconstruction
    assert "classifier says" in table
    for args, match in (((20, "digit 11", 1.0), "attribute"), ((20, "digit 7", 5.0), "strength")):
        with pytest.raises(gr.Error, match=match):
            tab.edit(None, *args)


def test_scatter_points_carry_their_test_index(tab):
    fig = tab.scatter(None, 3)
    points = sum(len(t.x) for t in fig.data[:10])
    assert points == 500
    indices = np.concatenate([t.customdata for t in fig.data[:10]])
    assert sorted(indices.tolist()) == list(range(500))
    image, caption, _ = tab.pick_point(None, "42")
    assert image.shape == (32, 62) and "#42" in caption
    assert "#42" in tab.pick_point(None, "42:1732200000000")[1]  # as the click script sends it
    with pytest.raises(gr.Error):
        tab.pick_point(None, "")


def test_load_bundled_and_bad_sources(tab):
    session, info, samples = tab.load(None, "vae-2d", "")
    assert isinstance(session, VaeSession) and session.view.latent_dim == 2 and "latent size 2" in info
    assert tab.manifold(session, 0, 1, 4).shape == (4 * 30 + 2,) * 2
    x = tab.decode_point(session, 0.5, -0.5)
    assert x.shape == (28, 28)
    for source, match in (("classifier", "holds a classifier checkpoint"), ("/no/such/dir", "not a bundled"), ("", "give a checkpoint"), (5, "not a bundled")):
        with pytest.raises(gr.Error, match=match):
            tab.load(session, "", source)


def test_upload_of_a_downloaded_zip_restores_the_model(tab, tmp_path):
    trained = list(tab.train(None, 3, "mlp", 1.0, 3e-3, 30, 0, _request("erin")))[-1][0]
    session, info, samples = tab.load_zip(None, tab.download(trained))
    assert session.view.latent_dim == 3 and "uploaded" in info
    assert np.array_equal(samples, tab.samples(trained, 0))
    (tmp_path / "x.zip").write_bytes(b"junk")
    for path, match in ((None, "upload a checkpoint"), (str(tmp_path / "x.zip"), "not a readable zip file")):
        with pytest.raises(gr.Error, match=match):
            tab.load_zip(None, path)


def test_download_gives_a_loadable_zip(tab, tmp_path):
    path = tab.download(None)
    with zipfile.ZipFile(path) as z:
        assert "vae-playground/model.safetensors" in z.namelist()
        z.extractall(tmp_path)
    from playground.core.checkpoints import load

    assert load(str(tmp_path / "vae-playground"), family="vae").latent_dim == 16


def test_training_streams_progress_and_swaps_in_the_new_model(tab):
    before = tab.samples(None, 0)
    outputs = list(tab.train(None, 4, "mlp", 1.0, 3e-3, 120, 0, _request("bob")))
    session, status, samples, recon, curves = outputs[-1]
    assert isinstance(session, VaeSession) and session.view.latent_dim == 4
    assert "done" in status and "trained 120 steps" in status
    assert samples.shape == (8 * 30 + 2,) * 2 and recon.shape == (2 * 30 + 2, 8 * 30 + 2)
    assert len(curves.data) >= 3
    # another session (and the shared default) is untouched
    assert np.array_equal(tab.samples(None, 0), before)
    assert not np.array_equal(tab.samples(session, 0), before)


@pytest.mark.parametrize(
    "args,match",
    [((1, "mlp", 1.0, 1e-3, 100, 0), "latent size"), ((4, "rnn", 1.0, 1e-3, 100, 0), "architecture"),
     ((4, "mlp", float("nan"), 1e-3, 100, 0), "β"), ((4, "mlp", 1.0, 5.0, 100, 0), "learning rate"),
     ((4, "mlp", 1.0, 1e-3, 10**6, 0), "steps")],
)
def test_training_refuses_bad_settings_before_doing_anything(tab, args, match):
    with pytest.raises(gr.Error, match=match):
        next(tab.train(None, *args, _request()))


def test_stop_ends_training_and_keeps_the_model(tab):
    outputs = []
    run = tab.train(None, 4, "mlp", 1.0, 1e-3, 5000, 0, _request("carol"))
    outputs.append(next(run))
    assert tab.stop(_request("carol")) == "Stopping…"
    outputs.extend(run)
    session, status = outputs[-1][:2]
    assert "stopped" in status and session.view.latent_dim == 4
    assert tab.stop(_request("nobody")) == "Nothing is training."


def test_stop_after_the_run_ended_and_one_run_per_session(tab):
    list(tab.train(None, 2, "mlp", 1.0, 1e-3, 20, 0, _request("frank")))
    assert tab.stop(_request("frank")) == "Nothing is training."
    assert len(tab.ctx.sessions) == 0
    first = tab.train(None, 2, "mlp", 1.0, 1e-3, 5000, 0, _request("grace"))
    next(first)
    with pytest.raises(gr.Error, match="already training"):
        next(tab.train(None, 2, "mlp", 1.0, 1e-3, 100, 0, _request("grace")))
    tab.stop(_request("grace"))
    assert "stopped" in list(first)[-1][1]
    first.close()
    assert len(tab.ctx.sessions) == 0


def test_empty_index_boxes_change_nothing(tab):
    assert isinstance(tab.interpolate(None, None, 3, 5), type(gr.skip()))
    assert all(isinstance(x, type(gr.skip())) for x in tab.edit(None, None, "digit 7", 1.0))


def test_divergence_keeps_the_previous_model(tab, monkeypatch):
    def nan_step(self, x, y, optimizers, generator=None):
        return {"loss": torch.tensor(float("nan")), "reconstruction": torch.tensor(float("nan")), "kl": torch.tensor(0.0), "elbo": torch.tensor(float("nan"))}

    monkeypatch.setattr(VAE, "train_step", nan_step)
    previous = tab.session(None)
    session, status = list(tab.train(previous, 4, "mlp", 1.0, 1e-3, 100, 0, _request()))[-1][:2]
    assert "diverged" in status and "previous model is kept" in status
    assert session is previous


def test_registry_release_stops_a_closed_pages_training(data):
    registry = SessionRegistry()
    flag = registry.start("dave", "vae-train")
    registry.release("dave")
    assert flag.is_set() and len(registry) == 0


def test_internal_errors_are_generic_and_logged(tab, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(type(tab.session(None).view), "decode", broken)
    with pytest.raises(gr.Error) as info:
        tab.decode(tab.session(None), *[0.0] * N_SLIDERS)
    assert "secret" not in str(info.value) and "RuntimeError" in str(info.value)
    assert "secret internals" in caplog.text


def test_training_updates_do_not_resend_the_session(tab):
    # Only the final update sets the State: a Load made during the run is not undone by
    # the run's progress updates.
    events = list(tab.train(None, 3, "mlp", 1.0, 3e-3, 120, 0, _request("frank")))
    assert len(events) >= 2
    assert not any(isinstance(e[0], VaeSession) for e in events[:-1])
    assert isinstance(events[-1][0], VaeSession)

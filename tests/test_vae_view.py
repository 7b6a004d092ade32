"""The VAE's views, called directly (no gradio): outputs, checks and isolation."""

from __future__ import annotations

import threading
import zipfile

import numpy as np
import pytest
import torch

from models import VAE
from playground.core.attributes import measure_traits
from playground.core.metrics import classify
from playground.views.base import Context
from playground.views.vae import N_SLIDERS, VaeSession, VaeViews


@pytest.fixture(scope="module")
def views(data):
    return VaeViews(Context(torch.device("cpu"), data))


def _train(views, session, *settings, stop=None):
    return list(views.train(session, *settings, stop=stop or threading.Event()))


def test_samples_are_a_seeded_8x8_grid(views):
    a, b, c = views.samples(None, 1), views.samples(None, 1), views.samples(None, 2)
    assert a.dtype == np.uint8 and a.shape == (8 * 30 + 2, 8 * 30 + 2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("seed", [-1, 2**40, "x", None, float("nan")])
def test_bad_seed_is_a_readable_error(views, seed):
    with pytest.raises(ValueError, match="seed"):
        views.samples(None, seed)


def test_decode_follows_the_sliders_and_keeps_other_dimensions(views):
    session = views.session(None)
    base = views.decode(session, *[0.0] * N_SLIDERS)
    moved = views.decode(session, *([2.5] + [0.0] * (N_SLIDERS - 1)))
    assert base.shape == (28, 28) and not np.array_equal(base, moved)
    d0 = session.view.order[0]
    assert float(session.z[d0]) == 2.5
    assert np.array_equal(moved, views.decode(session, *([2.5] + [0.0] * (N_SLIDERS - 1))))


@pytest.mark.parametrize(
    "values,match",
    [([9.0] + [0.0] * 7, r"slider 1 must be a number in \[-4, 4\]"), ([float("nan")] * 8, "slider 1"), ([0.0] * 3, "give 8 slider values"), (["abc"] + [0.0] * 7, "slider 1")],
)
def test_decode_refuses_bad_values_and_keeps_the_code(views, values, match):
    session = views.session(None)
    before = session.z.clone()
    with pytest.raises(ValueError, match=match):
        views.decode(session, *values)
    assert torch.equal(session.z, before)


def test_encode_sets_every_slider_from_a_test_digit(views):
    session = views.session(None)
    image, original = views.encode(session, 13)
    view = session.view
    assert torch.equal(session.z, view.test_codes[13])
    label, value = views.sliders(session)[0]
    assert value == pytest.approx(float(view.test_codes[13][view.order[0]]), abs=0.01) and label.startswith(f"z[{view.order[0]}]")
    probs, _ = classify(torch.from_numpy(image).float().div(255).view(1, 1, 28, 28))
    assert int(probs.argmax()) == int(views.ctx.data.test_labels[13])
    assert original.shape == (28, 28)
    with pytest.raises(ValueError, match="test digit must be in"):
        views.encode(session, 500)


def test_randomise_draws_from_the_prior(views):
    session = views.session(None)
    views.randomise(session, 4)
    assert session.z.shape == (16,) and not torch.equal(session.z, torch.zeros(16))


def test_a_small_code_hides_the_extra_sliders(views):
    session = views.session(None)
    views.load(session, "vae-2d", "")
    specs = views.sliders(session)
    assert len(specs) == N_SLIDERS and all(s is not None for s in specs[:2]) and all(s is None for s in specs[2:])


def test_manifold_grid_and_its_checks(views):
    assert views.manifold(None, 0, 1, 5).shape == (5 * 30 + 2, 5 * 30 + 2)
    for args, match in (((0, 0, 5), "different"), ((0, 16, 5), "y dimension"), ((0, 1, 100), "grid size")):
        with pytest.raises(ValueError, match=match):
            views.manifold(None, *args)


def test_interpolation_starts_at_a_and_ends_at_b(views):
    view = views.session(None).view
    strip = views.interpolate(None, 13, 18, 5)
    assert strip.shape == (2 * 30 + 2, 5 * 30 + 2)
    ends = view.decode(torch.stack([view.test_codes[13], view.test_codes[18]]))
    assert np.abs(strip[2:30, 2:30] / 255.0 - ends[0, 0].numpy()).max() < 0.01
    assert np.abs(strip[2:30, 4 * 30 + 2 : 4 * 30 + 30] / 255.0 - ends[1, 0].numpy()).max() < 0.01
    with pytest.raises(ValueError, match="steps"):
        views.interpolate(None, 0, 1, 1000)


def test_make_it_a_7_turns_other_digits_into_7s(views):
    view = views.session(None).view
    picked = torch.nonzero(views.ctx.data.test_labels != 7).flatten()[:40]
    probs, _ = classify(view.decode(view.test_codes[picked] + 2.0 * view.vectors["digit 7"]))
    assert float((probs.argmax(1) == 7).float().mean()) >= 0.9


@pytest.mark.parametrize("trait", ["thickness_px", "slant_deg", "width_px"])
def test_trait_vectors_move_the_measured_trait(views, trait):
    view = views.session(None).view
    codes = view.test_codes[:40]
    low = measure_traits(view.decode(codes - 2 * view.vectors[trait]))[trait]
    high = measure_traits(view.decode(codes + 2 * view.vectors[trait]))[trait]
    assert float((high > low).float().mean()) >= 0.9


def test_edit_outputs_and_zero_strength(views):
    triple, sweep, table = views.edit(None, 20, "digit 7", 0.0)
    assert triple.shape == (30 + 2, 3 * 30 + 2) and sweep.shape == (32, 7 * 30 + 2)
    assert np.array_equal(triple[:, 32:62], triple[:, 62:92])  # strength 0: edited == reconstruction
    assert "classifier says" in table
    for args, match in (((20, "digit 11", 1.0), "attribute"), ((20, "digit 7", 5.0), "strength")):
        with pytest.raises(ValueError, match=match):
            views.edit(None, *args)


def test_scatter_points_carry_their_test_index(views):
    fig = views.scatter(None, 3)
    assert sum(len(t.x) for t in fig.data[:10]) == 500
    indices = np.concatenate([t.customdata for t in fig.data[:10]])
    assert sorted(indices.tolist()) == list(range(500))
    image, caption, _ = views.pick_point(None, "42")
    assert image.shape == (32, 62) and "#42" in caption
    assert "#42" in views.pick_point(None, "42:1732200000000")[1]  # as the click script sends it
    with pytest.raises(ValueError):
        views.pick_point(None, "")


def test_load_bundled_and_bad_sources_keep_the_session(views):
    session = views.session(None)
    assert views.load(session, "vae-2d", "") == "vae-2d"
    assert session.view.latent_dim == 2 and "latent size 2" in views.describe(session)
    assert views.manifold(session, 0, 1, 4).shape == (4 * 30 + 2,) * 2
    assert views.decode_point(session, 0.5, -0.5).shape == (28, 28)
    for source, match in (("classifier", "holds a classifier checkpoint"), ("/no/such/dir", "not a bundled"), ("", "give a checkpoint"), (5, "not a bundled")):
        with pytest.raises(ValueError, match=match):
            views.load(session, "", source)
        assert session.view.latent_dim == 2
    views.restore(session)
    assert session.view.latent_dim == 16 and "bundled `vae`" in views.describe(session)


def test_upload_of_a_downloaded_zip_restores_the_model(views, tmp_path):
    trained = views.session(None)
    _train(views, trained, 3, "mlp", 1.0, 3e-3, 30, 0)
    session = views.session(None)
    views.load_zip(session, views.download(trained))
    assert session.view.latent_dim == 3 and "uploaded" in views.describe(session)
    assert np.array_equal(views.samples(session, 0), views.samples(trained, 0))
    (tmp_path / "x.zip").write_bytes(b"junk")
    for path, match in ((None, "upload a checkpoint"), (str(tmp_path / "x.zip"), "not a readable zip file")):
        with pytest.raises(ValueError, match=match):
            views.load_zip(session, path)


def test_download_gives_a_loadable_zip(views, tmp_path):
    with zipfile.ZipFile(views.download(None)) as z:
        assert "vae-playground/model.safetensors" in z.namelist()
        z.extractall(tmp_path)
    from playground.core.checkpoints import load

    assert load(str(tmp_path / "vae-playground"), family="vae").latent_dim == 16


def test_training_streams_progress_and_swaps_in_the_new_model(views):
    before = views.samples(None, 0)
    session = views.session(None)
    outputs = _train(views, session, 4, "mlp", 1.0, 3e-3, 120, 0)
    assert outputs[0][0] == "Starting…"
    status, samples, recon, curves = outputs[-1]
    assert session.view.latent_dim == 4 and "trained here (120 steps, seed 0)" in views.describe(session)
    assert "done" in status and "trained 120 steps" in status and "Test ELBO" in status
    assert samples.shape == (8 * 30 + 2,) * 2 and recon.shape == (2 * 30 + 2, 8 * 30 + 2)
    assert len(curves.data) >= 3
    # another session (and the shared default) is untouched
    assert np.array_equal(views.samples(None, 0), before)
    assert not np.array_equal(views.samples(session, 0), before)


@pytest.mark.parametrize(
    "args,match",
    [((1, "mlp", 1.0, 1e-3, 100, 0), "latent size"), ((4, "rnn", 1.0, 1e-3, 100, 0), "architecture"),
     ((4, "mlp", float("nan"), 1e-3, 100, 0), "β"), ((4, "mlp", 1.0, 5.0, 100, 0), "learning rate"),
     ((4, "mlp", 1.0, 1e-3, 10**6, 0), "steps")],
)
def test_training_refuses_bad_settings_before_doing_anything(views, args, match):
    session = views.session(None)
    with pytest.raises(ValueError, match=match):
        next(views.train(session, *args, stop=threading.Event()))
    assert session.view.name == "bundled `vae`"


def test_a_stopped_run_is_named_by_the_steps_it_did(views):
    session = views.session(None)
    stop = threading.Event()
    run = views.train(session, 4, "mlp", 1.0, 1e-3, 5000, 0, stop=stop)
    next(run)
    for status, *_ in run:
        if status.startswith("step ") and int(status.split()[1].replace(",", "")) >= 20:
            stop.set()
    assert "stopped" in status and session.view.latent_dim == 4
    done = int(session.view.name.split("(")[1].split(" of")[0])
    assert 20 <= done < 5000 and "of 5,000 steps" in session.view.name


def test_divergence_keeps_the_previous_model(views, monkeypatch):
    def nan_step(self, x, y, optimizers, generator=None):
        nan = torch.tensor(float("nan"))
        return {"loss": nan, "reconstruction": nan, "kl": torch.tensor(0.0), "elbo": nan}

    monkeypatch.setattr(VAE, "train_step", nan_step)
    session = views.session(None)
    before = session.view
    status = _train(views, session, 4, "mlp", 1.0, 1e-3, 100, 0)[-1][0]
    assert "diverged" in status and "previous model is kept" in status
    assert session.view is before


def test_sessions_are_isolated(views):
    a, b = views.session(None), views.session(None)
    assert isinstance(a, VaeSession) and a is not b
    views.load(a, "vae-2d", "")
    assert b.view.latent_dim == 16

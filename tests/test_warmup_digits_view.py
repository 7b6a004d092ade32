"""The warm-up tab's digit views, called directly (no gradio): PPCA, the Bernoulli mixture,
and the autoencoder against the VAE."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest
import torch

from playground.views.base import Context
from playground.views.warmup_digits import N_SLIDERS, DigitSession, DigitViews


@pytest.fixture(scope="module")
def views(data):
    return DigitViews(Context(torch.device("cpu"), data))


def _number(pattern, text):
    return float(re.search(pattern, text).group(1))


def test_ppca_panel_shows_the_fitted_model(views, data):
    picture, figure, note = views.ppca(16)
    assert picture.dtype == np.uint8 and picture.shape == (2 * 30 + 2, 9 * 30 + 2)  # the mean and 16 directions, 9 per row
    model = views.fit_ppca(16)
    assert _number(r"σ² = ([\d.]+)", note) == pytest.approx(model.sigma2, abs=1e-4)
    test = float(model.log_prob(data.test_grey.flatten(1)).mean())
    assert _number(r"Test log-likelihood \*\*([-\d.]+) nats", note) == pytest.approx(test, abs=0.05)
    assert _number(r"explain \*\*([\d.]+)%", note) == pytest.approx(100 * float(model.explained_variance_ratio().sum()), abs=0.05)
    assert "not comparable with the binarised NLLs" in note and "nan" not in note.lower()
    bars, cumulative = figure.data
    assert len(bars.y) == 16 and np.all(np.diff(cumulative.y) > 0)
    assert views.fit_ppca(16) is model  # cached per K


def test_ppca_more_components_explain_more_and_fit_better(views):
    shares, test_ll = [], []
    for k in (1, 8, 64):
        _, _, note = views.ppca(k)
        shares.append(_number(r"explain \*\*([\d.]+)%", note))
        test_ll.append(_number(r"Test log-likelihood \*\*([-\d.]+) nats", note))
    assert shares == sorted(shares) and test_ll == sorted(test_ll)
    assert views.ppca(1)[0].shape == (32, 2 * 30 + 2)  # the mean and one direction


def test_ppca_decode_follows_the_sliders(views):
    origin = views.ppca_decode(16, [0.0] * N_SLIDERS)
    moved = views.ppca_decode(16, [2.5] + [0.0] * (N_SLIDERS - 1))
    assert origin.shape == (196, 196) and origin.dtype == np.uint8 and not np.array_equal(origin, moved)
    mean = views.fit_ppca(16).mean.view(28, 28).clamp(0, 1).numpy()
    assert np.abs(origin[::7, ::7] / 255 - mean).max() < 0.01  # z = 0 decodes to μ
    # With K = 2 the sliders past z[1] have nothing to move.
    assert np.array_equal(views.ppca_decode(2, [1, 1, 0, 0, 0, 0]), views.ppca_decode(2, [1, 1, 3, -3, 3, -3]))


def test_ppca_samples_and_reconstructions(views, data):
    a, b = views.ppca_samples(16, 3), views.ppca_samples(16, 4)
    assert a.dtype == np.uint8 and a.shape == (4 * 30 + 2, 2 * (4 * 30 + 2) + 8) and not np.array_equal(a, b)
    recon = views.ppca_reconstructions(64)
    assert recon.shape == (2 * 30 + 2, 8 * 30 + 2)
    top, bottom = recon[2:30, 2:30] / 255.0, recon[32:60, 2:30] / 255.0
    assert np.abs(top - data.test_grey[0, 0].numpy()).max() < 0.01 and np.abs(bottom - top).mean() < 0.1  # 64 directions reconstruct well


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda v: v.ppca(0), r"K must be in \[1, 64\]"),
        (lambda v: v.ppca(65), r"K must be in \[1, 64\]"),
        (lambda v: v.ppca("many"), "K must be an integer"),
        (lambda v: v.ppca(None), "K must be an integer"),
        (lambda v: v.ppca(float("nan")), "K must be an integer"),
        (lambda v: v.ppca_decode(16, [0.0] * 5), "list of 6 numbers"),
        (lambda v: v.ppca_decode(16, "000000"), "list of 6 numbers"),
        (lambda v: v.ppca_decode(16, None), "list of 6 numbers"),
        (lambda v: v.ppca_decode(16, [float("nan")] + [0.0] * 5), r"z\[0\]"),
        (lambda v: v.ppca_decode(16, [0.0] * 5 + ["x"]), r"z\[5\]"),
        (lambda v: v.ppca_decode(16, [4.0] + [0.0] * 5), r"z\[0\] must be a number in \[-3, 3\]"),
        (lambda v: v.ppca_samples(16, -1), "seed"),
        (lambda v: v.bmm_samples(None, "x"), "seed"),
        (lambda v: next(v.bmm_fit(None, 9)), r"K must be in \[10, 100\]"),
        (lambda v: next(v.bmm_fit(None, 1000)), r"K must be in \[10, 100\]"),
        (lambda v: next(v.bmm_fit(None, 20, 0)), r"EM iterations must be in \[1, 100\]"),
        (lambda v: next(v.bmm_fit(None, 20, float("nan"))), "EM iterations"),
        (lambda v: v.latent_grids(None, 40), r"grid size must be in \[5, 16\]"),
        (lambda v: v.interpolate(None, 0, 500), r"digit B must be in \[0, 499\]"),
        (lambda v: v.interpolate(None, -1, 1), "digit A"),
        (lambda v: v.interpolate(None, 0, 1, None), "steps"),
        (lambda v: v.ppca(16, "0.5"), "σ² must be one of"),
        (lambda v: v.ppca_decode(16, [0.0] * N_SLIDERS, 0.5), "σ² must be one of"),
        (lambda v: next(v.train_pair(None, 10, stop=threading.Event())), r"steps must be in \[50, 3000\]"),
        (lambda v: next(v.train_pair(None, 400, "seed", stop=threading.Event())), "seed"),
    ],
)
def test_bad_input_is_a_readable_error(views, call, match):
    with pytest.raises(ValueError, match=match):
        call(views)


def test_bmm_stream_never_decreases_and_reports_the_exact_test_nll(views, data):
    session = DigitSession()
    frames = list(views.bmm_fit(session, 10, 6, 1))
    assert len(frames) >= 2 and all(f[0] is session for f in frames)
    _, means, curve, note = frames[-1]
    assert means.dtype == np.uint8 and means.shape == (30 + 2, 10 * 30 + 2)
    y = np.array(curve.data[0].y)
    assert len(y) == 7 and np.all(np.diff(y) >= -1e-9 * np.abs(y[1:])), y
    fit = session.bmm
    assert fit is not None and fit.model.n_components == 10 and fit.curve == list(y)
    nll = _number(r"test NLL ([\d.]+) nats", note)
    assert 100 < nll < 300 and nll == pytest.approx(-float(fit.model.log_prob(data.test_binary).mean()), abs=0.05)
    assert views.bmm_view(session)[2] == note
    samples = views.bmm_samples(session, 0)
    assert samples.dtype == np.uint8 and samples.shape[0] == 4 * 30 + 2
    assert np.array_equal(samples, views.bmm_samples(session, 0)) and not np.array_equal(samples, views.bmm_samples(session, 1))
    assert set(np.unique(samples[2:30, 2:30])) <= {0, 255}  # binary samples


def test_bmm_of_a_new_session_is_the_default_fit(views):
    _, _, note = views.bmm_view(None)
    assert "K = 20" in note and "30 / 30" in note and 100 < _number(r"test NLL ([\d.]+) nats", note) < 300
    assert views.session(None).bmm is None and views.bmm_samples(None).dtype == np.uint8


def test_bundled_pair_scatters_grids_and_interpolation(views, data):
    ae, vae = views.pair(None)
    assert ae.model.beta == 0 and vae.model.beta == 1 and ae.latent_dim == vae.latent_dim == 2
    fig = views.latent_scatters(None)
    assert len(fig.data) == 20 and sum(len(t.x) for t in fig.data[:10]) == len(data.test_labels)
    for axis, codes in (("xaxis", ae.test_codes), ("xaxis2", vae.test_codes)):
        low, high = fig.layout[axis].range
        assert low <= float(codes[:, 0].min()) and float(codes[:, 0].max()) <= high and high - low < 1.2 * float(codes[:, 0].max() - codes[:, 0].min())
    ae_picture, vae_picture, note = views.latent_grids(None, 6)
    assert ae_picture.dtype == vae_picture.dtype == np.uint8
    assert ae_picture.shape == vae_picture.shape == (6 * 30 + 2 + 8 + 3 * 30 + 2, 6 * 30 + 2)  # grid, band, 16 draws in rows of 6
    assert not np.array_equal(ae_picture, vae_picture) and note.count("judges read") == 2 and "holes" in note
    rows = views.interpolate(None, 3, 7, 5)
    assert rows.shape == (2 * 30 + 2, 5 * 30 + 2)
    assert np.array_equal(rows[2:30, 2:30], views.interpolate(None, 3, 9, 5)[2:30, 2:30])  # both start at digit 3's code


def test_train_pair_streams_and_puts_both_models_in_the_session(views):
    session = views.session(None)
    bundled = views.pair(session)
    updates = list(views.train_pair(session, 50, 0, stop=threading.Event()))
    assert updates[0] == ("Starting…", None, None)
    status, curves, scatters = updates[-1]
    assert "AE: done" in status and "VAE: done" in status and "Test:" in status
    assert {t.name for t in curves.data} >= {"AE reconstruction −log p(x|z)", "VAE −ELBO"} and len(scatters.data) == 20
    ae, vae = views.pair(session)
    assert (ae, vae) != bundled and ae.model.beta == 0 and vae.model.beta == 1 and "50 steps" in ae.name
    assert views.pair(None) == bundled  # other sessions keep the bundled pair
    views.latent_scatters(session), views.interpolate(session, 0, 1)


def test_a_stopped_pair_run_keeps_the_weights_reached(views):
    session, stop = DigitSession(), threading.Event()
    stream = views.train_pair(session, 3000, 1, stop=stop)
    next(stream), next(stream)  # "Starting…", then a frame after ~1 s of training
    stop.set()
    status, _, _ = list(stream)[-1]
    assert "stopped" in status and session.pair is not None and "of 3,000 steps" in session.pair[0].name


def test_a_fixed_sigma2_lowers_the_likelihood_and_tends_to_pca(views, data):
    ml = views.fit_ppca(16)
    test = lambda m: float(m.log_prob(data.test_grey.flatten(1)).mean())  # noqa: E731
    for sigma2 in ("0.01", "0.001"):
        fixed = views.fit_ppca(16, sigma2)
        assert fixed.sigma2 == float(sigma2) and test(fixed) < test(ml)
        assert "fixed" in views.ppca(16, sigma2)[2]
    # sigma2 -> 0: the posterior mean's reconstruction is the orthogonal projection on the top K directions (PCA)
    x = data.test_grey[:8].flatten(1).double()
    near_pca = views.fit_ppca(16, "0.000001").reconstruct(x)
    u = torch.linalg.qr(ml.weight).Q  # (784, 16): the principal subspace
    projection = ml.mean + (x - ml.mean) @ u @ u.T
    assert float((near_pca - projection).abs().max()) < 1e-3

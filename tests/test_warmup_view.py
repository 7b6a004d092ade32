"""The warm-up tab's Gaussian views, called directly (no gradio): the Box-Muller stream and its
note, the MLE panel against numpy's formulas, EM steps, runs, restarts and BIC (the curve never
decreases in any frame), the user's points, and bad input (ValueError or a regularisation note)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from models import gaussian
from playground.views import warmup_gmm
from playground.views.base import Context
from playground.views.warmup import BM_POINTS, DIMS, MLE_SOURCES, GmmFrame, MleData, WarmupSession, WarmupViews

pytestmark = pytest.mark.usefixtures("one_thread")
COLLINEAR = "x,y\n0,0\n0,1\n0,2\n0,3\n"  # x has no spread; in 2-D the points lie on a line
DUPLICATES = "\n".join(["0,0", "1,1", "2,0"] * 10)  # 3 distinct points, 10 times each


@pytest.fixture(scope="module")
def views(data):
    return WarmupViews(Context(torch.device("cpu"), data))


def _bold(note: str) -> list[float]:
    """The numbers in bold in a note, in order."""
    return [float(v.replace(",", "")) for v in re.findall(r"\*\*(?:[^*]*?= )?(-?[\d,]+\.?\d*)\*\*", note)]


def _numbers(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+\.\d+", text)]


def _finite(figure) -> bool:
    """No NaN or infinity anywhere in a figure's numeric data."""
    for trace in figure.data:
        for key in ("x", "y", "z"):
            values = getattr(trace, key, None)
            if values is not None and len(values) and np.asarray(values).dtype.kind == "f" and not np.isfinite(np.asarray(values, dtype=np.float64)).all():
                return False
    return True


# --- Box-Muller -------------------------------------------------------------------------------------
def test_box_muller_final_figure_and_note(views):
    figure, note = views.box_muller_final(3000, 7)
    square, plane = figure.data[0], figure.data[1]
    assert len(square.x) == len(plane.x) == 3000 and square.type == "scattergl"
    assert 0 < min(square.x) and max(square.x) <= 1 and 0 < min(square.y) and max(square.y) <= 1
    g = torch.Generator().manual_seed(7)
    u1, u2 = gaussian.uniforms(3000, g), gaussian.uniforms(3000, g)
    x, y = gaussian.box_muller(u1, u2)
    np.testing.assert_allclose(plane.x, x.numpy(), rtol=1e-6)
    d, p = gaussian.ks_test_normal(x)
    assert f"D = {d:.4f}" in note and f"p = {p:.3f}" in note and "seeded with **7**" in note and "Mersenne Twister" in note
    assert f"mean {float(x.mean()):+.3f}, std {float(x.std()):.3f}" in note
    bars = [t for t in figure.data if t.type == "bar"]
    assert len(bars) == 2 and all(len(b.x) == 40 for b in bars)
    for bar, values in zip(bars, (x, y)):  # density: the bars' area is the share of points inside [-4, 4]
        assert float(np.sum(bar.y) * bar.width) == pytest.approx(float((values.abs() < 4).double().mean()), abs=1e-5)
    layout = figure.layout
    assert layout.yaxis.scaleanchor == "x" and layout.yaxis2.scaleanchor == "x2" and 400 <= layout.height <= 480
    assert [layout[f"xaxis{s}"].title.text for s in ("", "2", "3", "4")] == ["U1", "X", "X", "Y"] and _finite(figure)


def test_box_muller_streams_eight_growing_frames(views):
    frames = list(views.box_muller(1000, 3, frame_s=0.0))
    assert len(frames) == 8
    counts = [len(f.data[0].x) for f, _ in frames]
    assert counts == sorted(counts) and counts[0] == 125 and counts[-1] == 1000
    assert "Streaming: 125 of 1,000" in frames[0][1] and "Streaming" not in frames[-1][1]
    assert frames[-1][1] == views.box_muller_final(1000, 3)[1]


@pytest.mark.parametrize("n,seed", [(99, 0), (20001, 0), (10**9, 0), ("abc", 0), (None, 0), (float("nan"), 0), (2000, -1), (2000, "x")])
def test_box_muller_refuses_bad_settings_at_once(views, n, seed):
    with pytest.raises(ValueError):
        views.box_muller(n, seed)  # before the stream starts
    with pytest.raises(ValueError):
        views.box_muller_final(n, seed)


def test_thumbnail_is_a_coloured_scatter(views):
    picture = views.thumbnail()
    assert picture.shape == (220, 220, 3) and picture.dtype == np.uint8
    ink = (picture != 255).any(2) & ~(picture == 210).all(2)
    assert 0.02 < ink.mean() < 0.5 and len(np.unique(picture[ink].reshape(-1, 3), axis=0)) > 50
    assert np.array_equal(views.thumbnail(views.session(None)), picture)
    assert BM_POINTS.default == 2000


# --- maximum likelihood ---------------------------------------------------------------------------
@pytest.mark.parametrize("source", [s for s in MLE_SOURCES if s not in ("drawn", "csv")])
@pytest.mark.parametrize("dims", DIMS)
def test_mle_note_matches_the_formulas(views, source, dims):
    session = views.mle_data(None, source, dims, 300, 2)
    points = session.mle.points.numpy()[:, :1] if dims == "1-D" else session.mle.points.numpy()
    assert len(points) == 300
    mean, cov = points.mean(0), np.cov(points.T, bias=True).reshape(points.shape[1], points.shape[1])

    def average_ll(mu, sigma):  # the textbook average log-likelihood in nats per point
        diff = points - mu
        quad = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(sigma), diff)
        return float(np.mean(-0.5 * (len(mu) * math.log(2 * math.pi) + math.log(np.linalg.det(sigma)) + quad)))

    set_mu, set_cov = np.array([0.3, -0.2])[: points.shape[1]], np.array([[1.2**2, 0.5 * 1.2 * 0.7], [0.5 * 1.2 * 0.7, 0.7**2]])[: points.shape[1], : points.shape[1]]
    figure, surface, note = views.mle_view(session, 0.3, 1.2, -0.2, 0.7, 0.5)
    ll, ll_mle, gap = _bold(note)
    assert ll == pytest.approx(average_ll(set_mu, set_cov), abs=6e-5) and ll_mle == pytest.approx(average_ll(mean, cov), abs=6e-5)
    assert gap == pytest.approx(ll_mle - ll, abs=2e-4) and gap > 0
    mle_text = note.split("the MLE (")[1].split(") **")[0]
    expected = [mean[0], math.sqrt(cov[0, 0])] if dims == "1-D" else [mean[0], mean[1], math.sqrt(cov[0, 0]), math.sqrt(cov[1, 1]), cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1])]
    np.testing.assert_allclose(_numbers(mle_text), expected, atol=6e-4)
    fit = views.mle_fit(session)
    assert fit["mu_x"] == pytest.approx(mean[0]) and fit["sigma_x"] == pytest.approx(math.sqrt(cov[0, 0]))
    if dims == "2-D":
        assert fit["rho"] == pytest.approx(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]))
    # At the MLE the gap closes, and the surface peaks next to it.
    assert _bold(views.mle_view(session, *fit.values())[2])[2] == pytest.approx(0, abs=1e-4)
    contour = surface.data[0]
    z = np.asarray(contour.z)
    assert z.shape == (60, 61) and np.isfinite(z).all() and _finite(figure) and _finite(surface)
    i, j = np.unravel_index(np.argmax(z), z.shape)
    if dims == "1-D":
        assert abs(contour.x[j] - mean[0]) <= 0.11 and abs(math.log(contour.y[i] / math.sqrt(cov[0, 0]))) <= 0.08
    assert surface.data[2].x[0] == pytest.approx(mean[0], abs=1e-5) and surface.layout.yaxis.type == "log"


def test_mle_figures(views):
    session = views.mle_data(None, "two bumps", "1-D", 500, 0)
    figure, _, _ = views.mle_view(session, 0, 1)
    bars = figure.data[0]
    assert bars.type == "bar" and float(np.sum(bars.y) * bars.width) == pytest.approx(1.0, abs=0.01)
    assert [t.name for t in figure.data[2:]] == ["N(μ, σ²): yours", "N(μ̂, σ̂²): the MLE"] and figure.data[3].line.dash == "dash"
    session = views.mle_data(session, "ring", "2-D", 800, 0)
    figure, surface, note = views.mle_view(session, 0, 1, 0, 1, 0)
    assert figure.layout.yaxis.scaleanchor == "x" and len(figure.data[0].x) == 800
    ellipses = [t for t in figure.data if t.mode == "lines"]
    assert len(ellipses) == 4 and all(np.isclose(t.x[0], t.x[-1], atol=1e-5) for t in ellipses)
    assert "over (μx, σx), μy, σy and ρ as set" in surface.layout.title.text and "2-D" in note


def test_singular_mle_data_are_regularised_and_said(views):
    session = views.mle_points(None, "csv_text", COLLINEAR)
    assert session.mle.source == "csv" and session.mle.dims == "1-D"
    figure, surface, note = views.mle_view(session, 0, 1)
    assert "Regularised" in note and "σ = 0.050" in note and _finite(figure) and _finite(surface)
    assert views.mle_fit(session)["sigma_x"] == pytest.approx(0.05)
    session = views.mle_data(session, "csv", "2-D")  # the CSV points kept, seen in 2-D: collinear
    assert "Regularised" in views.mle_view(session, 0, 1, 0, 1, 0)[2]
    session.mle = MleData(torch.tensor([[0.5, -0.5]], dtype=torch.float64), "one point", "csv", "2-D")
    figure, surface, note = views.mle_view(session, 0.5, 0.05, -0.5, 0.05, 0)
    assert "Regularised" in note and _bold(note)[2] == pytest.approx(0, abs=1e-4) and _finite(figure) and _finite(surface)


def test_an_mle_off_the_sliders_is_clipped_and_said(views):
    session = views.session(None)
    points = torch.randn(400, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 5 + 4
    session.mle = MleData(points, "wide points", "csv", "2-D")
    fit = views.mle_fit(session)
    assert fit["mu_x"] == fit["mu_y"] == 3 and fit["sigma_x"] == fit["sigma_y"] == 3
    note = views.mle_view(session, *fit.values())[2]
    off = note.split("outside the sliders' ranges (")[1].split(")")[0]
    np.testing.assert_allclose(_numbers(off), [points[:, 0].mean(), points[:, 0].std(correction=0), points[:, 1].mean(), points[:, 1].std(correction=0)], atol=6e-4)


def test_drawn_points_become_the_data(views):
    canvas = np.zeros((200, 200, 4), np.uint8)
    canvas[40:160, 95:105] = (0, 0, 0, 255)  # a vertical stroke
    session = views.mle_points(None, "drawn", canvas)
    assert session.mle.source == "drawn" and len(session.mle.points) == 600 and "drawn" in session.user
    assert views.mle_data(session, "drawn", "2-D").mle.points is session.user["drawn"][0]


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda v: v.mle_view(None, float("nan"), 1), "μx"),
        (lambda v: v.mle_view(None, 0, "abc"), "σx"),
        (lambda v: v.mle_view(None, 0, None), "σx"),
        (lambda v: v.mle_view(None, 0, 0.0), "σx"),
        (lambda v: v.mle_view(None, 0, 1, 0, 1, 0.99), "ρ"),
        (lambda v: v.mle_view(None, 1e9, 1), "μx"),
        (lambda v: v.mle_data(None, "gaussian", "1-D", 1), "number of points"),
        (lambda v: v.mle_data(None, "gaussian", "1-D", 10**9), "number of points"),
        (lambda v: v.mle_data(None, "gaussian", "3-D"), "dimensions"),
        (lambda v: v.mle_data(None, "uniform"), "data"),
        (lambda v: v.mle_data(None, "drawn"), "no points drawn"),
        (lambda v: v.mle_data(None, "csv"), "no CSV points"),
        (lambda v: v.mle_points(None, "csv_text", "1,2\nc,d\n3,4"), "not a number"),
        (lambda v: v.mle_points(None, "csv_text", "0,0\nnan,1\n"), "NaN"),
        (lambda v: v.mle_points(None, "csv_text", "1,2\n"), "at least 2"),
        (lambda v: v.mle_points(None, "csv_text", None), "paste CSV"),
        (lambda v: v.mle_points(None, "csv_file", ""), "upload"),
        (lambda v: v.mle_points(None, "csv_file", "/no/such/file.csv"), "cannot read"),
        (lambda v: v.mle_points(None, "pdf", "1,2"), "kind of points"),
        (lambda v: v.mle_points(None, "drawn", np.zeros((50, 50, 4), np.uint8)), "nothing is drawn"),
    ],
)
def test_bad_mle_input_raises(views, call, match):
    with pytest.raises(ValueError, match=match):
        call(views)


# --- Gaussian mixtures by EM -------------------------------------------------------------------------
def _monotone(curve) -> bool:
    values = np.asarray(curve.data[0].y, dtype=np.float64)
    return bool(np.all(np.diff(values) >= -1e-6 * np.abs(values[1:])))


def test_em_steps_one_at_a_time(views):
    session, frame = views.gmm_reset(None, "blobs", 3, "full", "k-means++", 1)
    assert isinstance(session, WarmupSession) and isinstance(frame, GmmFrame)
    assert frame.figure.data[0].marker.color == "#888" and "initialised" in frame.note  # no responsibilities yet
    assert sum(t.mode == "lines" for t in frame.figure.data) == 6 and frame.figure.layout.yaxis.scaleanchor == "x"
    frame = views.gmm_step(session, "E")
    colours = frame.figure.data[0].marker.color
    assert len(colours) == 1000 and all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)
    assert views.gmm_step(session, "E").curve.data[0].x.tolist() == [0.0, 0.5]  # a second E step changes nothing
    frame = views.gmm_step(session, "M")
    assert "Iteration 1" in frame.note and "weights π" in frame.note and "out of date" not in frame.note
    frame = views.gmm_step(session, "M")  # an M step with stale responsibilities: the E step runs first
    assert "out of date, so the E step ran first" in frame.note and "Iteration 2" in frame.note
    curve = frame.curve
    assert curve.data[0].x.tolist() == [0, 0.5, 1, 1.5, 2] and _monotone(curve)
    ll = np.asarray(curve.data[0].y)
    bound = np.asarray(curve.data[1].y)  # at the E and M steps
    assert np.all(bound <= ll[1:] + 1e-5) and bound[0] == pytest.approx(ll[1])  # F = L after an E step
    one = views.gmm_reset(session, "ring", 1)[1]
    views.gmm_step(session, "E")
    assert set(views.gmm_frame(session).figure.data[0].marker.color) == {"#1f77b4"} and "K = 1" in one.note


def test_em_run_streams_monotone_frames_and_stops(views, monkeypatch):
    monkeypatch.setattr(warmup_gmm, "RUN_FRAME_S", 0.0)  # a frame every iteration
    session, _ = views.gmm_reset(None, "ring", 8, "full", "k-means++", 0)
    frames = list(views.gmm_run(session, 200))
    assert len(frames) >= 3 and all(_monotone(f.curve) for f in frames)
    assert "Running: 1 of 200" in frames[0].note and "Converged after" in frames[-1].note
    assert session.gmm.iteration == len(frames) and not session.lock.locked()
    session, _ = views.gmm_reset(session, "grid", 10, "diag", "random", 3)
    run = views.gmm_run(session, 50, stop=lambda: session.gmm.iteration >= 2)
    first = next(run)
    with pytest.raises(ValueError, match="EM is busy"):
        views.gmm_step(session, "E")  # the run holds the mixture
    with pytest.raises(ValueError, match="EM is busy"):
        views.gmm_reset(session, "ring")
    rest = list(run)
    assert "Stopped after 2 of 50" in rest[-1].note and session.gmm.iteration == 2 and "Running: 1" in first.note
    assert not session.lock.locked()
    ran = list(views.gmm_run(session, 1))
    assert len(ran) == 1 and ("Ran 1 iteration in" in ran[0].note or "Converged" in ran[0].note)


def test_restarts_keep_the_best_and_list_them(views):
    session, _ = views.gmm_reset(None, "ring", 8, "full", "k-means++", 0)
    frame = views.gmm_restarts(session, 4)
    finals = [float(v) for v in re.findall(r"seed \d+: (-?\d+\.\d+)", frame.note)]
    assert len(finals) == 4 and "← kept" in frame.note
    kept = int(re.search(r"seed (\d+): -?\d+\.\d+ \*\*← kept", frame.note).group(1))
    assert session.gmm.seed == kept and session.gmm.history[-1]["ll"] == pytest.approx(max(finals), abs=1e-4)
    assert _monotone(frame.curve) and max(finals) > min(finals)  # seed 0 falls into a local optimum on the ring


def test_bic_chooses_k_on_the_blobs(views):
    session, _ = views.gmm_reset(None, "blobs", 2)
    figure, note = views.gmm_bic(session, 6)
    bic = np.asarray(figure.data[0].y)
    assert len(bic) == 6 and int(np.argmin(bic)) + 1 == 3 and figure.data[1].x[0] == 3 and "**Best K = 3**" in note
    assert np.all(np.diff(np.asarray(figure.data[2].y)) > -1e-3)  # the log-likelihood (best of 2 inits) rises with K


def test_duplicated_points_give_a_regularisation_warning(views):
    session = views.gmm_points(None, "csv_text", DUPLICATES)
    assert session.gmm.source == "csv" and len(session.gmm.points) == 30
    session, _ = views.gmm_reset(session, "csv", 3)
    frame = list(views.gmm_run(session, 30))[-1]
    assert "Regularised" in frame.note and "singular covariance" in frame.note
    assert _finite(frame.figure) and _finite(frame.curve) and _monotone(frame.curve)
    views.mle_points(session, "csv_text", "0,0\n1,1\n2,2\n3,0\n")  # new CSV points for the MLE panel
    assert len(views.gmm_restarts(session, 2).figure.data[0].x) == 30 == len(session.gmm.points)  # the mixture keeps its own


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda v, s: v.gmm_reset(s, "ring", 0), "K"),
        (lambda v, s: v.gmm_reset(s, "ring", 11), "K"),
        (lambda v, s: v.gmm_reset(s, "ring", "three"), "K"),
        (lambda v, s: v.gmm_reset(s, "ring", float("nan")), "K"),
        (lambda v, s: v.gmm_reset(s, "ring", 3, "tied"), "covariance"),
        (lambda v, s: v.gmm_reset(s, "ring", 3, "full", "kmeans"), "init"),
        (lambda v, s: v.gmm_reset(s, "ring", 3, "full", "random", -1), "seed"),
        (lambda v, s: v.gmm_reset(s, "moons"), "data"),
        (lambda v, s: v.gmm_reset(s, "drawn"), "no points drawn"),
        (lambda v, s: v.gmm_step(s, "X"), "step"),
        (lambda v, s: v.gmm_step(s, None), "step"),
        (lambda v, s: v.gmm_run(s, 0), "EM steps"),
        (lambda v, s: v.gmm_run(s, 10**6), "EM steps"),
        (lambda v, s: v.gmm_run(s, "ten"), "EM steps"),
        (lambda v, s: v.gmm_run(s, 10, stop=5), "stop"),
        (lambda v, s: v.gmm_restarts(s, 0), "restarts"),
        (lambda v, s: v.gmm_restarts(s, 21), "restarts"),
        (lambda v, s: v.gmm_bic(s, 11), "largest K"),
        (lambda v, s: v.gmm_bic(s, None), "largest K"),
        (lambda v, s: v.gmm_reset(v.gmm_points(s, "csv_text", "0,0\n1,1\n"), "csv", 3), "larger than the 2 points"),
        (lambda v, s: v.gmm_points(s, "csv_text", "x;y\n1;oops\n"), "not a number"),
    ],
)
def test_bad_mixture_input_raises(views, call, match):
    session = views.session(None)
    with pytest.raises(ValueError, match=match):
        call(views, session)
    assert not session.lock.locked()


def test_k_larger_than_the_points_is_refused_everywhere(views):
    session = views.gmm_points(views.session(None), "csv_text", "0,0\n1,1\n2,0\n")  # K = 3 on 3 points: allowed
    with pytest.raises(ValueError, match="larger than the 3 points"):
        views.gmm_reset(session, "csv", 4)
    with pytest.raises(ValueError, match="larger than the 3 points"):
        views.gmm_bic(session, 8)
    assert views.gmm_bic(session, 3)[0].data[0].x.tolist() == [1, 2, 3]
    session = views.gmm_points(session, "csv_text", "5,5\n6,5\n")  # 2 points for K = 3: stored, the mixture left as it was
    assert len(session.user["csv"][0]) == 2 and len(session.gmm.points) == 3
    assert len(views.gmm_reset(session, "csv", 2)[0].gmm.points) == 2


def test_sessions(views):
    fresh = views.session(None)
    assert isinstance(fresh, WarmupSession) and views.session(fresh) is fresh and isinstance(views.session("junk"), WarmupSession)
    assert fresh.mle.source == "gaussian" and fresh.mle.dims == "1-D" and fresh.gmm.model.n_components == 3 and fresh.gmm.source == "ring"
    assert views.digits is not None

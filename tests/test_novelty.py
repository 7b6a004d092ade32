"""Novelty detection (``playground.views.novelty``): the outlier sets, the ROC AUC, the
typicality score, the kept scores and the views, called directly (no gradio)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from models.ppca import BernoulliMixture
from playground.core.metrics import roc_auc
from playground.views import novelty_scores as ns
from playground.views.base import Context
from playground.views.novelty import COMPUTING, PRESETS, NoveltyViews


@pytest.fixture(scope="module")
def ctx(data):
    return Context(torch.device("cpu"), data)


@pytest.fixture(scope="module")
def pixelcnn(ctx):
    """The views on the bundled PixelCNN alone, its scores read from assets/novelty.json
    (computed, ~6 s, if they do not match)."""
    views = NoveltyViews(ctx, models=("pixelcnn",))
    views.start().join()
    return views


def test_outlier_sets_have_their_shape_range_and_ink(data):
    x = data.images("test", "binary")[:8]
    ink = x.sum((1, 2, 3))
    sets = ns.outlier_sets(data, 8)
    assert tuple(sets) == ns.OUTLIER_SETS
    for name, images in sets.items():
        assert images.dtype == torch.float32 and images.shape == ((1 if name == "blank" else 8), 1, 28, 28), name
        assert bool(((images == 0) | (images == 1)).all()), name
    for name in ("rotated 90°", "rotated 180°", "noise (same ink)"):
        assert torch.equal(sets[name].sum((1, 2, 3)), ink), name  # the same ink, elsewhere
        assert not torch.equal(sets[name], x), name
    assert torch.equal(torch.flip(sets["rotated 180°"], (2, 3)), x)
    assert torch.equal(sets["inverted"].sum((1, 2, 3)), 784 - ink)
    shift = ns.SHIFT_PX
    assert torch.equal(sets["shifted"][:, :, shift:, shift:], x[:, :, :-shift, :-shift]) and not sets["shifted"][:, :, :shift].any()
    assert float(sets["blank"].sum()) == 0
    assert torch.equal(ns.outlier_sets(data, 8)["noise (same ink)"], sets["noise (same ink)"])  # seeded
    with pytest.raises(ValueError, match="1 to 500"):
        ns.outlier_sets(data, 0)


def test_roc_auc_on_a_hand_computed_case():
    # Pairs (inlier, outlier): 3>2, 3>0, 2=2 (1/2), 2>0, 1<2, 1>0: 4.5 of 6.
    assert roc_auc([3, 2, 1], [2, 0]) == 0.75
    assert roc_auc([1, 2], [3, 4]) == 0.0 and roc_auc([5], [5]) == 0.5
    for bad in ([], [math.nan]):
        with pytest.raises(ValueError, match="ROC AUC needs"):
            roc_auc([1.0], bad)


def test_auc_of_a_tiny_model_equals_the_hand_computed_value():
    # One product of 4 Bernoullis with p = 0.2: log p = k log 0.2 + (4 - k) log 0.8 falls
    # with the ink k. Inliers with ink 1, 2, 0 against outliers with ink 3, 1: by log p
    # the pairs give 1 + 1/2, 1 + 0, 1 + 1 = 4.5 of 6.
    model = BernoulliMixture(1, dim=4)
    model.means[:] = 0.2
    inliers = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.float64)
    outliers = torch.tensor([[1, 1, 1, 0], [0, 0, 0, 1]], dtype=torch.float64)
    assert roc_auc(model.log_prob(inliers), model.log_prob(outliers)) == pytest.approx(0.75)
    # Typicality around the inliers' mean ink 1: |k - 1| is 0, 1, 1 against 2, 0 (in units
    # of log 0.8 - log 0.2): pairs 0<2, 0=0 (1/2), 1<2, 1>0, 1<2, 1>0 give 3.5 of 6.
    scores = ns.Scores(model.log_prob(inliers).numpy(), model.log_prob(inliers).numpy(), {}, {})
    inlier_t, outlier_t = scores.typicality(model.log_prob(inliers).numpy()), scores.typicality(model.log_prob(outliers).numpy())
    assert roc_auc(-inlier_t, -outlier_t) == pytest.approx(3.5 / 6)


def test_the_views_answer_computing_before_the_scores_are_ready(ctx):
    views = NoveltyViews(ctx, models=("nade",))  # never started
    headers, rows, note = views.auc_table()
    assert headers[2:-1] == list(ns.OUTLIER_SETS) and rows[0][:2] == ["NADE", COMPUTING] and "NADE" in note
    assert COMPUTING in views.histograms("nade").layout.title.text
    picture, note, rows = views.score(np.eye(28, dtype=np.uint8) * 255)
    assert picture.shape == (168, 168) and rows == [["NADE", COMPUTING, "…", "…", "…"]] and COMPUTING in note


def test_likelihood_prefers_the_blank_and_typicality_flags_it(pixelcnn):
    headers, rows, note = pixelcnn.auc_table()
    by_score = {row[1]: dict(zip(headers, row)) for row in rows}
    assert float(by_score["log p"]["blank"]) == 0.0  # above every test digit
    assert float(by_score["typicality"]["blank"]) > 0.95
    assert float(by_score["log p"]["inverted"]) == 1.0 and float(by_score["typicality"]["inverted"]) == 1.0
    assert "PixelCNN" in note and "above every one of the 500 test digits" in note and "nan" not in note.lower()
    picture, text, (row,) = pixelcnn.score(np.zeros((28, 28), np.uint8))
    assert row[0] == "PixelCNN" and row[2] == "100.0%" and "MORE likely" in row[4] and not picture.any()
    assert "Likelihood alone would have passed it for PixelCNN" in text
    scores = pixelcnn.ready("pixelcnn")
    assert float(row[1]) == pytest.approx(float(scores.sets["blank"][0]), abs=0.06)  # the same model, the same image
    digit = pixelcnn.ctx.data.images("test", "binary")[0, 0].numpy()  # a 28 x 28 image is scored as it is
    assert float(pixelcnn.score(digit)[2][0][1]) == pytest.approx(float(scores.test[0]), abs=0.06)


def test_histograms_show_every_set_without_nan(pixelcnn):
    fig = pixelcnn.histograms("pixelcnn")
    names = [trace.name for trace in fig.data]
    assert len(names) == 6 and names[0].startswith("test digits (500)") and any(n.startswith("inverted") and "off the left" in n for n in names)
    assert all(np.isfinite(np.asarray(trace.x, float)).all() for trace in fig.data)
    assert "blank" in json.dumps(fig.to_plotly_json()["layout"]["annotations"], ensure_ascii=False)
    with pytest.raises(ValueError, match="model"):
        pixelcnn.histograms("gan")


def test_presets_and_bad_uploads(pixelcnn, tmp_path):
    for name in PRESETS:
        picture = pixelcnn.preset(name)
        assert picture.dtype == np.uint8 and picture.ndim == 2
    assert not pixelcnn.preset("blank")[2:-2, 2:-2].any() and pixelcnn.preset("inverted").mean() > 128
    with pytest.raises(ValueError, match="set"):
        pixelcnn.preset("upside down")
    text_file = tmp_path / "not-an-image.png"
    text_file.write_text("hello")
    bad = [None, {"composite": None, "layers": []}, str(text_file), np.full((40, 40), 255, np.uint8), np.zeros((4, 4)), np.full((28, 28), np.nan), "nowhere.png"]
    for image in bad:
        with pytest.raises(ValueError):
            pixelcnn.score(image)


def test_kept_scores_round_trip_and_a_changed_key_recomputes(ctx, tmp_path):
    path = tmp_path / "novelty.json"
    first = NoveltyViews(ctx, cache_path=path, models=("vae",))
    first.compute()
    first.write()
    again = NoveltyViews(ctx, cache_path=path, models=("vae",))
    again.start().join()
    assert np.allclose(again.ready("vae").test, first.ready("vae").test, atol=1e-3)  # float32 on disk
    assert again.auc_table()[1] == first.auc_table()[1]
    entry = json.loads(path.read_text())
    entry["vae"]["key"]["weights_sha256"] = "0" * 64
    entry["vae"]["test"] = entry["vae"]["train"]  # stale scores: must not be used
    path.write_text(json.dumps(entry))
    stale = NoveltyViews(ctx, cache_path=path, models=("vae",))
    stale.start().join()
    assert np.allclose(stale.ready("vae").test, first.ready("vae").test, atol=1e-3)

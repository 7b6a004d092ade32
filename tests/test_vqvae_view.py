"""The VQ-VAE tab's views, called directly (no gradio): tiny seeded models in a session
(and the bundled ones when they are present): outputs, limits, editing a code, the
prior's completions, the two levels, training and Stop."""

from __future__ import annotations

import itertools
import json
import math
import re
import threading

import numpy as np
import pytest
import torch

from models.base import seeded_init
from models.vqvae import VQVAE, VQVAE2
from playground.core import checkpoints
from playground.views import vqvae as vq
from playground.views.base import Context
from playground.views.vqvae import AE_STEPS, CARD, CELL_PX, LABEL_CHOICES, MODELS, N_SAMPLES, PRIOR_STEPS, ROWS_KEPT, TOUR, K, VqSession, VqView, VqViews, cell_at, code_at
from playground.views.vqvae_pictures import KEPT_LINE, mosaic_layout

TINY = {"n_codes": 16, "code_dim": 4, "hidden": 8, "prior_channels": 8, "prior_layers": 2, "n_classes": 10}
TINY_TRAIN = {"prior_channels": 4, "prior_layers": 1}
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: a second thread only adds synchronisation (see conftest.single_thread)
BUNDLED = all(name in checkpoints.bundled_names() for name in MODELS)


@pytest.fixture(scope="module")
def views(data):
    return VqViews(Context(torch.device("cpu"), data))


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    """No pause between the frames of the prior at work, and a small model to train."""
    monkeypatch.setattr(vq, "FRAME_S", 0.0)
    monkeypatch.setattr(vq, "TRAIN_HIDDEN", 8)
    monkeypatch.setattr(vq, "TRAIN_PRIOR", TINY_TRAIN)


def tiny_session(views, **overrides) -> VqSession:
    config = {**TINY, **overrides}
    return VqSession({
        "vqvae": VqView(seeded_init(VQVAE, 0, **config), "tiny", views.ctx),
        "vqvae2": VqView(seeded_init(VQVAE2, 0, **config), "tiny two-level", views.ctx),
    })


@pytest.fixture(scope="module")
def session(views):
    return tiny_session(views)


def _train(views, session, stop=None, **overrides):
    settings = {"which": "vqvae", "n_codes": 16, "code_dim": 4, "beta": 0.25, "ema": True, "restart": True, "ae_steps": 50, "prior_steps": 10, "lr": 2e-3, "seed": 0}
    settings.update(overrides)
    return views.train(session, **settings, stop=stop or threading.Event())


def test_the_panels_limits_the_card_and_the_tour():
    assert LABEL_CHOICES == ["any", *map(str, range(10))] and N_SAMPLES == 32 and MODELS == ("vqvae", "vqvae2")
    assert (K.low, K.high, K.default) == (16, 512, 16) and AE_STEPS.default == 600 and PRIOR_STEPS.low == 0 and ROWS_KEPT.high == 6
    assert CARD.tab == "vq-samples" and 0 < CARD.seconds < 60
    assert 3 <= len(TOUR) <= 5
    for step in TOUR:
        assert len(step.title) <= 30 and step.title[-1] not in ".?!", step.title
        assert step.text.count(". ") + step.text.count("? ") <= 1 and step.tab.startswith("vq-") and step.run, step.title


def test_samples_draw_the_prior_beside_uniform_codes_and_read_both(views, session):
    prior, uniform, note = views.samples(session, 3, "any", "vqvae")
    assert prior.dtype == uniform.dtype == np.uint8 and prior.shape == uniform.shape == (4 * 30 + 2, 8 * 30 + 2)
    assert "**Left, with the prior** (labels 0–9 in turn" in note and "**Right, uniform codes**" in note
    assert note.count("judges read **") == 1 and "of these 32 confidently" in note  # the prior's samples only
    distances = [float(d) for d in re.findall(r"Fréchet distance[^*]*\*\*(\d+)\*\*", note)]
    assert len(distances) == 2 and "real digits" in note
    assert np.array_equal(prior, views.samples(session, 3, "any", "vqvae")[0])  # seeded
    assert not np.array_equal(prior, uniform)
    seven, _, note = views.samples(session, 3, 7, "vqvae2")  # an int label is the same as "7"
    assert "label 7" in note and "65 cells a grid" in note and seven.shape == prior.shape
    first = views.samples(session)
    assert views.samples(session) is first and np.array_equal(views.thumbnail(session), first[0])  # kept for the page's first view


def test_an_unconditional_prior_says_it_ignores_the_label(views):
    session = tiny_session(views, n_classes=0)
    _, _, note = views.samples(session, 0, "4")
    assert "unconditional prior (it takes no label: the label is ignored)" in note


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda v, s: v.samples(s, -1), "seed"), (lambda v, s: v.samples(s, 2**31), "seed"), (lambda v, s: v.samples(s, 0, "10"), "label"),
        (lambda v, s: v.samples(s, 0, "any", "vae"), "model"), (lambda v, s: v.codebook(s, "vqvae", 1), "level"),
        (lambda v, s: v.codebook(s, "vqvae2", -3), "level"), (lambda v, s: v.encode(s, 10**9), "test digit"),
        (lambda v, s: v.encode(s, float("nan")), "test digit"), (lambda v, s: v.encode(s, 0, np.zeros((64, 64, 4))), "blank"),
        (lambda v, s: v.encode(s, 0, {"composite": None, "layers": []}), "nothing is drawn"),
        (lambda v, s: v.encode(s, None, None), "draw a digit first"),
        (lambda v, s: v.complete(s, 0, 0), "rows kept"), (lambda v, s: v.complete(s, 0, 7), "rows kept"),
        (lambda v, s: v.complete(s, -1), "test digit"), (lambda v, s: v.two_levels(s, 0, -5), "seed"),
        (lambda v, s: next(v.draw_prior(s, 0, "any", "vqvae", float("nan"))), "temperature"),
        (lambda v, s: next(v.draw_prior(s, 0, "any", "vqvae", 5.0)), "temperature"), (lambda v, s: next(v.draw_prior(s, 0, None)), "label"),
    ],
)
def test_every_panel_refuses_bad_settings(views, session, call, match):
    with pytest.raises(ValueError, match=match):
        call(views, session)


def test_the_codebook_decodes_every_code_and_counts_the_whole_test_split(views, session):
    mosaic, figure, note = views.codebook(session, "vqvae")
    assert mosaic.dtype == np.uint8 and mosaic.shape == (4 * 62, 4 * 62, 3)  # 16 codes: 4 rows of 4
    assert [code_at(mosaic.shape, 62 * (k % 4 + 0.5), 62 * (k // 4) + 31, 16) for k in range(16)] == list(range(16))
    counts = np.asarray(figure.data[0].y)
    assert counts.sum() == 49 * len(views.ctx.data.test_labels) and len(counts) == 16
    used = int((counts > 0).sum())
    assert f"codes used **{used} of 16" in note and "perplexity exp(−Σ p log p) = **" in note and "dead codes" in note
    assert views.codebook(session, "vqvae")[0] is mosaic  # computed once per model view
    top, top_figure, top_note = views.codebook(session, "vqvae2", 0)
    assert top.shape == mosaic.shape and np.asarray(top_figure.data[0].y).sum() == 16 * len(views.ctx.data.test_labels)
    assert top_note.startswith("**top level**") and views.codebook(session, "vqvae2")[2].startswith("**bottom level**")
    text = views.describe(session)
    assert "**VQ-VAE: tiny**" in text and "**VQ-VAE-2: tiny two-level**" in text and "test bound **" in text and "codes used on the test split" in text


def test_clicks_map_to_cells_and_codes():
    assert cell_at(0, 0) == (0, 0) and cell_at(7 * CELL_PX - 1, 2 * CELL_PX + 3) == (2, 6) and cell_at(41.0, 0) == (0, 1)
    for x, y in [(-1, 0), (0, 7 * CELL_PX), (1.5, 3), ("a", 2), (None, 1)]:
        with pytest.raises(ValueError, match="outside the code map"):
            cell_at(x, y)
    assert mosaic_layout(16) == (4, 4) and mosaic_layout(64) == (8, 8) and mosaic_layout(512) == (32, 16) and mosaic_layout(2) == (1, 2)
    shape = (5 * 62, 5 * 62, 3)  # 22 codes: 5 rows of 5, the last holds 2
    assert code_at(shape, 0, 0, 22) == 0 and code_at(shape, 62 + 5, 4 * 62 + 5, 22) == 21
    with pytest.raises(ValueError, match="no code there"):
        code_at(shape, 2 * 62 + 5, 4 * 62 + 5, 22)
    with pytest.raises(ValueError, match="outside the codebook mosaic"):
        code_at(shape, 5 * 62, 0, 22)
    with pytest.raises(ValueError, match="shape"):
        code_at("wide", 0, 0, 20)


def test_editing_one_code_changes_that_cell_and_the_decode(views, session):
    codes_json, original, decoded, code_map, note = views.encode(session, 5)
    assert original.shape == decoded.shape == (28, 28) and original.dtype == np.uint8 and code_map.shape == (7 * CELL_PX, 7 * CELL_PX, 3)
    assert note.startswith("test digit #5 (a 6): its 7 × 7 grid of code ids")
    grids = json.loads(codes_json)
    assert len(grids) == 1 and np.asarray(grids[0]).shape == (7, 7)
    old = grids[0][3][4]
    new = (old + 5) % 16
    edited_json, edited, edited_map, note = views.edit(session, codes_json, 3, 4, new)
    assert note.startswith(f"cell (3, 4): {old} → {new}")
    after = np.asarray(json.loads(edited_json)[0])
    changed = np.argwhere(after != np.asarray(grids[0]))
    assert changed.tolist() == [[3, 4]] and after[3, 4] == new
    assert not np.array_equal(edited, decoded)
    differs = np.argwhere((edited_map != code_map).any(axis=2))
    assert differs.min(0).tolist() == [3 * CELL_PX, 4 * CELL_PX] and differs.max(0).tolist() == [4 * CELL_PX - 1, 5 * CELL_PX - 1]  # only that cell
    # Back to the old code: the first decode again.
    assert np.array_equal(views.edit(session, edited_json, 3, 4, old)[1], decoded)


def test_a_two_level_code_map_edits_the_bottom_grid(views, session):
    codes_json, *_ = views.encode(session, 2, None, "vqvae2")
    top, bottom = json.loads(codes_json)
    assert np.asarray(top).shape == (4, 4) and np.asarray(bottom).shape == (7, 7)
    edited = json.loads(views.edit(session, codes_json, 6, 6, 15, "vqvae2")[0])
    assert edited[0] == top and edited[1][6][6] == 15
    with pytest.raises(ValueError, match="2 code grid"):
        views.edit(session, json.dumps([bottom]), 0, 0, 1, "vqvae2")


def test_a_drawing_is_encoded(views, session):
    pad = np.zeros((200, 200, 4), dtype=np.uint8)
    pad[40:160, 90:110] = (0, 0, 0, 255)  # a black stroke: a 1
    codes_json, original, _, _, note = views.encode(session, 0, {"composite": pad, "layers": [pad]})
    assert note.startswith("your drawing (") and original.max() == 255 and len(json.loads(codes_json)) == 1


@pytest.mark.parametrize(
    "codes_json,row,col,code,match",
    [
        (None, 0, 0, 1, "JSON text"), ("[[1, 2]", 0, 0, 1, "not valid JSON"), ("{}", 0, 0, 1, "list of 1 code grid"),
        ("[[[1]]]", 0, 0, 1, "7 rows of 7 integer ids"), (json.dumps([[[0] * 7] * 6]), 0, 0, 1, "7 rows of 7"),
        (json.dumps([[[0.5] * 7] * 7]), 0, 0, 1, "integer ids"), (json.dumps([[[True] * 7] * 7]), 0, 0, 1, "integer ids"),
        (json.dumps([[[0] * 7] * 7, [[0] * 7] * 7]), 0, 0, 1, "list of 1 code grid"), (json.dumps([[[16] * 7] * 7]), 0, 0, 1, r"code ids must be in \[0, 15\]"),
        (json.dumps([[[-1] * 7] * 7]), 0, 0, 1, "code ids"), (json.dumps([[[10**40] * 7] * 7]), 0, 0, 1, "code ids"), ("x" * 200_000, 0, 0, 1, "JSON text"),
        ("GOOD", 7, 0, 1, "row"), ("GOOD", 0, -1, 1, "column"), ("GOOD", 0, 0, 16, r"code must be in \[0, 15\]"), ("GOOD", 0, 0, -1, "code"),
        ("GOOD", 0, 0, 10**12, "code"), ("GOOD", 0, 0, float("nan"), "code"), ("GOOD", 0, 0, 2.5, "code"), ("GOOD", 0.5, 0, 1, "row"),
    ],
)
def test_editing_refuses_bad_code_maps_and_ids(views, session, codes_json, row, col, code, match):
    if codes_json == "GOOD":
        codes_json = json.dumps([[[0] * 7] * 7])
    with pytest.raises(ValueError, match=match):
        views.edit(session, codes_json, row, col, code)


@pytest.mark.parametrize("which,n_cells", [("vqvae", 49), ("vqvae2", 16 + 49)])
def test_the_prior_fills_the_grids_cell_by_cell_then_decodes(views, session, which, n_cells):
    frames = list(views.draw_prior(session, 2, "any", which, 0.8))
    assert len(frames) == n_cells + 1
    grey = [int((f[0] == 110).all(axis=2).sum()) for f in frames]
    assert all(a > b for a, b in itertools.pairwise(grey[:-1])) and grey[-2] == grey[-1] == 0  # one undrawn cell fewer every frame, then the decodes
    assert all(f[1].dtype == np.uint8 and not f[1].any() for f in frames[:-1])  # no decode before the end
    _pictures, decoded, note = frames[-1]
    assert decoded.shape == (4 * 30 + 2, 4 * 30 + 2) and decoded.any()
    assert note.startswith(f"16 grids of {n_cells} cells") and "784" in note and "judges read" in note
    assert frames[0][2] == f"cell 1 of {n_cells} (labels 0–9 in turn, temperature 0.8)…"


@pytest.mark.parametrize("which", MODELS)
def test_completion_keeps_the_kept_rows_codes(views, session, which, monkeypatch):
    model = session.views[which].model
    drawn = []
    original_draw = type(model).draw_codes

    def spy(self, codes, n_known, *args, **kwargs):
        drawn.append((codes, list(n_known)))
        yield from original_draw(self, codes, n_known, *args, **kwargs)

    monkeypatch.setattr(type(model), "draw_codes", spy)
    picture, note = views.complete(session, 7, 2, 0, which)
    assert picture.dtype == np.uint8 and picture.shape == (56, 10 * 60 - 4, 3)
    assert note.startswith("Test digit #7 (a 4): the top 2 of 7 rows of codes kept (14 of 49 cells") and "of 8** as a 4" in note
    (codes, known), = drawn
    truth = model.codes(views.ctx.data.images("test", "binary")[7:8])
    assert known[-1] == 14 and all(torch.equal(c[:, :k // c.shape[2]], t.expand_as(c)[:, :k // c.shape[2]]) for c, t, k in zip(codes, truth, known))
    assert any(not torch.equal(c, t.expand_as(c)) for c, t in zip(codes, truth))  # the rest was redrawn
    assert (picture[2 * 4 * 2] == KEPT_LINE).all(axis=1).sum() == 10 * 56  # an orange line across every tile where the kept rows end


def test_two_levels_keep_one_level_and_redraw_or_swap_the_other(views, session):
    grid, note = views.two_levels(session, 3, 1)
    assert grid.dtype == np.uint8 and grid.shape == (3 * 30 + 2, 10 * 30 + 2)
    assert note.startswith("Test digit #3 (a 6). **Row 1**, top grid kept") and "**Row 2**, bottom grid kept" in note
    assert np.array_equal(grid, views.two_levels(session, 3, 1)[0]) and not np.array_equal(grid, views.two_levels(session, 3, 2)[0])


def test_training_streams_and_gives_the_session_its_model(views):
    session = tiny_session(views)
    other = session.views["vqvae2"]
    run = _train(views, session)
    events = list(run)
    assert events[0] == ("Starting…", None, None, None, None)
    status, recon, curves, usage, samples = events[-1]
    assert "**done**" in status and "Every VQ-VAE panel of the tab now uses this model." in status and "judges read" in status
    model = session.views["vqvae"].model
    assert session.views["vqvae"].name == "trained here (60 steps = 50 autoencoder + 10 prior, seed 0)" and model.hidden == 8 and model.conditional
    assert session.views["vqvae2"] is other
    assert recon.shape == (2 * 30 + 2, 8 * 30 + 2) and samples.shape == (4 * 30 + 2, 8 * 30 + 2)
    assert {a["text"].split(" ")[0] for a in curves.layout.annotations} >= {"reconstruction", "commitment", "perplexity", "codes", "prior"}
    assert sum(np.asarray(usage.data[0].y)) == 49 * 500
    assert any(e[0].startswith("autoencoder: step ") for e in events[1:-1])
    assert views.samples(session, 0)[0].shape == samples.shape  # the panels use it


def test_a_stopped_run_keeps_its_weights_and_a_two_level_run_fills_its_slot(views):
    session = tiny_session(views)
    stop = threading.Event()
    run = _train(views, session, stop, which="vqvae2", ae_steps=5000, prior_steps=0)
    next(run)
    for status, *_ in run:
        if status.startswith("autoencoder: step "):
            stop.set()
    assert status.startswith("**stopped**") and session.views["vqvae2"].model.family == "vqvae2"
    name = session.views["vqvae2"].name
    assert " of 5,000 steps = " in name and " autoencoder + 0 prior" in name
    assert session.views["vqvae"].name == "tiny"


@pytest.mark.parametrize(
    "bad,match",
    [
        ({"n_codes": 0}, "codebook size K"), ({"n_codes": 10**9}, "codebook size K"), ({"code_dim": 1}, "code size"),
        ({"beta": math.nan}, "β"), ({"beta": -0.1}, "β"), ({"ema": "yes"}, "EMA"), ({"restart": 1}, "restart"),
        ({"ae_steps": 10}, "autoencoder steps"), ({"prior_steps": -1}, "prior steps"), ({"prior_steps": 10**7}, "prior steps"),
        ({"lr": 0.0}, "learning rate"), ({"seed": -1}, "seed"), ({"which": "vae"}, "model"),
    ],
)
def test_training_refuses_bad_settings_before_doing_anything(views, bad, match):
    session = tiny_session(views)
    before = dict(session.views)
    with pytest.raises(ValueError, match=match):
        next(_train(views, session, **bad))
    assert session.views == before


@pytest.mark.skipif(not BUNDLED, reason="the bundled vqvae and vqvae2 checkpoints are not in assets/checkpoints yet")
def test_the_bundled_models_are_alive_on_open_and_use_their_codes(views):
    session = views.session(None)
    assert session.views["vqvae"].model.family == "vqvae" and session.views["vqvae2"].model.family == "vqvae2"
    prior, uniform, note = views.samples(None)
    assert prior.shape == uniform.shape and note.count("judges read") == 1
    prior_fd, uniform_fd = (float(d) for d in re.findall(r"Fréchet distance[^*]*\*\*(\d+)\*\*", note))
    assert prior_fd < uniform_fd / 2  # the prior's samples are far closer to real digits than decodes of uniform codes
    counts = session.views["vqvae"].usage[0]
    assert int((counts > 0).sum()) >= 0.9 * len(counts)  # the target: >= 90% of the codes used on the test split
    assert "test bound **" in views.describe(session)

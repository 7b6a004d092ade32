"""The VQ-VAE tab's layer of gradio: thin handlers over the views, independent panels, the
tour, clicks on the code map and the codebook, the prior's drawing and its Stop, and bad
values through the endpoints (as gradio_client sends them, past the widgets' limits)."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
from panels import blocks_in, build_tab, check_panels_draw, check_panels_independent, check_tour, endpoint, session_request

from playground.ui.tabs import vqvae as vq_tab
from playground.views.vqvae import CARD, CELL_PX, TOUR
from playground.views.vqvae_pictures import mosaic_layout

SKIP = type(gr.skip())


@pytest.fixture(scope="module")
def built(data):
    return build_tab(vq_tab.VqTab, data)


@pytest.fixture(scope="module")
def tab(built):
    return built[1]





def _buttons(tab):
    """What each tour step's button runs: the handler and the controls it reads."""
    return {
        "#vq-samples-run": (tab.samples, ["s_seed", "s_label", "s_which"]),
        "#vq-encode": (tab.encode, ["m_index", "m_which"]),
        "#vq-prior-run": (lambda *a: list(tab.draw_prior(*a))[-1], ["p_seed", "p_label", "p_which", "p_temp"]),
        "#vq-complete-run": (tab.complete, ["c_index", "c_rows", "c_seed", "c_which"]),
        "#vq-levels-run": (tab.two_levels, ["l_index", "l_seed"]),
    }


def test_the_tab_opens_on_samples_and_every_tour_step_runs_with_its_values(built):
    demo, tab = built
    check_tour(demo, tab)
    assert tab.card is CARD and tab.tour is TOUR and CARD.tab == "vq-samples"
    pages = {t.id: t for t in tab.subtabs.children}
    assert list(pages) == ["vq-samples", "vq-codemap", "vq-prior", "vq-completion", "vq-codebook", "vq-levels", "vq-train", "vq-explain"]
    first = list(blocks_in(pages["vq-samples"]))
    assert tab.prior_img in first and tab.uniform_img in first and tab.prior_img.elem_id == "vq-samples-prior"
    assert tab.prior_img.value is not None and tab.uniform_img.value is not None  # alive on open
    assert "VQ-VAE" in tab.models.bar.label or "vqvae" in tab.models.bar.label
    buttons = _buttons(tab)
    for step in TOUR:
        handler, names = buttons[step.run]
        values = {name: getattr(tab, name).value for name in names} | step.values
        assert set(step.values) <= set(names), step.title
        out = handler(None, *(values[name] for name in names))
        assert not any(isinstance(o, SKIP) for o in out), step.title


def test_an_invalid_field_breaks_only_its_own_panel(tab):
    session = tab.views.session(None)
    assert check_panels_independent(tab.panels(), session) >= 13
    check_panels_draw(tab.panels(), session)


def test_a_click_on_the_map_then_on_the_codebook_edits_one_cell(tab):
    codes, original, decoded, code_map, note, cell = tab.encode(None, 0, "vqvae")
    assert code_map.shape[:2] == (7 * CELL_PX, 7 * CELL_PX) and "Click a cell" in cell
    row, col, code, text = tab._select_cell(codes, SimpleNamespace(index=[2 * CELL_PX + 5, 4 * CELL_PX + 30]))
    assert (row, col) == (4, 2) and code == json.loads(codes)[-1][4][2] and "(4, 2)" in text and f"code **{code}**" in text
    mosaic = tab.views.codebook(None, "vqvae", -1)[0]
    n_codes = tab.views.view(None, "vqvae").model.n_codes
    rows, columns = mosaic_layout(n_codes)
    tile_w, tile_h, r = mosaic.shape[1] / columns, mosaic.shape[0] / rows, min(1, rows - 1)
    new = tab._select_code(None, "vqvae", SimpleNamespace(index=[int(2.5 * tile_w), int((r + 0.5) * tile_h)]))
    assert new == columns * r + 2
    new = new if new != code else 0
    edited, decoded_2, map_2, note_2, cell_2 = tab.edit(None, codes, row, col, new, "vqvae")
    assert json.loads(edited)[-1][4][2] == new and f"cell (4, 2): {code} → {new}" in note_2 and f"code **{new}**" in cell_2
    assert not np.array_equal(map_2, code_map)
    with pytest.raises(gr.Error, match="outside"):
        gr_select = vq_tab.ui_handler(tab._select_cell)
        gr_select(codes, SimpleNamespace(index=[7 * CELL_PX + 3, 2]))


def test_bad_values_through_the_endpoints_are_readable_errors_and_the_panels_work_on(built):
    demo, tab = built
    codes = tab.encode(None, 0, "vqvae")[0]
    edit, samples = endpoint(demo, "vq_edit"), endpoint(demo, "vq_samples")
    bad_edits = [
        ((codes, 0, 0, 10**6, "vqvae"), "code must be in"), ((codes, 7, 0, 1, "vqvae"), "row must be in"), ((codes, 0, -1, 1, "vqvae"), "column must be in"),
        ((codes, 0, 0, float("nan"), "vqvae"), "code must be an integer"), (("[[1, 2]]", 0, 0, 1, "vqvae"), "7 × 7"), (("banana", 0, 0, 1, "vqvae"), "JSON"),
        ((codes, 0, 0, 1, "vqvae3"), "model"),
    ]
    for args, message in bad_edits:
        with pytest.raises(gr.Error, match=message):
            edit(None, *args)
    for args, message in [((-1, "any", "vqvae"), "seed"), ((0, "11", "vqvae"), "label"), ((0, "any", None), "model")]:
        with pytest.raises(gr.Error, match=message):
            samples(None, *args)
    with pytest.raises(gr.Error, match="level"):
        endpoint(demo, "vq_codebook")(None, "vqvae", 5)
    with pytest.raises(gr.Error, match="draw"):
        endpoint(demo, "vq_encode_drawing")(None, {"composite": np.full((280, 280, 4), 255, np.uint8), "layers": []}, "vqvae")
    with pytest.raises(gr.Error, match="temperature"):
        next(endpoint(demo, "vq_draw_prior")(None, 0, "any", "vqvae", float("nan"), session_request("bad")))
    train = endpoint(demo, "vq_train")
    for k, beta, message in [(0, 0.25, "codebook size K"), (10**9, 0.25, "codebook size K"), (64, float("nan"), "β")]:
        with pytest.raises(gr.Error, match=message):
            next(train(None, "vqvae", k, 16, beta, True, True, 50, 0, 2e-3, 0, session_request("bad")))
    prior, uniform, text, note = samples(None, 0, "any", "vqvae")  # the others work on
    assert prior.shape == uniform.shape and "uniform codes" in text and note == ""


def test_the_prior_drawing_streams_and_stop_answers_within_a_second(built):
    demo, tab = built
    draw, stop = endpoint(demo, "vq_draw_prior"), endpoint(demo, "vq_prior_stop")
    frames = list(draw(None, 0, "3", "vqvae", 1.0, session_request("full")))
    assert len(frames) >= 49 and "cell 1 of 49" in frames[0][2] and not frames[0][1].any()  # decoded once the grids are full
    assert frames[-1][1].any() and "784" in frames[-1][2]
    run = draw(None, 0, "any", "vqvae2", 1.0, session_request("stopper"))
    next(run)
    assert stop(session_request("stopper")) == "Stopping…"
    start = time.perf_counter()
    rest = list(run)
    assert time.perf_counter() - start < 1.0 and len(rest) == 1 and rest[0][2].startswith("**Stopped** at cell 1 of 65")
    assert isinstance(stop(session_request("stopper")), SKIP)  # nothing is drawing


def test_train_and_stop_through_the_bound_handlers(built):
    demo, tab = built
    train, stop = endpoint(demo, "vq_train"), endpoint(demo, "vq_stop")
    run = train(None, "vqvae", 16, 4, 0.25, True, True, 50, 0, 2e-3, 0, session_request("trainer"))
    session, status, *_ = next(run)
    assert status.startswith("Starting")
    outputs = list(run)
    assert "done" in outputs[-1][1] and session.views["vqvae"].model.n_codes == 16 and session.views["vqvae"].name.startswith("trained here")
    check_panels_draw(tab.panels()[1:], session)  # the model bar's bound over the test split is the views' to test
    run = train(session, "vqvae2", 16, 4, 0.25, False, False, 5000, 0, 2e-3, 0, session_request("trainer"))
    next(run)
    assert stop(session_request("trainer")) == "Stopping…"
    assert "stopped" in list(run)[-1][1]
    assert session.views["vqvae2"].model.n_codes == 16 and session.views["vqvae"].model.n_codes == 16


def test_the_api_keeps_its_names_inputs_and_outputs(built):
    demo, _ = built
    named = demo.get_api_info()["named_endpoints"]
    shapes = {
        "/vq_samples": (3, 3), "/vq_encode": (2, 6), "/vq_encode_drawing": (2, 6), "/vq_edit": (5, 5), "/vq_draw_prior": (4, 3),
        "/vq_prior_stop": (0, 1), "/vq_complete": (4, 2), "/vq_codebook": (2, 3), "/vq_two_levels": (2, 2), "/vq_train": (10, 5),
        "/vq_stop": (0, 1), "/vq_load": (2, 1), "/vq_restore": (0, 1), "/vq_download": (1, 1),
    }
    for name, (n_in, n_out) in shapes.items():
        described = named[name]
        assert (len(described["parameters"]), len(described["returns"])) == (n_in, n_out), name
        assert all(r["label"] and not r["label"].startswith("value_") for r in described["returns"]), name
        assert described["description"] and "``" not in described["description"], name


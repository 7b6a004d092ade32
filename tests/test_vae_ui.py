"""The VAE tab's layer of gradio: thin handlers over the views, independent panels,
the checkpoint and training panels."""

from __future__ import annotations

import threading

import gradio as gr
import pytest
from panels import build_tab, check_around_a_load, check_panels_independent, check_tour, redraw_all

from playground.ui.tabs import vae as vae_tab


@pytest.fixture(scope="module")
def built(data):
    return build_tab(vae_tab.VaeTab, data)


@pytest.fixture(scope="module")
def tab(built):
    return built[1]


def test_the_tab_opens_on_the_sliders_and_its_tour_draws_each_step(built):
    demo, tab = built
    check_tour(demo, tab)
    assert [s.title for s in tab.tour][1] == "Turn a 4 into a 7"
    assert int(tab.views.ctx.data.test_labels[tab.tour[1].values["edit_index"]]) == 4  # the digit edited is a 4
    first, second = (tab.tour[2].values[k] for k in ("index_a", "index_b"))
    assert [int(tab.views.ctx.data.test_labels[i]) for i in (first, second)] == [2, 6]


def test_the_model_bar_names_a_loaded_model_until_restore(tab):
    session = tab.views.session(None)
    assert tab.views.headline(session) == "model: vae (bundled)"
    tab.views.load(session, "vae-2d", "")
    assert tab.views.headline(session) == "model: vae: bundled vae-2d — not the default (↺ Restore brings it back)"
    tab.views.load(session, "vae", "")
    assert tab.views.headline(session) == "model: vae (bundled)"  # the default, loaded again by name
    tab.views.restore(session)
    assert tab.views.headline(session) == "model: vae (bundled)"


def test_an_invalid_field_breaks_only_its_own_panel_before_and_after_a_change_of_model(tab):
    session = check_around_a_load(tab, "vae-2d", 8)
    views = tab.views
    list(views.train(session, 3, "mlp", 1.0, 3e-3, 20, 0, stop=threading.Event()))
    assert session.view.latent_dim == 3
    check_panels_independent(tab.panels(), session)


def test_the_interpolation_cascade_of_issue_15_is_gone(tab):
    """Digit B = 500 (refused), then Load vae-2d: the other panels are drawn for the new
    model, and the interpolation panel says why it is not."""
    views = tab.views
    session = views.session(None)
    views.load(session, "vae-2d", "")
    results = redraw_all(tab.panels(), session, tab.index_b, 500)
    assert "digit B must be in [0, 499], got 500" in results[id(tab.interp_img)][-1]
    sliders = results[id(tab.slider_boxes[0])]
    assert sliders[2]["visible"] is False and sliders[-1] == ""  # a 2-D code: two sliders
    assert results[id(tab.dim_x)][2].shape == (15 * 30 + 2,) * 2


def test_handlers_pass_the_views_answers_and_refuse_empty_boxes(tab):
    assert isinstance(tab.interpolate(None, None, 3, 5), type(gr.skip()))
    assert all(isinstance(x, type(gr.skip())) for x in tab.edit(None, None, "digit 7", 1.0))
    session = tab.views.session(None)
    out = tab.encode(session, 13)
    assert out[0] is session and out[1]["visible"] is True and out[-1].shape == (28, 28)

"""The VAE tab's layer of gradio: thin handlers over the views, independent panels,
the checkpoint and training panels."""

from __future__ import annotations

import threading

import gradio as gr
import pytest
from panels import build_tab, check_around_a_load, check_panels_independent, redraw_all

from playground.ui.tabs import vae as vae_tab


@pytest.fixture(scope="module")
def tab(data):
    return build_tab(vae_tab.VaeTab, data)[1]


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

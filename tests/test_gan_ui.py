"""The GAN tab's layer of gradio (and its 2D GAN lab's): thin handlers over the views,
independent panels, the public API, the lab's Train and Stop."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import gradio as gr
import pytest
from panels import build_tab, check_around_a_load, check_panels_independent, redraw_all

from playground.ui.tabs import gan as gan_tab
from playground.views import gan_lab

SKIP = type(gr.skip())
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks (see conftest.single_thread)


@pytest.fixture(scope="module")
def built(data):
    return build_tab(gan_tab.GanTab, data)


@pytest.fixture(scope="module")
def tab(built):
    return built[1]


def _request(name="alice"):
    return SimpleNamespace(session_hash=name)


def test_an_invalid_field_breaks_only_its_own_panel_before_and_after_a_change_of_model(tab):
    session = check_around_a_load(tab, "cgan", 12)
    views = tab.views
    list(views.train(session, False, "non_saturating", 1, 2e-4, 2e-4, 8, 16, False, False, 0.0, 20, 0, stop=threading.Event()))
    assert session.view.model.latent_dim == 8
    check_panels_independent(tab.panels(), session)


def test_a_bad_sample_number_then_a_load_fails_only_the_interpolation(tab):
    """Sample B = 500 (refused), then Load the cGAN: the other panels are drawn for the new
    model (the arithmetic from its slots, the label row shown), and the interpolation
    panel says why it is not."""
    views = tab.views
    session = views.session(None)
    views.load(session, "cgan", "")
    results = redraw_all(tab.panels(), session, tab.index_b, 500)
    assert "sample B must be in [0, 59], got 500" in results[id(tab.interp_img)][-1]
    assert "sample B must be in [0, 59], got 500" in results[id(tab.walk_img)][-1]
    pool, label_row, note = results[id(tab.pool_a)]
    assert len(pool) == 60 and pool[3][1] == "#3 · 3" and label_row["visible"] is True and note == ""
    assert "(digit 7)" in results[id(tab.eq_img)][2] and results[id(tab.eq_img)][-1] == ""
    assert "Uses your current model" in results[id(tab.cond_info)][0]


def test_each_panel_reads_its_own_settings(tab):
    """The interpolation and the arithmetic panels each have their own pool seed; the
    class-conditional panels keep their digit, seed and rows."""
    views = tab.views
    session = views.session(None)
    panels = {id(p.outputs[0]): p for p in tab.panels()}
    pool, note = panels[id(tab.pool_i)].quietly(session, 5)
    assert [c for _, c in pool] == [c for _, c in views.pool(None, 5)] and note == ""
    grid, text, _ = panels[id(tab.digit_img)].quietly(session, "7", 2)
    assert "as 7" in text and (grid == views.digit_grid(None, 7, 2)[0]).all()
    assert (panels[id(tab.sweep_img)].quietly(session, 2, 3)[0] == views.label_sweep(None, 2, 3)).all()


def test_handlers_pass_the_views_answers_and_skip_an_empty_box(tab):
    assert isinstance(tab.interpolate(None, 0, None, 5, 7), SKIP)
    assert isinstance(tab.interpolate(None, 0, 3, None, 7), SKIP)
    assert tab.interpolate(None, 0, 3, 5, 7).shape == (62, 212)
    out = tab.preset(None, 0, progress=lambda *args, **kwargs: None)
    assert len(out) == 11 and out[2] == tab.slot_a.value and "Pool seed" in out[-1]
    assert tab.animation(None) is None


def test_the_public_api_and_the_elements_the_browser_tests_use(built):
    demo, _ = built
    names = {d.get("api_name") for d in demo.config["dependencies"] if d.get("api_visibility", "public") != "private"}
    assert {
        "gan_load", "gan_load_zip", "gan_restore", "gan_samples", "gan_download", "gan_train", "gan_stop", "gan_animation", "gan_pool",
        "gan_interpolate", "gan_walk", "gan_arithmetic", "gan_preset", "gan_digit_grid", "gan_label_sweep",
        "gan_lab_reset", "gan_lab_step_d", "gan_lab_step_g", "gan_lab_step_both", "gan_lab_train", "gan_lab_stop",
        "gan_lab_view", "gan_lab_set_loss", "gan_lab_draw", "gan_lab_load_csv", "gan_lab_paste_csv",
    } <= names
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    assert {
        "gan-samples", "gan-arith-equation", "gan-slot-a", "gan-arith-run", "gan-arith-table", "gan-arith-preset",
        "gan-lab-plot", "gan-lab-status", "gan-lab-step-both", "gan-lab-step-d", "gan-lab-step-g", "gan-lab-reset",
        "gan-lab-dataset", "gan-lab-loss", "gan-lab-train", "gan-lab-stop",
    } <= ids


def test_lab_handlers_return_the_lab_and_refuse_bad_values(tab):
    lab = tab.lab
    session, figure, curves, status = lab.reset(None)
    assert session.source == "ring" and "step 0" in status
    out = lab._stepper("d")(session, 10, 1e-3, 1e-3, 1, False)
    assert out[0] is session and session.n_d == 10
    fresh = lab._stepper("g")(None, 1)  # an API client with no state
    assert fresh[0].n_g == 1
    drawn = lab._points("paste_csv", "text", "")(session, "x,y\n0,0\n1,1\n2,0\n")
    assert drawn[1] == "csv" and len(drawn) == 5
    with pytest.raises(ValueError, match="learning rate of D"):
        lab.step(None, 1, float("nan"), 1e-3, 1, False)
    panel = lab.panel()
    *outputs, note = panel.quietly(session, "maybe")
    assert all(isinstance(o, SKIP) for o in outputs) and "show gradient must be true or false" in note


def test_lab_train_one_run_per_session_and_stop(built, monkeypatch):
    monkeypatch.setattr(gan_lab, "YIELD_EVERY_S", 0.0)
    demo, tab = built
    fns = {f.api_name: f.fn for f in demo.fns.values()}
    train, stop = fns["gan_lab_train"], fns["gan_lab_stop"]
    request = _request("bob")
    run = train(None, 200, 1e-3, 1e-3, 1, False, request)
    session, *_ = next(run)
    assert isinstance(session, gan_lab.LabSession)
    assert isinstance(next(run)[0], SKIP)  # the session is sent once
    with pytest.raises(gr.Error, match="already training"):
        next(train(session, 5, 1e-3, 1e-3, 1, False, request))
    assert stop(request) == "Stopping…"
    *_, status = list(run)[-1]
    assert "Stopped after" in status
    assert stop(request) == "Nothing is training."
    assert len(tab.ctx.sessions) == 0

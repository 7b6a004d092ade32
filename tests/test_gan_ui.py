"""The GAN tab's layer of gradio (and its 2D GAN lab's): thin handlers over the views,
independent panels, the public API, the lab's Train and Stop."""

from __future__ import annotations

import threading

import gradio as gr
import numpy as np
import pytest
from panels import build_tab, check_around_a_load, check_panels_independent, redraw_all, session_request

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


def test_the_gif_download_says_why_it_has_nothing_before_a_run(tab):
    """The issue: "Download the animation (GIF)" before training did nothing, silently. The
    button starts disabled and says "train a model first"; the endpoint warns."""
    assert tab.animation_file.interactive is False and "train a model first" in tab.animation_file.label
    with pytest.warns(UserWarning, match="train a model first"):  # gr.Warning outside a request
        assert tab.animation(None) is None
    path, button = tab._replay(None)
    assert path is None and button["interactive"] is False
    session = tab.views.session(None)
    session.frames = [np.zeros((8, 8), dtype=np.uint8)] * 2
    path, button = tab._replay(session)
    assert path.endswith(".gif") and button == {"__type__": "update", "value": path, "label": "Download the animation (GIF)", "interactive": True}


def test_clear_slots_also_clears_the_result(built):
    """The issue: "Clear slots" left the old result. It empties the slots, both pictures,
    the table (which says what to do next) and the panel's note."""
    demo, tab = built
    a, b, c, equation, neighbours, table, note = tab.clear_slots()
    assert (a, b, c, equation, neighbours, note) == ("", "", "", None, None, "") and "Slots cleared" in table
    clear = next(d for d in demo.config["dependencies"] if d["targets"][0][0] == tab.clear_btn._id)
    shown = [tab.slot_a, tab.slot_b, tab.slot_c, tab.eq_img, tab.nb_img, tab.arith_table, tab.arith_note]
    assert clear["outputs"] == [c._id for c in shown]


def test_the_play_first_pages_come_first_and_samples_lead_to_the_arithmetic(built):
    demo, tab = built
    pages = [c.id for c in tab.subtabs.children]
    assert pages[:2] == ["gan-samples-tab", "gan-arith"] and pages[-2:] == ["gan-train", "gan-explain"]
    assert tab.card.tab == pages[0] and tab.explain_tab == "gan-explain" and tab.card.kind == "implicit density"
    jump = next(d for d in demo.config["dependencies"] if d["targets"][0][0] == tab.to_arithmetic._id)
    assert jump["outputs"] == [tab.subtabs._id]


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
        "gan-samples", "gan-resample", "gan-to-arith", "gan-arith-equation", "gan-arith-neighbours", "gan-arith-clear", "gan-train-gif",
        "gan-slot-a", "gan-arith-run", "gan-arith-table", "gan-arith-preset", "gan-lab-collapse", "gan-interp-image", "gan-cond-sweep",
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
    request = session_request("bob")
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


def _triggered_by(demo, component) -> list[dict]:
    return [d for d in demo.config["dependencies"] if [component._id, "click"] in [list(t) for t in d["targets"]]]


def test_each_tour_step_opens_a_page_sets_real_controls_and_runs_within_the_views_checks(built):
    """Every step names a page of the tab and controls (attributes of the tab) whose values
    its panel or button accepts: a named panel draws with them (empty note); a clicked
    button exists and reads those controls."""
    demo, tab = built
    pages = {c.id for c in tab.subtabs.children}
    ids = {c.get("props", {}).get("elem_id"): c["id"] for c in demo.config["components"]}
    panels = tab.tour_panels()
    session = tab.views.session(None)
    assert 3 <= len(gan_tab.TOUR) <= 5 and len(tab.tour_buttons) == len(gan_tab.TOUR)
    for step in gan_tab.TOUR:
        assert step.tab in pages and len(step.title) <= 30 and step.text.count(". ") <= 1, step.title
        values = {id(getattr(tab, name)): value for name, value in step.values.items()}
        if step.run.startswith("#"):
            button = next(c for c in demo.blocks.values() if getattr(c, "elem_id", None) == step.run[1:])
            read = {i for d in _triggered_by(demo, button) for i in d["inputs"]}
            assert {getattr(tab, name)._id for name in step.values} <= read, step.title
        else:
            panel = panels[step.run]
            assert set(values) <= {id(c) for c in panel.inputs}, step.title
            *outputs, note = panel.quietly(*[session if isinstance(c, gr.State) else values.get(id(c), c.value) for c in panel.inputs])
            assert note == "" and not any(isinstance(o, SKIP) for o in outputs), (step.title, note)
    assert "gan-lab-collapse" in ids and "gan-resample" in ids
    assert tab.samples(None, gan_tab.TOUR[0].values["seed"]).shape == (242, 242)


def test_the_mode_collapse_demo_presses_train_after_its_reset(built):
    """The tour's last step clicks the demo: it sets the preset, resets the lab, then
    (in the browser, once the reset succeeded) presses the lab's Train, which streams with
    its Stop. The run is short enough for a tour step."""
    demo, tab = built
    deps = demo.config["dependencies"]
    (click,) = _triggered_by(demo, tab.lab.collapse_btn)
    chain = [deps.index(click)]
    while follow := [i for i, d in enumerate(deps) if d["trigger_after"] == chain[-1]]:
        chain.append(follow[0])
    preset, reset, press = (deps[i] for i in chain)
    assert tab.lab.train_steps._id in preset["outputs"] and tab.lab.plot._id in reset["outputs"]
    assert press["trigger_only_on_success"] and press["backend_fn"] is False and "#gan-lab-train" in press["js"]
    assert gan_lab.COLLAPSE_PRESET["steps"] <= 300

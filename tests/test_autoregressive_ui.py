"""The autoregressive tab's layer of gradio: thin handlers over the views, independent
panels, the checkpoint and training panels, the play-first layout and the tour."""

from __future__ import annotations

import threading

import gradio as gr
import numpy as np
import pytest
from panels import SKIP, build_tab, check_around_a_load, check_panels_independent

from playground.ui.tabs import autoregressive as ar_tab
from playground.views import ar_model
from playground.views import autoregressive as ar

pytestmark = pytest.mark.usefixtures("one_thread", "no_pacing")  # tiny models drawn pixel by pixel, as fast as they compute


@pytest.fixture
def no_pacing(monkeypatch):
    monkeypatch.setattr(ar, "PACE_S", 0.0)


@pytest.fixture(scope="module")
def built(data):
    return build_tab(ar_tab.ArTab, data)


@pytest.fixture(scope="module")
def tab(built):
    return built[1]


def _train(tab, session, **overrides):
    settings = dict(family="pixelcnn", size=8, layers=2, masks=1, conditional=False, steps=50, lr=3e-3, seed=0)
    settings.update(overrides)
    return list(tab.views.train(session, **settings, stop=threading.Event()))


def test_the_tab_opens_on_a_finished_draw_and_the_kept_figures_of_the_bundled_models(tab):
    assert tab.subtabs.children[0].id == "ar-watch" and tab.explain_tab == tab.subtabs.children[-1].id == "ar-explain"
    assert [t.id for t in tab.subtabs.children].index("ar-train") == len(tab.subtabs.children) - 2  # Train after the play views
    assert tab.watch_img.value is not None and "drew earlier" in tab.watch_status.value
    assert "computing…" not in tab.table_md.value and "**90.9**" in tab.table_md.value
    assert "kept with the checkpoint" in tab.quality.value and "NADE: 16 samples" in tab.quality.value
    assert tab.complete_img.value is not None and "completions" in tab.complete_text.value
    assert tab.m_mask.choices == [(str(m), m) for m in range(8)]


def test_an_invalid_field_breaks_only_its_own_panel_before_and_after_a_change_of_model(tab):
    session = check_around_a_load(tab, "nade", 5)
    _train(tab, session)
    assert session.views["pixelcnn"].model.channels == 8
    check_panels_independent(tab.panels(), session)


def test_after_a_change_of_model_the_table_shows_what_it_knows_and_its_stream_fills_in_the_rest(tab):
    session = tab.views.session(None)
    _train(tab, session, family="gated_pixelcnn", size=4, layers=1, conditional=True)
    table_panel = tab.panels()[3]
    text, note = table_panel.quietly(session)
    assert note == "" and text.count("computing…") == 1 and "**108.1**" in text  # the bundled NADE's, kept
    stream = list(tab.table(session))
    assert stream[0] == text and "computing…" not in stream[-1]
    masks_panel = tab.panels()[5]
    update, *_, note = masks_panel.quietly(session, 3, 4)
    assert update["value"] == 0 and len(update["choices"]) == 8 and note == ""
    # The watch picture of a model with no kept samples is an empty canvas, not the old model's digits.
    picture, status, note = tab.panels()[1].quietly(session, "gated_pixelcnn", 4)
    assert note == "" and not picture.any(axis=2)[4:30, 4:30].any() and "Press **Draw**" in status


def test_handlers_pass_the_views_answers(tab):
    session = tab.views.session(None)
    frames = list(tab.watch(session, "nade", 2, 392, "any", 0))
    assert all(isinstance(animation, SKIP) for *_, animation in frames[:-1]) and frames[-1][2].endswith(".gif")
    with pytest.raises(gr.Error, match="samples must be in"):
        list(tab.watch(session, "nade", 99, 392, "any", 0))
    with pytest.raises(gr.Error, match="digit label"):
        list(tab.watch(session, "nade", 2, 392, "12", 0))
    grid, note = tab.complete(session, "nade", "test digit", 7, None, 14, 3, "any", 0)
    assert grid.shape == (32, 5 * 30 + 2) and "Given the top 14 rows of test digit #7" in note


def test_a_load_gives_the_loaded_family_to_every_model_picker_and_a_restore_keeps_them(tab):
    session = tab.views.session(None)
    tab.views.load(session, "made", "")
    assert ar_tab._loaded_family(session) == ("made",) * 3
    tab.views.restore(session)
    assert all(isinstance(v, SKIP) for v in ar_tab._loaded_family(session))


def test_the_model_picker_is_on_every_sub_tab_that_uses_it_and_they_follow_each_other(tab):
    pickers = [tab.family, tab.c_family, tab.s_family]
    assert len({id(p) for p in pickers}) == 3 and all(p.choices == tab.family.choices and p.value == ar_tab.DEFAULT for p in pickers)
    first, second = ar_tab._follow("made", "nade", "made")
    assert first == "made" and isinstance(second, SKIP)  # the one that has it already stops the chain


@pytest.mark.parametrize("family", ar_tab.FAMILIES)
def test_the_train_sliders_take_the_limits_of_the_model_chosen(family):
    size, layers, masks, conditional, lr = ar_tab._train_controls_of(family)
    c = ar_model.train_controls(family)
    assert (size["minimum"], size["maximum"], size["value"]) == (c["size"].low, c["size"].high, c["size"].default)
    assert f"{c['size'].low} to {c['size'].high}" in size["label"]
    if family == "nade":
        assert layers["visible"] is False
    else:
        assert (layers["minimum"], layers["maximum"], layers["visible"]) == (c["layers"].low, c["layers"].high, True)
    assert masks["visible"] == (family == "made") and conditional == {"__type__": "update", "visible": family == "gated_pixelcnn", "value": False}
    assert lr == c["lr"]


def test_training_values_reach_the_view_unchecked_by_gradio(built):
    """The sliders' limits follow the browser's choice of model; an API client's NADE width
    beyond the PixelCNN's slider must reach the view, whose check is the truth."""
    demo, _ = built
    train = next(fn for fn in demo.fns.values() if fn.api_name == "ar_train")
    assert train.preprocess is False


def test_the_digit_choice_fits_its_box():
    assert max(len(text) for text, _ in ar_tab.LABELS) <= 22


def test_every_tour_step_opens_a_sub_tab_sets_controls_of_the_tab_and_runs(tab):
    ids = {t.id for t in tab.subtabs.children}
    assert 3 <= len(tab.tour) <= 5 and len(tab.tour_buttons) == len(tab.tour)
    panels = tab.tour_panels()
    session = tab.views.session(None)
    for step in tab.tour:
        assert step.tab in ids and len(step.title) <= 30, step
        values = {name: value for name, value in step.values.items() if getattr(tab, name) is not None}
        assert values == step.values, step  # every control the step sets is a component of the tab
        if step.run == "#ar-watch-run":
            assert tab.watch_btn.elem_id == "ar-watch-run"
            picture, status, animation = list(tab.watch(session, values["family"], values["w_n"], values["w_every"], values["w_label"], values["w_seed"]))[-1]
            assert picture.shape[2] == 3 and "4 samples" in status and animation.endswith(".gif")
        elif step.run == "#ar-complete-run":
            assert tab.complete_btn.elem_id == "ar-complete-run"
            v = values
            grid, note = tab.complete(session, v["c_family"], v["c_source"], v["c_index"], None, v["c_rows"], v["c_n"], v["c_label"], v["c_seed"])
            assert grid.shape == (32, 8 * 30 + 2) and "test digit #4 (a 9)" in note
        else:
            panel = panels[step.run]
            by_component = {id(getattr(tab, name)): value for name, value in values.items()}
            inputs = [session if isinstance(c, gr.State) else by_component.get(id(c), c.value) for c in panel.inputs]
            *outputs, note = panel.quietly(*inputs)
            assert note == "" and not any(isinstance(o, SKIP) for o in outputs), step
            if step.run == "field":
                assert f"row {values['f_row']}, column {values['f_col']}" in outputs[1] and "blind to **0**" in outputs[1]


def test_likelihood_vs_looks_shows_every_bundled_model_titled_with_its_nll(tab):
    titles = [img.label for img in tab.looks_imgs]
    assert len(titles) == len(ar_tab.FAMILIES) and titles[-1].startswith("NADE") and all(img.value is not None for img in tab.looks_imgs)
    assert np.diff([float(t.rsplit("· ", 1)[1]) for t in titles]).min() > 0

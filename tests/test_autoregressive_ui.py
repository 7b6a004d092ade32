"""The autoregressive tab's layer of gradio: thin handlers over the views, independent
panels, the checkpoint and training panels."""

from __future__ import annotations

import threading

import gradio as gr
import pytest
from panels import SKIP, build_tab, check_around_a_load, check_panels_independent

from playground.ui.tabs import autoregressive as ar_tab

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models drawn pixel by pixel


@pytest.fixture(scope="module")
def tab(data):
    return build_tab(ar_tab.ArTab, data)[1]


def _train(tab, session, **overrides):
    settings = dict(family="pixelcnn", size=8, layers=2, masks=1, conditional=False, steps=50, lr=3e-3, seed=0)
    settings.update(overrides)
    return list(tab.views.train(session, **settings, stop=threading.Event()))


def test_the_tab_opens_with_the_kept_figures_of_the_bundled_models(tab):
    assert "computing…" not in tab.table_md.value and "**90.9**" in tab.table_md.value
    assert "kept with the checkpoint" in tab.quality.value and "Gated PixelCNN: 16 samples" in tab.quality.value
    assert tab.m_mask.choices == [(str(m), m) for m in range(8)]


def test_an_invalid_field_breaks_only_its_own_panel_before_and_after_a_change_of_model(tab):
    session = check_around_a_load(tab, "nade", 5)
    _train(tab, session)
    assert session.views["pixelcnn"].model.channels == 8
    check_panels_independent(tab.panels(), session)


def test_after_a_change_of_model_the_table_shows_what_it_knows_and_its_stream_fills_in_the_rest(tab):
    session = tab.views.session(None)
    _train(tab, session, family="gated_pixelcnn", size=4, layers=1, conditional=True)
    table_panel = tab.panels()[2]
    text, note = table_panel.quietly(session)
    assert note == "" and text.count("computing…") == 1 and "**108.1**" in text  # the bundled NADE's, kept
    stream = list(tab.table(session))
    assert stream[0] == text and "computing…" not in stream[-1]
    masks_panel = tab.panels()[4]
    update, *_, note = masks_panel.quietly(session, 3, 4)
    assert update["value"] == 0 and len(update["choices"]) == 8 and note == ""


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
    assert ar_tab._defaults_of("made") == (2000, 1, 1e-3) and ar_tab._defaults_of("nonsense") == (32, 6, 1e-3)


def test_a_load_gives_the_loaded_family_to_the_model_picker_and_a_restore_keeps_it(tab):
    session = tab.views.session(None)
    tab.views.load(session, "made", "")
    assert ar_tab._loaded_family(session) == ("made",)
    tab.views.restore(session)
    assert isinstance(ar_tab._loaded_family(session)[0], SKIP)

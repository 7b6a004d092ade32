"""The WaveNet tab's layer of gradio: thin handlers over the views, independent panels,
the checkpoint and training panels."""

from __future__ import annotations

import threading

import gradio as gr
import pytest
import soundfile
from conftest import single_thread
from panels import blocks_in, build_tab, check_panels_draw, check_panels_independent, check_tour, endpoint, session_request

from playground.ui.tabs import wavenet as wn_tab
from playground.views.wavenet import CARD, DATA_TEXT, NO_CLASS, TOUR

SKIP = type(gr.skip())


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Scales and clips are generated sample by sample (see ``conftest.single_thread``)."""
    with single_thread():
        yield


@pytest.fixture(scope="module")
def built(data):
    demo, tab = build_tab(wn_tab.WaveNetTab, data)
    return tab, demo


@pytest.fixture(scope="module")
def tab(built):
    return built[0]





def test_the_tab_opens_on_the_scale_and_trains_after_the_play_views(built):
    tab, demo = built
    check_tour(demo, tab)
    assert tab.card is CARD and tab.tour is TOUR and CARD.kind == "explicit density · tractable (autoregressive, audio)"
    pages = {t.id: t for t in tab.subtabs.children}
    assert list(pages) == [
        "wn-scale", "wn-generate", "wn-mulaw", "wn-field", "wn-pitch", "wn-parallel", "wn-text", "wn-video", "wn-train", "wn-explain",
    ] and tab.explain_tab == "wn-explain"
    first = list(blocks_in(pages["wn-scale"]))
    assert tab.scale_audio in first and tab.scale_spec in first and tab.scale_audio.elem_id == "wn-scale-audio"
    assert tab.models.bar.label == "model: wavenet (bundled) · change…"
    # the steps run by a button: what their handlers draw from the step's values
    scale, mu_law, field, generate = TOUR
    assert scale.run == "#wn-scale-run" and generate.run == "#wn-generate-run"
    _, _, pitches = tab.scale(None, scale.values["scale_seed"])
    assert pitches.count("✓") >= 7
    values = {name: getattr(tab, name).value for name in ("g_seconds", "g_temp", "g_label", "g_prime", "g_prime_s", "g_method", "g_seed")}
    values.update(generate.values)
    path, *_, status = list(tab.generate(None, *values.values(), progress=lambda f, desc: None))[-1]
    assert "(A4 is 440 Hz)" in status and soundfile.info(path).duration == pytest.approx(0.5)


def test_the_tab_and_its_card_say_what_wavenet_learns_from(built):
    tab, demo = built
    others = {id(b) for t in tab.subtabs.children if t.id in ("wn-pitch", "wn-parallel", "wn-text", "wn-video") for b in blocks_in(t)}  # their own models
    texts = [str(getattr(b, attr, "") or "") for b in demo.blocks.values() if id(b) not in others for attr in ("value", "label", "placeholder")]
    assert not any("mnist" in t.lower() or "digit" in t.lower() for t in texts)  # the issue: the header said "data: mnist-5k" here
    assert DATA_TEXT.startswith("2,000 synthetic clips of 0.25 s at 8 kHz")
    assert any(DATA_TEXT in t for t in texts if t.startswith("**Learnt from**"))
    assert "synthetic 0.25 s clips at 8 kHz" in CARD.teaches


# An estimate of what a control's label needs (px): the label font's average advance, its
# padding, and a slider's number box beside the label.
LABEL_PX_PER_CHAR, LABEL_PAD_PX, SLIDER_BOX_PX, GAP_PX = 7.0, 24, 110, 16


def _widths(block, width: float, out: dict) -> None:
    """Fill ``out`` {control: width in px} for every block in ``block`` laid out in
    ``width`` px: a Row shares its width (a Form in it adds its own controls to the row)
    by scale (at least min_width); anything else gives its children its width."""
    children = list(getattr(block, "children", None) or [])
    if not isinstance(block, gr.Row):
        out[block] = width
        for child in children:
            _widths(child, width, out)
        return
    items = [c for child in children for c in (child.children if type(child).__name__ == "Form" else [child])]
    scales = [1 if getattr(c, "scale", None) is None else c.scale for c in items]
    free = width - GAP_PX * (len(items) - 1) - sum(c.min_width or 0 for c, s in zip(items, scales) if s == 0)
    for item, scale in zip(items, scales):
        share = free * scale / sum(scales) if scale else 0
        _widths(item, max(share, getattr(item, "min_width", 0) or 0), out)


def test_every_control_is_wide_enough_for_its_label(tab):
    widths = {}
    _widths(tab.subtabs, 1216, widths)  # a 1280 px window less the page's margins
    controls = [c for c in widths if isinstance(c, gr.Slider | gr.Dropdown | gr.Radio | gr.Number | gr.Textbox) and c.label]
    assert len(controls) >= 20
    for control in controls:
        need = LABEL_PX_PER_CHAR * len(control.label) + LABEL_PAD_PX + (SLIDER_BOX_PX if isinstance(control, gr.Slider) else 0)
        assert need <= widths[control], (control.label, need, widths[control])


def test_the_home_card_plays_the_scale_of_the_tab_made_once(tab, monkeypatch):
    path = tab.thumbnail()
    info = soundfile.info(path)
    assert path.endswith(".wav") and info.samplerate == 8000 and info.duration == pytest.approx(2.35, abs=0.01)
    monkeypatch.setattr(type(tab.views.session(None).view.model), "sample", lambda *a, **k: pytest.fail("the scale was made again"))
    assert soundfile.read(tab.thumbnail())[0].tolist() == soundfile.read(tab.scale(None, 0)[0])[0].tolist()


def test_an_invalid_field_breaks_only_its_own_panel_before_and_after_a_change_of_model(tab):
    views = tab.views
    session = views.session(None)
    assert check_panels_independent(tab.panels(), session) >= 6
    small = views.session(None)
    list(views.train(small, "synthetic notes", None, 4, 2, 1, True, 25, 50, 3e-3, 0, stop=threading.Event()))
    views.load_zip(session, views.download(small))
    assert session.view.model.n_layers == 2 and session.view.model.conditional
    check_panels_draw(tab.panels(), session)
    check_panels_independent(tab.panels(), session)
    list(views.train(session, "synthetic notes", None, 4, 3, 1, False, 25, 50, 3e-3, 0, stop=threading.Event()))
    assert not session.view.model.conditional and session.view.model.n_layers == 3
    check_panels_independent(tab.panels(), session)


def test_the_class_picker_follows_the_model(tab):
    session = tab.views.session(None)
    assert tab._redraw_generate(session)[0]["value"] == "0"
    list(tab.views.train(session, "synthetic notes", None, 4, 1, 1, False, 25, 50, 3e-3, 0, stop=threading.Event()))
    update, race = tab._redraw_generate(session)
    assert race == "" and update["value"] == NO_CLASS and update["choices"] == [("none (unconditional model)", NO_CLASS)]


def test_load_returns_the_description_and_the_class_picker(built):
    _, demo = built
    session, info, bar, classes = endpoint(demo, "wn_load")(None, "wavenet", "")
    assert "WaveNet" in info and classes["value"] == "0" and bar["label"].startswith("model: wavenet")
    with pytest.raises(gr.Error, match="wavenet"):
        endpoint(demo, "wn_load")(session, "vae", "")


def test_generate_streams_with_the_unchanged_outputs_skipped(tab):
    calls = []
    outputs = list(tab.generate(None, 0.05, 1.0, "0", None, 1.0, "fast", 0, progress=lambda f, desc: calls.append((f, desc))))
    path, *_, status = outputs[-1]
    assert path.endswith(".wav") and "real-time factor" in status
    assert all(isinstance(out[0], SKIP) and isinstance(out[2], SKIP) for out in outputs[:-1])
    assert calls[0] == (0.0, "generating") and calls[-1] == (1.0, "400 / 400 samples")


def test_train_and_stop_through_the_bound_handlers(built):
    tab, demo = built
    train, stop = endpoint(demo, "wn_train"), endpoint(demo, "wn_stop")
    run = train(None, "synthetic notes", None, 4, 2, 1, True, 25, 5000, 3e-3, 0, session_request("stopper"))
    session, status, *_ = next(run)
    assert status.startswith("Starting on the synthetic notes")
    assert stop(session_request("stopper")) == "Stopping…"
    outputs = list(run)
    assert "stopped" in outputs[-1][1] and session.view.name.startswith("trained here")
    assert stop(session_request("stopper")) == "Nothing is training."
    with pytest.raises(gr.Error, match="residual channels"):
        next(train(None, "synthetic notes", None, 3, 2, 1, True, 25, 50, 3e-3, 0, session_request("stopper")))


def test_the_api_keeps_its_names_inputs_and_outputs(built):
    _, demo = built
    named = demo.get_api_info()["named_endpoints"]
    shapes = {
        "/wn_load": (2, 2), "/wn_load_zip": (1, 2), "/wn_download": (0, 1), "/wn_scale": (1, 3), "/wn_generate": (7, 4),
        "/wn_race": (3, 1), "/wn_mu_law": (4, 4), "/wn_receptive_field": (5, 2), "/wn_train": (10, 4), "/wn_stop": (0, 1),
    }
    for name, (n_in, n_out) in shapes.items():
        described = named[name]
        assert (len(described["parameters"]), len(described["returns"])) == (n_in, n_out), name
        assert all(r["label"] and not r["label"].startswith("value_") for r in described["returns"]), name
        assert "``" not in described["description"], name

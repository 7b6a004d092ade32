"""The WaveNet tab's layer of gradio: thin handlers over the views, independent panels,
the checkpoint and training panels."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import gradio as gr
import pytest
from conftest import single_thread
from panels import build_tab, check_panels_draw, check_panels_independent

from playground.ui.tabs import wavenet as wn_tab
from playground.views.wavenet import NO_CLASS

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


def _endpoint(demo, name):
    return next(f.fn for f in demo.fns.values() if f.api_name == name)


def _request(name):
    return SimpleNamespace(session_hash=name)


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
    session, info, classes = _endpoint(demo, "wn_load")(None, "wavenet", "")
    assert "WaveNet" in info and classes["value"] == "0"
    with pytest.raises(gr.Error, match="wavenet"):
        _endpoint(demo, "wn_load")(session, "vae", "")


def test_generate_streams_with_the_unchanged_outputs_skipped(tab):
    calls = []
    outputs = list(tab.generate(None, 0.05, 1.0, "0", None, 1.0, "fast", 0, progress=lambda f, desc: calls.append((f, desc))))
    path, *_, status = outputs[-1]
    assert path.endswith(".wav") and "real-time factor" in status
    assert all(isinstance(out[0], SKIP) and isinstance(out[2], SKIP) for out in outputs[:-1])
    assert calls[0] == (0.0, "generating") and calls[-1] == (1.0, "400 / 400 samples")


def test_train_and_stop_through_the_bound_handlers(built):
    tab, demo = built
    train, stop = _endpoint(demo, "wn_train"), _endpoint(demo, "wn_stop")
    run = train(None, "synthetic notes", None, 4, 2, 1, True, 25, 5000, 3e-3, 0, _request("stopper"))
    session, status, *_ = next(run)
    assert status.startswith("Starting on the synthetic notes")
    assert stop(_request("stopper")) == "Stopping…"
    outputs = list(run)
    assert "stopped" in outputs[-1][1] and session.view.name.startswith("trained here")
    assert stop(_request("stopper")) == "Nothing is training."
    with pytest.raises(gr.Error, match="residual channels"):
        next(train(None, "synthetic notes", None, 3, 2, 1, True, 25, 50, 3e-3, 0, _request("stopper")))


def test_the_api_keeps_its_names_inputs_and_outputs(built):
    _, demo = built
    named = demo.get_api_info()["named_endpoints"]
    shapes = {
        "/wn_load": (2, 2), "/wn_load_zip": (1, 2), "/wn_download": (0, 1), "/wn_scale": (1, 3), "/wn_generate": (7, 4),
        "/wn_race": (3, 1), "/wn_mu_law": (4, 4), "/wn_receptive_field": (5, 2), "/wn_train": (10, 4), "/wn_stop": (0, 1),
    }
    for name, (n_in, n_out) in shapes.items():
        endpoint = named[name]
        assert (len(endpoint["parameters"]), len(endpoint["returns"])) == (n_in, n_out), name
        assert all(r["label"] and not r["label"].startswith("value_") for r in endpoint["returns"]), name
        assert "``" not in endpoint["description"], name

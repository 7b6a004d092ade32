"""The Boltzmann tab's layer of gradio: thin handlers over the views, independent panels,
the checkpoint panel and one training run (Train or Stack) at a time per session."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import torch
from conftest import single_thread
from panels import check_panels_draw, check_panels_independent, endpoint

from models.base import seeded_init
from models.dbn import DBN
from models.rbm import RBM
from playground.ui.tabs import boltzmann as boltzmann_tab
from playground.views.base import Context
from playground.views.boltzmann import CARD, TOUR, BoltzmannSession, DbnView, RbmView

SKIP = type(gr.skip())
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models, step by step


@pytest.fixture(scope="module")
def built(data):
    with single_thread(), gr.Blocks() as demo:
        tab = boltzmann_tab.BoltzmannTab.create(Context(torch.device("cpu"), data))
    return tab, demo


@pytest.fixture
def tab(built):
    return built[0]


def _small_session(tab) -> BoltzmannSession:
    ctx = tab.views.ctx
    rbm = RbmView(seeded_init(RBM, 0, n_hidden=24, n_gibbs=5), "small", ctx)
    return BoltzmannSession({"rbm": rbm, "dbn": DbnView(seeded_init(DBN, 0, hidden_sizes=[16, 8], n_gibbs=5), "small", ctx)})



def test_an_invalid_field_breaks_only_its_own_panel_before_and_after_a_change_of_model(tab, tmp_path, allow_folders):
    views = tab.views
    session = _small_session(tab)
    assert check_panels_independent(tab.panels(), session) >= 6
    seeded_init(DBN, 0, hidden_sizes=[12], n_gibbs=5).save_pretrained(tmp_path / "dbn")
    views.load(session, "", str(tmp_path / "dbn"))  # a one-layer DBN: the layer radio shrinks
    check_panels_draw(tab.panels(), session)
    check_panels_independent(tab.panels(), session)
    list(views.train(session, 20, "CD", 1, 0.05, 1, 0.5, 0.0, False, 0, stop=threading.Event()))
    assert session.rbm.model.n_hidden == 20
    session.rbm.model.n_gibbs = 5  # the page's fantasies run the model's n_gibbs steps: short ones here
    check_panels_independent(tab.panels(), session)


def test_the_dbn_panel_offers_the_layers_of_the_new_dbn(tab, tmp_path, allow_folders):
    session = _small_session(tab)
    seeded_init(DBN, 0, hidden_sizes=[12]).save_pretrained(tmp_path / "dbn")
    tab.views.load(session, "", str(tmp_path / "dbn"))
    fields = next(p for p in tab.panels() if p.outputs[0] is tab.layer)
    layer, image, caption, note = fields.quietly(session, "2")
    assert layer["choices"] == [("1", "1")] or layer["choices"] == ["1"]
    assert layer["value"] == "1" and "Layer 1" in caption and note == ""
    *outputs, note = fields.quietly(session, "9")
    assert all(isinstance(o, SKIP) for o in outputs) and "layer must be in [1, 4], got 9" in note


def test_handlers_pass_the_views_answers_and_skip_an_empty_box(tab):
    assert all(isinstance(x, SKIP) for x in tab.energy(None, None, 3, 0))
    session = _small_session(tab)
    first = next(tab.dbn_samples(session, 4, 10, 5, "noise", 0))
    assert isinstance(first[0], SKIP) and isinstance(first[2], SKIP) and first[1].startswith("Running 10 Gibbs steps")
    out, text, figure, description = tab.ais(session, 100, 10, 0, progress=lambda *a, **k: None)
    assert out is session and "AIS: log Z" in text and len(figure.data[0].x) == 10 and "test NLL" in description
    fields, caption = tab.dbn_fields(session, "2")
    assert fields.shape == (32, 8 * 30 + 2) and "Layer 2" in caption


def test_train_and_stack_share_one_run_per_session_and_the_stop_button(built):
    tab, demo = built
    train, stack, stop = (endpoint(demo, f"boltzmann_{name}") for name in ("train", "stack", "stop"))
    bob = SimpleNamespace(session_hash="bob")
    run = stack(_small_session(tab), 12, 200, 0.05, True, 0, bob)
    session, status, *_ = next(run)
    assert isinstance(session, BoltzmannSession) and status == "Starting…"
    next(run)
    with pytest.raises(gr.Error, match="already training"):
        next(train(None, 16, "PCD", 1, 0.05, 1, 0.5, 1e-3, True, 0, bob))
    assert stop(bob) == "Stopping…"
    last = list(run)[-1]
    assert last[1].startswith("**stopped**") and "of 200 epochs" in session.dbn.name
    assert stop(bob) == "Nothing is training."


def test_the_api_keeps_its_names_and_labels_every_output(built):
    _, demo = built
    endpoints = demo.get_api_info()["named_endpoints"]
    expected = {
        "/boltzmann_train": ["n_hidden", "method", "k", "lr", "epochs", "momentum", "weight_decay", "decay", "seed"],
        "/boltzmann_stack": ["n_hidden", "epochs", "lr", "decay", "seed"],
        "/boltzmann_fantasies": ["start", "first", "n_chains", "steps", "every", "seed"],
        "/boltzmann_complete": ["first", "n_digits", "rows", "n_samples", "steps", "seed"],
        "/boltzmann_dbn_samples": ["n", "steps", "every", "start", "seed"],
        "/boltzmann_dbn_fields": ["layer"], "/boltzmann_energy": ["index", "shift", "seed"], "/boltzmann_ais": ["n_betas", "n_runs", "seed"],
        "/boltzmann_samples": ["seed"], "/boltzmann_load": ["choice", "source"],
    }
    for name, parameters in expected.items():
        assert [p["parameter_name"] for p in endpoints[name]["parameters"]] == parameters, name
    arity = {"/boltzmann_load": 1, "/boltzmann_samples": 3, "/boltzmann_train": 5, "/boltzmann_stack": 4, "/boltzmann_ais": 3, "/boltzmann_energy": 3}
    for name, n in arity.items():
        assert len(endpoints[name]["returns"]) == n, name
    for name, described in endpoints.items():
        if name.startswith("/boltzmann"):
            assert all(r["label"] and not r["label"].startswith("value_") for r in described["returns"]), name
            assert described["description"].strip() and "`" not in described["description"], name


def _click_handler(demo, elem_id):
    """The public handler a click on the button ``elem_id`` runs, and its inputs."""
    button = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id)
    return next((f.fn, f.inputs) for f in demo.fns.values() if (button._id, "click") in f.targets and f.api_name)


def test_the_tab_opens_on_its_fantasies_and_every_tour_step_runs(built):
    tab, demo = built
    ids = [child.id for child in tab.subtabs.children]
    assert ids[0] == CARD.tab == "boltzmann-fantasies" and ids[-2:] == ["boltzmann-train", "boltzmann-explain"] and tab.explain_tab == ids[-1]
    assert tab.card is CARD and tab.tour is TOUR and len(tab.tour_buttons) == len(TOUR)
    session = _small_session(tab)
    for step in TOUR:
        assert step.tab in ids, step.title
        controls = {getattr(tab, name): value for name, value in step.values.items()}
        assert all(isinstance(c, gr.components.Component) for c in controls), step.title
        if step.run.startswith("#"):  # the button's own handler with the step's values: no error, pictures drawn
            fn, inputs = _click_handler(demo, step.run[1:])
            *_, last = fn(*[session if isinstance(c, gr.State) else controls.get(c, c.value) for c in inputs])
            assert any(isinstance(v, np.ndarray) for v in last), step.title
        else:
            panel = tab.tour_panels()[step.run]
            *outputs, note = panel.quietly(*[session if isinstance(c, gr.State) else controls.get(c, c.value) for c in panel.inputs])
            assert note == "" and not any(isinstance(o, SKIP) for o in outputs), step.title


def test_the_samples_have_short_titles_and_the_judges_read_only_digit_like_ones(tab):
    for image in (tab.rbm_img, tab.dbn_img, tab.states_img, tab.means_img, tab.dbn_grid):
        assert len(image.label) <= 30, image.label  # a 300-px box shows the whole title
    samples = next(p for p in tab.panels() if tab.quality in p.outputs)
    rbm, dbn, quality, note = samples.quietly(_small_session(tab), 0)
    assert note == "" and quality.startswith("**RBM:** No judges' reading")  # an untrained RBM draws blobs
    assert tab.quality.value.startswith("**RBM:** All 3 judges read")  # the bundled RBM's fantasies are digits


def test_download_which_lives_in_the_model_bar_and_a_change_of_model_redraws_the_play_views(tab, tmp_path):
    bar = tab.models.bar
    assert any(c is tab.which or tab.which in getattr(c, "children", ()) for c in bar.children)
    session = _small_session(tab)
    by_output = {p.outputs[0]: p for p in tab.panels()}
    states, means, status, gif, note = by_output[tab.states_img].quietly(session)
    assert note == "" and "in the RBM (small)" in status and gif["value"] is None  # the old model's animation goes
    grid, status, gif, note = by_output[tab.dbn_grid].quietly(session)
    assert note == "" and status.startswith("DBN (small)")
    grid, text, note = by_output[tab.complete_img].quietly(session, 0, 2, 14, 2, 10, 0)
    assert note == "" and "of the RBM (small)" in text

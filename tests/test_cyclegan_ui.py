"""The CycleGAN page's layer of gradio: its handlers over the views, its public API and the
elements the browser uses, and the launched app driven through gradio_client (strips, a bad
value's sentence, a short training run)."""

from __future__ import annotations

import numpy as np
import pytest
from panels import build_tab
from PIL import Image

from playground.ui.tabs.cyclegan import CycleTab
from playground.views.cyclegan import CycleSession

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def built(data):
    return build_tab(CycleTab, data)


def test_the_first_picture_is_there_at_once_and_the_api_is_public(built):
    demo, tab = built
    assert tab.picture.value is not None and "bundled" in tab.figures.value and "Cycle error" in tab.figures.value
    names = {d.get("api_name") for d in demo.config["dependencies"] if d.get("api_visibility", "public") != "private"}
    assert {"gan_cycle_strips", "gan_cycle_restore", "gan_cycle_train", "gan_cycle_stop"} <= names
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    assert {"gan-cycle-strips", "gan-cycle-figures", "gan-cycle-show", "gan-cycle-train", "gan-cycle-stop", "gan-cycle-status", "gan-cycle-lambda"} <= ids


def test_handlers_return_the_session_and_a_bad_value_stays_in_its_panel(built):
    _, tab = built
    session, picture, figures = tab.strips(None, 5, 3)
    assert isinstance(session, CycleSession) and picture.shape[0] == 3 * 28 + 4 * 2 and "A → B → A" in figures
    assert tab.restore(session, 0, 2)[0].model is tab.views.bundled
    with pytest.raises(ValueError, match="first test digit"):
        tab.strips(session, 499, 8)


@pytest.fixture
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def test_strips_and_a_bad_value_through_the_api(client):
    picture, figures = client.predict(0, 4, api_name="/gan_cycle_strips")
    assert np.asarray(Image.open(picture).convert("L")).shape[0] == 3 * 28 + 4 * 2 and "stroke thickness" in figures
    with pytest.raises(AppError) as info:
        client.predict(600, 4, api_name="/gan_cycle_strips")
    assert "first test digit must be in [0, 496], got 600" in str(info.value) and "Traceback" not in str(info.value)


def test_a_short_training_through_the_api(client):
    status, picture, figures, _ = client.predict("slant", 20, 10.0, 5.0, 1e-3, 0, api_name="/gan_cycle_train")
    assert status.startswith("**done**") and picture and "trained here (20 steps" in figures and "slant" in figures

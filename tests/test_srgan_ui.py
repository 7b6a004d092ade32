"""The SRGAN page's layer of gradio: its handlers over the views, its public API and the
elements the browser uses, and the launched app driven through gradio_client."""

from __future__ import annotations

import numpy as np
import pytest
from panels import build_tab
from PIL import Image

from playground.ui.tabs.srgan import SRTab
from playground.views.srgan import SRSession

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def built(data):
    return build_tab(SRTab, data)


def test_the_first_picture_is_there_at_once_and_the_api_is_public(built):
    demo, tab = built
    assert tab.picture.value is not None and "PSNR (dB)" in tab.figures.value and "judges agree" in tab.figures.value
    names = {d.get("api_name") for d in demo.config["dependencies"] if d.get("api_visibility", "public") != "private"}
    assert {"gan_sr_compare", "gan_sr_restore", "gan_sr_train", "gan_sr_stop"} <= names
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    assert {"gan-sr-compare", "gan-sr-figures", "gan-sr-show", "gan-sr-train", "gan-sr-stop", "gan-sr-status", "gan-sr-adv"} <= ids


def test_handlers_return_the_session_and_refuse_bad_values(built):
    _, tab = built
    session, picture, figures = tab.compare(None, 7, 3)
    assert isinstance(session, SRSession) and picture.shape == (5 * 28 + 6 * 2, 3 * 28 + 4 * 2) and "bicubic" in figures
    assert tab.restore(session)[0].model is tab.views.bundled
    with pytest.raises(ValueError, match="digits shown"):
        tab.compare(session, 0, 40)


@pytest.fixture
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def test_compare_and_a_bad_value_through_the_api(client):
    picture, figures = client.predict(0, 4, api_name="/gan_sr_compare")
    assert np.asarray(Image.open(picture).convert("L")).shape == (5 * 28 + 6 * 2, 4 * 28 + 5 * 2) and "SRGAN" in figures
    with pytest.raises(AppError) as info:
        client.predict(-5, 4, api_name="/gan_sr_compare")
    assert "first test digit must be in" in str(info.value) and "Traceback" not in str(info.value)

"""The Pitch contour page's layer of gradio: the public API, the elements the browser uses,
and the launched app driven through gradio_client (bad values included)."""

from __future__ import annotations

import pytest
import soundfile
from panels import build_tab

from playground.ui.tabs.wavenet_pitch import PitchTab

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_exact_tone_and_curve_are_there_at_once_and_the_api_is_public(data):
    demo, tab = build_tab(PitchTab, data)
    assert soundfile.info(tab.exact.value["path"] if isinstance(tab.exact.value, dict) else tab.exact.value).frames == 150 * 80
    assert "tracker" in tab.status.value and tab.plot.value is not None
    names = {d.get("api_name") for d in demo.config["dependencies"] if d.get("api_visibility", "public") != "private"}
    assert {"wn_pitch_generate", "wn_pitch_preview", "wn_pitch_restore", "wn_pitch_train", "wn_pitch_stop"} <= names
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    assert {"wn-pitch-draw", "wn-pitch-run", "wn-pitch-audio", "wn-pitch-exact", "wn-pitch-plot", "wn-pitch-status", "wn-pitch-train"} <= ids


@pytest.fixture
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def test_generate_and_bad_values_through_the_api(client):
    path, _, status = client.predict("preset", "melody", None, 0.3, 1.0, 2, api_name="/wn_pitch_generate")
    assert soundfile.info(path).frames == 30 * 80 and "cents" in status
    for args, message in (
        (("preset", "trill", None, 0.3, 1.0, 2), "preset"), (("preset", "melody", None, 60.0, 1.0, 2), "seconds"),
        (("my drawing", "melody", None, 0.3, 1.0, 2), "draw a pitch curve"), (("preset", "melody", None, 0.3, -1.0, 2), "temperature"),
    ):
        with pytest.raises(AppError) as info:
            client.predict(*args, api_name="/wn_pitch_generate")
        assert message in str(info.value) and "Traceback" not in str(info.value)

"""The Parallel WaveNet and Moving digits pages' layer of gradio: their public API and elements,
and the launched app driven through gradio_client (bad values included)."""

from __future__ import annotations

import pytest
import soundfile
from panels import build_tab

from playground.ui.tabs.moving_digits import MDTab
from playground.ui.tabs.parallel_wavenet import PWTab

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize(
    "tab_class, apis, ids",
    [
        (PWTab, {"wn_pw_generate", "wn_pw_race", "wn_pw_restore", "wn_pw_train", "wn_pw_stop"}, {"wn-pw-audio", "wn-pw-run", "wn-pw-race", "wn-pw-figures", "wn-pw-train"}),
        (MDTab, {"wn_video_show", "wn_video_predict", "wn_video_restore", "wn_video_train", "wn_video_stop"}, {"wn-video-clip", "wn-video-run", "wn-video-nll", "wn-video-figures"}),
    ],
)
def test_first_views_are_there_at_once_and_the_api_is_public(tab_class, apis, ids, data):
    demo, tab = build_tab(tab_class, data)
    names = {d.get("api_name") for d in demo.config["dependencies"] if d.get("api_visibility", "public") != "private"}
    assert apis <= names
    assert ids <= {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    assert "nats" in tab.figures.value


@pytest.fixture
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def test_parallel_wavenet_and_moving_digits_through_the_api(client):
    path, _, status = client.predict("9", 0.3, 1.0, 4, api_name="/wn_pw_generate")
    assert soundfile.info(path).frames == 2400 and "one pass" in status
    assert "faster" in client.predict("2", 0.05, 0, api_name="/wn_pw_race")
    picture, status = client.predict(5, 3, 1, 0, api_name="/wn_video_predict")
    assert picture and "1 of 1 frames drawn" in status
    for args, api, message in (
        (("12", 0.3, 1.0, 4), "/wn_pw_generate", "class"), (("2", 50.0, 0), "/wn_pw_race", "seconds"),
        ((500, 3, 1, 0), "/wn_video_predict", "test clip"), ((5, 8, 6, 0), "/wn_video_predict", "at most 10"),
    ):
        with pytest.raises(AppError) as info:
            client.predict(*args, api_name=api)
        assert message in str(info.value) and "Traceback" not in str(info.value)

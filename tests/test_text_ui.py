"""The Text page's layer of gradio: its handlers over the views, its public API and the
elements the browser uses, and the launched app driven through gradio_client."""

from __future__ import annotations

import pytest
from panels import build_tab

from playground.ui.tabs.text import TextTab
from playground.views.text import TextSession

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def built(data):
    return build_tab(TextTab, data)


def test_a_first_sample_and_the_figures_are_there_at_once_and_the_api_is_public(built):
    demo, tab = built
    assert tab.text.value.count("<span") == 200 and "bits per character" in tab.figures_md.value
    assert tab.scored_picture.value.count("<span") > 40 and "| next character | p |" in tab.score_table.value
    names = {d.get("api_name") for d in demo.config["dependencies"] if d.get("api_visibility", "public") != "private"}
    assert {"wn_text_sample", "wn_text_score", "wn_text_restore", "wn_text_train", "wn_text_stop"} <= names
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    assert {"wn-text-sample", "wn-text-run", "wn-text-status", "wn-text-prime", "wn-text-scored-picture", "wn-text-train", "wn-text-stop"} <= ids


def test_handlers_refuse_bad_values_and_restore_returns_a_session(built):
    _, tab = built
    *_, (text, status) = tab.sample(None, "transformer", "KING:", 1.0, 30, 2, progress=lambda *a, **k: None)
    assert text.count("<span") == 30 and "30 of 30" in status
    session, figures = tab.restore(None)
    assert isinstance(session, TextSession) and "Char-RNN" in figures
    with pytest.raises(ValueError, match="position"):
        tab.score(None, "rnn", "abc", 9)


@pytest.fixture
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def test_sampling_scoring_and_bad_values_through_the_api(client):
    text, status = client.predict("rnn", "ROMEO:", 0.5, 40, 1, api_name="/wn_text_sample")
    assert "<b>ROMEO:</b>" in text and text.count("<span") == 40 and "characters/s" in status
    picture, table = client.predict("transformer", "To be, or not to be", 3, api_name="/wn_text_score")
    assert picture.count("<span") == 19 and "character 3 was **" in table
    for args, message in ((("rnn", "ROMEO:", 9.0, 40, 1), "temperature"), (("rnn", "ROMEO:", 1.0, 10**6, 1), "characters"), (("gpt", "x", 1.0, 40, 1), "model")):
        with pytest.raises(AppError) as info:
            client.predict(*args, api_name="/wn_text_sample")
        assert message in str(info.value) and "Traceback" not in str(info.value)
    with pytest.raises(AppError) as info:
        client.predict("rnn", "naïve", 0, api_name="/wn_text_score")
    assert "never saw" in str(info.value)

"""The wake-sleep page through the launched app (gradio_client): a short fine-tuning run that
ends done with the samples after, bad values refused with a sentence."""

from __future__ import annotations

import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402


@pytest.fixture
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def test_wake_sleep_handlers_are_public(client):
    assert {"/wake_sleep_train", "/wake_sleep_stop"} <= set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])


def test_a_short_fine_tuning_ends_done(client):
    status, _figure, after, recognition, generative = client.submit(20, 0.05, 1, 0, api_name="/wake_sleep_train").result(timeout=240)
    assert status.startswith("**done** after 20 steps") and "recognition 0" in status and after and recognition and generative


def test_bad_learning_rate_gets_a_sentence(client):
    with pytest.raises(AppError, match="learning rate"):
        client.predict(20, 5.0, 1, 0, api_name="/wake_sleep_train")

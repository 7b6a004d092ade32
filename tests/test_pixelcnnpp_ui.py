"""The PixelCNN++ page through the launched app's API (gradio_client): one pixel's
distributions, the likelihood table, and bad values refused with a sentence (drawing is
tested on tiny models in test_pixelcnnpp_view.py: the bundled ones take a minute)."""

from __future__ import annotations

import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402


@pytest.fixture(scope="module")
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def test_conditional_endpoint_plots_and_names_the_true_level(client):
    plot, text = client.predict(index=3, row=14, col=14, api_name="/ar_pixelcnnpp_conditional")
    assert plot is not None
    assert "true level" in text and "PixelCNN++" in text and "bits" in text


@pytest.mark.parametrize(
    ("kwargs", "api", "words"),
    [
        (dict(index=3, row=40, col=14), "/ar_pixelcnnpp_conditional", "row of the pixel: Value 40 is greater than maximum value 27"),
        (dict(index=-1, row=4, col=14), "/ar_pixelcnnpp_conditional", "test digit must be in"),
        (dict(n=99, seed=0), "/ar_pixelcnnpp_draw", "samples per model (≤ 16): Value 99 is greater than maximum value 16"),
        (dict(family="pixelcnnpp", steps=3, lr=1e-3, seed=0), "/ar_pixelcnnpp_train", "steps must be in"),
        (dict(family="vae", steps=100, lr=1e-3, seed=0), "/ar_pixelcnnpp_train", "model must be one of"),
    ],
)
def test_bad_values_are_refused_with_a_sentence(client, kwargs, api, words):
    with pytest.raises(AppError) as info:
        client.predict(**kwargs, api_name=api)
    assert words in str(info.value)


def test_table_endpoint_gives_both_bits_per_dim(client):
    text = client.predict(api_name="/ar_pixelcnnpp_table")
    assert "PixelCNN++" in text and "softmax" in text and "bits/dim" in text

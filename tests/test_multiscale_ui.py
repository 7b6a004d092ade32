"""The multiscale PixelCNN page through the launched app's API (gradio_client): the stages,
the race with samples/s, the table, and bad values refused with a sentence."""

from __future__ import annotations

import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402


@pytest.fixture(scope="module")
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def test_stages_endpoint_draws_scale_by_scale(client):
    picture, text = client.predict(n=2, seed=1, api_name="/ar_multiscale_stages")
    assert picture and "55 network passes" in text


def test_race_ends_with_both_samples_per_second(client):
    picture, status = client.predict(n=1, seed=0, api_name="/ar_multiscale_race")
    assert picture and "samples/s" in status and "faster" in status


def test_table_endpoint(client):
    text = client.predict(api_name="/ar_multiscale_table")
    assert "Multiscale PixelCNN" in text and "same budget" in text


@pytest.mark.parametrize(
    ("kwargs", "api", "words"),
    [
        (dict(n=9, seed=0), "/ar_multiscale_stages", "digits (≤ 8): Value 9 is greater than maximum value 8"),
        (dict(n=0, seed=0), "/ar_multiscale_race", "samples per model (≤ 16): Value 0 is less than minimum value 1"),
        (dict(steps=5, lr=1e-3, seed=0), "/ar_multiscale_train", "steps must be in"),
        (dict(steps=100, lr=1e-3, seed=-4), "/ar_multiscale_train", "seed must be in"),
    ],
)
def test_bad_values_are_refused_with_a_sentence(client, kwargs, api, words):
    with pytest.raises(AppError) as info:
        client.predict(**kwargs, api_name=api)
    assert words in str(info.value)

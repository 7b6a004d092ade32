"""The BEGAN page through the launched app (gradio_client, as a notebook would): samples and
figures, a short training run that streams the convergence measure, and bad values refused
with a sentence."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402

API = {"/gan_began_samples", "/gan_began_restore", "/gan_began_train", "/gan_began_stop"}


@pytest.fixture
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def test_every_began_handler_is_public(client):
    assert API <= set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])


def test_samples_beside_reconstructions_with_figures(client):
    picture, figures = client.predict(3, api_name="/gan_began_samples")
    pixels = np.asarray(Image.open(picture).convert("L"))
    assert pixels.shape[0] >= 4 * 28 and pixels.shape[1] > 2 * 8 * 28
    assert "M_global" in figures and "judges" in figures
    again, _ = client.predict(3, api_name="/gan_began_restore")
    assert np.array_equal(pixels, np.asarray(Image.open(again).convert("L")))


def test_a_short_run_streams_and_ends_done(client):
    job = client.submit(0.6, 0.02, 20, 1e-3, 0, api_name="/gan_began_train")
    outputs = job.result(timeout=240)
    status, picture, figures, curves = outputs
    assert status.startswith("**done**") and "γ = 0.6" in figures and picture is not None and curves is not None
    assert any("M_global" in str(update[0]) for update in job.outputs()[:-1])


@pytest.mark.parametrize(
    ("args", "api", "message"),
    [
        ([-3], "/gan_began_samples", ("seed must be in", "less than minimum value")),
        ([2.0, 0.01, 20, 1e-3, 0], "/gan_began_train", ("γ (diversity ratio) must be", "greater than maximum value")),
        ([0.5, 0.01, 20, 5.0, 0], "/gan_began_train", ("learning rate must be", "greater than maximum value")),
    ],
)
def test_bad_values_get_a_clear_message(client, args, api, message):
    with pytest.raises(AppError) as info:
        client.predict(*args, api_name=api)
    assert any(m in str(info.value) for m in message) and "Traceback" not in str(info.value)

"""The truncation page through the launched app (gradio_client): samples, figures and the
curve for a psi, and bad values refused with a sentence."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402


@pytest.fixture
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def test_samples_figures_and_curve_for_a_psi(client):
    picture, line, curve = client.predict(0.5, "shrink", 0, api_name="/gan_truncation")
    assert np.asarray(Image.open(picture).convert("L")).shape == (8 * 28 + 9 * 2,) * 2
    assert "ψ = 0.5" in line and "precision" in line and "recall" in line and curve is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [([0.3, "resample", 0], "must be one of"), ([1.0, "clip", 0], ("truncation method", "not in the list of choices")), ([1.0, "resample", -1], ("seed", "less than minimum"))],
)
def test_bad_values_get_a_clear_message(client, args, message):
    with pytest.raises(AppError) as info:
        client.predict(*args, api_name="/gan_truncation")
    messages = (message,) if isinstance(message, str) else message
    assert any(m in str(info.value) for m in messages) and "Traceback" not in str(info.value)

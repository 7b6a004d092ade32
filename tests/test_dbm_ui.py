"""The DBM page through the launched app (gradio_client, as a notebook would): samples, the
mean-field panel, the NLL table, a short training run that ends done, bad values refused
with a sentence."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402

API = {"/dbm_samples", "/dbm_mean_field", "/dbm_nll", "/dbm_train", "/dbm_stop"}


@pytest.fixture
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def test_every_dbm_handler_is_public(client):
    assert API <= set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])


def test_samples_and_the_mean_field_fixed_point(client):
    grid, reading = client.predict(20, 1, api_name="/dbm_samples")
    assert np.asarray(Image.open(grid).convert("L")).shape[0] >= 6 * 28 and "20 Gibbs sweeps" in reading
    strip, _plot, text = client.predict(3, 40, api_name="/dbm_mean_field")
    assert np.asarray(Image.open(strip).convert("L")).shape[1] >= 7 * 28 and "a fixed point" in text


def test_nll_table_beside_the_rbm_and_dbn(client):
    table = client.predict(100, 10, 0, api_name="/dbm_nll")
    assert "RBM (bundled)" in table and "DBN (bundled)" in table and "AIS, 100 × 10 runs" in table


def test_a_short_run_ends_done(client):
    job = client.submit(10, 10, 1, 1, 0.05, 0, api_name="/dbm_train")
    status, _curves, samples = job.result(timeout=240)
    assert status.startswith("**done**") and samples is not None


@pytest.mark.parametrize(
    "args,api,message",
    [
        ((0, 0), "/dbm_samples", "Gibbs (steps must be in|sweeps: Value 0 is less than minimum)"),  # the slider's own check names it too
        ((900, 5), "/dbm_mean_field", "test digit must be in"),
        ((100, 5, 0), "/dbm_nll", "AIS runs(: Value 5 is less than minimum| must be in)"),
    ],
)
def test_bad_values_get_a_sentence(client, args, api, message):
    with pytest.raises(AppError, match=message):
        client.predict(*args, api_name=api)

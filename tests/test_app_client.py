"""Drive the launched app through gradio_client, as a notebook would."""

from __future__ import annotations

import json
import os

import httpx
import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402

API = {
    "/vae_load", "/vae_samples", "/vae_download", "/vae_train", "/vae_stop", "/vae_decode", "/vae_randomise",
    "/vae_encode", "/vae_manifold", "/vae_load_zip", "/vae_pick_point", "/vae_decode_point", "/vae_interpolate", "/vae_edit",
}


@pytest.fixture
def client(app_url):
    return gradio_client.Client(app_url, verbose=False)


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def test_every_vae_handler_is_public(client):
    named = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert API <= named


def test_decode_and_samples_through_the_api(client):
    a = _pixels(client.predict(*[0.0] * 8, api_name="/vae_decode"))
    b = _pixels(client.predict(*([3.0] + [0.0] * 7), api_name="/vae_decode"))
    assert a.shape == (28, 28) and not np.array_equal(a, b)
    grid = _pixels(client.predict(5, api_name="/vae_samples"))
    assert grid.shape == (242, 242)


def _assert_clear_message(client, args: list, api: str, message: str | tuple[str, ...]) -> None:
    """The API call fails with one of the ``message`` texts and no traceback."""
    with pytest.raises(AppError) as info:
        client.predict(*args, api_name=api)
    messages = (message,) if isinstance(message, str) else message
    assert any(m in str(info.value) for m in messages), str(info.value)
    assert "Traceback" not in str(info.value)


@pytest.mark.parametrize(
    "args,api,message",
    [
        # Gradio's Slider checks its own range first, with a message of its own
        ([1e9] + [0.0] * 7, "/vae_decode", ("slider 1 must be a number in [-4, 4]", "greater than maximum value 4.0")),
        ([-3], "/vae_samples", ("seed must be in", "less than minimum value 0")),
        (["vae", "nobody/no-such-model"], "/vae_load", "nobody/no-such-model"),
        (["vae", "classifier"], "/vae_load", "holds a classifier checkpoint"),
        (["vae", "/tmp"], "/vae_load", "loading folders of the server is turned off"),
        (["nonsense", ""], "/vae_load", "not in the list of choices"),
        ([0, 0, 15], "/vae_manifold", "two different dimensions"),
        ([0, 1, 10**6], "/vae_interpolate", ("steps must be in", "greater than maximum value 20")),
        ([0, 999, 5], "/vae_interpolate", ("digit B must be in", "greater than maximum value 499")),
        ([0, "digit 7", 1e6], "/vae_edit", ("strength", "greater than maximum value 3")),
        ([0, "make it pretty", 1.0], "/vae_edit", ("attribute must be one of", "not in the list of choices")),
        ([1000, 1000], "/vae_decode_point", "x must be a number"),
    ],
)
def test_bad_api_input_gets_a_clear_message(client, args, api, message):
    _assert_clear_message(client, args, api, message)


def test_training_is_per_session(client, app_url):
    other = gradio_client.Client(app_url, verbose=False)
    before_other = _pixels(other.predict(0, api_name="/vae_samples"))
    job = client.submit(4, "mlp", 1.0, 0.003, 100, 1, api_name="/vae_train")
    job.result()
    outputs = job.outputs()
    status = outputs[-1][0]
    assert "done" in status and "trained 100 steps" in status
    mine = _pixels(client.predict(0, api_name="/vae_samples"))
    theirs = _pixels(other.predict(0, api_name="/vae_samples"))
    assert np.array_equal(theirs, before_other)
    assert not np.array_equal(mine, theirs)
    # the trained model is what this session's other handlers use: a 4-d code
    with pytest.raises(AppError, match="y dimension must be in"):
        client.predict(0, 5, 5, api_name="/vae_manifold")
    path = client.predict(api_name="/vae_download")
    assert os.path.getsize(path) > 1000
    # a new session restores that model from the zip
    other.predict(gradio_client.handle_file(path), api_name="/vae_load_zip")
    assert np.array_equal(_pixels(other.predict(0, api_name="/vae_samples")), mine)


def test_server_keeps_running_after_errors(client):
    for _ in range(3):
        with pytest.raises(AppError):
            client.predict(*[1e9] * 8, api_name="/vae_decode")
    assert _pixels(client.predict(*[0.5] * 8, api_name="/vae_decode")).shape == (28, 28)


GAN_API = {
    "/gan_load", "/gan_load_zip", "/gan_samples", "/gan_download", "/gan_train", "/gan_stop", "/gan_animation", "/gan_pool",
    "/gan_interpolate", "/gan_walk", "/gan_arithmetic", "/gan_preset", "/gan_digit_grid", "/gan_label_sweep",
}


def test_every_gan_handler_is_public(client):
    named = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert GAN_API <= named
    assert any(name.startswith("/gan_lab_") for name in named)


def test_gan_arithmetic_and_preset_through_the_api(client):
    seed, _pool, a, b, c, la, lb, lc, equation, _neighbours, table = client.predict(0, api_name="/gan_preset")
    assert a and b and c and "A − B + C" in table
    again = client.predict(seed, a, b, c, la, lb, lc, 0, api_name="/gan_arithmetic")
    assert np.array_equal(_pixels(again[0]), _pixels(equation))


@pytest.mark.parametrize(
    "args,api,message",
    [
        ([0, "", "1", "2", "7", "7", "1", 0], "/gan_arithmetic", "slot A is empty"),
        ([0, "1, 99", "1", "2", "7", "7", "1", 0], "/gan_arithmetic", "not a sample number"),
        ([False, "non_saturating", 1, 2e-4, -5.0, 64, 32, False, False, 0.0, 100, 0], "/gan_train", ("discriminator learning rate", "less than minimum")),
        ([False, "hinge", 1, 2e-4, 2e-4, 64, 32, False, False, 0.0, 100, 0], "/gan_train", ("loss must be one of", "not in the list of choices")),
        (["11", 0], "/gan_digit_grid", ("digit", "not in the list of choices")),
        (["gan", "vae"], "/gan_load", "holds a vae checkpoint"),
    ],
)
def test_bad_gan_api_input_gets_a_clear_message(client, args, api, message):
    _assert_clear_message(client, args, api, message)


def _raw_call(app_url: str, api: str, data: list) -> str:
    """Call ``api`` over Gradio's REST API with ``data`` encoded by Python's json, which
    writes NaN and Infinity as bare literals (gradio_client refuses to send them, a
    hand-written client need not); returns the event stream's text."""
    body = json.dumps({"data": data})  # allow_nan=True: NaN stays NaN on the wire
    app_url = app_url.rstrip("/")
    posted = httpx.post(f"{app_url}/gradio_api/call{api}", content=body, headers={"Content-Type": "application/json"}, timeout=30)
    posted.raise_for_status()
    event_id = posted.json()["event_id"]
    return httpx.get(f"{app_url}/gradio_api/call{api}/{event_id}", timeout=60).text


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_nan_learning_rate_on_the_wire_is_refused_clearly(app_url, value):
    stream = _raw_call(app_url, "/gan_train", [False, "non_saturating", 1, value, 2e-4, 64, 32, False, False, 0.0, 100, 0])
    # Gradio's Number refuses inf itself (NaN passes its bounds and reaches our check)
    assert "event: error" in stream, stream
    assert "learning rate (1e-05 to 0.01): a finite number is needed here" in stream or "greater than maximum value" in stream, stream
    assert "Traceback" not in stream


BOLTZMANN_API = {
    "/boltzmann_load", "/boltzmann_load_zip", "/boltzmann_download", "/boltzmann_samples", "/boltzmann_train", "/boltzmann_stop",
    "/boltzmann_fantasies", "/boltzmann_complete", "/boltzmann_dbn_samples", "/boltzmann_dbn_fields", "/boltzmann_energy",
    "/boltzmann_ais", "/boltzmann_stack",
}


def test_every_boltzmann_handler_is_public(client):
    named = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert BOLTZMANN_API <= named


def test_a_short_fantasy_chain_through_the_api(client):
    states, means, status, animation = client.predict("noise", 0, 4, 20, 10, 0, api_name="/boltzmann_fantasies")
    assert _pixels(states).shape == _pixels(means).shape == (2 * 30 + 2, 2 * 30 + 2)
    assert "After **20** Gibbs steps" in status and os.path.getsize(animation) > 100


@pytest.mark.parametrize(
    "args,api,message",
    [
        ([0, "PCD", 1, 0.02, 5, 0.5, 1e-4, True, 0], "/boltzmann_train", ("hidden units must be in [1, 1000]", "less than minimum")),
        ([10**7, "PCD", 1, 0.02, 5, 0.5, 1e-4, True, 0], "/boltzmann_train", ("hidden units must be in [1, 1000]", "greater than maximum")),
        ([100, "PCD", 0, 0.02, 5, 0.5, 1e-4, True, 0], "/boltzmann_train", ("k (Gibbs steps per update)", "less than minimum")),
        ([100, "PCD", 10**6, 0.02, 5, 0.5, 1e-4, True, 0], "/boltzmann_train", ("k (Gibbs steps per update)", "greater than maximum")),
        (["noise", 0, 10**6, 20, 10, 0], "/boltzmann_fantasies", ("chains must be in [1, 100]", "greater than maximum")),
        (["noise", 0, 4, 10**9, 10, 0], "/boltzmann_fantasies", ("Gibbs steps must be in", "greater than maximum")),
        (["noise", 0, 4, 10_000, 1, 0], "/boltzmann_fantasies", "at most 200"),
        ([2000, 10**6, 0], "/boltzmann_ais", ("AIS runs", "greater than maximum")),
        (["rbm", "gan"], "/boltzmann_load", "holds a gan checkpoint"),
    ],
)
def test_bad_boltzmann_api_input_gets_a_clear_message(client, args, api, message):
    _assert_clear_message(client, args, api, message)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_nan_rbm_learning_rate_on_the_wire_is_refused_clearly(app_url, value):
    stream = _raw_call(app_url, "/boltzmann_train", [100, "PCD", 1, value, 5, 0.5, 1e-4, True, 0])
    assert "event: error" in stream, stream
    assert "learning rate" in stream or "greater than maximum value" in stream, stream
    assert "Traceback" not in stream


AR_API = {
    "/ar_load", "/ar_load_zip", "/ar_download", "/ar_samples", "/ar_train", "/ar_stop", "/ar_table", "/ar_watch",
    "/ar_complete", "/ar_receptive_field", "/ar_made_masks",
}


def test_every_autoregressive_handler_is_public(client):
    named = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert AR_API <= named


def test_completion_and_the_receptive_field_through_the_api(client):
    grid, note = client.predict("nade", "test digit", 7, None, 14, 3, "any", 0, api_name="/ar_complete")
    assert _pixels(grid).shape == (32, 5 * 30 + 2) and "Given the top 14 rows of test digit #7" in note
    picture, note = client.predict(3, 20, api_name="/ar_receptive_field")
    assert "Pixel (row 3, column 20)" in note and "Gated PixelCNN: sees" in note


@pytest.mark.parametrize(
    "args,api,message",
    [
        (["nade", "test digit", 0, None, 99, 3, "any", 0], "/ar_complete", ("rows kept", "greater than maximum")),
        (["nade", "drawing", 0, None, 14, 3, "any", 0], "/ar_complete", "nothing is drawn"),
        (["nade", "test digit", 0, None, 14, 3, "5", 0], "/ar_complete", "not class-conditional"),
        (["made", 10**6, 0], "/ar_samples", ("samples must be in [1, 64]", "greater than maximum")),
        (["pixelcnn", 10**6, 28, "any", 0], "/ar_watch", ("samples must be in [1, 16]", "greater than maximum")),
        ([99, 0], "/ar_receptive_field", ("row must be in [0, 27]", "greater than maximum")),
        ([99, 0, 0], "/ar_made_masks", ("mask set", "not in the list of choices")),
        (["pixelcnn", 8, 2, 1, True, 50, 1e-3, 0], "/ar_train", "only the Gated PixelCNN"),
        (["nade", "gan"], "/ar_load", "holds a gan checkpoint"),
    ],
)
def test_bad_autoregressive_api_input_gets_a_clear_message(client, args, api, message):
    _assert_clear_message(client, args, api, message)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_nan_autoregressive_learning_rate_on_the_wire_is_refused_clearly(app_url, value):
    stream = _raw_call(app_url, "/ar_train", ["pixelcnn", 8, 2, 1, False, 50, value, 0])
    assert "event: error" in stream, stream
    assert "learning rate" in stream or "greater than maximum value" in stream, stream
    assert "Traceback" not in stream


WN_API = {
    "/wn_load", "/wn_load_zip", "/wn_download", "/wn_scale", "/wn_generate", "/wn_race", "/wn_mu_law", "/wn_receptive_field",
    "/wn_train", "/wn_stop",
}


def test_every_wavenet_handler_is_public(client):
    named = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert WN_API <= named


def test_a_clip_and_the_receptive_field_through_the_api(client):
    import soundfile

    audio, wave_fig, spec_fig, status = client.predict(0.05, 1.0, "4", None, 1.0, "fast", 0, api_name="/wn_generate")
    wave, rate = soundfile.read(audio)
    assert rate == 8000 and len(wave) == 400 and "samples/s" in status
    plot, note = client.predict(10, 1, 2, 8000, "", api_name="/wn_receptive_field")
    assert "**1,024 samples = 128.0 ms**" in note


@pytest.mark.parametrize(
    "args,api,message",
    [
        ([20.0, 1.0, "0", None, 1.0, "fast", 0], "/wn_generate", ("seconds must be", "greater than maximum")),
        ([0.05, 0.0, "0", None, 1.0, "fast", 0], "/wn_generate", ("temperature must be", "less than minimum")),
        ([0.05, 1.0, "42", None, 1.0, "fast", 0], "/wn_generate", ("class must be", "not in the list of choices")),
        ([0.05, 1.0, "0", None, 1.0, "warp", 0], "/wn_generate", ("generator must be", "not in the list of choices")),
        ([5.0, 0, 0], "/wn_race", ("seconds must be", "greater than maximum")),
        ([99, 1, 2, 8000, ""], "/wn_receptive_field", ("layers per stack", "greater than maximum")),
        ([4, 1, 2, 8000, "1, 2, banana"], "/wn_receptive_field", "whole numbers"),
        (["0", None, 40, 0], "/wn_mu_law", ("level", "greater than maximum")),
        (["wavenet", "vae"], "/wn_load", "holds a vae checkpoint"),
    ],
)
def test_bad_wavenet_api_input_gets_a_clear_message(client, args, api, message):
    _assert_clear_message(client, args, api, message)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_nan_wavenet_temperature_on_the_wire_is_refused_clearly(app_url, value):
    stream = _raw_call(app_url, "/wn_generate", [0.05, value, "0", None, 1.0, "fast", 0])
    assert "event: error" in stream, stream
    assert "temperature" in stream or "greater than maximum value" in stream, stream
    assert "Traceback" not in stream

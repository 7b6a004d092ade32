"""The Pitch contour page's views, without gradio: the bundled model follows a curve (its
tracked pitch moves with the curve), presets and drawings, the exact tone, and training."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import soundfile
import torch

from playground.core.pitch import preset, track_pitch
from playground.views.base import Context
from playground.views.wavenet_pitch import PitchViews


@pytest.fixture(scope="module")
def views(data):
    return PitchViews(Context(device=torch.device("cpu"), data=data))


def _drawing(rows: list[int]) -> dict:
    """A Sketchpad value: white 600 x 200 RGBA with a black stroke through the given rows (left to right)."""
    image = np.full((200, 600, 4), 255, np.uint8)
    for x in range(20, 580):
        row = int(np.interp(x, np.linspace(20, 579, len(rows)), rows))
        image[row - 3 : row + 3, x, :3] = 0
    return {"background": None, "layers": [], "composite": image}


def test_the_bundled_model_follows_the_curve_up_and_down(views, one_thread):
    session = views.session(None)
    heard = {}
    for hz in (220.0, 440.0):
        y = torch.full((1, 50), hz)
        *_, codes = session.model.generate(1, 50 * 80, y, generator=torch.Generator().manual_seed(0), chunk=480_000)
        from models.mu_law import mu_law_decode

        heard[hz] = np.nanmedian(track_pitch(mu_law_decode(codes[0]).numpy(), 50)[5:])
    assert 1.6 < heard[440.0] / heard[220.0] < 2.5, heard  # an octave apart, as asked


def test_generate_streams_then_returns_audio_the_curve_and_the_error_in_cents(views, one_thread):
    steps = list(views.generate(views.session(None), "preset", "glide up", None, 0.4, 1.0, 3, progress=lambda *a: None))
    path, figure, status = steps[-1]
    wave, rate = soundfile.read(path)
    assert rate == 8000 and len(wave) == 40 * 80 and "cents" in status and "samples/s" in status and "real-time factor" in status
    assert [trace.name for trace in figure.data] == ["the curve to follow", "exact tone (tracked)", "WaveNet (tracked)"]
    assert all(step[0] is None for step in steps[:-1])


def test_a_drawing_is_the_curve_and_bad_values_are_refused(views):
    low_to_high = views.contour("my drawing", None, _drawing([180, 20]), 1.0)
    assert low_to_high.shape == (100,) and low_to_high[0] < 150 and low_to_high[-1] > 700
    path, figure, text = views.preview("my drawing", None, _drawing([100, 100]), 0.5)
    assert soundfile.info(path).frames == 50 * 80 and "tracker" in text
    assert np.allclose(views.contour("preset", "vibrato", None, 2.0), preset("vibrato", 2.0))
    for args, message in (
        (("my drawing", None, None, 1.0), "draw a pitch curve"), (("my drawing", None, {"composite": np.full((200, 600, 4), 255, np.uint8)}, 1.0), "draw a pitch curve"),
        (("preset", "trill", None, 1.0), "preset must be one of"), (("preset", "melody", None, 9.0), "seconds"), (("hum", None, None, 1.0), "must come from"),
    ):
        with pytest.raises(ValueError, match=message):
            views.contour(*args)
    with pytest.raises(ValueError, match="temperature"):
        list(views.generate(views.session(None), "preset", "melody", None, 1.0, 0.0))


def test_training_replaces_the_model_and_a_stop_keeps_the_bundled_one(views, one_thread):
    session = views.session(None)
    run = list(views.train(session, 20, 1e-3, True, 0, stop=threading.Event()))
    assert run[-1][0].startswith("**done**") and session.name == "trained here (20 steps, seed 0)" and session.model is not views.bundled
    stop = threading.Event()
    stop.set()
    fresh = views.session(None)
    assert list(views.train(fresh, 500, 1e-3, False, 0, stop=stop))[-1][0].startswith("**stopped**")
    with pytest.raises(ValueError, match="true or false"):
        list(views.train(fresh, 20, 1e-3, "yes", 0, stop=stop))
    assert views.restore(session).model is views.bundled

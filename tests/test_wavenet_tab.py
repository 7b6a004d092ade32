"""WaveNet tab handlers, called directly (no browser): outputs, limits and isolation."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import soundfile
import torch

from models import WaveNet
from models.base import seeded_init
from playground.core.sessions import SessionRegistry
from playground.ui.tabs import wavenet as wn
from playground.ui.legacy import AppContext


@pytest.fixture(scope="module")
def tab(data):
    return wn.WaveNetTab(AppContext(torch.device("cpu"), data, SessionRegistry()))


def _request(name="alice"):
    return SimpleNamespace(session_hash=name)


def _small(conditional=True) -> wn.WnSession:
    model = seeded_init(WaveNet, 0, n_classes=10 if conditional else 0, residual_channels=4, skip_channels=8, dilations=[1, 2, 4])
    return wn.WnSession(wn.WnView(model.eval(), "small"))


def _wav(path) -> tuple[np.ndarray, int]:
    data, rate = soundfile.read(path, dtype="float32")
    return data, rate


def _last(gen):
    out = None
    for out in gen:
        pass
    return out


def _train(tab, state=None, request=None, **overrides):
    settings = dict(source="synthetic notes", clip=None, channels=4, layers=2, stacks=1, conditional=True, every=25, steps=50, lr=3e-3, seed=0)
    settings.update(overrides)
    return list(tab.train(state, request=request or _request(), **settings))


def test_the_bundled_wavenet_plays_a_scale_on_open(tab):
    session = tab.session(None)
    model = session.view.model
    assert isinstance(model, WaveNet) and model.conditional and model.n_classes == 10
    assert model.receptive_field >= 1024 and session.view.name == "bundled `wavenet`"
    path, spectrogram, note = tab.scale(None, 0)
    wave, rate = _wav(path)
    assert rate == 8000 and len(wave) == 8 * 2000 + 7 * 400  # eight notes of 0.25 s, 50 ms apart
    assert np.abs(wave).max() > 0.05
    assert spectrogram.data[0].type == "heatmap"
    assert note.count("✓") >= 6  # the shipped model plays the asked-for pitches
    assert "receptive field **1,024 samples = 128 ms**" in session.view.describe()


def test_generate_streams_progress_and_ends_with_a_playable_clip(tab):
    session = _small()
    outputs = list(tab.generate(session, 0.1, 1.0, "3", None, 1.0, "fast", 0))
    path, wave_fig, spec_fig, status = outputs[-1]
    wave, rate = _wav(path)
    assert rate == 8000 and len(wave) == 800
    assert "samples/s" in status and "real-time factor" in status and "E4" not in status and "F4" in status
    assert wave_fig.data[0].type == "scatter" and spec_fig.data[0].type == "heatmap"
    again = _last(tab.generate(session, 0.1, 1.0, "3", None, 1.0, "fast", 0))
    assert np.array_equal(_wav(again[0])[0], wave)  # seeded


def test_generate_continues_a_primed_clip(tab, tmp_path):
    session = _small()
    clip = tmp_path / "prime.wav"
    soundfile.write(clip, 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32), 16000)
    path, wave_fig, _, status = _last(tab.generate(session, 0.05, 1.0, "0", str(clip), 0.5, "fast", 0))
    wave, _ = _wav(path)
    assert len(wave) == 4000 + 400  # 0.5 s of the clip, then 0.05 s generated
    assert "Continued the last 0.50 s of your clip" in status and "resampled from 16 kHz" in status
    assert any("your clip ends" in (a.text or "") for a in wave_fig.layout.annotations)


def test_naive_and_fast_race_to_identical_samples(tab):
    text = tab.race(_small(), 0.02, "1", 0)
    assert "**identical** ✓" in text and "faster" in text


@pytest.mark.parametrize(
    "args, message",
    [
        (dict(seconds=0), "seconds"),
        (dict(seconds=float("nan")), "seconds"),
        (dict(seconds=11), "seconds"),
        (dict(seconds=1.0, method="naive"), "seconds"),
        (dict(temperature=0), "temperature"),
        (dict(temperature=float("inf")), "temperature"),
        (dict(label="10"), "class"),
        (dict(label="none"), "conditional"),
        (dict(label=None), "conditional"),
        (dict(method="turbo"), "generator"),
        (dict(prime_seconds=3), "priming"),
        (dict(seed=-1), "seed"),
    ],
)
def test_generate_refuses_bad_values_with_a_readable_error(tab, args, message):
    settings = {**dict(seconds=0.05, temperature=1.0, label="0", prime=None, prime_seconds=1.0, method="fast", seed=0), **args}
    with pytest.raises(gr.Error, match=message):
        _last(tab.generate(_small(), **settings))


def test_an_unconditional_model_takes_no_class(tab):
    session = _small(conditional=False)
    with pytest.raises(gr.Error, match="unconditional"):
        _last(tab.generate(session, 0.05, 1.0, "2", None, 1.0, "fast", 0))
    path, *_ = _last(tab.generate(session, 0.05, 1.0, "none", None, 1.0, "fast", 0))
    assert len(_wav(path)[0]) == 400


@pytest.mark.parametrize("content", [b"", b"not audio at all", b"RIFF\x00\x00\x00\x00WAVEfmt "])
def test_a_corrupt_priming_clip_is_refused_and_the_session_kept(tab, tmp_path, content):
    session = _small()
    before = session.view
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    with pytest.raises(gr.Error) as err:
        _last(tab.generate(session, 0.05, 1.0, "0", str(bad), 1.0, "fast", 0))
    assert "Traceback" not in str(err.value) and session.view is before


def test_mu_law_beats_linear_quantisation_on_quiet_sounds(tab):
    original, linear, mu, note = tab.mu_law("0", None, -40, 0)
    a, rate = _wav(original)
    b, _ = _wav(linear)
    c, _ = _wav(mu)
    assert rate == 8000 and len(a) == len(b) == len(c) == 16000
    snr = lambda clean, noisy: 10 * np.log10(np.mean(clean**2) / np.mean((clean - noisy) ** 2))  # noqa: E731
    assert snr(a, c) > snr(a, b) + 15  # mu-law keeps about 35 dB at -40 dBFS; 8-bit linear far less
    assert "mu-law 8-bit" in note
    with pytest.raises(gr.Error, match="level"):
        tab.mu_law("0", None, 5, 0)


def test_the_receptive_field_formula_matches_the_gradient_probe(tab):
    fig, text = tab.receptive_field(None, 10, 1, 2, 8000)
    assert "**1,024 samples = 128.0 ms**" in text and "finds **1,024** inputs" in text and "✓" in text
    fig, text = tab.receptive_field(None, 4, 3, 3, 16000)
    field = 1 + 2 * 3 * (1 + 2 + 4 + 8)
    assert f"**{field} samples" in text and f"finds **{field}** inputs" in text
    assert len(fig.data) == 3
    fig, text = tab.receptive_field(None, 4, 1, 3, 8000, "1, 3, 9, 27")  # powers of 3 with 3 taps: no gaps, no overlaps
    assert "**81 samples" in text and "finds **81** inputs" in text
    for bad in ("1, x", "0", "5000", "1 " * 65):
        with pytest.raises(gr.Error):
            tab.receptive_field(None, 4, 1, 3, 8000, bad)
    for bad in (dict(layers=13), dict(stacks=0), dict(kernel_size=5), dict(rate=999)):
        settings = {**dict(layers=4, stacks=1, kernel_size=2, rate=8000), **bad}
        with pytest.raises(gr.Error):
            tab.receptive_field(None, **settings)


def test_training_on_the_synthetic_notes_replaces_only_this_sessions_model(tab):
    alice = _small()
    outputs = _train(tab, state=alice, request=_request("alice"))
    session, status, curves, snippet, note = outputs[-1]
    assert session is alice and session.view.name.startswith("trained here")
    assert "bits per sample" in status and "done" in status
    assert session.view.model.residual_channels == 4 and session.view.model.n_layers == 2
    assert any(trace.name == "test" for trace in curves.data)
    wave, rate = _wav(snippet)
    assert rate == 8000 and len(wave) == 8 * 2000 + 7 * 400 and "C4, D4" in note
    assert tab.session(None).view.name == "bundled `wavenet`"  # another session still has the bundled model


def test_training_on_my_clip_makes_an_unconditional_model(tab, tmp_path):
    clip = tmp_path / "mine.flac"
    t = np.arange(3 * 22050) / 22050
    soundfile.write(clip, np.stack([0.4 * np.sin(2 * np.pi * 330 * t)] * 2, 1).astype(np.float32), 22050)
    session, status, *_ = _train(tab, state=_small(), source="my clip", clip=str(clip), steps=50)[-1]
    assert not session.view.model.conditional and "done" in status
    with pytest.raises(gr.Error, match="no audio"):
        _train(tab, state=_small(), source="my clip", clip=None)


@pytest.mark.parametrize(
    "bad",
    [dict(source="radio"), dict(channels=3), dict(channels=65), dict(layers=13), dict(stacks=4), dict(every=10), dict(steps=10),
     dict(lr=float("nan")), dict(lr=1.0), dict(seed=2**31), dict(conditional="yes")],
)
def test_training_refuses_bad_settings(tab, bad):
    state = _small()
    before = state.view
    with pytest.raises(gr.Error):
        _train(tab, state=state, **bad)
    assert state.view is before


def test_stop_ends_a_run_and_keeps_the_weights(tab):
    state = _small()
    run = tab.train(state, "synthetic notes", None, 4, 2, 1, True, 25, 5000, 3e-3, 0, _request("stopper"))
    next(run)
    assert tab.stop(_request("stopper")) == "Stopping…"
    outputs = list(run)
    assert "stopped" in outputs[-1][1] and state.view.name.startswith("trained here")
    assert tab.stop(_request("stopper")) == "Nothing is training."


def test_load_download_and_upload_round_trip(tab):
    session, info, classes = tab.load(None, "wavenet", "")
    assert "WaveNet" in info and classes["value"] == "0"
    path = tab.download(_small(conditional=False))
    loaded, info, classes = tab.load_zip(None, path)
    assert not loaded.view.model.conditional and classes["value"] == wn.NO_CLASS
    with pytest.raises(gr.Error, match="wavenet"):
        tab.load(None, "vae", "")

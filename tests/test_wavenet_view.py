"""The WaveNet's views, called directly (no gradio): outputs, limits and isolation."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest
import soundfile
import torch

from models import WaveNet
from models.base import seeded_init
from playground.views.base import Context
from playground.views.wavenet import CARD, NO_CLASS, TOUR, WnSession, WnView, WnViews
from playground.views.wavenet_lessons import DIAGRAM_PX, ROW_PX

# Clips are generated sample by sample: one thread (see conftest.single_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def views(data):
    return WnViews(Context(torch.device("cpu"), data))


def _small(views, conditional=True) -> WnSession:
    model = seeded_init(WaveNet, 0, n_classes=10 if conditional else 0, residual_channels=4, skip_channels=8, dilations=[1, 2, 4])
    return WnSession({"wavenet": WnView(model, "small", views.ctx)})


def _wav(path) -> tuple[np.ndarray, int]:
    data, rate = soundfile.read(path, dtype="float32")
    return data, rate


def _last(gen):
    out = None
    for out in gen:
        pass
    return out


def _train(views, session, stop=None, **overrides):
    settings = dict(source="synthetic notes", clip=None, channels=4, layers=2, stacks=1, conditional=True, every=25, steps=50, lr=3e-3, seed=0)
    settings.update(overrides)
    return list(views.train(session, **settings, stop=stop or threading.Event()))


def test_the_bundled_wavenet_plays_a_scale_on_open(views):
    session = views.session(None)
    model = session.view.model
    assert isinstance(model, WaveNet) and model.conditional and model.n_classes == 10
    assert model.receptive_field >= 1024 and session.view.name == "bundled `wavenet`"
    path, spectrogram, note = views.scale(None, 0)
    wave, rate = _wav(path)
    assert rate == 8000 and len(wave) == 8 * 2000 + 7 * 400  # eight notes of 0.25 s, 50 ms apart
    assert np.abs(wave).max() > 0.05
    assert spectrogram.data[0].type == "heatmap"
    assert note.count("✓") >= 6  # the shipped model plays the asked-for pitches
    assert "receptive field **1,024 samples = 128 ms**" in views.describe(session)
    with pytest.raises(ValueError, match="seed"):
        views.scale(None, -1)


def test_an_unconditional_model_plays_one_clip_instead_of_a_scale(views):
    path, _, note = views.scale(_small(views, conditional=False), 0)
    assert len(_wav(path)[0]) == 2 * 8000 and "2 s generated" in note


def test_generate_streams_progress_and_ends_with_a_playable_clip(views):
    session = _small(views)
    reports = []
    outputs = list(views.generate(session, 0.1, 1.0, "3", None, 1.0, "fast", 0, progress=lambda f, text: reports.append((f, text))))
    path, wave_fig, spec_fig, status = outputs[-1]
    wave, rate = _wav(path)
    assert rate == 8000 and len(wave) == 800
    assert "samples/s" in status and "real-time factor" in status and "E4" not in status and "F4" in status
    assert wave_fig.data[0].type == "scatter" and spec_fig.data[0].type == "heatmap"
    assert all(out[0] is None and out[2] is None for out in outputs[:-1])  # the clip and spectrogram come at the end
    fractions = [f for f, _ in reports]
    assert fractions[0] == 0 and fractions[-1] == 1 and fractions == sorted(fractions) and reports[-1][1] == "800 / 800 samples"
    again = _last(views.generate(session, 0.1, 1.0, "3", None, 1.0, "fast", 0))
    assert np.array_equal(_wav(again[0])[0], wave)  # seeded


def test_generate_continues_a_primed_clip(views, tmp_path):
    session = _small(views)
    clip = tmp_path / "prime.wav"
    soundfile.write(clip, 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32), 16000)
    path, wave_fig, _, status = _last(views.generate(session, 0.05, 1.0, "0", str(clip), 0.5, "fast", 0))
    wave, _ = _wav(path)
    assert len(wave) == 4000 + 400  # 0.5 s of the clip, then 0.05 s generated
    assert "Continued the last 0.50 s of your clip" in status and "resampled from 16 kHz" in status
    assert any("your clip ends" in (a.text or "") for a in wave_fig.layout.annotations)


def test_naive_and_fast_race_to_identical_samples(views):
    text = views.race(_small(views), 0.02, "1", 0)
    assert "**identical** ✓" in text and "faster" in text
    with pytest.raises(ValueError, match="seconds"):
        views.race(None, 5.0, "0", 0)


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
def test_generate_refuses_bad_values_with_a_readable_error(views, args, message):
    settings = {**dict(seconds=0.05, temperature=1.0, label="0", prime=None, prime_seconds=1.0, method="fast", seed=0), **args}
    with pytest.raises(ValueError, match=message):
        _last(views.generate(_small(views), **settings))


def test_an_unconditional_model_takes_no_class(views):
    session = _small(views, conditional=False)
    assert views.classes(session) == ([("none (unconditional model)", NO_CLASS)], NO_CLASS)
    with pytest.raises(ValueError, match="unconditional"):
        _last(views.generate(session, 0.05, 1.0, "2", None, 1.0, "fast", 0))
    path, *_ = _last(views.generate(session, 0.05, 1.0, "none", None, 1.0, "fast", 0))
    assert len(_wav(path)[0]) == 400


@pytest.mark.parametrize("content", [b"", b"not audio at all", b"RIFF\x00\x00\x00\x00WAVEfmt "])
def test_a_corrupt_priming_clip_is_refused_and_the_session_kept(views, tmp_path, content):
    session = _small(views)
    before = session.view
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    with pytest.raises(ValueError) as err:
        _last(views.generate(session, 0.05, 1.0, "0", str(bad), 1.0, "fast", 0))
    assert "Traceback" not in str(err.value) and session.view is before


def test_mu_law_beats_linear_quantisation_on_quiet_sounds(views):
    original, linear, mu, note = views.mu_law("0", None, -40, 0)
    a, rate = _wav(original)
    b, _ = _wav(linear)
    c, _ = _wav(mu)
    assert rate == 8000 and len(a) == len(b) == len(c) == 16000
    snr = lambda clean, noisy: 10 * np.log10(np.mean(clean**2) / np.mean((clean - noisy) ** 2))
    assert snr(a, c) > snr(a, b) + 15  # mu-law keeps about 35 dB at -40 dBFS; 8-bit linear far less
    assert "mu-law 8-bit" in note
    for args, match in ((("0", None, 5, 0), "level"), (("10", None, -30, 0), "class"), (("0", None, -30, -1), "seed")):
        with pytest.raises(ValueError, match=match):
            views.mu_law(*args)


def test_the_receptive_field_formula_matches_the_gradient_probe(views):
    fig, text = views.receptive_field(None, 10, 1, 2, 8000)
    assert "**1,024 samples = 128.0 ms**" in text and "finds **1,024** inputs" in text and "✓" in text
    assert "Your loaded model: 1,024 samples = 128 ms" in text
    fig, text = views.receptive_field(None, 4, 3, 3, 16000)
    field = 1 + 2 * 3 * (1 + 2 + 4 + 8)
    assert f"**{field} samples" in text and f"finds **{field}** inputs" in text
    assert len(fig.data) == 3
    fig, text = views.receptive_field(None, 4, 1, 3, 8000, "1, 3, 9, 27")  # powers of 3 with 3 taps: no gaps, no overlaps
    assert "**81 samples" in text and "finds **81** inputs" in text
    assert "Your loaded model: 8 samples" in views.receptive_field(_small(views), 4, 1, 2, 8000)[1]
    for bad in ("1, x", "0", "5000", "1 " * 65):
        with pytest.raises(ValueError):
            views.receptive_field(None, 4, 1, 3, 8000, bad)
    for bad in (dict(layers=13), dict(stacks=0), dict(kernel_size=5), dict(rate=999)):
        settings = {**dict(layers=4, stacks=1, kernel_size=2, rate=8000), **bad}
        with pytest.raises(ValueError):
            views.receptive_field(None, **settings)


def test_the_dilation_diagram_fits_a_projector_up_to_the_bundled_depth(views):
    for layers in (1, 6, 10):
        fig, _ = views.receptive_field(None, layers, 1, 2, 8000)
        assert fig.layout.height <= DIAGRAM_PX
    deep, _ = views.receptive_field(None, 4, 1, 2, 8000, ", ".join(["1"] * 40))  # deeper stacks grow instead of squashing their rows
    assert deep.layout.height >= ROW_PX * 41 + 80


def test_the_card_and_the_tour_say_what_each_step_shows(views):
    assert CARD.tab == "wn-scale" and 0 < CARD.seconds < 5 and "8 kHz" in CARD.teaches
    assert 3 <= len(TOUR) <= 5
    for step in TOUR:
        assert len(step.title) <= 30 and step.text.count(". ") <= 1 and len(f"{step.title}. {step.text}") <= 180, step.title
    mu_law, field = TOUR[1].values, TOUR[2].values
    snr = [float(x) for x in re.findall(r"8-bit \*\*(-?[\d.]+) dB", views.mu_law(mu_law["m_label"], None, mu_law["m_level"], mu_law["m_seed"])[3])]
    assert snr[1] > snr[0] + 20  # "linear: a harsh buzz, mu-law: clean"
    _, text = views.receptive_field(None, field["r_layers"], field["r_stacks"], field["r_kernel"], field["r_rate"], field["r_custom"])
    assert "**1,024 samples = 128.0 ms**" in text and "would see 11 samples" in text


def test_the_thumbnail_is_the_scale_of_seed_0(views):
    path = views.thumbnail(None)
    assert path.endswith(".wav") and np.array_equal(_wav(path)[0], _wav(views.scale(None, 0)[0])[0])


def test_training_on_the_synthetic_notes_replaces_only_this_sessions_model(views):
    alice = _small(views)
    outputs = _train(views, alice)
    assert outputs[0][0].startswith("Starting on the synthetic notes") and outputs[0][1:] == (None, None, None)
    status, curves, snippet, note = outputs[-1]
    assert alice.view.name == "trained here (50 steps on synthetic-notes, seed 0)"
    assert "bits per sample" in status and "done" in status and "Test NLL" in status
    assert alice.view.model.residual_channels == 4 and alice.view.model.n_layers == 2
    assert any(trace.name == "test" for trace in curves.data)
    wave, rate = _wav(snippet)
    assert rate == 8000 and len(wave) == 8 * 2000 + 7 * 400 and "C4, D4" in note
    assert views.session(None).view.name == "bundled `wavenet`"  # another session still has the bundled model
    assert views.classes(alice)[1] == "0"


def test_training_on_my_clip_makes_an_unconditional_model(views, tmp_path):
    clip = tmp_path / "mine.flac"
    t = np.arange(3 * 22050) / 22050
    soundfile.write(clip, np.stack([0.4 * np.sin(2 * np.pi * 330 * t)] * 2, 1).astype(np.float32), 22050)
    session = _small(views)
    outputs = _train(views, session, source="my clip", clip=str(clip), steps=50)
    assert "crops of your 3.0 s clip" in outputs[0][0] and "mixed down" in outputs[0][0]
    assert not session.view.model.conditional and "done" in outputs[-1][0]
    assert "2 clips" in outputs[-1][3]
    with pytest.raises(ValueError, match="no audio"):
        _train(views, _small(views), source="my clip", clip=None)


@pytest.mark.parametrize(
    "bad",
    [dict(source="radio"), dict(channels=3), dict(channels=65), dict(layers=13), dict(stacks=4), dict(every=10), dict(steps=10),
     dict(lr=float("nan")), dict(lr=1.0), dict(seed=2**31), dict(conditional="yes")],
)
def test_training_refuses_bad_settings(views, bad):
    state = _small(views)
    before = state.view
    with pytest.raises(ValueError):
        _train(views, state, **bad)
    assert state.view is before


def test_stop_ends_a_run_keeps_the_weights_and_names_the_steps_done(views):
    state = _small(views)
    stop = threading.Event()
    run = views.train(state, "synthetic notes", None, 4, 2, 1, True, 25, 5000, 3e-3, 0, stop=stop)
    next(run)
    stop.set()
    outputs = list(run)
    status = outputs[-1][0]
    assert "stopped" in status and "Test NLL" not in status and outputs[-1][2] is None  # no final snippet or evaluation
    assert state.view.name.startswith("trained here (") and "of 5,000 steps on synthetic-notes" in state.view.name


def test_divergence_keeps_the_previous_model(views, monkeypatch):
    def nan_step(self, x, y, optimizers, generator=None):
        nan = torch.tensor(float("nan"))
        return {"loss": nan, "nll": nan, "bits_per_sample": nan}

    monkeypatch.setattr(WaveNet, "train_step", nan_step)
    session = _small(views)
    before = session.view
    status = _train(views, session)[-1][0]
    assert "diverged" in status and "previous model is kept" in status and session.view is before


def test_load_download_and_upload_round_trip(views):
    session = views.session(None)
    assert views.load(session, "wavenet", "") == "wavenet"
    assert "WaveNet" in views.describe(session) and views.classes(session)[1] == "0"
    loaded = views.session(None)
    views.load_zip(loaded, views.download(_small(views, conditional=False)))
    assert not loaded.view.model.conditional and views.classes(loaded)[1] == NO_CLASS
    with pytest.raises(ValueError, match="wavenet"):
        views.load(loaded, "vae", "")
    assert not loaded.view.model.conditional  # kept
    views.restore(loaded)
    assert loaded.view.name == "bundled `wavenet`"

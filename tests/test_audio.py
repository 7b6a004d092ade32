"""Audio for WaveNet: the synthetic set, pitch estimation, reading the user's files
(every format, mix-down, resampling, trimming, and readable refusals), crops and WAVs."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from models.mu_law import mu_law_decode, mu_law_encode
from playground.core.audio import (
    CLASS_NAMES,
    NOTE_HZ,
    UserClip,
    clip_splits,
    dominant_frequency,
    pitch_matches,
    read_audio,
    synth_clip,
    synthetic_audio,
    to_wav,
)


def _sine(freq_hz: float, seconds: float, rate: int, amplitude: float = 0.5, channels: int = 1) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    wave = (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    return wave if channels == 1 else np.repeat(wave[:, None], channels, axis=1)


def _write(tmp_path, name: str, data: np.ndarray, rate: int, **kwargs) -> str:
    path = str(tmp_path / name)
    soundfile.write(path, data, rate, **kwargs)
    return path


# -- the synthetic set ----------------------------------------------------------------------------------
def test_synthetic_set_shapes_labels_and_description():
    data = synthetic_audio()
    assert data.train_codes.shape == (2000, 2000) and data.train_codes.dtype == torch.int64
    assert data.test_codes.shape == (200, 2000) and data.test_codes.dtype == torch.int64
    assert 0 <= int(data.train_codes.min()) and int(data.train_codes.max()) <= 255
    assert data.train_labels.dtype == torch.int64 and data.train_labels[:12].tolist() == [*range(10), 0, 1]
    assert torch.bincount(data.train_labels).tolist() == [200] * 10
    assert torch.bincount(data.test_labels).tolist() == [20] * 10
    assert data.sample_rate_hz == 8000 and data.class_names == CLASS_NAMES and len(CLASS_NAMES) == 10
    assert data.inputs("train") is data.train_codes and data.inputs("test", "audio") is data.test_codes
    assert data.labels("test") is data.test_labels
    assert data.describe() == "synthetic-notes: 2,000 train / 200 test clips of 0.25 s at 8 kHz"
    with pytest.raises(ValueError, match="kind audio"):
        data.inputs("train", "binary")
    with pytest.raises(ValueError, match="split"):
        data.inputs("validation")


def test_synthetic_set_is_deterministic_and_depends_on_the_seed():
    build = synthetic_audio.__wrapped__  # past the cache: really rebuilt
    a, b, c = build(20, 10, seed=0), build(20, 10, seed=0), build(20, 10, seed=1)
    assert torch.equal(a.train_codes, b.train_codes) and torch.equal(a.test_codes, b.test_codes)
    assert not torch.equal(a.train_codes, c.train_codes)
    # the clips are drawn in order from one stream: the small set is a prefix of the full one
    assert torch.equal(a.train_codes, synthetic_audio().train_codes[:20])


def test_the_notes_play_at_their_pitch():
    data = synthetic_audio()
    waves = mu_law_decode(data.test_codes)
    notes = [i for i, c in enumerate(data.test_labels.tolist()) if c < 8]
    assert len(notes) == 160
    for i in notes:
        target = NOTE_HZ[int(data.test_labels[i])]
        assert pitch_matches(dominant_frequency(waves[i]), target), (i, target)


def test_synth_clip_range_every_class_and_refusal():
    rng = np.random.default_rng(3)
    for label in range(10):
        clip = synth_clip(label, rng)
        assert clip.shape == (2000,) and clip.dtype == np.float32
        assert 0.3 - 1e-6 <= np.abs(clip).max() <= 0.9 + 1e-6
    with pytest.raises(ValueError, match="class must be in"):
        synth_clip(10, rng)


# -- pitch -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("freq_hz", [100.0, 261.63, 441.7, 1234.5, 3000.0])
def test_dominant_frequency_of_a_pure_sine(freq_hz):
    wave = _sine(freq_hz, 0.25, 8000)
    assert dominant_frequency(wave) == pytest.approx(freq_hz, rel=0.003)
    assert dominant_frequency(torch.from_numpy(wave)) == pytest.approx(freq_hz, rel=0.003)


def test_dominant_frequency_ignores_hum_below_the_cut_and_refuses_short_input():
    wave = _sine(30.0, 0.5, 8000, amplitude=0.9) + _sine(500.0, 0.5, 8000, amplitude=0.2)
    assert dominant_frequency(wave) == pytest.approx(500.0, rel=0.003)
    assert dominant_frequency(_sine(440.0, 0.25, 16000), rate=16000) == pytest.approx(440.0, rel=0.003)
    with pytest.raises(ValueError, match="at least 16 samples"):
        dominant_frequency(np.zeros(10))
    with pytest.raises(ValueError, match="1-D"):
        dominant_frequency(np.zeros((2, 100)))


def test_pitch_matches_within_three_percent():
    assert pitch_matches(440.0, 440.0) and pitch_matches(453.0, 440.0) and pitch_matches(427.0, 440.0)
    assert not pitch_matches(454.0, 440.0) and not pitch_matches(426.0, 440.0)
    assert not pitch_matches(466.16, 440.0)  # a semitone up
    assert pitch_matches(466.16, 440.0, tolerance=0.06)


# -- reading the user's files -------------------------------------------------------------------------
def test_a_mono_8_khz_wav_round_trips(tmp_path):
    wave = _sine(440.0, 0.5, 8000)
    clip = read_audio(_write(tmp_path, "a.wav", wave, 8000))
    assert isinstance(clip, UserClip) and clip.notes == ()
    assert clip.sample_rate_hz == 8000 and clip.wave.dtype == np.float32 and clip.seconds == 0.5
    assert np.abs(clip.wave - wave).max() <= 1 / 32768
    assert torch.equal(clip.codes(), mu_law_encode(torch.from_numpy(clip.wave)))


def test_stereo_44_khz_is_mixed_down_and_resampled(tmp_path):
    left = _sine(440.0, 1.0, 44100, amplitude=0.6)
    stereo = np.stack([left, 0.5 * left], axis=1)
    clip = read_audio(_write(tmp_path, "s.wav", stereo, 44100))
    assert any("2 channels mixed down" in note for note in clip.notes)
    assert any("resampled from 44.1 kHz to 8 kHz" in note for note in clip.notes)
    assert abs(len(clip.wave) - 8000) <= 1
    assert dominant_frequency(clip.wave) == pytest.approx(440.0, rel=0.005)
    assert np.abs(clip.wave[400:-400]).max() == pytest.approx(0.45, abs=0.01)  # the mean of the channels


def test_eight_channels_are_mixed_down(tmp_path):
    clip = read_audio(_write(tmp_path, "m.wav", _sine(330.0, 0.3, 8000, channels=8), 8000))
    assert clip.notes == ("8 channels mixed down to mono",)
    assert dominant_frequency(clip.wave) == pytest.approx(330.0, rel=0.005)


def test_a_192_khz_file_is_resampled(tmp_path):
    clip = read_audio(_write(tmp_path, "h.wav", _sine(1000.0, 0.5, 192000), 192000, subtype="PCM_24"))
    assert clip.notes == ("resampled from 192 kHz to 8 kHz",)
    assert abs(len(clip.wave) - 4000) <= 1
    assert dominant_frequency(clip.wave) == pytest.approx(1000.0, rel=0.005)


def test_a_clip_can_be_read_at_another_model_rate(tmp_path):
    clip = read_audio(_write(tmp_path, "a.wav", _sine(440.0, 0.5, 8000), 8000), sample_rate_hz=16000)
    assert clip.sample_rate_hz == 16000 and abs(len(clip.wave) - 8000) <= 1 and clip.seconds == pytest.approx(0.5, abs=1e-3)


def test_a_long_file_is_trimmed_to_max_seconds(tmp_path):
    path = _write(tmp_path, "long.wav", _sine(200.0, 40.0, 8000), 8000)
    clip = read_audio(path)
    assert len(clip.wave) == 30 * 8000 and clip.notes == ("trimmed to the first 30 s",)
    short = read_audio(path, max_seconds=2.5)
    assert len(short.wave) == 20000 and short.notes == ("trimmed to the first 2.5 s",)


def test_a_clipped_file_gets_a_note(tmp_path):
    loud = np.clip(_sine(220.0, 0.5, 8000, amplitude=3.0), -1, 1)
    clip = read_audio(_write(tmp_path, "c.wav", loud, 8000))
    assert len(clip.notes) == 1 and "clipped" in clip.notes[0]
    quiet = read_audio(_write(tmp_path, "q.wav", _sine(220.0, 0.5, 8000, amplitude=0.9), 8000))
    assert quiet.notes == ()


@pytest.mark.parametrize(
    "fmt,subtype,tolerance", [("FLAC", None, 1 / 32768), ("OGG", None, None), ("OGG", "OPUS", None), ("MP3", None, None)]
)
def test_flac_ogg_opus_and_mp3_are_read(tmp_path, fmt, subtype, tolerance):
    wave = _sine(523.25, 0.5, 8000)
    clip = read_audio(_write(tmp_path, f"x.{(subtype or fmt).lower()}", wave, 8000, format=fmt, subtype=subtype))
    assert clip.notes == () and abs(len(clip.wave) - 4000) <= 1
    assert dominant_frequency(clip.wave) == pytest.approx(523.25, rel=0.005)
    if tolerance is not None:  # lossless
        assert np.abs(clip.wave - wave).max() <= tolerance


def _truncated_header(tmp_path):
    path = _write(tmp_path, "full.wav", _sine(440.0, 0.5, 8000), 8000)
    with open(path, "rb") as f:
        head = f.read(20)
    (tmp_path / "cut.wav").write_bytes(head)
    return str(tmp_path / "cut.wav")


def _text_as_wav(tmp_path):
    (tmp_path / "notes.wav").write_text("these are my lecture notes, not audio\n" * 20)
    return str(tmp_path / "notes.wav")


def _random_bytes(tmp_path):
    (tmp_path / "noise.wav").write_bytes(np.random.default_rng(0).bytes(5000))
    return str(tmp_path / "noise.wav")


def _nan_samples(tmp_path):
    wave = _sine(440.0, 0.5, 8000)
    wave[100] = np.nan
    return _write(tmp_path, "nan.wav", wave, 8000, subtype="FLOAT")


@pytest.mark.parametrize(
    "make,word",
    [
        (lambda tmp: None, "no audio was given"),
        (lambda tmp: "", "no audio was given"),
        (lambda tmp: str(tmp / "missing.wav"), "cannot be read"),
        (lambda tmp: _write(tmp, "empty.wav", np.zeros(0, dtype=np.float32), 8000), "no samples"),
        (lambda tmp: _write(tmp, "one.wav", np.array([0.5], dtype=np.float32), 8000), "give at least 50 ms"),
        (lambda tmp: _write(tmp, "short.wav", _sine(440.0, 0.02, 8000), 8000), "give at least 50 ms"),
        (lambda tmp: _write(tmp, "silent.wav", np.zeros(8000, dtype=np.float32), 8000), "silent"),
        (lambda tmp: _write(tmp, "hiss.wav", _sine(440.0, 0.5, 8000, amplitude=5e-4), 8000), "silent"),
        (_text_as_wav, "not an audio file"),
        (_random_bytes, "not an audio file"),
        (_truncated_header, "not an audio file"),
        (_nan_samples, "NaN"),
        (lambda tmp: _write(tmp, "slow.wav", _sine(100.0, 1.0, 500), 500), "sample rate is 500 Hz"),
    ],
    ids=[
        "none", "empty-path", "missing", "zero-frames", "one-sample", "20-ms", "silent", "below-60-dBFS", "text", "random-bytes",
        "truncated-header", "nan", "rate-500-hz",
    ],
)
def test_bad_files_are_refused_with_a_readable_error(tmp_path, make, word):
    with pytest.raises(ValueError) as info:
        read_audio(make(tmp_path))
    assert word in str(info.value)
    assert "Traceback" not in str(info.value) and len(str(info.value)) < 200


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not an audio file"):
        read_audio(tmp_path)


# -- crops and WAVs ---------------------------------------------------------------------------------------
def test_clip_splits_keeps_the_test_crops_out_of_the_training_part():
    # positive for the first 90% of 3 s, negative after: every crop tells where it came from
    rate = 8000
    wave = np.abs(_sine(300.0, 3.0, rate)) + 0.05
    wave[int(0.9 * len(wave)) :] *= -1
    splits = clip_splits(UserClip(wave=wave.astype(np.float32), sample_rate_hz=rate), n_train=40, n_test=8)
    assert splits.train_codes.shape == (40, 2000) and splits.test_codes.shape == (8, 2000)
    assert splits.train_labels.tolist() == [0] * 40 and splits.test_labels.tolist() == [0] * 8
    assert splits.train_codes.dtype == splits.train_labels.dtype == torch.int64
    assert splits.note == "" and splits.class_names == ("your clip",) and splits.name == "upload"
    assert int(splits.train_codes.min()) >= 128 and int(splits.test_codes.max()) < 128
    assert len({tuple(c[:20].tolist()) for c in splits.train_codes}) > 1  # random crops, not one
    again = clip_splits(UserClip(wave=wave.astype(np.float32), sample_rate_hz=rate), n_train=40, n_test=8)
    assert torch.equal(again.train_codes, splits.train_codes)  # seeded


def test_clip_splits_of_a_short_clip_overlaps_and_says_so():
    clip = UserClip(wave=_sine(300.0, 1.0, 8000), sample_rate_hz=8000)
    splits = clip_splits(clip, n_train=4, n_test=2)
    assert splits.test_codes.shape == (2, 2000) and "overlap" in splits.note
    assert "overlap" in splits.describe()
    with pytest.raises(ValueError, match="training needs at least 0.25 s"):
        clip_splits(UserClip(wave=_sine(300.0, 0.2, 8000), sample_rate_hz=8000))


def test_to_wav_writes_16_bit_pcm_that_reads_back(tmp_path):
    wave = _sine(440.0, 0.3, 8000, amplitude=0.8)
    wave[:5] = [1.5, -1.5, 1.0, -1.0, 0.0]  # outside [-1, 1]: clipped, not wrapped
    path = to_wav(torch.from_numpy(wave), 8000, tmp_path / "out.wav")
    assert path == str(tmp_path / "out.wav")
    info = soundfile.info(path)
    assert info.samplerate == 8000 and info.frames == len(wave) and info.subtype == "PCM_16" and info.channels == 1
    back, rate = soundfile.read(path, dtype="float32")
    assert np.abs(back - np.clip(wave, -1, 1)).max() <= 1 / 32768
    assert back[0] > 0.999 and back[1] == -1.0
    clip = read_audio(path)
    assert len(clip.wave) == len(wave) and dominant_frequency(clip.wave) == pytest.approx(440.0, rel=0.005)

"""The Parallel WaveNet and Moving digits pages' views, without gradio: one-pass generation,
the race and the teacher's figures; a continued clip of moving digits and its NLL per frame;
training that replaces the model; bad values refused."""

from __future__ import annotations

import threading

import pytest
import soundfile
import torch

from playground.views.base import Context
from playground.views.moving_digits import MDViews
from playground.views.parallel_wavenet import PWViews


@pytest.fixture(scope="module")
def pw(data):
    return PWViews(Context(device=torch.device("cpu"), data=data))


@pytest.fixture(scope="module")
def md(data):
    return MDViews(Context(device=torch.device("cpu"), data=data))


def test_one_pass_generation_and_the_race(pw, one_thread):
    session = pw.session(None)
    path, spectrogram, status = pw.generate(session, "5", 0.5, 1.0, 2)
    assert soundfile.info(path).frames == 4000 and "one pass" in status and "teacher's log-likelihood" in status
    table = pw.race(session, "0", 0.1, 1)
    assert "Parallel WaveNet (one pass)" in table and "fast generator" in table and "faster" in table
    speed_up = float(table.split("**The student is ")[1].split("×")[0].replace(",", ""))
    assert speed_up > 1
    assert "| real test clips |" in session.figures and "| the student's samples (bundled) |" in session.figures
    for args, message in ((("11", 0.5, 1.0, 0), "class"), (("5", 9.0, 1.0, 0), "seconds"), (("5", 0.5, 0.0, 0), "temperature")):
        with pytest.raises(ValueError, match=message):
            pw.generate(session, *args)


def test_distillation_replaces_the_student_and_stop_keeps_the_bundled_one(pw, one_thread):
    session = pw.session(None)
    run = list(pw.train(session, 20, 1e-3, 0, stop=threading.Event()))
    assert run[-1][0].startswith("**done**") and session.name == "trained here (20 steps, seed 0)" and "student's samples (trained here" in run[-1][2]
    stop = threading.Event()
    stop.set()
    assert list(pw.train(pw.session(None), 200, 1e-3, 0, stop=stop))[-1][0].startswith("**stopped**")
    assert pw.restore(session).model is pw.bundled


def test_a_clip_its_nll_per_frame_and_a_prediction(md, one_thread):
    session = md.session(None)
    picture, chart = md.show(session, 3)
    assert picture.shape[0] == 32 + 2 * 2 and list(chart.data[0].x)[0] == "frame 1" and len(chart.data[0].y) == 10
    assert "first frame" in session.figures and "later frames" in session.figures
    steps = list(md.predict(session, 3, 2, 1, 0))
    assert len(steps) == 8 and "1 of 1 frames drawn" in steps[-1][1]
    assert steps[-1][0].shape[0] == 2 * 32 + 3 * 2 and steps[-1][0].shape[1] == 3 * 32 + 4 * 2
    for args, message in (((100, 2, 1, 0), "test clip"), ((0, 9, 1, 0), "frames given"), ((0, 8, 5, 0), "at most 10")):
        with pytest.raises(ValueError, match=message):
            list(md.predict(session, *args))


def test_video_training_replaces_the_model(md, one_thread):
    session = md.session(None)
    stop = threading.Event()
    run = list(md.train(session, 20, 3e-3, 0, stop=stop))
    assert run[-1][0].startswith("**done**") and session.name.startswith("trained here") and "first frame" in run[-1][2]
    assert md.restore(session).model is md.bundled


def test_the_kept_figures_were_computed_from_the_bundled_weights():
    from playground.views import sequence_figures

    stored = sequence_figures._stored()
    for key, names in (("text", ("char-rnn", "char-transformer")), ("parallel-wavenet", ("parallel-wavenet", "wavenet")), ("vpn", ("vpn",))):
        assert stored[key]["weights"] == sequence_figures.weights_sha(names), f"assets/sequences.json is stale for {key}: run python -m playground.views.sequence_figures"
        assert "nats" in stored[key]["markdown"] or "bits per character" in stored[key]["markdown"]

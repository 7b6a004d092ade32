"""WaveNet with local conditioning on a pitch contour: causal by gradient, the same samples
from the fast and the naive generator with a time-varying conditioning, the contour's effect,
checks of bad contours, save/load, and the pitch service (contours, drawings, the tracker in cents)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.base import seeded_init
from models.wavenet_local import PitchWaveNet
from playground.core.pitch import HOP, PRESETS, cents_error, contour_from_drawing, preset, synth_from_contour, synthetic_glides, track_pitch

TINY = dict(residual_channels=4, skip_channels=6, dilations=[1, 2, 4], cond_channels=3, clip_seconds=0.02)


@pytest.fixture
def model():
    return seeded_init(PitchWaveNet, 0, **TINY).eval()


def test_output_t_does_not_depend_on_samples_at_or_after_t(model):
    x = torch.randint(0, 256, (1, 40), generator=torch.Generator().manual_seed(0))
    y = torch.full((1, 1), 300.0)
    h = model._shifted_input(x).detach().requires_grad_(True)  # position t holds x_{t-1}
    cond = model._conditioning(y, 1)
    skips = model._skips(h, cond)
    for t in (0, 7, 20, 39):
        (grad,) = torch.autograd.grad(skips[0, :, t].sum(), h, retain_graph=True)
        seen = grad.abs().sum((0, 1))
        assert float(seen[t + 1 :].sum()) == 0.0 and float(seen[t]) > 0
        assert int((seen > 0).sum()) == min(t + 1, model.receptive_field)


def test_the_contour_reaches_every_sample_through_the_transposed_convolution(model):
    x = torch.randint(0, 256, (1, 3 * HOP), generator=torch.Generator().manual_seed(1))
    y = torch.full((1, 3), 300.0, requires_grad=True)
    logits = model.logits(x, y)
    for frame in range(3):
        (grad,) = torch.autograd.grad(logits[0, :, frame * HOP + 5].sum(), y, retain_graph=True)
        assert float(grad[0, frame].abs()) > 0  # a sample is told the pitch of its own frame
    higher = model.logits(x, torch.tensor([[300.0, 600.0, 300.0]]))
    assert torch.equal(higher[..., :HOP], logits[..., :HOP].detach()) and not torch.allclose(higher[..., HOP : 2 * HOP], logits[..., HOP : 2 * HOP])


def test_fast_and_naive_generation_agree_with_a_time_varying_contour(model):
    y = torch.tensor([[150.0, 400.0, 900.0]])
    fast = list(model.generate(1, 3 * HOP, y, generator=torch.Generator().manual_seed(5), method="fast"))[-1]
    naive = list(model.generate(1, 3 * HOP, y, generator=torch.Generator().manual_seed(5), method="naive"))[-1]
    assert fast.shape == (1, 3 * HOP) and torch.equal(fast, naive)


@pytest.mark.parametrize(
    "y, message",
    [
        (None, "give one"), (torch.full((1, 3), 10.0), "in \\[50, 2000\\] Hz"), (torch.full((1, 3), float("nan")), "in \\[50"),
        (torch.full((2, 3), 300.0), "shape \\(1, frames\\)"), (torch.full((1, 3), 300, dtype=torch.int64), "must be float"), (torch.full((1, 1), 300.0), "give 3 frames"),
    ],
)
def test_bad_contours_are_refused_with_a_readable_message(model, y, message):
    with pytest.raises(ValueError, match=message):
        list(model.generate(1, 3 * HOP, y))


def test_init_from_copies_the_audio_path_of_a_wavenet():
    from models.wavenet import WaveNet

    teacher = seeded_init(WaveNet, 3, residual_channels=4, skip_channels=6, dilations=[1, 2, 4], n_classes=10)
    student = seeded_init(PitchWaveNet, 0, **TINY).init_from(teacher)
    assert torch.equal(student.dilated[2].weight, teacher.dilated[2].weight) and torch.equal(student.head[3].bias, teacher.head[3].bias)
    with pytest.raises(ValueError, match="do not match"):
        seeded_init(PitchWaveNet, 0, **dict(TINY, residual_channels=8)).init_from(teacher)


def test_save_load_round_trip_gives_the_same_weights_loss_and_samples(model, tmp_path):
    model.save_pretrained(tmp_path / "ck")
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["README.md", "config.json", "model.safetensors"]
    loaded = PitchWaveNet.from_pretrained(tmp_path / "ck").eval()
    assert loaded.config == model.config and loaded.hop == model.hop == HOP
    assert all(k == k2 and torch.equal(v, v2) for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()))
    data = synthetic_glides()
    x, y = data.test_codes[:2, : 2 * HOP], data.test_contours[:2, :2]
    assert torch.equal(model.loss(x, y)["nll"], loaded.loss(x, y)["nll"])
    contour = torch.tensor([[200.0, 300.0]])
    assert torch.equal(model.sample(1, contour, torch.Generator().manual_seed(1)), loaded.sample(1, contour, torch.Generator().manual_seed(1)))


def test_the_cli_samples_a_steady_a4_of_the_asked_length(model, tmp_path, allow_folders, capsys):
    from playground.cli import main

    model.save_pretrained(tmp_path / "ck")
    assert main(["sample", str(tmp_path / "ck"), "--n", "2", "--seconds", "0.03", "--npy", str(tmp_path / "a4.npy")]) == 0
    clips = np.load(tmp_path / "a4.npy")
    assert clips.shape == (2, 240) and np.abs(clips).max() <= 1
    assert main(["sample", str(tmp_path / "ck"), "--n", "1", "--label", "3", "--npy", str(tmp_path / "x.npy")]) != 0
    assert "--label does not apply" in capsys.readouterr().err


def test_evaluate_reports_the_test_nll_and_the_tracking_error_in_cents(model, tmp_path, allow_folders, capsys):
    import json

    from playground.cli import main

    model.save_pretrained(tmp_path / "ck")
    assert main(["evaluate", str(tmp_path / "ck")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["dataset"] == "synthetic-glides" and result["test_losses"]["nll"] > 0
    assert set(result["test_figures"]) == {"median_cents", "mean_cents", "within_50", "voiced", "clips"} and result["test_figures"]["clips"] == 16


def test_loss_falls_on_the_synthetic_tones(model, one_thread):
    data = synthetic_glides()
    x, y = data.train_codes[:8, : 4 * HOP], data.train_contours[:8, :4]
    optimizer = torch.optim.Adam(model.parameters(), 1e-2)
    with torch.no_grad():
        before = float(model.loss(x, y)["nll"])
    for _ in range(30):
        model.train_step(x, y, [optimizer])
    assert float(model.loss(x, y)["nll"]) < before - 0.5


def test_the_tracker_is_within_a_few_cents_on_exact_tones():
    rng = np.random.default_rng(0)
    for name in PRESETS:
        target = preset(name, 1.0)
        err = cents_error(track_pitch(synth_from_contour(target, rng), len(target)), target)
        assert err["voiced"] == 1.0 and err["median_cents"] < 8 and err["within_50"] == 1.0, name
    silent = cents_error(track_pitch(np.zeros(8000), 100), np.full(100, 440.0))
    assert silent["voiced"] == 0.0


def test_a_drawing_becomes_a_contour_top_high_bottom_low():
    ink = np.zeros((100, 200), bool)
    ink[80, :50] = True  # low at the start
    ink[10, 150:] = True  # high at the end, a gap between
    contour = contour_from_drawing(ink, 1.0)
    assert contour.shape == (100,) and contour[0] < 200 and contour[-1] > 600
    assert np.all(np.diff(contour[20:80]) >= 0)  # the gap is interpolated upwards
    with pytest.raises(ValueError, match="draw a pitch curve"):
        contour_from_drawing(np.zeros((100, 200)), 1.0)


def test_the_training_set_is_seeded_and_its_contours_match_its_audio():
    data = synthetic_glides()
    assert data.train_codes.shape == (2000, 2000) and data.train_contours.shape == (2000, 25) and data.test_contours.shape == (200, 25)
    assert torch.equal(data.inputs("test"), data.test_codes) and data.labels("train") is data.train_contours
    from models.mu_law import mu_law_decode

    wave = mu_law_decode(data.test_codes[1]).numpy()  # a glide
    err = cents_error(track_pitch(wave, 25), data.test_contours[1].numpy())
    assert err["median_cents"] < 15

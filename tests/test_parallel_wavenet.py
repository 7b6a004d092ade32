"""Parallel WaveNet: the IAF student is causal in its noise, its step distribution is the
logistic its flows compose, the entropy and the binned KL are right, distillation from a tiny
teacher lowers the KL, a clip is one pass, and save/load keeps it."""

from __future__ import annotations

import math

import pytest
import torch

from models.base import seeded_init
from models.parallel_wavenet import ParallelWaveNet
from models.wavenet import WaveNet
from playground.core.audio import synthetic_audio

TINY = dict(n_flows=2, channels=4, dilations=[1, 2, 4], clip_seconds=0.01)


@pytest.fixture
def student():
    torch.manual_seed(0)
    model = seeded_init(ParallelWaveNet, 0, **TINY)
    for flow in model.flows:  # away from the identity start, so that every dependency shows
        torch.nn.init.normal_(flow.out.weight, std=0.3)
    return model


def test_x_t_depends_on_z_up_to_t_and_its_shift_and_scale_on_z_before_t(student):
    z = torch.randn(1, 30, requires_grad=True)
    x, mu, log_s = student.transform(z, torch.tensor([3]))
    for t in (0, 5, 17, 29):
        (gx,) = torch.autograd.grad(x[0, t], z, retain_graph=True)
        (gm,) = torch.autograd.grad(mu[0, t] + log_s[0, t], z, retain_graph=True)
        assert float(gx[0, t + 1 :].abs().sum()) == 0.0 and float(gx[0, t].abs()) > 0
        assert float(gm[0, t:].abs().sum()) == 0.0
        if t > 0:
            assert float(gm[0, :t].abs().sum()) > 0


def test_the_flows_compose_into_one_logistic_per_step(student):
    z = torch.randn(2, 25)
    x, mu, log_s = student.transform(z, torch.tensor([1, 2]))
    assert torch.allclose(x, z * log_s.exp() + mu, atol=1e-5)


def test_binned_probabilities_sum_to_1_and_the_analytic_entropy_matches_monte_carlo():
    mu, log_s = torch.tensor([0.0, 0.3, -0.95]), torch.tensor([-2.0, -4.0, -6.0])
    p = ParallelWaveNet.bin_probs(mu, log_s)
    assert p.shape == (3, 256) and torch.allclose(p.sum(-1), torch.ones(3), atol=1e-5)
    s = math.exp(-2.0)
    u = torch.rand(200_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
    x = s * (u.log() - (-u).log1p())  # logistic(0, s) samples
    log_density = -x / s - math.log(s) - 2 * torch.nn.functional.softplus(-x / s)
    assert float(-log_density.mean()) == pytest.approx(-2.0 + 2, abs=0.02)  # H = log s + 2
    # over bins of width 2/255, the discrete entropy is the differential one minus log(width) (wide logistic)
    discrete = float(-(p[0] * p[0].log()).sum())
    assert discrete == pytest.approx(-2.0 + 2 - math.log(2 / 255), abs=0.01)


def test_distillation_lowers_the_kl_which_stays_non_negative(one_thread):
    teacher = seeded_init(WaveNet, 0, residual_channels=4, skip_channels=6, dilations=[1, 2], n_classes=10).eval()
    student = seeded_init(ParallelWaveNet, 0, **TINY).set_teacher(teacher)
    data = synthetic_audio()
    x, y = data.train_codes[:8, :200], data.train_labels[:8]
    optimizer = torch.optim.Adam(student.parameters(), 1e-2)
    kls = []
    for step in range(40):
        losses = student.train_step(x, y, [optimizer], torch.Generator().manual_seed(step))
        kls.append(float(losses["kl"]))
        assert losses["kl"] >= -1e-4 and torch.isclose(losses["kl"], losses["cross_entropy"] - losses["entropy"], atol=1e-4)
    assert sum(kls[-5:]) / 5 < kls[0] - 0.3
    assert all(not p.requires_grad for p in teacher.parameters()) and not any(k.startswith("_teacher") for k in student.state_dict())


def test_one_pass_generation_is_seeded_and_in_range(student):
    student.eval()
    y = torch.tensor([0, 9])
    a = student.sample(2, y, torch.Generator().manual_seed(1), n_samples=4000)
    b = student.sample(2, y, torch.Generator().manual_seed(1), n_samples=4000)
    assert a.shape == (2, 4000) and a.dtype == torch.float32 and float(a.abs().max()) <= 1 and torch.equal(a, b)
    assert list(student.sample_iter(2, y))[-1].shape == (2, student.clip_samples)


def test_bad_values_are_refused(student):
    with pytest.raises(ValueError, match="attach the teacher"):
        student.loss(torch.zeros(1, 10, dtype=torch.int64), torch.tensor([0]))
    with pytest.raises(ValueError, match="class id"):
        student.sample(1, torch.tensor([10]))
    with pytest.raises(ValueError, match="teacher must be a WaveNet"):
        student.set_teacher(seeded_init(WaveNet, 0, residual_channels=4, skip_channels=6, dilations=[1], n_classes=3))
    with pytest.raises(ValueError, match="n_flows"):
        ParallelWaveNet(n_flows=9)


def test_save_load_round_trip(student, tmp_path):
    student.save_pretrained(tmp_path / "ck")
    loaded = ParallelWaveNet.from_pretrained(tmp_path / "ck")
    assert loaded.config == student.config and sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["README.md", "config.json", "model.safetensors"]
    z = torch.randn(1, 50)
    assert torch.equal(loaded.transform(z, torch.tensor([4]))[0], student.transform(z, torch.tensor([4]))[0])

"""The trainer: loss going down on real digits, seeding, stop flag, divergence."""

from __future__ import annotations

import math
import threading

import pytest
import torch

from models import VAE
from models.base import seeded_init
from playground.core.training import TrainConfig, train


def _tiny_vae(seed=0):
    return seeded_init(VAE, seed, latent_dim=4, arch="mlp", hidden_dim=64)


def _run(model, data, **settings):
    return list(train(model, data, TrainConfig(**settings)))


def test_loss_goes_down_on_real_digits(data):
    events = _run(_tiny_vae(), data, steps=200, log_every=20, eval_every=100, sample_every=100, n_eval=200)
    final = events[-1]
    assert final.status == "done" and final.step == 200
    assert events[0].losses["loss"] > events[-2].losses["loss"] + 40  # ~540 nats at init
    assert final.test_losses["elbo"] > -250
    assert [e.step for e in events[:-1]] == list(range(20, 201, 20))
    assert final.samples.shape == (64, 1, 28, 28)
    assert any(e.test_losses for e in events[:-1]) and any(e.samples is not None for e in events[:-1])


def test_same_seed_same_run(data):
    a = _run(_tiny_vae(), data, steps=30, log_every=10, seed=5)
    b = _run(_tiny_vae(), data, steps=30, log_every=10, seed=5)
    c = _run(_tiny_vae(), data, steps=30, log_every=10, seed=6)
    assert [e.losses for e in a] == [e.losses for e in b]
    assert [e.losses for e in a] != [e.losses for e in c]


def test_stop_flag_ends_the_run_and_keeps_the_weights(data):
    model = _tiny_vae()
    stop = threading.Event()
    events = []
    for event in train(model, data, TrainConfig(steps=1000, log_every=10), stop=stop):
        events.append(event)
        if event.step == 30:
            stop.set()
    assert events[-1].status == "stopped" and events[-1].step == 30
    assert "stopped at step 30" in events[-1].message
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not torch.equal(model.encoder[1].weight, _tiny_vae().encoder[1].weight)


def test_non_finite_loss_restores_the_last_finite_weights(data, monkeypatch):
    model = _tiny_vae()
    snapshot = {}
    original = VAE.train_step
    calls = {"n": 0}

    def poisoned(self, x, y, optimizers, generator=None):
        calls["n"] += 1
        if calls["n"] == 21:  # the weights as step 20's event left them: the last good ones
            snapshot.update({k: v.clone() for k, v in self.state_dict().items()})
        if calls["n"] > 25:
            with torch.no_grad():
                for p in self.parameters():
                    p.fill_(float("nan"))
        return original(self, x, y, optimizers, generator)

    monkeypatch.setattr(VAE, "train_step", poisoned)
    events = _run(model, data, steps=100, log_every=10)
    final = events[-1]
    assert final.status == "diverged"
    assert "diverged" in final.message and "restored the last finite weights" in final.message
    assert final.step == 30
    assert all(torch.isfinite(p).all() for p in model.parameters())
    restored = model.state_dict()
    assert all(torch.equal(restored[k], snapshot[k]) for k in snapshot)
    assert all(math.isfinite(v) for v in final.test_losses.values())


@pytest.mark.parametrize(
    "bad", [dict(steps=0), dict(steps=10**9), dict(lr=float("nan")), dict(lr=0.0), dict(lr=-1), dict(batch_size=0), dict(seed=-1)]
)
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


def test_weights_broken_by_an_intervals_last_step_are_not_snapshotted(data, monkeypatch):
    """Losses are computed before each update, so step 10's update can break the
    weights while every loss of steps 1-10 was finite: that state must not be kept."""
    model = _tiny_vae()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    original = VAE.train_step
    calls = {"n": 0}

    def poison_after_step(self, x, y, optimizers, generator=None):
        calls["n"] += 1
        losses = original(self, x, y, optimizers, generator)
        if calls["n"] == 10:
            with torch.no_grad():
                self.encoder[1].weight.fill_(float("inf"))
        return losses

    monkeypatch.setattr(VAE, "train_step", poison_after_step)
    final = _run(model, data, steps=100, log_every=10)[-1]
    assert final.status == "diverged" and final.step == 10 and "non-finite" in final.message
    assert all(torch.equal(model.state_dict()[k], initial[k]) for k in initial)

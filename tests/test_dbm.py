"""The deep Boltzmann machine: the mean-field fixed point (its defining property), log Z
exact by enumeration and by AIS, the bound below the exact log-likelihood, each
pre-training phase touching only its own layer, training on real digits, the CLI."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from models.base import seeded_init
from models.dbm import DBM
from playground.cli import main
from playground.core.training import TrainConfig, train


def _random_dbm(n_visible: int = 6, n_hidden1: int = 4, n_hidden2: int = 3, scale: float = 1.0, seed: int = 0) -> DBM:
    model = seeded_init(DBM, seed, n_visible=n_visible, n_hidden1=n_hidden1, n_hidden2=n_hidden2)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g))
    return model.eval()


def _all_states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)))


@torch.no_grad()
def _brute_log_joint(model: DBM) -> torch.Tensor:
    """log p*(v, h1, h2) = -E over every joint state, (2^V, 2^H1 * 2^H2) float64."""
    vs, h1s, h2s = (_all_states(n) for n in (model.n_visible, model.n_hidden1, model.n_hidden2))
    h1 = h1s.repeat_interleave(len(h2s), 0)
    h2 = h2s.repeat(len(h1s), 1)
    return torch.stack([-model.energy(v.expand(len(h1), -1), h1, h2).double() for v in vs])


@torch.no_grad()
def test_mean_field_reaches_a_fixed_point_of_the_mean_field_equations(data):
    model = _random_dbm(n_visible=784, n_hidden1=40, n_hidden2=20, scale=0.1)
    v = data.images("test", "binary")[:50]
    mu1, mu2, sweeps = model.mean_field(v, n_iters=500, tol=1e-6)
    assert sweeps < 500  # converged, not cut off
    again1, again2 = model.mean_field_update(v, mu1, mu2)
    assert float((again1 - mu1).abs().max()) < 1e-4 and float((again2 - mu2).abs().max()) < 1e-4
    # The equations themselves, written out from the weights.
    flat = v.view(50, -1)
    assert torch.allclose(mu1, torch.sigmoid(flat @ model.weight1 + mu2 @ model.weight2.T + model.hidden1_bias), atol=1e-4)
    assert torch.allclose(mu2, torch.sigmoid(mu1 @ model.weight2 + model.hidden2_bias), atol=1e-4)
    assert ((mu1 > 0) & (mu1 < 1)).all() and mu1.shape == (50, 40) and mu2.shape == (50, 20)


@torch.no_grad()
def test_the_fixed_point_maximises_the_bound_and_stays_below_the_exact_log_likelihood():
    model = _random_dbm()
    log_joint = _brute_log_joint(model)
    exact = torch.logsumexp(log_joint, 1)  # log sum_h exp(-E(v, h)) for each v
    vs = _all_states(model.n_visible)
    start1, start2, _ = model.mean_field(vs, n_iters=1)
    mu1, mu2, _ = model.mean_field(vs, n_iters=300, tol=1e-7)
    bound, early = model.variational_bound(vs, mu1, mu2), model.variational_bound(vs, start1, start2)
    assert (bound <= exact + 1e-5).all()
    assert (bound >= early - 1e-5).all()  # each sweep maximises the bound over one layer
    log_z = float(torch.logsumexp(log_joint.flatten(), 0))
    assert model.exact_log_partition() == pytest.approx(log_z, abs=1e-4)
    assert (model.log_prob(vs) <= exact - log_z + 1e-5).all()


@torch.no_grad()
def test_ais_matches_the_exact_log_partition_of_a_small_dbm():
    model = _random_dbm(n_visible=40, n_hidden1=10, n_hidden2=6, scale=0.5, seed=1)
    exact = model.exact_log_partition()
    base = (torch.rand(200, 40, generator=torch.Generator().manual_seed(2)) < 0.3).float()
    est = model.ais(n_betas=1000, n_runs=50, base_data=base, generator=torch.Generator().manual_seed(0))
    assert est["log_z"] == pytest.approx(exact, abs=0.1)
    assert est["log_z_low"] - 0.05 <= exact <= est["log_z_high"] + 0.05
    assert est["log_weights"].shape == (50,) and est["n_betas"] == 1000


@torch.no_grad()
def test_conditionals_and_gibbs_shapes():
    model = _random_dbm()
    log_joint = _brute_log_joint(model).view(2**6, 2**4, 2**3)  # (v, h1, h2)
    joint = torch.softmax(log_joint.flatten(), 0).view_as(log_joint)
    h1s, h2s = _all_states(4), _all_states(3)
    # p(h2 = 1 | h1) from the joint, against the model's conditional.
    p_h1_h2 = joint.sum(0)  # (h1, h2)
    p_h2 = (p_h1_h2 @ h2s.double()) / p_h1_h2.sum(1, keepdim=True)
    assert torch.allclose(p_h2.float(), model.h2_probs(h1s), atol=1e-5)
    v, mean, h2 = model.gibbs_step(*model.noise(5, torch.Generator().manual_seed(0)), torch.Generator().manual_seed(1))
    assert v.shape == (5, 6) and h2.shape == (5, 3) and set(v.unique().tolist()) <= {0.0, 1.0} and 0 <= mean.min() and mean.max() <= 1


def test_each_pretraining_phase_changes_only_its_own_layer(data):
    model = seeded_init(DBM, 0, n_hidden1=20, n_hidden2=10, pretrain_steps=2, joint_steps=2)
    optimizers = model.configure_optimizers(0.05)
    g = torch.Generator().manual_seed(0)
    x = data.images("train", "binary")[:20]
    own = [{"weight1", "visible_bias", "hidden1_bias"}, {"weight2", "hidden2_bias"}]
    for phase in (0, 0, 1, 1):
        before = {k: v.clone() for k, v in model.state_dict().items()}
        assert model.train_step(x, None, optimizers, g)["phase"] == phase + 1
        for name, value in model.state_dict().items():
            assert torch.equal(value, before[name]) != (name in own[phase]), name
    assert model.train_step(x, None, optimizers, g)["phase"] == 3


def test_training_on_digits_lowers_the_error_and_raises_the_bound(data):
    model = seeded_init(DBM, 0, n_hidden1=16, n_hidden2=8, pretrain_steps=50, joint_steps=50, n_chains=50, n_gibbs=5)
    x_test = data.images("test", "binary")[:200]
    start = model.loss(x_test)
    config = TrainConfig(steps=150, lr=0.05, batch_size=50, seed=0, eval_every=0, sample_every=0, n_eval=100, log_every=20)
    events = list(train(model, data, config))
    assert events[-1].status == "done" and events[-1].losses["phase"] == 3
    end = model.loss(x_test)
    assert float(end["reconstruction_error"]) < 0.7 * float(start["reconstruction_error"])
    # The bound's energy part rises with log Z too: compare log_prob (bound - exact log Z, H1 <= 20).
    fresh = seeded_init(DBM, 0, n_hidden1=16, n_hidden2=8)
    assert float(model.log_prob(x_test).mean()) > float(fresh.log_prob(x_test).mean()) + 50


def test_samples_and_save_load_round_trip(tmp_path):
    model = _random_dbm(n_visible=784, n_hidden1=12, n_hidden2=5, scale=0.1)
    model.n_gibbs = 7
    samples = model.sample(4, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (4, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1
    model.save_pretrained(tmp_path / "dbm")
    loaded = DBM.from_pretrained(tmp_path / "dbm")
    x = (torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1)) < 0.2).float()
    for (name, p), q in zip(model.named_parameters(), loaded.parameters()):
        assert torch.equal(p, q), name
    assert torch.equal(model.log_prob(x), loaded.log_prob(x))


@pytest.mark.parametrize(
    "config,message",
    [
        (dict(n_hidden1=0), "units in h1 must be in"),
        (dict(n_hidden2=5000), "units in h2 must be in"),
        (dict(mf_iters=0), "mean-field iterations must be in"),
        (dict(momentum=1.5), "momentum must be a number"),
        (dict(ais_runs=1), "AIS runs must be in"),
    ],
)
def test_bad_settings_are_readable_errors(config, message):
    with pytest.raises(ValueError, match=message):
        DBM(**config)


def test_cli_trains_samples_and_evaluates_a_dbm(tmp_path, capsys):
    out = tmp_path / "dbm"
    settings = ["n_hidden1=24", "n_hidden2=12", "pretrain_steps=10", "joint_steps=10", "n_gibbs=5"]
    assert main(["train", "dbm", "--steps", "30", "--eval-every", "0", "--out", str(out), "--set", *settings]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["train"]["phase"] == 3.0
    assert main(["sample", str(out), "--n", "3", "--gibbs-steps", "4", "--npy", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (3, 28, 28)
    capsys.readouterr()
    assert main(["evaluate", str(out), "--n-samples", "10", "--gibbs-steps", "3", "--ais-betas", "100", "--ais-runs", "10"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["nll_kind"] == "bound" and figures["ais_betas"] == 100 and figures["nll_nats"] > 0
    low, high = figures["nll_nats_range"]
    assert (low is None or low <= figures["nll_nats"]) and figures["nll_nats"] <= high

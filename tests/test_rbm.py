"""The RBM and the DBN: the energy's conditionals and free energy by enumeration, CD's
direction, AIS against the exact partition function, greedy DBN training and shapes."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from models.base import seeded_init
from models.dbn import DBN
from models.partition import ais_betas
from models.rbm import RBM
from playground.core.training import TrainConfig, train


def _random_rbm(n_visible: int = 6, n_hidden: int = 4, scale: float = 1.0, seed: int = 0) -> RBM:
    model = seeded_init(RBM, seed, n_visible=n_visible, n_hidden=n_hidden)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.weight.copy_(scale * torch.randn(n_visible, n_hidden, generator=g))
        model.visible_bias.copy_(torch.randn(n_visible, generator=g))
        model.hidden_bias.copy_(torch.randn(n_hidden, generator=g))
    return model.eval()


def _all_states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)))


@torch.no_grad()
def test_conditionals_match_the_energy_by_enumeration():
    model = _random_rbm()
    vs, hs = _all_states(6), _all_states(4)
    # p(v, h) over all 2^10 joint states, from the energy alone.
    v_all = vs.repeat_interleave(len(hs), 0)
    h_all = hs.repeat(len(vs), 1)
    log_joint = (-model.energy(v_all, h_all)).double().view(len(vs), len(hs))
    joint = torch.softmax(log_joint.flatten(), 0).view_as(log_joint)
    # p(h_j = 1 | v) = sum_h p(v, h) h_j / p(v)
    p_h = (joint @ hs.double()) / joint.sum(1, keepdim=True)
    assert torch.allclose(p_h.float(), model.hidden_probs(vs), atol=1e-5)
    p_v = (joint.T @ vs.double()) / joint.sum(0)[:, None]
    assert torch.allclose(p_v.float(), model.visible_probs(hs), atol=1e-5)


@torch.no_grad()
def test_free_energy_is_the_marginal_over_h():
    model = _random_rbm()
    vs, hs = _all_states(6), _all_states(4)
    for v in vs[::7]:
        marginal = torch.logsumexp(-model.energy(v.expand(len(hs), -1), hs).double(), 0)
        assert float(-model.free_energy(v[None])) == pytest.approx(float(marginal), abs=1e-4)


@torch.no_grad()
def test_exact_log_partition_sums_every_visible_state():
    model = _random_rbm(n_visible=10, n_hidden=5)
    brute = float(torch.logsumexp(-model.free_energy(_all_states(10)).double(), 0))
    assert model.exact_log_partition() == pytest.approx(brute, abs=1e-5)
    big = seeded_init(RBM, 0, n_hidden=21)
    with pytest.raises(ValueError, match="at most 20 hidden units"):
        big.exact_log_partition()


def test_ais_agrees_with_exact_log_z_on_digits(data):
    # A 20-hidden-unit RBM trained by PCD on real digits (so its partition function is
    # far from the base rate's): AIS must land within 1 nat of the enumeration.
    model = seeded_init(RBM, 0, n_hidden=20, persistent=True)
    for event in train(model, data, TrainConfig(steps=1000, lr=0.01, batch_size=50, log_every=100, sample_every=0, eval_every=0, n_eval=50)):
        pass
    exact = model.exact_log_partition()
    x = data.images("train", "binary")
    est = model.ais(n_betas=1000, n_runs=100, base_data=x, generator=torch.Generator().manual_seed(0))
    assert abs(est["log_z"] - exact) < 1.0, (est["log_z"], exact)
    assert est["log_z_low"] <= est["log_z"] <= est["log_z_high"]
    assert est["log_weights"].shape == (100,)
    # log_prob uses the exact value for so small a model, and is a normalised density.
    assert model.log_partition()["exact"] == 1.0
    lp = model.log_prob(x[:5])
    assert lp.shape == (5,) and bool((lp < 0).all())


def test_ais_betas_run_from_zero_to_one():
    b = ais_betas(1000)
    assert len(b) == 1001 and float(b[0]) == 0.0 and float(b[-1]) == 1.0
    assert bool((b[1:] > b[:-1]).all())
    with pytest.raises(ValueError, match="AIS temperatures"):
        ais_betas(5)


def test_a_cd_step_moves_the_parameters_the_right_way():
    # One visible pattern, seen again and again: CD-1 must raise p(v) of it, i.e. lower
    # its free energy relative to the others, and its gradient must equal the formula.
    model = _random_rbm(n_visible=6, n_hidden=4, scale=0.1)
    model.persistent = False
    v = torch.tensor([[1.0, 0, 1, 0, 1, 0]]).repeat(64, 1)
    (opt,) = model.configure_optimizers(0.1)
    vs = _all_states(6)

    def log_p() -> float:
        with torch.no_grad():
            return float(-model.free_energy(v[:1]) - torch.logsumexp(-model.free_energy(vs), 0))

    before = log_p()
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        model.train_step(v, None, [opt], g)
    assert log_p() > before + 1.0


def test_cd_gradient_equals_positive_minus_negative_statistics():
    model = _random_rbm(n_visible=5, n_hidden=3, scale=0.5)
    model.persistent = False
    v0 = torch.tensor([[1.0, 1, 0, 0, 1], [0, 1, 1, 0, 0]])
    g = torch.Generator().manual_seed(1)
    model.cd_gradients(v0, g)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        ph0 = model.hidden_probs(v0)
        _, _, v1 = model.gibbs_step(v0, g)
        ph1 = model.hidden_probs(v1)
    assert torch.allclose(model.weight.grad, -(v0.T @ ph0 - v1.T @ ph1) / 2)
    assert torch.allclose(model.hidden_bias.grad, -(ph0 - ph1).mean(0))


def test_pcd_keeps_its_chains_between_updates(data):
    model = seeded_init(RBM, 0, n_hidden=16, persistent=True)
    (opt,) = model.configure_optimizers(0.01)
    x = data.images("train", "binary")[:20]
    g = torch.Generator().manual_seed(0)
    model.train_step(x, None, [opt], g)
    chains = model._chains.clone()
    model.train_step(x, None, [opt], g)
    assert chains.shape == (20, 784) and not torch.equal(chains, model._chains)
    model.configure_optimizers(0.01)
    assert model._chains is None


def test_training_on_real_digits_lowers_the_reconstruction_error(data):
    model = seeded_init(RBM, 0, n_hidden=64, persistent=False)
    x = data.images("test", "binary")[:200]
    before = float(model.loss(x)["reconstruction_error"])
    for _ in train(model, data, TrainConfig(steps=200, lr=0.05, batch_size=50, log_every=50, sample_every=0, eval_every=0, n_eval=50)):
        pass
    after = float(model.loss(x)["reconstruction_error"])
    assert after < 0.7 * before


def test_clamped_gibbs_keeps_the_clamped_pixels(data):
    model = seeded_init(RBM, 0, n_hidden=32).eval()
    x = data.images("test", "binary")[:3]
    mask = torch.zeros(784, dtype=torch.bool)
    mask[: 14 * 28] = True  # the top half
    v, mean, frames = model.gibbs_chain(x, 20, every=5, clamp=mask, generator=torch.Generator().manual_seed(0))
    flat = x.view(3, 784)
    assert torch.equal(v[:, mask], flat[:, mask]) and torch.equal(mean[:, mask], flat[:, mask])
    assert [f[0] for f in frames] == [0, 5, 10, 15, 20]
    assert set(v.unique().tolist()) <= {0.0, 1.0} and 0 <= float(mean.min()) and float(mean.max()) <= 1


@pytest.mark.parametrize("bad", [dict(n_hidden=0), dict(n_hidden=10**7), dict(cd_k=0), dict(cd_k=10**6), dict(momentum=float("nan")), dict(persistent="yes")])
def test_rbm_refuses_bad_settings(bad):
    with pytest.raises(ValueError):
        RBM(**bad)


def test_dbn_trains_greedily_and_has_the_right_shapes(data):
    model = seeded_init(DBN, 0, hidden_sizes=[32, 16], steps_per_layer=20)
    layers = []
    first = [p.detach().clone() for p in model.layers[0].parameters()]
    config = TrainConfig(steps=40, lr=0.05, batch_size=20, log_every=10, sample_every=0, eval_every=0, n_eval=20)
    for event in train(model, data, config):
        if not event.final:
            layers.append(event.losses["layer"])
    assert layers == [1.0, 1.0, 2.0, 2.0]
    # Layer 1 is frozen once layer 2 trains: its weights are those after update 20.
    assert not all(torch.equal(a, b) for a, b in zip(first, model.layers[0].parameters()))
    assert model.layers[0].weight.shape == (784, 32) and model.layers[1].weight.shape == (32, 16)
    g = torch.Generator().manual_seed(0)
    images, frames = model.generate(6, n_gibbs=10, every=5, generator=g)
    assert images.shape == (6, 1, 28, 28) and 0 <= float(images.min()) and float(images.max()) <= 1
    assert [f[0] for f in frames] == [0, 5, 10] and frames[0][1].shape == (6, 1, 28, 28)
    assert model.receptive_fields(1).shape == (32, 1, 28, 28)
    assert model.receptive_fields(2).shape == (16, 1, 28, 28)
    assert model.up(data.images("test", "binary")[:4], 2).shape == (4, 16)
    with pytest.raises(ValueError, match="layer"):
        model.receptive_fields(3)


def test_dbn_layer_1_stays_frozen_while_layer_2_trains(data):
    model = seeded_init(DBN, 0, hidden_sizes=[16, 8], steps_per_layer=5)
    optimizers = model.configure_optimizers(0.05)
    x = data.images("train", "binary")[:10]
    for _ in range(5):
        model.train_step(x, None, optimizers)
    frozen = model.layers[0].weight.detach().clone()
    top = model.layers[1].weight.detach().clone()
    for _ in range(5):
        model.train_step(x, None, optimizers)
    assert torch.equal(frozen, model.layers[0].weight)
    assert not torch.equal(top, model.layers[1].weight)


@pytest.mark.parametrize("bad", [dict(hidden_sizes=[]), dict(hidden_sizes=[10] * 5), dict(hidden_sizes=[0]), dict(hidden_sizes="500"), dict(steps_per_layer=0)])
def test_dbn_refuses_bad_settings(bad):
    with pytest.raises(ValueError):
        DBN(**bad)


def test_log_z_of_the_base_rate_model_is_exact():
    # With W = 0 the RBM is the base model itself: AIS's weights are all 1.
    model = seeded_init(RBM, 0, n_hidden=30, n_visible=8)
    with torch.no_grad():
        model.weight.zero_()
        model.hidden_bias.zero_()
        model.visible_bias.copy_(torch.linspace(-2, 2, 8))
    data = torch.sigmoid(torch.linspace(-2, 2, 8)).expand(1000, -1)
    est = model.ais(n_betas=100, n_runs=10, base_data=(torch.rand(1000, 8) < data).float(), generator=torch.Generator().manual_seed(0))
    exact = float(torch.nn.functional.softplus(torch.linspace(-2, 2, 8)).sum()) + 30 * math.log(2)
    assert est["log_z"] == pytest.approx(exact, abs=0.05)


def test_stacking_on_a_trained_rbm_trains_only_the_new_layer(data):
    rbm = seeded_init(RBM, 0, n_hidden=16)
    with torch.no_grad():
        rbm.weight.normal_(0, 0.1)
    model = seeded_init(DBN, 0, hidden_sizes=[16, 8], steps_per_layer=10).stack_on(rbm)
    assert torch.equal(model.layers[0].weight, rbm.weight) and model.layers[0].weight is not rbm.weight
    top = model.layers[1].weight.detach().clone()
    layers = [e.losses["layer"] for e in train(model, data, TrainConfig(steps=10, lr=0.05, batch_size=10, log_every=5, sample_every=0, eval_every=0, n_eval=10)) if not e.final]
    assert layers == [2.0, 2.0]
    assert torch.equal(model.layers[0].weight, rbm.weight)
    assert not torch.equal(top, model.layers[1].weight)
    with pytest.raises(ValueError, match="layer 1 of this DBN is 784 x 16"):
        seeded_init(DBN, 0, hidden_sizes=[16, 8]).stack_on(seeded_init(RBM, 0, n_hidden=20))


def test_bad_sampling_requests_are_value_errors(data):
    model = seeded_init(RBM, 0, n_hidden=8)
    for n in (0, -1, 2.5):
        with pytest.raises(ValueError, match="samples"):
            model.sample(n)
    with pytest.raises(ValueError, match="clamp mask"):
        model.gibbs_chain(torch.zeros(3, 784), 2, clamp=torch.zeros(2, 784, dtype=torch.bool))
    with pytest.raises(ValueError, match="h must have shape"):
        model.energy(torch.zeros(3, 784), torch.zeros(3, 5))
    dbn = seeded_init(DBN, 0, hidden_sizes=[16, 8])
    with pytest.raises(ValueError, match="start must hold n = 5"):
        dbn.generate(5, 2, start=data.images("test", "binary")[:3])
    with pytest.raises(ValueError, match="layers to pass up"):
        dbn.up(torch.zeros(2, 784), 3)


def test_dbn_samples_do_not_depend_on_how_many_frames_are_drawn():
    model = seeded_init(DBN, 0, hidden_sizes=[16, 12, 8]).eval()
    a, frames_a = model.generate(4, 20, every=0, generator=torch.Generator().manual_seed(0))
    b, frames_b = model.generate(4, 20, every=5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and not frames_a and len(frames_b) == 5


def test_log_z_report_is_exact_for_few_hidden_units_and_ais_otherwise(data):
    # One method chooses for log_prob (the CLI) and the app: exact up to 20 hidden units.
    small = _random_rbm(n_visible=784, n_hidden=12, scale=0.01)
    report = small.log_z_report(100, 10, progress=lambda done: pytest.fail("no AIS when exact"))
    assert report["exact"] is True and report["log_z"] == pytest.approx(small.exact_log_partition())
    assert report["log_z_low"] == report["log_z_high"] == report["log_z"] and report["log_weights"] is None
    assert report["n_runs"] == 0 and not report["below_floor"]
    assert small.log_partition()["log_z"] == report["log_z"]
    big = seeded_init(RBM, 0, n_hidden=21, ais_betas=50, ais_runs=4)
    heard: list[float] = []
    x = data.images("train", "binary")[:100]
    report = big.log_z_report(60, 8, base_data=x, generator=torch.Generator().manual_seed(0), progress=heard.append)
    assert report["exact"] is False and report["n_betas"] == 60 and report["log_weights"].shape == (8,)
    assert report["log_z_low"] <= report["log_z"] <= report["log_z_high"]
    assert report["below_floor"] == (report["log_z"] < report["log_z_floor"])
    assert heard == sorted(heard) and heard[-1] == 1.0
    # log_prob goes the same way, with the model's own settings, and says so.
    big.set_base_data(x)
    big.log_prob(x[:2])
    details = big.nll_details()
    assert details["log_z_exact"] is False and details["ais_betas"] == 50 and details["ais_runs"] == 4
    with pytest.raises(ValueError, match="AIS runs"):
        small.log_z_report(100, 1)


def test_sampling_runs_in_steps_a_trainer_can_stop_between():
    rbm = seeded_init(RBM, 0, n_hidden=8, n_gibbs=120).eval()
    steps = list(rbm.sample_iter(3, generator=torch.Generator().manual_seed(0)))
    assert steps[:-1] == [None, None] and torch.equal(steps[-1], rbm.sample(3, generator=torch.Generator().manual_seed(0)))
    dbn = seeded_init(DBN, 0, hidden_sizes=[16, 12, 8], n_gibbs=120).eval()
    steps = list(dbn.sample_iter(3, generator=torch.Generator().manual_seed(0)))
    assert steps[:-1] == [None, None] and torch.equal(steps[-1], dbn.sample(3, generator=torch.Generator().manual_seed(0)))

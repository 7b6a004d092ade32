"""BEGAN (Berthelot et al. 2017): the equilibrium controller k_t, the convergence measure
falling on real digits, the terms by hand, save/load and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import single_thread

from models import FAMILIES
from models.base import seeded_init
from models.began import BEGAN
from playground.cli import main
from playground.core.data import batches

TINY = dict(latent_dim=8, hidden_dim=8, width=4)


def _run(model: BEGAN, data, steps: int, seed: int = 0, lr: float = 2e-3) -> list[dict[str, float]]:
    """Train ``model`` ``steps`` steps of 32 real digits; each step's terms."""
    g = torch.Generator().manual_seed(seed)
    x = data.inputs("train", "grey")
    opts = model.configure_optimizers(lr)
    stream = batches(len(x), 32, g)
    history = []
    with single_thread():
        for _ in range(steps):
            out = model.train_step(x[next(stream)], None, opts, g)
            history.append({k: float(v) for k, v in out.items()} | {"k_after": float(model.k)})
    return history


@pytest.fixture(scope="module")
def trained(data):
    model = seeded_init(BEGAN, 0, **TINY, lambda_k=0.01)
    return model, _run(model, data, 240)


def test_registered_and_unconditional():
    assert FAMILIES["began"] is BEGAN and BEGAN.data_kind == "grey" and not BEGAN.conditional


def test_terms_by_hand():
    model = BEGAN(**TINY, gamma=0.4)
    model.k.fill_(0.25)
    t = model.terms(torch.tensor(0.2), torch.tensor(0.1))
    assert float(t["balance"]) == pytest.approx(0.4 * 0.2 - 0.1)
    assert float(t["convergence"]) == pytest.approx(0.2 + abs(0.4 * 0.2 - 0.1)) and float(t["loss"]) == float(t["convergence"])
    assert float(t["d_loss"]) == pytest.approx(0.2 - 0.25 * 0.1) and float(t["g_loss"]) == pytest.approx(0.1) and float(t["k"]) == 0.25


def test_energy_is_the_mean_l1_reconstruction_error():
    model = BEGAN(**TINY)
    x = torch.rand(3, 1, 28, 28)
    assert torch.allclose(model.energy(x), (x - model.reconstruct(x)).abs().mean((1, 2, 3)))


def test_k_is_a_clipped_proportional_controller(data):
    """k_{t+1} = clip(k_t + lambda_k * balance_t, 0, 1), whatever the gain."""
    model = seeded_init(BEGAN, 1, **TINY, lambda_k=0.1)
    model.k.fill_(0.97)
    x = data.inputs("train", "grey")[:16]
    opts = model.configure_optimizers(1e-3)
    for _ in range(5):
        before = float(model.k)
        with single_thread():
            out = model.train_step(x, None, opts)
        assert float(out["k"]) == pytest.approx(before)
        assert float(model.k) == pytest.approx(min(1.0, max(0.0, before + 0.1 * float(out["balance"]))), abs=1e-6)
        assert 0.0 <= float(model.k) <= 1.0


def test_k_stays_in_0_1_and_the_balance_is_driven_toward_equilibrium(trained):
    """The defining property: gamma L(x) - L(G(z)) goes toward 0 and k stays in [0, 1]."""
    _, history = trained
    assert all(0.0 <= h["k_after"] <= 1.0 for h in history)
    first = np.mean([abs(h["balance"]) for h in history[:40]])
    last = np.mean([abs(h["balance"]) for h in history[-40:]])
    assert last < 0.5 * first
    assert max(h["k_after"] for h in history) > 0  # the controller acted


def test_the_convergence_measure_falls_on_real_digits(trained):
    _, history = trained
    first = np.mean([h["convergence"] for h in history[:20]])
    last = np.mean([h["convergence"] for h in history[-20:]])
    assert last < 0.7 * first


def test_samples_shape_range_and_seeding(trained):
    model, _ = trained
    model.eval()
    a = model.sample(6, generator=torch.Generator().manual_seed(3))
    b = model.sample(6, generator=torch.Generator().manual_seed(3))
    assert a.shape == (6, 1, 28, 28) and a.dtype == torch.float32 and torch.equal(a, b)
    assert 0 <= float(a.min()) and float(a.max()) <= 1
    with pytest.raises(ValueError, match="not class-conditional"):
        model.sample(2, y=torch.zeros(2, dtype=torch.int64))
    with pytest.raises(ValueError, match="z must have shape"):
        model.generate(torch.zeros(2, 3))


def test_save_load_round_trip_keeps_weights_and_k(trained, tmp_path):
    model, _ = trained
    model.save_pretrained(tmp_path / "b")
    loaded = BEGAN.from_pretrained(tmp_path / "b")
    assert loaded.config == model.config and float(loaded.k) == float(model.k) > 0
    model.eval()
    loaded.eval()
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(model.sample(4, generator=g1), loaded.sample(4, generator=g2))


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(gamma=0.0), "gamma must be a number in"), (dict(gamma=float("nan")), "gamma"), (dict(lambda_k=-0.1), "lambda_k"),
        (dict(width=2), "width must be in"), (dict(latent_dim=1.5), "latent_dim must be an integer"),
    ],
)
def test_bad_settings_are_readable_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        BEGAN(**bad)


def test_loss_refuses_bad_images():
    with pytest.raises(ValueError, match="values in"):
        BEGAN(**TINY).loss(torch.full((2, 1, 28, 28), 2.0))


def test_cli_train_sample_evaluate(tmp_path, capsys, allow_folders, one_thread):
    out = tmp_path / "began"
    settings = ["--set", "width=4", "latent_dim=8", "hidden_dim=8", "gamma=0.7"]
    assert main(["train", "began", "--steps", "20", "--batch-size", "16", "--eval-every", "0", "--out", str(out), *settings]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["config"]["gamma"] == 0.7 and {"convergence", "k", "balance", "d_loss", "g_loss"} <= set(result["train"])
    assert main(["sample", str(out), "--n", "5", "--npy", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (5, 28, 28)
    capsys.readouterr()
    assert main(["evaluate", str(out), "--n-samples", "50"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["family"] == "began" and "convergence" in figures["test_losses"] and "nll_nats" not in figures

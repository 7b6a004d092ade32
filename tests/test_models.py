"""The model contract, for every family in the TINY registry, plus VAE specifics."""

from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import TINY, single_thread

from models import FAMILIES, VAE, GenerativeModel
from models.base import seeded_init
from models.hub import CheckpointError
from playground.core.audio import synthetic_audio
from playground.core.text import shakespeare
from playground.core.training import _labels_if_needed, cycling_labels

NAMES = sorted(TINY)
AUDIO_STEPS = 200  # samples per audio clip in a test batch: 25 ms at 8 kHz


@pytest.fixture(autouse=True)
def _one_thread_for_audio(request):
    """Audio families run many tiny steps: one thread (see ``conftest.single_thread``)."""
    callspec = getattr(request.node, "callspec", None)
    name = callspec.params.get("name") if callspec else None
    if name in TINY and TINY[name][0].data_kind == "audio":
        with single_thread():
            yield
    else:
        yield


def _batch(data, model, n=16):
    """The first ``n`` training examples of the kind the model takes: digits from
    ``data``, or clips of the synthetic audio set cropped to ``AUDIO_STEPS`` samples."""
    if model.data_kind == "audio":
        audio = synthetic_audio()
        return audio.train_codes[:n, :AUDIO_STEPS], _labels_if_needed(model, audio.train_labels[:n])
    if model.data_kind == "text":  # windows of Tiny Shakespeare, cut to 32 characters
        return shakespeare().inputs("train")[:n, :32], None
    x = data.images("train", model.data_kind)[:n]
    return x, _labels_if_needed(model, data.train_labels[:n])


@pytest.mark.parametrize("name", NAMES)
def test_loss_terms_are_finite_scalars(name, data):
    cls, config = TINY[name]
    model = seeded_init(cls, 0, **config)
    x, y = _batch(data, model)
    losses = model.loss(x, y)
    assert "loss" in losses
    for key, value in losses.items():
        assert value.shape == (), key
        assert torch.isfinite(value), key


@pytest.mark.parametrize("name", [n for n in NAMES if issubclass(TINY[n][0], GenerativeModel)])
def test_sample_shape_range_and_seed(name):
    cls, config = TINY[name]
    model = seeded_init(cls, 0, **config).eval()
    y = cycling_labels(5, "cpu") if model.conditional else None
    a = model.sample(5, y, generator=torch.Generator().manual_seed(3))
    b = model.sample(5, y, generator=torch.Generator().manual_seed(3))
    c = model.sample(5, y, generator=torch.Generator().manual_seed(4))
    if model.data_kind == "audio":  # waveforms of the model's default clip length
        assert a.shape == (5, model.clip_samples) and a.dtype == torch.float32
        assert -1 <= float(a.min()) and float(a.max()) <= 1
    elif model.data_kind == "text":  # 200 characters as codes of the model's alphabet
        assert a.shape == (5, 200) and a.dtype == torch.int64
        assert 0 <= int(a.min()) and int(a.max()) < model.vocab_size
    else:
        assert a.shape == (5, 1, 28, 28) and a.dtype == torch.float32
        assert 0 <= float(a.min()) and float(a.max()) <= 1
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip_is_exact(name, tmp_path, data):
    cls, config = TINY[name]
    model = seeded_init(cls, 0, **config).eval()
    model.save_pretrained(tmp_path / "ck")
    files = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert files == ["README.md", "config.json", "model.safetensors"]
    saved = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert saved == {**config | {k: v for k, v in model.config.items()}, "family": model.family}
    loaded = cls.from_pretrained(tmp_path / "ck")
    assert loaded.config == model.config
    for (k, v), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    x, y = _batch(data, model, 4)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert torch.equal(model.loss(x, y, generator=g1)["loss"], loaded.loss(x, y, generator=g2)["loss"])


def _minimises_one_loss(name: str) -> bool:
    # Adversarial families play a game: no single loss goes down (tests/test_gan.py
    # checks that each player improves its own).
    return TINY[name][0].train_step is GenerativeModel.train_step or not issubclass(TINY[name][0], GenerativeModel)


@pytest.mark.parametrize("name", [n for n in NAMES if _minimises_one_loss(n)])
def test_training_steps_lower_the_loss_on_a_fixed_batch(name, data):
    cls, config = TINY[name]
    model = seeded_init(cls, 0, **config)
    x, y = _batch(data, model, 32)
    optimizers = model.configure_optimizers(3e-3)
    model.eval()
    with torch.no_grad():
        before = float(model.loss(x, y, generator=torch.Generator().manual_seed(0))["loss"])
    model.train()
    for _ in range(15):
        model.train_step(x, y, optimizers, torch.Generator().manual_seed(0))
    model.eval()
    with torch.no_grad():
        after = float(model.loss(x, y, generator=torch.Generator().manual_seed(0))["loss"])
    assert after < before


@pytest.mark.parametrize("name", NAMES)
def test_seeded_init_is_reproducible(name):
    cls, config = TINY[name]
    a, b, c = seeded_init(cls, 1, **config), seeded_init(cls, 1, **config), seeded_init(cls, 2, **config)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


def test_registry_names_match_classes():
    for name, cls in FAMILIES.items():
        assert cls.family == name


@pytest.mark.parametrize(
    "bad",
    [
        dict(latent_dim=0), dict(latent_dim=33), dict(latent_dim=2.5), dict(latent_dim=float("nan")),
        dict(latent_dim=True), dict(arch="rnn"), dict(hidden_dim=10**7), dict(beta=-1.0),
        dict(beta=float("nan")), dict(beta=float("inf")), dict(latent_dim="16x"),
    ],
)
def test_vae_refuses_bad_config_with_a_readable_error(bad):
    with pytest.raises(ValueError) as info:
        VAE(**bad)
    key = next(iter(bad))
    assert key in str(info.value) and "must" in str(info.value)


def test_vae_rejects_labels():
    model = VAE(latent_dim=2, arch="mlp", hidden_dim=16)
    with pytest.raises(ValueError, match="not class-conditional"):
        model.sample(3, y=torch.zeros(3, dtype=torch.long))


def test_vae_kl_term_matches_a_monte_carlo_estimate(data):
    """The analytic KL equals E_q[log q(z|x) - log p(z)] estimated by sampling."""
    model = seeded_init(VAE, 0, latent_dim=4, arch="mlp", hidden_dim=32)
    x = data.train_binary[:8]
    with torch.no_grad():
        analytic = model.loss(x)["kl"]
        mu, logvar = model.encode(x)
        q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
        z = q.sample((20000,))
        mc = (q.log_prob(z) - torch.distributions.Normal(0.0, 1.0).log_prob(z)).sum(-1).mean()
    assert abs(float(analytic) - float(mc)) < 0.02 * float(analytic) + 0.01


def test_vae_elbo_uses_beta_only_in_the_loss(data):
    x = data.train_binary[:16]
    for beta in (0.0, 1.0, 4.0):
        model = seeded_init(VAE, 0, latent_dim=4, arch="mlp", hidden_dim=32, beta=beta)
        terms = model.loss(x, generator=torch.Generator().manual_seed(0))
        assert torch.allclose(terms["loss"], terms["reconstruction"] + beta * terms["kl"])
        if beta > 0:  # (with beta = 0 the reconstruction is at z = mu, and the ELBO's at a sample)
            assert torch.allclose(terms["elbo"], -(terms["reconstruction"] + terms["kl"]))


def test_beta_zero_is_a_deterministic_autoencoder_and_beta_one_samples_z(data):
    x = data.train_binary[:16]
    after = []
    for beta, same in ((0.0, True), (1.0, False)):
        model = seeded_init(VAE, 0, latent_dim=4, arch="mlp", hidden_dim=32, beta=beta)
        first, second = (model.loss(x, generator=torch.Generator().manual_seed(s)) for s in (0, 1))
        assert torch.equal(first["reconstruction"], second["reconstruction"]) == same, beta
        assert not torch.equal(first["elbo"], second["elbo"])  # the ELBO samples z whatever beta
        g = torch.Generator().manual_seed(0)
        model.loss(x, generator=g)
        after.append(torch.rand(1, generator=g))
    assert torch.equal(*after)  # both draw the same randomness: trained with one seed, they see the same batches


def test_iwae_bound_is_tighter_than_the_elbo_and_agrees_at_k1(data):
    torch.manual_seed(0)
    model = seeded_init(VAE, 0, latent_dim=4, arch="mlp", hidden_dim=64)
    x = data.test_binary[:64]
    with torch.no_grad():
        elbo = float(model.loss(x)["elbo"])
        k1 = float(model.log_prob(x, n_importance=1).mean())
        k100 = float(model.log_prob(x, n_importance=100).mean())
    assert abs(k1 - elbo) < 0.05 * abs(elbo)  # both are one-sample ELBO estimates
    assert k100 > elbo
    assert math.isfinite(k100)


def test_reparameterisation_lets_gradients_reach_the_encoder(data):
    model = seeded_init(VAE, 0, latent_dim=4, arch="mlp", hidden_dim=32)
    model.loss(data.train_binary[:8])["reconstruction"].backward()
    first = model.encoder[1].weight.grad
    assert first is not None and float(first.abs().sum()) > 0


def test_strict_loading_refuses_non_strict():
    with pytest.raises(CheckpointError, match="non-strict"):
        VAE._from_pretrained(
            model_id="x", revision=None, cache_dir=None, force_download=False, local_files_only=True, token=None, strict=False
        )


def test_iwae_refuses_an_empty_batch():
    model = VAE(latent_dim=2, arch="mlp", hidden_dim=16)
    with pytest.raises(ValueError, match="at least one image"):
        model.log_prob(torch.zeros(0, 1, 28, 28))


def test_slerp_endpoints_norms_and_zero_vectors():
    from playground.core.attributes import slerp

    a, b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 1.0])
    path = slerp(a, b, torch.linspace(0, 1, 5))
    assert torch.allclose(path[0], a) and torch.allclose(path[-1], b, atol=1e-6)
    assert torch.allclose(path.norm(dim=1), torch.linspace(3, 1, 5), atol=1e-5)  # norm interpolated linearly
    zero = slerp(torch.zeros(2), b, torch.linspace(0, 1, 3))
    assert torch.isfinite(zero).all() and torch.allclose(zero[1], b / 2)

"""The sample-quality judge and the Frechet distance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.core.metrics import classifier, classify, frechet_distance, sample_quality
from playground.core.metrics import test_nll as nll_of


def test_shipped_classifier_is_accurate_on_the_test_split(data):
    probs, feats = classify(data.test_grey)
    assert probs.shape == (500, 10) and feats.shape == (500, classifier().n_features)
    assert torch.allclose(probs.sum(1), torch.ones(500), atol=1e-5)
    accuracy = float((probs.argmax(1) == data.test_labels).float().mean())
    assert accuracy >= 0.97


def test_real_digits_score_high_and_noise_scores_low(data):
    real = sample_quality(data.test_grey[:300], data)
    assert real["confident_share"] > 0.9 and real["n_classes_confident"] == 10
    noise = sample_quality(torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0)), data)
    assert noise["n_classes_confident"] <= 3
    assert noise["frechet_distance"] > 20 * real["frechet_distance"]
    assert real["frechet_distance_real"] < noise["frechet_distance"]
    assert sum(real["class_counts"]) == round(real["confident_share"] * 300)


def test_label_agreement_for_conditional_samples(data):
    got = sample_quality(data.test_grey[:100], data, labels=data.test_labels[:100])
    assert got["label_agreement"] >= 0.95
    wrong = sample_quality(data.test_grey[:100], data, labels=(data.test_labels[:100] + 1) % 10)
    assert wrong["label_agreement"] <= 0.05


def test_frechet_distance_known_values():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    b = rng.normal(size=(20000, 3)) + np.array([3.0, 0.0, 0.0])
    assert frechet_distance(a, b) == pytest.approx(9.0, rel=0.05)
    # scaled covariance: (sigma_a - sigma_b)^2 summed over 3 dims = 3 * (1 - 2)^2
    c = rng.normal(size=(20000, 3)) * 2.0
    assert frechet_distance(a, c) == pytest.approx(3.0, rel=0.05)
    with pytest.raises(ValueError):
        frechet_distance(a[:, :2], a)


@pytest.mark.parametrize("bad", [torch.rand(4, 28, 28), torch.full((2, 1, 28, 28), 2.0), torch.full((2, 1, 28, 28), float("nan"))])
def test_classify_refuses_bad_images(bad):
    with pytest.raises(ValueError):
        classify(bad)


def test_test_nll_reports_nats_and_bits_per_dim(data):
    from models import VAE
    from models.base import seeded_init

    model = seeded_init(VAE, 0, latent_dim=2, arch="mlp", hidden_dim=16)
    model.n_importance = 4
    got = nll_of(model, data)
    assert got["nll_kind"] == "iwae_bound" and got["iwae_k"] == 4
    assert 300 < got["nll_nats"] < 800  # an untrained model: ~ 784 * ln 2 = 543 nats
    assert got["nll_bits_per_dim"] == pytest.approx(got["nll_nats"] / (784 * np.log(2)))


def test_stroke_score_separates_noise_templates_and_learnt_filters():
    import torch.nn.functional as F

    from playground.core.checkpoints import load
    from playground.core.metrics import filter_diversity, filter_smoothness, stroke_score

    g = torch.Generator().manual_seed(0)
    noise = torch.randn(784, 50, generator=g)
    assert abs(filter_smoothness(noise)) < 0.05 and filter_diversity(noise) > 0.9
    blob = F.avg_pool2d(torch.randn(1, 1, 28, 28, generator=g), 5, 1, 2).flatten()
    same = blob[:, None].repeat(1, 50) + 0.01 * torch.randn(784, 50, generator=g)
    assert filter_smoothness(same) > 0.5 and filter_diversity(same) < 0.2
    assert stroke_score(noise) < 0.1 and stroke_score(same) < 0.15
    learnt = load("rbm").weight
    assert stroke_score(learnt) > 0.4
    with pytest.raises(ValueError):
        filter_smoothness(torch.zeros(10, 3))

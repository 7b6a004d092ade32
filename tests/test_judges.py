"""The three judges of sample quality, the agreed-confident share, precision/recall and ROC AUC."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from models import MnistClassifier
from models.classifier import random_affine
from playground.core.checkpoints import BUNDLED_DIR, load
from playground.core.metrics import FEATURE_JUDGE, JUDGES, agreed_confident, judge, judges, precision_recall, roc_auc, sample_quality


def test_the_old_classifier_loads_unchanged_as_the_cnn(data):
    net = load("classifier", family="classifier")
    assert net.config == {"width": 32, "n_features": 128, "arch": "cnn", "augment": "shift"}
    stored = load_file(BUNDLED_DIR / "classifier" / "model.safetensors")
    assert set(stored) == set(net.state_dict()) and all(torch.equal(stored[k], v) for k, v in net.state_dict().items())
    with torch.no_grad():
        accuracy = float((net(data.test_grey).argmax(1) == data.test_labels).float().mean())
    assert accuracy == pytest.approx(0.98, abs=1e-6)  # what its model card says


def test_the_judges_are_different_architectures_and_recipes():
    nets = judges()
    assert [n.arch for n in nets] == ["cnn", "mlp", "resnet"] and [n.augment for n in nets] == ["shift", "none", "affine"]
    assert not any(n.training for n in nets) and len(JUDGES) == 3


def test_real_test_digits_are_agreed_confident_and_right(data):
    seen = judge(data.test_grey)
    assert seen.probs.shape == (3, 500, 10) and seen.features[FEATURE_JUDGE].shape == (500, judges()[2].n_features)
    assert torch.allclose(seen.probs.sum(2), torch.ones(3, 500), atol=1e-5)
    mask, labels = agreed_confident(seen.probs)
    assert float(mask.float().mean()) >= 0.9
    assert float((labels[mask] == data.test_labels[mask]).float().mean()) >= 0.99
    for p in seen.probs:
        assert float((p.argmax(1) == data.test_labels).float().mean()) >= 0.95


def test_agreed_confident_needs_every_judge_confident_on_one_label():
    one_hot = torch.eye(10)[[3, 3, 3, 5]]  # (4, 10)
    probs = torch.stack([one_hot, one_hot, one_hot]).clone()  # (3, 4, 10)
    probs[1, 1] = torch.eye(10)[4]  # judge 2 disagrees on image 1
    probs[2, 2] = torch.full((10,), 0.1)  # judge 3 is unsure on image 2
    mask, labels = agreed_confident(probs)
    assert mask.tolist() == [True, False, False, True] and labels.tolist() == [3, 3, 3, 5]
    with pytest.raises(ValueError, match="judges, N, 10"):
        agreed_confident(torch.rand(4, 10))


def test_noise_and_blank_images_are_not_agreed_confident(data):
    noise = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    q = sample_quality(torch.cat([noise, torch.zeros(4, 1, 28, 28)]), data)
    assert q["agreed_confident_share"] <= 0.05 and q["precision"] <= 0.05
    assert q["judge_confident_shares"]["classifier"] > q["agreed_confident_share"]  # one judge alone is fooled more
    real = sample_quality(data.test_grey[:250], data, labels=data.test_labels[:250])
    assert real["agreed_confident_share"] >= 0.85 and real["n_classes_agreed"] == 10 and real["features_judge"] == FEATURE_JUDGE
    assert sum(real["agreed_class_counts"]) == round(real["agreed_confident_share"] * 250) and real["label_agreement_agreed"] == real["agreed_confident_share"]  # every agreed call is right
    assert real["precision"] >= 0.8 and real["recall"] >= 0.8 and real["frechet_distance"] < q["frechet_distance"]


def test_precision_recall_on_toy_gaussians():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(1000, 2))
    p, r = precision_recall(real, rng.normal(size=(1000, 2)))
    assert p >= 0.9 and r >= 0.9  # the same distribution: about 1 and 1
    collapsed = 0.1 * rng.normal(size=(1000, 2))  # all mass near the mode
    p, r = precision_recall(real, collapsed)
    assert p >= 0.95 and r <= 0.3
    far = rng.normal(size=(1000, 2)) + 10.0
    assert precision_recall(real, far) == (0.0, 0.0)


def test_precision_recall_by_hand():
    real = np.array([[0.0], [1.0], [2.0], [10.0]])  # k=1 radii: 1, 1, 1, 8
    fake = np.array([[0.5], [5.0], [30.0]])  # k=1 radii: 4.5, 4.5, 25
    assert precision_recall(real, fake, k=1) == (pytest.approx(2 / 3), pytest.approx(1.0))
    with pytest.raises(ValueError, match="more than k"):
        precision_recall(real[:2], fake, k=3)
    with pytest.raises(ValueError, match="finite"):
        precision_recall(real, np.array([[np.nan], [1.0], [2.0]]), k=1)


def test_roc_auc_by_hand():
    # pairs (inlier > outlier): 3 > 1, 3 > 2, 2 > 1, 2 = 2 (half), 1 = 1 (half) -> 4 / 6
    assert roc_auc([3.0, 2.0, 1.0], [1.0, 2.0]) == pytest.approx(4 / 6)
    assert roc_auc(torch.tensor([5.0, 6.0]), torch.tensor([1.0])) == 1.0 and roc_auc([0.0], [1.0, 2.0]) == 0.0
    with pytest.raises(ValueError, match="at least one"):
        roc_auc([], [1.0])
    with pytest.raises(ValueError, match="finite"):
        roc_auc([np.inf], [1.0])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="arch"):
        MnistClassifier(arch="vit")
    with pytest.raises(ValueError, match="augment"):
        MnistClassifier(augment="mixup")
    with pytest.raises(ValueError, match="shape"):
        judge(torch.rand(2, 28, 28))


def test_random_affine_keeps_range_and_ink():
    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 9:19, 12:16] = 1.0
    warped = random_affine(x, torch.Generator().manual_seed(0))
    assert warped.shape == x.shape and warped.min() >= 0 and warped.max() <= 1 and not torch.equal(warped, x)
    assert (warped.sum((1, 2, 3)) / x.sum((1, 2, 3))).sub(1).abs().max() < 0.3  # scale 0.9-1.1 changes area by at most ~21%


@pytest.mark.parametrize("arch, augment", [("cnn", "shift"), ("mlp", "none"), ("resnet", "affine")])
def test_each_arch_learns_a_few_steps(data, arch, augment):
    torch.manual_seed(0)
    net = MnistClassifier(width=8, n_features=32, arch=arch, augment=augment)
    optimizers = net.configure_optimizers(1e-2)
    x, y = data.train_grey[:32], data.labels("train")[:32]
    generator = torch.Generator().manual_seed(0)
    losses = [float(net.train_step(x, y, optimizers, generator)["loss"]) for _ in range(20)]
    assert np.mean(losses[-3:]) < 0.85 * np.mean(losses[:3]), losses  # augmented, with dropout: the training losses themselves


def test_too_few_samples_for_precision_and_recall_give_none(data):
    q = sample_quality(data.test_grey[:3], data)
    assert q["precision"] is None and q["recall"] is None and q["n_samples"] == 3 and 0 <= q["agreed_confident_share"] <= 1

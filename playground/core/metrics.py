"""Honest numbers, the same for every family: test NLL in nats and sample-quality scores.

Sample quality is judged by three independent MNIST classifiers (``models/classifier.py``) of different
architectures and training recipes, ``JUDGES``: the shipped ``classifier`` (a CNN trained with random shifts),
``judge-mlp`` (an MLP, no augmentation) and ``judge-resnet`` (a small ResNet trained with random affine warps). All
three are trained on the bundled train split only. ``judge-mlp`` and ``judge-resnet`` never chose any checkpoint; ``classifier``
once chose the bundled DCGAN's step count (its confident share on seed-1 samples). One judge alone can be tuned to:
a checkpoint chosen by the classifier that scores it looks better to that classifier than to the eye. So:

- ``agreed_confident_share``: share of samples that every judge classifies with softmax >= 0.9 as the same digit
  (the number every caption shows), with ``n_classes_agreed`` and ``agreed_class_counts``;
- ``precision`` and ``recall`` (Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric for Assessing
  Generative Models", arXiv:1904.06991): the share of samples inside the k-NN manifold of the real test digits
  (quality) and the share of real test digits inside the samples' manifold (coverage), in ``FEATURE_JUDGE``'s
  penultimate-layer feature space;
- the single classifier's ``confident_share`` and ``n_classes_confident`` (kept for comparison, not for captions);
- ``frechet_distance``: the Frechet distance between Gaussians fitted to the classifier's penultimate-layer features
  of the samples and of the real test digits (FID's recipe, Heusel et al. 2017, arXiv:1706.08500, with this network
  in place of Inception; 0 for identical statistics, larger is worse; comparable only between runs with the same
  classifier and similar sample counts, and biased upwards for few samples).
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from models import GenerativeModel, MnistClassifier
from models.checks import check_int
from playground.core.data import MnistSplits

CONFIDENCE = 0.9
CLASSIFIER_NAME = "classifier"
JUDGES = (CLASSIFIER_NAME, "judge-mlp", "judge-resnet")
FEATURE_JUDGE = "judge-resnet"


@functools.lru_cache(maxsize=1)
def classifier() -> MnistClassifier:
    """The shipped judge, on the CPU, in eval mode. Shared read-only: never train it."""
    from playground.core.checkpoints import load

    return load(CLASSIFIER_NAME, family="classifier")


@torch.no_grad()
def classify(images: Tensor, batch_size: int = 1000) -> tuple[Tensor, Tensor]:
    """Class probabilities and features of images (N, 1, 28, 28) in [0, 1].

    Returns:
        ``(probs, features)``: (N, 10) float32 rows summing to 1, and (N, F) float32.

    Raises:
        ValueError: wrong shape, or values that are not finite or outside [0, 1].
    """
    images = _check_images(images)
    net = classifier()
    probs, feats = [], []
    for start in range(0, len(images), batch_size):
        f = net.features(images[start : start + batch_size])
        feats.append(f)
        probs.append(torch.softmax(net.head(f), dim=1))
    return torch.cat(probs), torch.cat(feats)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N, F) and (M, F):

        |mu_a - mu_b|^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a^1/2 S_b S_a^1/2)^1/2),

    computed in float64 through symmetric eigendecompositions (no complex sqrtm).

    Raises:
        ValueError: if the feature sizes differ or a set has fewer than 2 rows.
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"need two (N, F) feature sets with N >= 2 and equal F, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(cov_a)
    sqrt_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    trace_sqrt = np.sqrt(np.clip(cross, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)


class Judgement(NamedTuple):
    """What the judges see in N images: ``probs`` (J, N, 10) float32 class probabilities (rows sum to 1), one slice per
    judge in ``JUDGES`` order, and ``features`` {judge name: (N, F) float32 penultimate-layer features}."""

    probs: Tensor
    features: dict[str, Tensor]


@functools.lru_cache(maxsize=1)
def judges() -> tuple[MnistClassifier, ...]:
    """The shipped judges in ``JUDGES`` order, on the CPU, in eval mode. Shared read-only: never train them."""
    from playground.core.checkpoints import load

    return tuple(load(name, family="classifier") for name in JUDGES)


def _check_images(images: Tensor) -> Tensor:
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"images must have shape (N, 1, 28, 28), got {tuple(images.shape)}")
    images = images.detach().float().cpu()
    if not torch.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise ValueError("images must be finite values in [0, 1]")
    return images


@torch.no_grad()
def judge(images: Tensor, batch_size: int = 1000) -> Judgement:
    """Every judge's class probabilities and features of images (N, 1, 28, 28) in [0, 1] (see ``Judgement``).

    Raises:
        ValueError: wrong shape, or values that are not finite or outside [0, 1].
    """
    images = _check_images(images)
    probs, features = [], {}
    for name, net in zip(JUDGES, judges()):
        p, f = [], []
        for start in range(0, len(images), batch_size):
            f.append(net.features(images[start : start + batch_size]))
            p.append(torch.softmax(net.head(f[-1]), dim=1))
        probs.append(torch.cat(p))
        features[name] = torch.cat(f)
    return Judgement(torch.stack(probs), features)


def agreed_confident(probs: Tensor, confidence: float = CONFIDENCE) -> tuple[Tensor, Tensor]:
    """Which images all judges call confidently (softmax >= ``confidence``) and alike.

    Args:
        probs: (J, N, 10) class probabilities, one slice per judge (``Judgement.probs``).

    Returns:
        ``(mask, labels)``: (N,) bool, True where every judge's top class has p >= ``confidence`` and all top classes
        are the same; (N,) int64, the first judge's top class (meaningful where ``mask`` is True).

    Raises:
        ValueError: if ``probs`` is not (J, N, 10) with J >= 1.
    """
    if probs.ndim != 3 or probs.shape[0] < 1 or probs.shape[2] != 10:
        raise ValueError(f"probs must have shape (judges, N, 10), got {tuple(probs.shape)}")
    conf, pred = probs.max(2)  # (J, N) each
    mask = (conf >= confidence).all(0) & (pred == pred[:1]).all(0)
    return mask, pred[0].long()


def precision_recall(real_features: Tensor | np.ndarray, fake_features: Tensor | np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019, arXiv:1904.06991) of a sample set.

    Each set's manifold is the union of balls around its points, of radius the distance to the point's k-th nearest
    neighbour within the set. Precision is the share of fake points inside the real manifold (are the samples
    realistic?); recall is the share of real points inside the fake manifold (does the model cover the data?). Both in
    [0, 1]; a sample set from the data's own distribution scores about 1 and 1 (for large sets), a collapsed one high
    precision and low recall.

    Args:
        real_features: (N, F) features of real images, N > k; fake_features: (M, F), M > k. Distances in float64.

    Raises:
        ValueError: mismatched shapes, too few rows for k, non-finite values, or k outside [1, 100].
    """
    k = check_int("k", k, 1, 100)
    real, fake = (torch.as_tensor(np.asarray(a), dtype=torch.float64) for a in (real_features, fake_features))
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1] or min(len(real), len(fake)) <= k:
        raise ValueError(f"need two (N, F) feature sets with more than k={k} rows and equal F, got {tuple(real.shape)} and {tuple(fake.shape)}")
    if not (torch.isfinite(real).all() and torch.isfinite(fake).all()):
        raise ValueError("features must be finite")

    def radii(x: Tensor) -> Tensor:  # (N,) distance to the k-th nearest other point
        return torch.cdist(x, x).kthvalue(k + 1, dim=1).values

    between = torch.cdist(fake, real)  # (M, N)
    precision = (between <= radii(real)[None, :]).any(1).double().mean()
    recall = (between <= radii(fake)[:, None]).any(0).double().mean()
    return float(precision), float(recall)


def roc_auc(inlier_scores: Tensor | np.ndarray, outlier_scores: Tensor | np.ndarray) -> float:
    """Area under the ROC curve of a score that should be higher for inliers: the probability that a random inlier
    scores above a random outlier, ties counted 1/2 (the Mann-Whitney U statistic / (n_in n_out)), in [0, 1]; 0.5 is
    chance. Exact, O((n_in + n_out) log n_out).

    Raises:
        ValueError: an empty or non-finite score set.
    """
    inl = np.asarray(inlier_scores, np.float64).ravel()
    out = np.sort(np.asarray(outlier_scores, np.float64).ravel())
    if not len(inl) or not len(out):
        raise ValueError("ROC AUC needs at least one inlier and one outlier score")
    if not (np.isfinite(inl).all() and np.isfinite(out).all()):
        raise ValueError("ROC AUC needs finite scores")
    below = np.searchsorted(out, inl, side="left")
    ties = np.searchsorted(out, inl, side="right") - below
    return float((below.sum() + 0.5 * ties.sum()) / (len(inl) * len(out)))


@functools.lru_cache(maxsize=4)
def _reference(data: MnistSplits) -> Judgement:
    return judge(data.test_grey)


def _reference_features(data: MnistSplits) -> np.ndarray:
    return _reference(data).features[CLASSIFIER_NAME].numpy()


@functools.lru_cache(maxsize=4)
def real_data_frechet(data: MnistSplits, n: int = 1000) -> float:
    """The Frechet distance that real digits get: ``n`` train digits against the test
    split. A sample set scoring near this is as close to the data as real digits are."""
    return frechet_distance(classify(data.train_grey[:n])[1].numpy(), _reference_features(data))


def sample_quality(samples: Tensor, data: MnistSplits, labels: Tensor | None = None) -> dict[str, Any]:
    """Score samples (N, 1, 28, 28) in [0, 1] with the independent judges (see the module docstring).

    Args:
        labels: for class-conditional samples, the (N,) labels asked for; adds ``label_agreement`` (the share the
            classifier reads as their requested label) and ``label_agreement_agreed`` (the share agreed-confident
            as their requested label).

    Returns:
        ``agreed_confident_share`` (in [0, 1]), ``n_classes_agreed`` (0-10), ``agreed_class_counts`` (10 ints),
        ``judge_confident_shares`` ({judge: share confident}), ``precision`` and ``recall`` (in [0, 1], against the
        test split, k = 3, in ``features_judge``'s features; None for fewer than 4 samples), ``features_judge``; the classifier's own
        ``confident_share``, ``n_classes_confident`` and ``class_counts`` (of its confident samples, by digit);
        ``frechet_distance`` (against the test split's features), ``frechet_distance_real`` (what 1,000 real train
        digits score, for scale) and ``n_samples``.

    Raises:
        ValueError: bad images (see ``judge``).
    """
    seen = judge(samples)
    mask, agreed = agreed_confident(seen.probs)
    conf, pred = seen.probs[0].max(1)
    confident = conf >= CONFIDENCE
    precision, recall = precision_recall(_reference(data).features[FEATURE_JUDGE], seen.features[FEATURE_JUDGE]) if len(samples) > 3 else (None, None)
    result: dict[str, Any] = {
        "agreed_confident_share": float(mask.float().mean()),
        "n_classes_agreed": int(agreed[mask].unique().numel()),
        "agreed_class_counts": torch.bincount(agreed[mask], minlength=10).tolist(),
        "judge_confident_shares": {name: float((p.max(1).values >= CONFIDENCE).float().mean()) for name, p in zip(JUDGES, seen.probs)},
        "precision": precision,
        "recall": recall,
        "features_judge": FEATURE_JUDGE,
        "confident_share": float(confident.float().mean()),
        "n_classes_confident": int(pred[confident].unique().numel()),
        "frechet_distance": frechet_distance(seen.features[CLASSIFIER_NAME].numpy(), _reference_features(data)),
        "frechet_distance_real": real_data_frechet(data),
        "class_counts": torch.bincount(pred[confident], minlength=10).tolist(),
        "n_samples": len(samples),
    }
    if labels is not None:
        labels = labels.cpu()
        result["label_agreement"] = float((pred == labels).float().mean())
        result["label_agreement_agreed"] = float((mask & (agreed == labels)).float().mean())
    return result


@torch.no_grad()
def test_nll(model: GenerativeModel, data: MnistSplits, batch_size: int = 100, labels: bool = True) -> dict[str, Any]:
    """Mean test negative log-likelihood of ``model`` on the test split, in nats per image.

    ``labels``: a class-conditional model is given the test labels (-log p(x | y)); with
    False it is not (an autoregressive one then gives its marginal, -log mean_y p(x | y)).

    Returns:
        ``nll_nats``, ``nll_bits_per_dim`` (nats / (784 ln 2)), ``nll_kind`` and the
        model's ``nll_details()`` (e.g. ``iwae_k``).
    """
    x = data.images("test", model.data_kind)
    y = data.labels("test") if model.conditional and labels else None
    total = 0.0
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size].to(model.device)
        yb = y[start : start + batch_size].to(model.device) if y is not None else None
        total += float(model.log_prob(xb, yb).sum())
    nll = -total / len(x)
    return {
        "nll_nats": nll,
        "nll_bits_per_dim": nll / (x[0].numel() * math.log(2)),
        "nll_kind": model.nll_kind,
        **model.nll_details(),
    }


@torch.no_grad()
def completion_accuracy(model: GenerativeModel, data: MnistSplits, rows: int = 14, n: int = 500, seed: int = 0) -> float:
    """How often an autoregressive model completes a held-out digit into the right digit:
    given the top ``rows`` rows of the first ``n`` test digits (binarised), it draws the
    rest pixel by pixel (a class-conditional model draws the label from p(y | top rows)),
    and the fraction in [0, 1] that the independent classifier reads as the true label is
    returned.

    Raises:
        ValueError: a model that cannot complete images, or ``rows``/``n`` out of range.
    """
    if not hasattr(model, "complete"):
        raise ValueError(f"{model.family} cannot complete images pixel by pixel")
    rows = check_int("rows", rows, 1, 27)
    n = check_int("digits", n, 1, len(data.test_labels))
    x = data.images("test", "binary")[:n].to(model.device)
    generator = torch.Generator(device=model.device).manual_seed(seed)
    completed, _ = model.complete(x, rows * 28, None, generator)
    predicted = classify(completed.cpu())[0].argmax(1)
    return float((predicted == data.test_labels[:n]).float().mean())


@torch.no_grad()
def codebook_usage(model: GenerativeModel, x: Tensor) -> dict[str, Any]:
    """How a VQ-VAE (``models.vqvae``) uses its codebook on images x (N, 1, 28, 28), e.g.
    the whole test split, per level (keys suffixed ``_top`` / ``_bottom`` for VQ-VAE-2):
    ``codes_used`` (codes assigned at least once), ``codes_used_share`` (of K, in [0, 1]),
    ``perplexity`` exp(-sum_k p_k ln p_k) of the code frequencies p over all of x (in
    [1, K]; a batch's perplexity depends on the batch size, this one does not) and
    ``dead_codes`` (the ids never assigned).

    Raises:
        ValueError: a model without codes, or bad images.
    """
    if not hasattr(model, "code_usage"):
        raise ValueError(f"{model.family} has no codebook")
    result: dict[str, Any] = {}
    for name, counts in zip(model.level_names, model.code_usage(x)):
        suffix = f"_{name}" if name else ""
        p = counts[counts > 0].double() / counts.sum()
        result[f"codes_used{suffix}"] = int((counts > 0).sum())
        result[f"codes_used_share{suffix}"] = result[f"codes_used{suffix}"] / len(counts)
        result[f"perplexity{suffix}"] = float(torch.exp(-(p * p.log()).sum()))
        result[f"dead_codes{suffix}"] = (counts == 0).nonzero().flatten().tolist()
    return result


def filter_diversity(weight: Tensor) -> float:
    """How different a layer's filters (columns of ``weight``, (V, H), H >= 2) are from
    each other: 1 minus the mean absolute cosine similarity between two filters, each
    centred. Early in RBM training every filter is about the same mean-digit template
    (diversity near 0); random or well-trained filters score near 1.

    Raises:
        ValueError: fewer than 2 filters.
    """
    if weight.dim() != 2 or weight.shape[1] < 2:
        raise ValueError(f"need a (V, H) matrix with H >= 2 filters, got {tuple(weight.shape)}")
    w = weight.detach().double().cpu().T  # (H, V)
    w = w - w.mean(1, keepdim=True)
    w = w / w.norm(dim=1, keepdim=True).clamp_min(1e-12)
    n = len(w)
    return float(1 - ((w @ w.T).abs().sum() - n) / (n * (n - 1)))


def stroke_score(weight: Tensor) -> float:
    """A number for "the filters look like strokes": ``filter_smoothness`` (spatially
    coherent, not noise) times ``filter_diversity`` (not all one template), in [0, 1]
    (negative only for anti-smooth filters). Random filters score about 0, the first
    updates' identical blobs about 0.1, the tab's default 20-epoch RBM about 0.7."""
    return filter_smoothness(weight) * filter_diversity(weight)


def filter_smoothness(weight: Tensor) -> float:
    """How stroke-like a layer of 28 x 28 filters is: the correlation between
    horizontally and vertically adjacent weights of each filter (columns of ``weight``,
    (784, H)), averaged over filters. Random filters score about 0; filters that look like
    pen strokes or blobs (smooth, spatially coherent) score about 0.5 or more.

    Raises:
        ValueError: a matrix without 784 rows.
    """
    if weight.dim() != 2 or weight.shape[0] != 784:
        raise ValueError(f"filters need a (784, H) weight matrix, got {tuple(weight.shape)}")
    w = weight.detach().double().cpu().T.reshape(-1, 28, 28)  # (H, 28, 28)
    w = w - w.mean((1, 2), keepdim=True)
    pairs = [(w[:, :, :-1], w[:, :, 1:]), (w[:, :-1, :], w[:, 1:, :])]
    scores = []
    for a, b in pairs:
        num = (a * b).sum((1, 2))
        den = torch.sqrt((a * a).sum((1, 2)) * (b * b).sum((1, 2))).clamp_min(1e-12)
        scores.append(num / den)
    return float(torch.stack(scores).mean())


def pitch_accuracy(model: GenerativeModel, n_per_class: int = 10, seconds: float = 0.5, seed: int = 0, temperature: float = 1.0) -> dict[str, Any]:
    """How well a WaveNet conditioned on a note's class plays that note: for each note
    class (C4-C5 of the synthetic set), ``n_per_class`` clips of ``seconds`` are
    generated (fast generation, one batch), and a clip counts as right when its dominant
    frequency (FFT peak, ``playground.core.audio.dominant_frequency``) is within 3% (about half
    a semitone) of the note's pitch.

    Returns:
        ``pitch_accuracy`` (share in [0, 1]), ``pitch_accuracy_by_note`` ({note: share}),
        ``pitch_median_cents_error`` (median |1200 log2(f / f_note)| over the clips),
        ``pitch_clips`` and ``generation_samples_per_s`` (the batch's throughput).

    Raises:
        ValueError: a model that is not a conditional WaveNet with at least 8 classes, or
            a setting out of range.
    """
    from playground.core.audio import N_NOTE_CLASSES, NOTE_HZ, NOTE_NAMES, note_pitches

    if getattr(model, "data_kind", None) != "audio" or getattr(model, "n_classes", 0) < N_NOTE_CLASSES:
        raise ValueError("pitch accuracy needs a WaveNet conditioned on the synthetic set's classes")
    n_per_class = check_int("clips per note", n_per_class, 1, 100)
    rate = model.sample_rate_hz
    y = torch.arange(N_NOTE_CLASSES, device=model.device).repeat_interleave(n_per_class)
    start = time.perf_counter()
    clips = model.sample(len(y), y, torch.Generator().manual_seed(seed), n_samples=round(seconds * rate), temperature=temperature).cpu()
    elapsed = time.perf_counter() - start
    freqs, right = note_pitches(clips, y.tolist(), rate)
    cents = [abs(1200 * math.log2(max(f, 1e-6) / NOTE_HZ[int(c)])) for f, c in zip(freqs, y.tolist())]
    by_note = {
        NOTE_NAMES[c]: float(np.mean(right[c * n_per_class : (c + 1) * n_per_class])) for c in range(N_NOTE_CLASSES)
    }
    return {
        "pitch_accuracy": float(np.mean(right)),
        "pitch_accuracy_by_note": by_note,
        "pitch_median_cents_error": float(np.median(cents)),
        "pitch_clips": len(y),
        "generation_samples_per_s": round(clips.numel() / elapsed, 1),
    }

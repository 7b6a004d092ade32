"""Learning from few labels with a generative model: M1 of Kingma et al. 2014.

Kingma, Rezende, Mohamed & Welling 2014, "Semi-Supervised Learning with Deep Generative
Models", arXiv:1406.5298. Model M1: train a VAE on every digit without its label, then
learn a classifier from the few labelled digits on their latent codes instead of their
pixels. The VAE has already learnt, from the unlabelled digits, which directions of
variation matter (stroke, slant, shape), so the classifier needs fewer labels.

Here the VAE is the bundled ``vae`` checkpoint (trained on the 4,500 train digits, labels
unused); a digit's code is the mean of q(z|x) for its binarised image (what the VAE was
trained on). With n labels (``LABELS``: 10, 100, 1,000) the labelled digits are a balanced,
seeded subset of the train split (n/10 per class; the subsets of one seed are nested), and
two classifiers, the same for codes and pixels, learn from them:

- multinomial logistic regression, fitted to convergence by torch's L-BFGS: summed cross-
  entropy + ``L2 / 2 * ||W||^2`` with ``L2 = 1`` (scikit-learn's default, C = 1), bias
  not penalised, on features standardised with the mean and standard deviation of the
  whole (unlabelled) train split (floored at ``STD_FLOOR``);
- 1-nearest neighbour, Euclidean, on the raw features (1, since 10 labels give one per class).

Both settings were fixed before any test accuracy was seen; nothing was chosen by it (and
cross-validation is impossible with one label per class). Pixels are the same binarised
digits the VAE encodes. Accuracy is on the 500 test digits, mean ± sample standard
deviation over the seeds. ``SemiSupViews.m1`` computes once per process (thread-safe).
"""

from __future__ import annotations

import math
import numbers
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor

from models.checks import N_CLASSES, Range
from playground.core import checkpoints
from playground.core.data import MnistSplits
from playground.core.plots import DIGIT_COLOURS, PLAIN_AXIS
from playground.views.base import Context

LABELS = (10, 100, 1000)
SEEDS = Range(1, 10, 5)
CHECKPOINT = "vae"
L2 = 1.0
STD_FLOOR = 1e-2
TARGET_POINTS = 10.0  # the target: codes beat pixels by this many points at 100 labels
FEATURES = ("VAE latent means", "pixels")
CLASSIFIERS = ("logistic regression", "1-NN")
# Kingma et al. 2014, Table 1: test error (%) on full MNIST (50,000 unlabelled digits), 100 labels.
PUBLISHED_100 = {"M1 + TSVM": 11.82, "M2": 11.97, "M1 + M2": 3.33, "nearest neighbour on pixels": 25.81}
_LBFGS = dict(lr=1.0, max_iter=300, tolerance_grad=1e-3, tolerance_change=1e-9, history_size=10, line_search_fn="strong_wolfe")

_lock = threading.Lock()
_features: dict[int, tuple[MnistSplits, dict[str, tuple[Tensor, Tensor]]]] = {}
_results: dict[tuple, tuple[MnistSplits, dict[str, Any]]] = {}


def check_labels(labels: Any, train_labels: Tensor) -> tuple[int, ...]:
    """The label counts ``labels`` as a sorted tuple of distinct ints.

    Each must be a multiple of 10 (the same number per class) between 10 and 10 × the
    smallest class of the train split (4,500 on the bundled digits).

    Raises:
        ValueError: not a non-empty sequence of such counts.
    """
    high = N_CLASSES * int(torch.bincount(train_labels, minlength=N_CLASSES).min())
    if isinstance(labels, str | bytes) or not isinstance(labels, Sequence) or not labels:
        raise ValueError(f"labels must be a non-empty list of label counts (multiples of 10 in [10, {high:,}]), got {labels!r}")
    counts = []
    for n in labels:
        if isinstance(n, bool) or not isinstance(n, numbers.Real) or not math.isfinite(n) or n != int(n) or not 10 <= n <= high or int(n) % N_CLASSES:
            raise ValueError(f"each label count must be a multiple of 10 in [10, {high:,}] (the same number per class), got {n!r}")
        counts.append(int(n))
    return tuple(sorted(set(counts)))


def balanced_subset(train_labels: Tensor, n: int, seed: int) -> Tensor:
    """Indices of ``n`` labelled train digits, ``n / 10`` of each class.

    Each class's indices are permuted with ``numpy.random.default_rng(seed)`` (classes in
    order 0-9) and the first ``n / 10`` kept, so a seed's subsets are nested: its 10 labels
    are among its 100, which are among its 1,000.

    Args:
        train_labels: (N,) int64 digits in [0, 9].

    Returns:
        (n,) int64 indices into the train split, class 0's first.

    Raises:
        ValueError: ``n`` is not a valid count (``check_labels``).
    """
    n = check_labels([n], train_labels)[0]
    rng = np.random.default_rng(seed)
    y = train_labels.cpu().numpy()
    return torch.from_numpy(np.concatenate([rng.permutation(np.flatnonzero(y == c))[: n // N_CLASSES] for c in range(N_CLASSES)]))


def fit_logistic(x: Tensor, y: Tensor, l2: float = L2) -> tuple[Tensor, Tensor]:
    """Multinomial logistic regression by L-BFGS: minimises the summed cross-entropy +
    ``l2 / 2 * ||W||^2`` (bias free), with the analytic gradient X^T (softmax - onehot) + l2 W.

    Args:
        x: (n, F) float32 features (already standardised); y: (n,) int64 in [0, 9].

    Returns:
        ``(W, b)``: (F, 10) and (10,) float32; predict with ``(x @ W + b).argmax(1)``.
    """
    x = x.float()
    onehot = torch.nn.functional.one_hot(y, N_CLASSES).float()
    w = torch.zeros(x.shape[1], N_CLASSES, requires_grad=True)
    b = torch.zeros(N_CLASSES, requires_grad=True)
    optimiser = torch.optim.LBFGS([w, b], **_LBFGS)

    @torch.no_grad()
    def objective() -> Tensor:
        logits = x @ w + b  # (n, 10)
        residual = torch.softmax(logits, 1) - onehot
        w.grad, b.grad = x.T @ residual + l2 * w, residual.sum(0)
        return (logits.logsumexp(1) - (logits * onehot).sum(1)).sum() + 0.5 * l2 * w.pow(2).sum()

    optimiser.step(objective)
    return w.detach(), b.detach()


def _predict(classifier: str, train: Tensor, y: Tensor, test: Tensor, scale: tuple[Tensor, Tensor]) -> Tensor:
    """(n_test,) predicted digits of ``classifier`` trained on (train, y)."""
    if classifier == "1-NN":
        return y[torch.cdist(test, train).argmin(1)]
    mean, std = scale
    w, b = fit_logistic((train - mean) / std, y)
    return ((test - mean) / std @ w + b).argmax(1)


def _features_of(data: MnistSplits, device: torch.device) -> dict[str, tuple[Tensor, Tensor]]:
    """{feature: ((N_train, F), (N_test, F)) float32 on CPU}: the bundled VAE's latent means
    (F = its latent_dim) and the pixels of the binarised digits in {0, 1} (F <= 784); computed
    once per data set (under ``_lock``).

    Raises:
        ValueError: (CheckpointError) the bundled VAE cannot be loaded.
    """
    if id(data) not in _features:
        vae = checkpoints.load(CHECKPOINT, family="vae", device=device)
        with torch.no_grad():
            codes = [torch.cat([vae.encode(x.to(device))[0].cpu() for x in images.split(1000)]) for images in (data.train_binary, data.test_binary)]
        # Pixels that are 0 in every train digit (the corners) change neither classifier (their weights stay 0, and every
        # train digit is equally far from a test digit there), so they are left out: a fifth less work.
        used = data.train_binary.flatten(1).std(0) > 0
        pixels = (data.train_binary.flatten(1)[:, used], data.test_binary.flatten(1)[:, used])
        _features[id(data)] = (data, {FEATURES[0]: (codes[0], codes[1]), FEATURES[1]: pixels})
    return _features[id(data)][1]


def m1_accuracies(data: MnistSplits, labels: Sequence[int] = LABELS, seeds: int = SEEDS.default, device: torch.device | None = None) -> dict[str, Any]:
    """Test accuracies of every (feature, classifier) pair with few labels, cached per process.

    Args:
        data: the digits (train split for the labelled subsets, test split to score).
        labels: label counts (``check_labels``); seeds: subsets per count, in [1, 10] (seeds 0 to seeds - 1).
        device: where the VAE encodes (default CPU); the classifiers fit on CPU.

    Returns:
        ``{"labels": (counts...), "seeds": int, "accuracy": {(feature, classifier): (len(labels), seeds)
        float64 array in [0, 1]}, "seconds": time it took, "n_test": int}``.

    Raises:
        ValueError: bad counts or seeds; the VAE cannot be loaded (CheckpointError).
    """
    labels, seeds = check_labels(labels, data.train_labels), SEEDS.check("seeds", seeds)
    key = (id(data), labels, seeds)
    with _lock:
        if key not in _results:
            start = time.perf_counter()
            features = _features_of(data, device or torch.device("cpu"))
            y_train, y_test = data.train_labels.cpu(), data.test_labels.cpu()
            accuracy = {(f, c): np.zeros((len(labels), seeds)) for f in FEATURES for c in CLASSIFIERS}
            for feature, (train, test) in features.items():
                scale = (train.mean(0), train.std(0).clamp_min(STD_FLOOR))  # the unlabelled train split: no labels used
                for j in range(seeds):
                    for i, n in enumerate(labels):
                        idx = balanced_subset(y_train, n, j)
                        for classifier in CLASSIFIERS:
                            predicted = _predict(classifier, train[idx], y_train[idx], test, scale)
                            accuracy[feature, classifier][i, j] = float((predicted == y_test).double().mean())
            result = {"labels": labels, "seeds": seeds, "accuracy": accuracy, "seconds": time.perf_counter() - start, "n_test": len(y_test)}
            _results[key] = (data, result)
        return _results[key][1]


def clear_cache() -> None:
    """Forget every computed feature and accuracy (the bench times a first call with it)."""
    with _lock:
        _features.clear()
        _results.clear()


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of ``values``, in percent points."""
    return 100 * float(values.mean()), 100 * float(values.std(ddof=1)) if len(values) > 1 else 0.0


def _cell(values: np.ndarray, sign: bool = False) -> str:
    mean, std = _mean_std(values)
    return f"{mean:+.1f} ± {std:.1f}" if sign else f"{mean:.1f} ± {std:.1f}"


def accuracy_figure(result: dict[str, Any]) -> go.Figure:
    """Test accuracy (%) against the number of labels (log x axis), mean with ± 1 standard
    deviation bars over the seeds: one line per feature (colour) and classifier (solid:
    logistic regression, dashed: 1-NN), and chance (10%) dotted."""
    labels, data = list(result["labels"]), []
    for (feature, classifier), values in result["accuracy"].items():
        stats = [_mean_std(row) for row in values]
        data.append(dict(
            type="scatter", x=labels, y=[m for m, _ in stats], error_y=dict(type="data", array=[s for _, s in stats], visible=True),
            mode="lines+markers", name=f"{classifier} on {feature}",
            line=dict(color=DIGIT_COLOURS[FEATURES.index(feature)], dash="solid" if classifier == CLASSIFIERS[0] else "dash"),
        ))
    data.append(dict(type="scatter", x=[labels[0], labels[-1]], y=[100 / N_CLASSES] * 2, mode="lines", name="chance", line=dict(dash="dot", color="#888")))
    layout = dict(
        template="plotly_white", height=360, margin=dict(l=60, r=20, t=50, b=45), legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom"),
        xaxis=dict(type="log", title=dict(text="labelled digits (balanced)"), tickvals=labels, **PLAIN_AXIS),
        yaxis=dict(title=dict(text=f"test accuracy (%), {result['n_test']} digits"), range=[0, 100], **PLAIN_AXIS),
    )
    return go.Figure(dict(data=data, layout=layout))


def m1_table(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): one row per label count; accuracies (%) as "mean ± std" strings, and
    the gain of codes over pixels (paired: the same subsets) for each classifier."""
    headers = ["labels"] + [f"{c}: {f}" for c in CLASSIFIERS for f in FEATURES] + [f"gain, {c} (points)" for c in CLASSIFIERS]
    acc = result["accuracy"]
    rows = []
    for i, n in enumerate(result["labels"]):
        cells = [_cell(acc[f, c][i]) for c in CLASSIFIERS for f in FEATURES]
        gains = [_cell(acc[FEATURES[0], c][i] - acc[FEATURES[1], c][i], sign=True) for c in CLASSIFIERS]
        rows.append([f"{n:,}", *cells, *gains])
    return headers, rows


def m1_note(result: dict[str, Any], data: MnistSplits) -> str:
    """Markdown: what was compared, how the settings were fixed, the gain at 100 labels
    against the target (when 100 is among the counts) and the paper's figures."""
    acc, labels = result["accuracy"], result["labels"]
    text = (
        f"**M1** (Kingma et al. 2014, arXiv:1406.5298): the bundled VAE (`{CHECKPOINT}`), trained on the train digits without their labels, "
        f"encodes each digit to the mean of q(z|x); a classifier learns from a few labelled digits (balanced, {result['seeds']} seeded subsets) "
        f"on those codes or on the pixels (the same binarised digits), and is scored on the {result['n_test']} test digits ({data.describe()}). "
        f"Logistic regression (L-BFGS, L2 weight {L2:g} as scikit-learn's C = 1, standardised features) and 1-nearest neighbour (Euclidean): "
        "settings fixed in advance, none chosen by test accuracy."
    )
    if 100 in labels:
        i = labels.index(100)
        gain = 100 * float((acc[FEATURES[0], CLASSIFIERS[0]][i] - acc[FEATURES[1], CLASSIFIERS[0]][i]).mean())
        verdict = "meets" if gain >= TARGET_POINTS else "falls short of"
        text += f"\n\nWith 100 labels the codes beat the pixels by **{gain:+.1f} points** (logistic regression), which {verdict} the target of +{TARGET_POINTS:g}."
    published = ", ".join(f"{k} {100 - v:.1f}%" for k, v in PUBLISHED_100.items())
    text += (
        f"\n\nThe paper's accuracies with 100 labels, on full MNIST with 50,000 unlabelled digits (Table 1): {published}. "
        f"Its M1 had 50,000 digits to learn from and a transductive SVM; ours learnt from {len(data.train_labels):,}. "
        f"Computed once in {result['seconds']:.1f} s, then kept."
    )
    return text


class SemiSupViews:
    """The "Few labels" panel: M1 against pixels (no session: it reads the bundled VAE only)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def m1(self, labels: Sequence[int] = LABELS, seeds: int = SEEDS.default) -> tuple[list[str], list[list[str]], go.Figure, str]:
        """M1's table, accuracy-against-labels curve and note; the first call computes
        (about 3.5 s of one CPU core's time; a busy machine takes longer), later ones read
        the process's cache.

        Raises:
            ValueError: bad label counts or seeds (``m1_accuracies``).
        """
        result = m1_accuracies(self.ctx.data, labels, seeds, self.ctx.device)
        headers, rows = m1_table(result)
        return headers, rows, accuracy_figure(result), m1_note(result, self.ctx.data)

"""Semi-supervised M1 (Kingma et al. 2014, arXiv:1406.5298), called directly (no gradio):
the labelled subsets, the classifier, the codes against pixels, the table and bad counts."""

from __future__ import annotations

import math
import re
import threading

import pytest
import torch

from playground.views import semisup
from playground.views.base import Context
from playground.views.semisup import CLASSIFIERS, FEATURES, SemiSupViews, balanced_subset, fit_logistic, m1_accuracies


@pytest.fixture(scope="module")
def views(data):
    return SemiSupViews(Context(torch.device("cpu"), data))


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_subsets_are_balanced_seeded_and_nested(data, n):
    idx = balanced_subset(data.train_labels, n, 0)
    assert idx.dtype == torch.int64 and len(idx.unique()) == n
    assert torch.bincount(data.train_labels[idx], minlength=10).tolist() == [n // 10] * 10
    assert torch.equal(idx, balanced_subset(data.train_labels, n, 0))
    assert not torch.equal(idx, balanced_subset(data.train_labels, n, 1))
    if n > 10:
        assert set(balanced_subset(data.train_labels, 10, 0).tolist()) <= set(idx.tolist())


def test_logistic_regression_reaches_the_optimum_of_its_objective(one_thread):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(60) % 10
    x = torch.randn(60, 5, generator=g) * 0.5 + torch.nn.functional.one_hot(y, 10)[:, :5].float() * 3
    w, b = fit_logistic(x, y)
    w, b = w.clone().requires_grad_(), b.clone().requires_grad_()
    objective = torch.nn.functional.cross_entropy(x @ w + b, y, reduction="sum") + 0.5 * w.pow(2).sum()
    objective.backward()
    assert w.grad.abs().max() < 1e-2 and b.grad.abs().max() < 1e-2
    assert torch.equal((x @ w + b).argmax(1)[y < 5], y[y < 5])  # the five classes with a signal are learnt


def test_latent_codes_beat_pixels_at_100_labels(data, one_thread):
    accuracy = m1_accuracies(data, (100,), seeds=2)["accuracy"]
    assert {key: values.shape for key, values in accuracy.items()} == {(f, c): (1, 2) for f in FEATURES for c in CLASSIFIERS}
    assert all(0.1 < float(values.min()) <= float(values.max()) <= 1 for values in accuracy.values())
    for classifier in CLASSIFIERS:
        assert accuracy[FEATURES[0], classifier].mean() > accuracy[FEATURES[1], classifier].mean(), classifier


def test_table_figure_and_note(views, one_thread):
    headers, rows, figure, note = views.m1(labels=(10, 100), seeds=2)
    assert headers[0] == "labels" and len(headers) == 7 and [row[0] for row in rows] == ["10", "100"]
    assert all(re.fullmatch(r"\d+\.\d ± \d+\.\d", cell) for row in rows for cell in row[1:5])
    assert all(re.fullmatch(r"[+-]\d+\.\d ± \d+\.\d", cell) for row in rows for cell in row[5:])
    assert figure.layout.xaxis.type == "log" and len(figure.data) == len(FEATURES) * len(CLASSIFIERS) + 1
    assert all(math.isfinite(v) for trace in figure.data for v in trace.y)
    assert "With 100 labels" in note and "arXiv:1406.5298" in note and "nan" not in note.lower()
    assert views.m1(labels=(100, 10), seeds=2)[1] == rows  # the same counts in another order: the cached result


def test_concurrent_first_calls_compute_once(data, one_thread):
    results = []
    threads = [threading.Thread(target=lambda: results.append(m1_accuracies(data, (20,), seeds=1))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results[0] is results[1]
    assert all(cell.endswith("± 0.0") for cell in semisup.m1_table(results[0])[1][0][1:])  # one seed: a spread of 0, not NaN


@pytest.mark.parametrize("labels", [(15,), (0,), (), "100", (10, 5000), (True,), (float("nan"),), None, (10, "x")])
def test_bad_label_counts_are_readable_errors(views, labels):
    with pytest.raises(ValueError, match="label count"):
        views.m1(labels=labels)


@pytest.mark.parametrize("seeds", [0, 11, "x", 2.5, None])
def test_bad_seeds_are_readable_errors(views, seeds):
    with pytest.raises(ValueError, match="seeds"):
        views.m1(labels=(10,), seeds=seeds)


def test_clear_cache_forgets_results(data, one_thread):
    first = m1_accuracies(data, (10,), seeds=1)
    semisup.clear_cache()
    second = m1_accuracies(data, (10,), seeds=1)
    assert second is not first and all((second["accuracy"][k] == v).all() for k, v in first["accuracy"].items())

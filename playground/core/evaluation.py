"""Evaluate a checkpoint on the test split: the figures ``python -m playground evaluate`` prints.

Test NLL in nats (exact, bound or AIS estimate, with its kind), the VAE's IWAE bound, codebook use of a VQ-VAE,
completion accuracy of an autoregressive model, sample quality by the judges (``metrics.sample_quality``) and, for
WaveNet, NLL per audio sample and pitch accuracy.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from models import VQVAE, GenerativeModel
from models.base import AutoregressiveModel
from models.checks import SEED_MAX, check_int
from playground.core import checkpoints
from playground.core.data import load_mnist
from playground.core.device import get_device
from playground.core.training import cycling_labels, evaluate_losses


def round_figures(values: dict[str, float] | None) -> dict[str, float]:
    """Figures rounded to 4 decimals for JSON and model cards ({} for None)."""
    return {k: round(v, 4) for k, v in (values or {}).items()}


def dataset_for(cls: type, name: str | None):
    """The data a family trains on: the synthetic audio set for WaveNet, else MNIST.

    Raises:
        ValueError: an unknown dataset name, or a name of the other kind.
    """
    if cls.data_kind == "audio":
        from playground.core.audio import synthetic_audio

        if name not in (None, "synthetic-notes"):
            raise ValueError(f"{cls.family} trains on audio: --dataset must be synthetic-notes, got {name!r}")
        return synthetic_audio()
    if cls.data_kind == "text":
        from playground.core.text import text_for

        return text_for(name)
    if cls.data_kind == "pitch":
        from playground.core.pitch import pitch_for

        return pitch_for(name)
    if cls.data_kind == "video":
        from playground.core.moving_digits import video_for

        return video_for(name)
    if name == "synthetic-notes":
        raise ValueError(f"{cls.family} trains on digits: --dataset must be mnist-5k or mnist-full")
    return load_mnist(name)


def nll_range(nll: float, report: dict[str, Any]) -> list[float | None]:
    """[low, high] test NLL in nats from an AIS report's log Z spread (``log_z``, ``log_z_low``,
    ``log_z_high``: ±3 standard errors); an end at -inf (the interval reaches zero weight) is None."""
    return [nll + report[k] - report["log_z"] if math.isfinite(report[k]) else None for k in ("log_z_low", "log_z_high")]


def set_gibbs_steps(model: GenerativeModel, n_gibbs: int | None) -> None:
    """Set the fantasy length of a Boltzmann family (RBM, DBN) from ``--gibbs-steps``.

    Raises:
        ValueError: out of range, or given for a family without Gibbs sampling.
    """
    if n_gibbs is None:
        return
    if not hasattr(model, "n_gibbs"):
        raise ValueError(f"--gibbs-steps applies to Boltzmann machines (rbm, dbn), not to a {model.family}")
    from models.rbm import MAX_GIBBS_STEPS

    model.n_gibbs = check_int("--gibbs-steps", n_gibbs, 1, MAX_GIBBS_STEPS)


def set_ais(model: GenerativeModel, ais_betas: int | None, ais_runs: int | None, data) -> None:
    """Set an RBM's AIS settings from ``--ais-betas`` / ``--ais-runs``, and its base-rate
    model from the train split.

    Raises:
        ValueError: out of range, or given for a family without AIS.
    """
    if not hasattr(model, "set_base_data"):
        if ais_betas is not None or ais_runs is not None:
            raise ValueError(f"--ais-betas and --ais-runs apply to an rbm, not to a {model.family}")
        return
    from models.rbm import MAX_AIS_BETAS, MAX_AIS_RUNS, MIN_AIS_BETAS, MIN_AIS_RUNS

    if ais_betas is not None:
        model.ais_betas = check_int("--ais-betas", ais_betas, MIN_AIS_BETAS, MAX_AIS_BETAS)
    if ais_runs is not None:
        model.ais_runs = check_int("--ais-runs", ais_runs, MIN_AIS_RUNS, MAX_AIS_RUNS)
    model.set_base_data(data.images("train", model.data_kind))


def evaluate(
    source: str, n_samples: int = 1000, iwae_k: int | None = None, seed: int = 0, device: str | None = None,
    dataset: str | None = None, gibbs_steps: int | None = None, ais_betas: int | None = None, ais_runs: int | None = None,
) -> dict[str, Any]:
    """The test-split figures printed by ``evaluate`` (see the README for the keys).

    Raises:
        ValueError: for a bad source or setting.
    """
    from playground.core.metrics import completion_accuracy, sample_quality, test_nll

    dev = get_device(device)
    model = checkpoints.load(source, device=dev)
    data = dataset_for(type(model), dataset)
    result: dict[str, Any] = {"source": source, "family": model.family, "dataset": data.name}
    n_samples = check_int("--n-samples", n_samples, 2, 100_000)
    seed = check_int("--seed", seed, 0, SEED_MAX)
    if model.data_kind == "audio":
        return {**result, **_evaluate_audio(model, data, seed)}
    if model.data_kind not in ("binary", "grey"):  # text, pitch-conditioned audio, video: the test losses, in the family's units
        test = evaluate_losses(model, data.inputs("test", model.data_kind), data.labels("test") if model.conditional else None, seed=seed)
        figures = {"test_figures": round_figures(data.test_figures(model.eval(), seed))} if hasattr(data, "test_figures") else {}  # pitch: tracking error in cents
        return {**result, "test_losses": round_figures(test), **figures}
    y_test = data.test_labels if model.conditional else None
    set_gibbs_steps(model, gibbs_steps)
    set_ais(model, ais_betas, ais_runs, data)
    test_losses = evaluate_losses(model, data.images("test", model.data_kind), y_test, seed=seed)
    if not isinstance(model, GenerativeModel):
        return {**result, "test_accuracy": test_losses.get("accuracy"), "test_loss_nats": test_losses["loss"]}
    if iwae_k is not None and hasattr(model, "n_importance"):
        model.n_importance = check_int("--iwae-k", iwae_k, 1, 100_000)
    if model.nll_kind != "none":  # GANs have no likelihood to report
        torch.manual_seed(seed)
        start = time.perf_counter()
        result.update(test_nll(model, data))
        if "log_z_low" in result:  # an AIS estimate: the NLL's range from log Z's spread
            result["nll_nats_range"] = nll_range(result["nll_nats"], result)
        result["nll_seconds"] = round(time.perf_counter() - start, 2)
    if model.conditional and "nll_nats" in result:  # test_nll gave log p(x | y); the marginal log mean_y p(x | y) compares with the others
        result["nll_nats_given_label"] = result["nll_nats"]
        marginal = test_nll(model, data, labels=False)
        result["nll_nats"], result["nll_bits_per_dim"] = marginal["nll_nats"], marginal["nll_bits_per_dim"]
    if isinstance(model, VQVAE):
        result.update(_evaluate_codes(model, data, n_samples, seed))
    if isinstance(model, AutoregressiveModel):
        start = time.perf_counter()
        result["completion_accuracy"] = completion_accuracy(model, data, rows=14, seed=seed)
        result["completion_seconds"] = round(time.perf_counter() - start, 2)
    if "elbo" in test_losses:
        result["neg_elbo_nats"] = -test_losses["elbo"]
    result["test_losses"] = round_figures(test_losses)
    if hasattr(model, "test_figures"):  # translation families (cyclegan, srgan): their own figures on the test digits
        result["test_figures"] = round_figures(model.test_figures(data.images("test", model.data_kind)[:n_samples].to(dev)))
    labels = cycling_labels(n_samples, dev) if model.conditional else None
    samples = model.sample(n_samples, y=labels, generator=torch.Generator().manual_seed(seed)).float().cpu()
    result.update(sample_quality(samples, data, labels))
    return result


def _evaluate_codes(model: VQVAE, data, n_samples: int, seed: int) -> dict[str, Any]:
    """A VQ-VAE's codebook on the whole test split (``metrics.codebook_usage``: codes used,
    their share of K, perplexity, dead codes, per level) and the quality of ``n_samples``
    decodes of uniformly random codes (``uniform_codes_*``): what the prior adds."""
    from playground.core.metrics import codebook_usage, sample_quality

    decodes = model.decode_codes(model.uniform_codes(n_samples, torch.Generator().manual_seed(seed))).float().cpu()
    uniform = sample_quality(decodes, data)
    keys = ("agreed_confident_share", "n_classes_agreed", "precision", "recall", "confident_share", "n_classes_confident", "frechet_distance", "class_counts")
    return {**codebook_usage(model, data.images("test", model.data_kind)), **{f"uniform_codes_{k}": uniform[k] for k in keys}}


def _evaluate_audio(model, data, seed: int) -> dict[str, Any]:
    """WaveNet's figures: exact test NLL in nats and bits per audio sample, and, for a
    model conditioned on the synthetic set's classes, pitch accuracy of generated notes."""
    from playground.core.metrics import pitch_accuracy

    y_test = data.test_labels if model.conditional else None
    start = time.perf_counter()
    losses = evaluate_losses(model, data.inputs("test"), y_test, seed=seed)
    result: dict[str, Any] = {
        "nll_nats_per_sample": losses["nll"],
        "nll_bits_per_sample": losses["bits_per_sample"],
        "nll_kind": model.nll_kind,
        "nll_seconds": round(time.perf_counter() - start, 2),
        "receptive_field_samples": model.receptive_field,
        "receptive_field_ms": model.receptive_field_ms,
    }
    if model.conditional and model.n_classes >= 8:
        torch.manual_seed(seed)
        result.update(pitch_accuracy(model, seed=seed))
    return result

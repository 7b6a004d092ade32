"""Command line: ``python -m playground train|sample|evaluate|bench``.

    python -m playground train vae [--steps N] [--out DIR] [--seed S] [--device D]
                                   [--lr LR] [--batch-size B] [--set key=value ...]
    python -m playground sample SOURCE --n N [--label L] [--seed S] [--gibbs-steps G] [--out grid.png] [--npy samples.npy]
    python -m playground sample wavenet --seconds S [--label L] [--temperature T] --wav out.wav
    python -m playground evaluate SOURCE [--n-samples N] [--iwae-k K] [--gibbs-steps G] [--ais-betas B] [--ais-runs R] [--seed S]
    python -m playground bench [--json] [--quick]

SOURCE is a bundled name (e.g. ``vae``), a checkpoint folder or a Hub repo id. Results go
to stdout (``train`` ends with one JSON line; ``evaluate`` prints one JSON object);
progress goes to stderr. Bad input exits with status 2 and a one-line ``error:`` message.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models import FAMILIES, VQVAE, GenerativeModel
from models.base import AutoregressiveModel, seeded_init
from models.checks import SEED_MAX, check_float, check_int
from playground.core import checkpoints
from playground.core.data import load_mnist
from playground.core.device import get_device
from playground.core.training import TrainConfig, cycling_labels, evaluate_losses, train


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _parse_settings(pairs: list[str]) -> dict[str, Any]:
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes key=value, got {pair!r}")
        settings[key.strip()] = _parse_value(value.strip())
    return settings


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _round(values: dict[str, float] | None) -> dict[str, float]:
    return {k: round(v, 4) for k, v in (values or {}).items()}


def _dataset(cls: type, name: str | None):
    """The data a family trains on: the synthetic audio set for WaveNet, else MNIST.

    Raises:
        ValueError: an unknown dataset name, or a name of the other kind.
    """
    if cls.data_kind == "audio":
        from playground.core.audio import synthetic_audio

        if name not in (None, "synthetic-notes"):
            raise ValueError(f"{cls.family} trains on audio: --dataset must be synthetic-notes, got {name!r}")
        return synthetic_audio()
    if name == "synthetic-notes":
        raise ValueError(f"{cls.family} trains on digits: --dataset must be mnist-5k or mnist-full")
    return load_mnist(name)


def cmd_train(args: argparse.Namespace) -> int:
    cls = FAMILIES[args.family]
    device = get_device(args.device)
    data = _dataset(cls, args.dataset)
    model_config = _parse_settings(args.set)
    unknown = sorted(set(model_config) - set(inspect.signature(cls.__init__).parameters) - {"self"})
    if unknown:
        known = ", ".join(sorted(set(inspect.signature(cls.__init__).parameters) - {"self"}))
        raise ValueError(f"{args.family} has no setting {', '.join(unknown)}; its settings are: {known}")
    check_int("--seed", args.seed, 0, SEED_MAX)
    model = seeded_init(cls, args.seed, **model_config).to(device)
    overrides = {
        k: v for k, v in (("steps", args.steps), ("lr", args.lr), ("lr_d", args.lr_d), ("batch_size", args.batch_size)) if v is not None
    }
    config = TrainConfig(**{**cls.train_defaults, **overrides, "seed": args.seed, "sample_every": 0, "eval_every": args.eval_every})
    out = Path(args.out or Path("runs") / args.family)
    _log(f"training {args.family} {model.config} on {data.describe()}, device {device}, {config.steps} steps")
    final = None
    for event in train(model, data, config):
        if event.final:
            final = event
        elif event.step % (config.log_every * 8) == 0 or event.test_losses:
            terms = "  ".join(f"{k} {v:.3f}" for k, v in event.losses.items())
            test = f"  | test {event.test_losses['loss']:.3f}" if event.test_losses else ""
            _log(f"step {event.step:6d}  {event.elapsed_s:7.1f}s  {terms}{test}")
    assert final is not None
    _log(final.message)
    notes = (
        f"Trained with `python -m playground train {args.family} --steps {config.steps} --lr {config.lr:g} "
        f"--batch-size {config.batch_size} --seed {args.seed}{f' --lr-d {config.lr_d:g}' if config.lr_d else ''}"
        f"{' --set ' + ' '.join(f'{k}={json.dumps(v)}' for k, v in model_config.items()) if model_config else ''}` on {data.describe()}.\n\n"
        f"Test losses ({'nats per audio sample' if cls.data_kind == 'audio' else 'nats per image'} unless named otherwise): "
        f"{json.dumps(_round(final.test_losses))}"
    )
    model.save_pretrained(out, notes=notes)
    result = {
        "family": args.family,
        "config": model.config,
        "status": final.status,
        "message": final.message,
        "steps": final.step,
        "seconds": round(final.elapsed_s, 2),
        "dataset": data.name,
        "device": str(device),
        "train": _round(final.losses),
        "test": _round(final.test_losses),
        "out": str(out),
    }
    print(json.dumps(result))
    return 0 if final.status == "done" else 1


def _generative(source: str, device: torch.device) -> GenerativeModel:
    model = checkpoints.load(source, device=device)
    if not isinstance(model, GenerativeModel):
        raise ValueError(f"{source} is a {model.family}, not a generative model: it cannot sample")
    return model


def cmd_sample(args: argparse.Namespace) -> int:
    device = get_device(args.device)
    n = check_int("--n", args.n, 1, 10_000)
    seed = check_int("--seed", args.seed, 0, SEED_MAX)
    model = _generative(args.source, device)
    if model.data_kind == "audio":
        return _sample_audio(model, args, seed)
    if args.wav or args.seconds is not None or args.temperature is not None:
        raise ValueError(f"--wav, --seconds and --temperature apply to wavenet, not to a {model.family}")
    if not args.out and not args.npy:
        raise ValueError("say where to write the samples: --out grid.png and/or --npy samples.npy")
    _set_gibbs_steps(model, args.gibbs_steps)
    labels = None
    if args.label is not None:
        if not model.conditional:
            raise ValueError(f"{args.source} is a {model.family}, which is not class-conditional: --label does not apply")
        labels = torch.full((n,), check_int("--label", args.label, 0, 9), dtype=torch.int64, device=device)
    elif model.conditional:
        labels = cycling_labels(n, device)
    images = model.sample(n, y=labels, generator=torch.Generator().manual_seed(seed)).float().cpu()
    if args.out:
        from torchvision.utils import save_image

        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        # Labels cycling 0-9 line up as one digit per column in rows of 10.
        nrow = 10 if model.conditional and args.label is None else int(np.ceil(np.sqrt(n)))
        save_image(images, args.out, nrow=nrow, padding=2, pad_value=0.35)
        _log(f"wrote {args.out}")
    if args.npy:
        Path(args.npy).parent.mkdir(parents=True, exist_ok=True)
        np.save(args.npy, images[:, 0].numpy().astype(np.float32))  # (N, 28, 28) in [0, 1]
        _log(f"wrote {args.npy}")
    return 0


def _sample_audio(model, args: argparse.Namespace, seed: int) -> int:
    """``sample`` for WaveNet: ``--n`` clips of ``--seconds`` (class ``--label``, or
    classes 0, 1, ... in turn), fast generation, written one after the other (with 0.1 s
    of silence between) to ``--wav``, and as an (N, T) float32 array to ``--npy``."""
    from playground.core.audio import join_clips, to_wav

    n = check_int("--n", args.n, 1, 64)
    if not args.wav and not args.npy:
        raise ValueError("say where to write the audio: --wav out.wav and/or --npy clips.npy")
    if args.out or args.gibbs_steps is not None:
        raise ValueError("--out and --gibbs-steps apply to image models; give --wav for audio")
    seconds = check_float("--seconds", 1.0 if args.seconds is None else args.seconds, 0.01, 10.0)
    temperature = check_float("--temperature", 1.0 if args.temperature is None else args.temperature, 0.01, 5.0)
    rate = model.sample_rate_hz
    labels = None
    if model.conditional:
        if args.label is None:
            labels = torch.arange(n, device=model.device) % model.n_classes
        else:
            labels = torch.full((n,), check_int("--label", args.label, 0, model.n_classes - 1), dtype=torch.int64, device=model.device)
    elif args.label is not None:
        raise ValueError(f"{args.source} is not conditional: --label does not apply")
    start = time.perf_counter()
    clips = model.sample(
        n, labels, torch.Generator().manual_seed(seed), n_samples=round(seconds * rate), temperature=temperature
    ).float().cpu()
    elapsed = time.perf_counter() - start
    _log(f"generated {n} x {seconds:g} s in {elapsed:.1f} s ({n * clips.shape[1] / elapsed:,.0f} samples/s, real-time factor {elapsed / (n * seconds):.2f})")
    if args.wav:
        Path(args.wav).parent.mkdir(parents=True, exist_ok=True)
        to_wav(join_clips(clips, rate, 0.1), rate, args.wav)
        _log(f"wrote {args.wav}")
    if args.npy:
        Path(args.npy).parent.mkdir(parents=True, exist_ok=True)
        np.save(args.npy, clips.numpy().astype(np.float32))  # (N, T) in [-1, 1]
        _log(f"wrote {args.npy}")
    return 0


def _set_gibbs_steps(model: GenerativeModel, n_gibbs: int | None) -> None:
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


def _set_ais(model: GenerativeModel, ais_betas: int | None, ais_runs: int | None, data) -> None:
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
    data = _dataset(type(model), dataset)
    result: dict[str, Any] = {"source": source, "family": model.family, "dataset": data.name}
    n_samples = check_int("--n-samples", n_samples, 2, 100_000)
    seed = check_int("--seed", seed, 0, SEED_MAX)
    if model.data_kind == "audio":
        return {**result, **_evaluate_audio(model, data, seed)}
    y_test = data.test_labels if model.conditional else None
    _set_gibbs_steps(model, gibbs_steps)
    _set_ais(model, ais_betas, ais_runs, data)
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
            result["nll_nats_range"] = [result["nll_nats"] + result[k] - result["log_z"] for k in ("log_z_low", "log_z_high")]
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
    result["test_losses"] = _round(test_losses)
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
    keys = ("confident_share", "n_classes_confident", "frechet_distance", "class_counts")
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


def cmd_evaluate(args: argparse.Namespace) -> int:
    result = evaluate(
        args.source, args.n_samples, args.iwae_k, args.seed, args.device, args.dataset, args.gibbs_steps, args.ais_betas, args.ais_runs,
    )
    print(json.dumps(_finite(result), allow_nan=False))
    return 0


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float (an AIS interval reaching 0 gives -inf)
    replaced by None, so that the output is strict JSON (null, not -Infinity)."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def cmd_bench(args: argparse.Namespace) -> int:
    from playground.bench import run_bench

    figures = run_bench(quick=args.quick, log=_log, only=args.only)
    if args.json:
        print(json.dumps(figures))
    else:
        for family, values in figures.items():
            print(f"[{family}]")
            for key, value in values.items():
                print(f"  {key:32s} {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m playground", description="Generative Models Playground command line.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a family on the train split and save it")
    p.add_argument("family", choices=sorted(FAMILIES))
    p.add_argument("--steps", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--lr-d", type=float, help="discriminator learning rate (GANs; default: --lr)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="folder to save to (default runs/FAMILY)")
    p.add_argument("--device")
    p.add_argument("--dataset", help="mnist-5k (default) or mnist-full; synthetic-notes for wavenet (its only set)")
    p.add_argument("--eval-every", type=int, default=250, help="steps between test-loss reports (0 = only at the end)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="model settings, e.g. latent_dim=8 arch=mlp")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("sample", help="draw samples to a PNG grid and/or an .npy array")
    p.add_argument("source")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--label", type=int, help="digit for class-conditional models; class id for wavenet (0-7 notes C4-C5, 8 chirp, 9 melody)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gibbs-steps", type=int, help="RBM/DBN: Gibbs steps of the fantasy chain from noise (default 1000)")
    p.add_argument("--out", help="PNG grid")
    p.add_argument("--npy", help="array (N, 28, 28) float32 in [0, 1]; for wavenet (N, T) in [-1, 1]")
    p.add_argument("--wav", help="wavenet: a 16-bit WAV of the clips, one after the other")
    p.add_argument("--seconds", type=float, help="wavenet: seconds per clip (default 1)")
    p.add_argument("--temperature", type=float, help="wavenet: softmax temperature (default 1)")
    p.add_argument("--device")
    p.set_defaults(run=cmd_sample)

    p = sub.add_parser("evaluate", help="test NLL and sample quality as one JSON object")
    p.add_argument("source")
    p.add_argument("--n-samples", type=int, default=1000)
    p.add_argument("--iwae-k", type=int, help="importance samples per test digit (VAE; default 1000)")
    p.add_argument("--gibbs-steps", type=int, help="RBM/DBN: Gibbs steps per sample (default 1000)")
    p.add_argument("--ais-betas", type=int, help="RBM: AIS intermediate temperatures (default 14500)")
    p.add_argument("--ais-runs", type=int, help="RBM: independent AIS runs (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device")
    p.add_argument("--dataset")
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("bench", help="speed figures (throughput, latency, start-up)")
    p.add_argument("--json", action="store_true", help="one JSON object, nested by family")
    p.add_argument("--quick", action="store_true", help="fewer repetitions (for tests)")
    p.add_argument("--only", help="one part: warmup, vae, gan, boltzmann, autoregressive, wavenet, vqvae or app")
    p.set_defaults(run=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 for bad input, with a readable message)."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as err:  # includes CheckpointError: a readable message, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. --out names a file, or a folder that cannot be written
        print(f"error: cannot read or write {err.filename or ''}: {err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

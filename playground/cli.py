"""Command line: ``python -m playground train|sample|evaluate|compare|bench|push|loadtest``.

    python -m playground train vae [--steps N] [--out DIR] [--seed S] [--device D]
                                   [--lr LR] [--batch-size B] [--set key=value ...] [--data FILE ...]
    python -m playground sample SOURCE --n N [--label L] [--seed S] [--gibbs-steps G] [--out grid.png] [--npy samples.npy]
    python -m playground sample wavenet --seconds S [--label L] [--temperature T] --wav out.wav
    python -m playground evaluate SOURCE [--n-samples N] [--iwae-k K] [--gibbs-steps G] [--ais-betas B] [--ais-runs R] [--seed S]
    python -m playground compare [--json] [--write] [--rows ID,ID] [--fresh] [--dataset D]
    python -m playground bench [--json] [--quick]
    python -m playground novelty [--json] [--write] [--dataset D]
    python -m playground push SOURCE REPO_ID [--private] [--token T]    (the token: HF_TOKEN by default)
    python -m playground loadtest [--url URL] [--sessions N] [--trainings T] [--duration-s S] [--ramp-s R] [--seed S] [--json]

SOURCE is a bundled name (e.g. ``vae``), a checkpoint folder or a Hub repo id. Results go
to stdout (``train`` ends with one JSON line; ``evaluate`` prints one JSON object);
progress goes to stderr. Bad input exits with status 2 and a one-line ``error:`` message
(``loadtest`` exits 1 when a call failed or an output was empty or undecodable).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models import FAMILIES, GenerativeModel
from models.base import seeded_init
from models.checks import SEED_MAX, check_float, check_int
from playground.core import checkpoints, hub_push
from playground.core.device import get_device
from playground.core.evaluation import dataset_for, evaluate, round_figures, set_gibbs_steps
from playground.core.training import TrainConfig, cycling_labels, train


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


UNITS = {"audio": "nats per audio sample", "text": "nats per character", "pitch": "nats per audio sample", "video": "nats per frame"}


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _own_data(cls: type, files: list[str]) -> Any:
    """``user_data.import_uploads`` of ``files`` (default options) for an image family.

    Raises:
        ValueError: an audio family, or files that cannot be imported (the message says why).
    """
    if cls.data_kind not in ("binary", "grey"):
        raise ValueError(f"--data takes images; {cls.family} trains on {cls.data_kind}")
    from playground.core.user_data import import_uploads

    return import_uploads(files)


def cmd_train(args: argparse.Namespace) -> int:
    cls = FAMILIES[args.family]
    device = get_device(args.device)
    data = _own_data(cls, args.data) if args.data else dataset_for(cls, args.dataset)
    model_config = _parse_settings(args.set)
    unknown = sorted(set(model_config) - set(inspect.signature(cls.__init__).parameters) - {"self"})
    if unknown:
        known = ", ".join(sorted(set(inspect.signature(cls.__init__).parameters) - {"self"}))
        raise ValueError(f"{args.family} has no setting {', '.join(unknown)}; its settings are: {known}")
    check_int("--seed", args.seed, 0, SEED_MAX)
    model = seeded_init(cls, args.seed, **model_config).to(device)
    if hasattr(model, "set_teacher"):  # a distilled student (Parallel WaveNet) learns from its teacher checkpoint
        model.set_teacher(checkpoints.load(model.teacher_name, device=device))
    model.trained_on = data.describe() if args.data else ""
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
        f"{' --data ' + ' '.join(Path(f).name for f in args.data) if args.data else ''}"
        f"{' --set ' + ' '.join(f'{k}={json.dumps(v)}' for k, v in model_config.items()) if model_config else ''}` on {data.describe()}.\n\n"
        f"Test losses ({UNITS.get(cls.data_kind, 'nats per image')} unless named otherwise): "
        f"{json.dumps(round_figures(final.test_losses))}"
        f"{chr(10) * 2 + cls.card_note if getattr(cls, 'card_note', '') else ''}"
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
        "train": round_figures(final.losses),
        "test": round_figures(final.test_losses),
        "out": str(out),
    }
    print(json.dumps(result))
    return 0 if final.status in ("done", "capped") else 1  # capped: PLAYGROUND_MAX_TRAIN_S ended it, weights and figures kept


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
    if model.data_kind in ("audio", "pitch"):  # a pitch-conditioned WaveNet plays a steady A4 (models.wavenet_local)
        return _sample_audio(model, args, seed)
    if model.data_kind not in ("binary", "grey"):
        return _sample_sequences(model, args, n, seed)
    if args.wav or args.seconds is not None or args.temperature is not None:
        raise ValueError(f"--wav, --seconds and --temperature apply to wavenet, not to a {model.family}")
    if not args.out and not args.npy:
        raise ValueError("say where to write the samples: --out grid.png and/or --npy samples.npy")
    set_gibbs_steps(model, args.gibbs_steps)
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


def _sample_sequences(model, args: argparse.Namespace, n: int, seed: int) -> int:
    """``sample`` for a text or video family: ``model.sample`` (texts as codes, clips as frames) to ``--npy``; texts are also printed."""
    samples = model.sample(check_int("--n", n, 1, 64), generator=torch.Generator().manual_seed(seed)).cpu()
    if model.data_kind == "text":
        print("\n\n".join(model.decode(row) for row in samples))
    if args.npy:
        Path(args.npy).parent.mkdir(parents=True, exist_ok=True)
        np.save(args.npy, samples.numpy())
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
    if model.conditional and model.n_classes:  # class ids; a pitch-conditioned WaveNet has no classes
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


def cmd_loadtest(args: argparse.Namespace) -> int:
    """``loadtest``: a class of gradio_client sessions against the app (``playground.bench.loadtest``)."""
    from playground.bench.loadtest import run_cli

    return run_cli(args, _log)


def cmd_table(args: argparse.Namespace) -> int:
    """``compare`` and ``novelty``: the views' own table printers."""
    if args.command == "compare":
        from playground.views.compare import run_cli

        return run_cli(args.json, args.write, args.dataset, args.rows, args.fresh)
    from playground.views.novelty import run_cli as novelty_cli

    return novelty_cli(args.json, args.write, args.dataset)


def cmd_push(args: argparse.Namespace) -> int:
    """``push``: the checkpoint SOURCE to the Hub repo REPO_ID, with a card (the data, a command that trains one like it,
    the notes of a local checkpoint's own card) and a grid of 64 samples; prints the repo's URL. The token comes from
    ``--token`` or ``HF_TOKEN`` and is never printed."""
    token = os.environ.get("HF_TOKEN", "") if args.token is None else args.token
    if not token.strip():
        raise ValueError("give a Hugging Face token with write permission: set HF_TOKEN (or pass --token)")
    repo_id = checkpoints.check_repo_id(args.repo_id)
    model = checkpoints.load(args.source)
    _log(f"pushing {model.family} to {repo_id}{' (private)' if args.private else ''}")
    samples, command = hub_push.sample_images(model), hub_push.train_command(model)
    print(hub_push.push(model, repo_id, token, private=args.private, notes=_own_notes(args.source), samples=samples, command=command))
    return 0


def _own_notes(source: str) -> str:
    """What ``train`` wrote into a local checkpoint's card under its "Use it" line (the exact command and the test
    losses), to carry over to the pushed card; "" for a Hub repo id or a card without it."""
    kind, location = checkpoints.resolve(source)
    card = Path(location, "README.md")
    if kind == "hub" or not card.is_file():
        return ""
    _, found, rest = card.read_text(encoding="utf-8", errors="replace").partition("\n- Use it: ")
    return rest.partition("\n")[2].strip()[:5000] if found else ""


def _loadtest_parser(sub: Any) -> None:
    """The ``loadtest`` subcommand's options (checked by ``loadtest.check_options``)."""
    p = sub.add_parser("loadtest", help="a class against the app: sessions making light calls while others train; errors, empty outputs, latencies, RSS")
    p.add_argument("--url", help="the app to load (default: launch app.py offline on a free port and stop it after)")
    p.add_argument("--pid", type=int, help="the server's pid on this machine, for its RSS (found by itself when --url is on localhost)")
    p.add_argument("--sessions", type=int, default=30, help="independent client sessions making light calls (default 30)")
    p.add_argument("--trainings", type=int, default=2, help="other sessions training meanwhile: a VAE, a GAN, a VAE... (default 2)")
    p.add_argument("--duration-s", type=float, default=60.0, help="seconds of load, the ramp included (default 60)")
    p.add_argument("--ramp-s", type=float, default=10.0, help="seconds over which the sessions start, one after another (default 10)")
    p.add_argument("--think-s", type=float, nargs=2, default=[0.5, 2.0], metavar=("LOW", "HIGH"), help="think time between a session's calls (default 0.5 2)")
    p.add_argument("--alone-s", type=float, default=15.0, help="seconds of each training alone first, to compare its steps/s (0: skip; default 15)")
    p.add_argument("--seed", type=int, default=0, help="seeds the sessions' calls and think times")
    p.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    p.set_defaults(run=cmd_loadtest)


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
    p.add_argument("--data", nargs="+", metavar="FILE", help="your own images instead: a .zip, image files or an .npz (as the app's Your data tab takes)")
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
    p.add_argument("--only", help="one part: warmup, vae, gan, boltzmann, autoregressive, wavenet, sequences, vqvae, semisup or app")
    p.set_defaults(run=cmd_bench)

    tables = (("compare", "every family's test NLL, sample quality, size and speed in one table", "rows in assets/compare.json"), ("novelty", "ROC AUC of each density against outlier sets, by log p and by typicality", "scores in assets/novelty.json"))
    for name, text, kept in tables:
        p = sub.add_parser(name, help=text)
        p.add_argument("--json", action="store_true", help="one JSON object, keyed by row or model")
        p.add_argument("--write", action="store_true", help=f"keep the {kept}")
        p.add_argument("--dataset")
        p.set_defaults(run=cmd_table)
    compare = sub.choices["compare"]
    compare.add_argument("--rows", help="only these comma-separated row ids, e.g. rbm,dbn (default: every family)")
    compare.add_argument("--fresh", action="store_true", help="recompute the rows it holds too")

    p = sub.add_parser("push", help="push a checkpoint to a Hugging Face Hub repo, with a model card and a grid of samples")
    p.add_argument("source", help="a bundled name, a checkpoint folder or a Hub repo id")
    p.add_argument("repo_id", help="owner/name: your user name or an organisation you belong to")
    p.add_argument("--private", action="store_true", help="make a new repo private")
    p.add_argument("--token", help="a token with write permission (default: HF_TOKEN, which keeps it out of the shell history)")
    p.set_defaults(run=cmd_push)
    _loadtest_parser(sub)
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

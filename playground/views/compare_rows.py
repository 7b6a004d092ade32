"""The rows of the compare tab: every image family's shipped model measured the same way
(slow: minutes per row on 2 CPU cores). ``playground.views.compare`` keeps them in
``assets/compare.json`` and shows them. No gradio here.

Each row holds, for one family (``ROWS``):

- the test NLL in nats per digit on the same 500 binarised test digits (``test_nll`` with
  ``labels=False``: a class-conditional model's marginal), with its kind: ``"exact"``
  (the Bernoulli mixture, the autoregressive models), ``"bound"`` (the VAE's IWAE bound
  with K = 1,000, Burda et al. 2015, arXiv:1509.00519; the VQ-VAEs' log p(x | z_q) +
  log p_prior(z_q); the DBN's variational bound, ``dbn_log_prob_bound``), ``"AIS
  estimate"`` (the RBM: log Z by annealed importance sampling at the model's own settings,
  as ``python -m playground evaluate`` uses them, Salakhutdinov & Murray 2008) with its
  range, or ``"none"`` (GANs: implicit models);
- sample quality of 500 samples drawn with seed 0 (a class-conditional model: digits 0-9
  in turn), judged by ``metrics.sample_quality``: the agreed-confident share of the three
  judges, the digits they cover, precision and recall (Kynkäänniemi et al. 2019,
  arXiv:1904.06991) in the feature judge's space against the test digits;
- parameters, samples per CPU second (those 500 samples), and the training time in CPU
  seconds, estimated: ``N_TIMED`` timed training steps of a freshly initialised model of
  the same config (per phase for a DBN's layers and a VQ-VAE's autoencoder and prior)
  times the step count of the model card's command (the Bernoulli mixture's EM fit is
  timed whole). Both are CPU time (``CLOCK``), so a busy machine does not inflate them;
- the lectures' published figure for the family, with its source.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from models import VQVAE, GenerativeModel
from models.base import AutoregressiveModel, seeded_init
from models.checks import N_PIXELS
from models.dbm import DBM
from models.dbn import DBN
from models.hub import CONFIG_NAME
from models.rbm import RBM, bernoulli
from playground.core import checkpoints
from playground.core.checkpoints import BUNDLED_DIR
from playground.core.data import MnistSplits
from playground.core.evaluation import nll_range
from playground.core.metrics import JUDGES, sample_quality, test_nll
from playground.views.ar_model import NAMES as AR_NAMES
from playground.views.ar_model import PUBLISHED, CachedFigures, draw_samples, split_fingerprint
from playground.views.base import Context
from playground.views.warmup_digits import BMM_ITERS, BMM_K, DigitViews

N_SAMPLES = 500  # samples per family for the quality columns (same number, same seed for every family)
SEED = 0
N_KEPT = 16  # of those samples, the first ones kept for the side-by-side picture
N_TIMED, N_WARMUP = 10, 2  # training steps timed per phase, after a few untimed ones
DBN_Q_SAMPLES = 10  # draws of q(h | v) per test digit in the DBN's bound
MIXTURE = "bernoulli_mixture"
# Training time and samples/s are CPU time of this process (time.process_time): what the work costs one core, not
# slowed by other programs on a shared machine (wall-clock time under load overstated it 2 to 5 times here).
CLOCK = "process_cpu"
KINDS = {"exact": "exact", "iwae_bound": "bound", "bound": "bound", "ais_estimate": "AIS estimate", "none": "none"}
QUALITY_KEYS = ("agreed_confident_share", "n_classes_agreed", "agreed_class_counts", "precision", "recall", "features_judge", "label_agreement_agreed")
Log = Callable[[str], None]


@dataclass(frozen=True)
class RowSpec:
    """One family's row: ``key`` (its id), ``title``, ``source`` (a bundled checkpoint name
    or a checkpoint folder; None for the warm-up's Bernoulli mixture, fitted by EM on the
    spot) and the lectures' ``published`` test NLL (nats, binarised MNIST; None where there
    is none) with its ``source_text``."""

    key: str
    title: str
    source: str | None
    published: float | None
    source_text: str


_AR = {family: (nats, source) for _, family, nats, source in PUBLISHED if family is not None}
ROWS = (
    RowSpec(MIXTURE, "Bernoulli mixture", None, 137.64, "Larochelle & Murray 2011 (500 components)"),
    RowSpec("rbm", "RBM", "rbm", 86.34, "Salakhutdinov & Murray 2008 (500 hidden units, CD-25; AIS)"),
    RowSpec("dbn", "DBN", "dbn", 84.55, "Murray & Salakhutdinov 2009 (2 hidden layers; AIS)"),
    RowSpec("dbm", "DBM", "dbm", 84.62, "Salakhutdinov & Hinton 2009 (784-500-1000; AIS)"),
    RowSpec("vae", "VAE", "vae", 86.76, "Burda et al. 2015, arXiv:1509.00519 (1 stochastic layer)"),
    RowSpec("gan", "DCGAN", "gan", None, "no likelihood (implicit model)"),
    RowSpec("cgan", "Conditional GAN", "cgan", None, "no likelihood (implicit model)"),
    RowSpec("began", "BEGAN", "began", None, "no likelihood (implicit model)"),
    *(RowSpec(f, AR_NAMES[f], f, *_AR[f]) for f in ("nade", "made", "pixelcnn", "gated_pixelcnn", "pixelrnn", "diagonal_bilstm")),  # PixelSNAIL is not here: its 500 samples take about 30 CPU-minutes (a full pass per pixel)
    RowSpec("pixelvae", "PixelVAE", "pixelvae", 79.02, "Gulrajani et al. 2017, arXiv:1611.05013"),
    RowSpec("multiscale", "Multiscale PixelCNN", "multiscale", None, "arXiv:1703.03664 reports no binarised-MNIST NLL"),
    RowSpec("vqvae", "VQ-VAE", "vqvae", None, "arXiv:1711.00937 reports no binarised-MNIST NLL"),
    RowSpec("vqvae2", "VQ-VAE-2", "vqvae2", None, "arXiv:1906.00446 reports no MNIST NLL"),
)


# -- what a row is valid for ------------------------------------------------------------------------
def _files_sha256(folder: Path) -> str:
    h = hashlib.sha256()
    for name in (CONFIG_NAME, "model.safetensors"):
        h.update(name.encode())
        h.update((folder / name).read_bytes())
    return h.hexdigest()


def settings() -> dict[str, Any]:
    """The measuring settings a kept row must share with this code to be reused."""
    return {"n_samples": N_SAMPLES, "seed": SEED, "dbn_q_samples": DBN_Q_SAMPLES, "mixture": [BMM_K.default, BMM_ITERS.default, SEED], "clock": CLOCK}


def judges_sha256() -> str:
    """SHA-256 of the judges' checkpoint files (``metrics.JUDGES``): other judges, other quality figures.

    Raises:
        OSError: a judge's files cannot be read.
    """
    return hashlib.sha256("".join(_files_sha256(BUNDLED_DIR / name) for name in JUDGES).encode()).hexdigest()


def row_key(spec: RowSpec, data: MnistSplits, judges: str | None = None) -> dict[str, Any] | None:
    """What ``spec``'s kept figures are valid for, without loading a model (milliseconds):
    ``weights_sha256`` (of the checkpoint's config.json and model.safetensors bytes; for the
    mixture, of its settings and the binarised train digits it is fitted to), ``dataset``,
    ``test_fingerprint`` (``ar_model.split_fingerprint``), ``judges_sha256`` (``judges``,
    by default ``judges_sha256()``) and ``settings()``. None when a checkpoint cannot be
    read (the row is then computed, and fails with the reason)."""
    try:
        if spec.source is None:
            weights = hashlib.sha256(json.dumps(settings()["mixture"]).encode() + data.images("train", "binary").numpy().tobytes()).hexdigest()
        else:
            kind, location = checkpoints.resolve(spec.source)
            if kind == "hub":
                return None
            weights = _files_sha256(Path(location))
        judges = judges or judges_sha256()
    except (OSError, ValueError):
        return None
    return {"weights_sha256": weights, "dataset": data.name, "test_fingerprint": split_fingerprint(data), "judges_sha256": judges, "settings": settings()}


# -- the samples kept for the picture ------------------------------------------------------------------
def pack_samples(images: Tensor) -> dict[str, Any]:
    """Images (n, 1, 28, 28) in [0, 1] as JSON: 8-bit grey levels, zlib-compressed, base64."""
    levels = (images.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return {"n": len(images), "seed": SEED, "pixels": base64.b64encode(zlib.compress(levels.tobytes(), 9)).decode("ascii")}


def unpack_samples(entry: Any) -> Tensor:
    """The images (n, 1, 28, 28) float32 in [0, 1] that ``pack_samples`` packed.

    Raises:
        ValueError: an entry that is not one ``pack_samples`` wrote.
    """
    try:
        n = int(entry["n"])
        levels = np.frombuffer(zlib.decompress(base64.b64decode(entry["pixels"])), np.uint8)
        return torch.from_numpy(levels.astype(np.float32) / 255).view(n, 1, 28, 28)
    except (KeyError, TypeError, ValueError, RuntimeError, zlib.error) as err:
        raise ValueError(f"unreadable samples ({type(err).__name__})") from None


# -- the likelihood column ------------------------------------------------------------------------------
def _bernoulli_log_prob(logits: Tensor, states: Tensor) -> Tensor:
    """log prod_i Bernoulli(states_i; sigmoid(logits_i)), (B,) float64, nats."""
    return -F.binary_cross_entropy_with_logits(logits, states, reduction="none").double().sum(1)


@torch.no_grad()
def dbn_log_prob_bound(model: DBN, x: Tensor, log_z_top: float, n_samples: int = DBN_Q_SAMPLES, generator: torch.Generator | None = None) -> Tensor:
    """The variational lower bound on log p(v) of a DBN (Hinton, Osindero & Teh 2006, §6;
    estimated as in Salakhutdinov & Murray 2008), nats, (B,) float64, for binary images x
    (B, 1, 28, 28):

        log p(v) >= E_q[ sum_l log p(h_l | h_l+1) - F_top(h_L-1) - sum_l log q(h_l+1 | h_l) ] - log Z_top,

    with h_0 = v, q the up-pass (each RBM's p(h | v)), p(h_l | h_l+1) the directed layers'
    top-down conditionals, F_top and Z_top the top RBM's free energy and partition function
    (``log_z_top``, e.g. by AIS); the expectation by ``n_samples`` draws of the up-pass. A
    one-layer DBN is an RBM: the bound is then its exact -F(v) - log Z.
    """
    v = model.layers[0].flat(x.to(model.device))
    states = [v.repeat(n_samples, 1)]  # (n_samples * B, V): each digit n_samples times, one draw of the up-pass each
    log_q = torch.zeros(len(states[0]), dtype=torch.float64, device=v.device)
    for layer in model.layers[:-1]:
        logits = states[-1] @ layer.weight + layer.hidden_bias  # (n_samples * B, H)
        states.append(bernoulli(torch.sigmoid(logits), generator))
        log_q += _bernoulli_log_prob(logits, states[-1])
    log_p = -model.top.free_energy(states[-1]).double()
    for layer, below, above in zip(model.layers[:-1], states, states[1:]):
        log_p += _bernoulli_log_prob(above @ layer.weight.T + layer.visible_bias, below)
    return (log_p - log_q).view(n_samples, len(v)).mean(0) - log_z_top


def _ais_note(what: str, n_betas: int, n_runs: int, below_floor: bool) -> str:
    text = f"{what} by AIS, {n_betas:,} temperatures × {n_runs} runs"
    return text + ("; surely too low (below the floor the training digits give)" if below_floor else "")


def _dbn_likelihood(model: DBN, data: MnistSplits) -> dict[str, Any]:
    """The DBN's bound, with log Z of its top RBM by AIS at the RBM's own settings, the base
    rates from the training digits passed up (seeded ``SEED``)."""
    g = torch.Generator().manual_seed(SEED)
    top = model.top
    base = model.up(data.images("train", "binary"), len(model.layers) - 1, sample=True, generator=g)
    report = top.log_z_report(top.ais_betas, top.ais_runs, base_data=base, generator=g)
    x = data.images("test", "binary")
    nll = -float(torch.cat([dbn_log_prob_bound(model, x[i : i + 100], report["log_z"], generator=g) for i in range(0, len(x), 100)]).mean())
    note = f"variational bound ({DBN_Q_SAMPLES} draws of q(h | v) per digit); " + _ais_note("log Z of the top RBM", report["n_betas"], report["n_runs"], report["below_floor"])
    return {"nll_nats": nll, "nll_kind": "bound", "nll_range": nll_range(nll, report), "nll_note": note}


def _dbm_likelihood(model: DBM, data: MnistSplits) -> dict[str, Any]:
    """The DBM's mean-field bound, with log Z by AIS at its own settings (base rates and floor from the training digits, seeded ``SEED``)."""
    model.set_base_data(data.images("train", "binary"))
    nll = -float(torch.cat([model.log_prob(x) for x in data.images("test", "binary").split(100)]).mean())
    report = model.nll_details()
    note = "variational bound (mean-field q(h1, h2 | v)); " + _ais_note("log Z", report["ais_betas"], report["ais_runs"], report["log_z_below_floor"])
    return {"nll_nats": nll, "nll_kind": "bound", "nll_range": None if report["log_z_exact"] else nll_range(nll, report), "nll_note": note}


def likelihood(model: GenerativeModel, data: MnistSplits) -> dict[str, Any]:
    """The test NLL columns of ``model``: ``nll_nats`` (None for an implicit model),
    ``nll_kind`` (see the module docstring), ``nll_range`` ([low, high] nats for an AIS
    estimate, None otherwise) and ``nll_note`` (how it was got, one line)."""
    if isinstance(model, DBN):
        return _dbn_likelihood(model, data)
    if isinstance(model, DBM):
        return _dbm_likelihood(model, data)
    kind = KINDS.get(model.nll_kind, model.nll_kind)
    if kind == "none":
        return {"nll_nats": None, "nll_kind": "none", "nll_range": None, "nll_note": "an implicit model: no likelihood to report"}
    kept = CachedFigures(model).test_nll(data) if isinstance(model, AutoregressiveModel) else None
    if isinstance(model, RBM):
        model.set_base_data(data.images("train", "binary"))  # AIS's base rates, as the CLI's evaluate sets them
    if kept is None:
        with torch.random.fork_rng(devices=[]):  # the IWAE bound draws from the global generator
            torch.manual_seed(SEED)
            result = test_nll(model, data, labels=False)
    nll = kept if kept is not None else result["nll_nats"]
    notes = {"exact": "exact", "bound": "log p(x | z_q(x)) + log p_prior(z_q(x)), a lower bound on log p(x)"}
    row = {"nll_nats": nll, "nll_kind": kind, "nll_range": None, "nll_note": notes.get(kind, "")}
    if isinstance(model, RBM) and result["log_z_exact"]:
        row.update(nll_kind="exact", nll_note="exact log Z (enumerating the hidden states)")
    elif isinstance(model, RBM):
        row.update(nll_range=nll_range(nll, result), nll_note=_ais_note("log Z", result["ais_betas"], result["ais_runs"], result["log_z_below_floor"]))
    elif model.nll_kind == "iwae_bound":
        row["nll_note"] = f"IWAE bound with K = {model.n_importance:,} (Burda et al. 2015, arXiv:1509.00519)"
    if model.conditional:
        row["nll_note"] += "; marginal over the 10 digits"
    if kept is not None:
        row["nll_note"] += " (kept with the checkpoint)"
    return row


# -- training time ----------------------------------------------------------------------------------------
def card_recipe(source: str, model: GenerativeModel) -> tuple[int, int]:
    """(steps, batch size) of the command on the checkpoint's model card (``--steps``,
    ``--batch-size``), each defaulting to the family's ``train_defaults``."""
    kind, location = checkpoints.resolve(source)
    try:
        card = (Path(location) / "README.md").read_text(encoding="utf-8") if kind != "hub" else ""
    except OSError:
        card = ""
    steps, batch = re.search(r"--steps (\d+)", card), re.search(r"--batch-size (\d+)", card)
    return (int(steps.group(1)) if steps else model.train_defaults["steps"]), (int(batch.group(1)) if batch else model.train_defaults["batch_size"])


def _phases(model: GenerativeModel, steps: int) -> list[tuple[str, Callable[[GenerativeModel], None], int]]:
    """The parts of a run of ``steps`` updates whose steps differ in cost: (name, how to make
    a fresh model start there, updates): a DBN's layers, a VQ-VAE's autoencoder and prior."""
    if isinstance(model, DBN):
        last = len(model.layers) - 1
        spans = [model.steps_per_layer] * last + [max(0, steps - last * model.steps_per_layer)]
        return [(f"layer {i + 1}", lambda m, i=i: setattr(m, "first_trained_layer", i), n) for i, n in enumerate(spans) if n]
    if isinstance(model, VQVAE):
        spans = [("autoencoder", min(steps, model.ae_steps)), ("prior", max(0, steps - model.ae_steps))]
        return [(name, lambda m, name=name: setattr(m, "first_phase", name), n) for name, n in spans if n]
    if isinstance(model, DBM):  # two pre-training RBMs (CD-1), then joint updates (mean-field + persistent chains): far dearer
        spans = [("RBM 1", 0, model.pretrain_steps), ("RBM 2", model.pretrain_steps, model.pretrain_steps), ("joint", 2 * model.pretrain_steps, steps - 2 * model.pretrain_steps)]
        return [(name, lambda m, first=first: _start_dbm_at(m, first), min(n, steps)) for name, first, n in spans if n > 0]
    return [("", lambda m: None, steps)]


def _start_dbm_at(model: DBM, update: int) -> None:
    """Make a fresh DBM's schedule start at ``update`` once its optimiser is made (``configure_optimizers`` restarts it at 0)."""
    configure = model.configure_optimizers

    def configured(*args: Any, **kwargs: Any) -> list[torch.optim.Optimizer]:
        optimizers = configure(*args, **kwargs)
        model._n_updates = update
        return optimizers

    model.configure_optimizers = configured


def _seconds_per_step(model: GenerativeModel, data: MnistSplits, batch_size: int, prepare: Callable[[GenerativeModel], None]) -> float:
    """CPU seconds per training step (``CLOCK``) of a fresh model of ``model``'s config, on
    random batches of the train split (``N_TIMED`` steps timed after ``N_WARMUP``)."""
    fresh = seeded_init(type(model), SEED, **model.config)
    prepare(fresh)
    fresh.train()
    optimizers = fresh.configure_optimizers(model.train_defaults["lr"])
    x, y = data.inputs("train", fresh.data_kind), data.labels("train")
    g = torch.Generator().manual_seed(SEED)
    for i in range(N_WARMUP + N_TIMED):
        if i == N_WARMUP:
            start = time.process_time()
        idx = torch.randint(len(x), (batch_size,), generator=g)
        fresh.train_step(x[idx], y[idx] if fresh.conditional else None, optimizers, g)
    return (time.process_time() - start) / N_TIMED


def training_time(model: GenerativeModel, source: str, data: MnistSplits) -> tuple[float, str]:
    """(estimated CPU seconds to train ``model`` as its card says, how: one line)."""
    steps, batch_size = card_recipe(source, model)
    total, parts = 0.0, []
    for name, prepare, n in _phases(model, steps):
        per_step = _seconds_per_step(model, data, batch_size, prepare)
        total += per_step * n
        parts.append(f"{name + ': ' if name else ''}{per_step * 1e3:,.0f} ms × {n:,}")
    return total, f"estimated: {N_TIMED} timed steps × the card's {steps:,} steps of {batch_size} ({'; '.join(parts)}); CPU time, {torch.get_num_threads()} thread(s)"


# -- one row ---------------------------------------------------------------------------------------------
def _quality(samples: Tensor, labels: Tensor | None, data: MnistSplits) -> dict[str, Any]:
    quality = sample_quality(samples.float().clamp(0, 1), data, labels)
    return {k: quality.get(k) for k in QUALITY_KEYS}


def _mixture_row(ctx: Context, seconds: dict[str, float]) -> dict[str, Any]:
    """The warm-up's default Bernoulli mixture (``DigitViews``' fit: K = 20, 30 EM iterations, seed 0)."""
    views = DigitViews(ctx)
    session = views.session(None)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in views.bmm_fit(session, BMM_K.default, BMM_ITERS.default, SEED):
        pass
    fit = session.bmm
    seconds["fit"], fit_cpu = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    samples = fit.model.sample(N_SAMPLES, torch.Generator().manual_seed(SEED))
    seconds["samples"], seconds["samples_cpu"] = time.perf_counter() - start, time.process_time() - cpu
    return {
        "checkpoint": f"the warm-up's EM fit (K = {fit.model.n_components}, {BMM_ITERS.default} iterations, seed {SEED})",
        "nll_nats": fit.test_nll, "nll_kind": "exact", "nll_range": None, "nll_note": "exact (log-sum-exp over the components)",
        "n_params": int(fit.model.means.numel() + fit.model.weights.numel()),
        "train_seconds": fit_cpu, "train_note": f"measured: the EM fit on {len(ctx.data.train_labels):,} binarised digits; CPU time, {torch.get_num_threads()} thread(s)",
        "_samples": samples, "_labels": None,
    }


def _model_row(spec: RowSpec, data: MnistSplits, seconds: dict[str, float]) -> dict[str, Any]:
    model = checkpoints.load(spec.source)
    if not isinstance(model, GenerativeModel) or model.data_kind not in ("binary", "grey"):
        raise ValueError(f"{spec.source} is a {model.family}, not a generative model of digits")
    start = time.perf_counter()
    row: dict[str, Any] = {"checkpoint": spec.source, **likelihood(model, data)}
    seconds["nll"] = time.perf_counter() - start
    cpu = time.process_time()
    samples, seconds["samples"] = draw_samples(model, N_SAMPLES, SEED)
    seconds["samples_cpu"] = time.process_time() - cpu
    start = time.perf_counter()
    row["train_seconds"], row["train_note"] = training_time(model, spec.source, data)
    seconds["train_timing"] = time.perf_counter() - start
    labels = torch.arange(N_SAMPLES) % 10 if model.conditional else None
    return {**row, "n_params": sum(p.numel() for p in model.parameters()), "_samples": samples, "_labels": labels}


def compute_row(spec: RowSpec, ctx: Context, log: Log | None = None) -> dict[str, Any]:
    """Every column of ``spec``'s row (see the module docstring; minutes for the slowest
    families on 2 CPU cores), with ``samples`` (``pack_samples`` of the first ``N_KEPT``)
    and ``seconds`` (what each part took); ``log`` hears the timings.

    Raises:
        ValueError: the checkpoint cannot be loaded or is not a generative model of digits.
    """
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    row = _mixture_row(ctx, seconds) if spec.source is None else _model_row(spec, ctx.data, seconds)
    samples, labels = row.pop("_samples"), row.pop("_labels")
    quality_start = time.perf_counter()
    row.update(_quality(samples, labels, ctx.data))
    seconds["quality"] = time.perf_counter() - quality_start
    seconds["total"] = time.perf_counter() - start
    nll = row["nll_nats"]
    row.update(
        title=spec.title, bits_per_dim=None if nll is None else nll / (N_PIXELS * math.log(2)), samples_per_s=N_SAMPLES / max(seconds["samples_cpu"], 1e-9),
        published_nll=spec.published, published_source=spec.source_text, samples=pack_samples(samples[:N_KEPT]),
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )
    if log is not None:
        log(f"{spec.key}: " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()))
    return row


def compare_rows(ctx: Context, specs: tuple[RowSpec, ...] = ROWS, log: Log | None = None) -> list[dict[str, Any]]:
    """``compute_row`` for every row of ``specs`` (all families by default: about 15 to 20
    minutes on 2 CPU cores), each with its ``key`` (``row_key``) and ``id``."""
    return [{"id": spec.key, "key": row_key(spec, ctx.data), **compute_row(spec, ctx, log)} for spec in specs]

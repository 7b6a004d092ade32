"""Novelty detection's data and numbers: the outlier sets, the densities that score them,
their ROC AUC (``metrics.roc_auc``), and the scores kept in ``assets/novelty.json``. No gradio here.

A density flags an outlier when log p(x) is low. Nalisnick et al. 2019 ("Do Deep
Generative Models Know What They Don't Know?", arXiv:1810.09136) showed that it can fail
the other way: simple images (for MNIST models, the blank one) get a *higher* likelihood
than any real digit. Their fix (Nalisnick et al. 2019, "Detecting Out-of-Distribution
Inputs to Deep Generative Models Using Typicality", arXiv:1906.02994) asks instead how far
log p(x) lies from the typical log p of the training data, |log p(x) - E_train[log p]|: real
data sit in a thin shell of typical log-likelihoods, and an image far above it is as
suspicious as one far below. Their test is on batches of M images; here M = 1, one image at
a time, the simplest form of it.

The outlier sets are made in code from the binarised test digits (the models' data), so
every model sees the same pixels: ``outlier_sets(data)``.

Scoring every set with every model takes about 8 minutes on 2 CPU cores (the Gated
PixelCNN's marginal, ten passes per image, is most of it; the VQ-VAE's marginal prior ~40 s;
the other five together ~40 s, the RBM's AIS half of it), so ``assets/novelty.json`` keeps the
scores, per model, with the key they are valid for: the weights' SHA-256 (``weights_sha256``
of the family, config and state dict; for the Bernoulli mixture, of its fitted means and
weights), the dataset's name and test fingerprint, and ``SETTINGS`` (set sizes, seeds).
``python -m playground novelty --write`` computes and stores them again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from models.checks import IMAGE_SHAPE, N_CLASSES
from models.hub import HubModel
from models.ppca import BernoulliMixture
from playground.core import checkpoints
from playground.core.data import ASSETS_DIR, MnistSplits
from playground.core.metrics import roc_auc
from playground.views.ar_model import split_fingerprint, weights_sha256
from playground.views.warmup_digits import BMM_ITERS, BMM_K

OUTLIER_SETS = ("rotated 90°", "rotated 180°", "inverted", "shifted", "noise (same ink)", "blank")
N_TEST = 500  # inliers: the first N_TEST test digits (all 500 of the bundled split)
N_PER_SET = 200  # outliers per set, made from the first N_PER_SET test digits (the blank set has one image: there is only one)
N_TRAIN = 500  # train digits whose mean log p is E_train[log p], the centre of the typical set
SHIFT_PX = 6  # "shifted": moved this many pixels right and down, the pixels pushed out of the frame lost
NOISE_SEED = 0
VAE_SEED = 0
RBM_AIS = dict(n_betas=2000, n_runs=100, seed=0)  # the energy tab's default AIS effort, base rates from the train digits
BATCH = 100
SETTINGS = dict(n_test=N_TEST, n_per_set=N_PER_SET, n_train=N_TRAIN, shift_px=SHIFT_PX, noise_seed=NOISE_SEED, vae_seed=VAE_SEED, rbm_ais=RBM_AIS, bmm=[BMM_K.default, BMM_ITERS.default, 0])
CACHE_FILE = ASSETS_DIR / "novelty.json"

log = logging.getLogger(__name__)
_VAE_LOCK = threading.Lock()  # one seeded ELBO at a time: the start-up thread and a click may both score


def outlier_sets(data: MnistSplits, n: int = N_PER_SET) -> dict[str, Tensor]:
    """The outlier sets, made from the first ``n`` binarised test digits x (n, 1, 28, 28):

    - ``"rotated 90°"``, ``"rotated 180°"``: x turned anticlockwise by 90° and 180°;
    - ``"inverted"``: 1 - x (black ink on a white page);
    - ``"shifted"``: moved ``SHIFT_PX`` pixels right and down (what leaves the frame is lost);
    - ``"noise (same ink)"``: each digit's pixels shuffled (seeded): random dots with the
      same number of ink pixels as the digit;
    - ``"blank"``: the one all-black image, (1, 1, 28, 28).

    Returns:
        {set name: float32 images in {0, 1}} in ``OUTLIER_SETS`` order.

    Raises:
        ValueError: ``n`` outside [1, number of test digits].
    """
    x = data.images("test", "binary")
    if not isinstance(n, int) or not 1 <= n <= len(x):
        raise ValueError(f"an outlier set holds 1 to {len(x)} images, got {n!r}")
    x = x[:n]
    shifted = torch.zeros_like(x)
    shifted[:, :, SHIFT_PX:, SHIFT_PX:] = x[:, :, :-SHIFT_PX, :-SHIFT_PX]
    generator = torch.Generator().manual_seed(NOISE_SEED)
    order = torch.rand(n, x[0].numel(), generator=generator).argsort(1)  # an independent permutation per image
    noise = torch.gather(x.flatten(1), 1, order).view_as(x)
    return {
        "rotated 90°": torch.rot90(x, 1, (2, 3)).contiguous(),
        "rotated 180°": torch.rot90(x, 2, (2, 3)).contiguous(),
        "inverted": 1 - x,
        "shifted": shifted,
        "noise (same ink)": noise,
        "blank": torch.zeros(1, *IMAGE_SHAPE),
    }


@dataclass
class Density:
    """One scored model: ``name`` (its key in ``MODELS``), the model, ``kind`` (what log p is:
    "exact", "bound", "AIS estimate"), ``log_prob`` (binary images (N, 1, 28, 28) -> (N,)
    float64 nats), ``sha256`` (of its weights) and ``detail`` (how log p is got, one line)."""

    name: str
    model: Any
    kind: str
    log_prob: Callable[[Tensor], Tensor]
    sha256: str
    detail: str
    log_z: float | None = None


def _batched(fn: Callable[[Tensor], Tensor], batch: int = BATCH) -> Callable[[Tensor], Tensor]:
    """``fn`` over batches of ``batch`` images, without gradients, as float64 on the CPU."""

    @torch.no_grad()
    def run(x: Tensor) -> Tensor:
        return torch.cat([fn(x[i : i + batch]).double().cpu() for i in range(0, len(x), batch)])

    return run


def _bundled(name: str, device: torch.device) -> HubModel:
    return checkpoints.load(name, family=name, device=device)


def _bmm(data: MnistSplits, device: torch.device) -> Density:
    """The warm-up tab's default mixture (K = 20 Bernoullis, 30 EM iterations, seed 0), fitted again (~1 s)."""
    model = BernoulliMixture(BMM_K.default, shape=IMAGE_SHAPE)
    for _ in model.fit(data.images("train", "binary"), BMM_ITERS.default, torch.Generator().manual_seed(0)):
        pass
    digest = hashlib.sha256(model.means.numpy().tobytes() + model.weights.numpy().tobytes()).hexdigest()
    detail = f"the warm-up tab's mixture of {BMM_K.default} Bernoullis (EM, {BMM_ITERS.default} iterations, seed 0)"
    return Density("bernoulli mixture", model, "exact", _batched(lambda x: model.log_prob(x.cpu())), digest, detail)


def _rbm(data: MnistSplits, device: torch.device, log_z: float | None) -> Density:
    """The bundled RBM: log p(x) = -F(x) - log Z, log Z by AIS (``RBM_AIS``) unless given."""
    model = _bundled("rbm", device)
    if log_z is None:
        generator = torch.Generator(device=model.device).manual_seed(RBM_AIS["seed"])
        log_z = model.log_z_report(RBM_AIS["n_betas"], RBM_AIS["n_runs"], data.images("train", "binary"), generator)["log_z"]
    detail = f"−F(x) − log Z, log Z = {log_z:.1f} by AIS ({RBM_AIS['n_betas']:,} temperatures × {RBM_AIS['n_runs']} runs, seed 0); AUC and typicality do not depend on log Z"
    return Density("rbm", model, "AIS estimate", _batched(lambda x: -model.free_energy(x.to(model.device)).double() - log_z), weights_sha256(model), detail, log_z)


def _vae(data: MnistSplits, device: torch.device) -> Density:
    """The bundled VAE's ELBO (one draw of q(z|x) per image, seeded: ``VAE_SEED``)."""
    model = _bundled("vae", device)

    def elbo(x: Tensor) -> Tensor:
        with _VAE_LOCK, torch.random.fork_rng(devices=[]):  # the model draws from the global RNG: seed it, leave it as it was
            torch.manual_seed(VAE_SEED)
            return model.log_prob(x.to(model.device), n_importance=1)

    return Density("vae", model, "bound", _batched(elbo), weights_sha256(model), "the ELBO (one seeded draw of z per image), a lower bound")


def _plain(name: str, kind: str, detail: str, batch: int = BATCH) -> Callable[[MnistSplits, torch.device], Density]:
    def make(data: MnistSplits, device: torch.device) -> Density:
        model = _bundled(name, device)
        return Density(name, model, kind, _batched(lambda x: model.log_prob(x.to(model.device)), batch), weights_sha256(model), detail)

    return make


# The densities (exact or a bound), cheapest first; the start-up thread computes the
# ``SLOW`` ones only from the kept scores (see ``NoveltyViews``).
MODELS = ("bernoulli mixture", "rbm", "vae", "nade", "pixelcnn", "vqvae", "gated_pixelcnn")
TITLES = {
    "bernoulli mixture": "Bernoulli mixture", "rbm": "RBM", "vae": "VAE", "nade": "NADE", "pixelcnn": "PixelCNN",
    "vqvae": "VQ-VAE", "gated_pixelcnn": "Gated PixelCNN",
}
FITTED = ("bernoulli mixture",)  # fitted again at start-up (~1 s quiet, ~18 s on a busy machine): done last, so the loaded ones come first
SLOW = ("vqvae", "gated_pixelcnn")  # ~40 s and ~8 min for every set on 2 CPU cores; the others together ~40 s
_MAKERS: dict[str, Callable[..., Density]] = {
    "bernoulli mixture": _bmm, "rbm": _rbm, "vae": _vae,
    "nade": _plain("nade", "exact", "exact: a product of 784 conditionals"),
    "pixelcnn": _plain("pixelcnn", "exact", "exact: a product of 784 conditionals"),
    "vqvae": _plain("vqvae", "bound", "log p(x | z_q(x)) + log p(z_q(x)) under the marginal code prior, a bound"),
    # log_prob without labels is the exact marginal, one pass of 10 B rows: batches of BATCH // 10 images
    "gated_pixelcnn": _plain("gated_pixelcnn", "exact", "exact: the marginal log mean_y p(x | y) over the 10 digits", BATCH // N_CLASSES),
}


def density(name: str, data: MnistSplits, device: torch.device, log_z: float | None = None) -> Density:
    """Load (or fit) the model ``name`` of ``MODELS``; ``log_z``: the RBM's log Z when known.

    Raises:
        ValueError: an unknown name or a checkpoint that cannot be loaded.
    """
    if name not in _MAKERS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return _rbm(data, device, log_z) if name == "rbm" else _MAKERS[name](data, device)


@dataclass
class Scores:
    """One model's log p (float64 nats) of the test digits (``test``, (N_TEST,)), of
    ``N_TRAIN`` train digits (``train``) and of each outlier set (``sets``), and what they
    are valid for (``key``); ``log_z``: the RBM's log Z behind them, else None."""

    test: np.ndarray
    train: np.ndarray
    sets: dict[str, np.ndarray]
    key: dict[str, Any]
    log_z: float | None = None

    @property
    def train_mean(self) -> float:
        """E_train[log p], the centre of the typical set (nats)."""
        return float(self.train.mean())

    def typicality(self, log_p: np.ndarray) -> np.ndarray:
        """|log p - E_train[log p]| (nats): 0 at the centre of the typical set."""
        return np.abs(np.asarray(log_p, np.float64) - self.train_mean)


def cache_key(d: Density, data: MnistSplits) -> dict[str, Any]:
    """What kept scores must match: the weights, the data and ``SETTINGS``."""
    return {"weights_sha256": d.sha256, "dataset": data.name, "test_fingerprint": split_fingerprint(data), "settings": SETTINGS}


def compute_scores(d: Density, data: MnistSplits) -> Scores:
    """Score the test digits, ``N_TRAIN`` train digits and every outlier set with ``d``.

    Raises:
        ValueError: a score that is not finite (a broken model).
    """
    test = d.log_prob(data.images("test", "binary")[:N_TEST]).numpy()
    train = d.log_prob(data.images("train", "binary")[:N_TRAIN]).numpy()
    sets = {name: d.log_prob(x).numpy() for name, x in outlier_sets(data).items()}
    for values in (test, train, *sets.values()):
        if not np.isfinite(values).all():
            raise ValueError(f"{TITLES[d.name]} gave a log p that is not finite")
    return Scores(test, train, sets, cache_key(d, data), d.log_z)


def _pack(values: np.ndarray) -> str:
    return base64.b64encode(np.asarray(values, "<f4").tobytes()).decode()


def _unpack(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), "<f4").astype(np.float64)


def read_cache(path: Path = CACHE_FILE) -> dict[str, dict[str, Any]]:
    """The kept entries {model: entry} (see ``write_cache``); {} when missing or unreadable."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        log.warning("ignoring %s: %s", path, err)
        return {}
    return entries if isinstance(entries, dict) else {}


def cached_scores(entry: Any, key: dict[str, Any]) -> Scores | None:
    """The scores of a kept ``entry`` when its key is ``key`` (else, or if damaged, None)."""
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    try:
        sets = {name: _unpack(entry["sets"][name]) for name in OUTLIER_SETS}
        scores = Scores(_unpack(entry["test"]), _unpack(entry["train"]), sets, key, entry.get("log_z"))
    except (KeyError, TypeError, ValueError) as err:
        log.warning("ignoring kept novelty scores: %s", err)
        return None
    values = [scores.test, scores.train, *sets.values()]
    return scores if all(len(v) and np.isfinite(v).all() for v in values) else None


def write_cache(scores: dict[str, Scores], path: Path = CACHE_FILE) -> None:
    """Keep ``scores`` {model: Scores}: per model its ``key``, ``log_z`` and the scores as
    little-endian float32 in base64 (``test``, ``train``, ``sets`` {set: ...})."""
    entries = {
        name: {"key": s.key, "log_z": s.log_z, "test": _pack(s.test), "train": _pack(s.train), "sets": {k: _pack(v) for k, v in s.sets.items()}}
        for name, s in scores.items()
    }
    path.write_text(json.dumps(entries, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def auc_pair(scores: Scores, name: str) -> tuple[float, float]:
    """ROC AUC of outlier set ``name`` against the test digits by log p and by typicality
    (-|log p - E_train log p|: higher is more inlier-like)."""
    outliers = scores.sets[name]
    return roc_auc(scores.test, outliers), roc_auc(-scores.typicality(scores.test), -scores.typicality(outliers))



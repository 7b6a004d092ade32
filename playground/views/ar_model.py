"""The autoregressive tab's models: the families, the Train panel's controls and a new
model from its settings (``train_controls``, ``model_config``), a read-only view of a
model (``ArView``), the figures of the bundled checkpoints, computed once and kept beside
them, and what they show: the likelihood table and likelihood against looks.

The exact test NLL of a class-conditional Gated PixelCNN is a marginal over the ten
digits (ten passes over the test split: about 30 s on 2 CPU cores), and its first
samples are drawn one pixel at a time (about 2 s). Neither changes while the weights do
not, so ``figures.json`` in each bundled checkpoint's folder holds them with what they
are valid for, and the views read them instead of computing:

- ``weights_sha256``: ``weights_sha256(model)``, of the family, the config and every
  tensor of the state dict (MADE's masks derive from the config);
- ``test_nll``: ``nll_nats`` (the exact mean test NLL in nats per digit, a class-
  conditional model's marginal, as ``metrics.test_nll(model, data, labels=False)``) with
  the ``dataset`` name and ``test_fingerprint`` (first 16 hex digits of the SHA-256 of
  the binarised test images, ``data.TEST_BINARY_FINGERPRINT`` for the bundled split);
- ``samples``: ``n`` samples drawn with ``seed`` (a class-conditional model: labels
  0-9 in turn), their pixels packed 8 to a byte in base64, and the ``seconds`` they took.

A figure whose key does not match the model or the data is ignored (and computed
instead). ``python -m playground.views.ar_model`` writes the files again, e.g. after a
bundled checkpoint is retrained.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import math
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from models import FAMILIES as MODEL_FAMILIES
from models.base import AutoregressiveModel
from models.checks import N_CLASSES, N_PIXELS, Range, check_bool, check_choice
from playground.core.checkpoints import BUNDLED_DIR
from playground.core.data import MnistSplits
from playground.core.metrics import test_nll
from playground.core.training import cycling_labels
from playground.views.base import Context, ModelView

FAMILIES = ("nade", "made", "pixelcnn", "gated_pixelcnn", "pixelrnn", "pixelsnail", "diagonal_bilstm")
NAMES = {"nade": "NADE", "made": "MADE", "pixelcnn": "PixelCNN", "gated_pixelcnn": "Gated PixelCNN", "pixelrnn": "PixelRNN (Row LSTM)", "pixelsnail": "PixelSNAIL", "diagonal_bilstm": "PixelRNN (Diagonal BiLSTM)"}
# The Train panel: each family's width (hidden units or channels) and depth, and the
# learning rates and MADE's masks of the defaults, sized so that 90 s of training on 2 CPU
# cores gets far (the bench measures it: ``python -m playground bench``).
TRAIN_FAMILY = "pixelcnn"
WIDTH = {
    "nade": Range(8, 1000, 128), "made": Range(8, 2000, 2000), "pixelcnn": Range(4, 128, 32),
    "gated_pixelcnn": Range(4, 128, 32), "pixelrnn": Range(4, 64, 16), "pixelsnail": Range(4, 64, 32), "diagonal_bilstm": Range(4, 64, 16),
}
DEPTH = {"nade": Range(1, 1, 1), "made": Range(1, 3, 1), "pixelcnn": Range(1, 12, 6), "gated_pixelcnn": Range(1, 12, 6), "pixelrnn": Range(1, 4, 2), "pixelsnail": Range(1, 4, 2), "diagonal_bilstm": Range(1, 4, 2)}
LR_DEFAULT = {"nade": 5e-3, "made": 1e-3, "pixelcnn": 1e-3, "gated_pixelcnn": 1e-3, "pixelrnn": 3e-3, "pixelsnail": 1e-3, "diagonal_bilstm": 3e-3}
MASKS = Range(1, 8, 8)
STEPS = Range(50, 20_000, 600)
LR = Range(1e-5, 0.1, LR_DEFAULT[TRAIN_FAMILY], integer=False)
# The lectures' table: test NLL on binarised MNIST (60,000 training digits), nats.
PUBLISHED = [
    ("NADE", "nade", 88.33, "Larochelle & Murray 2011"),
    ("MADE", "made", 86.64, "Germain et al. 2015, arXiv:1502.03509"),
    ("PixelCNN", "pixelcnn", 81.30, "van den Oord et al. 2016, arXiv:1601.06759"),
    ("Gated PixelCNN", "gated_pixelcnn", None, "arXiv:1606.05328 reports CIFAR-10 and ImageNet only"),
    ("PixelRNN, Row LSTM", "pixelrnn", 80.54, "arXiv:1601.06759"),
    ("PixelRNN, Diagonal BiLSTM", "diagonal_bilstm", 79.20, "arXiv:1601.06759"),
    ("PixelSNAIL", "pixelsnail", None, "arXiv:1712.09763 reports CIFAR-10 (2.85 bits/dim) and ImageNet 32 x 32 only"),
]
FIGURES_FILE = "figures.json"
N_CACHED_SAMPLES = 16
CACHED_SEED = 0

log = logging.getLogger(__name__)


def default_settings(family: str) -> dict[str, Any]:
    """The Train panel's defaults for ``family``: size, layers, masks, conditional, lr."""
    return dict(size=WIDTH[family].default, layers=DEPTH[family].default, masks=MASKS.default, conditional=False, lr=LR_DEFAULT[family])


def train_controls(family: str) -> dict[str, Any]:
    """What the Train panel offers for ``family`` (one of ``FAMILIES``): ``size`` and
    ``layers`` (the ``Range`` of its width and depth, with their labels ``size_label``,
    ``layers_label``; ``layers`` None for NADE, which has one hidden layer), whether MADE's
    ``masks`` and the ``conditional`` switch apply, and its default ``lr``. ``model_config``
    checks the same ranges."""
    width, depth = WIDTH[family], DEPTH[family]
    unit = "hidden units" if family in ("nade", "made") else "channels"
    layers = "hidden layers" if family == "made" else "layers"
    return dict(
        size=width, size_label=f"{NAMES[family]}: {unit} ({width.low} to {width.high})",
        layers=None if depth.low == depth.high else depth, layers_label=f"{NAMES[family]}: {layers} ({depth.low} to {depth.high})",
        masks=family == "made", conditional=family == "gated_pixelcnn", lr=LR_DEFAULT[family],
    )


def model_config(family: Any, size: Any, layers: Any, masks: Any, conditional: Any, seed: int) -> tuple[type, dict[str, Any]]:
    """The class and constructor arguments of a new model from the Train panel's settings:
    ``size`` is the hidden units (NADE, MADE) or channels (the others) in ``WIDTH``,
    ``layers`` MADE's hidden layers or the others' layers in ``DEPTH`` (NADE has one),
    ``masks`` MADE's orderings in [1, 8] (seeded by ``seed``), ``conditional`` the Gated
    PixelCNN's digit labels.

    Raises:
        ValueError: a setting out of range, or ``conditional`` for another family.
    """
    family = check_choice("model", family, FAMILIES)
    size = WIDTH[family].check("hidden units" if family in ("nade", "made") else "channels", size)
    layers = DEPTH[family].check("layers", layers) if family != "nade" else 1
    if check_bool("class-conditional", conditional) and family != "gated_pixelcnn":
        raise ValueError("only the Gated PixelCNN can be class-conditional here")
    if family == "nade":
        config: dict[str, Any] = dict(n_hidden=size)
    elif family == "made":
        config = dict(hidden_sizes=[size] * layers, n_masks=MASKS.check("masks", masks), mask_seed=seed)
    elif family == "gated_pixelcnn":
        config = dict(channels=size, n_layers=layers, n_classes=N_CLASSES if conditional else 0)
    else:
        config = dict(channels=size, n_layers=layers)
    return MODEL_FAMILIES[family], config


def weights_sha256(model: AutoregressiveModel) -> str:
    """SHA-256 (hex) of the model's family, config and state dict (names, dtypes, shapes
    and bytes): equal for two models that compute the same thing."""
    h = hashlib.sha256(json.dumps({"family": model.family, **model.config}, sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=4)
def split_fingerprint(data: MnistSplits) -> str:
    """First 16 hex digits of the SHA-256 of the binarised test images (float32 bytes)."""
    return hashlib.sha256(data.images("test", "binary").numpy().tobytes()).hexdigest()[:16]


def draw_samples(model: AutoregressiveModel, n: int, seed: int) -> tuple[Tensor, float]:
    """``n`` samples (n, 1, 28, 28) in {0, 1} on the CPU drawn with ``seed`` (a class-
    conditional model: labels 0-9 in turn), and the seconds they took."""
    start = time.perf_counter()
    y = cycling_labels(n, model.device) if model.conditional else None
    images = model.sample(n, y=y, generator=torch.Generator().manual_seed(seed)).cpu()
    return images, time.perf_counter() - start


class CachedFigures:
    """The figures kept for one model (read once): those of the bundled checkpoint of its
    family when their ``weights_sha256`` is the model's, else none."""

    def __init__(self, model: AutoregressiveModel, folder: Path | None = None):
        self.model = model
        self.path = (folder or BUNDLED_DIR / model.family) / FIGURES_FILE
        self._figures = self._read()

    def _read(self) -> dict[str, Any]:
        try:
            figures = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            log.warning("ignoring %s: %s", self.path, err)
            return {}
        if not isinstance(figures, dict) or figures.get("weights_sha256") != weights_sha256(self.model):
            return {}
        return figures

    def test_nll(self, data: MnistSplits) -> float | None:
        """The kept test NLL (nats per digit) when it was computed on these test digits."""
        entry = self._figures.get("test_nll") or {}
        if entry.get("dataset") != data.name or entry.get("test_fingerprint") != split_fingerprint(data):
            return None
        value = entry.get("nll_nats")
        return float(value) if isinstance(value, int | float) else None

    def samples(self, n: int, seed: int) -> tuple[Tensor, float] | None:
        """The kept samples (n, 1, 28, 28) float32 in {0, 1} and the seconds they took,
        when they are ``n`` drawn with ``seed``; else None."""
        entry = self._figures.get("samples") or {}
        if entry.get("n") != n or entry.get("seed") != seed:
            return None
        try:
            bits = np.unpackbits(np.frombuffer(base64.b64decode(entry["pixels"]), np.uint8))[: n * 784]
            images = torch.from_numpy(bits.astype(np.float32)).view(n, 1, 28, 28)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            log.warning("ignoring the samples of %s: %s", self.path, err)
            return None
        return images, float(entry.get("seconds", 0.0))


class ArView(ModelView):
    """A loaded autoregressive model with its display name; read-only, so sessions share
    the bundled ones. Its test NLL comes from the figures kept with a bundled checkpoint
    (``ar_cache``) or from the run that trained it, else it is computed once, on first use."""

    model: AutoregressiveModel

    def __init__(self, model: AutoregressiveModel, name: str, ctx: Context, test_nll_nats: float | None = None, data: MnistSplits | None = None):
        super().__init__(model, name, ctx, data)
        self._nll = test_nll_nats
        self._nll_lock = threading.Lock()

    @functools.cached_property
    def kept(self) -> CachedFigures:
        """The figures kept with the bundled checkpoint of the family, when they are this model's."""
        return CachedFigures(self.model)

    @property
    def known_nll(self) -> float | None:
        """The exact test NLL (nats per digit) when it is known without computing, else None."""
        if self._nll is None:
            self._nll = self.kept.test_nll(self.data)
        return self._nll

    @property
    def test_nll(self) -> float:
        """Exact mean test NLL in nats per image on the whole test split of its data (a class-conditional
        model: the marginal, -log mean_y p(x | y)); computed once when not known (seconds,
        about 30 s for a class-conditional Gated PixelCNN on 2 cores)."""
        with self._nll_lock:
            if self.known_nll is None:
                self._nll = test_nll(self.model, self.data, labels=False)["nll_nats"]
            return self._nll

    def samples(self, n: int, seed: int) -> tuple[Tensor, float, bool]:
        """``n`` samples (n, 1, 28, 28) in {0, 1} on the CPU drawn with ``seed`` (a class-
        conditional model: digits 0-9 in turn), the seconds they took, and whether they
        were kept with the checkpoint (not drawn now)."""
        kept = self.kept.samples(n, seed)
        return (*kept, True) if kept is not None else (*draw_samples(self.model, n, seed), False)

    def settings(self) -> str:
        """The model's size in words."""
        m = self.model
        if m.family == "nade":
            return f"{m.n_hidden} hidden units"
        if m.family == "made":
            return f"hidden layers {m.hidden_sizes}, {m.n_masks} mask{'s' if m.n_masks > 1 else ''}"
        text = f"{m.channels} channels, {m.n_layers} layers"
        return text + (", class-conditional" if m.conditional else "")

    def describe(self) -> str:
        """One markdown line: family, name, size, parameters."""
        n_params = sum(p.numel() for p in self.model.parameters())
        return f"**{NAMES[self.model.family]}**: {self.name} · {self.settings()} · {n_params / 1e3:,.0f} k parameters{self.trained_on_note}"


def likelihood_table(views: dict[str, ArView], data: MnistSplits, compute: bool) -> str:
    """Markdown: the exact test NLL of each of ``views`` ({family: view}; nats per digit
    and bits per pixel) on ``data``'s test split, next to the published figures. With
    ``compute`` False nothing is computed: a figure not known yet reads "computing…"."""
    lines = [
        "| model | ours: test NLL (nats) | bits/pixel | our model | published (nats) | source |",
        "|---|---:|---:|---|---:|---|",
    ]
    for title, family, published, source in PUBLISHED:
        ours = bits = what = "—"
        if family is not None:
            view = views[family]
            nll = view.test_nll if compute else view.known_nll
            what = f"{view.name}, {view.settings()}" + (f"; **on its own test images**, {view.model.trained_on}" if view.model.trained_on else "")
            ours, bits = ("computing…", "…") if nll is None else (f"**{nll:.1f}**", f"{nll / (N_PIXELS * math.log(2)):.3f}")
        lines.append(f"| {title} | {ours} | {bits} | {what} | {'—' if published is None else f'{published:.2f}'} | {source} |")
    lines.append(
        f"\nOurs: exact, on the same {len(data.test_labels)} held-out digits, binarised once with a fixed seed; models trained on "
        f"{len(data.train_labels):,} digits for minutes on a CPU. Published: the standard binarised MNIST "
        "(Larochelle & Murray's fixed binarisation), 60,000 training digits, days of GPU training. The figures are not "
        "directly comparable, but the ordering is: the convolutional and recurrent models beat MADE, which beats NADE. "
        "A class-conditional model is scored by its marginal, log mean_y p(x | y)."
    )
    return "\n".join(lines)


def looks_text(nll: dict[str, float]) -> str:
    """Markdown on likelihood against looks, from the bundled models' exact test NLLs
    ({family: nats per digit}): the Gated PixelCNN's is better than NADE's, yet NADE's
    samples look more like digits (the figures and samples kept with the checkpoints;
    tests check the order of the NLLs)."""
    gated, nade = nll["gated_pixelcnn"], nll["nade"]
    return (
        f"**Likelihood and looks disagree.** Lower NLL is better: by likelihood the Gated PixelCNN ({gated:.1f} nats) beats NADE "
        f"({nade:.1f}) by {nade - gated:.0f} nats per digit, yet NADE's samples look more like digits. The test NLL averages "
        "−log p(x) over real digits: it rewards a model that leaves no test digit improbable (thin, thick or odd) and hardly "
        "notices probability spent on scribbles. Mix any model with 99% noise and its NLL worsens by at most ln 100 ≈ 4.6 nats "
        "per digit, while 99 samples in 100 become noise. A likelihood says how well a model covers the data, not how good "
        "its samples look (Theis, van den Oord & Bethge 2016, “A note on the evaluation of generative models”, arXiv:1511.01844)."
    )


def write_figures(model: AutoregressiveModel, data: MnistSplits, folder: Path) -> dict[str, Any]:
    """Compute the figures of ``model`` (its exact test NLL on ``data`` and
    ``N_CACHED_SAMPLES`` samples with ``CACHED_SEED``) and write ``folder/figures.json``.
    Returns what was written."""
    model.eval()
    images, seconds = draw_samples(model, N_CACHED_SAMPLES, CACHED_SEED)
    packed = np.packbits(images.numpy().astype(np.uint8).reshape(-1))
    figures = {
        "about": "Figures of this checkpoint, computed once; see playground/views/ar_model.py.",
        "weights_sha256": weights_sha256(model),
        "test_nll": {
            "nll_nats": round(test_nll(model, data, labels=False)["nll_nats"], 4),
            "dataset": data.name,
            "test_fingerprint": split_fingerprint(data),
        },
        "samples": {
            "n": N_CACHED_SAMPLES, "seed": CACHED_SEED, "seconds": round(seconds, 2),
            "pixels": base64.b64encode(packed.tobytes()).decode("ascii"),
        },
    }
    (folder / FIGURES_FILE).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return figures


def write_bundled_figures() -> None:
    """Write ``figures.json`` for the bundled checkpoints of the autoregressive tab (on
    the CPU, with the bundled digits)."""
    from playground.core import checkpoints
    from playground.core.data import load_mnist

    data = load_mnist("mnist-5k")
    for name in FAMILIES:
        start = time.perf_counter()
        figures = write_figures(checkpoints.load(name), data, BUNDLED_DIR / name)
        print(f"{name}: test NLL {figures['test_nll']['nll_nats']:.2f} nats ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    write_bundled_figures()

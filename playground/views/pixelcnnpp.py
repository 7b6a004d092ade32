"""The PixelCNN++ page of the autoregressive tab: PixelCNN++ (Salimans et al. 2017,
arXiv:1701.05517; ``models.pixelcnnpp.PixelCNNpp``) against a PixelCNN with a 256-way
softmax per pixel (``SoftmaxPixelCNN``) on the grey digits at 8 bits, trained on the same
data for the same budget: samples of both side by side, their exact test NLL in bits per
dimension, the whole predicted distribution over the 256 levels at one pixel of a test
digit (smooth mixture against a jagged softmax), and live training of either.

Drawing 16 samples pixel by pixel takes tens of seconds on 2 CPU cores, so each bundled
checkpoint keeps ``figures.json`` beside it: its test NLL and its first samples, valid for
the weights whose ``weights_sha256`` it records (``python -m playground.views.pixelcnnpp``
writes them again). No gradio here; every method checks its settings (``ValueError``).
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor

from models.base import seeded_init
from models.checks import N_PIXELS, SEED_MAX, Range, check_choice, check_int
from models.pixelcnnpp import N_LEVELS, GreyAutoregressive, PixelCNNpp, SoftmaxPixelCNN
from playground.core import checkpoints, plots
from playground.core.checkpoints import BUNDLED_DIR
from playground.core.data import MnistSplits
from playground.core.metrics import test_nll
from playground.core.plots import image_grid, side_by_side
from playground.core.training import TrainConfig, TrainEvent
from playground.views.ar_model import weights_sha256
from playground.views.base import Context, final_status, history_entry, stream_training, trained_name

FAMILIES = ("pixelcnnpp", "pixelcnn256")
NAMES = {"pixelcnnpp": "PixelCNN++", "pixelcnn256": "PixelCNN, 256-way softmax"}
BUNDLED = {"pixelcnnpp": "pixelcnnpp", "pixelcnn256": "pixelcnn-256"}  # checkpoint folder of each family
CLASSES: dict[str, type[GreyAutoregressive]] = {"pixelcnnpp": PixelCNNpp, "pixelcnn256": SoftmaxPixelCNN}
FIGURES_FILE = "figures.json"
N_KEPT = 16  # samples kept with a checkpoint, drawn with seed 0
SAMPLES = Range(1, 16, 4)  # 4 digits from each model: a minute on 2 busy cores, seconds on idle ones
PIXEL = Range(0, 27, 7)  # a row or a column
COL_DEFAULT = 9  # with row 7: a grey pixel on the edge of test digit 0's stroke (level 189), where the two models differ
STEPS = Range(20, 5000, 400)
LR = Range(1e-5, 0.05, 2e-3, integer=False)
BATCH = 32  # the bundled checkpoints' batch (models.pixelcnnpp train_defaults)
N_EVAL = 500
YIELD_EVERY_S = 0.5
CURVES = {"train": "bits_per_dim"}
PUBLISHED = (
    "Published, on CIFAR-10 (32 x 32 colour, 3 x 8 bits): PixelCNN 3.00 bits/dim (van den Oord et al. 2016, arXiv:1601.06759), "
    "Gated PixelCNN 3.03 (arXiv:1606.05328), PixelCNN++ 2.92 (Salimans et al. 2017, arXiv:1701.05517, Table 1)."
)


@dataclass(eq=False)
class PpSession:
    """One browser session's two models (bundled or trained here), keyed by family.

    Attributes:
        models: {family: model}, read-only once here (a run trains a new one and puts it in).
        names: {family: "bundled (...)" or "trained here (...)"}.
        bits: {family: exact test NLL in bits/dim on the digits' test split, or None until computed}.
        samples: {family: (samples (16, 1, 28, 28) in [0, 1] drawn with seed 0, the seconds they took)}.
        lock: held while the session draws.
    """

    models: dict[str, GreyAutoregressive]
    names: dict[str, str]
    bits: dict[str, float | None]
    samples: dict[str, tuple[Tensor, float]]
    lock: threading.Lock = field(default_factory=threading.Lock)


def _bits(nll_nats: float) -> float:
    return nll_nats / (N_PIXELS * math.log(2))


def draw_kept(model: GreyAutoregressive) -> tuple[Tensor, float]:
    """The samples kept with a model: ``N_KEPT`` drawn with seed 0 (on the CPU) and the seconds they took."""
    start = time.perf_counter()
    images = model.sample(N_KEPT, generator=torch.Generator().manual_seed(0)).cpu()
    return images, time.perf_counter() - start


def write_figures(model: GreyAutoregressive, data: MnistSplits, folder: Path) -> dict[str, Any]:
    """Compute ``model``'s exact test NLL on ``data`` and its kept samples; write ``folder/figures.json``."""
    model.eval()
    images, seconds = draw_kept(model)
    nll = test_nll(model, data)["nll_nats"]
    levels = np.round(images.numpy() * (N_LEVELS - 1)).astype(np.uint8)
    figures = {
        "about": "Figures of this checkpoint, computed once; see playground/views/pixelcnnpp.py.",
        "weights_sha256": weights_sha256(model),
        "test_nll": {"nll_nats": round(nll, 4), "bits_per_dim": round(_bits(nll), 5), "dataset": data.name, "n_test": len(data.test_labels)},
        "samples": {"n": N_KEPT, "seed": 0, "seconds": round(seconds, 2), "levels": base64.b64encode(levels.tobytes()).decode("ascii")},
    }
    (folder / FIGURES_FILE).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return figures


def read_figures(model: GreyAutoregressive, folder: Path, data: MnistSplits) -> tuple[float | None, tuple[Tensor, float] | None]:
    """The test bits/dim (when computed on ``data``) and kept samples in ``folder/figures.json`` when they are ``model``'s."""
    try:
        figures = json.loads((folder / FIGURES_FILE).read_text(encoding="utf-8"))
        if figures.get("weights_sha256") != weights_sha256(model):
            return None, None
        entry, kept = figures["test_nll"], figures["samples"]
        bits = float(entry["bits_per_dim"]) if entry.get("dataset") == data.name and entry.get("n_test") == len(data.test_labels) else None
        levels = np.frombuffer(base64.b64decode(kept["levels"]), np.uint8).reshape(kept["n"], 1, 28, 28)
        return bits, (torch.from_numpy(levels.astype(np.float32) / (N_LEVELS - 1)), float(kept["seconds"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def _pair(images: dict[str, Tensor], nrow: int = 4) -> np.ndarray:
    """PixelCNN++'s grid (left) and the softmax PixelCNN's (right), uint8."""
    return side_by_side(image_grid(images["pixelcnnpp"], nrow=nrow), image_grid(images["pixelcnn256"], nrow=nrow), gap=12)


class PpViews:
    """What the PixelCNN++ page computes (see the module docstring)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._bundled: PpSession | None = None
        self._lock = threading.Lock()

    # -- sessions ---------------------------------------------------------------------------------
    def _load_bundled(self) -> PpSession:
        """Both bundled models with their kept figures (loaded once, shared read-only)."""
        with self._lock:
            if self._bundled is None:
                models, names, bits, samples = {}, {}, {}, {}
                for family in FAMILIES:
                    model = checkpoints.load(BUNDLED[family], device=self.ctx.device).eval()
                    models[family], names[family] = model, f"bundled ({BUNDLED[family]})"
                    bits[family], kept = read_figures(model, BUNDLED_DIR / BUNDLED[family], self.ctx.data)
                    samples[family] = kept if kept is not None else draw_kept(model)
                self._bundled = PpSession(models, names, bits, samples)
            return self._bundled

    def session(self, state: Any) -> PpSession:
        """The session in ``state``, or a new one on the bundled models."""
        if isinstance(state, PpSession):
            return state
        b = self._load_bundled()
        return PpSession(dict(b.models), dict(b.names), dict(b.bits), dict(b.samples))

    def test_bits(self, session: PpSession, family: str) -> float:
        """The exact test NLL of ``family``'s model in bits/dim (computed once: seconds)."""
        if session.bits.get(family) is None:
            session.bits[family] = _bits(test_nll(session.models[family], self.ctx.data)["nll_nats"])
        return session.bits[family]

    # -- what is shown ------------------------------------------------------------------------------
    def first(self, session: PpSession) -> tuple[np.ndarray, str]:
        """The kept samples of both models (16 each, seed 0), at once, and a line on them."""
        seconds = {f: session.samples[f][1] for f in FAMILIES}
        return _pair({f: session.samples[f][0] for f in FAMILIES}), (
            f"Left: **PixelCNN++** ({session.names['pixelcnnpp']}); right: **PixelCNN, 256-way softmax** ({session.names['pixelcnn256']}). "
            f"16 samples each, seed 0, drawn pixel by pixel in {seconds['pixelcnnpp']:.1f} s and {seconds['pixelcnn256']:.1f} s (timed when kept, on 2 busy CPU cores)."
        )

    def draw(self, session: PpSession, n: Any = SAMPLES.default, seed: Any = 0) -> Iterator[tuple[np.ndarray, str]]:
        """Draw ``n`` (1 to 16) samples from each model with ``seed`` (0 to 2^31 - 1), both a row at a time.

        Yields:
            (both grids so far, status markdown) after every row, the last one with each model's samples/s.

        Raises:
            ValueError: a setting out of range, or this session is drawing already.
        """
        n = SAMPLES.check("samples", n)
        seed = check_int("seed", seed, 0, SEED_MAX)
        if not session.lock.acquire(blocking=False):
            raise ValueError("this page is drawing already: wait for it to finish")
        try:
            streams = {f: session.models[f].draw_rows(n, torch.Generator().manual_seed(seed)) for f in FAMILIES}
            seconds = dict.fromkeys(FAMILIES, 0.0)
            shown: dict[str, Tensor] = {}
            for row in range(1, 29):
                for family in FAMILIES:
                    start = time.perf_counter()
                    _, images = next(streams[family])
                    seconds[family] += time.perf_counter() - start
                    shown[family] = images.cpu().clone()
                if row < 28:
                    yield _pair(shown), f"Drawing row {row} of 28…"
            rate = " · ".join(f"{NAMES[f]}: {seconds[f]:.1f} s, {n / seconds[f]:.2f} samples/s" for f in FAMILIES)
            yield _pair(shown), f"Drew {n} samples from each (seed {seed}), one pixel at a time: {rate}."
        finally:
            session.lock.release()

    def table(self, session: PpSession) -> str:
        """Markdown: each model's exact test NLL (bits/dim and nats per digit; computed once when not kept), size and training."""
        lines = ["| model | test NLL (bits/dim) | nats per digit | parameters |", "|---|---:|---:|---:|"]
        for family in FAMILIES:
            model, bits = session.models[family], self.test_bits(session, family)
            n_params = sum(p.numel() for p in model.parameters())
            lines.append(f"| {NAMES[family]}, {session.names[family]} | **{bits:.3f}** | {bits * N_PIXELS * math.log(2):.0f} | {n_params / 1e3:,.0f} k |")
        return "\n".join(lines) + (
            f"\n\nExact, on the {len(self.ctx.data.test_labels)} held-out digits at 8 bits (a lower NLL is better; 8 bits/dim is a "
            "uniform guess). The bundled pair had the same budget: the same 4,500 training digits, 400 steps of 32, learning rate 2e-3, "
            f"a few minutes of one CPU core each. {PUBLISHED}"
        )

    def conditional(self, session: PpSession, index: Any = 0, row: Any = PIXEL.default, col: Any = COL_DEFAULT) -> tuple[go.Figure, str]:
        """Both models' whole conditional p(level | the pixels before) over the 256 grey levels at pixel (row, col),
        each 0 to 27, of test digit ``index`` (0 to N - 1), given its true pixels before it.

        Returns:
            (plotly figure: the two distributions and the true level, markdown: what each gives the true level).

        Raises:
            ValueError: an index or pixel out of range.
        """
        index = check_int("test digit", index, 0, len(self.ctx.data.test_labels) - 1)
        row, col = PIXEL.check("row", row), PIXEL.check("column", col)
        x = self.ctx.data.images("test", "grey")[index : index + 1].to(self.ctx.device)
        true = int(torch.round(x[0, 0, row, col] * (N_LEVELS - 1)))
        fig = go.Figure()
        parts = []
        with torch.no_grad():
            for family, colour in zip(FAMILIES, ("#1f77b4", "#ff7f0e")):
                model = session.models[family]
                probs = model.level_probs(model.conditional_params(x, row * 28 + col))[0].cpu().numpy()
                fig.add_trace(go.Scatter(x=np.arange(N_LEVELS), y=probs, mode="lines", name=NAMES[family], line={"color": colour}))
                parts.append(f"{NAMES[family]}: p = {probs[true]:.3f} (−log₂ p = {-math.log2(max(float(probs[true]), 1e-30)):.2f} bits)")
        fig.add_vline(x=true, line_dash="dash", line_color="#2ca02c", annotation_text=f"true level {true}")
        fig.update_layout(
            height=300, margin={"l": 50, "r": 10, "t": 40, "b": 40}, legend={"orientation": "h", "y": 1.15},
            xaxis_title="grey level (0 black background … 255 full ink)", yaxis_title="probability", yaxis_type="log",
        )
        fig.update_yaxes(range=[-6, 0])
        return fig, f"Test digit {index}, pixel (row {row}, column {col}), true level **{true}**. " + " · ".join(parts) + "."

    # -- training -----------------------------------------------------------------------------------
    def train(self, session: PpSession, family: Any = "pixelcnnpp", steps: Any = STEPS.default, lr: Any = LR.default, seed: Any = 0, *, stop: threading.Event) -> Iterator[tuple]:
        """Train a new PixelCNN++ (family "pixelcnnpp") or 256-way softmax PixelCNN ("pixelcnn256") of the bundled size from scratch
        on the grey digits (batches of 32, Adam), streaming. Steps: 20 to 5,000; lr: 1e-5 to 0.05; seed: 0 to 2^31 - 1. Stop ends the
        run within a step and keeps the weights reached.

        Yields:
            (status markdown, plotly curves of bits/dim (train, test), 16 samples drawn with the seed when the run ends; None
            for unchanged). The trained model then replaces the session's model of its family.

        Raises:
            ValueError: a setting out of range (nothing is changed).
        """
        family = check_choice("model", family, FAMILIES)
        steps, lr, seed = STEPS.check("steps", steps), LR.check("learning rate", lr), check_int("seed", seed, 0, SEED_MAX)
        model = seeded_init(CLASSES[family], seed).to(self.ctx.device)
        config = TrainConfig(
            steps=steps, lr=lr, seed=seed, batch_size=BATCH, log_every=5, sample_every=0, eval_every=max(50, steps // 5), n_samples=N_KEPT, n_eval=N_EVAL,
        )
        yield f"Starting: {NAMES[family]}, {steps} steps…", None, None
        for event, history, learnt in stream_training(model, self.ctx.data, config, stop, lambda e: history_entry(e, CURVES), YIELD_EVERY_S):
            curves = plots.training_curves(history, {"train": "bits/dim"})
            if not event.final:
                test = f" · test {event.test_losses['bits_per_dim']:.3f}" if event.test_losses else ""
                yield f"{NAMES[family]}: step {event.step} / {steps} · {event.step / max(event.elapsed_s, 1e-9):.2f} steps/s · bits/dim train {event.losses['bits_per_dim']:.3f}{test}", curves, None
                continue
            yield self._finish(session, family, model, event, learnt, steps, seed), curves, None if event.samples is None else image_grid(event.samples, nrow=4)

    def _finish(self, session: PpSession, family: str, model: GreyAutoregressive, event: TrainEvent, learnt: bool, steps: int, seed: int) -> str:
        """The final status; a model that learnt replaces the session's of its family (with its test NLL and samples when the run made them)."""
        status = final_status(event, learnt)
        if not learnt:
            return status
        session.models[family] = model.eval()
        session.names[family] = trained_name(event, steps, seed)
        full = event.test_losses is not None and len(self.ctx.data.test_labels) <= N_EVAL
        session.bits[family] = event.test_losses["bits_per_dim"] if full else None
        if event.samples is not None:
            session.samples[family] = (event.samples, 0.0)
        return status + f" It now stands for {NAMES[family]} on this page." + (f" Test NLL {session.bits[family]:.3f} bits/dim." if full else "")


def write_bundled_figures() -> None:
    """Write ``figures.json`` for the two bundled checkpoints (on the CPU, the bundled digits)."""
    from playground.core.data import load_mnist

    data = load_mnist("mnist-5k")
    for family in FAMILIES:
        start = time.perf_counter()
        figures = write_figures(checkpoints.load(BUNDLED[family]), data, BUNDLED_DIR / BUNDLED[family])
        print(f"{BUNDLED[family]}: {figures['test_nll']['bits_per_dim']:.3f} bits/dim, samples {figures['samples']['seconds']} s ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    torch.set_num_threads(1)
    write_bundled_figures()

"""The multiscale PixelCNN page of the autoregressive tab (Reed et al. 2017, "Parallel
Multiscale Autoregressive Density Estimation", arXiv:1703.03664; ``models.multiscale``):
its samples scale by scale (a 7 x 7 start, then six groups of pixels drawn in parallel),
a race in samples per second against the bundled PixelCNN, the exact test NLL of both, and
live training.

The multiscale model draws 16 digits in well under a second, so its pictures are computed
when asked; the bundled PixelCNN's first samples and their time come from the figures kept
with its checkpoint (``views.ar_model.CachedFigures``). No gradio here; every method checks
its settings (``ValueError``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from models.base import AutoregressiveModel, seeded_init
from models.checks import N_PIXELS, SEED_MAX, Range, check_int
from models.multiscale import GROUPS, MultiscalePixelCNN
from playground.core import checkpoints, plots
from playground.core.metrics import test_nll
from playground.core.plots import image_grid, side_by_side
from playground.core.training import TrainConfig, TrainEvent
from playground.views.ar_model import CachedFigures
from playground.views.base import Context, final_status, history_entry, stream_training, trained_name

BUNDLED = "multiscale"
RACE = Range(1, 16, 4)  # samples per model in the race (the PixelCNN takes about 2 s per digit on 2 busy cores)
STAGES = Range(1, 8, 4)
STEPS = Range(20, 5000, 500)
LR = Range(1e-5, 0.05, 2e-3, integer=False)
BATCH = 32
N_EVAL = 500
YIELD_EVERY_S = 0.5
N_KEPT = 16
# The equal budget: the bundled PixelCNN's architecture (32 channels, 6 layers) trained exactly as the bundled multiscale
# model (500 steps of 32 binarised digits, lr 2e-3, seed 0) with the CLI, test NLL on the 500 bundled test digits:
#   python -m playground train pixelcnn --steps 500 --batch-size 32 --lr 0.002 --seed 0 --set channels=32 n_layers=6
# The bundled multiscale model and the bundled PixelCNN drawing 16 digits each, one after the other, one torch thread, on
# the development machine's 2 busy cores (load 13), seconds:
MEASURED_S = (0.56, 29.57)
EQUAL_BUDGET_PIXELCNN_NATS: float | None = 97.00  # measured: 96.9956 (the CLI run's final test NLL, 500 test digits)


@dataclass(eq=False)
class MsSession:
    """One browser session's multiscale model (bundled or trained here) and its name; ``nll`` its exact test NLL
    (nats per digit) once computed; ``lock`` held while it draws."""

    model: MultiscalePixelCNN
    name: str
    nll: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _up(images: Tensor) -> Tensor:
    """Images (B, 1, S, S) at any scale shown at 28 x 28 (each pixel a block)."""
    return F.interpolate(images, size=(28, 28), mode="nearest")


class MsViews:
    """What the multiscale PixelCNN page computes (see the module docstring)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._bundled: tuple[MultiscalePixelCNN, AutoregressiveModel] | None = None
        self._lock = threading.Lock()

    def _models(self) -> tuple[MultiscalePixelCNN, AutoregressiveModel]:
        """The bundled multiscale model and the bundled PixelCNN (loaded once, shared read-only)."""
        with self._lock:
            if self._bundled is None:
                self._bundled = (checkpoints.load(BUNDLED, device=self.ctx.device).eval(), checkpoints.load("pixelcnn", device=self.ctx.device).eval())
            return self._bundled

    def session(self, state: Any) -> MsSession:
        """The session in ``state``, or a new one on the bundled model."""
        return state if isinstance(state, MsSession) else MsSession(self._models()[0], f"bundled ({BUNDLED})")

    @property
    def pixelcnn(self) -> AutoregressiveModel:
        """The bundled PixelCNN the race runs against."""
        return self._models()[1]

    def test_nll(self, session: MsSession) -> float:
        """The exact test NLL of the session's model in nats per digit (computed once: about a second)."""
        if session.nll is None:
            session.nll = test_nll(session.model, self.ctx.data)["nll_nats"]
        return session.nll

    # -- what is shown ------------------------------------------------------------------------------
    def stages(self, session: MsSession, n: Any = STAGES.default, seed: Any = 0) -> tuple[np.ndarray, str]:
        """``n`` (1 to 8) samples drawn with ``seed`` (0 to 2^31 - 1), one row each: the 7 x 7 start, then the image
        after each of the six groups (shown at 28 x 28). Returns the picture and a line with the time taken.

        Raises:
            ValueError: a setting out of range.
        """
        n, seed = STAGES.check("samples", n), check_int("seed", seed, 0, SEED_MAX)
        start = time.perf_counter()
        shown = [_up(images).cpu() for _, images in session.model.stages(n, torch.Generator().manual_seed(seed))]
        seconds = time.perf_counter() - start
        grid = torch.stack(shown, 1).reshape(-1, 1, 28, 28)  # (n * 7, 1, 28, 28): one row per sample
        steps = " → ".join(["7 × 7 (49 passes)"] + [f"{side}² {offset}" for side, offset in GROUPS])
        return image_grid(grid, nrow=len(shown)), f"Left to right: {steps}. {n} digits in {seconds * 1000:.0f} ms: 55 network passes, not 784."

    def first(self, session: MsSession) -> tuple[np.ndarray, str]:
        """16 samples of the multiscale model (seed 0, drawn now: well under a second) beside the bundled PixelCNN's 16
        kept ones (seed 0), with the speeds measured side by side (``MEASURED_S``)."""
        ours = session.model.sample(N_KEPT, generator=torch.Generator().manual_seed(0)).cpu()
        kept = CachedFigures(self.pixelcnn).samples(N_KEPT, 0)
        theirs = kept[0] if kept is not None else torch.zeros(N_KEPT, 1, 28, 28)
        ours_s, theirs_s = MEASURED_S
        return side_by_side(image_grid(ours, nrow=4), image_grid(theirs, nrow=4), gap=12), (
            f"Left: **multiscale PixelCNN** ({session.name}); right: the bundled **PixelCNN**, 16 samples each (seed 0). Timed "
            f"together on one busy core: 16 in {ours_s:.2f} s ({N_KEPT / ours_s:.0f} samples/s) against {theirs_s:.1f} s "
            f"({N_KEPT / theirs_s:.2f} samples/s). Press **Race** to time both here and now."
        )

    def race(self, session: MsSession, n: Any = RACE.default, seed: Any = 0) -> Iterator[tuple[np.ndarray, str]]:
        """Draw ``n`` (1 to 16) samples with ``seed`` (0 to 2^31 - 1) from the multiscale model, then from the bundled
        PixelCNN (row by row), timing each.

        Yields:
            (both grids so far, status markdown), the last with each model's samples per second.

        Raises:
            ValueError: a setting out of range, or this session is drawing already.
        """
        n, seed = RACE.check("samples", n), check_int("seed", seed, 0, SEED_MAX)
        if not session.lock.acquire(blocking=False):
            raise ValueError("this page is drawing already: wait for it to finish")
        try:
            start = time.perf_counter()
            ours = session.model.sample(n, generator=torch.Generator().manual_seed(seed)).cpu()
            ours_s = time.perf_counter() - start
            blank = torch.zeros_like(ours)
            yield side_by_side(image_grid(ours, nrow=4), image_grid(blank, nrow=4), gap=12), f"Multiscale: {n} in {ours_s:.2f} s. PixelCNN drawing…"
            start = time.perf_counter()
            for step, images, _ in self.pixelcnn.draw(torch.zeros(n, 1, 28, 28, device=self.ctx.device), 0, None, torch.Generator().manual_seed(seed), every=28):
                theirs = images.cpu().clone()
                if step < N_PIXELS:
                    yield side_by_side(image_grid(ours, nrow=4), image_grid(theirs, nrow=4), gap=12), f"Multiscale: {n} in {ours_s:.2f} s. PixelCNN: row {step // 28} of 28…"
            theirs_s = time.perf_counter() - start
            yield side_by_side(image_grid(ours, nrow=4), image_grid(theirs, nrow=4), gap=12), (
                f"{n} samples each (seed {seed}): multiscale **{n / ours_s:.1f} samples/s** ({ours_s:.2f} s), PixelCNN "
                f"**{n / theirs_s:.2f} samples/s** ({theirs_s:.1f} s): {theirs_s / ours_s:.0f}× faster."
            )
        finally:
            session.lock.release()

    def table(self, session: MsSession) -> str:
        """Markdown: exact test NLL (nats per digit, bits per pixel) and training of the multiscale model, the bundled PixelCNN and a PixelCNN of the same budget."""
        kept = CachedFigures(self.pixelcnn).test_nll(self.ctx.data)
        rows = [
            ("Multiscale PixelCNN", self.test_nll(session), f"{session.name}; 500 steps of 32 digits when bundled"),
            ("PixelCNN, same budget", EQUAL_BUDGET_PIXELCNN_NATS, "the bundled architecture, trained exactly as the bundled multiscale model"),
            ("PixelCNN (bundled)", kept, "5,000 steps of 64 digits: 20 times the budget"),
        ]
        lines = ["| model | test NLL (nats) | bits/dim | training |", "|---|---:|---:|---|"]
        for title, nll, what in rows:
            shown = ("—", "—") if nll is None else (f"**{nll:.1f}**", f"{nll / (N_PIXELS * math.log(2)):.3f}")
            lines.append(f"| {title} | {shown[0]} | {shown[1]} | {what} |")
        return "\n".join(lines) + (
            "\n\nExact, on the 500 held-out binarised digits. *Same budget* means the same training steps (500), batch (32), learning "
            "rate and data; a multiscale step costs about 1.8 times the CPU time of a PixelCNN step (seven networks: measured 1.29 s "
            "against 0.70 s per step on one busy core), so for equal CPU time the PixelCNN would get more steps. Reed et al. report 3.95 bits/dim for their multiscale model on "
            "ImageNet 32 × 32 (PixelCNN: 3.83) while sampling in O(log N) instead of O(N) steps."
        )

    # -- training -----------------------------------------------------------------------------------
    def train(self, session: MsSession, steps: Any = STEPS.default, lr: Any = LR.default, seed: Any = 0, *, stop: threading.Event) -> Iterator[tuple]:
        """Train a new multiscale PixelCNN of the bundled size from scratch on the binarised digits (batches of 32, Adam),
        streaming. Steps: 20 to 5,000; lr: 1e-5 to 0.05; seed: 0 to 2^31 - 1. Stop ends the run within a step and keeps the
        weights reached.

        Yields:
            (status markdown, plotly NLL curves (train, test; nats), 16 samples at each evaluation and at the end; None for
            unchanged). The trained model then replaces the session's.

        Raises:
            ValueError: a setting out of range (nothing is changed).
        """
        steps, lr, seed = STEPS.check("steps", steps), LR.check("learning rate", lr), check_int("seed", seed, 0, SEED_MAX)
        model = seeded_init(MultiscalePixelCNN, seed).to(self.ctx.device)
        every = max(50, steps // 5)
        config = TrainConfig(steps=steps, lr=lr, seed=seed, batch_size=BATCH, log_every=5, sample_every=every, eval_every=every, n_samples=N_KEPT, n_eval=N_EVAL)
        yield f"Starting: {steps} steps…", None, None
        for event, history, learnt in stream_training(model, self.ctx.data, config, stop, lambda e: history_entry(e, {"nll": "nll"}), YIELD_EVERY_S):
            curves = plots.training_curves(history, {"nll": "negative log-likelihood (nats per digit)"})
            samples = None if event.samples is None else image_grid(event.samples, nrow=4)
            if event.final:
                yield self._finish(session, model, event, learnt, steps, seed), curves, samples
            else:
                test = f" · test {event.test_losses['nll']:.1f}" if event.test_losses else ""
                yield f"step {event.step} / {steps} · {event.step / max(event.elapsed_s, 1e-9):.2f} steps/s · NLL train {event.losses['nll']:.1f}{test} nats", curves, samples

    def _finish(self, session: MsSession, model: MultiscalePixelCNN, event: TrainEvent, learnt: bool, steps: int, seed: int) -> str:
        """The final status; a model that learnt replaces the session's (with its test NLL when the run measured it on the whole split)."""
        status = final_status(event, learnt)
        if not learnt:
            return status
        session.model, session.name = model.eval(), trained_name(event, steps, seed)
        full = event.test_losses is not None and len(self.ctx.data.test_labels) <= N_EVAL
        session.nll = event.test_losses["nll"] if full else None
        return status + " It now drives this page." + (f" Test NLL {session.nll:.1f} nats." if full else "")

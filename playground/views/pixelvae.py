"""The PixelVAE page of the autoregressive tab (Gulrajani et al. 2017, "PixelVAE: A Latent
Variable Model for Natural Images", arXiv:1611.05013; ``models.pixelvae``): samples of the
bundled VAE beside the bundled PixelVAE's, a latent that still matters (the same z decoded
with different pixel noise against different z), the KL per digit class next to the VAE's,
and live training. Also the receptive fields of the tab's whole-past models, PixelSNAIL
and the Diagonal BiLSTM, beside the PixelCNN's blind spot.

No gradio here; every method checks its settings (``ValueError``) and returns pictures
(uint8 arrays) and markdown.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from models.base import seeded_init
from models.checks import N_CLASSES, SEED_MAX, Range, check_int
from models.pixelvae import PixelVAE
from playground.core import checkpoints, plots
from playground.core.plots import image_grid, side_by_side
from playground.core.training import TrainConfig
from playground.views import ar_pictures
from playground.views.base import Context, final_status, history_entry, stream_training, trained_name

BUNDLED = "pixelvae"
SAMPLES = Range(1, 16, 8)
N_Z = Range(1, 6, 4)  # rows: different z
N_NOISE = Range(1, 6, 4)  # columns: the same z, different pixel noise
PIXEL = Range(0, 27, 14)
STEPS = Range(20, 3000, 300)
LR = Range(1e-5, 0.05, 2e-3, integer=False)
BATCH = 32
N_EVAL = 500
YIELD_EVERY_S = 0.5
FIELD_FAMILIES = ("pixelcnn", "pixelsnail", "diagonal_bilstm")
FIELD_NAMES = {"pixelcnn": "PixelCNN", "pixelsnail": "PixelSNAIL", "diagonal_bilstm": "Diagonal BiLSTM"}
CURVES = {"elbo": "ELBO (nats per digit)", "kl": "KL(q(z|x) || p(z)) (nats)"}


@dataclass(eq=False)
class PvSession:
    """One browser session's PixelVAE (bundled or trained here), its name, and ``lock`` held while it draws."""

    model: PixelVAE
    name: str
    lock: threading.Lock = field(default_factory=threading.Lock)


class PvViews:
    """What the PixelVAE page computes (see the module docstring)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._bundled: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _bundled_model(self, name: str) -> Any:
        """A bundled checkpoint, loaded once and shared read-only."""
        with self._lock:
            if name not in self._bundled:
                self._bundled[name] = checkpoints.load(name, device=self.ctx.device).eval()
            return self._bundled[name]

    def session(self, state: Any) -> PvSession:
        """The session in ``state``, or a new one on the bundled PixelVAE."""
        return state if isinstance(state, PvSession) else PvSession(self._bundled_model(BUNDLED), f"bundled `{BUNDLED}`")

    @contextlib.contextmanager
    def _drawing(self, session: PvSession) -> Iterator[None]:
        """Hold the session's lock while it draws (one drawing at a time per session).

        Raises:
            ValueError: this session is drawing already.
        """
        if not session.lock.acquire(blocking=False):
            raise ValueError("this page is drawing already: wait for it to finish")
        try:
            yield
        finally:
            session.lock.release()

    # -- what is shown ------------------------------------------------------------------------------
    def compare(self, session: PvSession, n: Any = SAMPLES.default, seed: Any = 0) -> tuple[np.ndarray, str]:
        """``n`` (1 to 16) samples of the bundled VAE (its Bernoulli means, as VAEs are shown, and one binary draw of
        each) and of the session's PixelVAE (right), z from the prior with ``seed`` (0 to 2^31 - 1).

        Raises:
            ValueError: a setting out of range, or this session is drawing already.
        """
        n, seed = SAMPLES.check("samples", n), check_int("seed", seed, 0, SEED_MAX)
        vae = self._bundled_model("vae")
        with self._drawing(session):
            g = torch.Generator().manual_seed(seed)
            means = vae.sample(n, generator=g).cpu()
            draws = torch.bernoulli(means, generator=g)
            start = time.perf_counter()
            ours = session.model.sample(n, generator=torch.Generator().manual_seed(seed)).cpu()
            seconds = time.perf_counter() - start
        nrow = min(n, 4)
        picture = side_by_side(side_by_side(image_grid(means, nrow=nrow), image_grid(draws, nrow=nrow), gap=16), image_grid(ours, nrow=nrow), gap=16)
        return picture, (
            f"Left: the **VAE**'s means p(x = 1 | z) (blur where z is unsure). Middle: one draw of each (independent pixels: "
            f"speckle). Right: the **PixelVAE** ({session.name}), {n} digits drawn pixel by pixel given z in {seconds:.1f} s: its "
            "PixelCNN decoder draws connected strokes."
        )

    def latent(self, session: PvSession, n_z: Any = N_Z.default, n_noise: Any = N_NOISE.default, seed: Any = 0) -> tuple[np.ndarray, str]:
        """Does z still matter? ``n_z`` (1 to 6) draws of z from the prior, one row each, each decoded ``n_noise`` (1 to 6)
        times with different pixel noise, ``seed`` in [0, 2^31 - 1]. Returns the grid and the share of pixels that differ
        within a row (same z) and across rows (different z).

        Raises:
            ValueError: a setting out of range, or this session is drawing already.
        """
        n_z, n_noise, seed = N_Z.check("latents", n_z), N_NOISE.check("draws per latent", n_noise), check_int("seed", seed, 0, SEED_MAX)
        model = session.model
        with self._drawing(session):
            z = model.prior(n_z, torch.Generator().manual_seed(seed)).repeat_interleave(n_noise, 0)  # (n_z * n_noise, D): rows of one z
            images = model.decode(z, torch.Generator().manual_seed(seed + 1)).cpu().view(n_z, n_noise, 784)
        same = float((images[:, :, None] != images[:, None]).float().mean(-1).sum() / max(1, n_z * n_noise * (n_noise - 1)))
        across = float((images[:, None] != images[None]).float().mean(-1).mean()) if n_z > 1 else float("nan")
        text = f"Each row one z, each column other pixel noise. Pixels that differ: **{same:.1%}** between draws of the same z"
        text += f", **{across:.1%}** between different z." if n_z > 1 else "."
        return image_grid(images.view(-1, 1, 28, 28), nrow=n_noise), text + " A latent that still matters: the rows differ more than the columns."

    @torch.no_grad()
    def kl_table(self, session: PvSession) -> str:
        """Markdown: the KL(q(z|x) || p(z)) per digit class (mean over the test digits of the class, nats), the
        reconstruction and the ELBO (nats per digit) of the session's PixelVAE and the bundled VAE, one sample of z each."""
        data = self.ctx.data
        x, y = data.images("test", "binary").to(self.ctx.device), data.test_labels
        rows = {}
        for name, model in (("PixelVAE", session.model), ("VAE", self._bundled_model("vae"))):
            g = torch.Generator().manual_seed(0)
            terms = model.elbo_terms(x, g) if isinstance(model, PixelVAE) else _vae_terms(model, x, g)
            rows[name] = {k: terms[k].cpu() for k in ("kl", "reconstruction", "elbo")}
        lines = ["| model | ELBO (nats) | -log p(x\\|z) | KL | " + " | ".join(f"KL {d}" for d in range(N_CLASSES)) + " |", "|---|" + "---:|" * (3 + N_CLASSES)]
        for name, t in rows.items():
            per = [float(t["kl"][y == d].mean()) for d in range(N_CLASSES)]
            lines.append(f"| {name} | {float(t['elbo'].mean()):.1f} | {float(t['reconstruction'].mean()):.1f} | **{float(t['kl'].mean()):.1f}** | " + " | ".join(f"{k:.1f}" for k in per) + " |")
        return "\n".join(lines) + (
            f"\n\nOn the {len(y)} held-out digits, one z per digit; nats per digit. The KL is what the latent carries about each digit: "
            "the PixelVAE leaves the local detail to its PixelCNN and needs fewer nats of z than the VAE, but not zero."
        )

    def receptive_fields(self, row: Any = PIXEL.default, col: Any = PIXEL.default) -> tuple[np.ndarray, str]:
        """Which input pixels influence the conditional of pixel (row, col), row and col in [0, 27], for the bundled
        PixelCNN, PixelSNAIL and Diagonal BiLSTM side by side (blue: influence; orange: the blind spot; dark: later pixels).

        Raises:
            ValueError: a row or column out of range.
        """
        row, col = PIXEL.check("row", row), PIXEL.check("column", col)
        models = {FIELD_NAMES[f]: self._bundled_model(f) for f in FIELD_FAMILIES}
        return ar_pictures.receptive_fields(models, row, col)

    # -- training -----------------------------------------------------------------------------------
    def train(self, session: PvSession, steps: Any = STEPS.default, lr: Any = LR.default, seed: Any = 0, *, stop: threading.Event) -> Iterator[tuple]:
        """Train a new PixelVAE of the bundled size from scratch on the binarised digits (batches of 32, Adam), streaming.
        Steps: 20 to 3,000; lr: 1e-5 to 0.05; seed: 0 to 2^31 - 1. Stop ends the run within a step and keeps the weights.

        Yields:
            (status markdown, plotly curves of the ELBO and the KL (nats), 16 samples at each evaluation; None for unchanged).

        Raises:
            ValueError: a setting out of range (nothing is changed).
        """
        steps, lr, seed = STEPS.check("steps", steps), LR.check("learning rate", lr), check_int("seed", seed, 0, SEED_MAX)
        model = seeded_init(PixelVAE, seed, **self._bundled_model(BUNDLED).config).to(self.ctx.device)
        every = max(50, steps // 5)
        config = TrainConfig(steps=steps, lr=lr, seed=seed, batch_size=BATCH, log_every=5, sample_every=every, eval_every=every, n_samples=16, n_eval=N_EVAL)
        yield f"Starting: {steps} steps…", None, None
        keys = {"elbo": "elbo", "kl": "kl"}
        for event, history, learnt in stream_training(model, self.ctx.data, config, stop, lambda e: history_entry(e, keys), YIELD_EVERY_S):
            curves = plots.training_curves(history, CURVES)
            samples = None if event.samples is None else image_grid(event.samples, nrow=4)
            if event.final:
                status = final_status(event, learnt)
                if learnt:
                    session.model, session.name = model.eval(), trained_name(event, steps, seed)
                    status += " It now drives this page."
                yield status, curves, samples
            else:
                yield f"step {event.step} / {steps} · ELBO {float(event.losses['elbo']):.1f} · KL {float(event.losses['kl']):.1f} nats", curves, samples


def _vae_terms(vae: Any, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The bundled VAE's per-digit ELBO terms (B,) in nats, one sample of z each."""
    mu, logvar = vae.encode(x)
    z = vae.reparameterise(mu, logvar, generator)
    reconstruction = torch.nn.functional.binary_cross_entropy_with_logits(vae.decoder_logits(z), x, reduction="none").flatten(1).sum(1)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
    return {"kl": kl, "reconstruction": reconstruction, "elbo": -(reconstruction + kl)}

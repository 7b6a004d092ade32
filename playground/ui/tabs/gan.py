"""The GAN tab: samples, live training as a duel, interpolation, vector arithmetic,
class-conditional grids and the 2D GAN lab, for bundled, loaded or freshly trained GANs.

Handlers are methods of ``GanTab`` so that tests can call them without a browser. Each
takes the session's ``GanSession`` from ``gr.State`` (None for a new session or an API
client, which then gets the bundled DCGAN and cGAN) and checks every value it is given.
Samples picked in the galleries are numbered in a *pool*: ``POOL_SIZE`` latents drawn
from a seed (``pool_seed``), so a pick is reproducible from (model, seed, number) alone
and API clients need no state.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import gradio as gr
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from models.base import seeded_init
from models.checks import N_CLASSES, SEED_MAX, check_bool, check_choice, check_float, check_int
from models.gan import GAN, LATENT_DIM_RANGE, LOSS_NAMES, LOSSES, ConditionalGAN
from playground.core import plots
from playground.core.attributes import measure_traits, slerp
from playground.core.metrics import CONFIDENCE, classify, sample_quality
from playground.core.training import TrainConfig, train
from playground.ui.legacy import (
    AppContext,
    BundledViews,
    ModelView,
    checkpoint_panel,
    image_output,
    load_checkpoint,
    load_checkpoint_zip,
    save_animation,
    session_key,
    to_image,
    training_panel,
    ui_handler,
)
from playground.ui.tabs import gan_lab

DEFAULT_CHECKPOINT = "gan"
CONDITIONAL_CHECKPOINT = "cgan"
FAMILIES = ("gan", "cgan")
POOL_SIZE = 60  # 6 rows of 10; a conditional model's column c is digit c
POOL_COLUMNS = 10
MAX_SLOT = 8
MAX_UI_STEPS = 5000
MAX_UI_DROPOUT = 0.5
# The Train panel's defaults, by the handler's argument names (the bench trains with them).
TRAIN_DEFAULTS: dict[str, Any] = dict(
    conditional=False, loss="non_saturating", d_steps=1, lr_g=2e-4, lr_d=2e-4, latent_dim=64, width=32,
    spectral_norm=False, minibatch_std=False, d_dropout=0.0, steps=1500, seed=0,
)
UI_WIDTHS = (16, 32, 48, 64)
WALK_FRAMES = 40
NEIGHBOUR_NOISE = 0.25
YIELD_EVERY_S = 0.5
# Radford et al. (2015), Fig. 7, on digits: thick 7 - thin 7 + thin 1 = thick 1.
PRESET = ("7", "7", "1")
DEFAULT_INTERPOLATION = (17, 10)  # in pool 0 of the bundled gan: a 1 that passes through a 7 into a 0
LOSS_CURVES = {"d_loss": "discriminator loss", "g_loss": "generator loss"}
D_CURVES = {"d_real": "mean D(x): real digits", "d_fake": "mean D(G(z)): generated"}

EXPLANATION = r"""
### The game
A **generator** $G$ turns noise $z\sim\mathcal N(0,I)$ into an image; a **discriminator** $D$ outputs
the probability that its input is a real digit. They play the minimax game (Goodfellow et al. 2014)

$$\min_G\max_D\;V(D,G)=\mathbb E_{x\sim p_\text{data}}[\log D(x)]+\mathbb E_{z}[\log(1-D(G(z)))].$$

**The optimal discriminator.** For a fixed $G$ whose samples have density $p_g$, $V$ is maximised
pointwise by

$$D^*(x)=\frac{p_\text{data}(x)}{p_\text{data}(x)+p_g(x)},$$

and then $V(D^*,G)=2\,\mathrm{JS}(p_\text{data}\,\|\,p_g)-\log 4$: training $G$ against the best $D$
minimises the Jensen–Shannon divergence, which is 0 only when $p_g=p_\text{data}$ (then $D^*=\tfrac12$
everywhere). The **2D GAN lab** shows $D$ as a heatmap: watch it approach ½ where the two point clouds overlap.

**Why the non-saturating loss helps.** Early on, $D$ rejects $G$'s samples easily: $D(G(z))\approx0$,
where $\log(1-D(G(z)))$ is flat and its gradient vanishes, so the original (*minimax*, saturating)
generator learns slowly or collapses onto a few modes. Maximising $\log D(G(z))$ instead has the
same fixed point but a large gradient exactly when $G$ is losing. Try both on the ring in the lab.

**WGAN-GP** (Gulrajani et al. 2017) replaces $D$ by a critic $f$ and estimates the Wasserstein distance
$\mathbb E f(x)-\mathbb E f(G(z))$, keeping $f$ 1-Lipschitz with a penalty
$\lambda\,\mathbb E(\lVert\nabla_{\hat x}f(\hat x)\rVert_2-1)^2$ on points between real and fake.
**Spectral normalisation** (Miyato et al. 2018) bounds $D$'s Lipschitz constant by dividing each layer's
weights by their largest singular value. **k** is the number of $D$ updates per $G$ update.

**Mode dropping on digits.** The model's description lists the digits its samples show least and most
often; in the training data each digit is 10%. An unconditional DCGAN trained on 4,500 digits under-draws
some (the bundled one, 1s and 3s), the same failure the 2D lab's *mode-collapse demo* shows on the ring. It
also has to bend one Gaussian latent space across ten separate digit shapes, so some samples fall between
two digits; the conditional GAN, whose class is a separate input, avoids both.

**Reading the curves.** Mean $D(x)$ on real digits and mean $D(G(z))$ on generated ones: if $D$ wins
outright (1 and 0) the generator gets no signal; near ½ both, the game is balanced. The test curve
(dashed) is $D$ on held-out digits: a gap to the training curve means $D$ memorises the 4,500 training digits.

**Latent space.** *Interpolation* decodes points on the line (or great circle) between two latents.
*Vector arithmetic* (Radford et al. 2015, Fig. 7) averages a few latents per concept, as in the paper,
and decodes A − B + C with neighbours ($\pm$ noise). With the **conditional GAN** (Mirza & Osindero 2014)
the label is given separately, so $z$ only has to hold the *style*: the same $z$ under another
label keeps its thickness and slant.

Radford, Metz & Chintala 2015, arXiv:1511.06434 · Goodfellow et al. 2014, arXiv:1406.2661 ·
Mirza & Osindero 2014, arXiv:1411.1784 · Gulrajani et al. 2017, arXiv:1704.00028 · Miyato et al. 2018, arXiv:1802.05957.
"""


class GanView(ModelView):
    """A loaded GAN plus what is derived from it once. Never modified after it is made
    (derived values are computed lazily, idempotently), so sessions can share the
    bundled ones."""

    def __init__(self, model: GAN, name: str, ctx: AppContext):
        super().__init__(model, name)
        self.ctx = ctx

    @property
    def conditional(self) -> bool:
        """Whether the model takes a digit label."""
        return self.model.conditional

    @torch.no_grad()
    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """G(z[, y]) on the CPU: (N, 1, 28, 28) float32 in [0, 1] for z (N, D); ``y``
        (N,) int64 is used only by a conditional model."""
        y = y.to(self.ctx.device) if (y is not None and self.conditional) else None
        return self.model.generate(z.to(self.ctx.device, torch.float32), y).cpu()

    @torch.no_grad()
    def generate_mixed(self, z: Tensor, weights: Tensor) -> Tensor:
        """Like ``generate`` with a blend of labels (N, 10) for a conditional model."""
        return self.model.generate_mixed(z.to(self.ctx.device, torch.float32), weights.to(self.ctx.device)).cpu()

    def pool(self, seed: int) -> tuple[Tensor, Tensor | None]:
        """``POOL_SIZE`` latents from ``seed`` on the CPU, (60, D), and for a conditional
        model their labels (60,) (0..9 by column), else None."""
        z = torch.randn(POOL_SIZE, self.model.latent_dim, generator=torch.Generator().manual_seed(seed))
        y = torch.arange(POOL_SIZE) % POOL_COLUMNS if self.conditional else None
        return z, y

    @functools.cached_property
    def quality(self) -> dict[str, Any]:
        """The independent classifier's reading of 500 samples (seed 0)."""
        n = 500
        y = torch.arange(n) % N_CLASSES if self.conditional else None
        samples = self.generate(self.model.latents(n, torch.Generator(device=self.ctx.device).manual_seed(0)).cpu(), y)
        return sample_quality(samples, self.ctx.data, y)

    def describe(self) -> str:
        """Markdown: name, architecture, training recipe, size and sample quality."""
        m, q = self.model, self.quality
        n_params = sum(p.numel() for p in m.parameters())  # G and D
        agreement = f" · label agreement **{q['label_agreement']:.0%}**" if "label_agreement" in q else ""
        return (
            f"**{self.name}** · {m.title} · loss {LOSS_NAMES[m.loss_kind]} · k = {m.d_steps} · latent {m.latent_dim} · "
            f"width {m.width}{' · spectral norm' if m.spectral_norm else ''}"
            f"{' · minibatch std in D' if m.minibatch_std else ''}{f' · D dropout {m.d_dropout:g}' if m.d_dropout else ''}"
            f" · {n_params / 1e6:.2f} M parameters. "
            f"Classifier on 500 samples: **{q['confident_share']:.0%}** confident (p ≥ {CONFIDENCE:g}), "
            f"{q['n_classes_confident']} digits{agreement} · Fréchet distance {q['frechet_distance']:.0f} "
            f"(real digits: {q['frechet_distance_real']:.0f}){'' if self.conditional else _digit_shares(q['class_counts'])}"
        )


def _digit_shares(counts: list[int]) -> str:
    """Markdown naming the digits an unconditional G draws least and most often, among
    its confidently classified samples: mode dropping one can see (the training digits
    are 10% of each)."""
    total = sum(counts)
    if not total:
        return ""
    order = sorted(range(len(counts)), key=lambda d: counts[d])
    share = [f"{d} ({counts[d] / total:.0%})" for d in order]
    return f" · drawn least: {', '.join(share[:2])}; most: {', '.join(reversed(share[-2:]))} (the data: 10% each)"


@dataclass
class GanSession:
    """One browser session's GAN state."""

    view: GanView  # the model every panel uses
    conditional_view: GanView | None = None  # the session's own cGAN, if it has one
    frames: list[np.ndarray] = field(default_factory=list)  # the last run's progress grids


def _parse_slot(name: str, text: Any) -> list[int]:
    """Sample numbers like "3, 7, 12" (1 to 8 of them, each in [0, 59])."""
    parts = [p for p in str(text if text is not None else "").replace(";", ",").replace(" ", ",").split(",") if p]
    if not parts:
        raise ValueError(f"slot {name} is empty: click samples in the grid (or type their numbers, e.g. 3, 7)")
    if len(parts) > MAX_SLOT:
        raise ValueError(f"slot {name} averages at most {MAX_SLOT} samples, got {len(parts)}")
    out = []
    for p in parts:
        try:
            out.append(check_int(f"slot {name}", int(p), 0, POOL_SIZE - 1))
        except ValueError:
            raise ValueError(f"slot {name}: {p!r} is not a sample number in [0, {POOL_SIZE - 1}]") from None
    return out


def _progress_gif(frames: list[np.ndarray]) -> str | None:
    """A training run's progress grids as a GIF (path), or None for a run without any."""
    return save_animation(frames, "gan-training", frame_ms=200) if frames else None


def _label_blends(labels: list[Tensor], t: Tensor) -> Tensor:
    """Label weights along the legs between consecutive digit labels (0-dim int64
    tensors): for each leg, (1 - t) one_hot(from) + t one_hot(to) at the T points ``t``
    in [0, 1]; ((len(labels) - 1) * T, 10) float32."""
    onehot = F.one_hot(torch.stack(labels), N_CLASSES).float()  # (L, 10)
    return torch.cat([(1 - t[:, None]) * onehot[i] + t[:, None] * onehot[i + 1] for i in range(len(labels) - 1)])


def _label(name: str, value: Any) -> int:
    return check_int(name, int(value) if isinstance(value, str) and value.strip().isdigit() else value, 0, 9)


class GanTab:
    """Handlers of the GAN tab (see the module docstring)."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self._bundled = BundledViews(ctx, FAMILIES, lambda model, name: GanView(model, name, ctx))

    # -- sessions and models -------------------------------------------------------------
    def bundled_view(self, name: str) -> GanView:
        """A bundled GAN (``gan`` or ``cgan``), loaded once and shared read-only."""
        return self._bundled.get(name)

    def session(self, state: GanSession | None) -> GanSession:
        """The session's state, or a new one on the bundled DCGAN."""
        if isinstance(state, GanSession):
            return state
        return GanSession(self.bundled_view(DEFAULT_CHECKPOINT))

    def conditional_view(self, session: GanSession) -> GanView:
        """The model of the class-conditional panel: the session's current model if it is
        conditional, else its last conditional one, else the bundled cGAN."""
        if session.view.conditional:
            return session.view
        return session.conditional_view or self.bundled_view(CONDITIONAL_CHECKPOINT)

    def _new_session(self, old: GanSession | None, model: GAN, name: str) -> GanSession:
        view = GanView(model, name, self.ctx)
        previous = old.conditional_view if isinstance(old, GanSession) else None
        return GanSession(view, view if view.conditional else previous)

    @ui_handler
    def load(self, state: GanSession | None, choice: str | None, source: str | None) -> tuple:
        """Load a DCGAN or cGAN from the dropdown's bundled name, or from ``source`` (a Hub
        repo id or a local folder) when it is not empty.

        Returns:
            (session, description markdown, sample grid).

        Raises:
            gr.Error: the checkpoint cannot be found or loaded, or is not a GAN; the
                session keeps its current model.
        """
        model, name = load_checkpoint(self.ctx, FAMILIES, choice, source)
        session = self._new_session(state, model, name)
        return session, session.view.describe(), self._samples(session.view, 0)

    @ui_handler
    def load_zip(self, state: GanSession | None, path: str | None) -> tuple:
        """Load a GAN from an uploaded checkpoint zip (as "Download this model" gives).

        Returns:
            (session, description markdown, sample grid).

        Raises:
            gr.Error: no file, not a safe checkpoint zip, or not a GAN; the session keeps
                its current model.
        """
        session = self._new_session(state, load_checkpoint_zip(self.ctx, FAMILIES, path), "uploaded checkpoint")
        return session, session.view.describe(), self._samples(session.view, 0)

    def _samples(self, view: GanView, seed: int) -> np.ndarray:
        n = 80 if view.conditional else 64
        z = torch.randn(n, view.model.latent_dim, generator=torch.Generator().manual_seed(seed))
        y = torch.arange(n) % N_CLASSES if view.conditional else None
        return to_image(view.generate(z, y), nrow=10 if view.conditional else 8)

    @ui_handler
    def samples(self, state: GanSession | None, seed: Any = 0) -> np.ndarray:
        """Samples G(z) for z drawn with ``seed`` in [0, 2^31): an 8 x 8 grid (uint8), or
        for a conditional model 8 rows x 10 columns, column c asked for digit c."""
        return self._samples(self.session(state).view, check_int("seed", seed, 0, SEED_MAX))

    @ui_handler
    def download(self, state: GanSession | None) -> str:
        """Save the session's model (config.json + model.safetensors + card) as a zip;
        returns its path."""
        return str(self.session(state).view.export)

    # -- training --------------------------------------------------------------------------
    @ui_handler
    def train(
        self,
        state: GanSession | None,
        conditional: Any,
        loss: Any,
        d_steps: Any,
        lr_g: Any,
        lr_d: Any,
        latent_dim: Any,
        width: Any,
        spectral_norm: Any,
        minibatch_std: Any,
        d_dropout: Any,
        steps: Any,
        seed: Any,
        request: gr.Request,
    ):
        """Train a new DCGAN (or cGAN) from scratch on the train split, streaming the duel.

        Args:
            conditional: bool, train a cGAN; loss: one of ``LOSSES``; d_steps: k in
            [1, 10]; lr_g, lr_d: learning rates in [1e-5, 0.01]; latent_dim: in [2, 256];
            width: one of 16, 32, 48, 64; spectral_norm: bool; minibatch_std: bool, the
            minibatch standard deviation feature in D; d_dropout: in [0, 0.5]; steps: in [1, 5000];
            seed: int >= 0.

        Yields:
            (session, status markdown, fixed-noise sample grid, plotly D/G loss curves,
            plotly mean D(x) and D(G(z)) curves, the progress animation (GIF path, at the
            end), the same for download). The session changes to the new model when
            training ends or is stopped.

        Raises:
            gr.Error: for any setting out of range, or when this session is already
                training (nothing is changed).
        """
        conditional = check_bool("conditional", conditional)
        loss = check_choice("loss", loss, LOSSES)
        d_steps = check_int("k (D steps per G step)", d_steps, 1, 10)
        lr_g = check_float("generator learning rate", lr_g, 1e-5, 0.01)
        lr_d = check_float("discriminator learning rate", lr_d, 1e-5, 0.01)
        latent_dim = check_int("latent size", latent_dim, *LATENT_DIM_RANGE)
        width = check_int("width", width, min(UI_WIDTHS), max(UI_WIDTHS))
        spectral_norm = check_bool("spectral norm", spectral_norm)
        minibatch_std = check_bool("minibatch std", minibatch_std)
        d_dropout = check_float("D dropout", d_dropout, 0.0, MAX_UI_DROPOUT)
        steps = check_int("steps", steps, 1, MAX_UI_STEPS)
        seed = check_int("seed", seed, 0, SEED_MAX)
        sample_every = max(25, steps // 40 // 25 * 25)  # about 40 frames
        config = TrainConfig(
            steps=steps, lr=lr_g, lr_d=lr_d, seed=seed, batch_size=64, log_every=10,
            sample_every=sample_every, eval_every=max(100, steps // 10), n_samples=80 if conditional else 64, n_eval=256,
        )
        cls = ConditionalGAN if conditional else GAN
        model = seeded_init(
            cls, seed, latent_dim=latent_dim, width=width, loss=loss, d_steps=d_steps, spectral_norm=spectral_norm,
            minibatch_std=minibatch_std, d_dropout=d_dropout,
        ).to(self.ctx.device)
        session_hash = session_key(request)
        stop = self.ctx.sessions.start(session_hash, "gan-train")
        try:
            yield from self._train_run(state, model, config, stop, seed)
        finally:
            self.ctx.sessions.finish(session_hash, "gan-train", stop)

    def _train_run(self, state: GanSession | None, model: GAN, config: TrainConfig, stop: threading.Event, seed: int):
        history: list[dict] = []
        frames: list[np.ndarray] = []
        n_good = 0
        grid = None
        fresh = False
        last_yield = 0.0
        session = self.session(state)
        nrow = 10 if model.conditional else 8
        for event in train(model, self.ctx.data, config, stop=stop):
            history.append({"step": event.step, "losses": event.losses, "test_losses": event.test_losses})
            n_good += not event.final
            if event.samples is not None:
                grid, fresh = to_image(event.samples, nrow=nrow), True
                frames.append(grid)
            if event.final:
                status = f"**{event.status}**: {event.message}."
                animation = None
                if n_good or event.status != "diverged":
                    session = self._new_session(session, model, f"trained here ({event.step} steps, seed {seed})")
                    session.frames = frames
                    q = session.view.quality
                    status += (
                        f" The classifier finds **{q['confident_share']:.0%}** of 500 samples confident, "
                        f"{q['n_classes_confident']} digits. This model is now used by every panel of the tab; "
                        f"the animation below replays the {len(frames)} progress frames."
                    )
                    animation = _progress_gif(frames)
                else:
                    status += " Nothing finite was learnt, so your previous model is kept."
                yield session, status, grid, *self._curves(history), animation, animation
                return
            now = time.perf_counter()
            if now - last_yield >= YIELD_EVERY_S:
                last_yield = now
                rate = event.step / max(event.elapsed_s, 1e-9)
                losses = event.losses
                status = (
                    f"step {event.step} / {config.steps} · {rate:.0f} steps/s · D loss {losses['d_loss']:.3f} · "
                    f"G loss {losses['g_loss']:.3f} · D(x) {losses['d_real']:.2f} · D(G(z)) {losses['d_fake']:.2f}"
                )
                image = grid if fresh else gr.skip()  # an unchanged grid is not re-encoded
                fresh = False
                # gr.skip() for the State: re-sending the session held since the start would
                # undo a Load the user makes while the run goes on.
                yield gr.skip(), status, image, *self._curves(history), gr.skip(), gr.skip()

    @staticmethod
    def _curves(history: list[dict]) -> tuple:
        return plots.training_curves(history, LOSS_CURVES), plots.training_curves(history, D_CURVES)

    @ui_handler
    def stop(self, request: gr.Request) -> str:
        """Ask this session's training run to stop; it keeps the weights reached."""
        stopped = self.ctx.sessions.set_flag(session_key(request), "gan-train")
        return "Stopping…" if stopped else "Nothing is training."

    @ui_handler
    def animation(self, state: GanSession | None) -> str | None:
        """The session's last training run as a GIF (path), or None before any run."""
        return _progress_gif(self.session(state).frames)

    # -- the pool of samples --------------------------------------------------------------
    @ui_handler
    def pool(self, state: GanSession | None, pool_seed: Any = 0) -> list[tuple[np.ndarray, str]]:
        """The 60 numbered samples that interpolation and arithmetic pick from, drawn with
        ``pool_seed``: gallery items (image uint8, caption "#i" or "#i · digit d")."""
        view = self.session(state).view
        z, y = view.pool(check_int("pool seed", pool_seed, 0, SEED_MAX))
        images = view.generate(z, y)
        return [
            (to_image(images[i : i + 1], 1), f"#{i}" + (f" · {int(y[i])}" if y is not None else ""))
            for i in range(POOL_SIZE)
        ]

    # -- interpolation --------------------------------------------------------------------
    def _path_images(self, view: GanView, z: Tensor, y: Tensor | None) -> Tensor:
        """Decode a path of latents (T, D) whose labels (T, 10) blend, for a cGAN."""
        if view.conditional and y is not None:
            return view.generate_mixed(z, y)
        return view.generate(z)

    @ui_handler
    def interpolate(self, state: GanSession | None, pool_seed: Any, index_a: Any, index_b: Any, n_steps: Any = 10) -> Any:
        """Decode latents between pool samples A and B: top row linear, bottom row
        spherical (slerp), ``n_steps`` in [3, 20] images each, endpoints included. For a
        conditional model the label blends from A's digit to B's along the path. An
        empty index (a box being retyped) leaves the picture as it is."""
        if index_a is None or index_b is None:
            return gr.skip()
        view = self.session(state).view
        z, y = view.pool(check_int("pool seed", pool_seed, 0, SEED_MAX))
        a = check_int("sample A", index_a, 0, POOL_SIZE - 1)
        b = check_int("sample B", index_b, 0, POOL_SIZE - 1)
        n = check_int("images", n_steps, 3, 20)
        t = torch.linspace(0, 1, n)[:, None]
        linear = (1 - t) * z[a] + t * z[b]
        spherical = slerp(z[a], z[b], t[:, 0])
        labels = _label_blends([y[a], y[b]], t[:, 0]).repeat(2, 1) if y is not None else None
        return to_image(self._path_images(view, torch.cat([linear, spherical]), labels), nrow=n)

    @ui_handler
    def walk(self, state: GanSession | None, pool_seed: Any, index_a: Any, index_b: Any, walk_seed: Any = 0) -> str:
        """A latent walk as a looping GIF (path): along great circles from A to B, on to
        two latents drawn with ``walk_seed`` and back to A (``WALK_FRAMES`` frames). For a
        conditional model the label blends along the way."""
        view = self.session(state).view
        z, y = view.pool(check_int("pool seed", pool_seed, 0, SEED_MAX))
        a = check_int("sample A", index_a, 0, POOL_SIZE - 1)
        b = check_int("sample B", index_b, 0, POOL_SIZE - 1)
        g = torch.Generator().manual_seed(check_int("walk seed", walk_seed, 0, SEED_MAX))
        extra = torch.randn(2, view.model.latent_dim, generator=g)
        anchors = [z[a], z[b], extra[0], extra[1], z[a]]
        labels = [y[a], y[b], torch.randint(0, 10, (), generator=g), torch.randint(0, 10, (), generator=g), y[a]] if y is not None else None
        per_leg = WALK_FRAMES // 4
        t = torch.linspace(0, 1, per_leg + 1)[:-1]
        path = torch.cat([slerp(anchors[i], anchors[i + 1], t) for i in range(4)])
        images = self._path_images(view, path, _label_blends(labels, t) if labels is not None else None)
        frames = [to_image(images[i : i + 1], 1) for i in range(len(images))]
        return save_animation(frames, "gan-latent-walk", frame_ms=90, scale=6)

    # -- vector arithmetic ------------------------------------------------------------------
    @ui_handler
    def arithmetic(
        self, state: GanSession | None, pool_seed: Any, slot_a: Any, slot_b: Any, slot_c: Any,
        label_a: Any = 7, label_b: Any = 7, label_c: Any = 1, noise_seed: Any = 0,
    ) -> tuple:
        """Latent vector arithmetic (Radford et al. 2015, Fig. 7): decode
        mean(z_A) - mean(z_B) + mean(z_C) and 8 neighbours (the result plus noise of
        standard deviation 0.25, drawn with ``noise_seed``).

        Args:
            slot_a, slot_b, slot_c: pool sample numbers, e.g. "3, 7, 12" (1 to 8 each).
            label_a, label_b, label_c: digits (0-9) the slots are drawn with by a
                conditional model; the result takes C's. Ignored by an unconditional one.

        Returns:
            (image: the three slot means, then the result; image: 3 x 3 neighbours, the
            exact result in the centre; markdown: the classifier's reading and the stroke
            thickness of each).

        Raises:
            gr.Error: a slot that is empty, too long or holds numbers outside [0, 59].
        """
        view = self.session(state).view
        seed = check_int("pool seed", pool_seed, 0, SEED_MAX)
        slots = [_parse_slot(n, s) for n, s in zip("ABC", (slot_a, slot_b, slot_c))]
        g = torch.Generator().manual_seed(check_int("noise seed", noise_seed, 0, SEED_MAX))
        noise = NEIGHBOUR_NOISE * torch.randn(9, view.model.latent_dim, generator=g)
        noise[4] = 0
        labels = None
        if view.conditional:
            la, lb, lc = _label("A's digit", label_a), _label("B's digit", label_b), _label("C's digit", label_c)
            labels = torch.tensor([la, lb, lc, lc])
        result, images, probs, thickness = _equation(view, seed, slots, labels)
        neighbours = view.generate(result + noise, torch.full((9,), int(labels[3])) if labels is not None else None)
        names = ["mean of A", "mean of B", "mean of C", "A − B + C"]
        rows = "\n".join(
            f"| {names[i]}{f' (digit {int(labels[i])})' if labels is not None else ''} | "
            f"{int(probs[i].argmax())} ({float(probs[i].max()):.0%}) | {float(thickness[i]):.1f} |"
            for i in range(4)
        )
        table = f"| | classifier says | stroke thickness (px) |\n|---|---|---|\n{rows}"
        return to_image(images, nrow=4), to_image(neighbours, nrow=3), table

    def _preset_slots(self, view: GanView, seed: int) -> tuple[list[int], list[int], list[int]] | None:
        """Slots A, B, C for the preset from the pool of ``seed``, or None if an
        unconditional model's pool lacks two clear 7s and a clear 1."""
        z, _ = view.pool(seed)
        if view.conditional:
            thick7 = measure_traits(view.generate(z, torch.full((POOL_SIZE,), 7)))["thickness_px"]
            order7 = torch.argsort(thick7, descending=True).tolist()
            a, b = order7[:3], order7[-3:]
            thick1 = measure_traits(view.generate(z, torch.full((POOL_SIZE,), 1)))["thickness_px"]
            return a, b, [i for i in torch.argsort(thick1).tolist() if i not in a + b][:3]
        images = view.generate(z)
        conf, pred = classify(images)[0].max(1)
        thick = measure_traits(images)["thickness_px"]
        sevens = sorted((i for i in range(POOL_SIZE) if pred[i] == 7 and conf[i] >= 0.5), key=lambda i: -float(thick[i]))
        ones = sorted((i for i in range(POOL_SIZE) if pred[i] == 1 and conf[i] >= 0.5), key=lambda i: float(thick[i]))
        if len(sevens) < 2 or not ones:
            return None
        half = max(1, min(3, len(sevens) // 2))
        return sevens[:half], sevens[-half:], ones[:3]

    @ui_handler
    def preset(self, state: GanSession | None, pool_seed: Any) -> tuple:
        """Fill the slots with the worked example *thick 7 − thin 7 + thin 1*: the
        thickest 7s, the thinnest 7s and the thinnest 1s of a pool (up to three each).

        A conditional model draws any latent as a 7 or a 1 (same z, other label), so the
        pool of ``pool_seed`` always serves. An unconditional model can only use samples
        the classifier reads as 7s and 1s, and its latent mixes style with class, so
        the arithmetic works on some pools only: the next seeds are tried (up to 50)
        and the pool changes to the first whose A − B + C reads as a thicker 1, or, if
        none does, to the first with clear 7s and 1s (the table says which).

        Returns:
            (pool seed, pool gallery items, slot A, slot B, slot C texts, A's, B's, C's
            digits, then ``arithmetic``'s three outputs).

        Raises:
            gr.Error: no pool among the 50 seeds tried has two clear 7s and a clear 1.
        """
        view = self.session(state).view
        first = check_int("pool seed", pool_seed, 0, SEED_MAX)
        found: tuple[int, tuple[list[int], list[int], list[int]]] | None = None
        fallback, note, tried = None, "", 0
        for tried, seed in enumerate(range(first, min(first + 50, SEED_MAX + 1)), 1):
            slots = self._preset_slots(view, seed)
            if slots is None:
                continue
            if view.conditional or self._reads_as_thick_1(view, seed, slots):
                found = seed, slots
                break
            fallback = fallback or (seed, slots)
        if found is not None and not view.conditional:
            note = f"\n\nPool seed {found[0]} is the first from {first} where A − B + C reads as a thicker 1 ({tried} pools tried)."
        elif found is None and fallback is not None:
            found = fallback
            note = (
                f"\n\nNo pool among the {tried} tried from seed {first} gives a thicker 1; this is the first with clear 7s "
                "and 1s. An unconditional GAN mixes style and class in one z: the cGAN separates them."
            )
        if found is None:
            raise ValueError("no pool among the 50 seeds tried has two clear 7s and a 1: this model rarely draws them")
        seed, slots = found
        texts = [", ".join(map(str, s)) for s in slots]
        session = view_session(view)
        equation, neighbours, table = self.arithmetic(session, seed, *texts, *PRESET)
        return (seed, self.pool(session, seed), *texts, *PRESET, equation, neighbours, table + note)

    @staticmethod
    def _reads_as_thick_1(view: GanView, seed: int, slots: tuple[list[int], list[int], list[int]]) -> bool:
        """Whether an unconditional model's slot means read as 7, 7, 1 and their
        A − B + C as a 1 with a thicker stroke than C's mean."""
        _, _, probs, thickness = _equation(view, seed, list(slots))
        return probs.argmax(1).tolist() == [7, 7, 1, 1] and float(thickness[3]) > float(thickness[2])

    # -- class-conditional ----------------------------------------------------------------------
    @ui_handler
    def digit_grid(self, state: GanSession | None, digit: Any, seed: Any = 0) -> tuple[np.ndarray, str]:
        """64 styles of one ``digit`` (0-9) from the conditional model, z drawn with
        ``seed``; returns the 8 x 8 grid and a line saying which model and how many the
        classifier reads as that digit."""
        view = self.conditional_view(self.session(state))
        d = _label("digit", digit)
        z = torch.randn(64, view.model.latent_dim, generator=torch.Generator().manual_seed(check_int("seed", seed, 0, SEED_MAX)))
        images = view.generate(z, torch.full((64,), d))
        agree = float((classify(images)[0].argmax(1) == d).float().mean())
        return to_image(images, nrow=8), f"{view.name}: the classifier reads **{agree:.0%}** of these as {d}."

    @ui_handler
    def label_sweep(self, state: GanSession | None, seed: Any = 0, n_rows: Any = 6) -> np.ndarray:
        """Fix z, sweep the label: ``n_rows`` in [1, 12] latents (rows, drawn with
        ``seed``) each drawn as digits 0..9 (columns) by the conditional model. A row keeps
        its style (thickness, slant) across classes."""
        view = self.conditional_view(self.session(state))
        rows = check_int("rows", n_rows, 1, 12)
        z = torch.randn(rows, view.model.latent_dim, generator=torch.Generator().manual_seed(check_int("seed", seed, 0, SEED_MAX)))
        images = view.generate(z.repeat_interleave(N_CLASSES, 0), torch.arange(N_CLASSES).repeat(rows))
        return to_image(images, nrow=N_CLASSES)


def _equation(view: GanView, seed: int, slots: list[list[int]], labels: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Vector arithmetic on the pool of ``seed``: the means of slots A, B, C (lists of
    pool numbers) and A − B + C, decoded (with ``labels`` (4,) by a conditional model).

    Returns:
        (A − B + C, a latent (D,); the 4 images (4, 1, 28, 28) in [0, 1]; the
        classifier's probabilities (4, 10); stroke thickness in pixels (4,)).
    """
    z, _ = view.pool(seed)
    means = torch.stack([z[idx].mean(0) for idx in slots])  # (3, D)
    result = means[0] - means[1] + means[2]
    images = view.generate(torch.cat([means, result[None]]), labels)
    return result, images, classify(images)[0], measure_traits(images)["thickness_px"]


def view_session(view: GanView) -> GanSession:
    """A throwaway session around ``view`` (for handlers that call other handlers)."""
    return GanSession(view, view if view.conditional else None)


def _views(
    tab: GanTab, session: GanSession, interp_seed: Any, arith_seed: Any, a: Any, b: Any, n_interp: Any,
    walk_seed: Any = 0, digit: Any = 3, cond_seed: Any = 0, sweep_rows: Any = 6,
) -> dict[str, Any]:
    """Every view of the session's model, drawn with the panels' current settings: what
    the page shows at build time and what is redrawn when the session's model changes.
    The interpolation and the arithmetic panels each have their own pool seed."""
    view = session.view
    try:
        preset = tab.preset(session, arith_seed)
    except gr.Error:  # a model that rarely draws 7s and 1s: the pool, empty slots
        preset = (
            arith_seed, tab.pool(session, arith_seed), "", "", "", *PRESET, None, None,
            "This model rarely draws clear 7s and 1s: fill the slots by hand.",
        )
    digit_grid, digit_note = tab.digit_grid(session, digit, cond_seed)
    return {
        "description": view.describe(),
        "download": tab.download(session),
        "pool": tab.pool(session, interp_seed),
        "interpolation": tab.interpolate(session, interp_seed, a, b, n_interp),
        "walk": tab.walk(session, interp_seed, a, b, walk_seed),
        "preset": preset,  # (pool seed, pool, slots A B C, their digits, equation, neighbours, table)
        "conditional": view.conditional,
        "cond_info": (
            (f"Uses your current model, {view.name}." if view.conditional
             else f"Uses {tab.conditional_view(session).name}: your current model is not a conditional GAN.")
            + " Pick a digit to see its styles; below, each row fixes z and sweeps the label 0–9: style stays, class changes."
        ),
        "digit_grid": digit_grid,
        "digit_note": digit_note,
        "sweep": tab.label_sweep(session, cond_seed, sweep_rows),
    }


def build(ctx: AppContext) -> GanTab:
    """Build the GAN tab's components inside the current ``gr.Blocks`` and bind them."""
    tab = GanTab(ctx)
    first = tab.session(None)
    pool_seed0 = 0
    init = _views(tab, first, pool_seed0, pool_seed0, *DEFAULT_INTERPOLATION, 10)
    state = gr.State(None)

    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            models = checkpoint_panel(FAMILIES, DEFAULT_CHECKPOINT, init["description"], init["download"])
            with gr.Row():
                seed = gr.Number(value=0, label="sample seed", precision=0, minimum=0)
                resample = gr.Button("New samples")
        with gr.Column(scale=3):
            sample_img = image_output("samples G(z)", size=360, value=tab._samples(first.view, 0), elem_id="gan-samples")

    with gr.Tabs():
        with gr.Tab("Train", id="gan-train"):
            with gr.Row():
                t = TRAIN_DEFAULTS
                loss = gr.Radio([(LOSS_NAMES[k], k) for k in LOSSES], value=t["loss"], label="loss")
                conditional = gr.Checkbox(value=t["conditional"], label="conditional GAN (G and D see the label)")
                spectral = gr.Checkbox(value=t["spectral_norm"], label="spectral norm on D")
                mbstd = gr.Checkbox(value=t["minibatch_std"], label="minibatch std in D (against mode dropping)")
            with gr.Row():
                d_steps = gr.Slider(1, 10, value=t["d_steps"], step=1, label="k: D steps per G step")
                latent = gr.Slider(*LATENT_DIM_RANGE, value=t["latent_dim"], step=1, label="latent size")
                width = gr.Dropdown(list(UI_WIDTHS), value=t["width"], label="width (channels)")
                dropout = gr.Slider(0, MAX_UI_DROPOUT, value=t["d_dropout"], step=0.05, label="dropout in D")
                lr_d = gr.Number(value=t["lr_d"], label="D learning rate (1e-5 to 0.01)", minimum=1e-5, maximum=0.01)
            panel = training_panel("gan-train", steps=t["steps"], max_steps=MAX_UI_STEPS, lr=t["lr_g"], lr_label="G learning rate", lr_max=0.01)
            with gr.Row():
                progress_img = image_output("samples from fixed noise, as it trains", size=320, elem_id="gan-train-samples")
                d_curves = gr.Plot(label="what D says", elem_id="gan-train-d")
            with gr.Row():
                animation_img = gr.Image(label="training progress (replay)", height=320, interactive=False, elem_classes=["pixelated", "fill"], elem_id="gan-train-animation")
                animation_file = gr.DownloadButton("Download the animation (GIF)", value=None, variant="secondary")

        with gr.Tab("Interpolation", id="gan-interp"):
            gr.Markdown("Click two samples (the radio says which one a click sets). Their latents are joined by a line and by a great circle.")
            with gr.Row():
                pool_seed_i = gr.Number(value=pool_seed0, label="sample pool seed", precision=0, minimum=0)
                which = gr.Radio(["A", "B"], value="A", label="a click sets")
                index_a = gr.Number(value=DEFAULT_INTERPOLATION[0], label="sample A (#)", precision=0, minimum=0, maximum=POOL_SIZE - 1)
                index_b = gr.Number(value=DEFAULT_INTERPOLATION[1], label="sample B (#)", precision=0, minimum=0, maximum=POOL_SIZE - 1)
                n_steps = gr.Slider(3, 20, value=10, step=1, label="images")
            pool_i = _pool_gallery(init["pool"], "gan-pool-interp")
            interp_img = image_output("linear (top) and spherical (bottom) paths from A to B", size=180, value=init["interpolation"], elem_id="gan-interp-image")
            with gr.Row():
                walk_seed = gr.Number(value=0, label="walk seed", precision=0, minimum=0)
                walk_btn = gr.Button("Latent walk A → B → two random points → A")
            walk_img = gr.Image(init["walk"], label="latent walk", height=200, interactive=False, elem_classes=["pixelated"], elem_id="gan-walk")

        with gr.Tab("Vector arithmetic", id="gan-arith"):
            p0 = init["preset"]
            gr.Markdown(
                "Fill slots **A**, **B**, **C** by clicking samples (each slot averages its samples, as in Radford et al.), "
                "then decode **A − B + C**. The preset *thick 7 − thin 7 + thin 1* should give a **thick 1**."
            )
            with gr.Row():
                pool_seed_a = gr.Number(value=p0[0], label="sample pool seed", precision=0, minimum=0)
                target = gr.Radio(["A", "B", "C"], value="A", label="a click adds to slot")
                preset_btn = gr.Button("Preset: thick 7 − thin 7 + thin 1", elem_id="gan-arith-preset")
                clear_btn = gr.Button("Clear slots")
            with gr.Row():
                slot_a = gr.Textbox(value=p0[2], label="slot A (sample numbers)", elem_id="gan-slot-a")
                slot_b = gr.Textbox(value=p0[3], label="slot B", elem_id="gan-slot-b")
                slot_c = gr.Textbox(value=p0[4], label="slot C", elem_id="gan-slot-c")
            with gr.Row(visible=init["conditional"]) as label_row:
                label_a = gr.Dropdown([str(d) for d in range(10)], value=p0[5], label="A drawn as digit")
                label_b = gr.Dropdown([str(d) for d in range(10)], value=p0[6], label="B drawn as digit")
                label_c = gr.Dropdown([str(d) for d in range(10)], value=p0[7], label="C (and the result) as digit")
            with gr.Row():
                arith_btn = gr.Button("Compute A − B + C", variant="primary", elem_id="gan-arith-run")
                noise_seed = gr.Number(value=0, label="neighbour noise seed", precision=0, minimum=0)
            pool_a = _pool_gallery(p0[1], "gan-pool-arith")
            with gr.Row():
                eq_img = image_output("A · B · C (slot means) · A − B + C", size=160, value=p0[8], elem_id="gan-arith-equation")
                nb_img = image_output("neighbours of the result (centre: exact)", size=200, value=p0[9])
                arith_table = gr.Markdown(p0[10], elem_id="gan-arith-table")

        with gr.Tab("Class-conditional", id="gan-cond"):
            cond_info = gr.Markdown(init["cond_info"])
            with gr.Row():
                digit = gr.Radio([str(d) for d in range(10)], value="3", label="digit")
                cond_seed = gr.Number(value=0, label="seed", precision=0, minimum=0)
                sweep_rows = gr.Slider(1, 12, value=6, step=1, label="rows in the sweep")
            with gr.Row():
                with gr.Column():
                    digit_img = image_output("64 styles of the chosen digit", size=300, value=init["digit_grid"], elem_id="gan-cond-grid")
                    digit_note = gr.Markdown(init["digit_note"])
                sweep_img = image_output("same z per row, label 0…9 across", size=300, value=init["sweep"], elem_id="gan-cond-sweep")

        with gr.Tab("2D GAN lab", id="gan-lab"):
            gan_lab.build_lab(ctx)

        with gr.Tab("How it works", id="gan-explain"):
            gr.Markdown(EXPLANATION, latex_delimiters=[{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}])

    # -- bindings ---------------------------------------------------------------------------
    refresh_inputs = [state, pool_seed_i, pool_seed_a, index_a, index_b, n_steps, walk_seed, digit, cond_seed, sweep_rows]
    refresh_outputs = [
        models.info, models.download, pool_i, interp_img, walk_img, pool_seed_a, pool_a,
        slot_a, slot_b, slot_c, label_a, label_b, label_c, eq_img, nb_img, arith_table, label_row, cond_info, digit_img, digit_note, sweep_img,
    ]

    @ui_handler
    def refresh(state_value: GanSession | None, *settings: Any) -> list:
        v = _views(tab, tab.session(state_value), *settings)
        return [
            v["description"], v["download"], v["pool"], v["interpolation"], v["walk"],
            *v["preset"], gr.update(visible=v["conditional"]),
            v["cond_info"], v["digit_grid"], v["digit_note"], v["sweep"],
        ]

    models.load.click(tab.load, [state, models.choice, models.source], [state, models.info, sample_img], api_name="gan_load").success(
        refresh, refresh_inputs, refresh_outputs, api_visibility="private"
    )
    models.choice.input(lambda: "", None, models.source, api_visibility="private", show_progress="hidden")
    models.upload.upload(tab.load_zip, [state, models.upload], [state, models.info, sample_img], api_name="gan_load_zip").success(
        refresh, refresh_inputs, refresh_outputs, api_visibility="private"
    )
    resample.click(tab.samples, [state, seed], sample_img, api_name="gan_samples")
    models.download.click(tab.download, state, models.download, api_name="gan_download", show_progress="hidden")

    train_event = panel.train.click(
        tab.train,
        [state, conditional, loss, d_steps, panel.lr, lr_d, latent, width, spectral, mbstd, dropout, panel.steps, panel.seed],
        [state, panel.status, progress_img, panel.curves, d_curves, animation_img, animation_file],
        api_name="gan_train", concurrency_limit=2, concurrency_id="train",
    )
    train_event.then(refresh, refresh_inputs, refresh_outputs, api_visibility="private").then(
        tab.samples, [state, seed], sample_img, api_visibility="private"
    )
    panel.stop.click(tab.stop, None, panel.status, api_name="gan_stop", concurrency_limit=None)
    animation_file.click(tab.animation, state, animation_file, api_name="gan_animation", show_progress="hidden")

    # Interpolation
    pool_seed_i.submit(tab.pool, [state, pool_seed_i], pool_i, api_name="gan_pool").then(
        tab.interpolate, [state, pool_seed_i, index_a, index_b, n_steps], interp_img, api_visibility="private"
    )
    pool_i.select(_pick_a_or_b, [which, index_a, index_b], [index_a, index_b], api_visibility="private", show_progress="hidden")
    gr.on(
        [index_a.change, index_b.change, n_steps.input], tab.interpolate, [state, pool_seed_i, index_a, index_b, n_steps], interp_img,
        api_name="gan_interpolate", trigger_mode="always_last",
    )
    walk_btn.click(tab.walk, [state, pool_seed_i, index_a, index_b, walk_seed], walk_img, api_name="gan_walk")

    # Vector arithmetic
    arith_inputs = [state, pool_seed_a, slot_a, slot_b, slot_c, label_a, label_b, label_c, noise_seed]
    arith_outputs = [eq_img, nb_img, arith_table]
    pool_seed_a.submit(tab.pool, [state, pool_seed_a], pool_a, api_visibility="private")
    pool_a.select(_add_to_slot, [target, slot_a, slot_b, slot_c], [slot_a, slot_b, slot_c], api_visibility="private", show_progress="hidden")
    clear_btn.click(lambda: ("", "", ""), None, [slot_a, slot_b, slot_c], api_visibility="private", show_progress="hidden")
    arith_btn.click(tab.arithmetic, arith_inputs, arith_outputs, api_name="gan_arithmetic")
    noise_seed.submit(tab.arithmetic, arith_inputs, arith_outputs, api_visibility="private")
    preset_btn.click(
        tab.preset, [state, pool_seed_a], [pool_seed_a, pool_a, slot_a, slot_b, slot_c, label_a, label_b, label_c, *arith_outputs], api_name="gan_preset"
    )

    # Class-conditional
    gr.on([digit.input, cond_seed.submit], tab.digit_grid, [state, digit, cond_seed], [digit_img, digit_note], api_name="gan_digit_grid")
    gr.on([cond_seed.submit, sweep_rows.input], tab.label_sweep, [state, cond_seed, sweep_rows], sweep_img, api_name="gan_label_sweep", trigger_mode="always_last")
    return tab


def _pool_gallery(items: list, elem_id: str) -> gr.Gallery:
    return gr.Gallery(
        value=items, label="sample pool: click to pick (numbers are #index)", columns=POOL_COLUMNS, height=330,
        allow_preview=False, object_fit="contain", format="png", elem_classes=["pixelated"], buttons=[], elem_id=elem_id,
    )


def _pick_a_or_b(which: str, a: int, b: int, evt: gr.SelectData) -> tuple[int, int]:
    return (int(evt.index), b) if which == "A" else (a, int(evt.index))


def _add_to_slot(target: str, a: str, b: str, c: str, evt: gr.SelectData) -> tuple[str, str, str]:
    slots = {"A": a or "", "B": b or "", "C": c or ""}
    current = [p for p in slots[target].replace(" ", "").split(",") if p]
    if len(current) < MAX_SLOT:
        current.append(str(int(evt.index)))
    slots[target] = ", ".join(current)
    return slots["A"], slots["B"], slots["C"]

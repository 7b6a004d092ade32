"""The VAE tab: samples, live training, latent sliders, manifold, latent scatter,
interpolation and attribute editing, for a bundled, loaded or freshly trained VAE.

Handlers are methods of ``VaeTab`` so that tests can call them without a browser. Each
takes the session's ``VaeSession`` from ``gr.State`` (None for a new session or an API
client, which then gets the bundled default) and checks every value it is given.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass
from typing import Any

import gradio as gr
import numpy as np
import torch
from torch import Tensor

from models import VAE
from models.base import seeded_init
from models.checks import SEED_MAX, check_choice, check_float, check_int
from models.vae import ARCHITECTURES, LATENT_DIM_RANGE
from playground.core import plots
from playground.core.attributes import TRAITS, attribute_vectors, measure_traits, slerp
from playground.core.metrics import classify
from playground.core.training import TrainConfig, evaluate_losses, train
from playground.ui.widgets import (
    AppContext,
    BundledViews,
    ModelView,
    bind_pick,
    check_index,
    checkpoint_panel,
    digit_gallery,
    image_output,
    index_box,
    load_checkpoint,
    load_checkpoint_zip,
    session_key,
    to_image,
    training_panel,
    ui_handler,
)

DEFAULT_CHECKPOINT = "vae"
N_SLIDERS = 8
SLIDER_RANGE = 4.0
MAX_UI_STEPS = 5000
N_RECON = 8
# Defaults that read well with the bundled model: test #13 is a 1, #18 a 0, #20 a 4.
DEFAULT_INTERPOLATION = (13, 18)
DEFAULT_EDIT = (20, "digit 7", 1.5)
YIELD_EVERY_S = 0.5
ATTRIBUTES = [f"digit {d}" for d in range(10)] + list(TRAITS)
CURVES = {"reconstruction": "reconstruction −log p(x|z)", "kl": "KL(q(z|x) ‖ p(z))", "elbo": "ELBO"}

EXPLANATION = r"""
### What a VAE learns
An **encoder** maps a digit $x$ to a Gaussian $q(z\mid x)=\mathcal N(\mu(x),\sigma^2(x))$ over a
small latent code $z$; a **decoder** maps $z$ back to pixel probabilities $p(x\mid z)$. Both are
trained together to maximise the **evidence lower bound**

$$\mathrm{ELBO}(x)=\underbrace{\mathbb E_{q(z\mid x)}[\log p(x\mid z)]}_{-\text{reconstruction}}-\underbrace{\mathrm{KL}\big(q(z\mid x)\,\|\,p(z)\big)}_{\text{KL}}\;\le\;\log p(x),$$

with prior $p(z)=\mathcal N(0,I)$. Gradients pass through the random draw thanks to the
**reparameterisation** $z=\mu+\sigma\odot\varepsilon$, $\varepsilon\sim\mathcal N(0,I)$.
All numbers here are in **nats per image** (natural log). The ELBO bounds $\log p(x)$ from below;
`python -m playground evaluate` reports the tighter importance-weighted bound (Burda et al. 2015).

- **β** multiplies the KL in the training loss: β = 0 is a plain autoencoder (its latent space has
  holes: sampling from the prior gives smudges), larger β gives smoother but blurrier codes.
- **Samples** decode draws $z\sim p(z)$; the images are the Bernoulli means $p(x_i=1\mid z)$.
- **Latent sliders** set $z$ by hand, dimensions sorted by how much information (KL) they carry;
  dimensions with KL ≈ 0 are unused ("posterior collapse") and change nothing.
- **Manifold** decodes a grid over two latent dimensions at Gaussian quantiles (Kingma & Welling 2013, Fig. 4).
- **Scatter** shows the encoder means of the test digits (a PCA projection when $z$ has more than 2 dimensions).
- **Interpolation** walks from one code to another, linearly or along a great circle (spherical).
- **Attribute editing** adds $s\cdot v$ to a digit's code, where $v$ is the mean code of digits
  with an attribute minus the mean code of digits without it.

Kingma & Welling 2013, *Auto-Encoding Variational Bayes*, arXiv:1312.6114.
"""


class VaeView(ModelView):
    """A loaded VAE plus what is derived from it once: codes of the test digits, the
    dimensions sorted by KL, a 2D projection and attribute vectors. Never modified after
    it is made (derived values are computed lazily, idempotently), so sessions can share
    the bundled one."""

    def __init__(self, model: VAE, name: str, ctx: AppContext):
        super().__init__(model, name)
        self.ctx = ctx

    @property
    def latent_dim(self) -> int:
        """D, the size of the model's latent code."""
        return self.model.latent_dim

    @torch.no_grad()
    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, logvar) on the CPU for images (N, 1, 28, 28) in the model's data kind."""
        mu, logvar = self.model.encode(images.to(self.ctx.device))
        return mu.cpu(), logvar.cpu()

    @torch.no_grad()
    def decode(self, z: Tensor) -> Tensor:
        """Pixel probabilities (N, 1, 28, 28) on the CPU for codes z (N, D)."""
        return self.model.decode(z.to(self.ctx.device, torch.float32)).cpu()

    def test_images(self) -> Tensor:
        """The test digits as the model sees them: (N_test, 1, 28, 28), binary float32."""
        return self.ctx.data.images("test", self.model.data_kind)

    @functools.cached_property
    def _test_posterior(self) -> tuple[Tensor, Tensor]:
        return self.encode(self.test_images())

    @property
    def test_codes(self) -> Tensor:
        """Encoder means of the test digits, (N_test, D)."""
        return self._test_posterior[0]

    @functools.cached_property
    def kl_per_dim(self) -> Tensor:
        """Mean KL(q(z_d|x) || N(0, 1)) over the test digits, per dimension (D,), nats."""
        mu, logvar = self._test_posterior
        return (0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)).mean(0)

    @functools.cached_property
    def order(self) -> list[int]:
        """Latent dimensions, most informative (highest KL) first."""
        return torch.argsort(self.kl_per_dim, descending=True).tolist()

    @functools.cached_property
    def projection(self) -> tuple[Tensor, Tensor, tuple[str, str]]:
        """(mean (D,), basis (D, 2), axis titles): identity for D = 2, else PCA of the
        test codes."""
        codes = self.test_codes
        if self.latent_dim == 2:
            return torch.zeros(2), torch.eye(2), ("z[0]", "z[1]")
        mean = codes.mean(0)
        _, s, v = torch.linalg.svd(codes - mean, full_matrices=False)
        share = (s**2 / (s**2).sum())[:2]
        return mean, v[:2].T, (f"PC 1 ({share[0]:.0%} of variance)", f"PC 2 ({share[1]:.0%})")

    @functools.cached_property
    def vectors(self) -> dict[str, Tensor]:
        """Attribute vectors (D,) from the train digits: ten digits and three traits."""
        data = self.ctx.data
        codes = torch.cat([self.encode(chunk)[0] for chunk in data.images("train", self.model.data_kind).split(1000)])
        return attribute_vectors(codes, data.train_labels, measure_traits(data.train_grey))

    @functools.cached_property
    def test_elbo(self) -> float:
        """Mean ELBO of the test digits, nats per image (one z sample each, seed 0)."""
        return evaluate_losses(self.model, self.test_images(), None)["elbo"]

    def describe(self) -> str:
        """Markdown: name, config, size, active dimensions and the test ELBO."""
        m = self.model
        n_params = sum(p.numel() for p in m.parameters())
        active = int((self.kl_per_dim > 0.05).sum())
        return (
            f"**{self.name}** · {m.arch.upper()} VAE · latent size {m.latent_dim} "
            f"({active} active: KL > 0.05 nats) · β = {m.beta:g} · {n_params / 1e6:.2f} M parameters · "
            f"test ELBO **{self.test_elbo:.1f}** nats/image"
        )


@dataclass
class VaeSession:
    """One browser session's VAE state: the view and the current latent code."""

    view: VaeView
    z: Tensor  # (D,) the code the sliders edit; dimensions past the sliders keep these values


def _slider_updates(session: VaeSession) -> list[dict]:
    view = session.view
    updates = []
    for i in range(N_SLIDERS):
        if i < view.latent_dim:
            d = view.order[i]
            updates.append(
                gr.update(
                    visible=True, value=round(float(session.z[d].clamp(-SLIDER_RANGE, SLIDER_RANGE)), 2),
                    label=f"z[{d}] · KL {float(view.kl_per_dim[d]):.2f} nats",
                )
            )
        else:
            updates.append(gr.update(visible=False, value=0.0))
    return updates


class VaeTab:
    """Handlers of the VAE tab (see the module docstring)."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self._bundled = BundledViews(ctx, "vae", lambda model, name: VaeView(model, name, ctx))

    # -- sessions and models -------------------------------------------------------
    def default_view(self) -> VaeView:
        """The bundled VAE, loaded once and shared read-only by sessions that have not
        loaded or trained their own."""
        return self._bundled.get(DEFAULT_CHECKPOINT)

    def session(self, state: VaeSession | None) -> VaeSession:
        """The session's state, or a new one on the bundled default."""
        if isinstance(state, VaeSession):
            return state
        view = self.default_view()
        return VaeSession(view, torch.zeros(view.latent_dim))

    def _new_session(self, model: VAE, name: str) -> VaeSession:
        view = VaeView(model, name, self.ctx)
        return VaeSession(view, torch.zeros(view.latent_dim))

    @ui_handler
    def load(self, state: VaeSession | None, choice: str | None, source: str | None) -> tuple:
        """Load a VAE from the dropdown's bundled name, or from ``source`` (a Hub repo id
        or a local folder) when it is not empty.

        Returns:
            (session, description markdown, sample grid).

        Raises:
            gr.Error: the checkpoint cannot be found or loaded, or is not a VAE; the
                session keeps its current model.
        """
        model, name = load_checkpoint(self.ctx, "vae", choice, source)
        session = self._new_session(model, name)
        return session, session.view.describe(), self._samples(session, 0)

    @ui_handler
    def load_zip(self, state: VaeSession | None, path: str | None) -> tuple:
        """Load a VAE from an uploaded checkpoint zip (as "Download this model" gives).

        Returns:
            (session, description markdown, sample grid).

        Raises:
            gr.Error: no file, not a safe checkpoint zip, or not a VAE; the session keeps
                its current model.
        """
        session = self._new_session(load_checkpoint_zip(self.ctx, "vae", path), "uploaded checkpoint")
        return session, session.view.describe(), self._samples(session, 0)

    def _samples(self, session: VaeSession, seed: int, n: int = 64) -> np.ndarray:
        model = session.view.model
        images = model.sample(n, generator=torch.Generator().manual_seed(seed)).cpu()
        return to_image(images, nrow=8)

    @ui_handler
    def samples(self, state: VaeSession | None, seed: Any = 0) -> np.ndarray:
        """64 samples from the prior (8 x 8 grid, uint8), drawn with ``seed`` in [0, 2^31)."""
        return self._samples(self.session(state), check_int("seed", seed, 0, SEED_MAX))

    @ui_handler
    def download(self, state: VaeSession | None) -> str:
        """Save the session's model (config.json + model.safetensors + card) as a zip;
        returns its path."""
        return str(self.session(state).view.export)

    # -- training --------------------------------------------------------------------
    def _recon_grid(self, model: VAE) -> np.ndarray:
        x = self.ctx.data.images("test", model.data_kind)[:N_RECON]
        with torch.no_grad():
            mu, _ = model.encode(x.to(self.ctx.device))
            recon = model.decode(mu).cpu()
        return to_image(torch.cat([x, recon]), nrow=N_RECON)

    @ui_handler
    def train(
        self,
        state: VaeSession | None,
        latent_dim: Any,
        arch: Any,
        beta: Any,
        lr: Any,
        steps: Any,
        seed: Any,
        request: gr.Request,
    ):
        """Train a new VAE from scratch on the train split, streaming progress.

        Args:
            latent_dim: int in [2, 32]; arch: "mlp" or "conv"; beta: float in [0, 10];
            lr: learning rate in [1e-5, 0.1]; steps: int in [1, 5000]; seed: int >= 0.

        Yields:
            (session, status markdown, sample grid from fixed noise, test digits over
            their reconstructions, plotly curves of reconstruction, KL and ELBO).
            The session changes to the new model when training ends or is stopped.

        Raises:
            gr.Error: for any setting out of range, or when this session is already
                training (nothing is changed).
        """
        latent_dim = check_int("latent size", latent_dim, *LATENT_DIM_RANGE)
        arch = check_choice("architecture", arch, ARCHITECTURES)
        beta = check_float("β", beta, 0.0, 10.0)
        lr = check_float("learning rate", lr, 1e-5, 0.1)
        steps = check_int("steps", steps, 1, MAX_UI_STEPS)
        seed = check_int("seed", seed, 0, SEED_MAX)
        config = TrainConfig(steps=steps, lr=lr, seed=seed, batch_size=128, log_every=10, sample_every=50, eval_every=100)
        hidden = 256 if arch == "conv" else 512
        model = seeded_init(VAE, seed, latent_dim=latent_dim, arch=arch, hidden_dim=hidden, beta=beta).to(self.ctx.device)
        session_hash = session_key(request)
        stop = self.ctx.sessions.start(session_hash, "vae-train")
        try:
            yield from self._train_run(state, model, config, stop, steps, seed)
        finally:
            self.ctx.sessions.finish(session_hash, "vae-train", stop)

    def _train_run(self, state: VaeSession | None, model: VAE, config: TrainConfig, stop: threading.Event, steps: int, seed: int):
        history: list[dict] = []
        n_good = 0
        samples = recon = None
        fresh = False  # whether samples/recon changed since the last yield
        last_yield = 0.0
        session = self.session(state)
        for event in train(model, self.ctx.data, config, stop=stop):
            history.append({"step": event.step, "losses": event.losses, "test_losses": event.test_losses})
            n_good += not event.final
            if event.samples is not None:
                samples, recon, fresh = to_image(event.samples), self._recon_grid(model), True
            if event.final:
                test = event.test_losses or {}
                status = f"**{event.status}**: {event.message}."
                if n_good or event.status != "diverged":
                    session = self._new_session(model, f"trained here ({event.step} steps, seed {seed})")
                    status += (
                        f" Test ELBO {test['elbo']:.1f} nats (reconstruction {test['reconstruction']:.1f},"
                        f" KL {test['kl']:.1f}). This model is now used by every panel of the tab."
                    )
                else:
                    status += " Nothing finite was learnt, so your previous model is kept."
                yield session, status, samples, recon, plots.training_curves(history, CURVES)
                return
            now = time.perf_counter()
            if now - last_yield >= YIELD_EVERY_S:
                last_yield = now
                rate = event.step / max(event.elapsed_s, 1e-9)
                status = (
                    f"step {event.step} / {steps} · {rate:.0f} steps/s · ELBO {event.losses['elbo']:.1f} nats "
                    f"(reconstruction {event.losses['reconstruction']:.1f}, KL {event.losses['kl']:.1f})"
                )
                # Unchanged images are skipped, not re-sent: each costs a PNG encode.
                images = (samples, recon) if fresh else (gr.skip(), gr.skip())
                fresh = False
                # gr.skip() for the State: re-sending the session held since the start would
                # undo a Load or slider change the user makes while the run goes on.
                yield gr.skip(), status, *images, plots.training_curves(history, CURVES)

    @ui_handler
    def stop(self, request: gr.Request) -> str:
        """Ask this session's training run to stop; it keeps the weights reached."""
        stopped = self.ctx.sessions.set_flag(session_key(request), "vae-train")
        return "Stopping…" if stopped else "Nothing is training."

    # -- latent sliders ---------------------------------------------------------------
    @ui_handler
    def decode(self, state: VaeSession | None, *values: Any) -> np.ndarray:
        """Decode the code whose most informative dimensions are set by the slider
        ``values`` (one per slider, in KL order, each in [-4, 4]); other dimensions keep
        the session's current code. Returns a 28 x 28 uint8 image."""
        session = self.session(state)
        view = session.view
        n = min(N_SLIDERS, view.latent_dim)
        if len(values) < n:
            raise ValueError(f"give {n} slider values, got {len(values)}")
        z = session.z.clone()
        for i in range(n):
            z[view.order[i]] = check_float(f"slider {i + 1}", values[i], -SLIDER_RANGE, SLIDER_RANGE)
        session.z = z
        return to_image(view.decode(z[None]), 1)

    @ui_handler
    def randomise(self, state: VaeSession | None, seed: Any = 0) -> list:
        """Draw the whole code from the prior N(0, I) with ``seed``; returns the session,
        the slider updates and the decoded image."""
        session = self.session(state)
        g = torch.Generator().manual_seed(check_int("seed", seed, 0, SEED_MAX))
        session.z = torch.randn(session.view.latent_dim, generator=g).clamp(-SLIDER_RANGE, SLIDER_RANGE)
        return [session, *_slider_updates(session), to_image(session.view.decode(session.z[None]), 1)]

    @ui_handler
    def encode(self, state: VaeSession | None, index: Any) -> list:
        """Set the code to the encoder mean of test digit ``index``; returns the session,
        the slider updates, the decoded image and the original digit."""
        session = self.session(state)
        view = session.view
        i = check_index("test digit", index, len(view.test_codes))
        session.z = view.test_codes[i].clone()
        return [session, *_slider_updates(session), to_image(view.decode(session.z[None]), 1), to_image(view.test_images()[i : i + 1], 1)]

    # -- manifold ---------------------------------------------------------------------
    @ui_handler
    def manifold(self, state: VaeSession | None, dim_x: Any, dim_y: Any, n_grid: Any = 15) -> np.ndarray:
        """Decode an n_grid x n_grid grid over latent dimensions ``dim_x`` (across) and
        ``dim_y`` (down) at the Gaussian quantiles 0.05..0.95, other dimensions at 0
        (Kingma & Welling 2013, Fig. 4). n_grid in [3, 30]."""
        view = self.session(state).view
        d = view.latent_dim
        dx, dy = check_int("x dimension", dim_x, 0, d - 1), check_int("y dimension", dim_y, 0, d - 1)
        if dx == dy:
            raise ValueError("choose two different dimensions")
        n = check_int("grid size", n_grid, 3, 30)
        q = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, n))
        z = torch.zeros(n, n, d)
        z[:, :, dx] = q[None, :]
        z[:, :, dy] = q.flip(0)[:, None]  # up is positive, as on a plot
        return to_image(view.decode(z.view(-1, d)), nrow=n)

    # -- latent scatter ------------------------------------------------------------------
    def _to_plane(self, view: VaeView, codes: Tensor) -> Tensor:
        mean, basis, _ = view.projection
        return (codes - mean) @ basis

    @ui_handler
    def scatter(self, state: VaeSession | None, chosen: Any = None) -> Any:
        """Plotly scatter of the test digits' codes (projected to 2D by PCA when D > 2),
        coloured by label; each point carries its test index as customdata."""
        view = self.session(state).view
        points = self._to_plane(view, view.test_codes).numpy()
        marker = None
        if chosen is not None:
            i = check_index("test digit", chosen, len(points))
            marker = (float(points[i, 0]), float(points[i, 1]))
        return plots.latent_scatter(points, view.ctx.data.test_labels.numpy(), view.projection[2], marker)

    @ui_handler
    def pick_point(self, state: VaeSession | None, index: Any) -> tuple:
        """Decode test digit ``index``'s full code (as chosen by clicking its point).

        Args:
            index: the test index, or ``"index:nonce"`` as the click script sends it (a
                fresh nonce per click, so clicking the same point twice works).

        Returns:
            (image: the digit beside its decoding, caption markdown, scatter with a marker).
        """
        view = self.session(state).view
        if isinstance(index, str):
            index = index.split(":")[0].strip()
        i = check_index("test digit", index, len(view.test_codes))
        pair = torch.cat([view.test_images()[i : i + 1], view.decode(view.test_codes[i][None])])
        caption = f"test digit #{i} (label {int(view.ctx.data.test_labels[i])}): the digit as the model sees it (binarised), then the decoding of its code"
        return to_image(pair, 2), caption, self.scatter(state, i)

    @ui_handler
    def decode_point(self, state: VaeSession | None, x: Any, y: Any) -> np.ndarray:
        """Decode the point (x, y) of the scatter's plane (exactly z for a 2-D VAE; the
        PCA plane through the mean code otherwise). x and y in [-10, 10]."""
        view = self.session(state).view
        mean, basis, _ = view.projection
        xy = torch.tensor([check_float("x", x, -10, 10), check_float("y", y, -10, 10)])
        return to_image(view.decode((mean + basis @ xy)[None]), 1)

    # -- interpolation ----------------------------------------------------------------------
    @ui_handler
    def interpolate(self, state: VaeSession | None, index_a: Any, index_b: Any, n_steps: Any = 10) -> np.ndarray:
        """Decode codes between test digits A and B: top row linear, bottom row spherical
        (slerp), ``n_steps`` in [3, 20] images each, endpoints included. An empty index
        (a box being retyped) leaves the picture as it is."""
        if index_a is None or index_b is None:
            return gr.skip()
        view = self.session(state).view
        n_test = len(view.test_codes)
        a, b = check_index("digit A", index_a, n_test), check_index("digit B", index_b, n_test)
        n = check_int("steps", n_steps, 3, 20)
        za, zb = view.test_codes[a], view.test_codes[b]
        t = torch.linspace(0, 1, n)
        linear = (1 - t[:, None]) * za + t[:, None] * zb
        return to_image(view.decode(torch.cat([linear, slerp(za, zb, t)])), nrow=n)

    # -- attribute editing ---------------------------------------------------------------------
    @ui_handler
    def edit(self, state: VaeSession | None, index: Any, attribute: Any, strength: Any) -> tuple:
        """Add ``strength`` x the attribute vector to test digit ``index``'s code.

        Args:
            index: test digit; None (a box being retyped) changes nothing.
            attribute: "digit 0".."digit 9", "thickness_px", "slant_deg" or "width_px".
            strength: in [-3, 3]; 1 adds one full "with minus without" difference.

        Returns:
            (image: original, reconstruction, edited; image: the edit at strengths
            -3, -2, ..., 3; markdown: the traits measured on the reconstruction and on
            the edit, and the classifier's reading of both).
        """
        if index is None:  # the box is being retyped
            return gr.skip(), gr.skip(), gr.skip()
        view = self.session(state).view
        i = check_index("test digit", index, len(view.test_codes))
        attribute = check_choice("attribute", attribute, tuple(ATTRIBUTES))
        s = check_float("strength", strength, -3.0, 3.0)
        v = view.vectors[attribute]
        z = view.test_codes[i]
        recon, edited = view.decode(torch.stack([z, z + s * v]))
        sweep = view.decode(z + torch.linspace(-3, 3, 7)[:, None] * v)
        triple = to_image(torch.stack([view.test_images()[i], recon, edited]), nrow=3)
        traits = measure_traits(torch.stack([recon, edited]))
        probs, _ = classify(torch.stack([recon, edited]))
        conf, pred = probs.max(1)
        rows = "\n".join(
            f"| {TRAITS[k]} | {float(traits[k][0]):.1f} | {float(traits[k][1]):.1f} |" for k in TRAITS
        )
        table = (
            f"| | reconstruction | edited (strength {s:+.1f}) |\n|---|---|---|\n{rows}\n"
            f"| classifier says | {int(pred[0])} ({float(conf[0]):.0%}) | {int(pred[1])} ({float(conf[1]):.0%}) |"
        )
        return triple, to_image(sweep, nrow=7), table


def _views(tab: VaeTab, session: VaeSession, grid: Any, a: Any, b: Any, n_interp: Any, edit_i: Any, attr: Any, strength: Any) -> dict[str, Any]:
    """Every view of the session's model at the given panel settings: what the page shows
    at build time and what is redrawn when the session's model changes."""
    view = session.view
    return {
        "description": view.describe(),
        "download": tab.download(session),
        "sliders": _slider_updates(session),
        "slider_image": to_image(view.decode(session.z[None]), 1),
        "dims": [(f"z[{d}] · KL {float(view.kl_per_dim[d]):.2f}", d) for d in view.order],
        "manifold": tab.manifold(session, view.order[0], view.order[1], grid),
        "scatter": tab.scatter(session),
        "interpolation": tab.interpolate(session, a, b, n_interp),
        "edit": tab.edit(session, edit_i, attr, strength),
    }


def build(ctx: AppContext) -> VaeTab:
    """Build the VAE tab's components inside the current ``gr.Blocks`` and bind them."""
    tab = VaeTab(ctx)
    first = tab.session(None)
    view = first.view
    # Computed once at build time, so the page is alive before any event runs.
    init = _views(tab, first, 15, *DEFAULT_INTERPOLATION, 10, *DEFAULT_EDIT)
    state = gr.State(None)

    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            models = checkpoint_panel("vae", DEFAULT_CHECKPOINT, init["description"], init["download"])
            with gr.Row():
                seed = gr.Number(value=0, label="sample seed", precision=0, minimum=0)
                resample = gr.Button("New samples")
        with gr.Column(scale=3):
            sample_img = image_output("samples from the prior", size=360, value=tab._samples(first, 0), elem_id="vae-samples")

    with gr.Tabs():
        with gr.Tab("Train", id="vae-train"):
            with gr.Row():
                latent = gr.Slider(*LATENT_DIM_RANGE, value=16, step=1, label="latent size")
                arch = gr.Radio(list(ARCHITECTURES), value="mlp", label="architecture")
                beta = gr.Slider(0.0, 10.0, value=1.0, step=0.1, label="β (KL weight; 0 = plain autoencoder)")
            panel = training_panel("vae-train", steps=1500, max_steps=MAX_UI_STEPS, lr=1e-3)
            with gr.Row():
                progress_img = image_output("samples from fixed noise, as it trains", size=300, elem_id="vae-train-samples")
                recon_img = image_output("test digits (top) and their reconstructions", size=300)

        with gr.Tab("Latent sliders", id="vae-sliders"):
            with gr.Row():
                with gr.Column(scale=3):
                    slider_boxes = [
                        gr.Slider(
                            -SLIDER_RANGE, SLIDER_RANGE, step=0.05, elem_id=f"vae-slider-{i}",
                            **{k: v for k, v in init["sliders"][i].items() if k != "__type__"},
                        )
                        for i in range(N_SLIDERS)
                    ]
                with gr.Column(scale=2):
                    slider_img = image_output("decoded", size=280, value=init["slider_image"], elem_id="vae-slider-image")
                    with gr.Row():
                        rand_seed = gr.Number(value=0, label="seed", precision=0, minimum=0)
                        randomise = gr.Button("Randomise (draw z from the prior)")
            gr.Markdown("Sliders set the most informative dimensions (highest KL first); the others keep their values.")
            slider_gallery = digit_gallery(ctx.data, label="click a test digit, then Encode, to set every slider from its code")
            with gr.Row():
                slider_index = index_box(ctx.data, "digit")
                encode_btn = gr.Button("Encode this digit", variant="primary")
                encode_src = image_output("the digit", size=120)
            bind_pick(slider_gallery, slider_index)

        with gr.Tab("Manifold", id="vae-manifold"):
            with gr.Row():
                dim_x = gr.Dropdown(init["dims"], value=view.order[0], label="across: dimension")
                dim_y = gr.Dropdown(init["dims"], value=view.order[1], label="down: dimension")
                n_grid = gr.Slider(3, 30, value=15, step=1, label="grid size")
            manifold_img = image_output(
                "decoded grid at Gaussian quantiles 0.05…0.95 (other dimensions at 0)", size=520, value=init["manifold"]
            )

        with gr.Tab("Latent scatter", id="vae-scatter-tab"):
            gr.Markdown(
                "Click a point to decode that test digit's code, or decode any point of the plane on the right. "
                "With more than 2 latent dimensions this is a PCA projection; load the bundled `vae-2d` to see a true 2-D latent space."
            )
            with gr.Row():
                with gr.Column(scale=3, elem_id="vae-scatter", elem_classes=["pg-clickable"]):
                    scatter_plot = gr.Plot(init["scatter"], label="test digits in latent space")
                    clicked = gr.Textbox(elem_id="vae-scatter-click", elem_classes=["pg-hidden"], show_label=False)
                with gr.Column(scale=2):
                    picked_img = image_output("clicked digit and its decoding", size=180, elem_id="vae-picked")
                    picked_caption = gr.Markdown()
                    with gr.Row():
                        px = gr.Number(value=0.0, label="x")
                        py = gr.Number(value=0.0, label="y")
                    point_btn = gr.Button("Decode (x, y)")
                    point_img = image_output("decoded point", size=180)

        with gr.Tab("Interpolation", id="vae-interp"):
            interp_gallery = digit_gallery(ctx.data)
            with gr.Row():
                which = gr.Radio(["A", "B"], value="A", label="a click sets")
                index_a = index_box(ctx.data, "digit A", DEFAULT_INTERPOLATION[0])
                index_b = index_box(ctx.data, "digit B", DEFAULT_INTERPOLATION[1])
                n_steps = gr.Slider(3, 20, value=10, step=1, label="images")
            interp_img = image_output(
                "linear (top) and spherical (bottom) paths from A to B", size=180, value=init["interpolation"], elem_id="vae-interp-image"
            )

        with gr.Tab("Attribute editing", id="vae-edit"):
            edit_gallery = digit_gallery(ctx.data)
            with gr.Row():
                edit_index = index_box(ctx.data, "digit to edit", DEFAULT_EDIT[0])
                attribute = gr.Dropdown(
                    [(f"make it a {a[-1]}", a) if a.startswith("digit") else (TRAITS[a], a) for a in ATTRIBUTES],
                    value=DEFAULT_EDIT[1], label="attribute",
                )
                strength = gr.Slider(-3, 3, value=DEFAULT_EDIT[2], step=0.1, label="strength")
            bind_pick(edit_gallery, edit_index)
            with gr.Row():
                with gr.Column():
                    edit_img = image_output("original · reconstruction · edited", size=200, value=init["edit"][0])
                    sweep_img = image_output("the same edit at strength −3, −2, … +3", size=120, value=init["edit"][1])
                edit_table = gr.Markdown(init["edit"][2])

        with gr.Tab("How it works", id="vae-explain"):
            gr.Markdown(EXPLANATION, latex_delimiters=[{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}])

    # Every view of the model is redrawn when the session's model changes, the download
    # button's file included: a DownloadButton downloads the file it already holds when
    # clicked (its own click, also the API's /vae_download, returns that same file).
    refresh_inputs = [state, n_grid, index_a, index_b, n_steps, edit_index, attribute, strength]
    refresh_outputs = [
        models.info, models.download, *slider_boxes, slider_img, dim_x, dim_y, manifold_img, scatter_plot,
        picked_img, picked_caption, point_img, interp_img, edit_img, sweep_img, edit_table,
    ]

    @ui_handler
    def refresh(state_value: VaeSession | None, grid: Any, a: Any, b: Any, n_interp: Any, edit_i: Any, attr: Any, s: Any) -> list:
        session = tab.session(state_value)
        order = session.view.order
        v = _views(tab, session, grid, a, b, n_interp, edit_i, attr, s)
        return [
            v["description"], v["download"], *v["sliders"], v["slider_image"],
            gr.update(choices=v["dims"], value=order[0]), gr.update(choices=v["dims"], value=order[1]),
            v["manifold"], v["scatter"], None, "", None, v["interpolation"], *v["edit"],
        ]

    models.load.click(tab.load, [state, models.choice, models.source], [state, models.info, sample_img], api_name="vae_load").success(
        refresh, refresh_inputs, refresh_outputs, api_visibility="private"
    )
    # Picking a bundled name means "load this", so an old Hub id must not win.
    models.choice.input(lambda: "", None, models.source, api_visibility="private", show_progress="hidden")
    models.upload.upload(tab.load_zip, [state, models.upload], [state, models.info, sample_img], api_name="vae_load_zip").success(
        refresh, refresh_inputs, refresh_outputs, api_visibility="private"
    )
    resample.click(tab.samples, [state, seed], sample_img, api_name="vae_samples")
    models.download.click(tab.download, state, models.download, api_name="vae_download", show_progress="hidden")

    train_event = panel.train.click(
        tab.train, [state, latent, arch, beta, panel.lr, panel.steps, panel.seed],
        [state, panel.status, progress_img, recon_img, panel.curves],
        api_name="vae_train", concurrency_limit=2, concurrency_id="train",
    )
    train_event.then(refresh, refresh_inputs, refresh_outputs, api_visibility="private").then(
        tab.samples, [state, seed], sample_img, api_visibility="private"
    )
    # Stop sets the session's flag instead of cancels=[train_event]: a cancelled generator
    # never yields its final model, status and curves, and the model would be lost.
    panel.stop.click(tab.stop, None, panel.status, api_name="vae_stop", concurrency_limit=None)

    gr.on(
        [box.input for box in slider_boxes], tab.decode, [state, *slider_boxes], slider_img,
        api_name="vae_decode", trigger_mode="always_last", show_progress="hidden", concurrency_limit=None,
    )
    randomise.click(tab.randomise, [state, rand_seed], [state, *slider_boxes, slider_img], api_name="vae_randomise")
    encode_btn.click(tab.encode, [state, slider_index], [state, *slider_boxes, slider_img, encode_src], api_name="vae_encode")

    gr.on(
        [dim_x.input, dim_y.input, n_grid.input], tab.manifold, [state, dim_x, dim_y, n_grid], manifold_img,
        api_name="vae_manifold", trigger_mode="always_last",
    )
    clicked.change(tab.pick_point, [state, clicked], [picked_img, picked_caption, scatter_plot], api_name="vae_pick_point")
    point_btn.click(tab.decode_point, [state, px, py], point_img, api_name="vae_decode_point")

    interp_gallery.select(_pick_a_or_b, [which, index_a, index_b], [index_a, index_b], api_visibility="private", show_progress="hidden")
    gr.on(
        [index_a.change, index_b.change, n_steps.input], tab.interpolate, [state, index_a, index_b, n_steps], interp_img,
        api_name="vae_interpolate", trigger_mode="always_last",
    )
    gr.on(
        [edit_index.change, attribute.input, strength.input], tab.edit, [state, edit_index, attribute, strength],
        [edit_img, sweep_img, edit_table], api_name="vae_edit", trigger_mode="always_last",
    )
    return tab


def _pick_a_or_b(which: str, a: int, b: int, evt: gr.SelectData) -> tuple[int, int]:
    return (int(evt.index), b) if which == "A" else (a, int(evt.index))

"""The VAE's views: samples, live training, latent sliders, the manifold, the latent
scatter, interpolation and attribute editing, for a bundled, loaded or freshly trained
VAE (Kingma & Welling 2013, "Auto-Encoding Variational Bayes", arXiv:1312.6114).

Every method takes the session (``VaeSession``, or None for a new one on the bundled
model) and the panel's own settings, checks each setting and returns pictures (uint8
arrays), plotly figures or markdown. No gradio here.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor

from models import VAE
from models.base import seeded_init
from models.checks import SEED_MAX, Range, check_choice, check_int
from models.vae import ARCHITECTURES, LATENT_DIM_RANGE, TRAIN_HIDDEN_DIM
from playground.core import plots
from playground.core.attributes import TRAITS, attribute_vectors, measure_traits, slerp
from playground.core.data import MnistSplits
from playground.core.metrics import classify
from playground.core.plots import image_grid
from playground.core.training import TrainConfig, evaluate_losses
from playground.views.base import Card, FamilyViews, ModelView, Session, Step, check_index, final_status, history_entry, stream_training, trained_name

N_SLIDERS = 8
SLIDER = Range(-4.0, 4.0, 0.0, integer=False)
PLANE = Range(-10.0, 10.0, 0.0, integer=False)  # a point of the scatter's plane
N_RECON = 8
# The Train panel's settings.
LATENT = Range(*LATENT_DIM_RANGE, 16)
BETA = Range(0.0, 10.0, 1.0, integer=False)
LR = Range(1e-5, 0.1, 1e-3, integer=False)
STEPS = Range(10, 5000, 1500)
ARCH_DEFAULT = "mlp"
# The panels' settings. Defaults that read well with the bundled model: test #13 is a 1,
# #18 a 0, #20 a 4.
GRID = Range(3, 30, 15)
INTERPOLATION_STEPS = Range(3, 20, 10)
STRENGTH = Range(-3.0, 3.0, 1.5, integer=False)
DEFAULT_INTERPOLATION = (13, 18)
DEFAULT_EDIT = (20, "digit 7")
YIELD_EVERY_S = 0.5
ATTRIBUTES = [f"digit {d}" for d in range(10)] + list(TRAITS)

CARD = Card(
    "Variational autoencoder (VAE)", "explicit density · approximate (variational: the ELBO)",
    "An encoder maps a digit to a code; a decoder draws a digit from any code. Drag a code's sliders and watch the digit change.",
    "Drag the latent sliders", "vae-sliders", seconds=0.05,
)
TOUR = (
    Step("Draw a random code", "Each slider is one dimension of the code z; Randomise draws all of them from the prior N(0, I). Drag the top slider: it changes the digit most.", "vae-sliders", {"rand_seed": 7}, "#vae-randomise"),
    Step("Turn a 4 into a 7", "The edit adds the average code of 7s minus that of all digits to this 4's code. Top: original, reconstruction, edit; below: the same edit from −3 to +3.", "vae-edit", {"edit_index": 7, "attribute": "digit 7", "strength": 2.0}, "edit"),
    Step("Walk from a 2 to a 6", "Decoding codes on the line between two digits' codes: every step in between is also a digit-like image, because the prior fills the space.", "vae-interp", {"index_a": 2, "index_b": 3, "n_steps": 10}, "interpolation"),
    Step("Map two dimensions", "A grid over the two most informative dimensions, the rest at 0: nearby codes decode to similar digits.", "vae-manifold", {"n_grid": 12}, "manifold"),
)
CURVES = {"reconstruction": "reconstruction −log p(x|z)", "kl": "KL(q(z|x) ‖ p(z))", "elbo": "ELBO"}


class VaeView(ModelView):
    """A loaded VAE plus what is derived from it once: codes of the test digits, the
    dimensions sorted by KL, a 2D projection and attribute vectors. Never modified after
    it is made (derived values are computed lazily, idempotently), so sessions can share
    the bundled one."""

    model: VAE

    @property
    def latent_dim(self) -> int:
        """D, the size of the model's latent code."""
        return self.model.latent_dim

    @torch.no_grad()
    def encode(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, logvar), each (N, D) on the CPU, for images (N, 1, 28, 28) in [0, 1]."""
        mu, logvar = self.model.encode(images.to(self.ctx.device))
        return mu.cpu(), logvar.cpu()

    @torch.no_grad()
    def decode(self, z: Tensor) -> Tensor:
        """Pixel probabilities (N, 1, 28, 28) in [0, 1] on the CPU for codes z (N, D)."""
        return self.model.decode(z.to(self.ctx.device, torch.float32)).cpu()

    def test_images(self) -> Tensor:
        """The test images (of the data it was trained on) as the model sees them: (N_test, 1, 28, 28), binary float32."""
        return self.data.images("test", self.model.data_kind)

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
        data = self.data
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
            f"test ELBO **{self.test_elbo:.1f}** nats/image{self.trained_on_note}"
        )


class VaeSession(Session):
    """One browser session's VAE (slot ``"vae"``) and the code the sliders edit."""

    def __init__(self, views: dict[str, ModelView]):
        super().__init__(views)
        self.z = torch.zeros(self.view.latent_dim)  # (D,); dimensions past the sliders keep these values


class VaeViews(FamilyViews[VaeSession]):
    """What the VAE tab's panels compute (see the module docstring)."""

    families = ("vae",)
    bundled = {"vae": "vae"}
    session_class = VaeSession
    view_classes = {"vae": VaeView}

    def use(self, session: VaeSession, view: ModelView) -> None:
        """A new model starts its sliders at the origin."""
        super().use(session, view)
        session.z = torch.zeros(session.view.latent_dim)

    # -- samples ---------------------------------------------------------------------------
    def samples(self, session: Any, seed: Any = 0, n: int = 64) -> np.ndarray:
        """``n`` samples from the prior drawn with ``seed`` in [0, 2^31): an 8-column
        grid, uint8.

        Raises:
            ValueError: a bad seed.
        """
        seed = check_int("seed", seed, 0, SEED_MAX)
        images = self.session(session).view.model.sample(n, generator=torch.Generator().manual_seed(seed)).cpu()
        return image_grid(images, nrow=8)

    # -- training ----------------------------------------------------------------------------
    def _reconstructions(self, model: VAE, data: MnistSplits) -> np.ndarray:
        x = data.images("test", model.data_kind)[:N_RECON]
        with torch.no_grad():
            recon = model.decode(model.encode(x.to(self.ctx.device))[0]).cpu()  # the decoded encoder means
        return image_grid(torch.cat([x, recon]), nrow=N_RECON)

    def train(
        self, session: VaeSession, latent_dim: Any, arch: Any, beta: Any, lr: Any, steps: Any, seed: Any, *, stop: threading.Event, data: MnistSplits | None = None,
    ) -> Iterator[tuple]:
        """Train a new VAE from scratch on the train split of the session's chosen images (default the digits), batches of 128, streaming.

        Args:
            latent_dim: int in [2, 32]; arch: "mlp" or "conv"; beta: the KL weight in
            [0, 10]; lr: learning rate in [1e-5, 0.1]; steps: int in [10, 5000];
            seed: int in [0, 2^31). stop: set to end the run (the weights reached are kept).

        Yields:
            (status markdown, sample grid from fixed noise, test digits over their
            reconstructions, plotly curves of reconstruction, KL and ELBO in nats);
            None for what is unchanged. When the run ends (or is stopped) with finite
            weights, the session's model becomes the new one, named with the steps done.

        Raises:
            ValueError: a setting out of range (nothing is changed).
        """
        latent_dim = LATENT.check("latent size", latent_dim)
        arch = check_choice("architecture", arch, ARCHITECTURES)
        beta = BETA.check("β", beta)
        lr = LR.check("learning rate", lr)
        steps = STEPS.check("steps", steps)
        seed = check_int("seed", seed, 0, SEED_MAX)
        config = TrainConfig(steps=steps, lr=lr, seed=seed, batch_size=128, log_every=10, sample_every=50, eval_every=100)
        model = seeded_init(VAE, seed, latent_dim=latent_dim, arch=arch, hidden_dim=TRAIN_HIDDEN_DIM[arch], beta=beta).to(self.ctx.device)
        yield "Starting…", None, None, None
        keys = {k: k for k in CURVES}
        data = self.trains_on(model, data)
        for event, history, learnt in stream_training(model, data, config, stop, lambda e: history_entry(e, keys), YIELD_EVERY_S):
            samples = image_grid(event.samples) if event.samples is not None else None
            recon = self._reconstructions(model, data) if samples is not None or event.final else None
            curves = plots.training_curves(history, CURVES)
            if not event.final:
                rate = event.step / max(event.elapsed_s, 1e-9)
                losses = event.losses
                status = (
                    f"step {event.step:,} / {steps:,} · {rate:.0f} steps/s · ELBO {losses['elbo']:.1f} nats "
                    f"(reconstruction {losses['reconstruction']:.1f}, KL {losses['kl']:.1f})"
                )
                yield status, samples, recon, curves
                continue
            status = final_status(event, learnt)
            if learnt:
                self.use(session, VaeView(model, trained_name(event, steps, seed), self.ctx, data))
                test = event.test_losses
                figures = (
                    f" Test ELBO {test['elbo']:.1f} nats (reconstruction {test['reconstruction']:.1f}, KL {test['kl']:.1f})."
                    if test else ""
                )
                status += f"{figures} This model is now used by every panel of the tab."
            yield status, samples, recon, curves

    # -- latent sliders -------------------------------------------------------------------
    def sliders(self, session: Any) -> list[tuple[str, float] | None]:
        """What each of the ``N_SLIDERS`` sliders shows for the session's code: (label,
        value) for the most informative dimensions in KL order, None for sliders past the
        model's latent size."""
        session = self.session(session)
        view = session.view
        out: list[tuple[str, float] | None] = []
        for i in range(N_SLIDERS):
            if i < view.latent_dim:
                d = view.order[i]
                value = round(float(session.z[d].clamp(SLIDER.low, SLIDER.high)), 2)
                out.append((f"z[{d}] · KL {float(view.kl_per_dim[d]):.2f} nats", value))
            else:
                out.append(None)
        return out

    def decode_code(self, session: Any) -> np.ndarray:
        """The session's current code decoded: a 28 x 28 uint8 image."""
        session = self.session(session)
        return image_grid(session.view.decode(session.z[None]), 1)

    def decode(self, session: Any, *values: Any) -> np.ndarray:
        """Set the most informative dimensions of the session's code to the slider
        ``values`` (one per slider, in KL order, each in [-4, 4]; other dimensions keep
        their values) and decode it: a 28 x 28 uint8 image.

        Raises:
            ValueError: too few values, or one out of range (the code is unchanged).
        """
        session = self.session(session)
        view = session.view
        n = min(N_SLIDERS, view.latent_dim)
        if len(values) < n:
            raise ValueError(f"give {n} slider values, got {len(values)}")
        z = session.z.clone()
        for i in range(n):
            z[view.order[i]] = SLIDER.check(f"slider {i + 1}", values[i])
        session.z = z
        return self.decode_code(session)

    def randomise(self, session: Any, seed: Any = 0) -> np.ndarray:
        """Draw the whole code from the prior N(0, I) with ``seed`` (clipped to the
        sliders' range) and decode it.

        Raises:
            ValueError: a bad seed.
        """
        session = self.session(session)
        g = torch.Generator().manual_seed(check_int("seed", seed, 0, SEED_MAX))
        session.z = torch.randn(session.view.latent_dim, generator=g).clamp(SLIDER.low, SLIDER.high)
        return self.decode_code(session)

    def encode(self, session: Any, index: Any) -> tuple[np.ndarray, np.ndarray]:
        """Set the code to the encoder mean of test digit ``index``.

        Returns:
            (the decoded code, the original digit), each a 28 x 28 uint8 image.

        Raises:
            ValueError: an index outside the test split.
        """
        session = self.session(session)
        view = session.view
        i = check_index("test digit", index, len(view.test_codes))
        session.z = view.test_codes[i].clone()
        return self.decode_code(session), image_grid(view.test_images()[i : i + 1], 1)

    # -- manifold ----------------------------------------------------------------------------
    def dimensions(self, session: Any) -> list[tuple[str, int]]:
        """(label, dimension) choices for the manifold's axes, most informative first."""
        view = self.session(session).view
        return [(f"z[{d}] · KL {float(view.kl_per_dim[d]):.2f}", d) for d in view.order]

    def manifold(self, session: Any, dim_x: Any, dim_y: Any, n_grid: Any = GRID.default) -> np.ndarray:
        """Decode an n_grid x n_grid grid over latent dimensions ``dim_x`` (across) and
        ``dim_y`` (down) at the Gaussian quantiles 0.05..0.95, other dimensions at 0
        (Kingma & Welling 2013, Fig. 4). n_grid in [3, 30]; uint8 grid.

        Raises:
            ValueError: a dimension outside the code, the same dimension twice, or a bad
                grid size.
        """
        view = self.session(session).view
        d = view.latent_dim
        dx, dy = check_int("x dimension", dim_x, 0, d - 1), check_int("y dimension", dim_y, 0, d - 1)
        if dx == dy:
            raise ValueError("choose two different dimensions")
        n = GRID.check("grid size", n_grid)
        q = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, n))
        z = torch.zeros(n, n, d)
        z[:, :, dx] = q[None, :]
        z[:, :, dy] = q.flip(0)[:, None]  # up is positive, as on a plot
        return image_grid(view.decode(z.view(-1, d)), nrow=n)

    def default_manifold(self, session: Any, n_grid: Any = GRID.default) -> np.ndarray:
        """The manifold over the two most informative dimensions."""
        order = self.session(session).view.order
        return self.manifold(session, order[0], order[1], n_grid)

    # -- latent scatter ----------------------------------------------------------------------
    def scatter(self, session: Any, chosen: Any = None) -> go.Figure:
        """Plotly scatter of the test digits' codes (projected to 2D by PCA when D > 2),
        coloured by label; each point carries its test index as customdata; ``chosen``
        (a test index) is marked.

        Raises:
            ValueError: a chosen index outside the test split.
        """
        view = self.session(session).view
        mean, basis, titles = view.projection
        points = ((view.test_codes - mean) @ basis).numpy()
        marker = None
        if chosen is not None:
            i = check_index("test digit", chosen, len(points))
            marker = (float(points[i, 0]), float(points[i, 1]))
        return plots.latent_scatter(points, view.data.test_labels.numpy(), titles, marker)

    def pick_point(self, session: Any, index: Any) -> tuple[np.ndarray, str, go.Figure]:
        """Decode test digit ``index``'s full code (as chosen by clicking its point).

        Args:
            index: the test index, or ``"index:nonce"`` as the click script sends it (a
                fresh nonce per click, so clicking the same point twice works).

        Returns:
            (the digit beside its decoding, caption markdown, scatter with a marker).

        Raises:
            ValueError: not an index of the test split.
        """
        view = self.session(session).view
        if isinstance(index, str):
            index = index.split(":")[0].strip()
        i = check_index("test digit", index, len(view.test_codes))
        pair = torch.cat([view.test_images()[i : i + 1], view.decode(view.test_codes[i][None])])
        caption = (
            f"test {view.data_word} #{i} (label {view.data.class_names[int(view.data.test_labels[i])]}): the {view.data_word} as the model sees it (binarised), "
            "then the decoding of its code"
        )
        return image_grid(pair, 2), caption, self.scatter(session, i)

    def decode_point(self, session: Any, x: Any, y: Any) -> np.ndarray:
        """Decode the point (x, y) of the scatter's plane (exactly z for a 2-D VAE; the
        PCA plane through the mean code otherwise); x and y in [-10, 10].

        Raises:
            ValueError: a coordinate out of range.
        """
        view = self.session(session).view
        mean, basis, _ = view.projection
        xy = torch.tensor([PLANE.check("x", x), PLANE.check("y", y)])
        return image_grid(view.decode((mean + basis @ xy)[None]), 1)

    # -- interpolation ------------------------------------------------------------------------
    def interpolate(self, session: Any, index_a: Any, index_b: Any, n_steps: Any = INTERPOLATION_STEPS.default) -> np.ndarray:
        """Decode codes between test digits A and B: top row linear, bottom row spherical
        (slerp), ``n_steps`` in [3, 20] images each, endpoints included; uint8 grid.

        Raises:
            ValueError: an index outside the test split or a bad count.
        """
        view = self.session(session).view
        n_test = len(view.test_codes)
        a, b = check_index("digit A", index_a, n_test), check_index("digit B", index_b, n_test)
        n = INTERPOLATION_STEPS.check("steps", n_steps)
        za, zb = view.test_codes[a], view.test_codes[b]
        t = torch.linspace(0, 1, n)
        linear = (1 - t[:, None]) * za + t[:, None] * zb
        return image_grid(view.decode(torch.cat([linear, slerp(za, zb, t)])), nrow=n)

    # -- attribute editing ----------------------------------------------------------------------
    def edit(self, session: Any, index: Any, attribute: Any, strength: Any) -> tuple[np.ndarray, np.ndarray, str]:
        """Add ``strength`` x the attribute vector to test digit ``index``'s code.

        Args:
            attribute: "digit 0".."digit 9", "thickness_px", "slant_deg" or "width_px".
            strength: in [-3, 3]; 1 adds one full "with minus without" difference.

        Returns:
            (original, reconstruction, edited; the edit at strengths -3, -2, ..., 3;
            markdown: the traits measured on the reconstruction and on the edit, and the
            classifier's reading of both).

        Raises:
            ValueError: a bad index, attribute or strength.
        """
        view = self.session(session).view
        i = check_index("test digit", index, len(view.test_codes))
        attribute = check_choice("attribute", attribute, tuple(ATTRIBUTES))
        s = STRENGTH.check("strength", strength)
        v = view.vectors[attribute]
        z = view.test_codes[i]
        recon, edited = view.decode(torch.stack([z, z + s * v]))
        sweep = view.decode(z + torch.linspace(-3, 3, 7)[:, None] * v)
        triple = image_grid(torch.stack([view.test_images()[i], recon, edited]), nrow=3)
        traits = measure_traits(torch.stack([recon, edited]))
        probs, _ = classify(torch.stack([recon, edited]))
        conf, pred = probs.max(1)
        rows = "\n".join(f"| {TRAITS[k]} | {float(traits[k][0]):.1f} | {float(traits[k][1]):.1f} |" for k in TRAITS)
        table = (
            f"| | reconstruction | edited (strength {s:+.1f}) |\n|---|---|---|\n{rows}\n"
            f"| classifier says | {int(pred[0])} ({float(conf[0]):.0%}) | {int(pred[1])} ({float(conf[1]):.0%}) |"
        )
        return triple, image_grid(sweep, nrow=7), table

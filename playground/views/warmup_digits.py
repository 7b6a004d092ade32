"""The warm-up tab's digit panels: probabilistic PCA (Tipping & Bishop 1999), a mixture of
Bernoullis fitted by EM (Bishop 2006, §9.3.3), and a plain autoencoder against a VAE with
the same 2-D convolutional encoder and decoder (Kingma & Welling 2013, arXiv:1312.6114).

PPCA is fitted in closed form to the grey train digits (one eigendecomposition of the 784 x
784 covariance, shared by every K and cached here); the mixture by EM on the binarised
train digits, streamed; the AE (β = 0: z = μ(x), no noise, no KL) and the VAE (β = 1) are
the bundled ``ae-2d`` and ``vae-2d`` checkpoints or a pair trained here. Every method checks
its own arguments and raises ``ValueError`` with a readable text. No gradio here.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import Tensor

from models import VAE
from models.base import seeded_init
from models.checks import IMAGE_SHAPE, SEED_MAX, Range, check_choice, check_int
from models.ppca import PPCA, BernoulliMixture, covariance_eigen
from playground.core import checkpoints, plots
from playground.core.plots import image_grid, side_by_side
from playground.core.training import TrainConfig, TrainEvent, train
from playground.views.base import Context, check_index, quality_line, trained_name
from playground.views.vae import VaeView

PPCA_K = Range(1, 64, 16)
SIGMA2 = ("ML", "0.01", "0.001", "0.0001", "0.000001")  # the noise variance σ²: maximum likelihood, or fixed (σ² → 0 is PCA)
N_SLIDERS = 6  # sliders over z[0..5]
Z = Range(-3.0, 3.0, 0.0, integer=False)
BMM_K = Range(10, 100, 20)
BMM_ITERS = Range(1, 100, 30)
PAIR_STEPS = Range(50, 3000, 400)
GRID = Range(5, 16, 12)  # <= 16, so the 16 prior draws fill the grid's width
INTERPOLATION_STEPS = Range(3, 20, 10)
BUNDLED_PAIR = {"ae": "ae-2d", "vae": "vae-2d"}
PAIR_CONFIG = dict(latent_dim=2, arch="conv", hidden_dim=128)  # the bundled pair's architecture
PAIR_BATCH = 64
PAIR_EVERY = 10  # the AE and the VAE take turns of this many steps
N_SHOWN = 16  # components, samples and prior draws shown
N_PRIOR = 200  # prior draws the classifier reads
PRIOR_95 = 2.4477  # radius of the 2-D standard normal's 95% circle: sqrt(-2 ln 0.05)
N_RECON = 8
BIG = 7  # the slider decode is 28 * 7 = 196 px
YIELD_EVERY_S = 0.3  # the mixture's stream
PAIR_YIELD_EVERY_S = 1.0
NAN = float("nan")
NOT_COMPARABLE = "⚠ A *continuous density* on grey pixels in [0, 1], so it can be positive: **not comparable with the binarised NLLs of the other tabs**; the Bernoulli mixture's test NLL (next sub-tab) is."


@dataclass
class BmmFit:
    """A fitted Bernoulli mixture (``model``, means (K, 784)), its EM curve (train mean
    log-likelihood per iteration, nats per image; index 0: the initialisation), its ``seed``,
    the seconds EM took and its exact test NLL (nats per binarised test digit)."""

    model: BernoulliMixture
    curve: list[float]
    seed: int
    fit_s: float
    test_nll: float


@dataclass
class DigitSession:
    """One browser session's digit models: ``pair`` the (AE, VAE) trained here, None for the
    bundled ``ae-2d`` and ``vae-2d``; ``bmm`` the mixture fitted here, None for the default
    fit (K = 20, 30 iterations, seed 0)."""

    pair: tuple[VaeView, VaeView] | None = None
    bmm: BmmFit | None = None


def _big(picture: np.ndarray, scale: int = BIG) -> np.ndarray:
    """A uint8 picture enlarged ``scale`` times by pixel repetition (crisp pixels)."""
    return plots.enlarge(picture, scale)


def _images(flat: Tensor) -> Tensor:
    """(N, 784) pixel values as float32 images (N, 1, 28, 28) clipped to [0, 1]."""
    return flat.float().clamp(0, 1).view(-1, *IMAGE_SHAPE)


class DigitViews:
    """What the warm-up tab's digit panels compute (see the module docstring); the PPCA
    fits and the default mixture are deterministic and cached, shared by every session."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._locks = {name: threading.Lock() for name in ("ppca", "bmm", "pair")}  # a slow fit of one blocks no other panel
        self._eigen: tuple[Tensor, Tensor, Tensor] | None = None
        self._ppca: dict[tuple[int, str], tuple[PPCA, float, float]] = {}  # (K, σ²) -> (model, test log-lik, train log-lik)
        self._pair: tuple[VaeView, VaeView] | None = None
        self._default_bmm: BmmFit | None = None

    def session(self, state: Any) -> DigitSession:
        """The session in ``state``, or a new one on the bundled models."""
        return state if isinstance(state, DigitSession) else DigitSession()

    # -- probabilistic PCA ---------------------------------------------------------------------
    def fit_ppca(self, k: Any = PPCA_K.default, sigma2: Any = "ML") -> PPCA:
        """The PPCA with K in [1, 64] components on the grey train digits (flattened,
        float64), σ² one of ``SIGMA2`` ("ML": maximum likelihood; a number: fixed, and W
        the ML W for it), cached per (K, σ²); the eigendecomposition is made once (~0.2 s
        on 2 cores, counted in the first fit's ``fit_s`` only).

        Raises:
            ValueError: K out of range, or σ² not one of ``SIGMA2``.
        """
        k, sigma2 = PPCA_K.check("K", k), check_choice("σ²", str(sigma2), SIGMA2)
        with self._locks["ppca"]:
            eigen_s = 0.0
            if self._eigen is None:
                start = time.perf_counter()
                self._eigen = covariance_eigen(self.ctx.data.train_grey.flatten(1))
                eigen_s = time.perf_counter() - start
            if (k, sigma2) not in self._ppca:
                start = time.perf_counter()
                model = PPCA.from_eigen(*self._eigen, k, None if sigma2 == "ML" else float(sigma2))
                model.fit_s = eigen_s + time.perf_counter() - start
                test, train_ll = (float(model.log_prob(self.ctx.data.images(s, "grey").flatten(1)).mean()) for s in ("test", "train"))
                self._ppca[k, sigma2] = (model, test, train_ll)
            return self._ppca[k, sigma2][0]

    def ppca(self, k: Any = PPCA_K.default, sigma2: Any = "ML") -> tuple[np.ndarray, go.Figure, str]:
        """The PPCA fit with K components: (the mean digit then the first min(K, 16) principal
        directions, columns of W each scaled by its largest |value| (mid-grey = 0), as one
        uint8 picture; bars of each direction's share of the pixel variance and the
        cumulative share; markdown: σ², the share explained, the test and train
        log-likelihoods in nats per image, why they are not comparable with binarised NLLs,
        and the fit time in seconds).

        Raises:
            ValueError: K out of range, or σ² not one of ``SIGMA2``.
        """
        model = self.fit_ppca(k, sigma2)
        _, test, train_ll = self._ppca[model.n_components, str(sigma2)]
        w = model.weight[:, :N_SHOWN].T  # (n, 784)
        tiles = torch.cat([model.mean[None], 0.5 + 0.5 * w / w.abs().amax(1, keepdim=True).clamp_min(1e-12)])
        picture = image_grid(_images(tiles), nrow=min(len(tiles), 9))
        ratio = model.explained_variance_ratio().numpy()
        n_dropped = model.dim - model.n_components
        note = (
            f"**K = {model.n_components}** directions explain **{ratio.sum():.1%}** of the pixel variance. "
            + (f"σ² = {model.sigma2:.4f} (the maximum-likelihood σ²: the mean of the {n_dropped} discarded eigenvalues; "
               if str(sigma2) == "ML" else
               f"σ² = {model.sigma2:g}, fixed (the maximum-likelihood σ² for this K, {self.fit_ppca(k).sigma2:.4f}, gives the highest likelihood; "
               "a tiny σ² makes every digit off the K-dimensional subspace nearly impossible); as σ² → 0 the reconstructions become PCA's orthogonal projections (")
            + f"noise std {model.sigma2 ** 0.5:.3f} per pixel).  \n"
            f"Test log-likelihood **{test:.1f} nats per image** (train {train_ll:.1f}) on the {len(self.ctx.data.test_labels)} grey test digits "
            f"under N(μ, WWᵀ + σ²I).  \n{NOT_COMPARABLE}  \n"
            f"Fit: {model.fit_s:.2f} s (closed form: one eigendecomposition of the 784 × 784 covariance, made at the first fit and shared by every K)."
        )
        return picture, self._variance_figure(ratio), note

    @staticmethod
    def _variance_figure(ratio: np.ndarray) -> go.Figure:
        """Bars of each direction's share of the variance and the cumulative share (right axis)."""
        index = np.arange(1, len(ratio) + 1)
        fig = go.Figure([go.Bar(x=index, y=100 * ratio, name="per direction"), go.Scatter(x=index, y=100 * np.cumsum(ratio), name="cumulative", yaxis="y2")])
        return fig.update_layout(
            template="plotly_white", height=300, margin=dict(l=55, r=55, t=40, b=45), legend=dict(orientation="h", y=1.12), xaxis_title="principal direction",
            yaxis=dict(title="% of variance", rangemode="tozero"), yaxis2=dict(title="cumulative %", overlaying="y", side="right", range=[0, 100], showgrid=False),
        )

    def ppca_decode(self, k: Any, z: Any, sigma2: Any = "ML") -> np.ndarray:
        """Wz + μ for z[0..5] set by the ``N_SLIDERS`` sliders (each in [-3, 3], in prior
        standard deviations), the other z = 0; sliders past K are ignored. A 196 x 196
        uint8 picture.

        Raises:
            ValueError: K out of range, not 6 values, or a value that is not a number in [-3, 3].
        """
        model = self.fit_ppca(k, sigma2)
        if not isinstance(z, list | tuple | np.ndarray | Tensor) or len(z) != N_SLIDERS:
            raise ValueError(f"z must be a list of {N_SLIDERS} numbers in [-3, 3], got {str(z)[:80]!r}")
        values = [Z.check(f"z[{i}]", v) for i, v in enumerate(z)]
        code = torch.zeros(1, model.n_components, dtype=torch.float64)
        n = min(N_SLIDERS, model.n_components)
        code[0, :n] = torch.tensor(values[:n], dtype=torch.float64)
        return _big(image_grid(_images(model.decode(code)), nrow=1, padding=0))

    def ppca_samples(self, k: Any = PPCA_K.default, seed: Any = 0, sigma2: Any = "ML") -> np.ndarray:
        """16 samples Wz + μ + σε (left, 4 x 4) and their noiseless means Wz + μ (right),
        z ~ N(0, I) drawn with ``seed`` in [0, 2^31), clipped to [0, 1]; uint8. Raises
        ValueError for a bad K or seed."""
        model = self.fit_ppca(k, sigma2)
        g = torch.Generator().manual_seed(check_int("seed", seed, 0, SEED_MAX))
        noisy, z = model.sample(N_SHOWN, g)
        return side_by_side(image_grid(_images(noisy), 4), image_grid(_images(model.decode(z)), 4))

    def ppca_reconstructions(self, k: Any = PPCA_K.default, sigma2: Any = "ML") -> np.ndarray:
        """The first 8 grey test digits (top row) and their reconstructions W E[z|x] + μ
        (bottom row); uint8. Raises ValueError for a bad K."""
        model = self.fit_ppca(k, sigma2)
        x = self.ctx.data.test_grey[:N_RECON]
        return image_grid(torch.cat([x, _images(model.reconstruct(x.flatten(1)))]), nrow=N_RECON)

    # -- Bernoulli mixture -----------------------------------------------------------------------
    def _bmm_frame(self, fit: BmmFit, k: int, iteration: int, n_iters: int) -> tuple[np.ndarray, go.Figure, str]:
        """(the component means, sorted by weight, as a picture; the EM curve; the note)."""
        order = torch.argsort(fit.model.weights, descending=True)
        means = image_grid(fit.model.means[order].float().view(-1, *IMAGE_SHAPE), nrow=10)
        fig = go.Figure(go.Scatter(x=list(range(len(fit.curve))), y=fit.curve, mode="lines+markers")).update_layout(
            template="plotly_white", height=300, margin=dict(l=60, r=20, t=40, b=45), title="train log-likelihood (EM never lowers it)",
            xaxis_title="EM iteration (0: initialisation)", yaxis_title="nats per image",
        )
        note = (
            f"EM iteration **{iteration} / {n_iters}** · K = {k} · seed {fit.seed} · train log-likelihood {fit.curve[-1]:.1f} nats per image  \n"
            f"Exact **test NLL {fit.test_nll:.1f} nats per image** on the {len(self.ctx.data.test_labels)} binarised test digits "
            f"(log-sum-exp over the K components): comparable with the binarised NLLs of the other tabs.  \n"
            f"Fit time {fit.fit_s:.2f} s. Means are kept in [0.001, 0.999], so no test pixel has probability 0."
        )
        return means, fig, note

    def bmm_fit(self, session: Any, k: Any = BMM_K.default, iters: Any = BMM_ITERS.default, seed: Any = 0) -> Iterator[tuple]:
        """Fit a mixture of K in [10, 100] Bernoullis by EM (``iters`` in [1, 100], seeded
        initialisation) on the binarised train digits, streamed.

        Yields:
            (session, the K means sorted by weight (uint8, 10 per row), the EM curve (train
            log-likelihood per iteration, nats per image), note markdown (exact test NLL in
            nats per image, fit time)): after the initialisation, every ~0.3 s and after the
            last iteration, when the session's mixture becomes the new one.

        Raises:
            ValueError: a bad K, count or seed (on the first ``next``, nothing changed).
        """
        session = self.session(session)
        k, n_iters = BMM_K.check("K", k), BMM_ITERS.check("EM iterations", iters)
        seed = check_int("seed", seed, 0, SEED_MAX)
        x, test = self.ctx.data.train_binary, self.ctx.data.test_binary
        model = BernoulliMixture(k, shape=IMAGE_SHAPE)
        fit = BmmFit(model, [], seed, 0.0, float("nan"))
        start, last = time.perf_counter(), 0.0
        for iteration, log_lik in enumerate(model.fit(x, n_iters, torch.Generator().manual_seed(seed))):
            fit.curve.append(log_lik)
            fit.fit_s = time.perf_counter() - start
            if iteration in (0, n_iters) or time.perf_counter() - last >= YIELD_EVERY_S:
                fit.test_nll = -float(model.log_prob(test).mean())
                if iteration == n_iters:
                    session.bmm = fit
                last = time.perf_counter()
                yield (session, *self._bmm_frame(fit, k, iteration, n_iters))

    def _bmm(self, session: Any) -> BmmFit:
        """The session's mixture, or the default fit (made once, ~1 s)."""
        fit = self.session(session).bmm
        if fit is not None:
            return fit
        with self._locks["bmm"]:
            if self._default_bmm is None:
                default = DigitSession()
                for _ in self.bmm_fit(default):
                    pass
                self._default_bmm = default.bmm
            return self._default_bmm

    def bmm_view(self, session: Any) -> tuple[np.ndarray, go.Figure, str]:
        """The last frame of the session's mixture (or the default one): (means picture,
        EM curve, note) as ``bmm_fit`` yields them."""
        fit = self._bmm(session)
        n_iters = len(fit.curve) - 1
        return self._bmm_frame(fit, fit.model.n_components, n_iters, n_iters)

    def bmm_samples(self, session: Any, seed: Any = 0) -> np.ndarray:
        """16 binary samples of the session's mixture drawn with ``seed`` in [0, 2^31)
        (left, 4 x 4), beside its component means sorted by weight (right); uint8. Raises
        ValueError for a bad seed."""
        g = torch.Generator().manual_seed(check_int("seed", seed, 0, SEED_MAX))
        fit = self._bmm(session)
        samples = image_grid(fit.model.sample(N_SHOWN, g), 4)
        means = self._bmm_frame(fit, fit.model.n_components, 0, 0)[0]
        height = max(samples.shape[0], means.shape[0])
        return side_by_side(*(np.pad(p, ((0, height - p.shape[0]), (0, 0))) for p in (samples, means)))

    # -- autoencoder against VAE ---------------------------------------------------------------------
    def pair(self, session: Any) -> tuple[VaeView, VaeView]:
        """The session's (AE, VAE): trained here, or the bundled ``ae-2d`` and ``vae-2d``
        (loaded once, shared read-only).

        Raises:
            ValueError: (CheckpointError) a bundled checkpoint is missing or broken.
        """
        own = self.session(session).pair
        if own is not None:
            return own
        with self._locks["pair"]:
            if self._pair is None:
                views = [checkpoints.load(BUNDLED_PAIR[s], family="vae", device=self.ctx.device) for s in ("ae", "vae")]
                self._pair = tuple(VaeView(m, f"bundled `{BUNDLED_PAIR[s]}`", self.ctx) for m, s in zip(views, ("ae", "vae")))
            return self._pair

    def _scatters(self, codes: Sequence[Tensor], titles: Sequence[str]) -> go.Figure:
        """Side-by-side scatters of test codes (N, 2) coloured by digit, each with the
        extent of its own points."""
        labels = self.ctx.data.test_labels.numpy()
        fig = make_subplots(rows=1, cols=2, subplot_titles=list(titles), horizontal_spacing=0.08)
        for col, points in enumerate(codes, start=1):
            points = points.numpy()
            for digit in range(10):
                sel = labels == digit
                fig.add_scatter(
                    x=points[sel, 0], y=points[sel, 1], mode="markers", name=str(digit), legendgroup=str(digit), showlegend=col == 1,
                    marker=dict(size=5, color=plots.DIGIT_COLOURS[digit], opacity=0.8), row=1, col=col,
                    hovertemplate=f"digit {digit}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
                )
            low, high = points.min(0), points.max(0)
            pad = 0.05 * np.maximum(high - low, 1e-3)
            fig.update_xaxes(range=[low[0] - pad[0], high[0] + pad[0]], title_text="z[0]", row=1, col=col)
            fig.update_yaxes(range=[low[1] - pad[1], high[1] + pad[1]], title_text="z[1]", row=1, col=col)
        fig.update_layout(template="plotly_white", height=420, margin=dict(l=50, r=20, t=50, b=45), legend=dict(title="digit"))
        return fig

    def latent_scatters(self, session: Any) -> go.Figure:
        """The test digits' encoder means for the AE (left) and the VAE (right), coloured
        by label, each plot over its own points' extent."""
        ae, vae = self.pair(session)
        return self._scatters([ae.test_codes, vae.test_codes], ("autoencoder (β = 0)", "VAE (β = 1)"))

    def _grid(self, view: VaeView, extent: Tensor, n: int, prior: Tensor) -> np.ndarray:
        """Decodes of an n x n grid over extent ((2,) low, (2,) high; z[1] up), a dark
        band, then the first 16 prior draws (n per row)."""
        xs = torch.linspace(float(extent[0, 0]), float(extent[1, 0]), n)
        ys = torch.linspace(float(extent[1, 1]), float(extent[0, 1]), n)  # top row: the highest z[1]
        z = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], -1).view(-1, 2)  # (n * n, 2): (x, y) row by row
        top, bottom = image_grid(view.decode(z), nrow=n), image_grid(view.decode(prior[:N_SHOWN]), nrow=n)  # the same width: 16 >= n
        return np.concatenate([top, np.full((8, top.shape[1]), 40, dtype=np.uint8), bottom])

    def latent_grids(self, session: Any, n: Any = GRID.default) -> tuple[np.ndarray, np.ndarray, str]:
        """Decodes of an n x n grid of codes (n in [5, 16]) over the AE's own scatter extent
        and over [-3, 3]² for the VAE, each above 16 decodes of the same prior draws
        z ~ N(0, I) (seed 0): (AE picture, VAE picture, uint8; markdown: what to look for,
        the share of test codes in the prior's 95% circle and the classifier's reading of
        200 prior draws' decodes, for each).

        Raises:
            ValueError: a bad n.
        """
        n = GRID.check("grid size", n)
        ae, vae = self.pair(session)
        prior = torch.randn(N_PRIOR, 2, generator=torch.Generator().manual_seed(0))
        codes = ae.test_codes
        ae_extent = torch.stack([codes.min(0).values, codes.max(0).values])
        vae_extent = torch.tensor([[-3.0, -3.0], [3.0, 3.0]])
        (x0, y0), (x1, y1) = ae_extent.tolist()
        inside = [float((view.test_codes.norm(dim=1) <= PRIOR_95).float().mean()) for view in (ae, vae)]
        note = (
            f"Top: decodes of {n} × {n} codes on a grid over the AE's own codes ([{x0:.1f}, {x1:.1f}] × [{y0:.1f}, {y1:.1f}]) and over "
            "[-3, 3]² for the VAE; bottom: the same 16 draws z ~ N(0, I) decoded by each. Look for the AE's **holes**, the "
            "regions between its clusters where decodes blur or morph, and for how little of its code space the prior covers: "
            f"**{inside[0]:.0%}** of its test codes lie in the prior's 95% circle (‖z‖ ≤ {PRIOR_95:.2f}), against "
            f"**{inside[1]:.0%}** for the VAE, whose KL term pulls its codes into N(0, I) so that the prior's mass is filled.  \n"
            f"AE, {N_PRIOR} prior draws: {quality_line(ae.decode(prior))}  \nVAE, the same draws: {quality_line(vae.decode(prior))}"
        )
        return self._grid(ae, ae_extent, n, prior), self._grid(vae, vae_extent, n, prior), note

    def _line(self, session: Any, a: Any, b: Any, t: Tensor) -> list[Tensor]:
        """The AE's and the VAE's decodes (len(t), 1, 28, 28) at (1 - t) z_a + t z_b, t (T, 1),
        z the encoder means of test digits a and b. Raises ValueError for a bad index."""
        n_test = len(self.ctx.data.test_labels)
        a, b = check_index("digit A", a, n_test), check_index("digit B", b, n_test)
        return [view.decode((1 - t) * view.test_codes[a] + t * view.test_codes[b]) for view in self.pair(session)]

    def interpolate(self, session: Any, a: Any = 0, b: Any = 1, steps: Any = INTERPOLATION_STEPS.default) -> np.ndarray:
        """Decodes along the straight line between test digits ``a`` and ``b``'s encoder
        means, ``steps`` in [3, 20] images, endpoints included: the AE's row above the
        VAE's; uint8. Raises ValueError for an index outside the test split or a bad count."""
        t = torch.linspace(0, 1, INTERPOLATION_STEPS.check("steps", steps))[:, None]
        return image_grid(torch.cat(self._line(session, a, b, t)), nrow=len(t))

    # -- training the pair ------------------------------------------------------------------------
    @staticmethod
    def _pair_status(ae: TrainEvent, vae: TrainEvent, steps: int) -> str:
        rate = ae.step / max(ae.elapsed_s, 1e-9)  # the streams interleave: each one's clock counts both
        return (
            f"step {min(ae.step, vae.step):,} / {steps:,} each · {rate:.1f} steps/s per model · AE reconstruction "
            f"{ae.losses.get('reconstruction', NAN):.1f} nats · VAE −ELBO {vae.losses.get('loss', NAN):.1f} nats (KL {vae.losses.get('kl', NAN):.1f})"
        )

    def train_pair(self, session: Any, steps: Any = PAIR_STEPS.default, seed: Any = 0, *, stop: threading.Event) -> Iterator[tuple]:
        """Train a new AE (β = 0) and VAE (β = 1) from the same initial weights, on the
        same batches (same seed), taking turns of 10 steps (batches of 64, Adam 1e-3);
        2-D latent, conv, as the bundled pair. ``steps`` in [50, 3000] per model, ``seed``
        in [0, 2^31); ``stop`` ends both within a step, keeping the weights reached.

        Yields:
            (status markdown, curves figure (AE reconstruction and VAE −ELBO, nats per
            image; dashed: test), scatters figure) every ~1 s and at the end, when the
            session's pair becomes the new one (unless a model learnt nothing finite).

        Raises:
            ValueError: bad steps or seed (on the first ``next``, nothing changed).
        """
        session = self.session(session)
        steps, seed = PAIR_STEPS.check("steps", steps), check_int("seed", seed, 0, SEED_MAX)
        yield "Starting…", None, None
        config = TrainConfig(steps=steps, lr=1e-3, seed=seed, batch_size=PAIR_BATCH, log_every=PAIR_EVERY, sample_every=0, eval_every=0)
        models = {s: seeded_init(VAE, seed, beta=beta, **PAIR_CONFIG).to(self.ctx.device) for s, beta in (("ae", 0.0), ("vae", 1.0))}
        streams = [train(models[s], self.ctx.data, config, stop=stop) for s in models]
        events: dict[str, TrainEvent] = {}
        learnt, history, last = {s: False for s in models}, [], 0.0
        for pair in itertools.zip_longest(*streams):  # one stream may end first (diverged)
            events.update({s: e for s, e in zip(models, pair) if e is not None})
            # As in stream_training: a run that diverged keeps its last finite weights, if any event had them.
            learnt.update({s: True for s, e in events.items() if not e.final or (e.status != "diverged" and e.step > 0)})
            if len(events) < 2:
                continue
            done = all(e.final for e in events.values())
            losses = {"ae": events["ae"].losses.get("reconstruction", NAN), "vae": events["vae"].losses.get("loss", NAN)}
            history.append({"step": min(e.step for e in events.values()), "losses": losses})
            if done and events["ae"].test_losses and events["vae"].test_losses:
                history[-1]["test_losses"] = {"ae": events["ae"].test_losses["reconstruction"], "vae": events["vae"].test_losses["loss"]}
            if not done and time.perf_counter() - last < PAIR_YIELD_EVERY_S:
                continue
            last = time.perf_counter()
            curves = plots.curves_together(history, {"ae": "AE reconstruction −log p(x|z)", "vae": "VAE −ELBO"}, y_title="nats per image")
            status = self._finish_pair(session, models, events, learnt, steps, seed) if done else self._pair_status(events["ae"], events["vae"], steps)
            with torch.no_grad():
                codes = [models[s].encode(self.ctx.data.test_binary.to(self.ctx.device))[0].cpu() for s in models]
            yield status, curves, self._scatters(codes, ("autoencoder (β = 0), training", "VAE (β = 1), training"))

    def _finish_pair(self, session: DigitSession, models: dict[str, VAE], events: dict[str, TrainEvent], learnt: dict[str, bool], steps: int, seed: int) -> str:
        """Put the trained pair in the session (if both learnt something finite); the final status."""
        text = " ".join(f"**{s.upper()}: {e.status}** ({e.message})." for s, e in events.items())
        if not all(learnt.values()):
            return text + " Nothing finite was learnt, so your previous pair is kept."
        session.pair = tuple(VaeView(models[s], f"{s.upper()} {trained_name(events[s], steps, seed)}", self.ctx) for s in models)
        test = {s: e.test_losses for s, e in events.items() if e.test_losses}
        if len(test) == 2:
            text += f" Test: AE reconstruction {test['ae']['reconstruction']:.1f} nats, VAE −ELBO {test['vae']['loss']:.1f} nats."
        return text + " This pair is now used by the scatters, grids and interpolation."

"""The warm-up tab's views: the Gaussian before any network (the maths is ``models.gaussian``).

- Box-Muller (Box & Muller 1958): uniforms (U1, U2) streamed to normal points (X, Y), with
  histograms against N(0, 1) and a Kolmogorov-Smirnov test.
- Maximum likelihood: 1-D or 2-D data, a Gaussian set by hand against the MLE (the mean and
  the biased covariance), and the average log-likelihood surface over (μ, σ).
- Gaussian mixtures by EM, restarts and BIC: ``warmup_gmm.MixtureViews``, part of ``WarmupViews``.
The digits half (PPCA, Bernoulli mixture, AE against VAE) is ``WarmupViews.digits``
(``warmup_digits.DigitViews``). Each method checks its own arguments (``ValueError`` with a
readable text); figures are plotly, pictures uint8, notes markdown. No gradio here.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor

from models import gaussian
from models.checks import SEED_MAX, Range, check_choice, check_int
from models.gaussian import GaussianFit, GaussianMixture
from playground.core import toy2d
from playground.core.plots import f32
from playground.views import warmup_gmm as gmm
from playground.views.base import Card, Context, Step
from playground.views.warmup_digits import DigitViews
from playground.views.warmup_gmm import BIC_K, COVARIANCES, EM_STEPS, GMM_K, GMM_SOURCES, INITS, POINT_KINDS, RESTARTS, GmmFrame, GmmState, MixtureViews

__all__ = [  # the mixture panel's settings and frame are re-exported: the tab reads every setting from here
    "BIC_K", "BM_POINTS", "CARD", "TOUR", "COVARIANCES", "DIMS", "EM_STEPS", "GMM_K", "GMM_SOURCES", "INITS", "MLE_POINTS", "MLE_SOURCES", "MU", "POINT_KINDS", "RESTARTS", "RHO", "SIGMA",
    "GmmFrame", "MleData", "WarmupSession", "WarmupViews",
]

BM_POINTS = Range(100, 20000, 2000)
MLE_POINTS = Range(2, 5000, 200)
MLE_SOURCES = ("gaussian", "skewed", "two bumps", "ring", "drawn", "csv")
DIMS = ("1-D", "2-D")
MU = Range(-3, 3, 0, integer=False)
SIGMA = Range(0.05, 3, 1, integer=False)
RHO = Range(-0.95, 0.95, 0, integer=False)
N_FRAMES, FRAME_S = 8, 0.15  # the Box-Muller stream: frames, seconds apart
VIEW = 4.0  # the plots show [-VIEW, VIEW] (the μ sliders reach ±3)
_RANGES = {"mu_x": MU, "sigma_x": SIGMA, "mu_y": MU, "sigma_y": SIGMA, "rho": RHO}
# The built-in MLE sources that are Gaussians or mixtures: (weights, means, covariances).
_MIXTURES = {"gaussian": ([1.0], [[0.5, -0.3]], [[[0.64, 0.24], [0.24, 0.25]]]), "two bumps": ([0.5, 0.5], [[-1.2, -0.6], [1.1, 0.7]], [[[0.12, 0.0], [0.0, 0.12]]] * 2)}
_NAMES = {"gaussian": "correlated Gaussian", "skewed": "skewed (log-normal)", "two bumps": "two bumps", "ring": toy2d.SOURCE_NAMES["ring"]}


CARD = Card(
    title="Warm-up",
    kind="explicit density · closed form and EM",
    teaches="Sample a Gaussian from uniforms, fit it by maximum likelihood, fit a mixture by EM, then a linear latent model (PPCA) that a VAE makes deep.",
    try_first="Sample a Gaussian from two uniforms",
    tab="wu-boxmuller",
    seconds=1.1,  # the Box-Muller stream: 8 frames about 0.15 s apart (measured 1.06 s on 2 cores)
)
TOUR = (
    Step(
        "Sample a Gaussian from uniforms", "Each uniform pair (U1, U2) on the left lands at radius √(−2 ln U1) and angle 2πU2 on the right (same colour): "
        "the histograms of X and Y follow the N(0, 1) curve.", "wu-boxmuller", {"bm_n": BM_POINTS.default, "bm_seed": 0}, "#wu-bm-run",
    ),
    Step(
        "Jump to the MLE", "The sliders move to the mean and standard deviation of the data: the highest average log-likelihood, the peak of "
        "the surface on the right. Move a slider away and watch the nats drop.", "wu-mle", {}, "#wu-mle-fit",
    ),
    Step(
        "Run EM on the ring with K = 8", "Each point takes the colours of the components that claim it; the log-likelihood curve only goes up. "
        "Try Restarts: another start can end at a better (or worse) local optimum.", "wu-gmm",
        {"g_source": "ring", "g_k": 8, "g_cov": "full", "g_init": "k-means++", "g_seed": 0, "g_steps": EM_STEPS.default}, "gmm",
    ),
    Step(
        "Move a PPCA slider (K = 2)", "With two components every digit is a blend of the mean and two directions; move z1 and z2. "
        "Then try K = 64: the samples look more like digits and the test log-likelihood rises.", "wu-ppca", {"ppca_k": 2}, "ppca",
    ),
    Step(
        "AE against VAE latent grids", "Decodes of a grid of latent points: the autoencoder's codes leave holes (blurs and non-digits), "
        "the VAE's prior fills its square with digits.", "wu-aevae", {}, "aevae",
    ),
)


@dataclass(eq=False)
class MleData:
    """The MLE panel's points (N, 2) float64 (1-D uses x only), a note on them, their source and dimensions."""

    points: Tensor
    note: str
    source: str
    dims: str


@dataclass(eq=False)
class WarmupSession:
    """One browser session: the MLE's data, the mixture, the user's points {"drawn" | "csv":
    (points (N, 2) float64, note)} shared by both panels, and a lock held while EM runs."""

    mle: MleData
    gmm: GmmState
    user: dict[str, tuple[Tensor, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _mle_points(source: str, n: int, seed: int, user: dict) -> tuple[Tensor, str]:
    """(points (n, 2) float64, a note) of an MLE source."""
    if source in toy2d.USER_SOURCES:
        return gmm.user_points(user, source)
    g = torch.Generator().manual_seed(seed)
    if source == "ring":
        points = toy2d.make_dataset("ring", n, seed).double()
    elif source == "skewed":  # a log-normal x, and y leaning on it
        z = torch.randn(n, 2, generator=g, dtype=torch.float64)
        x = torch.exp(0.6 * z[:, 0]) - 1.6
        points = torch.stack([x, 0.4 * x + 0.5 * z[:, 1]], 1)
    else:
        points = GaussianMixture.from_parameters(*_MIXTURES[source]).sample(n, g)[0]
    return points, f"{_NAMES[source]}, {n:,} points (seed {seed})"


def _normal_pdf(x: np.ndarray, mu: float = 0.0, sigma: float = 1.0) -> np.ndarray:
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


def _density_bars(values: Tensor, bins: int, **extra: Any) -> tuple[dict, float]:
    """A bar trace of the density histogram over [-VIEW, VIEW] (counts / (N · width): the bars'
    area is the share of points inside), and its top."""
    counts, edges = np.histogram(values.numpy(), bins=bins, range=(-VIEW, VIEW))
    density = counts / (len(values) * (edges[1] - edges[0]))
    return dict(type="bar", x=f32((edges[:-1] + edges[1:]) / 2), y=f32(density), width=edges[1] - edges[0], marker=dict(color="#c6dbef", line=dict(width=0)), **extra), float(density.max())


def _parameters(mean: Tensor, cov: Tensor) -> dict[str, float]:
    """{mu_x, sigma_x, mu_y, sigma_y, rho} of a 1-D or 2-D Gaussian (1-D: the y ones at their defaults)."""
    sigmas = [math.sqrt(float(v)) for v in torch.diagonal(cov)]
    if len(mean) == 1:
        return {"mu_x": float(mean[0]), "sigma_x": sigmas[0], "mu_y": MU.default, "sigma_y": SIGMA.default, "rho": RHO.default}
    return {"mu_x": float(mean[0]), "sigma_x": sigmas[0], "mu_y": float(mean[1]), "sigma_y": sigmas[1], "rho": float(cov[0, 1]) / (sigmas[0] * sigmas[1])}


class WarmupViews(MixtureViews):
    """The warm-up tab's views (see the module docstring); ``digits`` holds the digits half."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.digits = DigitViews(ctx)

    def session(self, state: Any) -> WarmupSession:
        """The session in ``state``, or a new one: the MLE on 200 points of the correlated
        Gaussian (1-D), a mixture of K = 3 full Gaussians on the ring (k-means++, seed 0)."""
        if isinstance(state, WarmupSession):
            return state
        return WarmupSession(MleData(*_mle_points("gaussian", MLE_POINTS.default, 0, {}), "gaussian", "1-D"), gmm.new_mixture("ring", GMM_K.default, "full", "k-means++", 0, {}))

    # -- Box-Muller -------------------------------------------------------------------------------
    @staticmethod
    def _bm_draws(n: Any, seed: Any) -> tuple[Tensor, ...]:
        """(U1, U2, X, Y) (n,) float64 and the seed, of ``n`` in [100, 20000] pairs from ``seed``."""
        n, seed = BM_POINTS.check("number of points", n), check_int("seed", seed, 0, SEED_MAX)
        g = torch.Generator().manual_seed(seed)
        u1, u2 = gaussian.uniforms(n, g), gaussian.uniforms(n, g)
        return (u1, u2, *gaussian.box_muller(u1, u2), seed)

    def box_muller(self, n: Any = BM_POINTS.default, seed: Any = 0, *, frame_s: float = FRAME_S) -> Iterator[tuple[go.Figure, str]]:
        """Stream ``n`` pairs of ``seed`` as ``N_FRAMES`` (figure, note) frames (``box_muller_final``'s),
        ``frame_s`` seconds apart, each with an eighth more of the points.

        Raises:
            ValueError: n not in [100, 20000] or a bad seed (at once, before the stream).
        """
        draws = self._bm_draws(n, seed)

        def frames() -> Iterator[tuple[go.Figure, str]]:
            for i in range(1, N_FRAMES + 1):
                start, m = time.perf_counter(), math.ceil(len(draws[0]) * i / N_FRAMES)
                yield self._bm_figure(draws, m), self._bm_note(draws, m)
                if i < N_FRAMES:
                    time.sleep(max(0.0, frame_s - (time.perf_counter() - start)))

        return frames()

    def box_muller_final(self, n: Any = BM_POINTS.default, seed: Any = 0) -> tuple[go.Figure, str]:
        """(figure, note) of ``n`` in [100, 20000] Box-Muller pairs from ``seed``. The figure's
        four panels: the uniforms (U1, U2) and their images (X, Y), coloured by the angle
        Θ = 2πU2 (the dotted lines U1 = exp(−R²/2) become the circles R = 1, 2, 3); the density
        histograms of X and of Y against N(0, 1). The note: n, mean and std of X and Y, the KS
        statistic D of X against N(0, 1) and its asymptotic p-value, the seed and the generator.

        Raises:
            ValueError: n not in [100, 20000] or a bad seed.
        """
        draws = self._bm_draws(n, seed)
        return self._bm_figure(draws, len(draws[0])), self._bm_note(draws, len(draws[0]))

    @staticmethod
    def _bm_figure(draws: tuple, m: int) -> go.Figure:
        u1, u2, x, y = (d[:m] for d in draws[:4])
        marker = dict(size=3, color=f32(2 * math.pi * u2), colorscale="Phase", cmin=0, cmax=2 * math.pi, opacity=0.8)
        data = [gmm.points_trace(torch.stack([u1, u2], 1), marker=marker), gmm.points_trace(torch.stack([x, y], 1), marker=marker, xaxis="x2", yaxis="y2")]
        t = torch.linspace(0, 2 * math.pi, 73, dtype=torch.float64)
        for r in (1, 2, 3):  # U1 = exp(-r²/2) gives the radius r
            data.append(gmm.line_trace(torch.tensor([[math.exp(-r * r / 2), 0.0], [math.exp(-r * r / 2), 1.0]]), f"R = {r}", "#555", "dot"))
            data.append(gmm.line_trace(r * torch.stack([torch.cos(t), torch.sin(t)], 1), f"R = {r}", "#555", "dot", xaxis="x2", yaxis="y2"))
        grid = np.linspace(-VIEW, VIEW, 161)
        for i, (values, name) in ((3, (x, "X")), (4, (y, "Y"))):
            data.append(_density_bars(values, 40, name=f"{name} histogram", xaxis=f"x{i}", yaxis=f"y{i}")[0])
            data.append(dict(type="scatter", x=f32(grid), y=f32(_normal_pdf(grid)), mode="lines", line=dict(color="#d62728", width=2), name="N(0, 1)", xaxis=f"x{i}", yaxis=f"y{i}"))
        title = f"Box-Muller: {m:,} uniform pairs (U1, U2) → normal pairs (X, Y); colour = angle Θ = 2πU2"
        layout = gmm.figure_layout(title=dict(text=title, x=0.01, font=dict(size=14)), bargap=0, annotations=[])
        panels = (
            ("uniforms (U1, U2)", "U1", "U2", [0, 1]), ("(X, Y) = R (cos Θ, sin Θ)", "X", "Y", [-VIEW, VIEW]),
            ("X against N(0, 1) (red)", "X", "density", [-VIEW, VIEW]), ("Y against N(0, 1) (red)", "Y", "density", [-VIEW, VIEW]),
        )
        for i, (domain, (title, x_title, y_title, extent)) in enumerate(zip(([0, 0.22], [0.27, 0.49], [0.56, 0.76], [0.81, 1.0]), panels), start=1):
            s = "" if i == 1 else str(i)
            y_range = dict(scaleanchor=f"x{s}", scaleratio=1, constrain="domain", constraintoward="top", range=extent) if i <= 2 else dict(range=[0, 0.5])
            layout[f"xaxis{s}"] = dict(domain=domain, anchor=f"y{s}", title=dict(text=x_title), range=extent, constrain="domain", **gmm.AXIS)
            layout[f"yaxis{s}"] = dict(anchor=f"x{s}", title=dict(text=y_title, standoff=2), **y_range, **gmm.AXIS)
            layout["annotations"].append(dict(text=title, x=sum(domain) / 2, y=1.0, xref="paper", yref="paper", yanchor="bottom", yshift=6, showarrow=False, font=dict(size=13)))
        return go.Figure(dict(data=data, layout=layout))

    @staticmethod
    def _bm_note(draws: tuple, m: int) -> str:
        x, y, seed, n = draws[2][:m], draws[3][:m], draws[4], len(draws[0])
        d, p = gaussian.ks_test_normal(x)
        verdict = "consistent with N(0, 1)" if p > 0.01 else "rejected at the 1% level (a true N(0, 1) sample is rejected 1 time in 100)"
        return (
            ("" if m == n else f"Streaming: {m:,} of {n:,} points.  \n")
            + f"**n = {m:,}** pairs · X: mean {float(x.mean()):+.3f}, std {float(x.std()):.3f} · Y: mean {float(y.mean()):+.3f}, std {float(y.std()):.3f}  \n"
            f"Kolmogorov-Smirnov test of X against N(0, 1): **D = {d:.4f}**, asymptotic **p = {p:.3f}**: {verdict}.  \n"
            f"R = √(−2 ln U1), Θ = 2πU2, X = R cos Θ, Y = R sin Θ (Box & Muller 1958). The uniforms come from PyTorch's CPU generator "
            f"(Mersenne Twister mt19937) seeded with **{seed}**: the same seed, the same points. U = 1 − torch.rand lies in (0, 1], so ln U1 is finite."
        )

    def thumbnail(self, session: Any = None) -> np.ndarray:
        """The home card's picture: (X, Y) of 2,000 Box-Muller pairs (seed 0) over [-3.5, 3.5]²,
        coloured by angle (a cyclic rainbow), on white: (220, 220, 3) uint8."""
        size, half = 220, 3.5
        _, u2, x, y, _ = self._bm_draws(BM_POINTS.default, 0)
        picture = np.full((size, size, 3), 255, dtype=np.uint8)
        picture[size // 2, :] = picture[:, size // 2] = 210
        cols, rows = (np.floor((x.numpy() + half) / (2 * half) * (size - 2)).astype(int), np.floor((half - y.numpy()) / (2 * half) * (size - 2)).astype(int))
        keep = (cols >= 0) & (cols < size - 1) & (rows >= 0) & (rows < size - 1)
        colours = (127.5 + 127.5 * np.cos(2 * math.pi * u2.numpy()[keep, None] - np.array([0.0, 2.1, 4.2]))).astype(np.uint8)
        for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):  # 2 x 2 pixel dots
            picture[rows[keep] + dr, cols[keep] + dc] = colours
        return picture

    # -- maximum likelihood -----------------------------------------------------------------------
    def mle_data(self, session: Any, source: Any = "gaussian", dims: Any = "1-D", n: Any = MLE_POINTS.default, seed: Any = 0) -> WarmupSession:
        """New points for the MLE panel: ``n`` in [2, 5000] of ``source`` (``MLE_SOURCES``;
        "drawn" / "csv" are the points given by ``mle_points``, whatever n) with ``seed``, seen
        in ``dims`` ("1-D": x only, or "2-D"). Returns the session.

        Raises:
            ValueError: a bad setting, or "drawn" / "csv" before any such points.
        """
        session = self.session(session)
        source, dims = check_choice("data", source, MLE_SOURCES), check_choice("dimensions", dims, DIMS)
        session.mle = MleData(*_mle_points(source, MLE_POINTS.check("number of points", n), check_int("seed", seed, 0, SEED_MAX), session.user), source, dims)
        return session

    def mle_points(self, session: Any, kind: Any, value: Any) -> WarmupSession:
        """Take the user's points (``warmup_gmm.take_points``: ``kind`` "drawn" with a Sketchpad
        value, "csv_file" with a path, "csv_text" with CSV text): they become the MLE's data
        (its dimensions kept) and the "drawn" / "csv" source of both panels. Returns the session.

        Raises:
            ValueError: nothing drawn, no or a bad CSV (not numbers, NaN, one point, too
                many rows), or a bad kind.
        """
        session = self.session(session)
        source = gmm.take_points(session.user, kind, value)
        session.mle = MleData(*session.user[source], source, session.mle.dims)
        return session

    def _fit(self, session: Any) -> tuple[MleData, Tensor, GaussianFit]:
        """The data, the points the view uses ((N, 1) or (N, 2)) and their MLE, floored at σ ≥ 0.05."""
        data = self.session(session).mle
        points = data.points[:, :1] if data.dims == "1-D" else data.points
        return data, points, gaussian.fit_gaussian(points, SIGMA.low**2)

    def mle_fit(self, session: Any) -> dict[str, float]:
        """The MLE as slider values {mu_x, sigma_x, mu_y, sigma_y, rho}, each clipped to its
        slider's range (``mle_view``'s note says when the MLE lies outside); in 1-D the y ones
        are their defaults."""
        fit = self._fit(session)[2]
        return {key: min(max(value, _RANGES[key].low), _RANGES[key].high) for key, value in _parameters(fit.mean, fit.cov).items()}

    def mle_view(self, session: Any, mu_x: Any, sigma_x: Any, mu_y: Any = 0, sigma_y: Any = 1, rho: Any = 0) -> tuple[go.Figure, go.Figure, str]:
        """The data against the Gaussian of ``mu_x``, ``mu_y`` in [-3, 3], ``sigma_x``, ``sigma_y``
        in [0.05, 3] and correlation ``rho`` in [-0.95, 0.95] (y and ρ in 2-D only), and against the MLE.

        Returns:
            (data figure: 1-D, the density histogram with both densities (the MLE dashed);
            2-D, the points with both Gaussians' 1σ and 2σ ellipses; surface figure: the
            average log-likelihood over (μ, σ) (2-D: over (μx, σx), the rest as set) with both
            marked; note: both average log-likelihoods in nats per point and the gap, the MLE,
            and whether it was regularised (no spread) or lies off the sliders).

        Raises:
            ValueError: a parameter that is not a number in its range.
        """
        given = (("mu_x", "μx", mu_x), ("sigma_x", "σx", sigma_x), ("mu_y", "μy", mu_y), ("sigma_y", "σy", sigma_y), ("rho", "ρ", rho))
        values = {key: _RANGES[key].check(name, value) for key, name, value in given}
        data, points, fit = self._fit(session)
        mx, sx, my, sy, r = values.values()
        mean = torch.tensor([mx, my][: points.shape[1]], dtype=torch.float64)
        cov = torch.tensor([[sx * sx, r * sx * sy], [r * sx * sy, sy * sy]], dtype=torch.float64)[: points.shape[1], : points.shape[1]]
        ll, ll_mle = (float(gaussian.mean_log_likelihood(points, m, c)) for m, c in ((mean, cov), (fit.mean, fit.cov)))
        figure = self._mle_1d(points, mean, cov, fit) if points.shape[1] == 1 else self._mle_2d(points, mean, cov, fit)
        return figure, self._mle_surface(points, mean, cov, fit), self._mle_note(data, points, mean, cov, fit, ll, ll_mle)

    @staticmethod
    def _mle_1d(points: Tensor, mean: Tensor, cov: Tensor, fit: GaussianFit) -> go.Figure:
        bars, top = _density_bars(points[:, 0], 48, name="data (density histogram)")
        grid = np.linspace(-VIEW, VIEW, 321)
        rug = dict(type="scatter", x=f32(points[:500, 0]), y=np.zeros(min(500, len(points)), np.float32), mode="markers", name="points", hoverinfo="skip")
        rug["marker"] = dict(symbol="line-ns-open", size=9, color="#555")  # a tick per point (the first 500) under the histogram
        curves = [dict(type="scatter", x=f32(grid), y=f32(_normal_pdf(grid, float(m[0]), math.sqrt(float(c[0, 0])))), mode="lines", name=name, line=dict(color=colour, dash=dash, width=2.5))
                  for m, c, name, colour, dash in ((mean, cov, "N(μ, σ²): yours", "#1f77b4", "solid"), (fit.mean, fit.cov, "N(μ̂, σ̂²): the MLE", "#d62728", "dash"))]
        peak = max(top, 1 / math.sqrt(2 * math.pi * float(fit.cov[0, 0])), 1 / math.sqrt(2 * math.pi * float(cov[0, 0])))
        return go.Figure(dict(data=[bars, rug, *curves], layout=gmm.figure_layout(
            title=dict(text="the data's histogram, your Gaussian and the MLE", x=0.01), bargap=0, showlegend=True, legend=dict(orientation="h", x=0, y=-0.16, yanchor="top"),
            xaxis=dict(title=dict(text="x"), range=[-VIEW, VIEW], **gmm.AXIS), yaxis=dict(title=dict(text="density"), range=[0, min(1.1 * peak, 9.0)], **gmm.AXIS),
        )))

    @staticmethod
    def _mle_2d(points: Tensor, mean: Tensor, cov: Tensor, fit: GaussianFit) -> go.Figure:
        data = [gmm.points_trace(points, name="data", marker=dict(size=4, color="#555", opacity=0.6))]
        for m, c, name, colour, dash in ((mean, cov, "yours", "#1f77b4", "solid"), (fit.mean, fit.cov, "MLE", "#d62728", "dash")):
            data += [gmm.line_trace(gaussian.ellipse(m, c, k), f"{name}: {k}σ", colour, dash if k == 1 else "dot", showlegend=True) for k in (1, 2)]
            data.append(gmm.points_trace(m[None], name=f"{name}: mean", showlegend=True, marker=dict(symbol="x", size=10, color=colour)))
        return go.Figure(dict(data=data, layout=gmm.figure_layout(
            title=dict(text="the points, and the 1σ and 2σ ellipses of your Gaussian and of the MLE", x=0.01), showlegend=True, legend=dict(x=1.02, y=1, xanchor="left"), **gmm.square_axes(VIEW),
        )))

    @staticmethod
    def _mle_surface(points: Tensor, mean: Tensor, cov: Tensor, fit: GaussianFit) -> go.Figure:
        mus = torch.linspace(MU.low, MU.high, 61, dtype=torch.float64)
        sigmas = torch.logspace(math.log10(SIGMA.low), math.log10(SIGMA.high), 60, dtype=torch.float64)
        s, m = torch.meshgrid(sigmas, mus, indexing="ij")  # (60, 61), row i at sigmas[i]
        means = mean.expand(*s.shape, -1).clone()
        means[..., 0] = m
        scale = torch.ones(*s.shape, len(mean), dtype=torch.float64)
        scale[..., 0] = s / math.sqrt(float(cov[0, 0]))  # σx varies; σy and ρ stay as set
        z = gaussian.mean_log_likelihood(points, means, cov * scale[..., :, None] * scale[..., None, :])
        top = float(z.max())  # contours every 0.25 nats over the 6 nats below the best (lower is one colour)
        marks = [(mean, cov, "yours", "circle", "#1f77b4"), (fit.mean, fit.cov, "MLE", "star", "#d62728")]
        data = [dict(type="contour", x=f32(mus), y=f32(sigmas), z=f32(z.clamp_min(top - 6)), colorscale="Viridis", zmin=top - 6, zmax=top, contours=dict(start=top - 6, end=top, size=0.25),
                     colorbar=dict(title=dict(text="nats per point", side="right"), thickness=12), hovertemplate="μ %{x:.2f}, σ %{y:.3f}: %{z:.3f} nats<extra></extra>")]
        data += [dict(type="scatter", x=[float(mk[0])], y=[math.sqrt(float(ck[0, 0]))], mode="markers+text", text=[name], textposition="top right", textfont=dict(color="white"), name=name,
                      marker=dict(symbol=symbol, size=13, color=colour, line=dict(color="white", width=1.5))) for mk, ck, name, symbol, colour in marks]
        sub, rest = ("", "") if len(mean) == 1 else ("x", ", μy, σy and ρ as set")
        return go.Figure(dict(data=data, layout=gmm.figure_layout(
            title=dict(text=f"average log-likelihood over (μ{sub}, σ{sub}){rest}", x=0.01),
            xaxis=dict(title=dict(text=f"μ{sub}"), range=[MU.low, MU.high], **gmm.AXIS),
            yaxis=dict(title=dict(text=f"σ{sub} (log scale)"), type="log", tickvals=[0.05, 0.1, 0.2, 0.5, 1, 2, 3], **gmm.AXIS),
        )))

    @staticmethod
    def _mle_note(data: MleData, points: Tensor, mean: Tensor, cov: Tensor, fit: GaussianFit, ll: float, ll_mle: float) -> str:
        def describe(p: dict[str, float]) -> str:
            if len(mean) == 1:
                return f"μ = {p['mu_x']:.3f}, σ = {p['sigma_x']:.3f}"
            return f"μ = ({p['mu_x']:.3f}, {p['mu_y']:.3f}), σx = {p['sigma_x']:.3f}, σy = {p['sigma_y']:.3f}, ρ = {p['rho']:.3f}"

        mle = _parameters(fit.mean, fit.cov)
        text = (
            f"**Average log-likelihood** in nats per point (N = {len(points):,}, {data.dims}): yours ({describe(_parameters(mean, cov))}) **{ll:.4f}** · "
            f"the MLE ({describe(mle)}) **{ll_mle:.4f}** · gap **{ll_mle - ll:.4f}**.  \nThe MLE: μ̂ = the mean of the points, Σ̂ = (1/N) Σ (x − μ̂)(x − μ̂)ᵀ (the biased covariance)."
        )
        if fit.regularised:
            text += f"  \n⚠️ **Regularised:** the points spread less than σ = {SIGMA.low} in some direction (identical or collinear points, or nearly), so the MLE's "
            text += f"variance there is raised to {SIGMA.low}² (σ ≥ {SIGMA.low}; with no spread at all it would be 0 and the likelihood infinite)."
        off = [f"{key} = {value:.3f}" for key, value in mle.items() if not _RANGES[key].low <= value <= _RANGES[key].high]
        if off:
            text += f"  \nThe MLE lies outside the sliders' ranges ({', '.join(off)}): Jump to the MLE sets the nearest values."
        return text + f"  \nData: {data.note}{' (x only)' if data.dims == '1-D' else ''}."

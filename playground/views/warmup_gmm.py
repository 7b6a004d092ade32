"""The warm-up tab's Gaussian-mixture panel (``MixtureViews``, a part of ``warmup.WarmupViews``)
and what the tab's plane panels share: the user's points and the figures' pieces.

EM (Dempster, Laird & Rubin 1977; Bishop 2006, "Pattern Recognition and Machine Learning",
ch. 9) one step at a time or streamed: the E step sets the responsibilities, which lifts the
lower bound F(q, θ) to the log-likelihood L(θ); the M step raises F, and L with it. The curve
shows both, so one sees that L never decreases. Restarts keep the best of several
initialisations; BIC (Schwarz 1978) chooses K. The maths is ``models.gaussian``. No gradio here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor

from models import gaussian
from models.checks import SEED_MAX, Range, check_choice, check_int
from models.gaussian import GaussianMixture
from playground.core import plots, toy2d
from playground.core.plots import f32

GMM_K = Range(1, 10, 3)
COVARIANCES = gaussian.COVARIANCES
INITS = gaussian.INITS
GMM_SOURCES = ("ring", "grid", "blobs", "drawn", "csv")
RESTARTS = Range(1, 10, 5)
EM_STEPS = Range(1, 200, 30)
BIC_K = Range(1, 10, 8)
POINT_KINDS = ("drawn", "csv_file", "csv_text")
RUN_FRAME_S = 0.15  # an EM run shows a frame per iteration, this many seconds apart
TOL = 1e-4  # EM has converged when an iteration gains less, in nats per point
MAX_ITER = 300  # EM iterations of a restart or a BIC fit at most
BIC_INITS = 2  # k-means++ initialisations per K in the BIC sweep (the best is kept)
N_GMM = 1000  # points of the built-in data (always those of seed 0: the seed is the initialisation's)
GMM_MIN_VARIANCE = 1e-4  # the mixtures' covariance floor: σ ≥ 0.01 on the [-2, 2] square
HEIGHT = 425  # px: a main figure beside its controls, under the tab's header and tour, on a 1280 x 720 screen
AXIS = dict(gridcolor="#ebf0f8", zeroline=False, linecolor="#888", mirror=True, ticks="outside")
_BLOBS = ([0.35, 0.35, 0.3], [[-1.1, -0.9], [1.0, -0.8], [0.0, 1.1]], [[[0.09, 0.07], [0.07, 0.09]], [[0.1, -0.08], [-0.08, 0.1]], [[0.14, 0.0], [0.0, 0.015]]])
_HEX = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in plots.DIGIT_COLOURS], dtype=np.float64)  # (10, 3) RGB


class GmmFrame(NamedTuple):
    """What the mixture panel shows after an action."""

    figure: go.Figure  # the points coloured by responsibility; each component's mean and 1σ, 2σ ellipses
    curve: go.Figure  # the log-likelihood and its lower bound (nats per point) against EM iteration
    note: str  # markdown: iteration, log-likelihood, weights, warnings


@dataclass(eq=False)
class GmmState:
    """A mixture being fitted on ``points`` (N, 2) float64: the latest responsibilities (N, K)
    (``stale`` once an M step has changed the parameters), the M steps done, the last M step's
    warning, and the history {"t": M steps done (E steps at the halves), "kind": "start" | "E" |
    "M", "ll": L(θ), "bound": F(q, θ) or None, in nats per point}."""

    model: GaussianMixture
    points: Tensor
    source: str
    note: str
    seed: int
    resp: Tensor | None = None
    stale: bool = True
    iteration: int = 0
    history: list[dict] = field(default_factory=list)
    warning: str = ""


# --- what the plane panels share ------------------------------------------------------------------
def take_points(user: dict[str, tuple[Tensor, str]], kind: Any, value: Any) -> str:
    """Parse a Sketchpad value ("drawn": 600 points from the ink), a CSV file path ("csv_file")
    or CSV text ("csv_text": two numeric columns, at most 5,000 rows) with ``toy2d`` (centred
    and scaled into [-2, 2]²) into ``user``; returns the source, "drawn" or "csv".

    Raises:
        ValueError: a bad kind, nothing drawn, no file or text, or a bad CSV (not numbers,
            NaN, fewer than 2 points, too many rows; identical points are a point mass).
    """
    kind = check_choice("kind of points", kind, POINT_KINDS)
    if kind == "drawn":
        points, note = toy2d.points_from_sketch(value)
    elif not isinstance(value, str | Path) or not str(value).strip():
        raise ValueError("upload a CSV file first" if kind == "csv_file" else "paste CSV text first: one point per line, x and y separated by a comma")
    else:
        points, note = toy2d.points_from_csv(Path(value) if kind == "csv_file" else str(value))
    source = "drawn" if kind == "drawn" else "csv"
    user[source] = (points.double(), note)
    return source


def user_points(user: dict[str, tuple[Tensor, str]], source: str) -> tuple[Tensor, str]:
    """The user's "drawn" or "csv" points and their note.

    Raises:
        ValueError: none given yet.
    """
    if source not in user:
        raise ValueError("no points drawn yet: draw on the pad and use the drawing first" if source == "drawn" else "no CSV points yet: upload a file or paste CSV text first")
    return user[source]


def figure_layout(**extra: Any) -> dict:
    """A plain white figure layout, ``HEIGHT`` px high, no legend unless ``extra`` asks."""
    return {"height": HEIGHT, "margin": dict(l=55, r=20, t=60, b=50), "font": dict(size=12), "paper_bgcolor": "white", "plot_bgcolor": "white", "showlegend": False, **extra}


def square_axes(extent: float, x_title: str = "x", y_title: str = "y") -> dict:
    """The x and y axes of a square view [-extent, extent]² with equal aspect."""
    axis = dict(range=[-extent, extent], constrain="domain", **AXIS)
    return dict(xaxis=dict(title=dict(text=x_title), **axis), yaxis=dict(title=dict(text=y_title), scaleanchor="x", scaleratio=1, **axis))


def points_trace(points: Tensor, **style: Any) -> dict:
    """A marker trace of points (N, 2) (WebGL above 2,000 points)."""
    return dict(type="scattergl" if len(points) > 2000 else "scatter", x=f32(points[:, 0]), y=f32(points[:, 1]), mode="markers", hoverinfo="skip", **style)


def line_trace(xy: Tensor, name: str, colour: str, dash: str = "solid", **extra: Any) -> dict:
    """A line trace through the points ``xy`` (M, 2)."""
    return dict(type="scatter", x=f32(xy[:, 0]), y=f32(xy[:, 1]), mode="lines", name=name, line=dict(color=colour, dash=dash, width=2), hoverinfo="skip", **extra)


# --- the mixture panel ---------------------------------------------------------------------------
def _points(source: str, user: dict) -> tuple[Tensor, str]:
    if source in toy2d.USER_SOURCES:
        return user_points(user, source)
    if source == "blobs":
        return GaussianMixture.from_parameters(*_BLOBS).sample(N_GMM, torch.Generator().manual_seed(0))[0], f"three tilted blobs, {N_GMM:,} points"
    return toy2d.make_dataset(source, N_GMM, 0).double(), f"{toy2d.SOURCE_NAMES[source]}, {N_GMM:,} points"


def new_mixture(source: str, k: int, covariance: str, init: str, seed: int, user: dict, points: tuple[Tensor, str] | None = None) -> GmmState:
    """A mixture on ``source``'s points (or on ``points``: (points, note)), initialised with ``seed``.

    Raises:
        ValueError: K larger than the points, or user points not given.
    """
    points, note = points or _points(source, user)
    if k > len(points):
        raise ValueError(f"K = {k} is larger than the {len(points)} points: each component needs a point to start from; lower K")
    model = GaussianMixture(k, covariance, init, GMM_MIN_VARIANCE)
    model.initialise(points, torch.Generator().manual_seed(seed))
    return GmmState(model, points, source, note, seed, history=[{"t": 0.0, "kind": "start", "ll": model.log_likelihood(points), "bound": None}])


def _e_step(state: GmmState) -> None:
    state.resp, ll = state.model.e_step(state.points)
    if state.stale:  # a second E step in a row changes nothing and is not drawn again
        state.stale = False
        state.history.append({"t": state.iteration + 0.5, "kind": "E", "ll": ll, "bound": ll})


def _m_step(state: GmmState) -> str:
    """An M step (the E step first if the responsibilities are stale; the returned text says so)."""
    said = "The responsibilities were out of date, so the E step ran first.  \n" if state.stale else ""
    if state.stale:
        _e_step(state)
    report = state.model.m_step(state.points, state.resp)
    bound, ll = state.model.lower_bound(state.points, state.resp)
    state.iteration, state.stale = state.iteration + 1, True
    state.history.append({"t": float(state.iteration), "kind": "M", "ll": ll, "bound": bound})
    regularised, empty = (", ".join(str(c + 1) for c in which) for which in (report.regularised, report.empty))
    floor = f"variances floored at {GMM_MIN_VARIANCE:g} (σ ≥ {math.sqrt(GMM_MIN_VARIANCE):g})"
    parts = [f"**Regularised:** component(s) {regularised} had a singular covariance (too few, identical or collinear points): {floor}"] if regularised else []
    parts += [f"**Empty:** component(s) {empty} took no points and are kept as they were"] if empty else []
    state.warning = "⚠️ " + " · ".join(parts) if parts else ""
    return said


def _iterate(state: GmmState) -> float:
    """One EM iteration (E then M); returns its gain in nats per point."""
    before = state.history[-1]["ll"]
    _e_step(state)
    _m_step(state)
    return state.history[-1]["ll"] - before


class MixtureViews:
    """The mixture panel's views; the class that uses it provides ``session(state)``, which
    returns an object with ``gmm`` (a ``GmmState``), ``user`` (the user's points) and ``lock``."""

    session: Callable[[Any], Any]

    def _idle(self, session: Any) -> Any:
        session = self.session(session)
        if session.lock.locked():
            raise ValueError("EM is busy (a run or restarts): press Stop or wait for it")
        return session

    def gmm_reset(self, session: Any, source: Any = "ring", k: Any = GMM_K.default, covariance: Any = "full", init: Any = "k-means++", seed: Any = 0) -> tuple[Any, GmmFrame]:
        """A new mixture on ``source`` (one of ``GMM_SOURCES``; "drawn" / "csv" need points
        first) of K = ``k`` in [1, 10] components with ``covariance`` "full", "diag" or
        "spherical", means placed by ``init`` ("k-means++" or "random") with ``seed``.
        Returns (the session, its frame).

        Raises:
            ValueError: a bad setting, K larger than the points, missing points, or EM running.
        """
        session = self._idle(session)
        args = (check_choice("data", source, GMM_SOURCES), GMM_K.check("K", k), check_choice("covariance", covariance, COVARIANCES), check_choice("init", init, INITS))
        session.gmm = new_mixture(*args, check_int("seed", seed, 0, SEED_MAX), session.user)
        return session, self.gmm_frame(session)

    def gmm_points(self, session: Any, kind: Any, value: Any) -> Any:
        """Take the user's points (``take_points``: kind "drawn", "csv_file" or "csv_text") as the
        "drawn" / "csv" source, and restart the mixture on them with its settings if its K fits
        them (else ``gmm_reset`` with a smaller K starts it). Returns the session.

        Raises:
            ValueError: bad points, or EM running.
        """
        session = self._idle(session)
        source, old = take_points(session.user, kind, value), session.gmm
        if old.model.n_components <= len(session.user[source][0]):
            session.gmm = new_mixture(source, old.model.n_components, old.model.covariance, old.model.init, old.seed, session.user)
        return session

    def gmm_step(self, session: Any, which: Any) -> GmmFrame:
        """One E step ("E": the responsibilities) or M step ("M": the parameters; the E step
        runs first if none has since the parameters changed, and the note says so).

        Raises:
            ValueError: ``which`` is not "E" or "M", or EM is running.
        """
        which = check_choice("step", which, ("E", "M"))
        session = self._idle(session)
        with session.lock:
            if which == "E":
                _e_step(session.gmm)
            said = "" if which == "E" else _m_step(session.gmm)
        return self.gmm_frame(session, said)

    def gmm_run(self, session: Any, steps: Any = EM_STEPS.default, stop: Callable[[], bool] | None = None) -> Iterator[GmmFrame]:
        """Up to ``steps`` (in [1, 200]) EM iterations, a frame after each, paced to one per
        ``RUN_FRAME_S`` (EM on these points converges in a few milliseconds: unpaced, one
        would see only the end), and one at the end; ends early at convergence (a gain below 1e-4 nats per point) or when
        ``stop()`` is true.

        Raises:
            ValueError: bad ``steps`` or ``stop`` (at once), or EM already running (at the first frame).
        """
        steps = EM_STEPS.check("EM steps", steps)
        if stop is not None and not callable(stop):
            raise ValueError("stop must be a function that says when to stop")
        session = self.session(session)

        def frames() -> Iterator[GmmFrame]:
            if not session.lock.acquire(blocking=False):
                raise ValueError("EM is busy (a run or restarts): press Stop or wait for it")
            try:
                start = time.perf_counter()
                done, ending = 0, ""
                while done < steps and not ending:
                    if stop is not None and stop():
                        ending = f"Stopped after {done} of {steps} iterations"
                        break
                    tick = time.perf_counter()
                    gain, done = _iterate(session.gmm), done + 1
                    if gain < TOL:
                        ending = f"Converged after {done} iterations (the last gained {gain:.1e} < {TOL:g} nats per point)"
                    elif done < steps:  # every iteration, paced, so that a class sees the ellipses move
                        yield self.gmm_frame(session, f"Running: {done} of {steps} iterations.  \n")
                        time.sleep(max(0.0, RUN_FRAME_S - (time.perf_counter() - tick)))
                yield self.gmm_frame(session, f"{ending or f'Ran {steps} iteration' + 's' * (steps > 1)} in {time.perf_counter() - start:.2f} s.  \n")
            finally:
                session.lock.release()

        return frames()

    def gmm_restarts(self, session: Any, n: Any = RESTARTS.default) -> GmmFrame:
        """EM to convergence from ``n`` (in [1, 10]) initialisations of the current settings
        (seeds seed, seed + 1, ...); keeps the best by training log-likelihood (its curve is
        shown); the note lists each restart's final log-likelihood.

        Raises:
            ValueError: a bad n, or EM running.
        """
        n = RESTARTS.check("restarts", n)
        session = self._idle(session)
        with session.lock:
            old, start = session.gmm, time.perf_counter()
            model, finals = old.model, []
            for seed in range(old.seed, old.seed + n):
                fit = GaussianMixture(model.n_components, model.covariance, model.init, GMM_MIN_VARIANCE)
                finals.append((fit.fit(old.points, MAX_ITER, TOL, torch.Generator().manual_seed(seed))[-1], seed))
            best = max(finals, key=lambda f: (f[0], -f[1]))[1]  # ties: the first seed
            session.gmm = new_mixture(old.source, model.n_components, model.covariance, model.init, best, session.user, (old.points, old.note))
            for _ in range(MAX_ITER):  # the kept run again, step by step for its curve (the same numbers)
                if _iterate(session.gmm) < TOL:
                    break
        lines = " · ".join(f"seed {seed}: {ll:.4f}" + (" **← kept**" if seed == best else "") for ll, seed in finals)
        return self.gmm_frame(session, f"**{n} restarts** run to convergence in {time.perf_counter() - start:.2f} s, final log-likelihood (nats per point): {lines}  \n")

    def gmm_bic(self, session: Any, k_max: Any = BIC_K.default) -> tuple[go.Figure, str]:
        """Fit K = 1 ... ``k_max`` (in [1, 10]) components of the current covariance type on the
        mixture's points (the best of 2 k-means++ initialisations each) and plot BIC = −2 log L
        + p ln N (Schwarz 1978; lower is better) and the log-likelihood against K, the best K
        marked. Returns (figure, note).

        Raises:
            ValueError: a bad k_max, or more components than points.
        """
        k_max = BIC_K.check("largest K", k_max)
        state, start = self.session(session).gmm, time.perf_counter()
        points, n, covariance = state.points, len(state.points), state.model.covariance
        if k_max > n:
            raise ValueError(f"the largest K ({k_max}) is larger than the {n} points: lower it")
        fits = []
        for k in range(1, k_max + 1):
            runs = [GaussianMixture(k, covariance, "k-means++", GMM_MIN_VARIANCE) for _ in range(BIC_INITS)]
            finals = [m.fit(points, MAX_ITER, TOL, torch.Generator().manual_seed(state.seed + i))[-1] for i, m in enumerate(runs)]
            fits.append(runs[int(np.argmax(finals))])
        bics, lls = [m.bic(points) for m in fits], [m.log_likelihood(points) for m in fits]
        best, ks = int(np.argmin(bics)), np.arange(1, k_max + 1)
        data = [
            dict(type="scatter", x=ks, y=f32(bics), mode="lines+markers", name="BIC", line=dict(color="#1f77b4")),
            dict(type="scatter", x=[best + 1], y=[bics[best]], mode="markers", name=f"best K = {best + 1}", marker=dict(symbol="star", size=16, color="#d62728")),
            dict(type="scatter", x=ks, y=f32(lls), mode="lines+markers", name="log-likelihood", line=dict(color="#2ca02c"), xaxis="x2", yaxis="y2"),
        ]
        figure = go.Figure(dict(data=data, layout=figure_layout(
            height=340, title=dict(text=f"choosing K by BIC: {covariance} covariances, {n:,} points (★ best)", x=0.01),
            xaxis=dict(domain=[0, 0.44], title=dict(text="K"), dtick=1, **AXIS), yaxis=dict(title=dict(text="BIC (nats; lower is better)"), **AXIS),
            xaxis2=dict(domain=[0.58, 1], anchor="y2", title=dict(text="K"), dtick=1, **AXIS), yaxis2=dict(anchor="x2", title=dict(text="log-likelihood (nats per point)"), **AXIS),
        )))
        return figure, (
            f"**Best K = {best + 1}** (BIC {bics[best]:,.1f}). BIC = −2 log L + p ln N (Schwarz 1978): the log-likelihood (right) always rises with K, "
            f"the penalty of p free parameters at ln N = {math.log(n):.2f} nats each (p = {fits[best].n_parameters()} at the best K) stops it. "
            f"K = 1 ... {k_max} fitted in {time.perf_counter() - start:.2f} s."
        )

    def gmm_frame(self, session: Any, prefix: str = "") -> GmmFrame:
        """The mixture as it is now, the note after ``prefix`` (markdown)."""
        state = self.session(session).gmm
        return GmmFrame(_figure(state), _curve(state), prefix + _note(state))


def _figure(state: GmmState) -> go.Figure:
    model, k = state.model, state.model.n_components
    if state.resp is None:
        colours: Any = "#888"
    else:  # each point the responsibility-weighted mix of the component colours (hex: plotly checks it 3x faster than rgb())
        colours = ["#%02x%02x%02x" % tuple(c) for c in np.rint(state.resp.numpy() @ _HEX[:k]).astype(int).tolist()]
    data = [points_trace(state.points, name="points", showlegend=False, marker=dict(size=4, color=colours, opacity=0.75))]
    for j in range(k):
        colour, name = plots.DIGIT_COLOURS[j], f"{j + 1}: π = {float(model.weights[j]):.2f}"
        data += [line_trace(gaussian.ellipse(model.means[j], model.covariances[j], s), name, colour, dash, legendgroup=str(j), showlegend=s == 1) for s, dash in ((1, "solid"), (2, "dot"))]
        data.append(points_trace(model.means[j][None], name=name, legendgroup=str(j), showlegend=False, marker=dict(symbol="x", size=11, color=colour, line=dict(width=1, color="white"))))
    return go.Figure(dict(data=data, layout=figure_layout(
        title=dict(text=f"{state.note.split(',')[0]} · K = {k}, {model.covariance} · iteration {state.iteration}", x=0.01),
        showlegend=True, legend=dict(x=1.02, y=1, xanchor="left", title=dict(text="component<br>(1σ solid, 2σ dotted)")), uirevision="wu-gmm", **square_axes(toy2d.BOX, "x₁", "x₂"),
    )))


def _curve(state: GmmState) -> go.Figure:
    steps = state.history
    bound = [h for h in steps if h["bound"] is not None]
    data = [
        dict(type="scatter", x=f32([h["t"] for h in steps]), y=f32([h["ll"] for h in steps]), mode="lines", name="log-likelihood L(θ)", line=dict(color="#1f77b4", width=2.5)),
        dict(type="scatter", x=f32([h["t"] for h in bound]), y=f32([h["bound"] for h in bound]), mode="lines", name="lower bound F(q, θ)", line=dict(color="#ff7f0e", dash="dash")),
    ]
    for kind, symbol, colour, size in (("E", "triangle-up", "#ff7f0e", 10), ("M", "circle", "#1f77b4", 7)):
        mine = [h for h in steps if h["kind"] == kind]
        data.append(dict(type="scatter", x=f32([h["t"] for h in mine]), y=f32([h["ll"] for h in mine]), mode="markers", name=f"{kind} step", marker=dict(symbol=symbol, size=size, color=colour)))
    return go.Figure(dict(data=data, layout=figure_layout(
        height=300, title=dict(text="EM never lowers the log-likelihood", x=0.01), showlegend=True, legend=dict(x=0.99, y=0.02, xanchor="right", yanchor="bottom", bgcolor="rgba(255,255,255,0.8)"),  # the curve rises away from this corner
        xaxis=dict(title=dict(text="EM iteration (E steps at the halves)"), rangemode="tozero", **AXIS), yaxis=dict(title=dict(text="nats per point"), **AXIS),
    )))


def _note(state: GmmState) -> str:
    last, model = state.history[-1], state.model
    gain = f" ({last['ll'] - state.history[-2]['ll']:+.2e} in this step)" if len(state.history) > 1 else ""
    step = {"start": "initialised: press E step", "E": "last: E step (responsibilities; the bound F now equals L)", "M": "last: M step (parameters)"}[last["kind"]]
    return (
        f"**Iteration {state.iteration}** · {step} · log-likelihood **{last['ll']:.4f}** nats per point{gain}  \n"
        f"weights π: {', '.join(f'{w:.2f}' for w in model.weights.tolist())}  \n" + (f"{state.warning}  \n" if state.warning else "")
        + f"Data: {state.note}; K = {model.n_components}, {model.covariance} covariances, {model.init} initialisation, seed {state.seed}."
    )

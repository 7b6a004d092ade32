"""The 2D GAN lab's views (after GAN Lab, Kahng, Thorat, Chau, Viégas & Wattenberg 2018,
"GAN Lab: Understanding Complex Deep Generative Models using Interactive Visual
Experimentation", arXiv:1809.01587): two small MLPs (``models.gan2d.ToyGAN``) play the GAN
game on points of the plane, and every step shows D's decision surface, the real and
generated points and, optionally, the direction in which G's loss pushes each generated
point.

A lab lives in a ``LabSession`` (one per browser session; None gives a fresh default lab:
the ring, an untrained G). Each method checks every value it is given (``ValueError``
with a readable text) and returns a ``LabFrame``: the figures and a status line, plus a
notice (a divergence, the points taken) that the UI may also show as a toast. No gradio
here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import plotly.graph_objects as go
import torch
from torch import Tensor

from models.base import seeded_init
from models.checks import SEED_MAX, Range, check_bool, check_choice, check_int
from models.gan import D_STEPS_RANGE, LOSS_NAMES, LOSSES
from models.gan2d import HIDDEN_RANGE, LR_RANGE, MODES, NOISE_DIM_RANGE, DivergedError, ToyGAN
from playground.core import plots, toy2d

DEFAULT_SOURCE = "ring"
DEFAULT_LOSS = "non_saturating"
NOISE_DIM = Range(*NOISE_DIM_RANGE, 2)
HIDDEN = Range(*HIDDEN_RANGE, 64)
LR = Range(*LR_RANGE, 1e-3, integer=False)  # D's and G's
K = Range(*D_STEPS_RANGE, 1)  # D steps per G step
CLICK_STEPS = Range(1, 100, 1)  # steps per click of Step D / Step G / Step both
TRAIN_STEPS = Range(1, 5000, 1000)
N_REAL = 1024  # points of a built-in dataset
BATCH = 256  # real points per step (a fresh minibatch each step)
N_EVAL = 1024  # generated points from fixed noise: the JS and mode figures use them all
N_SHOWN = 512  # ... and the plot shows the first of them
N_ARROWS = 64
ARROW_SCALE = 0.25  # plot units per unit of -dL_G/dx
ARROW_MAX = 0.45  # longest arrow, plot units
MAX_HISTORY = 2000
YIELD_EVERY_S = 0.4  # a frame is two plotly figures: more often, a browser on a busy machine falls behind
_AXIS = toy2d.grid_axis()
# The mode-collapse demo: the ring, the saturating loss, the default networks, k = 1, D's
# learning rate 100 times G's (1e-2 and 1e-4), seed 0, 300 training steps: a few seconds,
# and G already covers 2 of the 8 modes (the "How it works" text says what it gives).
COLLAPSE_PRESET = {
    "dataset": "ring", "loss": "minimax", "noise_dim": NOISE_DIM.default, "hidden": HIDDEN.default,
    "k": 1, "lr_d": 1e-2, "lr_g": 1e-4, "seed": 0, "steps": 300,
}


class LabFrame(NamedTuple):
    """What the lab shows after an action."""

    figure: go.Figure  # D's decision surface with the real and generated points
    curves: go.Figure  # the losses and the JS divergence against step
    status: str  # markdown: step, losses, JS, modes covered, the data
    notice: str = ""  # a sentence worth a toast (a divergence, the points taken), or ""


@dataclass(eq=False)
class LabSession:
    """One browser session's lab: the GAN, its data and what has happened so far.

    Attributes:
        model: the two networks and their optimisers.
        source: which data (one of ``toy2d.SOURCES``); ``note`` describes it.
        real: the real points (N, 2) float32 in [-2, 2]^2.
        rng: draws minibatches and noise (seeded with the settings' seed, which also seeds
            the weights and the built-in data), so a seed replays a run.
        eval_noise: fixed z (N_EVAL, noise_dim): the plotted points and the figures use
            the same noise at every step, so one sees each point move.
        real_hist: the real points' histogram for the JS divergence.
        custom: the drawn and CSV points, kept across resets ({source: (points, note)}).
        step, n_d, n_g: steps, D updates and G updates so far.
        last: the latest losses; history: {step, d_loss, g_loss, js} dicts, thinned as it grows.
        lock: held while a step or a training run changes the model.
    """

    model: ToyGAN
    source: str
    real: Tensor
    note: str
    rng: torch.Generator
    eval_noise: Tensor
    real_hist: Tensor
    custom: dict[str, tuple[Tensor, str]] = field(default_factory=dict)
    step: int = 0
    n_d: int = 0
    n_g: int = 0
    last: dict[str, float] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class _Settings:
    """Settings that build a lab (they apply on Reset)."""

    source: str = DEFAULT_SOURCE
    loss: str = DEFAULT_LOSS
    noise_dim: int = NOISE_DIM.default
    hidden: int = HIDDEN.default
    seed: int = 0


def _check_settings(source: Any, loss: Any, noise_dim: Any, hidden: Any, seed: Any) -> _Settings:
    return _Settings(
        check_choice("dataset", source, toy2d.SOURCES),
        check_choice("loss", loss, LOSSES),
        NOISE_DIM.check("noise dimension", noise_dim),
        HIDDEN.check("hidden width", hidden),
        check_int("seed", seed, 0, SEED_MAX),
    )


def _check_rates(lr_d: Any, lr_g: Any, k: Any) -> tuple[float, float, int]:
    return LR.check("learning rate of D", lr_d), LR.check("learning rate of G", lr_g), K.check("D steps per G step (k)", k)


def _idle(session: LabSession) -> None:
    if session.lock.locked():
        raise ValueError("the lab is training: press Stop first")


class LabViews:
    """What the 2D GAN lab computes (see the module docstring)."""

    # -- sessions -----------------------------------------------------------------------------------
    def session(self, state: Any) -> LabSession:
        """The lab in ``state``, or a fresh default one (ring, untrained, seed 0)."""
        return state if isinstance(state, LabSession) else self.new_session(_Settings())

    def new_session(self, settings: _Settings, custom: dict[str, tuple[Tensor, str]] | None = None) -> LabSession:
        """A lab on ``settings.source`` with freshly initialised networks.

        Raises:
            ValueError: the source is ``drawn`` or ``csv`` and no such points were given.
        """
        custom = dict(custom or {})
        if settings.source in toy2d.USER_SOURCES:
            if settings.source not in custom:
                if settings.source == "drawn":
                    raise ValueError("no points drawn yet: draw on the pad and press 'Use my drawing' first")
                raise ValueError("no CSV points yet: upload a CSV file or paste CSV text first")
            real, note = custom[settings.source]
        else:
            real = toy2d.make_dataset(settings.source, N_REAL, settings.seed)
            note = f"{toy2d.SOURCE_NAMES[settings.source]}, {N_REAL} points"
        model = seeded_init(ToyGAN, settings.seed, noise_dim=settings.noise_dim, hidden=settings.hidden, loss=settings.loss, lr_d=LR.default, lr_g=LR.default)
        return LabSession(
            model=model, source=settings.source, real=real, note=note, rng=torch.Generator().manual_seed(settings.seed),
            eval_noise=model.noise(N_EVAL, torch.Generator().manual_seed(settings.seed + 1)), real_hist=toy2d.histogram2d(real),
            custom=custom,
        )

    def _restart(self, state: Any, settings: _Settings, points: dict[str, tuple[Tensor, str]] | None = None) -> LabSession:
        """A new lab on ``settings`` in place of ``state``'s, keeping its drawn and CSV
        points (``points`` adds or replaces some).

        Raises:
            ValueError: ``state``'s lab is training, or ``settings`` needs points not given.
        """
        old = state if isinstance(state, LabSession) else None
        if old is not None:
            _idle(old)
        return self.new_session(settings, {**(old.custom if old else {}), **(points or {})})

    # -- what is shown ------------------------------------------------------------------------------
    def frame(self, session: LabSession, show_gradient: Any = False, prefix: str = "", notice: str = "") -> LabFrame:
        """The lab as it is now: D's surface with ``N_SHOWN`` generated points (and, with
        ``show_gradient``, -dL_G/dx arrows at the first ``N_ARROWS``), the curves, and the
        status (after ``prefix``, markdown). Records the JS divergence at the current
        step in the session's history.

        Raises:
            ValueError: ``show_gradient`` is not a bool.
        """
        show = check_bool("show gradient", show_gradient)
        model = session.model
        with torch.no_grad():
            fake = model.generate(session.eval_noise)  # (N_EVAL, 2)
        finite = bool(torch.isfinite(fake).all())
        js = toy2d.js_divergence(session.real_hist, toy2d.histogram2d(fake)) if finite else None
        if session.history and session.history[-1]["step"] == session.step:
            session.history[-1]["js"] = js
        else:
            session.history.append({"step": session.step, "js": js})
        arrows = None
        if show and finite:
            grad = model.generator_gradient(fake[:N_ARROWS]) * ARROW_SCALE
            arrows = grad * (ARROW_MAX / grad.norm(dim=1, keepdim=True).clamp(min=ARROW_MAX))  # cap the longest
        figure = plots.lab_figure(
            model.decision_surface(_AXIS, _AXIS), _AXIS, session.real, fake[:N_SHOWN].clamp(-1e3, 1e3) if finite else fake[:0], arrows,
            critic=model.loss_kind == "wgan_gp", box=toy2d.BOX,
            title=f"{toy2d.SOURCE_NAMES[session.source]} · {LOSS_NAMES[model.loss_kind]} · step {session.step}",
        )
        return LabFrame(figure, plots.lab_curves_figure(session.history), prefix + self._status(session, fake, js), notice)

    @staticmethod
    def _status(session: LabSession, fake: Tensor, js: float | None) -> str:
        critic = session.model.loss_kind == "wgan_gp"
        unit = "" if critic else " nats"
        parts = [f"**step {session.step}** (D updates {session.n_d}, G updates {session.n_g})"]
        last = session.last
        if "d_loss" in last:
            d_what = "f" if critic else "D"
            parts.append(f"D loss {last['d_loss']:.3f}{unit} (mean {d_what}(real) {last['d_real']:.2f}, {d_what}(fake) {last['d_fake']:.2f})")
        if "g_loss" in last:
            parts.append(f"G loss {last['g_loss']:.3f}{unit}")
        if js is not None:
            parts.append(f"JS {js:.3f} nats")
        modes = toy2d.mode_centres(session.source)
        if modes is not None and js is not None:
            covered, good = toy2d.mode_coverage(fake, *modes)
            parts.append(f"modes covered **{covered}/{len(modes[0])}**, high-quality samples {good:.0%}")
        return f"{' · '.join(parts)}  \nData: {session.note}."

    # -- actions ------------------------------------------------------------------------------------
    def reset(
        self, state: Any, dataset: Any = DEFAULT_SOURCE, loss: Any = DEFAULT_LOSS, noise_dim: Any = NOISE_DIM.default,
        hidden: Any = HIDDEN.default, seed: Any = 0, show_gradient: Any = False,
    ) -> tuple[LabSession, LabFrame]:
        """Start again: fresh networks on ``dataset`` (ring, grid, spiral, moons, drawn or
        csv; the last two need points given before), with ``loss`` (non_saturating,
        minimax or wgan_gp), noise size ``noise_dim`` in [1, 16], ``hidden`` units per
        layer in [4, 256] and ``seed`` in [0, 2^31) (weights, data and minibatches).
        Returns the new lab (it replaces ``state``'s, keeping its drawn and CSV points).

        Raises:
            ValueError: a bad setting, missing points, or the lab is training.
        """
        settings = _check_settings(dataset, loss, noise_dim, hidden, seed)
        check_bool("show gradient", show_gradient)
        session = self._restart(state, settings)
        return session, self.frame(session, show_gradient)

    def _advance(self, session: LabSession, mode: str, k: int) -> None:
        """One step of ``mode`` on a fresh minibatch; records the losses."""
        # With replacement: a CSV of a dozen points still gives a full, steady batch.
        idx = torch.randint(len(session.real), (BATCH,), generator=session.rng)
        losses = session.model.step(session.real[idx], mode, k, session.rng)
        session.step += 1
        session.n_d += 0 if mode == "g" else (1 if mode == "d" else k)
        session.n_g += 0 if mode == "d" else 1
        session.last.update(losses)
        session.history.append({"step": session.step, **{key: losses.get(key) for key in ("d_loss", "g_loss")}})
        if len(session.history) > MAX_HISTORY:
            # Halve the resolution of the curves, keeping every JS point (they are few).
            session.history = [h for i, h in enumerate(session.history) if i % 2 == 0 or h.get("js") is not None]

    def step(
        self, session: LabSession, count: Any = 1, lr_d: Any = LR.default, lr_g: Any = LR.default, k: Any = 1,
        show_gradient: Any = False, mode: Any = "both",
    ) -> LabFrame:
        """Update D only (``mode`` "d"), G only ("g") or both ("both": k steps of D, then
        one of G), ``count`` times, in [1, 100]; Adam learning rates ``lr_d``, ``lr_g`` in
        [1e-5, 1]; k in [1, 10]. If a step diverges, the weights from before it are kept,
        and the status and the notice say so.

        Raises:
            ValueError: a bad value (nothing is changed), or the lab is training.
        """
        mode = check_choice("mode", mode, MODES)
        count = CLICK_STEPS.check("steps", count)
        lr_d, lr_g, k = _check_rates(lr_d, lr_g, k)
        check_bool("show gradient", show_gradient)
        if not session.lock.acquire(blocking=False):
            raise ValueError("the lab is training: press Stop first")
        prefix = notice = ""
        try:
            session.model.set_learning_rates(lr_d, lr_g)
            for _ in range(count):
                self._advance(session, mode, k)
        except DivergedError as err:
            prefix, notice = f"⚠️ **Diverged at step {session.step + 1}.** {err}  \n", str(err)
        finally:
            session.lock.release()
        return self.frame(session, show_gradient, prefix, notice)

    def train(
        self, session: LabSession, steps: Any = TRAIN_STEPS.default, lr_d: Any = LR.default, lr_g: Any = LR.default, k: Any = 1,
        show_gradient: Any = False, *, stop: threading.Event,
    ) -> Iterator[tuple[go.Figure, go.Figure, str]]:
        """Run 1 to 5000 steps of both networks (k of D, then one of G, each), showing the
        lab about every 0.2 s. Learning rates of D and G: 1e-5 to 1; k: 1 to 10;
        show_gradient: draw G's gradient as arrows. Stop ends the run within a step and
        keeps the weights reached; a run that diverges stops there with the last finite
        weights.

        Yields:
            (decision-surface figure, curves figure, status markdown), first the lab as
            it starts.

        Raises:
            ValueError: a bad value, or the lab is busy with a step.
        """
        steps = TRAIN_STEPS.check("steps", steps)
        lr_d, lr_g, k = _check_rates(lr_d, lr_g, k)
        check_bool("show gradient", show_gradient)
        if not session.lock.acquire(blocking=False):
            raise ValueError("the lab is busy with another step: try again")
        try:
            session.model.set_learning_rates(lr_d, lr_g)
            yield self.frame(session, show_gradient, f"Starting: {steps} steps.  \n")[:3]
            start = last_yield = time.perf_counter()
            done, ending = 0, ""
            while done < steps:
                if stop.is_set():
                    ending = f"Stopped after {done} of {steps} steps; the weights reached are kept.  \n"
                    break
                try:
                    self._advance(session, "both", k)
                except DivergedError as err:
                    ending = f"⚠️ **Diverged at step {session.step + 1}**, after {done} of {steps} steps. {err}  \n"
                    break
                done += 1
                now = time.perf_counter()
                if now - last_yield >= YIELD_EVERY_S and done < steps:
                    last_yield = now
                    yield self.frame(session, show_gradient, f"Training: {done} / {steps} steps, {done / (now - start):.0f} steps/s.  \n")[:3]
            yield self.frame(session, show_gradient, ending or f"Trained {steps} steps in {time.perf_counter() - start:.1f} s.  \n")[:3]
        finally:
            session.lock.release()

    def set_loss(self, session: LabSession, loss: Any, show_gradient: Any = False) -> LabFrame:
        """Play on with another ``loss`` (non_saturating, minimax or wgan_gp) from the
        current weights: D's surface stays, G's gradient changes at once (see the arrows).

        Raises:
            ValueError: an unknown loss, or the lab is training.
        """
        loss = check_choice("loss", loss, LOSSES)
        check_bool("show gradient", show_gradient)
        _idle(session)
        session.model.set_loss(loss)
        return self.frame(session, show_gradient)

    # -- the user's points ----------------------------------------------------------------------------
    def _use_points(self, state: Any, source: str, parsed: tuple[Tensor, str], settings: tuple, show_gradient: Any) -> tuple[LabSession, LabFrame]:
        check_bool("show gradient", show_gradient)
        session = self._restart(state, _check_settings(source, *settings), {source: parsed})
        return session, self.frame(session, show_gradient, notice=f"Using {parsed[1]}.")

    def draw(
        self, state: Any, sketch: Any, loss: Any = DEFAULT_LOSS, noise_dim: Any = NOISE_DIM.default, hidden: Any = HIDDEN.default,
        seed: Any = 0, show_gradient: Any = False,
    ) -> tuple[LabSession, LabFrame]:
        """Use points drawn on a sketchpad as the real data (600 sampled from the ink:
        ``toy2d.points_from_sketch``) and restart the GAN with the other settings (as for
        ``reset``). Returns the new lab (source "drawn").

        Raises:
            ValueError: nothing drawn, a single dot, or a bad setting.
        """
        return self._use_points(state, "drawn", toy2d.points_from_sketch(sketch), (loss, noise_dim, hidden, seed), show_gradient)

    def load_csv(
        self, state: Any, file: Any, loss: Any = DEFAULT_LOSS, noise_dim: Any = NOISE_DIM.default, hidden: Any = HIDDEN.default,
        seed: Any = 0, show_gradient: Any = False,
    ) -> tuple[LabSession, LabFrame]:
        """Use the points of a CSV file (a path: two numeric columns x, y; a header row is
        allowed; at most 5,000 rows and 1 MB), centred and scaled into [-2, 2]^2, and
        restart as ``draw`` does (source "csv").

        Raises:
            ValueError: no file, a file that is not such a CSV, or a bad setting.
        """
        if not file:
            raise ValueError("upload a CSV file first")
        return self._use_points(state, "csv", toy2d.points_from_csv(Path(str(file))), (loss, noise_dim, hidden, seed), show_gradient)

    def paste_csv(
        self, state: Any, text: Any, loss: Any = DEFAULT_LOSS, noise_dim: Any = NOISE_DIM.default, hidden: Any = HIDDEN.default,
        seed: Any = 0, show_gradient: Any = False,
    ) -> tuple[LabSession, LabFrame]:
        """As ``load_csv``, with the CSV given as text.

        Raises:
            ValueError: empty text, text that is not such a CSV, or a bad setting.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError("paste CSV text first: one point per line, x and y separated by a comma")
        return self._use_points(state, "csv", toy2d.points_from_csv(text), (loss, noise_dim, hidden, seed), show_gradient)

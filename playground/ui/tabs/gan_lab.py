"""The 2D GAN lab, a sub-tab of the GAN tab (after GAN Lab, Kahng et al. 2018,
arXiv:1809.01587): two small MLPs play the GAN game on points of the plane, and every
step shows D's decision surface, the real and generated points and, optionally, the
direction in which G's loss pushes each generated point.

Handlers are methods of ``GanLab`` so that tests call them without a browser. Each takes
the session's ``LabSession`` from ``gr.State`` (None for a new session or an API client,
which then gets a fresh default lab: the ring, an untrained G) and checks every value it
is given. The caller builds the lab inside its own tab:

    with gr.Tab("2D GAN lab"):
        gan_lab.build_lab(ctx)
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import torch
from torch import Tensor

from models.base import seeded_init
from models.checks import SEED_MAX, check_bool, check_choice, check_float, check_int
from models.gan import D_STEPS_RANGE, LOSS_NAMES, LOSSES
from models.gan2d import (
    HIDDEN_RANGE,
    LR_RANGE,
    MODES,
    NOISE_DIM_RANGE,
    DivergedError,
    ToyGAN,
)
from playground.core import toy2d
from playground.ui.legacy import AppContext, session_key, ui_handler

LAB_KEY = "gan-lab-train"
DEFAULT_SOURCE = "ring"
DEFAULT_LOSS = "non_saturating"
DEFAULT_NOISE_DIM = 2
DEFAULT_HIDDEN = 64
DEFAULT_LR = 1e-3
N_REAL = 1024  # points of a built-in dataset
BATCH = 256  # real points per step (a fresh minibatch each step)
N_EVAL = 1024  # generated points from fixed noise: the JS and mode figures use them all
N_SHOWN = 512  # ... and the plot shows the first of them
N_ARROWS = 64
ARROW_SCALE = 0.25  # plot units per unit of -dL_G/dx
ARROW_MAX = 0.45  # longest arrow, plot units
MAX_TRAIN_STEPS = 5000
MAX_CLICK_STEPS = 100
MAX_HISTORY = 2000
YIELD_EVERY_S = 0.2
_AXIS = toy2d.grid_axis()

EXPLANATION = r"""
**What you see.** Green dots are the real data, purple dots are points of the generator G (images of noise
$z\sim\mathcal N(0, I)$ through a small network). The background is the discriminator D: green where D says
*real* ($D(x)\to 1$), purple where it says *generated* ($D(x)\to 0$). Orange arrows (tick *show G's gradient*)
point where G's loss pushes each generated point, $-\partial L_G/\partial x$.

**Try it.** Press *Step D* a few times: the background learns to separate the clouds. Then *Step G*: the
purple points climb towards green. *Step both* (or *Train*) alternates $k$ steps of D with one of G
(Goodfellow et al. 2014, Algorithm 1). The JS divergence is 0 when the two clouds have the same histogram
and $\ln 2\approx 0.69$ nats when they do not overlap (about 0.01 between two samples of the same ring).

**Saturation.** Under the *saturating* loss $\log(1-D(G(z)))$ a point's push is $D(x)\,\partial\,\mathrm{logit}/\partial x$:
it vanishes where D is sure the point is fake. Under the *non-saturating* loss $-\log D(G(z))$ it is
$(1-D(x))\,\partial\,\mathrm{logit}/\partial x$: largest for the worst points. From a Reset, step D 100 times
(10 steps per click), show the arrows and switch the loss: the weights stay, only the arrows change; here
they are about 30 times shorter under the saturating loss.

**Mode collapse.** Press **Mode-collapse demo** (ring, the *saturating* loss, D learning 100 times faster
than G: learning rates 1e-2 and 1e-4, seed 0), then *Train*: within a few hundred steps G's points gather on
one or two of the eight modes, each sharp ("high-quality samples" near 90%), and the other modes stay empty.
Only the points D half-believes get a push under this loss, so G follows them onto the mode they sit near.
Measured here after 1,500 steps over seeds 0-3: the saturating loss covers 2, 1, 2 and 2 of the 8 modes;
the non-saturating loss, with the same settings, 3, 3, 1 and 1. The cause is a D far ahead of G (with equal
learning rates both losses cover all 8), and the non-saturating loss does not cure it: against the best D its
cost is $\mathrm{KL}(p_g\,\|\,p_{data})-2\,\mathrm{JS}$, which charges little for a missing mode (Arjovsky &
Bottou 2017, arXiv:1701.04862). Switch the loss mid-run and watch whether the lost modes come back.
"""


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
        custom: the drawn and CSV points, kept across resets ({source: (points, note)}).
        history: {step, d_loss, g_loss, js} dicts, thinned as it grows.
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
    noise_dim: int = DEFAULT_NOISE_DIM
    hidden: int = DEFAULT_HIDDEN
    seed: int = 0


def _check_settings(source: Any, loss: Any, noise_dim: Any, hidden: Any, seed: Any) -> _Settings:
    return _Settings(
        check_choice("dataset", source, toy2d.SOURCES),
        check_choice("loss", loss, LOSSES),
        check_int("noise dimension", noise_dim, *NOISE_DIM_RANGE),
        check_int("hidden width", hidden, *HIDDEN_RANGE),
        check_int("seed", seed, 0, SEED_MAX),
    )


def _check_rates(lr_d: Any, lr_g: Any, k: Any) -> tuple[float, float, int]:
    return (
        check_float("learning rate of D", lr_d, *LR_RANGE),
        check_float("learning rate of G", lr_g, *LR_RANGE),
        check_int("D steps per G step (k)", k, *D_STEPS_RANGE),
    )


class GanLab:
    """Handlers of the 2D GAN lab (see the module docstring)."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx

    # -- sessions ------------------------------------------------------------------------
    def session(self, state: LabSession | None) -> LabSession:
        """The session's lab, or a fresh default one (ring, untrained, seed 0)."""
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
        model = seeded_init(
            ToyGAN, settings.seed, noise_dim=settings.noise_dim, hidden=settings.hidden, loss=settings.loss,
            lr_d=DEFAULT_LR, lr_g=DEFAULT_LR,
        )
        rng = torch.Generator().manual_seed(settings.seed)
        eval_noise = model.noise(N_EVAL, torch.Generator().manual_seed(settings.seed + 1))
        return LabSession(
            model=model, source=settings.source, real=real, note=note, rng=rng,
            eval_noise=eval_noise, real_hist=toy2d.histogram2d(real), custom=custom,
        )

    @staticmethod
    def _idle(session: LabSession) -> None:
        if session.lock.locked():
            raise ValueError("the lab is training: press Stop first")

    # -- what is shown -------------------------------------------------------------------
    def views(self, session: LabSession, show_gradient: bool, prefix: str = "") -> tuple[Any, Any, str]:
        """(decision-surface figure, curves figure, status markdown) of the session now.
        Records the JS divergence at the current step in the session's history."""
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
        if show_gradient and finite:
            grad = model.generator_gradient(fake[:N_ARROWS]) * ARROW_SCALE
            length = grad.norm(dim=1, keepdim=True)
            arrows = grad * (ARROW_MAX / length.clamp(min=ARROW_MAX))  # cap the longest
        shown = fake[:N_SHOWN].clamp(-1e3, 1e3) if finite else fake[:0]
        critic = model.loss_kind == "wgan_gp"
        figure = toy2d.lab_figure(
            model.decision_surface(_AXIS, _AXIS), session.real, shown, arrows, critic=critic,
            title=f"{toy2d.SOURCE_NAMES[session.source]} · {LOSS_NAMES[model.loss_kind]} · step {session.step}",
        )
        return figure, toy2d.curves_figure(session.history), self._status(session, fake, js, prefix)

    def _status(self, session: LabSession, fake: Tensor, js: float | None, prefix: str) -> str:
        unit = "" if session.model.loss_kind == "wgan_gp" else " nats"
        parts = [f"**step {session.step}** (D updates {session.n_d}, G updates {session.n_g})"]
        last = session.last
        if "d_loss" in last:
            d_what = "f" if session.model.loss_kind == "wgan_gp" else "D"
            parts.append(f"D loss {last['d_loss']:.3f}{unit} (mean {d_what}(real) {last['d_real']:.2f}, {d_what}(fake) {last['d_fake']:.2f})")
        if "g_loss" in last:
            parts.append(f"G loss {last['g_loss']:.3f}{unit}")
        if js is not None:
            parts.append(f"JS {js:.3f} nats")
        modes = toy2d.mode_centres(session.source)
        if modes is not None and js is not None:
            covered, good = toy2d.mode_coverage(fake, *modes)
            parts.append(f"modes covered **{covered}/{len(modes[0])}**, high-quality samples {good:.0%}")
        line = " · ".join(parts)
        return f"{prefix}{line}  \nData: {session.note}."

    # -- handlers ------------------------------------------------------------------------
    @ui_handler
    def reset(
        self, state: LabSession | None, dataset: Any = DEFAULT_SOURCE, loss: Any = DEFAULT_LOSS,
        noise_dim: Any = DEFAULT_NOISE_DIM, hidden: Any = DEFAULT_HIDDEN, seed: Any = 0, show_gradient: Any = False,
    ) -> tuple:
        """Start again: fresh networks on ``dataset`` with the given settings.

        Args:
            dataset: one of ring, grid, spiral, moons, drawn, csv (the last two need
                points given before, with ``draw`` / ``load_csv`` / ``paste_csv``).
            loss: non_saturating, minimax or wgan_gp.
            noise_dim: size of z, in [1, 16]; hidden: units per layer, in [4, 256];
            seed: int in [0, 2^31 - 1] (weights, built-in data and minibatches).
            show_gradient: draw -dL_G/dx arrows.

        Returns:
            (session, decision-surface figure, curves figure, status markdown).

        Raises:
            gr.Error: a bad setting, or the lab is training (press Stop first).
        """
        settings = _check_settings(dataset, loss, noise_dim, hidden, seed)
        show = check_bool("show gradient", show_gradient)
        session = self._restart(state, settings)
        return (session, *self.views(session, show))

    def _restart(self, state: LabSession | None, settings: _Settings, points: dict[str, tuple[Tensor, str]] | None = None) -> LabSession:
        """A new lab on ``settings`` in place of ``state``'s, keeping its drawn and CSV
        points (``points`` adds or replaces some).

        Raises:
            ValueError: ``state``'s lab is training, or ``settings`` needs points not given.
        """
        old = state if isinstance(state, LabSession) else None
        if old is not None:
            self._idle(old)
        return self.new_session(settings, {**(old.custom if old else {}), **(points or {})})

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

    @ui_handler
    def step(
        self, state: LabSession | None, count: Any = 1, lr_d: Any = DEFAULT_LR, lr_g: Any = DEFAULT_LR, k: Any = 1,
        show_gradient: Any = False, mode: str = "both",
    ) -> tuple:
        """Update D only (``mode="d"``), G only (``"g"``) or both (``"both"``: k steps of
        D, then one of G), ``count`` times.

        Args:
            count: steps, in [1, 100]; lr_d, lr_g: Adam learning rates in [1e-5, 1];
            k: D steps per G step, in [1, 10]; show_gradient: draw -dL_G/dx arrows.

        Returns:
            (session, decision-surface figure, curves figure, status markdown). If a step
            diverges, the weights from before it are kept and the status says so.

        Raises:
            gr.Error: a bad value (nothing is changed), or the lab is training.
        """
        mode = check_choice("mode", mode, MODES)
        count = check_int("steps", count, 1, MAX_CLICK_STEPS)
        lr_d, lr_g, k = _check_rates(lr_d, lr_g, k)
        show = check_bool("show gradient", show_gradient)
        session = self.session(state)
        if not session.lock.acquire(blocking=False):
            raise ValueError("the lab is training: press Stop first")
        prefix = ""
        try:
            session.model.set_learning_rates(lr_d, lr_g)
            for _ in range(count):
                self._advance(session, mode, k)
        except DivergedError as err:
            prefix = f"⚠️ **Diverged at step {session.step + 1}.** {err}  \n"
            gr.Warning(str(err))
        finally:
            session.lock.release()
        return (session, *self.views(session, show, prefix))

    @ui_handler
    def train(
        self, state: LabSession | None, steps: Any = 1000, lr_d: Any = DEFAULT_LR, lr_g: Any = DEFAULT_LR, k: Any = 1,
        show_gradient: Any = False, request: gr.Request = None,
    ):
        """Run ``steps`` steps of both networks (k of D, one of G each), showing the lab
        about every 0.2 s. Stop (``stop``) ends it early; the weights reached are kept.

        Args:
            steps: in [1, 5000]; lr_d, lr_g: in [1e-5, 1]; k: in [1, 10];
            show_gradient: draw -dL_G/dx arrows.

        Yields:
            (session, decision-surface figure, curves figure, status markdown). A run that
            diverges stops there with the last finite weights, and the status says so.

        Raises:
            gr.Error: a bad value, or this session is already training.
        """
        steps = check_int("steps", steps, 1, MAX_TRAIN_STEPS)
        lr_d, lr_g, k = _check_rates(lr_d, lr_g, k)
        show = check_bool("show gradient", show_gradient)
        session = self.session(state)
        session_hash = session_key(request)
        stop = self.ctx.sessions.start(session_hash, LAB_KEY)
        try:
            if not session.lock.acquire(blocking=False):
                raise ValueError("the lab is busy with another step: try again")
            try:
                session.model.set_learning_rates(lr_d, lr_g)
                yield from self._train_run(session, steps, k, show, stop)
            finally:
                session.lock.release()
        finally:
            self.ctx.sessions.finish(session_hash, LAB_KEY, stop)

    def _train_run(self, session: LabSession, steps: int, k: int, show: bool, stop: threading.Event):
        start = time.perf_counter()
        last_yield = start
        done = 0
        ending = ""
        while done < steps:
            if stop.is_set():
                ending = f"Stopped after {done} of {steps} steps; the weights reached are kept.  \n"
                break
            try:
                self._advance(session, "both", k)
            except DivergedError as err:
                ending = f"⚠️ **Diverged at step {session.step + 1}**, after {done} of {steps} steps. {err}  \n"
                gr.Warning(str(err))
                break
            done += 1
            now = time.perf_counter()
            if now - last_yield >= YIELD_EVERY_S and done < steps:
                last_yield = now
                rate = done / (now - start)
                yield (session, *self.views(session, show, f"Training: {done} / {steps} steps, {rate:.0f} steps/s.  \n"))
        if not ending:
            ending = f"Trained {steps} steps in {time.perf_counter() - start:.1f} s.  \n"
        yield (session, *self.views(session, show, ending))

    @ui_handler
    def stop(self, request: gr.Request = None) -> str:
        """Ask this session's training run to stop; it keeps the weights reached."""
        stopped = self.ctx.sessions.set_flag(session_key(request), LAB_KEY)
        return "Stopping…" if stopped else "Nothing is training."

    @ui_handler
    def set_loss(self, state: LabSession | None, loss: Any, show_gradient: Any = False) -> tuple:
        """Play on with another loss (non_saturating, minimax or wgan_gp) from the current
        weights: D's surface stays, G's gradient changes at once (see the arrows).

        Returns:
            (session, decision-surface figure, curves figure, status markdown).

        Raises:
            gr.Error: an unknown loss, or the lab is training.
        """
        loss = check_choice("loss", loss, LOSSES)
        show = check_bool("show gradient", show_gradient)
        session = self.session(state)
        self._idle(session)
        session.model.set_loss(loss)
        return (session, *self.views(session, show))

    @ui_handler
    def redraw(self, state: LabSession | None, show_gradient: Any = False) -> tuple:
        """The lab as it is (e.g. after toggling the gradient arrows): (session, figures,
        status)."""
        show = check_bool("show gradient", show_gradient)
        session = self.session(state)
        return (session, *self.views(session, show))

    def _use_points(self, state: LabSession | None, source: str, parsed: tuple[Tensor, str], settings: tuple, show_gradient: Any) -> tuple:
        show = check_bool("show gradient", show_gradient)
        session = self._restart(state, _check_settings(source, *settings), {source: parsed})
        gr.Info(f"Using {parsed[1]}.")
        return (session, source, *self.views(session, show))

    @ui_handler
    def draw(
        self, state: LabSession | None, sketch: Any, loss: Any = DEFAULT_LOSS, noise_dim: Any = DEFAULT_NOISE_DIM,
        hidden: Any = DEFAULT_HIDDEN, seed: Any = 0, show_gradient: Any = False,
    ) -> tuple:
        """Use the points drawn on the sketchpad as the real data, and restart the GAN.

        Args:
            sketch: the Sketchpad's value (dict with "composite" and "layers"), or an
                image array; black ink marks the points (600 are sampled from it).
            loss, noise_dim, hidden, seed, show_gradient: as for ``reset``.

        Returns:
            (session, "drawn" for the dataset menu, decision-surface figure, curves,
            status).

        Raises:
            gr.Error: nothing drawn, a single dot, or a bad setting.
        """
        settings = (loss, noise_dim, hidden, seed)
        return self._use_points(state, "drawn", toy2d.points_from_sketch(sketch), settings, show_gradient)

    @ui_handler
    def load_csv(
        self, state: LabSession | None, file: Any, loss: Any = DEFAULT_LOSS, noise_dim: Any = DEFAULT_NOISE_DIM,
        hidden: Any = DEFAULT_HIDDEN, seed: Any = 0, show_gradient: Any = False,
    ) -> tuple:
        """Use the points of an uploaded CSV file (two numeric columns x, y; a header row
        is allowed; at most 5,000 rows and 1 MB), centred and scaled into [-2, 2]^2.

        Returns and raises as ``draw``, with "csv" for the dataset menu.
        """
        if not file:
            raise ValueError("upload a CSV file first")
        settings = (loss, noise_dim, hidden, seed)
        return self._use_points(state, "csv", toy2d.points_from_csv(Path(str(file))), settings, show_gradient)

    @ui_handler
    def paste_csv(
        self, state: LabSession | None, text: Any, loss: Any = DEFAULT_LOSS, noise_dim: Any = DEFAULT_NOISE_DIM,
        hidden: Any = DEFAULT_HIDDEN, seed: Any = 0, show_gradient: Any = False,
    ) -> tuple:
        """As ``load_csv``, with the CSV given as text."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("paste CSV text first: one point per line, x and y separated by a comma")
        settings = (loss, noise_dim, hidden, seed)
        return self._use_points(state, "csv", toy2d.points_from_csv(text), settings, show_gradient)


# The mode-collapse demo: the ring, the saturating loss, the default networks, k = 1, D's
# learning rate 100 times G's (1e-2 and 1e-4), seed 0, 1,500 training steps (see
# EXPLANATION for what it gives).
COLLAPSE_PRESET = {
    "dataset": "ring", "loss": "minimax", "noise_dim": DEFAULT_NOISE_DIM, "hidden": DEFAULT_HIDDEN,
    "k": 1, "lr_d": 1e-2, "lr_g": 1e-4, "seed": 0, "steps": 1500,
}


def _mode_collapse_preset() -> tuple:
    """The mode-collapse demo's settings, in ``COLLAPSE_PRESET``'s order (the controls it
    sets are listed in that order by their names)."""
    return tuple(COLLAPSE_PRESET.values())


def build_lab(ctx: AppContext) -> GanLab:
    """Build the lab's components inside the current Blocks context and bind its listeners.
    Returns the ``GanLab`` whose methods are the handlers."""
    lab = GanLab(ctx)
    # Computed at build time, so the lab is alive before any event runs.
    first = lab.new_session(_Settings())
    init_plot, init_curves, init_status = lab.views(first, False)
    state = gr.State(None)

    gr.Markdown(
        "Two small networks play the GAN game on points of the plane (after "
        "[GAN Lab](https://poloclub.github.io/ganlab/), Kahng et al. 2018). Step the discriminator and the "
        "generator by hand, or train, and watch D's opinion of every place and G's points move."
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            plot = gr.Plot(init_plot, label="D's decision surface, real and generated points", elem_id="gan-lab-plot")
            status = gr.Markdown(init_status, elem_id="gan-lab-status")
            curves = gr.Plot(init_curves, label="losses and JS divergence", elem_id="gan-lab-curves")
        with gr.Column(scale=2, min_width=320):
            with gr.Group():
                dataset = gr.Dropdown(
                    [(toy2d.SOURCE_NAMES[s], s) for s in toy2d.SOURCES], value=DEFAULT_SOURCE, label="data", elem_id="gan-lab-dataset",
                )
                loss = gr.Dropdown([(LOSS_NAMES[k], k) for k in LOSSES], value=DEFAULT_LOSS, label="loss", elem_id="gan-lab-loss")
                with gr.Row():
                    step_d = gr.Button("Step D", elem_id="gan-lab-step-d")
                    step_g = gr.Button("Step G", elem_id="gan-lab-step-g")
                    step_both = gr.Button("Step both", variant="primary", elem_id="gan-lab-step-both")
                count = gr.Radio([1, 10], value=1, label="steps per click", elem_id="gan-lab-count")
                with gr.Row():
                    train_steps = gr.Slider(50, MAX_TRAIN_STEPS, value=1000, step=50, label="training steps", elem_id="gan-lab-steps")
                with gr.Row():
                    train = gr.Button("Train", variant="primary", elem_id="gan-lab-train")
                    stop = gr.Button("Stop", variant="stop", elem_id="gan-lab-stop")
            with gr.Group():
                with gr.Row():
                    lr_d = gr.Number(DEFAULT_LR, label="learning rate of D", minimum=LR_RANGE[0], maximum=LR_RANGE[1], elem_id="gan-lab-lr-d")
                    lr_g = gr.Number(DEFAULT_LR, label="learning rate of G", minimum=LR_RANGE[0], maximum=LR_RANGE[1], elem_id="gan-lab-lr-g")
                k = gr.Slider(*D_STEPS_RANGE, value=1, step=1, label="k: D steps per G step", elem_id="gan-lab-k")
                show_gradient = gr.Checkbox(False, label="show G's gradient (-∂L_G/∂x) as arrows", elem_id="gan-lab-gradient")
            with gr.Accordion("Networks and seed (apply on Reset)", open=False), gr.Row():
                noise_dim = gr.Slider(*NOISE_DIM_RANGE, value=DEFAULT_NOISE_DIM, step=1, label="noise dimension")
                hidden = gr.Slider(*HIDDEN_RANGE, value=DEFAULT_HIDDEN, step=4, label="hidden width")
                seed = gr.Number(0, label="seed", precision=0, minimum=0)
            with gr.Row():
                reset = gr.Button("Reset", elem_id="gan-lab-reset")
                collapse = gr.Button("Mode-collapse demo", elem_id="gan-lab-collapse")
            with gr.Accordion("Your own points: draw or give a CSV", open=False):
                sketch = gr.Sketchpad(
                    label="draw the real data", canvas_size=(360, 360), fixed_canvas=True, height=440,
                    layers=False, transforms=(), brush=gr.Brush(colors=["#000000"], color_mode="fixed", default_size=6),
                    elem_id="gan-lab-sketch",
                )
                use_drawing = gr.Button("Use my drawing", elem_id="gan-lab-use-drawing")
                csv_file = gr.File(label=f"CSV file: two numeric columns x, y (a header is fine; ≤ {toy2d.MAX_POINTS:,} rows)", file_types=[".csv", ".txt"], type="filepath", elem_id="gan-lab-csv-file")
                csv_text = gr.Textbox(label="or paste CSV", placeholder="x,y\n0.1,2.3\n-1.0,0.4", lines=4, max_lines=12, elem_id="gan-lab-csv-text")
                use_csv = gr.Button("Use pasted points", elem_id="gan-lab-use-csv")
                gr.Markdown(
                    "Pick the brush on the pad's left, draw, then press **Use my drawing**: the pad maps onto the square "
                    "[-2, 2]². CSV points are centred and scaled to fill it."
                )
    with gr.Accordion("What to look for", open=True):
        gr.Markdown(EXPLANATION, latex_delimiters=[{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}])

    views = [state, plot, curves, status]
    settings = [loss, noise_dim, hidden, seed, show_gradient]
    reset_inputs = [state, dataset, *settings]
    rates = [lr_d, lr_g, k, show_gradient]
    # show_progress="hidden" throughout: every handler here answers in well under a
    # second or streams, and on an error Gradio would otherwise cover every output (the
    # lab itself) with an "Error" badge; the toast says what went wrong, the lab stays.
    quiet = {"show_progress": "hidden"}
    reset.click(lab.reset, reset_inputs, views, api_name="gan_lab_reset", **quiet)
    # Another dataset means another game: start it at once. Another loss plays on from
    # the same weights, so one can compare G's gradient under each loss on the same D.
    dataset.input(lab.reset, reset_inputs, views, api_visibility="private", **quiet)
    loss.input(lab.set_loss, [state, loss, show_gradient], views, api_name="gan_lab_set_loss", **quiet)
    preset_controls = {
        "dataset": dataset, "loss": loss, "noise_dim": noise_dim, "hidden": hidden, "k": k, "lr_d": lr_d, "lr_g": lr_g,
        "seed": seed, "steps": train_steps,
    }
    collapse.click(
        _mode_collapse_preset, None, [preset_controls[name] for name in COLLAPSE_PRESET], api_visibility="private", **quiet
    ).then(lab.reset, reset_inputs, views, api_visibility="private", **quiet)
    for button, mode in ((step_d, "d"), (step_g, "g"), (step_both, "both")):
        button.click(
            functools.partial(lab.step, mode=mode), [state, count, *rates], views, api_name=f"gan_lab_step_{mode}",
            trigger_mode="always_last", **quiet,
        )
    train.click(
        lab.train, [state, train_steps, *rates], views, api_name="gan_lab_train",
        concurrency_limit=4, concurrency_id="gan-lab-train", **quiet,
    )
    # Stop sets the session's flag rather than cancelling: a cancelled run would never
    # yield its final state, and the session would lose what it learnt.
    stop.click(lab.stop, None, status, api_name="gan_lab_stop", concurrency_limit=None, **quiet)
    show_gradient.input(lab.redraw, [state, show_gradient], views, api_name="gan_lab_view", **quiet)
    user_views = [state, dataset, plot, curves, status]
    use_drawing.click(lab.draw, [state, sketch, *settings], user_views, api_name="gan_lab_draw", **quiet)
    csv_file.upload(lab.load_csv, [state, csv_file, *settings], user_views, api_name="gan_lab_load_csv", **quiet)
    use_csv.click(lab.paste_csv, [state, csv_text, *settings], user_views, api_name="gan_lab_paste_csv", **quiet)
    return lab

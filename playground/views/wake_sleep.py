"""The wake-sleep page of the Boltzmann tab: the bundled DBN's directed layer untied into
recognition (up) and generative (down) weights and fine-tuned live by wake-sleep (Hinton,
Dayan, Frey & Neal 1995, Science 268; the up-down algorithm's dreams, Hinton, Osindero &
Teh 2006, Neural Computation 18(7)): what each phase changed, the two weight sets, the
bound and reconstruction, samples before and after. The maths is ``models.wake_sleep``.
No gradio here.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor

from models.checks import SEED_MAX, Range, check_int
from models.rbm import weights_as_images
from models.wake_sleep import WakeSleep
from playground.core.plots import image_grid
from playground.views.base import FamilyViews, ModelView, Session

STEPS = Range(1, 2000, 200)
LR = Range(1e-4, 1.0, 0.03, integer=False)
TOP_GIBBS = Range(1, 20, 1)
N_SAMPLES = 36
N_TEST = 300
BOUND_DRAWS = 10
EVAL_EVERY = 25
BATCH = 100
N_FILTERS = 36
YIELD_EVERY_S = 0.4


def _filters(w: Tensor) -> np.ndarray:
    """The first ``N_FILTERS`` units' pixel weights, columns of a (784, H) matrix, as a 6 x 6 mosaic."""
    return image_grid(weights_as_images(w[:, :N_FILTERS]), nrow=6)


class WakeSleepView(ModelView):
    """A DBN (read-only, shareable) and, once fine-tuned in this session, its ``WakeSleep`` copy."""

    def __init__(self, model: Any, name: str, ctx: Any, data: Any = None, tuned: WakeSleep | None = None, history: list | None = None):
        super().__init__(model, name, ctx, data)
        self.tuned, self.history = tuned, history or []

    @functools.cached_property
    def before(self) -> Tensor:
        """Samples of the DBN as greedy training left it (tied weights): its ``n_gibbs`` Gibbs steps in the top RBM, then down; seed 0."""
        return WakeSleep(self.model).sample(N_SAMPLES, self.model.n_gibbs, torch.Generator().manual_seed(0)).cpu()

    def describe(self) -> str:
        sizes = " → ".join(str(n) for n in [784, *self.model.hidden_sizes])
        tuned = f" · fine-tuned by wake-sleep here ({self.history[-1]['step']} steps)" if self.tuned is not None and self.history else ""
        return f"**DBN: {self.name}** · layers {sizes}{tuned}"


class WakeSleepViews(FamilyViews[Session]):
    """What the wake-sleep page computes (see the module docstring)."""

    families = ("dbn",)
    bundled = {"dbn": "dbn"}
    session_class = Session
    view_classes = {"dbn": WakeSleepView}

    def slot(self, model: Any) -> str:
        """"dbn". Raises ValueError: a one-layer DBN (nothing directed to untie)."""
        if len(model.hidden_sizes) < 2:
            raise ValueError("wake-sleep needs a DBN of at least 2 layers")
        return "dbn"

    def pictures(self, session: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, go.Figure, str]:
        """Samples before and after (None before any fine-tuning), the recognition and the
        generative weights of layer 1 (36 units each, 28 x 28, grey = 0), the phases' figure
        and a summary (markdown)."""
        view = self.session(session).view
        tuned = view.tuned or WakeSleep(view.model)
        after = None if view.tuned is None else image_grid(view.tuned.sample(N_SAMPLES, view.model.n_gibbs, torch.Generator().manual_seed(0)).cpu(), nrow=6)
        recognition, generative = _filters(tuned.recognition_weights[0].detach().cpu()), _filters(tuned.generative_weights[0].detach().T.cpu())
        return image_grid(view.before, nrow=6), after, recognition, generative, _phases_figure(view.history), _summary(view.history, tuned)

    def fine_tune(self, session: Any, steps: Any, lr: Any, top_gibbs: Any, seed: Any, *, stop: threading.Event, data: Any = None) -> Iterator[tuple]:
        """Fine-tune the session's DBN (again from its greedy weights) by steps (1 to 2,000) wake-sleep steps of 100 training digits and 100 dreams each, learning rate lr
        (1e-4 to 1), top_gibbs (1 to 20) Gibbs steps of the top RBM per dream, seed in [0, 2^31). Yields (status, phases figure, samples after (at the end), recognition
        weights, generative weights). A run that ends or is stopped keeps the fine-tuned copy in the session."""
        steps, lr, top_gibbs = STEPS.check("steps", steps), LR.check("learning rate", lr), TOP_GIBBS.check("top-level Gibbs steps", top_gibbs)
        seed = check_int("seed", seed, 0, SEED_MAX)
        session = self.session(session)
        view = session.view
        data = data or view.data
        model, g = WakeSleep(view.model, top_gibbs).to(self.ctx.device), torch.Generator().manual_seed(seed)
        x, x_test = data.images("train", "binary").to(self.ctx.device), data.images("test", "binary")[:N_TEST].to(self.ctx.device)
        history = [_evaluate(model, x_test, 0, {"generative": 0.0, "recognition": 0.0}, {"generative": 0.0, "recognition": 0.0})]
        yield "Starting…", _phases_figure(history), None, None, None
        last = time.perf_counter()
        step = 0
        while step < steps and not stop.is_set():
            batch = x[torch.randint(0, len(x), (BATCH,), generator=g).to(x.device)]
            wake, sleep = model.wake(batch, lr, g), model.sleep(BATCH, lr, g)
            step += 1
            if step % EVAL_EVERY == 0 or step == steps:
                history.append(_evaluate(model, x_test, step, wake, sleep))
            if time.perf_counter() - last >= YIELD_EVERY_S:
                last = time.perf_counter()
                yield f"step {step} / {steps} · {_summary(history, model)}", _phases_figure(history), None, None, None
        if history[-1]["step"] != step:
            history.append(_evaluate(model, x_test, step, wake, sleep))
        self.use(session, WakeSleepView(view.model, view.name, self.ctx, view.data, model, history))
        after, recognition, generative = self.pictures(session)[1:4]
        done = "stopped" if step < steps else "done"
        yield f"**{done}** after {step} steps. {_summary(history, model)} The samples after fine-tuning are shown.", _phases_figure(history), after, recognition, generative


@torch.no_grad()
def _evaluate(model: WakeSleep, x_test: Tensor, step: int, wake: dict[str, float], sleep: dict[str, float]) -> dict[str, Any]:
    """One point of the history: the bound (without the frozen top RBM's log Z) and the reconstruction on the test digits, and what each phase just changed."""
    bound = float(model.bound(x_test, BOUND_DRAWS, torch.Generator().manual_seed(1)).mean())
    return {"step": step, "bound": bound, "reconstruction": float(model.reconstruction(x_test).mean()), "wake": wake, "sleep": sleep}


def _summary(history: list[dict], model: WakeSleep) -> str:
    """Markdown: the bound and reconstruction now and at the start, and what the last phases changed."""
    if len(history) < 2:
        return (
            "Untied from the greedy DBN: recognition and generative weights are still transposes of each other. Press Fine-tune: "
            "each step is a wake phase (only the generative weights move) and a sleep phase (only the recognition weights move)."
        )
    first, now = history[0], history[-1]
    return (
        f"Test bound E_q[log p(v, h) − log q(h | v)] (top RBM's log Z left out, it does not change): {first['bound']:.2f} → **{now['bound']:.2f}** nats; "
        f"reconstruction cross-entropy {first['reconstruction']:.2f} → **{now['reconstruction']:.2f}** nats. Last wake phase: generative weights moved "
        f"up to {now['wake']['generative']:.1e}, recognition {now['wake']['recognition']:g}; last sleep phase: recognition up to "
        f"{now['sleep']['recognition']:.1e}, generative {now['sleep']['generative']:g}."
    )


def _phases_figure(history: list[dict]) -> go.Figure:
    """Left: what each phase changed (largest weight change of each set, log scale); right: the test bound."""
    steps = [h["step"] for h in history[1:]]
    figure = go.Figure()
    figure.add_scatter(x=steps, y=[h["wake"]["generative"] for h in history[1:]], name="wake: generative Δ", mode="lines")
    figure.add_scatter(x=steps, y=[h["sleep"]["recognition"] for h in history[1:]], name="sleep: recognition Δ", mode="lines")
    figure.add_scatter(x=[h["step"] for h in history], y=[h["bound"] for h in history], name="test bound (nats)", mode="lines+markers", xaxis="x2", yaxis="y2")
    figure.update_layout(
        height=280, margin=dict(l=50, r=10, t=30, b=30), legend=dict(orientation="h", y=-0.15),
        xaxis=dict(domain=[0, 0.45]), yaxis=dict(type="log", exponentformat="power", title="largest change"),
        xaxis2=dict(domain=[0.58, 1], anchor="y2"), yaxis2=dict(anchor="x2", title="bound, nats"),
        title="against the step: each phase moves only its own weights · the test bound",
    )
    return figure

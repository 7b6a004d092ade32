"""The 2D GAN lab, a sub-tab of the GAN tab: layout and thin handlers over
``playground.views.gan_lab``. The GAN tab builds it in its "2D GAN lab" page
(``LabTab.create(ctx)``).

Every handler answers in well under a second or streams, so progress is hidden: on an
error Gradio would otherwise cover the lab with "Error" badges, where the toast and the
lab's note say what went wrong and the lab stays.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import gradio as gr

from models.gan import LOSS_NAMES, LOSSES
from playground.core import toy2d
from playground.ui import inputs
from playground.ui.panels import CLICK_JS, Tab, bind_training
from playground.ui.widgets import Panel, PointsBox, how_it_works, panel_note, seed_box, slider, ui_handler
from playground.views.base import Context
from playground.views.gan_lab import COLLAPSE_PRESET, DEFAULT_LOSS, DEFAULT_SOURCE, HIDDEN, LR, NOISE_DIM, TRAIN_STEPS, K, LabFrame, LabViews

LAB_KEY = "gan-lab-train"
RATES = f"{LR.low:g}…{LR.high:g}".replace("e-0", "e-")  # "1e-5…1": short enough for a label on one line
QUIET = {"show_progress": "hidden"}
STEP_DOCS = {
    "d": "Update D only, 1 to 100 times (steps per click).",
    "g": "Update G only, 1 to 100 times (steps per click).",
    "both": "Update both networks (k steps of D, then one of G), 1 to 100 times.",
}
STEP_ARGS = (
    " Learning rates of D and G: 1e-5 to 1; k: D steps per G step, 1 to 10; show_gradient: draw G's gradient as arrows."
    " If a step diverges, the weights from before it are kept and the status says so."
)

POINTS_DOCS = {
    "draw": "Use the points drawn on the sketchpad (600 sampled from the black ink) as the real data and restart the GAN with the other settings, as reset does. Returns \"drawn\" for the dataset menu, the decision surface, the curves and the status.",
    "load_csv": "Use the points of an uploaded CSV file (two numeric columns x, y; a header row is allowed; at most 5,000 rows and 1 MB), centred and scaled into the square from -2 to 2, and restart as draw does (\"csv\" for the dataset menu).",
    "paste_csv": "As load_csv, with the CSV given as text (one point per line, x and y separated by a comma).",
}


def _shown(session: Any, frame: LabFrame, toast: Callable[[str], Any] | None = None) -> tuple:
    """(session, figure, curves, status) for the lab's outputs, toasting the frame's
    notice with ``toast`` (gr.Warning or gr.Info)."""
    if toast is not None and frame.notice:
        toast(frame.notice)
    return session, frame.figure, frame.curves, frame.status


class LabTab(Tab):
    """The 2D GAN lab, a page of the GAN tab (see the module docstring). Its views need no
    model of the app, only the session registry of ``ctx``."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.views = LabViews()

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    def reset(
        self, state: Any, dataset: Any = DEFAULT_SOURCE, loss: Any = DEFAULT_LOSS, noise_dim: Any = NOISE_DIM.default,
        hidden: Any = HIDDEN.default, seed: Any = 0, show_gradient: Any = False,
    ) -> tuple:
        """Start again: fresh networks on the dataset (ring, grid, spiral, moons, drawn or csv; the last two need points given before with draw, load_csv or paste_csv), with the loss (non_saturating, minimax or wgan_gp), a noise dimension of 1 to 16, 4 to 256 hidden units and the seed (weights, data and minibatches). Returns the decision surface, the curves and the status."""
        session, frame = self.views.reset(state, dataset, loss, noise_dim, hidden, seed, show_gradient)
        return _shown(session, frame)

    def set_loss(self, state: Any, loss: Any = DEFAULT_LOSS, show_gradient: Any = False) -> tuple:
        """Play on with another loss (non_saturating, minimax or wgan_gp) from the current weights: D's surface stays, G's gradient changes at once (see the arrows)."""
        session = self.views.session(state)
        return _shown(session, self.views.set_loss(session, loss, show_gradient))

    def step(
        self, state: Any, count: Any = 1, lr_d: Any = LR.default, lr_g: Any = LR.default, k: Any = K.default, show_gradient: Any = False,
        mode: str = "both",
    ) -> tuple:
        """One click of Step D, Step G or Step both (mode "d", "g" or "both")."""
        session = self.views.session(state)
        return _shown(session, self.views.step(session, count, lr_d, lr_g, k, show_gradient, mode), gr.Warning)

    def _stepper(self, mode: str) -> Callable[..., tuple]:
        """The handler of one Step button, documented for the API page."""

        def step(state: Any, count: Any = 1, lr_d: Any = LR.default, lr_g: Any = LR.default, k: Any = K.default, show_gradient: Any = False) -> tuple:
            return self.step(state, count, lr_d, lr_g, k, show_gradient, mode)

        step.__name__ = f"step_{mode}"
        step.__doc__ = STEP_DOCS[mode] + STEP_ARGS
        return step

    def redraw(self, state: Any, show_gradient: Any = False) -> tuple:
        """The lab as it is, with or without G's gradient as arrows: the decision surface, the curves and the status."""
        session = self.views.session(state)
        return _shown(session, self.views.frame(session, show_gradient))

    def _points(self, kind: str, name: str, default: Any) -> Callable[..., tuple]:
        """The handler of one way of giving the lab its real points (the view's ``kind``:
        draw, load_csv or paste_csv), its first input named ``name`` on the API page."""
        use = getattr(self.views, kind)

        def handler(
            state: Any, points: Any = default, loss: Any = DEFAULT_LOSS, noise_dim: Any = NOISE_DIM.default,
            hidden: Any = HIDDEN.default, seed: Any = 0, show_gradient: Any = False,
        ) -> tuple:
            return _with_source(*use(state, points, loss, noise_dim, hidden, seed, show_gradient))

        signature = inspect.signature(handler)
        renamed = [p.replace(name=name) if p.name == "points" else p for p in signature.parameters.values()]
        handler.__signature__ = signature.replace(parameters=renamed)
        handler.__name__, handler.__doc__ = kind, POINTS_DOCS[kind]
        return handler

    # -- layout ----------------------------------------------------------------------------------------
    def build(self) -> None:
        """Lay out the lab inside the current Blocks and bind its events: the plot with its
        play controls (data, loss, steps, Train, the mode-collapse demo) and its settings
        beside it, on one 1280 x 720 screen; the status and curves below."""
        # Computed at build time, so the lab is alive before any event runs.
        first = self.views.frame(self.views.session(None))
        self.state = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=420):
                # The figure's own title names the data, loss and step: no label above it.
                self.plot = gr.Plot(first.figure, label="the 2D GAN lab: data, samples and what D says", show_label=False, elem_id="gan-lab-plot")
            with gr.Column(scale=3, min_width=250):
                self._play_layout()
            with gr.Column(scale=3, min_width=250):
                self._rates_layout()
        self.status = gr.Markdown(first.status, label="the lab's status", elem_id="gan-lab-status")
        self.note = panel_note(elem_id="gan-lab-note")
        with gr.Row(equal_height=False):
            with gr.Accordion("Networks and seed (apply on Reset)", open=False), gr.Row():
                self.noise_dim = slider(NOISE_DIM, "noise dimension")
                self.hidden = slider(HIDDEN, "hidden width", step=4)
                self.seed = seed_box()
            self._points_layout()
        self.curves = gr.Plot(first.curves, label="losses and JS divergence", elem_id="gan-lab-curves")
        with gr.Accordion("What to look for", open=True):
            gr.Markdown(
                "Two small networks play the GAN game on points of the plane (after "
                "[GAN Lab](https://poloclub.github.io/ganlab/), Kahng et al. 2018)."
            )
            how_it_works("gan_lab")
        self._bind()

    def _play_layout(self) -> None:
        self.collapse_btn = gr.Button("▶ Mode-collapse demo", variant="primary", elem_id="gan-lab-collapse")
        with gr.Group():
            self.dataset = inputs.Dropdown(
                [(toy2d.SOURCE_NAMES[s], s) for s in toy2d.SOURCES], value=DEFAULT_SOURCE, label="data", elem_id="gan-lab-dataset",
            )
            self.loss = inputs.Dropdown([(LOSS_NAMES[k], k) for k in LOSSES], value=DEFAULT_LOSS, label="loss", elem_id="gan-lab-loss")
        self.train_steps = slider(TRAIN_STEPS, "training steps", elem_id="gan-lab-steps")
        with gr.Row():
            self.train_btn = gr.Button("Train", variant="primary", min_width=70, elem_id="gan-lab-train")
            self.stop_btn = gr.Button("Stop", variant="stop", min_width=70, elem_id="gan-lab-stop")
            self.reset_btn = gr.Button("Reset", min_width=70, elem_id="gan-lab-reset")

    def _rates_layout(self) -> None:
        with gr.Row():
            self.step_d = gr.Button("Step D", size="sm", min_width=60, elem_id="gan-lab-step-d")
            self.step_g = gr.Button("Step G", size="sm", min_width=60, elem_id="gan-lab-step-g")
            self.step_both = gr.Button("Step both", size="sm", min_width=80, elem_id="gan-lab-step-both")
        with gr.Group():
            self.count = inputs.Radio([1, 10], value=1, label="steps per click of Step", elem_id="gan-lab-count")
            with gr.Row():
                self.lr_d = inputs.Number(LR.default, label=f"lr of D ({RATES})", min_width=100, elem_id="gan-lab-lr-d")
                self.lr_g = inputs.Number(LR.default, label=f"lr of G ({RATES})", min_width=100, elem_id="gan-lab-lr-g")
            self.k = slider(K, "k: D steps per G step", elem_id="gan-lab-k")
        self.show_gradient = inputs.Checkbox(False, label="show G's gradient as arrows", elem_id="gan-lab-gradient")

    def _points_layout(self) -> None:
        box = PointsBox.build(
            "gan-lab", label="draw the real data", canvas=360, side_by_side=False,
            hint="Pick the brush on the pad's left, draw, then press **Use my drawing**: the pad maps onto the square [-2, 2]². CSV points are centred and scaled to fill it.",
        )
        self.sketch, self.use_drawing, self.csv_file, self.csv_text, self.use_csv = box.sketch, box.use_drawing, box.csv_file, box.csv_text, box.use_csv

    # -- events ------------------------------------------------------------------------------------------
    def _bind(self) -> None:
        state = self.state
        lab = self.panel()
        settings = [self.loss, self.noise_dim, self.hidden, self.seed, self.show_gradient]
        rates = [self.lr_d, self.lr_g, self.k, self.show_gradient]
        lab.on(self.reset_btn.click, self.reset, [state, self.dataset, *settings], api_name="gan_lab_reset", **QUIET)
        # Another dataset means another game: start it at once. Another loss plays on from
        # the same weights, so one can compare G's gradient under each loss on the same D.
        lab.on(self.dataset.input, self.reset, [state, self.dataset, *settings], api_visibility="private", **QUIET)
        lab.on(self.loss.input, self.set_loss, [state, self.loss, self.show_gradient], api_name="gan_lab_set_loss", **QUIET)
        by_name = {
            "dataset": self.dataset, "loss": self.loss, "noise_dim": self.noise_dim, "hidden": self.hidden, "k": self.k, "lr_d": self.lr_d,
            "lr_g": self.lr_g, "seed": self.seed, "steps": self.train_steps,
        }
        controls = [by_name[name] for name in COLLAPSE_PRESET]
        # The demo sets its controls, starts a fresh lab, then presses Train in the browser
        # (so the run streams, with its Stop, as any other).
        self.collapse_btn.click(lambda: tuple(COLLAPSE_PRESET.values()), None, controls, api_visibility="private", **QUIET).then(
            ui_handler(self.reset), [state, self.dataset, *settings], lab.outputs, api_visibility="private", **QUIET,
        ).success(None, None, None, js=CLICK_JS.replace("SELECTOR", "#gan-lab-train"))
        for button, mode in ((self.step_d, "d"), (self.step_g, "g"), (self.step_both, "both")):
            lab.on(button.click, self._stepper(mode), [state, self.count, *rates], api_name=f"gan_lab_step_{mode}", trigger_mode="always_last", **QUIET)
        bind_training(
            self.ctx, self.views, LAB_KEY, self.train_btn, self.stop_btn, self.status, state, self.views.train,
            [self.train_steps, *rates], lab.outputs[1:], "gan_lab_train", "gan_lab_stop",
            concurrency_limit=4, concurrency_id="gan-lab-train", **QUIET,
        )
        lab.on(self.show_gradient.input, self.redraw, [state, self.show_gradient], api_name="gan_lab_view", **QUIET)
        with_source = [state, self.dataset, *lab.outputs[1:]]
        lab.on(self.use_drawing.click, self._points("draw", "sketch", None), [state, self.sketch, *settings], with_source, api_name="gan_lab_draw", **QUIET)
        lab.on(self.csv_file.upload, self._points("load_csv", "file", None), [state, self.csv_file, *settings], with_source, api_name="gan_lab_load_csv", **QUIET)
        lab.on(self.use_csv.click, self._points("paste_csv", "text", ""), [state, self.csv_text, *settings], with_source, api_name="gan_lab_paste_csv", **QUIET)

    def panel(self) -> Panel:
        """The lab as one panel: its figures and status, and the note that says why an
        action was refused."""
        return Panel(self.redraw, [self.state, self.show_gradient], [self.state, self.plot, self.curves, self.status], self.note)


def _with_source(session: Any, frame: LabFrame) -> tuple:
    """(session, the dataset menu's new value, figure, curves, status), toasting which
    points are used."""
    state, *shown = _shown(session, frame, gr.Info)
    return state, session.source, *shown

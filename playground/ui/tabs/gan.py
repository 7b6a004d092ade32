"""The GAN tab: layout and thin handlers over ``playground.views.gan``, with the 2D GAN
lab (``playground.ui.tabs.gan_lab``) in a sub-tab.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from models.gan import LOSS_NAMES, LOSSES
from playground.ui import inputs
from playground.ui.panels import Tab, TrainingPanel, tabs
from playground.ui.tabs.began import BeganTab
from playground.ui.tabs.cyclegan import CycleTab
from playground.ui.tabs.gan_lab import LabTab
from playground.ui.tabs.srgan import SRTab
from playground.ui.tabs.truncation import TruncationTab
from playground.ui.widgets import Panel, digit_pad, how_it_works, image_output, panel_note, redraw_on, reporter, seed_box, slider, ui_handler
from playground.views import inversion
from playground.views.datasets import DataViews
from playground.views.gan import CARD, D_STEPS, DEFAULT_DIGIT, DROPOUT, LATENT, LR, STEPS, SWEEP_ROWS, TOUR, TRAIN_DEFAULTS, WIDTHS, GanViews
from playground.views.gan_latent import DEFAULT_INTERPOLATION, INTERPOLATION_STEPS, MAX_SLOT, POOL_COLUMNS, POOL_SIZE

API = "gan"
DIGITS = [str(d) for d in range(10)]
NO_ANIMATION = "Nothing to download yet: train a model first (Train sub-tab); its progress frames make the GIF."
CLEARED = "Slots cleared: click samples in the pool below to fill A, B and C, then press **Compute A − B + C**."


class GanTab(Tab):
    """The GAN tab (see the module docstring)."""

    views_class = GanViews
    card, tour, explain_tab = CARD, TOUR, "gan-explain"

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    def samples(self, state: Any, seed: Any = 0):
        """Samples G(z) drawn with the seed (0 to 2^31 - 1): an 8 x 8 grid, or for a conditional model 8 rows x 10 columns, column c asked for digit c."""
        return self.views.samples(state, seed)

    def animation(self, state: Any):
        """The session's last training run as a GIF (path), or nothing before any run (with a warning: train a model first)."""
        path = self.views.animation(state)
        if path is None:
            gr.Warning(NO_ANIMATION)
        return path

    def pool(self, state: Any, pool_seed: Any = 0):
        """The 60 numbered samples (captions #0 to #59, with the digit a conditional model drew) that interpolation and arithmetic pick from, drawn with the pool seed (0 to 2^31 - 1)."""
        return self.views.pool(state, pool_seed)

    def interpolate(self, state: Any, pool_seed: Any, index_a: Any, index_b: Any, n_steps: Any = INTERPOLATION_STEPS.default):
        """Decode latents between pool samples A and B (0 to 59): top row linear, bottom row spherical, 3 to 20 images each; a conditional model's label blends from A's digit to B's. An empty sample box leaves the picture as it is."""
        if index_a is None or index_b is None:  # a box being retyped
            return gr.skip()
        return self.views.interpolate(state, pool_seed, index_a, index_b, n_steps)

    def walk(self, state: Any, pool_seed: Any, index_a: Any, index_b: Any, walk_seed: Any = 0):
        """A looping GIF of a latent walk: along great circles from pool sample A to B, on to two latents drawn with the walk seed, and back to A."""
        return self.views.walk(state, pool_seed, index_a, index_b, walk_seed)

    def arithmetic(
        self, state: Any, pool_seed: Any, slot_a: Any = "", slot_b: Any = "", slot_c: Any = "",
        label_a: Any = "7", label_b: Any = "7", label_c: Any = "1", noise_seed: Any = 0,
    ):
        """Latent vector arithmetic (Radford et al. 2015, Fig. 7): decode mean(z_A) - mean(z_B) + mean(z_C) of pool samples (each slot 1 to 8 numbers from 0 to 59, e.g. "3, 7, 12") and 8 neighbours (noise of standard deviation 0.25 drawn with the noise seed). The digits (0 to 9) are what a conditional model draws the slots as (the result as C's). Returns the three slot means and the result, the 3 x 3 neighbours (exact result in the centre) and a table of the classifier's reading and stroke thickness."""
        return self.views.arithmetic(state, pool_seed, slot_a, slot_b, slot_c, label_a, label_b, label_c, noise_seed)

    def preset(self, state: Any, pool_seed: Any, progress: Any = gr.Progress()):  # noqa: B008 - Gradio's way to ask for progress
        """Fill the slots with the worked example thick 7 - thin 7 + thin 1 and compute it. An unconditional model searches pools from the seed on (up to 50) for one where the result reads as a thicker 1. Returns the pool seed taken, its pool, the three slots, their digits and the arithmetic's three outputs."""
        return self.views.preset(state, pool_seed, progress=reporter(progress))

    def digit_grid(self, state: Any, digit: Any = str(DEFAULT_DIGIT), seed: Any = 0):
        """64 styles of one digit (0 to 9) from the conditional model, z drawn with the seed; returns the 8 x 8 grid and a line saying which model and how many the classifier reads as that digit."""
        return self.views.digit_grid(state, digit, seed)

    def label_sweep(self, state: Any, seed: Any = 0, n_rows: Any = SWEEP_ROWS.default):
        """Fix z, sweep the label: 1 to 12 latents (rows, drawn with the seed), each drawn as digits 0 to 9 (columns) by the conditional model."""
        return self.views.label_sweep(state, seed, n_rows)

    def nearest_sample(
        self, state: Any, drawing: Any = None, steps: Any = inversion.STEPS.default, restarts: Any = inversion.RESTARTS.default, seed: Any = 0,
    ):
        """The sample nearest to a drawing (an image, dark strokes on a light page; it is scaled to 28 x 28 as MNIST digits are), found by latent optimisation: Adam steps (10 to 300) on z from random starts (1 to 8, drawn with the seed; a conditional model tries each with every label 0 to 9). Returns the drawing beside the nearest sample, the path from the best start (and for a conditional model the nearest sample of each label), and the distance, label and time."""
        return inversion.nearest_sample(self.views, state, drawing, steps, restarts, seed)

    def clear_slots(self) -> tuple:
        """Empty slots A, B and C, and the result computed from them."""
        return "", "", "", None, None, CLEARED, ""

    # -- what a change of model or the tour redraws -------------------------------------------------
    def _redraw_nearest(self, state: Any, drawing: Any, steps: Any, restarts: Any, seed: Any) -> tuple:
        if not inversion.is_drawn(drawing):  # an untouched pad: ask for a drawing rather than warn
            return gr.update(value=None), gr.update(value=None), inversion.PROMPT_NEAREST
        return self.nearest_sample(state, drawing, steps, restarts, seed)

    def _replay(self, state: Any) -> tuple:
        path = self.views.animation(state)
        return path, gr.update(value=path, **_animation_button_state(path))

    def _pool_and_interpolation(self, state: Any, pool_seed: Any, index_a: Any, index_b: Any, n_steps: Any) -> tuple:
        return self.views.pool(state, pool_seed), self.views.interpolate(state, pool_seed, index_a, index_b, n_steps)

    def _styles_and_sweep(self, state: Any, digit: Any, seed: Any, n_rows: Any) -> tuple:
        return (*self.views.digit_grid(state, digit, seed), self.views.label_sweep(state, seed, n_rows))

    def _redraw_arithmetic_pool(self, state: Any, pool_seed: Any) -> tuple:
        session = self.views.session(state)
        return self.views.pool(session, pool_seed), gr.update(visible=session.view.conditional)

    # -- layout ------------------------------------------------------------------------------------------
    def build(self) -> None:
        """Lay out the tab inside the current Blocks and bind its events."""
        first = self.views.session(None)
        self.state = gr.State(None)
        self.header(first, ["gan", "cgan"], "gan", "gan-ckpt")
        self.pages([
            ("Samples", "gan-samples-tab", lambda: self._samples_layout(first)),
            ("Vector arithmetic", "gan-arith", lambda: self._arithmetic_layout(first)),
            ("Interpolation", "gan-interp", lambda: self._interpolation_layout(first)),
            ("Class-conditional", "gan-cond", lambda: self._conditional_layout(first)),
            ("Nearest sample", "gan-nearest", self._nearest_layout),
            ("2D GAN lab", "gan-lab", self._lab_layout),
            ("More GANs", "gan-more", self._more_layout),
            ("Train", "gan-train", self._train_layout),
            ("How it works", "gan-explain", lambda: how_it_works("gan")),
        ])
        self._bind()

    def _samples_layout(self, first: Any) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=260):
                self.seed = seed_box("sample seed", elem_id="gan-sample-seed")
                self.resample = gr.Button("New samples", variant="primary", elem_id="gan-resample")
                gr.Markdown(
                    "Each digit is G(z) for a random code z drawn from N(0, I). A GAN never computes p(x): "
                    "it is judged by what it draws, and what its codes can do."
                )
                self.to_arithmetic = gr.Button("Add and subtract them → Vector arithmetic", elem_id="gan-to-arith")
            with gr.Column(scale=3):
                self.sample_img = image_output("samples G(z)", size=360, value=self.views.samples(first, 0), elem_id="gan-samples")
                self.sample_note = panel_note()

    def _nearest_layout(self) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                self.near_pad = digit_pad("draw a digit (dark on light)", "gan-near-pad")
                self.near_btn = gr.Button("Find the nearest sample", variant="primary", elem_id="gan-near-run")
            with gr.Column(scale=3):
                with gr.Row():
                    self.near_steps = slider(inversion.STEPS, "Adam steps", min_width=120)
                    self.near_restarts = slider(inversion.RESTARTS, "random starts (per label)", min_width=120)
                    self.near_seed = seed_box("start seed", min_width=100)
                self.near_img = image_output("your drawing (as the model sees it) · the nearest sample G(z*)", size=150, elem_id="gan-near-image")
                self.near_path = image_output("the way from the best random start to z* (a conditional GAN: below, the nearest of each label 0–9)", size=130, elem_id="gan-near-path")
                self.near_note = panel_note()
                self.near_text = gr.Markdown(inversion.PROMPT_NEAREST, label="the distance found", show_label=False, elem_id="gan-near-text")

    def _more_layout(self) -> None:
        # The lectures' other GANs, one page each inside this one (twelve pages in a row overflowed the tab bar at 1280 px).
        tabs([
            ("CycleGAN", "gan-cycle", lambda: CycleTab.create(self.ctx)),
            ("SRGAN", "gan-sr", lambda: SRTab.create(self.ctx)),
            ("BEGAN", "gan-began", lambda: BeganTab.create(self.ctx)),
            ("Truncation", "gan-truncation", lambda: TruncationTab.create(self.ctx)),
        ])

    def _lab_layout(self) -> None:
        self.lab = LabTab.create(self.ctx)

    def _train_layout(self) -> None:
        t = TRAIN_DEFAULTS
        with gr.Row(equal_height=False):
            self.loss = inputs.Dropdown([(LOSS_NAMES[k], k) for k in LOSSES], value=t["loss"], label="loss", scale=2, elem_id="gan-train-loss")
            with gr.Column(scale=3):
                self.conditional = inputs.Checkbox(value=t["conditional"], label="conditional GAN (G and D see the label)")
                self.spectral = inputs.Checkbox(value=t["spectral_norm"], label="spectral norm on D")
                self.mbstd = inputs.Checkbox(value=t["minibatch_std"], label="minibatch std in D (against mode dropping)")
        with gr.Row():
            self.d_steps = slider(D_STEPS, "k: D steps per G step")
            self.latent = slider(LATENT, "latent size")
            self.width = inputs.Dropdown(list(WIDTHS), value=t["width"], label="width (channels)")
            self.dropout = slider(DROPOUT, "dropout in D", step=0.05)
            self.lr_d = inputs.Number(value=LR.default, label=f"D learning rate ({LR.low:g} to {LR.high:g})", minimum=LR.low, maximum=LR.high)
        self.training = TrainingPanel.build("gan-train", STEPS, LR, lr_label="G learning rate", steps_step=1, data_line=DataViews(self.ctx).line())
        with gr.Row():
            self.progress_img = image_output("samples from fixed noise, as it trains", size=320, elem_id="gan-train-samples")
            self.d_curves = gr.Plot(label="what D says", elem_id="gan-train-d")
        with gr.Row():
            self.animation_img = gr.Image(
                label="training progress (replay)", height=320, interactive=False, elem_classes=["pixelated", "fill"], elem_id="gan-train-animation",
            )
            # Disabled until a run has frames: before, a click would have nothing to give.
            self.animation_file = gr.DownloadButton(value=None, variant="secondary", elem_id="gan-train-gif", **_animation_button_state(None))

    def _pool_gallery(self, items: list, elem_id: str, label: str) -> gr.Gallery:
        # Tall enough for all six rows at any width (column c: a conditional model's digit c).
        return gr.Gallery(
            value=items, label=label, columns=POOL_COLUMNS, height="fit-content",
            allow_preview=False, object_fit="contain", format="png", elem_classes=["pixelated"], buttons=[], elem_id=elem_id,
        )

    def _interpolation_layout(self, first: Any) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                with gr.Row():
                    self.index_a = inputs.Number(value=DEFAULT_INTERPOLATION[0], label=f"sample A (#, 0-{POOL_SIZE - 1})", precision=0, min_width=120)
                    self.index_b = inputs.Number(value=DEFAULT_INTERPOLATION[1], label=f"sample B (#, 0-{POOL_SIZE - 1})", precision=0, min_width=120)
                self.which = inputs.Radio(["A", "B"], value="A", label="a click in the pool below sets")
                self.n_steps = slider(INTERPOLATION_STEPS, "images")
                with gr.Row():
                    self.pool_seed_i = seed_box("sample pool seed", min_width=120)
                    self.walk_seed = seed_box("walk seed", min_width=120)
                self.walk_btn = gr.Button("Latent walk A → B → two random points → A", elem_id="gan-walk-run")
            with gr.Column(scale=3):
                self.interp_img = image_output(
                    "linear (top) and spherical (bottom) paths from A to B", size=160, value=self.views.interpolate(first, 0, *DEFAULT_INTERPOLATION),
                    elem_id="gan-interp-image",
                )
                self.interp_note = panel_note(elem_id="gan-interp-note")
                self.walk_img = gr.Image(
                    self.views.walk(first, 0, *DEFAULT_INTERPOLATION), label="latent walk (a looping GIF)", height=190, interactive=False,
                    elem_classes=["pixelated"], elem_id="gan-walk",
                )
                self.walk_note = panel_note()
        self.pool_i_note = panel_note()
        self.pool_i = self._pool_gallery(self.views.pool(first, 0), "gan-pool-interp", "sample pool: click to pick A or B (numbers are #index)")

    def _arithmetic_layout(self, first: Any) -> None:
        seed, pool, a, b, c, la, lb, lc, equation, neighbours, table = self.views.preset(first, 0)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                self.preset_btn = gr.Button("Preset: thick 7 − thin 7 + thin 1", variant="primary", elem_id="gan-arith-preset")
                with gr.Row():
                    self.slot_a = inputs.Textbox(value=a, label="slot A (#s)", elem_id="gan-slot-a", min_width=90)
                    self.slot_b = inputs.Textbox(value=b, label="slot B", elem_id="gan-slot-b", min_width=90)
                    self.slot_c = inputs.Textbox(value=c, label="slot C", elem_id="gan-slot-c", min_width=90)
                with gr.Row(visible=first.view.conditional) as self.label_row:
                    self.label_a = inputs.Dropdown(DIGITS, value=la, label="A as digit", min_width=90)
                    self.label_b = inputs.Dropdown(DIGITS, value=lb, label="B as digit", min_width=90)
                    self.label_c = inputs.Dropdown(DIGITS, value=lc, label="C, result as", min_width=90)
                with gr.Row():
                    self.arith_btn = gr.Button("Compute A − B + C", elem_id="gan-arith-run")
                    self.clear_btn = gr.Button("Clear slots", elem_id="gan-arith-clear")
                with gr.Row():
                    self.pool_seed_a = seed_box("sample pool seed", value=seed, min_width=120)
                    self.noise_seed = seed_box("neighbour noise seed", min_width=120)
            with gr.Column(scale=3):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=300):
                        self.eq_img = image_output("mean of A − mean of B + mean of C = result", size=150, value=equation, elem_id="gan-arith-equation")
                    with gr.Column(scale=1, min_width=150):
                        self.nb_img = image_output("its neighbours", size=150, value=neighbours, elem_id="gan-arith-neighbours")
                self.arith_note = panel_note(elem_id="gan-arith-note")
                self.arith_table = gr.Markdown(table, label="the classifier's reading", show_label=False, elem_id="gan-arith-table")
        gr.Markdown(
            "Each slot averages the codes of its samples, as in Radford et al. (2015). Pick samples below "
            "(the radio says which slot a click adds to), then **Compute A − B + C**."
        )
        self.target = inputs.Radio(["A", "B", "C"], value="A", label="a click adds to slot")
        self.pool_a_note = panel_note()
        self.pool_a = self._pool_gallery(pool, "gan-pool-arith", "sample pool (numbers are #index)")

    def _conditional_layout(self, first: Any) -> None:
        grid, note = self.views.digit_grid(first, DEFAULT_DIGIT, 0)
        self.cond_info = gr.Markdown(self.views.conditional_info(first), label="which model", show_label=False)
        self.cond_info_note = panel_note()
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=260):
                self.digit = inputs.Radio(DIGITS, value=str(DEFAULT_DIGIT), label="digit", elem_id="gan-cond-digit")
                self.cond_seed = seed_box(elem_id="gan-cond-seed")
                self.sweep_rows = slider(SWEEP_ROWS, "rows in the sweep")
            with gr.Column(scale=2):
                self.digit_img = image_output("64 styles of the chosen digit", size=300, value=grid, elem_id="gan-cond-grid")
                self.digit_note = gr.Markdown(note, label="the classifier's reading", show_label=False)
                self.digit_panel_note = panel_note()
            with gr.Column(scale=2):
                self.sweep_img = image_output("same z per row, label 0…9 across", size=300, value=self.views.label_sweep(first, 0), elem_id="gan-cond-sweep")
                self.sweep_note = panel_note()

    # -- events --------------------------------------------------------------------------------------------
    def _bind(self) -> None:
        views, state = self.views, self.state
        changed = self.models.bind(views, state, API, extra=lambda s: (views.samples(s, 0),), extra_outputs=[self.sample_img])
        trained = self.training.bind(
            self.ctx, views, "gan-train", state, views.train,
            [
                self.conditional, self.loss, self.d_steps, self.training.lr, self.lr_d, self.latent, self.width, self.spectral, self.mbstd,
                self.dropout, self.training.steps, self.training.seed,
            ],
            [self.progress_img, self.training.curves, self.d_curves, self.animation_img, self.animation_file], API,
        )
        self.animation_file.click(ui_handler(self.animation), state, self.animation_file, api_name="gan_animation", show_progress="hidden")
        # The replay of a stopped run is drawn after the run has ended (a Stop ends it at once).
        replay = [self.animation_img, self.animation_file]
        trained.success(ui_handler(self._replay), state, replay, api_visibility="private", show_progress="hidden")
        self.to_arithmetic.click(lambda: gr.Tabs(selected="gan-arith"), None, self.subtabs, api_visibility="private", show_progress="hidden")
        panels = self.panels()
        redraw_on([*changed, trained], panels)
        samples, pool_i, interpolation, walk, pool_a, arithmetic, _, digits, sweep = panels[1:]
        samples.on(self.resample.click, self.samples, [state, self.seed], api_name="gan_samples")
        pool_i.on(self.pool_seed_i.submit, self.pool, [state, self.pool_seed_i], [self.pool_i], api_name="gan_pool")
        self.pool_i.select(_pick_a_or_b, [self.which, self.index_a, self.index_b], [self.index_a, self.index_b], api_visibility="private", show_progress="hidden")
        interpolation.on(
            [self.index_a.change, self.index_b.change, self.n_steps.input, self.pool_seed_i.submit], self.interpolate,
            [state, self.pool_seed_i, self.index_a, self.index_b, self.n_steps], api_name="gan_interpolate", trigger_mode="always_last",
        )
        walk.on(self.walk_btn.click, self.walk, [state, self.pool_seed_i, self.index_a, self.index_b, self.walk_seed], api_name="gan_walk")
        pool_a.on(self.pool_seed_a.submit, self.pool, [state, self.pool_seed_a], [self.pool_a], api_visibility="private")
        slots = [self.slot_a, self.slot_b, self.slot_c]
        self.pool_a.select(_add_to_slot, [self.target, *slots], slots, api_visibility="private", show_progress="hidden")
        cleared = [*slots, *arithmetic.outputs, arithmetic.note]
        self.clear_btn.click(self.clear_slots, None, cleared, api_visibility="private", show_progress="hidden")
        arithmetic.on([self.arith_btn.click, self.noise_seed.submit], self.arithmetic, arithmetic.inputs, api_name="gan_arithmetic")
        labels = [self.label_a, self.label_b, self.label_c]
        arithmetic.on(
            self.preset_btn.click, self.preset, [state, self.pool_seed_a], [self.pool_seed_a, self.pool_a, *slots, *labels, *arithmetic.outputs],
            api_name="gan_preset",
        )
        digits.on([self.digit.input, self.cond_seed.submit], self.digit_grid, [state, self.digit, self.cond_seed], [self.digit_img, self.digit_note], api_name="gan_digit_grid")
        sweep.on([self.cond_seed.submit, self.sweep_rows.input], self.label_sweep, sweep.inputs, api_name="gan_label_sweep", trigger_mode="always_last")
        self._bind_nearest([*changed, trained])
        self.bind_chrome(state)

    def _bind_nearest(self, model_changed: list) -> None:
        """Nearest sample: its button, and its redraw after a change of model."""
        inputs = [self.state, self.near_pad, self.near_steps, self.near_restarts, self.near_seed]
        nearest = Panel(self._redraw_nearest, inputs, [self.near_img, self.near_path, self.near_text], self.near_note)
        redraw_on(model_changed, [nearest])
        nearest.on(self.near_btn.click, self.nearest_sample, inputs, api_name="gan_nearest_sample")

    def tour_panels(self) -> dict[str, Panel]:
        """The panels the tour redraws (see ``Tab.bind_chrome``): the interpolation with its
        pool (the step sets the pool seed), the class-conditional grid with its sweep."""
        state = self.state
        return {
            "interpolation": Panel(
                self._pool_and_interpolation, [state, self.pool_seed_i, self.index_a, self.index_b, self.n_steps], [self.pool_i, self.interp_img],
                self.interp_note,
            ),
            "conditional": Panel(
                self._styles_and_sweep, [state, self.digit, self.cond_seed, self.sweep_rows], [self.digit_img, self.digit_note, self.sweep_img],
                self.digit_panel_note,
            ),
        }

    def panels(self) -> list[Panel]:
        """Every panel a change of model redraws, each from its own inputs. The arithmetic
        panel is redrawn from its slots (the preset's search of up to 50 pools runs only
        on its button) and says when they no longer fit the new model."""
        views, state = self.views, self.state
        arithmetic = [state, self.pool_seed_a, self.slot_a, self.slot_b, self.slot_c, self.label_a, self.label_b, self.label_c, self.noise_seed]
        return [
            self.models.panel(views, state),
            Panel(views.samples, [state, self.seed], [self.sample_img], self.sample_note),
            Panel(views.pool, [state, self.pool_seed_i], [self.pool_i], self.pool_i_note),
            Panel(self.interpolate, [state, self.pool_seed_i, self.index_a, self.index_b, self.n_steps], [self.interp_img], self.interp_note),
            Panel(views.walk, [state, self.pool_seed_i, self.index_a, self.index_b, self.walk_seed], [self.walk_img], self.walk_note),
            Panel(self._redraw_arithmetic_pool, [state, self.pool_seed_a], [self.pool_a, self.label_row], self.pool_a_note),
            Panel(views.redraw_arithmetic, arithmetic, [self.eq_img, self.nb_img, self.arith_table], self.arith_note),
            Panel(views.conditional_info, [state], [self.cond_info], self.cond_info_note),
            Panel(views.digit_grid, [state, self.digit, self.cond_seed], [self.digit_img, self.digit_note], self.digit_panel_note),
            Panel(views.label_sweep, [state, self.cond_seed, self.sweep_rows], [self.sweep_img], self.sweep_note),
        ]


def _animation_button_state(path: str | None) -> dict:
    """The GIF download button's text and state: disabled, saying why, until a training
    run has left frames (``path``)."""
    ready = path is not None
    return {"label": "Download the animation (GIF)" if ready else "Download the animation (GIF): train a model first", "interactive": ready}


def _pick_a_or_b(which: str, a: int, b: int, evt: gr.SelectData) -> tuple[int, int]:
    return (int(evt.index), b) if which == "A" else (a, int(evt.index))


def _add_to_slot(target: str, a: str, b: str, c: str, evt: gr.SelectData) -> tuple[str, str, str]:
    slots = {"A": a or "", "B": b or "", "C": c or ""}
    current = [p for p in slots[target].replace(" ", "").split(",") if p]
    if len(current) < MAX_SLOT:
        current.append(str(int(evt.index)))
    slots[target] = ", ".join(current)
    return slots["A"], slots["B"], slots["C"]

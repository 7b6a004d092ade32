"""The VAE tab: layout and thin handlers over ``playground.views.vae``.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from models.vae import ARCHITECTURES
from playground.core.attributes import TRAITS
from playground.ui import inputs
from playground.ui.panels import Tab, TrainingPanel
from playground.ui.widgets import Panel, bind_pick, digit_gallery, digit_pad, how_it_works, image_output, index_box, panel_note, redraw_on, seed_box, slider, ui_handler
from playground.views import inversion
from playground.views.datasets import DataViews
from playground.views.vae import ARCH_DEFAULT, ATTRIBUTES, BETA, CARD, DEFAULT_EDIT, DEFAULT_INTERPOLATION, GRID, INTERPOLATION_STEPS, LATENT, LR, N_SLIDERS, SLIDER, STEPS, STRENGTH, TOUR, VaeViews

API = "vae"


def _slider_updates(specs: list) -> list[dict]:
    """gr.update for each slider from the view's (label, value) or None (hidden)."""
    return [gr.update(visible=True, value=s[1], label=s[0]) if s else gr.update(visible=False, value=0.0) for s in specs]


class VaeTab(Tab):
    """The VAE tab (see the module docstring)."""

    views_class = VaeViews
    card, tour, explain_tab = CARD, TOUR, "vae-explain"

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    def samples(self, state: Any, seed: Any = 0):
        """64 samples from the prior as an 8 x 8 grid, drawn with the seed (0 to 2^31 - 1)."""
        return self.views.samples(state, seed)

    def decode(
        self, state: Any, slider_1: Any = 0.0, slider_2: Any = 0.0, slider_3: Any = 0.0, slider_4: Any = 0.0,
        slider_5: Any = 0.0, slider_6: Any = 0.0, slider_7: Any = 0.0, slider_8: Any = 0.0,
    ):
        """Decode the code whose most informative dimensions are set by the 8 slider values (each in -4 to 4, most informative first); the other dimensions keep their values. Returns a 28 x 28 image."""
        return self.views.decode(state, slider_1, slider_2, slider_3, slider_4, slider_5, slider_6, slider_7, slider_8)

    def randomise(self, state: Any, seed: Any = 0) -> list:
        """Draw the whole code from the prior with the seed; returns the sliders and the decoded image."""
        session = self.views.session(state)
        image = self.views.randomise(session, seed)
        return [session, *_slider_updates(self.views.sliders(session)), image]

    def encode(self, state: Any, index: Any) -> list:
        """Set the code to the encoder mean of a test digit (index 0 to 499); returns the sliders, the decoded code and the digit."""
        session = self.views.session(state)
        image, original = self.views.encode(session, index)
        return [session, *_slider_updates(self.views.sliders(session)), image, original]

    def manifold(self, state: Any, dim_x: Any, dim_y: Any, n_grid: Any = GRID.default):
        """Decode a grid over two latent dimensions (across, down) at the Gaussian quantiles 0.05 to 0.95, the others at 0; grid size 3 to 30."""
        return self.views.manifold(state, dim_x, dim_y, n_grid)

    def pick_point(self, state: Any, index: Any):
        """Decode a test digit's code, as a click on its point does (its test index, or "index:nonce"); returns the digit beside its decoding, a caption and the scatter."""
        return self.views.pick_point(state, index)

    def decode_point(self, state: Any, x: Any, y: Any):
        """Decode the point (x, y) of the scatter's plane, each in -10 to 10."""
        return self.views.decode_point(state, x, y)

    def interpolate(self, state: Any, index_a: Any, index_b: Any, n_steps: Any = INTERPOLATION_STEPS.default):
        """Decode codes between test digits A and B: linear (top row) and spherical (bottom row), 3 to 20 images each. An empty index leaves the picture as it is."""
        if index_a is None or index_b is None:  # a box being retyped
            return gr.skip()
        return self.views.interpolate(state, index_a, index_b, n_steps)

    def edit(self, state: Any, index: Any, attribute: Any, strength: Any):
        """Add strength (-3 to 3) times an attribute vector ("digit 0" to "digit 9", "thickness_px", "slant_deg", "width_px") to a test digit's code; returns the original, reconstruction and edit, the edit at strengths -3 to 3, and a table of traits and the classifier's reading."""
        if index is None:  # the box is being retyped
            return gr.skip(), gr.skip(), gr.skip()
        return self.views.edit(state, index, attribute, strength)

    def encode_drawing(self, state: Any, drawing: Any = None):
        """Encode a drawing (an image, dark strokes on a light page; it is scaled to 28 x 28 as MNIST digits are): returns the drawing beside its reconstruction, 8 decodings of codes drawn from q(z|x), and its ELBO in nats against the test digits' mean with the encoder's mean and standard deviation of the sliders' dimensions."""
        return inversion.encode_drawing(self.views, state, drawing)

    def use_drawing(self, state: Any, drawing: Any = None) -> list:
        """Set the code to the encoder mean of a drawing (an image, as for encode_drawing); returns the sliders and the decoded code."""
        session = inversion.use_drawing(self.views, state, drawing)
        return [session, *_slider_updates(self.views.sliders(session)), self.views.decode_code(session)]

    # -- what a change of model redraws ------------------------------------------------------------
    def _redraw_drawing(self, state: Any, drawing: Any) -> tuple:
        if not inversion.is_drawn(drawing):  # an untouched pad: ask for a drawing rather than warn
            return gr.update(value=None), gr.update(value=None), inversion.PROMPT_ENCODE
        return self.encode_drawing(state, drawing)

    def _redraw_sliders(self, state: Any) -> tuple:
        return (*_slider_updates(self.views.sliders(state)), self.views.decode_code(state))

    def _redraw_manifold(self, state: Any, n_grid: Any) -> tuple:
        choices = self.views.dimensions(state)
        first, second = choices[0][1], choices[1][1]
        return (
            gr.update(choices=choices, value=first), gr.update(choices=choices, value=second),
            self.views.manifold(state, first, second, n_grid),
        )

    def _redraw_scatter(self, state: Any) -> tuple:
        return self.views.scatter(state), None, "", None

    # -- layout --------------------------------------------------------------------------------------
    def build(self) -> None:
        """Lay out the tab inside the current Blocks and bind its events."""
        first = self.views.session(None)
        self.state = gr.State(None)
        self.header(first, ["vae"], "vae", "vae-ckpt")
        self.pages([
            ("Latent sliders", "vae-sliders", lambda: self._sliders_layout(first)),
            ("Encode my drawing", "vae-draw", self._drawing_layout),
            ("Samples", "vae-samples-tab", lambda: self.samples_page(first, "samples from the prior", "vae-samples")),
            ("Manifold", "vae-manifold", lambda: self._manifold_layout(first)),
            ("Latent scatter", "vae-scatter-tab", lambda: self._scatter_layout(first)),
            ("Interpolation", "vae-interp", lambda: self._interpolation_layout(first)),
            ("Attribute editing", "vae-edit", lambda: self._edit_layout(first)),
            ("Train", "vae-train", self._train_layout),
            ("How it works", "vae-explain", lambda: how_it_works("vae")),
        ])
        self._bind()

    def _train_layout(self) -> None:
        with gr.Row():
            self.latent = slider(LATENT, "latent size")
            self.arch = inputs.Radio(list(ARCHITECTURES), value=ARCH_DEFAULT, label="architecture")
            self.beta = slider(BETA, "β (KL weight; 0 = plain autoencoder)", step=0.1)
        self.training = TrainingPanel.build("vae-train", STEPS, LR, steps_step=10, data_line=DataViews(self.ctx).line())
        with gr.Row():
            self.progress_img = image_output("samples from fixed noise, as it trains", size=300, elem_id="vae-train-samples")
            self.recon_img = image_output("test digits (top) and their reconstructions", size=300)

    def _sliders_layout(self, first: Any) -> None:
        updates = _slider_updates(self.views.sliders(first))
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                self.slider_boxes = []
                for pair in range(0, N_SLIDERS, 2):
                    with gr.Row():
                        self.slider_boxes += [
                            inputs.Slider(
                                SLIDER.low, SLIDER.high, step=0.05, elem_id=f"vae-slider-{i}", min_width=200,
                                **{k: v for k, v in updates[i].items() if k != "__type__"},
                            )
                            for i in (pair, pair + 1)
                        ]
                gr.Markdown("Sliders set the most informative dimensions of the code z (highest KL first); the others keep their values.")
            with gr.Column(scale=2, min_width=300):
                self.slider_img = image_output("decoded", size=300, value=self.views.decode_code(first), elem_id="vae-slider-image")
                self.slider_note = panel_note()
                with gr.Row():
                    self.rand_seed = seed_box(min_width=100)
                    self.randomise_btn = gr.Button("Randomise (draw z from the prior)", elem_id="vae-randomise", min_width=160)
        with gr.Row(equal_height=False):
            with gr.Column(scale=4):
                gallery = digit_gallery(self.ctx.data, label="click a test digit, then Encode, to set every slider from its code", columns=16)
            with gr.Column(scale=1, min_width=200):
                self.slider_index = index_box(self.ctx.data, "digit")
                self.encode_btn = gr.Button("Encode this digit", variant="primary")
                self.encode_src = image_output("the digit", size=110)
        bind_pick(gallery, self.slider_index)

    def _drawing_layout(self) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                self.draw_pad = digit_pad("draw a digit (dark on light)", "vae-draw-pad")
                with gr.Row():
                    self.draw_btn = gr.Button("Encode my drawing", variant="primary", elem_id="vae-draw-run", min_width=140)
                    self.use_code_btn = gr.Button("Use this code in the sliders", elem_id="vae-draw-use", min_width=140)
            with gr.Column(scale=3):
                self.draw_img = image_output("your drawing (as the model sees it) · its reconstruction (the decoded mean μ)", size=150, elem_id="vae-draw-image")
                self.draw_posterior = image_output("8 decodings of codes z drawn from q(z|x): what the encoder's σ allows", size=100, elem_id="vae-draw-posterior")
                self.draw_note = panel_note()
                self.draw_text = gr.Markdown(inversion.PROMPT_ENCODE, label="the ELBO and the code", show_label=False, elem_id="vae-draw-text")

    def _manifold_layout(self, first: Any) -> None:
        dims = self.views.dimensions(first)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=260):
                self.dim_x = inputs.Dropdown(dims, value=dims[0][1], label="across: dimension")
                self.dim_y = inputs.Dropdown(dims, value=dims[1][1], label="down: dimension")
                self.n_grid = slider(GRID, "grid size")
                self.manifold_note = panel_note()
                gr.Markdown("The grid decodes codes at the Gaussian quantiles 0.05 … 0.95 of two dimensions; the other dimensions are 0.")
            with gr.Column(scale=2):
                self.manifold_img = image_output("decoded grid over the two dimensions", size=330, value=self.views.default_manifold(first), elem_id="vae-manifold-image")

    def _scatter_layout(self, first: Any) -> None:
        gr.Markdown(
            "Click a point to decode that test digit's code, or decode any point of the plane on the right. "
            "With more than 2 latent dimensions this is a PCA projection; load the bundled `vae-2d` to see a true 2-D latent space."
        )
        with gr.Row():
            with gr.Column(scale=3, elem_id="vae-scatter", elem_classes=["pg-clickable"]):
                self.scatter_plot = gr.Plot(self.views.scatter(first), label="test digits in latent space")
                self.clicked = inputs.Textbox(value="", label="clicked point", elem_id="vae-scatter-click", elem_classes=["pg-hidden"], show_label=False)
            with gr.Column(scale=2):
                self.scatter_note = panel_note()
                self.picked_img = image_output("clicked digit and its decoding", size=180, elem_id="vae-picked")
                self.picked_caption = gr.Markdown(label="caption")
                with gr.Row():
                    self.px = inputs.Number(value=0.0, label="x")
                    self.py = inputs.Number(value=0.0, label="y")
                self.point_btn = gr.Button("Decode (x, y)")
                self.point_img = image_output("decoded point", size=180)

    def _interpolation_layout(self, first: Any) -> None:
        with gr.Row():
            self.which = inputs.Radio(["A", "B"], value="A", label="a click below sets", min_width=140)
            self.index_a = index_box(self.ctx.data, "digit A", DEFAULT_INTERPOLATION[0])
            self.index_b = index_box(self.ctx.data, "digit B", DEFAULT_INTERPOLATION[1])
            self.n_steps = slider(INTERPOLATION_STEPS, "images")
        self.interp_note = panel_note(elem_id="vae-interp-note")
        self.interp_img = image_output(
            "linear (top) and spherical (bottom) paths from A to B", size=200,
            value=self.views.interpolate(first, *DEFAULT_INTERPOLATION), elem_id="vae-interp-image",
        )
        gallery = digit_gallery(self.ctx.data)
        gallery.select(_pick_a_or_b, [self.which, self.index_a, self.index_b], [self.index_a, self.index_b], api_visibility="private", show_progress="hidden")

    def _edit_layout(self, first: Any) -> None:
        triple, sweep, table = self.views.edit(first, DEFAULT_EDIT[0], DEFAULT_EDIT[1], STRENGTH.default)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=280):
                self.edit_index = index_box(self.ctx.data, "digit to edit", DEFAULT_EDIT[0])
                self.attribute = inputs.Dropdown(
                    [(f"make it a {a[-1]}", a) if a.startswith("digit") else (TRAITS[a], a) for a in ATTRIBUTES],
                    value=DEFAULT_EDIT[1], label="attribute",
                )
                self.strength = slider(STRENGTH, "strength", step=0.1)
                self.edit_note = panel_note()
            with gr.Column(scale=3):
                self.edit_img = image_output("original · reconstruction · edited", size=190, value=triple, elem_id="vae-edit-image")
                self.sweep_img = image_output("the same edit at strength −3, −2, … +3", size=110, value=sweep)
            with gr.Column(scale=2, min_width=240):
                self.edit_table = gr.Markdown(table, label="traits and the classifier's reading")
        bind_pick(digit_gallery(self.ctx.data, label="click a test digit to edit it"), self.edit_index)

    # -- events ----------------------------------------------------------------------------------------
    def _bind(self) -> None:
        views, state = self.views, self.state
        changed = self.models.bind(views, state, API, extra=lambda s: (views.samples(s, 0),), extra_outputs=[self.sample_img])
        trained = self.training.bind(
            self.ctx, views, "vae-train", state, views.train,
            [self.latent, self.arch, self.beta, self.training.lr, self.training.steps, self.training.seed],
            [self.progress_img, self.recon_img, self.training.curves], API,
        )
        panels = self.panels()
        redraw_on([*changed, trained], panels)
        self._bind_drawing([*changed, trained])
        self.bind_chrome(state)
        samples, sliders, manifold, scatter, interpolation, edit = panels[1:]
        samples.on(self.resample.click, self.samples, [state, self.seed], [self.sample_img], api_name="vae_samples")
        sliders.on(
            [box.input for box in self.slider_boxes], self.decode, [state, *self.slider_boxes], [self.slider_img],
            api_name="vae_decode", trigger_mode="always_last", show_progress="hidden", concurrency_limit=None,
        )
        sliders.on(self.randomise_btn.click, self.randomise, [state, self.rand_seed], [state, *self.slider_boxes, self.slider_img], api_name="vae_randomise")
        sliders.on(
            self.encode_btn.click, self.encode, [state, self.slider_index], [state, *self.slider_boxes, self.slider_img, self.encode_src],
            api_name="vae_encode",
        )
        manifold.on(
            [self.dim_x.input, self.dim_y.input, self.n_grid.input], self.manifold, [state, self.dim_x, self.dim_y, self.n_grid],
            [self.manifold_img], api_name="vae_manifold", trigger_mode="always_last",
        )
        scatter.on(self.clicked.change, self.pick_point, [state, self.clicked], [self.picked_img, self.picked_caption, self.scatter_plot], api_name="vae_pick_point")
        scatter.on(self.point_btn.click, self.decode_point, [state, self.px, self.py], [self.point_img], api_name="vae_decode_point")
        interpolation.on(
            [self.index_a.change, self.index_b.change, self.n_steps.input], self.interpolate,
            [state, self.index_a, self.index_b, self.n_steps], api_name="vae_interpolate", trigger_mode="always_last",
        )
        edit.on(
            [self.edit_index.change, self.attribute.input, self.strength.input], self.edit,
            [state, self.edit_index, self.attribute, self.strength], api_name="vae_edit", trigger_mode="always_last",
        )

    def _bind_drawing(self, model_changed: list) -> None:
        """Encode my drawing: its button, its redraw after a change of model, and Use this code (the sliders' sub-tab then opens)."""
        state = self.state
        drawing = Panel(self._redraw_drawing, [state, self.draw_pad], [self.draw_img, self.draw_posterior, self.draw_text], self.draw_note)
        redraw_on(model_changed, [drawing])
        drawing.on(self.draw_btn.click, self.encode_drawing, [state, self.draw_pad], api_name="vae_encode_drawing")
        used = self.use_code_btn.click(ui_handler(self.use_drawing), [state, self.draw_pad], [state, *self.slider_boxes, self.slider_img], api_name="vae_use_drawing")
        used.success(lambda: gr.Tabs(selected="vae-sliders"), None, self.subtabs, api_visibility="private", show_progress="hidden")

    def tour_panels(self) -> dict[str, Panel]:
        """The panels the tour redraws (see ``Tab.bind_chrome``)."""
        _, _, _, manifold, _, interpolation, edit = self.panels()
        return {"manifold": manifold, "interpolation": interpolation, "edit": edit}

    def panels(self) -> list[Panel]:
        """Every panel a change of model redraws, each from its own inputs."""
        views, state = self.views, self.state
        return [
            self.models.panel(views, state),
            Panel(views.samples, [state, self.seed], [self.sample_img], self.sample_note),
            Panel(self._redraw_sliders, [state], [*self.slider_boxes, self.slider_img], self.slider_note),
            Panel(self._redraw_manifold, [state, self.n_grid], [self.dim_x, self.dim_y, self.manifold_img], self.manifold_note),
            Panel(self._redraw_scatter, [state], [self.scatter_plot, self.picked_img, self.picked_caption, self.point_img], self.scatter_note),
            Panel(self.interpolate, [state, self.index_a, self.index_b, self.n_steps], [self.interp_img], self.interp_note),
            Panel(self.edit, [state, self.edit_index, self.attribute, self.strength], [self.edit_img, self.sweep_img, self.edit_table], self.edit_note),
        ]


def _pick_a_or_b(which: str, a: int, b: int, evt: gr.SelectData) -> tuple[int, int]:
    return (int(evt.index), b) if which == "A" else (a, int(evt.index))

"""The PixelCNN++ page of the autoregressive tab: layout and thin handlers over
``playground.views.pixelcnnpp``. The autoregressive tab builds it in its "PixelCNN++"
page (``PpTab.create(ctx)``).

It opens on the two bundled models' kept samples and their test bits/dim (nothing to
click), then one pixel's whole predicted distribution, live training of either model,
and how it works.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from playground.ui import inputs
from playground.ui.panels import Tab, TrainingPanel, bind_training
from playground.ui.widgets import how_it_works, image_output, index_box, seed_box, slider, ui_handler
from playground.views.pixelcnnpp import COL_DEFAULT, FAMILIES, LR, NAMES, PIXEL, SAMPLES, STEPS, PpViews

KEY = "pixelcnnpp-train"


class PpTab(Tab):
    """The PixelCNN++ page (see the module docstring)."""

    views_class = PpViews

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    @ui_handler
    def draw(self, state: Any, n: Any = SAMPLES.default, seed: Any = 0) -> Iterator[tuple]:
        """Draw 1 to 16 samples from PixelCNN++ and from the 256-way softmax PixelCNN with the seed (0 to 2^31 - 1), pixel by pixel, streaming both grids row by row and a status line; the last line gives each model's samples per second."""
        session = self.views.session(state)
        for picture, status in self.views.draw(session, n, seed):
            yield session, picture, status

    @ui_handler
    def table(self, state: Any) -> str:
        """The exact test NLL of both models in bits/dim and nats per digit, with their sizes and training, beside the published figures."""
        return self.views.table(self.views.session(state))

    @ui_handler
    def conditional(self, state: Any, index: Any = 0, row: Any = PIXEL.default, col: Any = COL_DEFAULT) -> tuple:
        """Both models' predicted distribution over the 256 grey levels at pixel (row, col), each 0 to 27, of test digit index (0 to 499), given its true earlier pixels; returns the plot and what each model gives the true level."""
        return self.views.conditional(self.views.session(state), index, row, col)

    # -- layout --------------------------------------------------------------------------------------
    def build(self) -> None:
        """Lay out the page inside the current Blocks and bind its events."""
        first = self.views.session(None)
        picture, caption = self.views.first(first)
        self.state = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                self.samples_img = image_output("samples: PixelCNN++ (left) · 256-way softmax PixelCNN (right)", size=300, value=picture, elem_id="pp-samples")
                self.samples_note = gr.Markdown(caption, label="about these samples", elem_id="pp-samples-note")
            with gr.Column(scale=2, min_width=280):
                self.draw_btn = gr.Button("▶ Draw new samples", variant="primary", elem_id="pp-draw")
                self.n = slider(SAMPLES, f"samples per model (≤ {SAMPLES.high})", elem_id="pp-n")
                self.seed = seed_box(elem_id="pp-seed")
                self.table_md = gr.Markdown(self.views.table(first), label="exact test likelihood", elem_id="pp-table")
        with gr.Accordion("One pixel's prediction: a smooth mixture against a 256-way softmax", open=True):
            fig, text = self.views.conditional(first, 0, PIXEL.default, COL_DEFAULT)
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=240):
                    self.index = index_box(self.ctx.data, "test digit", 0, elem_id="pp-index")
                    self.row = slider(PIXEL, "row of the pixel", elem_id="pp-row")
                    self.col = inputs.Slider(PIXEL.low, PIXEL.high, value=COL_DEFAULT, step=1, label="column of the pixel", elem_id="pp-col")
                with gr.Column(scale=3):
                    self.cond_plot = gr.Plot(fig, label="p(level | the pixels before it), log scale", elem_id="pp-conditional")
                    self.cond_text = gr.Markdown(text, label="the true level's probability", elem_id="pp-conditional-note")
        with gr.Accordion("Train either model live", open=False):
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=260):
                    self.family = inputs.Dropdown([(NAMES[f], f) for f in FAMILIES], value=FAMILIES[0], label="model to train (bundled size)", elem_id="pp-train-family")
                    self.train_img = image_output("16 samples when the run ends (seed of the run)", size=240, elem_id="pp-train-samples")
                with gr.Column(scale=2):
                    self.training = TrainingPanel.build("pp-train", STEPS, LR, steps_step=20)
        with gr.Accordion("How it works", open=False):
            how_it_works("pixelcnnpp")
        self._bind()

    def _bind(self) -> None:
        state = self.state
        self.draw_btn.click(
            self.draw, [state, self.n, self.seed], [state, self.samples_img, self.samples_note], api_name="ar_pixelcnnpp_draw",
            concurrency_limit=2, concurrency_id="ar-sampling",
        )
        cond_inputs, cond_outputs = [state, self.index, self.row, self.col], [self.cond_plot, self.cond_text]
        self.index.submit(self.conditional, cond_inputs, cond_outputs, api_name="ar_pixelcnnpp_conditional", trigger_mode="always_last")
        for control in (self.row.release, self.col.release):
            control(self.conditional, cond_inputs, cond_outputs, api_visibility="private", trigger_mode="always_last")
        trained = bind_training(
            self.ctx, self.views, KEY, self.training.train, self.training.stop, self.training.status, state, self.views.train,
            [self.family, self.training.steps, self.training.lr, self.training.seed], [self.training.curves, self.train_img],
            "ar_pixelcnnpp_train", "ar_pixelcnnpp_stop", preprocess=False,
        )
        trained.success(self.table, [state], [self.table_md], api_name="ar_pixelcnnpp_table").success(
            lambda s: self.views.first(self.views.session(s)), [state], [self.samples_img, self.samples_note], api_visibility="private",
        )


"""The multiscale PixelCNN page of the autoregressive tab: layout and thin handlers over
``playground.views.multiscale``. The autoregressive tab builds it in its "Multiscale
PixelCNN" page (``MsTab.create(ctx)``).

It opens on 16 multiscale samples beside the bundled PixelCNN's and the scale-by-scale
picture (nothing to click), then the samples/s race, the likelihood table, live training
and how it works.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from playground.ui.panels import Tab, TrainingPanel, bind_training
from playground.ui.widgets import how_it_works, image_output, seed_box, slider, ui_handler
from playground.views.multiscale import LR, RACE, STAGES, STEPS, MsViews

KEY = "multiscale-train"


class MsTab(Tab):
    """The multiscale PixelCNN page (see the module docstring)."""

    views_class = MsViews

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    @ui_handler
    def race(self, state: Any, n: Any = RACE.default, seed: Any = 0) -> Iterator[tuple]:
        """Draw 1 to 16 samples with the seed (0 to 2^31 - 1) from the multiscale PixelCNN, then from the bundled PixelCNN pixel by pixel, streaming both grids and a status line; the last line gives each model's samples per second."""
        session = self.views.session(state)
        for picture, status in self.views.race(session, n, seed):
            yield session, picture, status

    @ui_handler
    def stages(self, state: Any, n: Any = STAGES.default, seed: Any = 0) -> tuple:
        """1 to 8 samples drawn with the seed (0 to 2^31 - 1), one row each: the 7 x 7 start and the image after each of the six parallel groups; returns the picture and a line with the time taken."""
        return self.views.stages(self.views.session(state), n, seed)

    @ui_handler
    def table(self, state: Any) -> str:
        """The exact test NLL (nats per digit and bits per pixel) of the multiscale PixelCNN, a PixelCNN trained with the same budget and the bundled PixelCNN."""
        return self.views.table(self.views.session(state))

    # -- layout --------------------------------------------------------------------------------------
    def build(self) -> None:
        """Lay out the page inside the current Blocks and bind its events."""
        first = self.views.session(None)
        picture, caption = self.views.first(first)
        stages, stages_text = self.views.stages(first, STAGES.default, 0)
        self.state = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                self.race_img = image_output("samples: multiscale PixelCNN (left) · PixelCNN (right)", size=300, value=picture, elem_id="ms-race")
                self.race_note = gr.Markdown(caption, label="samples per second", elem_id="ms-race-note")
            with gr.Column(scale=2, min_width=280):
                self.race_btn = gr.Button("▶ Race: draw from both", variant="primary", elem_id="ms-race-run")
                self.n = slider(RACE, f"samples per model (≤ {RACE.high})", elem_id="ms-n")
                self.seed = seed_box(elem_id="ms-seed")
                self.table_md = gr.Markdown(self.views.table(first), label="exact test likelihood", elem_id="ms-table")
        with gr.Accordion("Scale by scale: the 7 × 7 start, then six groups drawn in parallel", open=True):
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=220):
                    self.stages_n = slider(STAGES, f"digits (≤ {STAGES.high})", elem_id="ms-stages-n")
                    self.stages_seed = seed_box(elem_id="ms-stages-seed")
                    self.stages_btn = gr.Button("Draw", elem_id="ms-stages-run")
                with gr.Column(scale=3):
                    self.stages_img = image_output("each row one digit: start → 14×14 groups → 28×28 groups", size=300, value=stages, elem_id="ms-stages")
                    self.stages_text = gr.Markdown(stages_text, label="about the stages", elem_id="ms-stages-note")
        with gr.Accordion("Train the multiscale model live", open=False):
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=260):
                    self.train_img = image_output("16 samples as it trains (seed of the run)", size=240, elem_id="ms-train-samples")
                with gr.Column(scale=2):
                    self.training = TrainingPanel.build("ms-train", STEPS, LR, steps_step=20)
        with gr.Accordion("How it works", open=False):
            how_it_works("multiscale")
        self._bind()

    def _bind(self) -> None:
        state = self.state
        self.race_btn.click(
            self.race, [state, self.n, self.seed], [state, self.race_img, self.race_note], api_name="ar_multiscale_race",
            concurrency_limit=2, concurrency_id="ar-sampling",
        )
        self.stages_btn.click(self.stages, [state, self.stages_n, self.stages_seed], [self.stages_img, self.stages_text], api_name="ar_multiscale_stages")
        trained = bind_training(
            self.ctx, self.views, KEY, self.training.train, self.training.stop, self.training.status, state, self.views.train,
            [self.training.steps, self.training.lr, self.training.seed], [self.training.curves, self.train_img],
            "ar_multiscale_train", "ar_multiscale_stop", preprocess=False,
        )
        trained.success(self.table, [state], [self.table_md], api_name="ar_multiscale_table")

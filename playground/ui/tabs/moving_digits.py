"""The Moving digits page of the Sequences tab: layout and thin handlers over
``playground.views.moving_digits``. The tab builds it in its "Moving digits" page (``MDTab.create(ctx)``).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.ui import inputs
from playground.ui.panels import Tab, bind_training
from playground.ui.widgets import Panel, image_output, kept, panel_note, reporter, seed_box, slider, ui_handler
from playground.views.moving_digits import GIVEN, LR, NEW, STEPS, MDViews

TRAIN_KEY = "wn-video-train"
HOW = """A **Video Pixel Network** (Kalchbrenner et al. 2016, [arXiv:1610.00527](https://arxiv.org/abs/1610.00527)) applies the chain
rule twice: a video is frame after frame, and a frame is pixel after pixel, p(video) = ∏ₜ ∏ᵢ p(pixel i of frame t | frames before t,
pixels before i). Here, in miniature: each frame is **encoded** by a small convolution network; a **ConvLSTM** (an LSTM whose states are
images) reads the encodings in order and keeps where the digits are and how they move; a **PixelCNN** decoder (masked convolutions,
type A then B) draws the next frame one pixel at a time, told the ConvLSTM's state at every layer. The first frame has no past, so it
costs many nats (where are the digits? which digits?); later frames cost far fewer: the past says almost everything. The clips are two
of the bundled digits, shrunk to 16×16, bouncing in 32×32 (made in code, like Moving MNIST). Drawing a frame takes 1,024 network passes."""


class MDTab(Tab):
    """The Moving digits page (see the module docstring)."""

    views_class = MDViews

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    def show(self, state: Any, index: Any = 0) -> tuple:
        """Test clip index (0 to 99): its 10 frames and the NLL of each frame given the ones before (nats)."""
        return self.views.show(self.views.session(state), index)

    def predict(self, state: Any, index: Any = 0, given: Any = GIVEN.default, n_new: Any = NEW.default, seed: Any = 0, progress=gr.Progress()):
        """Continue test clip index (0 to 99) after its first given frames (1 to 8) by n_new frames (1 to 6; given + n_new at most 10), drawn pixel by pixel with seed, streaming. Returns the picture (row 1: the true clip; row 2: given frames and the prediction) and a status."""
        session = self.views.session(state)
        yield from kept(self.views.predict(session, index, given, n_new, seed, progress=reporter(progress)))

    def restore(self, state: Any) -> tuple:
        """The bundled model again; returns its figures."""
        session = self.views.restore(state)
        return session, session.figures

    # -- layout ----------------------------------------------------------------------------------------
    def build(self) -> None:
        """The first test clip and its NLL per frame at once; the prediction controls beside them; training below."""
        first = self.views.session(None)
        picture, chart = self.views.show(first)
        self.state = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                self.index = inputs.Number(0, label="test clip (0-99)", precision=0, minimum=0, maximum=99, elem_id="wn-video-index")
                with gr.Row():
                    self.given = slider(GIVEN, "frames given", elem_id="wn-video-given")
                    self.n_new = slider(NEW, "to predict", elem_id="wn-video-new")
                with gr.Row(equal_height=True):
                    self.seed = seed_box(min_width=120, elem_id="wn-video-seed")
                    self.run_btn = gr.Button("Predict the next frames", variant="primary", min_width=160, elem_id="wn-video-run")
                self.status = gr.Markdown("Each new frame is drawn pixel by pixel (about 3 s a frame on 2 cores).", label="prediction status", elem_id="wn-video-status")
                self.figures = gr.Markdown(first.figures, label="NLL per frame on the test clips", elem_id="wn-video-figures")
            with gr.Column(scale=3):
                self.picture = image_output("row 1: the test clip · row 2: the frames given, then the model's prediction", size=220, value=picture, elem_id="wn-video-clip")
                self.chart = gr.Plot(chart, label="NLL of each frame (nats)", elem_id="wn-video-nll")
                self.note = panel_note(elem_id="wn-video-note")
        self._train_layout()
        with gr.Accordion("How it works", open=False):
            gr.Markdown(HOW)
        self._bind()

    def _train_layout(self) -> None:
        with gr.Accordion("Train a video model here", open=False):
            with gr.Row():
                self.steps = slider(STEPS, "steps", step=10, elem_id="wn-video-steps")
                self.lr = inputs.Number(LR.default, label=f"learning rate ({LR.low:g} to {LR.high:g})", minimum=LR.low, maximum=LR.high, elem_id="wn-video-lr")
                self.t_seed = seed_box(elem_id="wn-video-train-seed")
            with gr.Row():
                self.train_btn = gr.Button("Train a new model", variant="primary", elem_id="wn-video-train")
                self.stop_btn = gr.Button("Stop", variant="stop", elem_id="wn-video-stop")
                self.restore_btn = gr.Button("↺ Bundled model", elem_id="wn-video-restore")
            self.t_status = gr.Markdown("Press **Train**: about a second a step on 2 cores.", label="training status", elem_id="wn-video-train-status")
            self.curves = gr.Plot(label="training curves", elem_id="wn-video-curves")

    def _bind(self) -> None:
        show = Panel(self.show, [self.state, self.index], [self.picture, self.chart], self.note)
        show.on(self.index.submit, self.show, show.inputs, api_name="wn_video_show")
        self.run_btn.click(
            ui_handler(self.predict), [self.state, self.index, self.given, self.n_new, self.seed], [self.picture, self.status],
            api_name="wn_video_predict", concurrency_limit=2, concurrency_id="wn-gen",
        )
        restore = Panel(self.restore, [self.state], [self.state, self.figures], self.note)
        restore.on(self.restore_btn.click, self.restore, restore.inputs, api_name="wn_video_restore")
        bind_training(
            self.ctx, self.views, TRAIN_KEY, self.train_btn, self.stop_btn, self.t_status, self.state, self.views.train,
            [self.steps, self.lr, self.t_seed], [self.t_status, self.curves, self.figures], "wn_video_train", "wn_video_stop",
        )

"""The wake-sleep page of the Boltzmann tab: layout and thin handlers over
``playground.views.wake_sleep``. The Boltzmann tab builds it in its "Wake-sleep" page
(``WakeSleepTab.create(ctx)``): the DBN's samples and its two weight sets shown at once,
fine-tuning live with Stop, the samples after.
"""

from __future__ import annotations

import gradio as gr

from playground.ui import inputs
from playground.ui.panels import Tab, bind_training
from playground.ui.widgets import how_it_works, image_output, seed_box, slider
from playground.views.wake_sleep import LR, STEPS, TOP_GIBBS, WakeSleepViews

TRAIN_KEY = "boltzmann-train"  # one Boltzmann training run at a time per session


class WakeSleepTab(Tab):
    """The wake-sleep page (see the module docstring)."""

    views_class = WakeSleepViews

    def build(self) -> None:
        """Lay out the page inside the current Blocks and bind its events."""
        first = self.views.session(None)
        before, after, recognition, generative, figure, summary = self.views.pictures(first)
        self.state = gr.State(None)
        with gr.Row(equal_height=False):
            self.before = image_output("samples before (greedy DBN, tied weights)", size=250, value=before, elem_id="ws-before")
            self.after = image_output("samples after wake-sleep (same seed)", size=250, value=after, elem_id="ws-after")
            self.recognition = image_output("recognition weights R (up), 36 units", size=250, value=recognition, elem_id="ws-recognition")
            self.generative = image_output("generative weights G (down), 36 units", size=250, value=generative, elem_id="ws-generative")
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                self.steps = slider(STEPS, "wake-sleep steps")
                self.lr = inputs.Number(LR.default, label=f"learning rate ({LR.low:g} to {LR.high:g})", minimum=LR.low, maximum=LR.high)
                with gr.Row():
                    self.top_gibbs = slider(TOP_GIBBS, "top-RBM Gibbs steps per dream", min_width=160)
                    self.seed = seed_box(min_width=90)
                with gr.Row():
                    self.train_btn = gr.Button("Fine-tune", variant="primary", elem_id="ws-train")
                    self.stop_btn = gr.Button("Stop", variant="stop", elem_id="ws-stop")
            with gr.Column(scale=3, min_width=420):
                self.figure = gr.Plot(figure, label="what each phase changed, and the bound", elem_id="ws-phases")
        self.status = gr.Markdown(summary, label="wake-sleep status", elem_id="ws-status")
        with gr.Accordion("How it works", open=False):
            how_it_works("wake_sleep")
        self._bind()

    def _bind(self) -> None:
        bind_training(
            self.ctx, self.views, TRAIN_KEY, self.train_btn, self.stop_btn, self.status, self.state, self.views.fine_tune,
            [self.steps, self.lr, self.top_gibbs, self.seed], [self.status, self.figure, self.after, self.recognition, self.generative],
            "wake_sleep_train", "wake_sleep_stop",
        )

"""The SRGAN page of the GAN tab: layout and thin handlers over ``playground.views.srgan``.
The GAN tab builds it in its "SRGAN" page (``SRTab.create(ctx)``).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.ui import inputs
from playground.ui.panels import Tab, bind_training
from playground.ui.widgets import Panel, image_output, panel_note, seed_box, slider
from playground.views.srgan import ADV, LR, N_SHOWN, ROWS, STEPS, SRViews

TRAIN_KEY = "gan-sr-train"
HOW = """**SRGAN** (Ledig et al. 2017, [arXiv:1609.04802](https://arxiv.org/abs/1609.04802)) brings a low-resolution image to a higher one
with a generator of residual blocks and a sub-pixel (pixel-shuffle) upsampling layer. Trained on a **pixel content loss** (MSE) alone, the
same network is the paper's SRResNet: it maximises PSNR, so it predicts the *average* of all the sharp images that shrink to the input,
which is blurred. SRGAN adds an **adversarial loss**: a discriminator tells real 28×28 digits from generated ones, and the generator
minimises content + w · (−log D(G(x))), which pulls it towards one sharp, plausible digit, usually at a lower PSNR. Here the input is the
2×2 average of each digit (14×14); both networks end with a **back-projection** layer that rescales each 2×2 block of the output to the
input pixel's value, so the output, shrunk the same way, gives the input back exactly (the table's "max |pool(out) − in|"); bicubic
upsampling does not. The **judges** (three independent digit classifiers) say how often all three read the result confidently as the
same digit, and as the right one. Rows of the picture: """ + ", ".join(ROWS) + "."


class SRTab(Tab):
    """The SRGAN page (see the module docstring)."""

    views_class = SRViews

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    def compare(self, state: Any, start: Any = 0, n_shown: Any = N_SHOWN.default) -> tuple:
        """Test digits start (0 to 500 minus the number shown) onwards, 2 to 12 of them, one column each: the original, the 14 x 14 input, bicubic, the pixel-loss network and SRGAN; and the PSNR and judges' table over 200 test digits."""
        session = self.views.session(state)
        return session, *self.views.compare(session, start, n_shown)

    def restore(self, state: Any, start: Any = 0, n_shown: Any = N_SHOWN.default) -> tuple:
        """Show the bundled SRGAN again, with its comparison (first test digit 0 to 500 minus the number shown, 2 to 12 digits) and table."""
        session = self.views.restore(state)
        return session, *self.views.compare(session, start, n_shown)

    # -- layout ----------------------------------------------------------------------------------------
    def build(self) -> None:
        """The comparison and table of the bundled model at once, their controls beside them, the training panel below."""
        first = self.views.session(None)
        picture, figures = self.views.compare(first)
        self.state = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                self.picture = image_output("rows: original · 14×14 input · bicubic · pixel loss only · SRGAN", size=300, value=picture, elem_id="gan-sr-compare")
                self.note = panel_note(elem_id="gan-sr-note")
            with gr.Column(scale=2, min_width=260):
                with gr.Row():
                    self.start = inputs.Number(0, label="first test digit (0-499)", precision=0, min_width=100, elem_id="gan-sr-start")
                    self.n_shown = slider(N_SHOWN, "digits shown", elem_id="gan-sr-n")
                with gr.Row():
                    self.show_btn = gr.Button("Compare", variant="primary", elem_id="gan-sr-show")
                    self.restore_btn = gr.Button("↺ Bundled model", elem_id="gan-sr-restore")
                with gr.Accordion("How it works", open=False):
                    gr.Markdown(HOW)
        self.figures = gr.Markdown(figures, label="PSNR and the judges", elem_id="gan-sr-figures")
        self._train_layout()
        self._bind()

    def _train_layout(self) -> None:
        with gr.Row():
            self.steps = slider(STEPS, "steps", step=10, elem_id="gan-sr-steps")
            self.adv_weight = inputs.Number(ADV.default, label=f"adversarial weight ({ADV.low:g} to {ADV.high:g})", minimum=ADV.low, maximum=ADV.high, elem_id="gan-sr-adv")
            self.lr = inputs.Number(LR.default, label=f"learning rate ({LR.low:g} to {LR.high:g})", minimum=LR.low, maximum=LR.high, elem_id="gan-sr-lr")
            self.seed = seed_box(elem_id="gan-sr-seed")
        with gr.Row():
            self.train_btn = gr.Button("Train a new SRGAN", variant="primary", elem_id="gan-sr-train")
            self.stop_btn = gr.Button("Stop", variant="stop", elem_id="gan-sr-stop")
        self.status = gr.Markdown("Press **Train** to train SRGAN and its pixel-loss twin here; the picture and curves update as they learn.", label="training status", elem_id="gan-sr-status")
        self.curves = gr.Plot(label="training curves", elem_id="gan-sr-curves")

    def _bind(self) -> None:
        panel = Panel(self.compare, [self.state, self.start, self.n_shown], [self.state, self.picture, self.figures], self.note)
        panel.on([self.show_btn.click, self.n_shown.release], self.compare, panel.inputs, api_name="gan_sr_compare", show_progress="minimal")
        panel.on(self.restore_btn.click, self.restore, panel.inputs, api_name="gan_sr_restore", show_progress="minimal")
        bind_training(
            self.ctx, self.views, TRAIN_KEY, self.train_btn, self.stop_btn, self.status, self.state, self.views.train,
            [self.steps, self.adv_weight, self.lr, self.seed], [self.status, self.picture, self.figures, self.curves], "gan_sr_train", "gan_sr_stop",
        )

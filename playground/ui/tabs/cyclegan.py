"""The CycleGAN page of the GAN tab: layout and thin handlers over
``playground.views.cyclegan``. The GAN tab builds it in its "CycleGAN" page
(``CycleTab.create(ctx)``).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from models.cyclegan import DOMAIN_NAMES, DOMAINS
from playground.ui import inputs
from playground.ui.panels import Tab, bind_training
from playground.ui.widgets import Panel, image_output, panel_note, seed_box, slider
from playground.views.cyclegan import CYCLE, IDENTITY, LR, N_SHOWN, STEPS, CycleViews

TRAIN_KEY = "gan-cycle-train"
HOW = """**CycleGAN** (Zhu, Park, Isola & Efros 2017, [arXiv:1703.10593](https://arxiv.org/abs/1703.10593)) learns to translate
between two image domains from **unpaired** examples. Here domain A is the digits as drawn and domain B is made in code (thick strokes by
a 3×3 max-pool dilation, or a slant by a shear); each training batch takes its B images from *other* digits than its A images, so no pair
says what a given digit should become. Two generators, G: A → B and F: B → A, each play a least-squares GAN against a patch discriminator
of their output domain (D_B, D_A): that alone makes G(a) *look like* some B image, not necessarily *this* digit's. The **cycle-consistency**
loss λ (‖F(G(a)) − a‖₁ + ‖G(F(b)) − b‖₁) makes F undo G, so G must keep the digit and change only the trait; the **identity** loss
‖G(b) − b‖₁ + ‖F(a) − a‖₁ keeps a generator from changing an image already in its output domain. Try λ = 0: the cycle error grows and G is
free to draw another digit. The strips show a → G(a) → F(G(a)) (left) and b → F(b) → G(F(b)) (right); the trait (stroke thickness in
pixels: 2 × ink / boundary ink; or slant: the ink's second moment) is measured before and after."""


class CycleTab(Tab):
    """The CycleGAN page (see the module docstring)."""

    views_class = CycleViews

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    def strips(self, state: Any, start: Any = 0, n_shown: Any = N_SHOWN.default) -> tuple:
        """Test digits start (0 to 500 minus the number shown) onwards, 2 to 12 of them, through the cycle both ways: a, G(a), F(G(a)) on the left and their made-in-code b, F(b), G(F(b)) on the right; and the trait before and after with the cycle errors, over 200 test digits."""
        session = self.views.session(state)
        return session, *self.views.strips(session, start, n_shown)

    def restore(self, state: Any, start: Any = 0, n_shown: Any = N_SHOWN.default) -> tuple:
        """Show the bundled CycleGAN again (thin to thick strokes), with its strips (first test digit 0 to 500 minus the number shown, 2 to 12 digits) and figures."""
        session = self.views.restore(state)
        return session, *self.views.strips(session, start, n_shown)

    # -- layout ----------------------------------------------------------------------------------------
    def build(self) -> None:
        """The strips and figures of the bundled model at once, their controls beside them, the training panel below."""
        first = self.views.session(None)
        picture, figures = self.views.strips(first)
        self.state = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                self.picture = image_output(
                    "left: a → G(a) → F(G(a)) · right: b → F(b) → G(F(b))", size=260, value=picture, elem_id="gan-cycle-strips",
                )
                self.figures = gr.Markdown(figures, label="trait and cycle error", elem_id="gan-cycle-figures")
                self.note = panel_note(elem_id="gan-cycle-note")
            with gr.Column(scale=2, min_width=260):
                with gr.Row():
                    self.start = inputs.Number(0, label="first test digit (0-499)", precision=0, min_width=100, elem_id="gan-cycle-start")
                    self.n_shown = slider(N_SHOWN, "digits shown", elem_id="gan-cycle-n")
                with gr.Row():
                    self.show_btn = gr.Button("Show strips", variant="primary", elem_id="gan-cycle-show")
                    self.restore_btn = gr.Button("↺ Bundled model", elem_id="gan-cycle-restore")
                with gr.Accordion("How it works", open=False):
                    gr.Markdown(HOW)
        self._train_layout()
        self._bind()

    def _train_layout(self) -> None:
        with gr.Row():
            self.domain = inputs.Dropdown([(DOMAIN_NAMES[d], d) for d in DOMAINS], value=DOMAINS[0], label="domains", min_width=180, elem_id="gan-cycle-domain")
            self.cycle_weight = slider(CYCLE, "λ: cycle weight", step=0.5, elem_id="gan-cycle-lambda")
            self.identity_weight = slider(IDENTITY, "identity weight", step=0.5, elem_id="gan-cycle-identity")
        with gr.Row():
            self.steps = slider(STEPS, "steps", step=10, elem_id="gan-cycle-steps")
            self.lr = inputs.Number(LR.default, label=f"learning rate ({LR.low:g} to {LR.high:g})", minimum=LR.low, maximum=LR.high, elem_id="gan-cycle-lr")
            self.seed = seed_box(elem_id="gan-cycle-seed")
        with gr.Row():
            self.train_btn = gr.Button("Train a new CycleGAN", variant="primary", elem_id="gan-cycle-train")
            self.stop_btn = gr.Button("Stop", variant="stop", elem_id="gan-cycle-stop")
        self.status = gr.Markdown("Press **Train** to train a new pair of generators here; the strips and curves update as it learns.", label="training status", elem_id="gan-cycle-status")
        self.curves = gr.Plot(label="training curves", elem_id="gan-cycle-curves")

    def _bind(self) -> None:
        panel = Panel(self.strips, [self.state, self.start, self.n_shown], [self.state, self.picture, self.figures], self.note)
        panel.on([self.show_btn.click, self.n_shown.release], self.strips, panel.inputs, api_name="gan_cycle_strips", show_progress="minimal")
        panel.on(self.restore_btn.click, self.restore, panel.inputs, api_name="gan_cycle_restore", show_progress="minimal")
        bind_training(
            self.ctx, self.views, TRAIN_KEY, self.train_btn, self.stop_btn, self.status, self.state, self.views.train,
            [self.domain, self.steps, self.cycle_weight, self.identity_weight, self.lr, self.seed],
            [self.status, self.picture, self.figures, self.curves], "gan_cycle_train", "gan_cycle_stop",
        )

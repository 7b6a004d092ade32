"""The BEGAN page of the GAN tab: layout and thin handlers over ``playground.views.began``.
The GAN tab builds it in its "BEGAN" page (``BeganTab.create(ctx)``).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.ui import inputs
from playground.ui.panels import Tab, bind_training
from playground.ui.widgets import Panel, image_output, panel_note, seed_box, slider
from playground.views.began import GAMMA, LAMBDA_K, LR, STEPS, BeganViews

TRAIN_KEY = "gan-began-train"
HOW = r"""**BEGAN** (Berthelot, Schumm & Metz 2017, [arXiv:1703.10717](https://arxiv.org/abs/1703.10717)): the discriminator D is an
**autoencoder**, and its L1 reconstruction error L(v) = mean |v − D(v)| is the score. D learns to reconstruct real digits well and G's samples
badly (L_D = L(x) − k_t L(G(z))); G learns to draw digits D reconstructs well (L_G = L(G(z))). A proportional controller keeps the two in
**equilibrium** E[L(G(z))] = γ E[L(x)]: k_{t+1} = clip(k_t + λ_k (γ L(x) − L(G(z))), 0, 1). When G's samples are reconstructed too well, k
rises and D pushes their error up; when too badly, k falls and D attends to the real digits. The **diversity ratio** γ trades variety (high)
for sharpness (low). The **convergence measure** M_global = L(x) + |γ L(x) − L(G(z))| falls as the pair learns, a GAN loss whose value
tells you how far training has got. Here the networks are 3×3 convolutions with ELUs and nearest-neighbour upsampling at 28×28, no batch
norm; λ_k is 0.05 rather than the paper's 0.001 so that k acts within a few thousand steps, and γ is 0.7. The bundled run (3,000 steps)
**collapses onto 1s**, the digit D's autoencoder reconstructs best: the judges read 96 % of its samples confidently, all as 1, recall 0.07.
Train here with another γ and watch k and M_global. The picture shows samples G(z) (left) and D's reconstructions D(G(z)) (right)."""


class BeganTab(Tab):
    """The BEGAN page (see the module docstring)."""

    views_class = BeganViews

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    def samples(self, state: Any, seed: Any = 0) -> tuple:
        """32 samples G(z) for z drawn with the seed (0 to 2^31 - 1), beside D's reconstructions of them; the judges' reading of the samples and the equilibrium figures (L(x), L(G(z)), k, M_global)."""
        session = self.views.session(state)
        return session, *self.views.samples(session, seed)

    def restore(self, state: Any, seed: Any = 0) -> tuple:
        """Show the bundled BEGAN again, with its samples for the seed (0 to 2^31 - 1) and figures."""
        session = self.views.restore(state)
        return session, *self.views.samples(session, seed)

    # -- layout ----------------------------------------------------------------------------------------
    def build(self) -> None:
        """The bundled model's samples and figures at once, the seed beside them, the training panel below."""
        first = self.views.session(None)
        picture, figures = self.views.samples(first)
        self.state = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                self.picture = image_output("left: samples G(z) · right: D's reconstructions D(G(z))", size=230, value=picture, elem_id="gan-began-samples")
                self.figures = gr.Markdown(figures, label="sample quality and equilibrium", elem_id="gan-began-figures")
                self.note = panel_note(elem_id="gan-began-note")
            with gr.Column(scale=2, min_width=260):
                with gr.Row():
                    self.seed = seed_box("sample seed", elem_id="gan-began-seed")
                with gr.Row():
                    self.show_btn = gr.Button("New samples", variant="primary", elem_id="gan-began-show")
                    self.restore_btn = gr.Button("↺ Bundled model", elem_id="gan-began-restore")
                with gr.Accordion("How it works", open=False):
                    gr.Markdown(HOW)
        self._train_layout()
        self._bind()

    def _train_layout(self) -> None:
        with gr.Row():
            self.gamma = slider(GAMMA, "γ: diversity ratio", step=0.05, elem_id="gan-began-gamma")
            self.lambda_k = slider(LAMBDA_K, "λ_k: gain of k", step=0.001, elem_id="gan-began-lambda")
            self.steps = slider(STEPS, "steps", step=10, elem_id="gan-began-steps")
            self.lr = inputs.Number(LR.default, label=f"learning rate ({LR.low:g} to {LR.high:g})", minimum=LR.low, maximum=LR.high, elem_id="gan-began-lr")
            self.train_seed = seed_box(elem_id="gan-began-train-seed")
        with gr.Row():
            self.train_btn = gr.Button("Train a new BEGAN", variant="primary", elem_id="gan-began-train")
            self.stop_btn = gr.Button("Stop", variant="stop", elem_id="gan-began-stop")
        self.status = gr.Markdown("Press **Train** to train a new BEGAN here; the samples and the convergence measure update as it learns.", label="training status", elem_id="gan-began-status")
        self.curves = gr.Plot(label="convergence measure, k and balance", elem_id="gan-began-curves")

    def _bind(self) -> None:
        panel = Panel(self.samples, [self.state, self.seed], [self.state, self.picture, self.figures], self.note)
        panel.on([self.show_btn.click, self.seed.submit], self.samples, panel.inputs, api_name="gan_began_samples", show_progress="minimal")
        panel.on(self.restore_btn.click, self.restore, panel.inputs, api_name="gan_began_restore", show_progress="minimal")
        bind_training(
            self.ctx, self.views, TRAIN_KEY, self.train_btn, self.stop_btn, self.status, self.state, self.views.train,
            [self.gamma, self.lambda_k, self.steps, self.lr, self.train_seed],
            [self.status, self.picture, self.figures, self.curves], "gan_began_train", "gan_began_stop",
        )

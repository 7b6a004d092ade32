"""The PixelVAE page of the autoregressive tab: layout and thin handlers over
``playground.views.pixelvae``. The autoregressive tab builds it in its "PixelVAE" page
(``PvTab.create(ctx)``).

It opens on the VAE's samples beside the PixelVAE's, the same-z / different-z grid and the
KL per digit class (nothing to click), then the receptive fields of PixelSNAIL and the
Diagonal BiLSTM, live training and how it works.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.ui.panels import Tab, TrainingPanel, bind_training
from playground.ui.widgets import how_it_works, image_output, seed_box, slider, ui_handler
from playground.views.pixelvae import LR, N_NOISE, N_Z, PIXEL, SAMPLES, STEPS, PvViews

KEY = "pixelvae-train"


class PvTab(Tab):
    """The PixelVAE page (see the module docstring)."""

    views_class = PvViews

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    @ui_handler
    def compare(self, state: Any, n: Any = SAMPLES.default, seed: Any = 0) -> tuple:
        """1 to 16 samples of the VAE (its means and one binary draw each) beside the PixelVAE's, z from the prior with the seed (0 to 2^31 - 1); returns the picture and a caption."""
        session = self.views.session(state)
        return session, *self.views.compare(session, n, seed)

    @ui_handler
    def latent(self, state: Any, n_z: Any = N_Z.default, n_noise: Any = N_NOISE.default, seed: Any = 0) -> tuple:
        """1 to 6 latents z (rows), each decoded 1 to 6 times with other pixel noise (columns), seed 0 to 2^31 - 1; returns the grid and the share of pixels that differ within and across rows."""
        return self.views.latent(self.views.session(state), n_z, n_noise, seed)

    @ui_handler
    def kl_table(self, state: Any) -> str:
        """The KL per digit class, the reconstruction and the ELBO (nats per digit) of the PixelVAE and the bundled VAE on the test digits."""
        return self.views.kl_table(self.views.session(state))

    @ui_handler
    def fields(self, row: Any = PIXEL.default, col: Any = PIXEL.default) -> tuple:
        """The receptive field of pixel (row, col), each 0 to 27, for the bundled PixelCNN, PixelSNAIL and Diagonal BiLSTM side by side; returns the picture and the counts."""
        return self.views.receptive_fields(row, col)

    # -- layout --------------------------------------------------------------------------------------
    def build(self) -> None:
        """Lay out the page inside the current Blocks and bind its events."""
        first = self.views.session(None)
        picture, caption = self.views.compare(first, SAMPLES.default, 0)
        grid, grid_text = self.views.latent(first, N_Z.default, N_NOISE.default, 0)
        field, field_text = self.views.receptive_fields(PIXEL.default, PIXEL.default)
        self.state = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                self.compare_img = image_output("VAE means · VAE draws · PixelVAE samples", size=260, value=picture, elem_id="pv-compare")
                self.compare_note = gr.Markdown(caption, label="about the samples", elem_id="pv-compare-note")
            with gr.Column(scale=2, min_width=280):
                self.n = slider(SAMPLES, f"samples per model (≤ {SAMPLES.high})", elem_id="pv-n")
                self.seed = seed_box(elem_id="pv-seed")
                self.compare_btn = gr.Button("Draw from both", variant="primary", elem_id="pv-compare-run")
        with gr.Accordion("A latent that still matters: same z, other pixel noise", open=True):
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=220):
                    self.n_z = slider(N_Z, "latents z (rows)", elem_id="pv-nz")
                    self.n_noise = slider(N_NOISE, "draws per z (columns)", elem_id="pv-nnoise")
                    self.latent_seed = seed_box(elem_id="pv-latent-seed")
                    self.latent_btn = gr.Button("Decode", elem_id="pv-latent-run")
                with gr.Column(scale=2):
                    self.latent_img = image_output("one z per row, other pixel noise per column", size=240, value=grid, elem_id="pv-latent")
                    self.latent_text = gr.Markdown(grid_text, label="pixels that differ", elem_id="pv-latent-note")
            self.kl_md = gr.Markdown(self.views.kl_table(first), label="KL per digit class", elem_id="pv-kl")
        with gr.Accordion("Whole past: PixelCNN · PixelSNAIL · Diagonal BiLSTM receptive fields", open=False):
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=200):
                    self.f_row = slider(PIXEL, "row", elem_id="pv-f-row")
                    self.f_col = slider(PIXEL, "column", elem_id="pv-f-col")
                with gr.Column(scale=3):
                    self.field_img = image_output("PixelCNN · PixelSNAIL · Diagonal BiLSTM", size=240, value=field, elem_id="pv-field")
                    self.field_text = gr.Markdown(field_text, label="what the pixel sees", elem_id="pv-field-note")
        with gr.Accordion("Train a PixelVAE live", open=False):
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=260):
                    self.train_img = image_output("16 samples as it trains", size=240, elem_id="pv-train-samples")
                with gr.Column(scale=2):
                    self.training = TrainingPanel.build("pv-train", STEPS, LR, steps_step=20)
        with gr.Accordion("How it works", open=False):
            how_it_works("pixelvae")
        self._bind()

    def _bind(self) -> None:
        state = self.state
        self.compare_btn.click(
            self.compare, [state, self.n, self.seed], [state, self.compare_img, self.compare_note], api_name="ar_pixelvae_compare",
            concurrency_limit=2, concurrency_id="ar-sampling",
        )
        self.latent_btn.click(
            self.latent, [state, self.n_z, self.n_noise, self.latent_seed], [self.latent_img, self.latent_text], api_name="ar_pixelvae_latent",
            concurrency_limit=2, concurrency_id="ar-sampling",
        )
        for box in (self.f_row, self.f_col):
            box.release(self.fields, [self.f_row, self.f_col], [self.field_img, self.field_text], api_name=False if box is self.f_col else "ar_pixelvae_fields", trigger_mode="always_last")
        trained = bind_training(
            self.ctx, self.views, KEY, self.training.train, self.training.stop, self.training.status, state, self.views.train,
            [self.training.steps, self.training.lr, self.training.seed], [self.training.curves, self.train_img],
            "ar_pixelvae_train", "ar_pixelvae_stop", preprocess=False,
        )
        trained.success(self.kl_table, [state], [self.kl_md], api_name="ar_pixelvae_kl")

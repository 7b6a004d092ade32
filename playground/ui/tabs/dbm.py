"""The deep Boltzmann machine page of the Boltzmann tab: layout and thin handlers over
``playground.views.dbm``. The Boltzmann tab builds it in its "DBM" page
(``DbmTab.create(ctx)``): samples of the bundled DBM and a test digit's mean-field posterior
shown at once, the test NLL beside the RBM's and DBN's, live training with Stop.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.ui import inputs
from playground.ui.panels import Tab, bind_training
from playground.ui.widgets import Panel, how_it_works, image_output, index_box, panel_note, redraw_on, reporter, seed_box, slider
from playground.views.dbm import AIS_BETAS, AIS_RUNS, HIDDEN1, HIDDEN2, JOINT_EPOCHS, LR, MF_SWEEPS, PRETRAIN_EPOCHS, SAMPLE_STEPS, DbmViews

TRAIN_KEY = "boltzmann-train"  # one Boltzmann training run at a time per session, as the tab's Train and Stack


class DbmTab(Tab):
    """The DBM page (see the module docstring)."""

    views_class = DbmViews

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    def samples(self, state: Any, steps: Any = SAMPLE_STEPS.default, seed: Any = 0):
        """36 samples of the session's DBM after steps (1 to 5,000) Gibbs sweeps from noise, seed 0 to 2^31 - 1. Returns a 6 x 6 grid and the judges' reading."""
        return self.views.samples(state, steps, seed)

    def mean_field(self, state: Any, index: Any = 0, sweeps: Any = MF_SWEEPS.default):
        """The mean-field posterior of a test digit (index 0 to 499) over sweeps (1 to 100) fixed-point sweeps. Returns the digit and its reconstructions p(v | mu1) after the bottom-up pass and 1, 2, 3, 5, 10 sweeps, the largest change per sweep (plot) and a note with the fixed-point check and the bound."""
        return self.views.mean_field(state, index, sweeps)

    def estimate(self, state: Any, n_betas: Any = AIS_BETAS.default, n_runs: Any = AIS_RUNS.default, seed: Any = 0, progress=gr.Progress()):
        """The test NLL of the session's DBM on 500 test digits: the variational bound with log Z by AIS over h1 with n_betas temperatures (100 to 20,000) and n_runs runs (10 to 500), seed 0 to 2^31 - 1; beside the bundled RBM's and DBN's figures. Returns the table."""
        return self.views.estimate(state, n_betas, n_runs, seed, progress=reporter(progress))

    # -- layout --------------------------------------------------------------------------------------
    def build(self) -> None:
        """Lay out the page inside the current Blocks and bind its events."""
        first = self.views.session(None)
        self.state = gr.State(None)
        grid, quality = self.views.samples(first)
        strip, figure, text = self.views.mean_field(first)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                self.samples_img = image_output("DBM samples (Gibbs sweeps from noise)", size=300, value=grid, elem_id="dbm-samples")
                with gr.Row():
                    self.steps = slider(SAMPLE_STEPS, "Gibbs sweeps", min_width=160)
                    self.seed = seed_box(min_width=90)
                self.sample_btn = gr.Button("Sample", variant="primary", elem_id="dbm-sample")
                self.quality = gr.Markdown(quality, label="the judges' reading", elem_id="dbm-quality")
                self.samples_note = panel_note()
            with gr.Column(scale=3, min_width=420):
                self.strip = image_output("digit · p(v | μ1) after the bottom-up pass and 1, 2, 3, 5, 10 sweeps", size=120, value=strip, elem_id="dbm-mf-strip")
                with gr.Row():
                    self.index = index_box(self.ctx.data, "test digit", min_width=160)
                    self.sweeps = slider(MF_SWEEPS, "mean-field sweeps", min_width=160)
                self.mf_plot = gr.Plot(figure, label="mean-field convergence", elem_id="dbm-mf-plot")
                self.mf_text = gr.Markdown(text, label="fixed-point check", elem_id="dbm-mf-text")
                self.mf_note = panel_note()
        with gr.Accordion("Test NLL beside the RBM and the DBN", open=True):
            with gr.Row():
                self.betas = slider(AIS_BETAS, "AIS temperatures", step=100)
                self.runs = slider(AIS_RUNS, "AIS runs", step=10)
                self.ais_seed = seed_box(min_width=90)
                self.ais_btn = gr.Button("Estimate", variant="primary", elem_id="dbm-ais")
            self.table = gr.Markdown(self.views.nll_table(first), label="test NLL table", elem_id="dbm-nll")
            self.table_note = panel_note()
        with gr.Accordion("Train a DBM, live: pre-training, then joint training", open=False):
            self._train_layout()
        with gr.Accordion("How it works", open=False):
            how_it_works("dbm")
        self._bind()

    def _train_layout(self) -> None:
        with gr.Row():
            self.h1 = slider(HIDDEN1, "units in h1")
            self.h2 = slider(HIDDEN2, "units in h2")
            self.pre = slider(PRETRAIN_EPOCHS, "pre-training epochs per layer")
            self.joint = slider(JOINT_EPOCHS, "joint epochs")
        with gr.Row():
            self.lr = inputs.Number(LR.default, label=f"learning rate ({LR.low:g} to {LR.high:g})", minimum=LR.low, maximum=LR.high)
            self.train_seed = seed_box()
            self.train_btn = gr.Button("Train", variant="primary", elem_id="dbm-train")
            self.stop_btn = gr.Button("Stop", variant="stop", elem_id="dbm-stop")
        self.status = gr.Markdown(label="training status", elem_id="dbm-train-status")
        with gr.Row():
            self.curves = gr.Plot(label="training curves")
            self.trained = image_output("samples of the trained DBM", size=300)

    # -- events ----------------------------------------------------------------------------------------
    def _bind(self) -> None:
        state = self.state
        samples, mean_field, table = self.panels()
        samples.on(self.sample_btn.click, self.samples, samples.inputs, api_name="dbm_samples")
        mean_field.on([self.index.submit, self.sweeps.release], self.mean_field, mean_field.inputs, api_name="dbm_mean_field", trigger_mode="always_last")
        table.on(
            self.ais_btn.click, self.estimate, [state, self.betas, self.runs, self.ais_seed], [state, self.table], api_name="dbm_nll",
            concurrency_limit=2, concurrency_id="gibbs",
        )
        trained = bind_training(
            self.ctx, self.views, TRAIN_KEY, self.train_btn, self.stop_btn, self.status, state, self.views.train,
            [self.h1, self.h2, self.pre, self.joint, self.lr, self.train_seed], [self.curves, self.trained], "dbm_train", "dbm_stop",
        )
        redraw_on([trained], [samples, mean_field, table])

    def panels(self) -> list[Panel]:
        """The page's panels, each redrawn from its own inputs when the session's DBM changes."""
        state = self.state
        return [
            Panel(self.views.samples, [state, self.steps, self.seed], [self.samples_img, self.quality], self.samples_note),
            Panel(self.views.mean_field, [state, self.index, self.sweeps], [self.strip, self.mf_plot, self.mf_text], self.mf_note),
            Panel(self.views.nll_table, [state], [self.table], self.table_note),
        ]

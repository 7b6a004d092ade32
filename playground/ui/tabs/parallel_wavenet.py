"""The Parallel WaveNet page of the Sequences tab: layout and thin handlers over
``playground.views.parallel_wavenet``. The tab builds it in its "Parallel WaveNet" page (``PWTab.create(ctx)``).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.core.audio import CLASS_NAMES
from playground.ui import inputs
from playground.ui.panels import Tab, bind_training
from playground.ui.widgets import Panel, panel_note, seed_box, slider
from playground.views.parallel_wavenet import LR, SECONDS, STEPS, TEMPERATURE, PWViews

TRAIN_KEY = "wn-pw-train"
HOW = """**Parallel WaveNet** (van den Oord et al. 2017, [arXiv:1711.10433](https://arxiv.org/abs/1711.10433)) trains a *student* that
makes a whole clip at once from a trained WaveNet *teacher*, which can only make it one sample at a time. The student is an **inverse
autoregressive flow** (Kingma et al. 2016): draw logistic noise z for every sample first; each of its 3 flows, a small dilated causal
network, reads z before t and gives a shift and a scale, x_t = z_t · s_t + μ_t. Every t is computed at once, so the clip is one pass.
It learns by **probability density distillation**: on its own samples, the teacher says how likely each next sample is, and the student
minimises KL(student ‖ teacher) = cross-entropy − entropy, per sample, over the 256 mu-law bins, exactly (not by sampling). The entropy
term keeps it from collapsing onto the teacher's single most likely sound. Here the teacher is the **Scale** page's bundled WaveNet;
the paper adds a power (spectral) loss, and a far bigger model, to reach real speech."""


class PWTab(Tab):
    """The Parallel WaveNet page (see the module docstring)."""

    views_class = PWViews

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    def generate(self, state: Any, label: Any = "5", seconds: Any = SECONDS.default, temperature: Any = TEMPERATURE.default, seed: Any = 0) -> tuple:
        """One clip in one parallel pass: label "0" to "9" (C4 to C5, chirp, melody), seconds 0.05 to 5, temperature 0.1 to 2 (scales the noise), seed 0 to 2^31 - 1. Returns the WAV, its spectrogram and a status with samples/s, the real-time factor and the teacher's log-likelihood of the clip."""
        return self.views.generate(self.views.session(state), label, seconds, temperature, seed)

    def race(self, state: Any, label: Any = "5", seconds: Any = SECONDS.default, seed: Any = 0) -> str:
        """The same clip (label "0" to "9", seconds 0.05 to 5, seed) by the student in one pass and by the teacher's fast generator: a table of times, samples/s, real-time factors, the speed-up and the teacher's log-likelihood of each."""
        return self.views.race(self.views.session(state), label, seconds, seed)

    def restore(self, state: Any) -> tuple:
        """The bundled student again; returns its figures."""
        session = self.views.restore(state)
        return session, session.figures

    # -- layout ----------------------------------------------------------------------------------------
    def build(self) -> None:
        """Controls on the left, the clip on the right (generated at once), the race and the teacher's figures below, then training."""
        first = self.views.session(None)
        audio, spectrogram, status = self.views.generate(first)
        self.state = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                self.label = inputs.Dropdown([(name, str(i)) for i, name in enumerate(CLASS_NAMES)], value="5", label="class (the teacher's)", elem_id="wn-pw-class")
                with gr.Row():
                    self.seconds = slider(SECONDS, "seconds", step=0.05, elem_id="wn-pw-seconds")
                    self.temperature = slider(TEMPERATURE, "noise scale", step=0.05, elem_id="wn-pw-temp")
                with gr.Row(equal_height=True):
                    self.seed = seed_box(min_width=120, elem_id="wn-pw-seed")
                    self.run_btn = gr.Button("Generate in one pass", variant="primary", min_width=160, elem_id="wn-pw-run")
                    self.race_btn = gr.Button("Race the fast WaveNet", min_width=160, elem_id="wn-pw-race")
            with gr.Column(scale=3):
                self.audio = gr.Audio(audio, label="Parallel WaveNet: the whole clip at once", type="filepath", interactive=False, elem_id="wn-pw-audio")
                self.status = gr.Markdown(status, label="generation status", elem_id="wn-pw-status")
                self.spectrogram = gr.Plot(spectrogram, label="spectrogram", elem_id="wn-pw-spec")
                self.note = panel_note(elem_id="wn-pw-note")
        self.race_out = gr.Markdown("Press **Race the fast WaveNet** for the same clip made both ways.", label="race result", elem_id="wn-pw-race-result")
        self.figures = gr.Markdown(first.figures, label="the teacher's log-likelihood", elem_id="wn-pw-figures")
        self._train_layout()
        with gr.Accordion("How it works", open=False):
            gr.Markdown(HOW)
        self._bind()

    def _train_layout(self) -> None:
        with gr.Accordion("Distil a new student here", open=False):
            with gr.Row():
                self.steps = slider(STEPS, "steps", step=10, elem_id="wn-pw-steps")
                self.lr = inputs.Number(LR.default, label=f"learning rate ({LR.low:g} to {LR.high:g})", minimum=LR.low, maximum=LR.high, elem_id="wn-pw-lr")
                self.t_seed = seed_box(elem_id="wn-pw-train-seed")
            with gr.Row():
                self.train_btn = gr.Button("Distil a new student", variant="primary", elem_id="wn-pw-train")
                self.stop_btn = gr.Button("Stop", variant="stop", elem_id="wn-pw-stop")
                self.restore_btn = gr.Button("↺ Bundled student", elem_id="wn-pw-restore")
            self.t_status = gr.Markdown("Press **Distil**: the KL, cross-entropy and entropy curves update as it learns.", label="training status", elem_id="wn-pw-train-status")
            self.curves = gr.Plot(label="distillation curves", elem_id="wn-pw-curves")

    def _bind(self) -> None:
        generate = Panel(self.generate, [self.state, self.label, self.seconds, self.temperature, self.seed], [self.audio, self.spectrogram, self.status], self.note)
        generate.on(self.run_btn.click, self.generate, generate.inputs, api_name="wn_pw_generate", concurrency_limit=4, concurrency_id="wn-gen")
        race = Panel(self.race, [self.state, self.label, self.seconds, self.seed], [self.race_out], self.note)
        race.on(self.race_btn.click, self.race, race.inputs, api_name="wn_pw_race", concurrency_limit=2, concurrency_id="wn-gen")
        restore = Panel(self.restore, [self.state], [self.state, self.figures], self.note)
        restore.on(self.restore_btn.click, self.restore, restore.inputs, api_name="wn_pw_restore")
        bind_training(
            self.ctx, self.views, TRAIN_KEY, self.train_btn, self.stop_btn, self.t_status, self.state, self.views.train,
            [self.steps, self.lr, self.t_seed], [self.t_status, self.curves, self.figures], "wn_pw_train", "wn_pw_stop",
        )

"""The Pitch contour page of the Sequences tab: layout and thin handlers over
``playground.views.wavenet_pitch``. The tab builds it in its "Pitch contour" page (``PitchTab.create(ctx)``).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.core.pitch import PRESETS
from playground.ui import inputs
from playground.ui.panels import Tab, bind_training
from playground.ui.widgets import Panel, kept, panel_note, reporter, seed_box, slider, ui_handler
from playground.views.wavenet_pitch import LR, SECONDS, SOURCES, STEPS, TEMPERATURE, PitchViews

TRAIN_KEY = "wn-pitch-train"
HOW = """**Local conditioning** (van den Oord et al. 2016, [arXiv:1609.03499](https://arxiv.org/abs/1609.03499), section 2.5): besides
the audio so far, every layer of this WaveNet is told a *time series*, here the pitch the sound should have at each moment. The curve
(one value per 10 ms, as log₂(f / 440 Hz)) is brought to the audio rate by a **transposed convolution** with a stride of 80 samples,
and each layer adds a 1×1 convolution of it to its gates: tanh(W_f∗x + V_f∗c) · σ(W_g∗x + V_g∗c). The samples stay causal (sample t
sees samples before t only); the curve is known for the whole clip, as a text-to-speech WaveNet knows the whole sentence. The
**Scale** page's WaveNet has *global* conditioning instead: one class (a note) for the whole clip. This model learnt from 2,000
synthetic tones of 0.25 s (steady, gliding, vibrato, melodies, 130 to 700 Hz), starting from that WaveNet's weights. The **tracker**
takes each 10 ms frame's strongest spectral peak (the fundamental of these tones); the error in **cents** is 1200 · log₂(heard / asked):
100 cents is a semitone. The exact tone (the curve synthesised directly) shows how far the tracker itself is off."""


class PitchTab(Tab):
    """The Pitch contour page (see the module docstring)."""

    views_class = PitchViews

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    def generate(
        self, state: Any, source: Any = "preset", name: Any = PRESETS[0], drawing: Any = None, seconds: Any = SECONDS.default,
        temperature: Any = TEMPERATURE.default, seed: Any = 0, progress=gr.Progress(),
    ):
        """Generate a clip that follows a pitch curve: source "preset" (name: glide up, glide down, vibrato, melody or siren) or "my drawing" (a drawing: left to right is time, top 880 Hz, bottom 110 Hz); seconds 0.2 to 3; temperature 0.1 to 2; seed 0 to 2^31 - 1. Returns the WAV, the curve with the pitch tracked in the clip, and the tracking error in cents with samples/s."""
        session = self.views.session(state)
        yield from kept(self.views.generate(session, source, name, drawing, seconds, temperature, seed, progress=reporter(progress)))

    def preview(self, source: Any = "preset", name: Any = PRESETS[0], drawing: Any = None, seconds: Any = SECONDS.default) -> tuple:
        """The exact tone for a curve (source, name, drawing and seconds as for generate): its WAV, the curve, and the tracker's own error on it."""
        return self.views.preview(source, name, drawing, seconds)

    def restore(self, state: Any) -> tuple:
        """The bundled model again (after a training run)."""
        session = self.views.restore(state)
        return session, f"Playing the **{session.name}** model."

    # -- layout ----------------------------------------------------------------------------------------
    def build(self) -> None:
        """The curve and its controls on the left, the clips and the plot on the right (the exact tone of the first preset at once), training below."""
        exact, figure, text = self.views.preview()
        self.state = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=340):
                with gr.Row():
                    self.source = inputs.Radio(list(SOURCES), value=SOURCES[0], label="the curve to follow", min_width=160, elem_id="wn-pitch-source")
                    self.preset = inputs.Dropdown(list(PRESETS), value=PRESETS[0], label="preset", min_width=140, elem_id="wn-pitch-preset")
                with gr.Row():
                    self.seconds = slider(SECONDS, "seconds", step=0.1, elem_id="wn-pitch-seconds")
                    self.temperature = slider(TEMPERATURE, "temperature", step=0.05, elem_id="wn-pitch-temp")
                with gr.Row(equal_height=True):
                    self.seed = seed_box(min_width=120, elem_id="wn-pitch-seed")
                    self.run_btn = gr.Button("Generate", variant="primary", min_width=140, elem_id="wn-pitch-run")
                self.drawing = inputs.Sketchpad(
                    label="or draw it (time →, pitch ↑)", canvas_size=(600, 200), fixed_canvas=True, height=230, layers=False,
                    transforms=(), brush=gr.Brush(colors=["#000000"], color_mode="fixed", default_size=8), elem_id="wn-pitch-draw",
                )
            with gr.Column(scale=3):
                with gr.Row():
                    self.audio = gr.Audio(label="WaveNet following the curve", type="filepath", interactive=False, elem_id="wn-pitch-audio")
                    self.exact = gr.Audio(exact, label="the exact tone (for comparison)", type="filepath", interactive=False, elem_id="wn-pitch-exact")
                self.status = gr.Markdown(text + "  \nPress **Generate** to hear the WaveNet follow it.", label="tracking error", elem_id="wn-pitch-status")
                self.plot = gr.Plot(figure, label="pitch against time (draw: top 880 Hz, bottom 110 Hz)", elem_id="wn-pitch-plot")
                self.note = panel_note(elem_id="wn-pitch-note")
        self._train_layout()
        with gr.Accordion("How it works", open=False):
            gr.Markdown(HOW)
        self._bind()

    def _train_layout(self) -> None:
        with gr.Accordion("Train a pitch-following WaveNet here", open=False):
            with gr.Row():
                self.steps = slider(STEPS, "steps", step=10, elem_id="wn-pitch-steps")
                self.lr = inputs.Number(LR.default, label=f"learning rate ({LR.low:g} to {LR.high:g})", minimum=LR.low, maximum=LR.high, elem_id="wn-pitch-lr")
                self.warm = inputs.Checkbox(True, label="start from the bundled WaveNet's weights", elem_id="wn-pitch-warm")
                self.t_seed = seed_box(elem_id="wn-pitch-train-seed")
            with gr.Row():
                self.train_btn = gr.Button("Train a new model", variant="primary", elem_id="wn-pitch-train")
                self.stop_btn = gr.Button("Stop", variant="stop", elem_id="wn-pitch-stop")
                self.restore_btn = gr.Button("↺ Bundled model", elem_id="wn-pitch-restore")
            self.t_status = gr.Markdown("Press **Train**; the curve updates as it learns (a few hundred steps take minutes on 2 cores).", label="training status", elem_id="wn-pitch-train-status")
            self.curves = gr.Plot(label="training curves", elem_id="wn-pitch-curves")

    def _bind(self) -> None:
        curve = [self.source, self.preset, self.drawing, self.seconds]
        self.run_btn.click(
            ui_handler(self.generate), [self.state, *curve, self.temperature, self.seed], [self.audio, self.plot, self.status],
            api_name="wn_pitch_generate", concurrency_limit=4, concurrency_id="wn-gen",
        )
        # Picking a preset or drawing switches the source in the browser at once (no round trip, so a Generate pressed right
        # after a stroke plays the drawing), and that event's preview is told the new source itself: listeners of one event
        # read their inputs independently, so it must not rely on the switch having landed first.
        self.preset.input(None, None, self.source, js=f"() => {SOURCES[0]!r}")
        self.drawing.input(None, None, self.source, js=f"() => {SOURCES[1]!r}")
        preview = Panel(self.preview, curve, [self.exact, self.plot, self.status], self.note)
        preview.on([self.source.input, self.seconds.release], self.preview, preview.inputs, api_name="wn_pitch_preview", trigger_mode="always_last")
        for trigger, source in ((self.preset.input, SOURCES[0]), (self.drawing.input, SOURCES[1])):
            preview.on(trigger, self.preview, preview.inputs, api_visibility="private", trigger_mode="always_last", js=f"(_, name, drawing, seconds) => [{source!r}, name, drawing, seconds]")
        restore = Panel(self.restore, [self.state], [self.state, self.t_status], self.note)
        restore.on(self.restore_btn.click, self.restore, restore.inputs, api_name="wn_pitch_restore")
        bind_training(
            self.ctx, self.views, TRAIN_KEY, self.train_btn, self.stop_btn, self.t_status, self.state, self.views.train,
            [self.steps, self.lr, self.warm, self.t_seed], [self.t_status, self.curves], "wn_pitch_train", "wn_pitch_stop",
        )

"""The WaveNet tab: layout and thin handlers over ``playground.views.wavenet``.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.core import plots
from playground.core.audio import CLASS_NAMES, CLIP_SECONDS, MAX_UPLOAD_SECONDS
from playground.ui import inputs
from playground.ui.panels import Tab, TrainingPanel
from playground.ui.tabs.moving_digits import MDTab
from playground.ui.tabs.parallel_wavenet import PWTab
from playground.ui.tabs.text import TextTab
from playground.ui.tabs.wavenet_pitch import PitchTab
from playground.ui.widgets import Panel, how_it_works, kept, panel_note, redraw_on, reporter, seed_box, slider, ui_handler
from playground.views.wavenet import CARD, CHANNELS, CONDITIONAL_DEFAULT, DATA_TEXT, LAYERS, LR, MAX_NAIVE_SECONDS, MAX_SECONDS, NAIVE_SECONDS, PRIME_SECONDS, SECONDS, SNIPPET_EVERY, SOURCES, STACKS, STEPS, TEMPERATURE, TOUR, WnViews
from playground.views.wavenet_lessons import FIELD_LAYERS, FIELD_STACKS, KERNEL, LEVEL_DB, RATE, RATES

API = "wn"
METHOD_CHOICES = [("fast: per-layer queues, O(layers) per sample", "fast"), ("naive: recompute the receptive field per sample", "naive")]


class WaveNetTab(Tab):
    """The WaveNet tab (see the module docstring)."""

    views_class = WnViews
    card, tour, explain_tab = CARD, TOUR, "wn-explain"

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    def scale(self, state: Any, seed: Any = 0):
        """The C major scale C4 to C5 (0.25 s a note, generated in parallel by the fast generator), drawn with the seed (0 to 2^31 - 1); a model without the synthetic classes plays one 2 s clip. Returns the WAV, its spectrogram and the pitch heard in each note."""
        return self.views.scale(state, seed)

    def generate(
        self, state: Any, seconds: Any = SECONDS.default, temperature: Any = TEMPERATURE.default, label: Any = "0", prime: Any = None,
        prime_seconds: Any = PRIME_SECONDS.default, method: Any = "fast", seed: Any = 0, progress=gr.Progress(),
    ):
        """Generate one clip sample by sample, streaming. seconds: 0.01 to 10 (naive: at most 0.5); temperature: 0.1 to 2; label: a class id ("0" to "9": C4 to C5, chirp, melody) or "none" for an unconditional model; prime: an optional audio file to continue, of which the last prime_seconds (0 to 2) are fed first; method: "fast" or "naive"; seed: 0 to 2^31 - 1. Returns the WAV (at the end), the waveform, the spectrogram (at the end) and a status with samples/s and the real-time factor."""
        yield from kept(self.views.generate(state, seconds, temperature, label, prime, prime_seconds, method, seed, progress=reporter(progress)))

    def race(self, state: Any, seconds: Any = NAIVE_SECONDS.default, label: Any = "0", seed: Any = 0):
        """Generate the same clip (0.01 to 0.5 s) with the naive and the fast generator, same weights, class and seed; returns a table of their times, the speed-up and whether the samples are identical."""
        return self.views.race(state, seconds, label, seed)

    def mu_law(self, label: Any = "0", path: Any = None, level_db: Any = LEVEL_DB.default, seed: Any = 0):
        """A synthetic clip of a class ("0" to "9", drawn with the seed) or your clip (path, its first 10 s), played at a peak of level_db (-60 to 0 dBFS) and quantised to 8 bits linearly and by mu-law. Returns the original, linear and mu-law WAVs and their signal-to-noise ratios."""
        return self.views.mu_law(label, path, level_db, seed)

    def receptive_field(
        self, state: Any, layers: Any = FIELD_LAYERS.default, stacks: Any = FIELD_STACKS.default, kernel_size: Any = KERNEL.default,
        rate: Any = RATE.default, custom: Any = "",
    ):
        """The dilated causal stack: stacks (1 to 4) cycles of layers (1 to 12) with dilations 1, 2, 4, ..., or your own dilations when custom is not empty (whole numbers 1 to 4096 separated by commas, at most 64, e.g. "1, 3, 9, 27"); kernel_size 2 or 3 taps; rate 1000 to 48000 Hz. Returns the diagram and the receptive field by the formula and by a gradient probe."""
        return self.views.receptive_field(state, layers, stacks, kernel_size, rate, custom)

    # -- what a change of model redraws ------------------------------------------------------------
    def _redraw_generate(self, state: Any) -> tuple[dict, str]:
        """The class picker of Generate and the race for the session's model (conditional
        or not), and the race's result cleared: it was about the previous model."""
        choices, value = self.views.classes(state)
        return gr.update(choices=choices, value=value), ""

    def _classes(self, state: Any) -> tuple[dict]:
        return self._redraw_generate(state)[:1]

    # -- layout --------------------------------------------------------------------------------------
    def build(self) -> None:
        """Lay out the tab inside the current Blocks and bind its events."""
        first = self.views.session(None)
        self.state = gr.State(None)
        self.header(first, ["wavenet"], "wavenet", "wn-ckpt")
        self.pages([
            ("Scale", "wn-scale", lambda: self._scale_layout(first)),
            ("Generate", "wn-generate", lambda: self._generate_layout(first)),
            ("Mu-law", "wn-mulaw", self._mu_law_layout),
            ("Receptive field", "wn-field", lambda: self._field_layout(first)),
            ("Pitch contour", "wn-pitch", lambda: PitchTab.create(self.ctx)),
            ("Parallel WaveNet", "wn-parallel", lambda: PWTab.create(self.ctx)),
            ("Text", "wn-text", lambda: TextTab.create(self.ctx)),
            ("Moving digits", "wn-video", lambda: MDTab.create(self.ctx)),
            ("Train", "wn-train", self._train_layout),
            ("How it works", "wn-explain", lambda: how_it_works("wavenet")),
        ])
        self._bind()

    def _scale_layout(self, first: Any) -> None:
        audio, spectrogram, text = self.views.scale(first, 0)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                self.scale_audio = gr.Audio(
                    value=audio, label="a C major scale, generated sample by sample", type="filepath", interactive=False,
                    elem_id="wn-scale-audio",
                )
                with gr.Row(equal_height=True):
                    self.scale_seed = seed_box(elem_id="wn-scale-seed", min_width=120)
                    self.scale_btn = gr.Button("Play another scale", variant="primary", min_width=160, elem_id="wn-scale-run")
                self.scale_text = gr.Markdown(text, label="the pitch heard in each note", elem_id="wn-scale-note")
            with gr.Column(scale=3):
                self.scale_spec = gr.Plot(value=spectrogram, label="spectrogram: each note's pitch is its lowest bright line", elem_id="wn-scale-spec")
                self.scale_note = panel_note()
                gr.Markdown(f"**Learnt from** {DATA_TEXT}.", elem_id="wn-data")

    def _generate_layout(self, first: Any) -> None:
        choices, value = self.views.classes(first)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                self.g_label = inputs.Dropdown(choices, value=value, label="class (global conditioning)", elem_id="wn-class")
                self.g_seconds = slider(SECONDS, f"seconds (≤ {MAX_SECONDS:g}; naive ≤ {MAX_NAIVE_SECONDS:g})", step=0.01)
                self.g_temp = slider(TEMPERATURE, "temperature (lower: more certain)", step=0.05)
                self.g_method = inputs.Radio(METHOD_CHOICES, value="fast", label="generator")
                with gr.Row(equal_height=True):
                    self.g_seed = seed_box(min_width=120)
                    self.gen_btn = gr.Button("Generate", variant="primary", min_width=160, elem_id="wn-generate-run")
                self.gen_status = gr.Markdown(label="generation status", elem_id="wn-generate-status")
                with gr.Accordion("optional: continue your own clip", open=False):
                    self.g_prime = gr.Audio(sources=["upload", "microphone"], type="filepath", label="a clip to continue (upload or record)", elem_id="wn-prime")
                    self.g_prime_s = slider(PRIME_SECONDS, "seconds of it to continue from (its end)", step=0.05)
            with gr.Column(scale=3):
                self.gen_audio = gr.Audio(label="generated", type="filepath", interactive=False, elem_id="wn-generate-audio")
                self.gen_wave = gr.Plot(label="waveform", elem_id="wn-generate-wave")
                self.gen_spec = gr.Plot(label="spectrogram", elem_id="wn-generate-spec")
        gr.Markdown(
            "One sample at a time, each drawn from the 256-way softmax given the samples before it. The bundled model "
            "learnt from 0.25 s clips: a note rings about that long, then the model improvises (often a quiet hiss)."
        )
        gr.Markdown("#### Race: naive against fast\nThe same weights, seed and class through both generators.")
        with gr.Row(equal_height=True):
            self.race_seconds = slider(NAIVE_SECONDS, "seconds", step=0.01, scale=3)
            self.race_btn = gr.Button("Race", scale=1, min_width=160, elem_id="wn-race-run")
        self.gen_note = panel_note(elem_id="wn-generate-note")  # the class picker's and the race's
        self.race_out = gr.Markdown(label="race result", elem_id="wn-race-result")

    def _mu_law_layout(self) -> None:
        original, linear, mu, text = self.views.mu_law()
        with gr.Row(equal_height=True):
            self.m_label = inputs.Dropdown([(n, str(i)) for i, n in enumerate(CLASS_NAMES)], value="0", label="a synthetic clip", min_width=180)
            self.m_level = slider(LEVEL_DB, "level (peak, dBFS)", step=1, scale=2, min_width=240)
            self.m_seed = seed_box("seed of the synthetic clip", min_width=180)
            self.m_btn = gr.Button("Quantise to 8 bits", variant="primary", min_width=180, elem_id="wn-mulaw-run")
        with gr.Row(elem_id="wn-mulaw-players"):
            self.m_original = gr.Audio(original, label="original", type="filepath", interactive=False, elem_id="wn-mulaw-original")
            self.m_linear = gr.Audio(linear, label="8-bit linear", type="filepath", interactive=False, elem_id="wn-mulaw-linear")
            self.m_mu = gr.Audio(mu, label="8-bit mu-law", type="filepath", interactive=False, elem_id="wn-mulaw-mu")
        self.m_note = panel_note()
        self.m_text = gr.Markdown(text, label="signal-to-noise ratios", elem_id="wn-mulaw-note")
        with gr.Accordion("or quantise your own clip (upload or record)", open=False):
            self.m_upload = gr.Audio(sources=["upload", "microphone"], type="filepath", label="your clip (quantised once loaded)", elem_id="wn-mulaw-upload")
        gr.Plot(value=plots.mu_law_figure(), label="mu-law companding (mu = 255)", elem_id="wn-mulaw-plot")

    def _field_layout(self, first: Any) -> None:
        figure, text = self.views.receptive_field(first)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=360):
                self.r_layers = slider(FIELD_LAYERS, "layers per stack (dilations 1, 2, 4, …)")
                self.r_stacks = slider(FIELD_STACKS, "stacks (the dilation cycle repeats)")
                with gr.Row():
                    self.r_kernel = inputs.Radio(list(range(int(KERNEL.low), int(KERNEL.high) + 1)), value=KERNEL.default, label="taps per convolution", min_width=160)
                    self.r_rate = inputs.Dropdown(list(RATES), value=RATE.default, label="sample rate (Hz)", min_width=160)
                self.r_custom = inputs.Textbox(
                    value="", label="or your own dilations (replace the above)", placeholder="e.g. 1, 3, 9, 27 with 3 taps", max_lines=1,
                    elem_id="wn-field-custom",
                )
            with gr.Column(scale=3):
                self.r_plot = gr.Plot(value=figure, label="the dilated causal stack", show_label=False, elem_id="wn-field-plot")
                self.field_note = panel_note()
                self.r_text = gr.Markdown(text, label="receptive field", elem_id="wn-field-note")

    def _train_layout(self) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=320):
                self.t_source = inputs.Radio(list(SOURCES), value=SOURCES[0], label="train on")
                self.t_clip = gr.Audio(
                    sources=["upload", "microphone"], type="filepath", label=f"my clip (at least {CLIP_SECONDS:g} s; up to {MAX_UPLOAD_SECONDS:g} s are used)",
                    elem_id="wn-train-clip",
                )
                self.t_cond = inputs.Checkbox(value=CONDITIONAL_DEFAULT, label="conditioned on the class (synthetic notes)")
                gr.Markdown(f"Synthetic notes: {DATA_TEXT}.")
                self.t_snippet = gr.Audio(label="the latest snippet", type="filepath", interactive=False, elem_id="wn-train-snippet")
                self.t_snippet_note = gr.Markdown(label="snippet", elem_id="wn-train-snippet-note")
            with gr.Column(scale=2):
                with gr.Row():
                    self.t_channels = slider(CHANNELS, "residual channels (skip: twice)", step=4)
                    self.t_layers = slider(LAYERS, "layers per stack")
                with gr.Row():
                    self.t_stacks = slider(STACKS, "stacks")
                    self.t_every = slider(SNIPPET_EVERY, "play a snippet every N steps", step=25)
                self.training = TrainingPanel.build("wn-train", STEPS, LR)

    # -- events ----------------------------------------------------------------------------------------
    def _bind(self) -> None:
        views, state, training = self.views, self.state, self.training
        changed = self.models.bind(views, state, API, extra=self._classes, extra_outputs=[self.g_label])
        trained = training.bind(
            self.ctx, views, "wn-train", state, views.train,
            [self.t_source, self.t_clip, self.t_channels, self.t_layers, self.t_stacks, self.t_cond, self.t_every, training.steps, training.lr, training.seed],
            [training.curves, self.t_snippet, self.t_snippet_note], API,
        )
        panels = self.panels()
        redraw_on([*changed, trained], panels)
        scale, generate, field = panels[1:]
        scale.on(self.scale_btn.click, self.scale, [state, self.scale_seed], api_name="wn_scale", concurrency_limit=4, concurrency_id="wn-gen")
        # A stream with a gr.Progress: bound as it is (a failure is a toast).
        self.gen_btn.click(
            ui_handler(self.generate), [state, self.g_seconds, self.g_temp, self.g_label, self.g_prime, self.g_prime_s, self.g_method, self.g_seed],
            [self.gen_audio, self.gen_wave, self.gen_spec, self.gen_status], api_name="wn_generate", concurrency_limit=4, concurrency_id="wn-gen",
        )
        generate.on(
            self.race_btn.click, self.race, [state, self.race_seconds, self.g_label, self.g_seed], [self.race_out], api_name="wn_race",
            concurrency_limit=2, concurrency_id="wn-gen",
        )
        mu_law = self._mu_law_panel()
        mu_law.on([self.m_btn.click, self.m_upload.upload], self.mu_law, mu_law.inputs, api_name="wn_mu_law")
        field.on(
            [self.r_layers.change, self.r_stacks.change, self.r_kernel.change, self.r_rate.change, self.r_custom.submit], self.receptive_field,
            field.inputs, api_name="wn_receptive_field", trigger_mode="always_last",
        )
        self.t_clip.input(lambda: SOURCES[1], None, self.t_source, api_visibility="private", show_progress="hidden")
        self.bind_chrome(state)

    def _mu_law_panel(self) -> Panel:
        return Panel(self.mu_law, [self.m_label, self.m_upload, self.m_level, self.m_seed], [self.m_original, self.m_linear, self.m_mu, self.m_text], self.m_note)

    def tour_panels(self) -> dict[str, Panel]:
        """The panels the tour redraws (see ``Tab.bind_chrome``); Scale and Generate are
        run by their buttons, for their progress."""
        return {"mu_law": self._mu_law_panel(), "field": self.panels()[3]}

    def panels(self) -> list[Panel]:
        """Every panel a change of model redraws, each from its own inputs (the mu-law
        lesson depends on no model)."""
        views, state = self.views, self.state
        return [
            self.models.panel(views, state),
            Panel(self.scale, [state, self.scale_seed], [self.scale_audio, self.scale_spec, self.scale_text], self.scale_note),
            Panel(self._redraw_generate, [state], [self.g_label, self.race_out], self.gen_note),
            Panel(
                self.receptive_field, [state, self.r_layers, self.r_stacks, self.r_kernel, self.r_rate, self.r_custom], [self.r_plot, self.r_text],
                self.field_note,
            ),
        ]

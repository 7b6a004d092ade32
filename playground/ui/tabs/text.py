"""The Text page of the Sequences tab: layout and thin handlers over ``playground.views.text``.
The Sequences tab builds it in its "Text" page (``TextTab.create(ctx)``).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.ui import inputs
from playground.ui.panels import Tab, bind_training
from playground.ui.widgets import Panel, kept, panel_note, reporter, seed_box, slider, ui_handler
from playground.views.text import KINDS, LENGTH, LR, MAX_PRIME, MAX_SCORED, PRIME, SCORED, SOURCES, STEPS, TEMPERATURE, TextViews

TRAIN_KEY = "wn-text-train"
MODEL_CHOICES = [(title, kind) for kind, (title, *_rest) in KINDS.items()]
HOW = """A **character model** reads a text one character at a time and gives, at each position, a probability for every character
of its alphabet: p(text) = p(x₁) · p(x₂ | x₁) · p(x₃ | x₁, x₂) · …, the chain rule, as the autoregressive tab draws a digit pixel
by pixel. Position 1 is read after a start symbol, so every text has a probability and all texts of one length sum to 1.
**Char-RNN** (Karpathy 2015, after Graves 2013, [arXiv:1308.0850](https://arxiv.org/abs/1308.0850)) carries the past in an LSTM's
state; the **tiny causal Transformer** (Vaswani et al. 2017, [arXiv:1706.03762](https://arxiv.org/abs/1706.03762)) attends to
every earlier character of a 128-character context through a causal mask. **Temperature** divides the logits before the softmax:
below 1 the likely characters win more often (safer, more repetitive text), above 1 the unlikely ones come up (more invented words).
**Bits per character** is the held-out text's negative log-likelihood in bits divided by its length: log₂ 62 = 5.95 for a uniform guess.
Both learnt from the first 270 KB of Tiny Shakespeare and never saw its last 30 KB."""


class TextTab(Tab):
    """The Text page (see the module docstring)."""

    views_class = TextViews

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    def sample(
        self, state: Any, kind: Any = "rnn", prime: Any = PRIME, temperature: Any = TEMPERATURE.default, length: Any = LENGTH.default, seed: Any = 0,
        progress=gr.Progress(),
    ):
        """Sample text, streaming: kind "rnn" or "transformer"; prime: up to 500 characters the model knows; temperature 0.05 to 3; length 10 to 2000 characters; seed 0 to 2^31 - 1. Returns the text as HTML (each drawn character shaded by its probability) and a status with characters/s."""
        session = self.views.session(state)
        yield from kept(self.views.sample(session, kind, prime, temperature, length, seed, progress=reporter(progress)))

    def score(self, state: Any, kind: Any = "rnn", text: Any = SCORED, position: Any = 0) -> tuple:
        """Each character of text (1 to 128 characters the model knows) shaded by its probability given the characters before it, and the model's top 5 for the character at position (1 to the text's length; 0: the last)."""
        return self.views.score(self.views.session(state), kind, text, position)

    def figures(self, state: Any) -> str:
        """Both models' bits per character on the held-out end of the text they learnt from."""
        return self.views.figures(self.views.session(state))

    def restore(self, state: Any) -> tuple:
        """Both bundled models again (after a training run); returns the figures."""
        session = self.views.restore(state)
        return session, self.views.figures(session)

    # -- layout ----------------------------------------------------------------------------------------
    def build(self) -> None:
        """Sampling at the top (a first sample of the bundled Char-RNN is drawn on load), the probability view, then training."""
        first = self.views.session(None)
        *_, (text, status) = self.views.sample(first, "rnn", PRIME, TEMPERATURE.default, 200, 0)
        self.state = gr.State(None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                self.kind = inputs.Radio(MODEL_CHOICES, value="rnn", label="model", elem_id="wn-text-kind")
                self.prime = inputs.Textbox(PRIME, label=f"prime (the text to continue; ≤ {MAX_PRIME} characters)", lines=2, max_lines=6, elem_id="wn-text-prime")
                with gr.Row():
                    self.temperature = slider(TEMPERATURE, "temperature", step=0.05, elem_id="wn-text-temp")
                    self.length = slider(LENGTH, "characters", step=10, elem_id="wn-text-length")
                with gr.Row(equal_height=True):
                    self.seed = seed_box(min_width=120, elem_id="wn-text-seed")
                    self.sample_btn = gr.Button("Sample", variant="primary", min_width=140, elem_id="wn-text-run")
                self.status = gr.Markdown(status, label="sampling status", elem_id="wn-text-status")
            with gr.Column(scale=3):
                self.text = gr.HTML(text, label="sampled text (darker: less likely)", elem_id="wn-text-sample", max_height=330)
                self.note = panel_note(elem_id="wn-text-note")
        with gr.Accordion("Each character's probability: the chain rule", open=True):
            picture, table = self.views.score(first, "rnn", SCORED)
            with gr.Row(equal_height=False):
                with gr.Column(scale=2, min_width=320):
                    self.scored = inputs.Textbox(SCORED, label=f"a text to score (≤ {MAX_SCORED} characters)", lines=3, max_lines=6, elem_id="wn-text-scored")
                    with gr.Row(equal_height=True):
                        self.position = inputs.Number(0, label="position (0: the last)", precision=0, minimum=0, maximum=MAX_SCORED, elem_id="wn-text-pos")
                        self.score_btn = gr.Button("Score", min_width=120, elem_id="wn-text-score")
                    self.scored_picture = gr.HTML(picture, label="p(character | the ones before)", elem_id="wn-text-scored-picture")
                with gr.Column(scale=3):
                    self.score_table = gr.Markdown(table, label="top guesses", elem_id="wn-text-top")
                    self.score_note = panel_note()
        self.figures_md = gr.Markdown(self.views.figures(first), label="bits per character on held-out text", elem_id="wn-text-figures")
        self._train_layout()
        with gr.Accordion("How it works", open=False):
            gr.Markdown(HOW)
        self._bind()

    def _train_layout(self) -> None:
        with gr.Accordion("Train a character model here", open=False):
            with gr.Row():
                self.t_kind = inputs.Radio(MODEL_CHOICES, value="rnn", label="model", elem_id="wn-text-train-kind")
                self.t_source = inputs.Radio(list(SOURCES), value=SOURCES[0], label="train on", elem_id="wn-text-source")
            self.t_text = inputs.Textbox("", label="my text (2,000 to 1,000,000 characters; the last 10% held out)", lines=3, max_lines=8, elem_id="wn-text-pasted")
            with gr.Row():
                self.steps = slider(STEPS, "steps", step=10, elem_id="wn-text-steps")
                self.lr = inputs.Number(LR.default, label=f"learning rate ({LR.low:g} to {LR.high:g})", minimum=LR.low, maximum=LR.high, elem_id="wn-text-lr")
                self.t_seed = seed_box(elem_id="wn-text-train-seed")
            with gr.Row():
                self.train_btn = gr.Button("Train a new model", variant="primary", elem_id="wn-text-train")
                self.stop_btn = gr.Button("Stop", variant="stop", elem_id="wn-text-stop")
                self.restore_btn = gr.Button("↺ Bundled models", elem_id="wn-text-restore")
            self.t_status = gr.Markdown("Press **Train** to train a new model of the kind chosen; the curves update as it learns.", label="training status", elem_id="wn-text-train-status")
            self.curves = gr.Plot(label="training curves", elem_id="wn-text-curves")

    def _bind(self) -> None:
        self.sample_btn.click(
            ui_handler(self.sample), [self.state, self.kind, self.prime, self.temperature, self.length, self.seed], [self.text, self.status],
            api_name="wn_text_sample", concurrency_limit=4, concurrency_id="wn-gen",
        )
        score = Panel(self.score, [self.state, self.kind, self.scored, self.position], [self.scored_picture, self.score_table], self.score_note)
        score.on([self.score_btn.click, self.scored.submit, self.position.submit, self.kind.change], self.score, score.inputs, api_name="wn_text_score")
        restore = Panel(self.restore, [self.state], [self.state, self.figures_md], self.score_note)
        restore.on(self.restore_btn.click, self.restore, restore.inputs, api_name="wn_text_restore")
        self.t_text.input(lambda: SOURCES[1], None, self.t_source, api_visibility="private", show_progress="hidden")
        bind_training(
            self.ctx, self.views, TRAIN_KEY, self.train_btn, self.stop_btn, self.t_status, self.state, self.views.train,
            [self.t_kind, self.t_source, self.t_text, self.steps, self.lr, self.t_seed], [self.t_status, self.curves, self.figures_md], "wn_text_train", "wn_text_stop",
        )

"""The truncation-trick page of the GAN tab: layout and thin handlers over
``playground.views.truncation``. The GAN tab builds it in its "Truncation" page
(``TruncationTab.create(ctx)``). It shows the bundled DCGAN only, so it keeps no state.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from models.truncation import METHOD_NAMES, METHODS
from playground.ui import inputs
from playground.ui.panels import Tab
from playground.ui.widgets import Panel, image_output, panel_note, seed_box, slider
from playground.views.truncation import PSI, PSI_STEP, TruncationViews

HOW = """**The truncation trick** trades diversity for quality without retraining: feed G latents nearer the middle of its prior. **BigGAN**
(Brock, Donahue & Simonyan 2018, [arXiv:1809.11096](https://arxiv.org/abs/1809.11096)) draws z from a *truncated* normal: each component
with |z_i| > ψ is drawn again until it falls inside. **StyleGAN** (Karras, Laine & Aila 2018, [arXiv:1812.04948](https://arxiv.org/abs/1812.04948))
shrinks the latent toward its mean, w' = w̄ + ψ (w − w̄); our DCGAN's latent is z ~ N(0, I) itself, whose mean is 0, so the shrink is ψ z
(ψ > 1 extrapolates away from it). The curve scores 1,000 samples at each ψ with the judges (the share all three read confidently as the
same digit) and with **precision** (the share of samples inside the real digits' k-nearest-neighbour balls) and **recall** (the share of
real digits inside the samples' balls) of Kynkäänniemi et al. 2019 ([arXiv:1904.06991](https://arxiv.org/abs/1904.06991)), in a judge's
features. Smaller ψ: precision up, recall down: fewer kinds of digit, each more typical. Too small and every sample is the same average
blob, which even the judges cannot read. The figures were computed once (`python -m playground.views.truncation`, a few minutes) and are
read from `assets/truncation.json`. Style mixing (StyleGAN's other trick) needs a mapping network and per-layer styles, which this DCGAN
does not have: it is not shown here."""


class TruncationTab(Tab):
    """The truncation page (see the module docstring)."""

    views_class = TruncationViews

    # -- handlers (their docstrings are the API page's) -------------------------------------------
    def show(self, psi: Any = PSI.default, method: Any = "resample", seed: Any = 0) -> tuple:
        """64 samples of the bundled DCGAN with truncated latents (psi: 0.25 to 2 in steps of 0.25; method: resample or shrink; seed: 0 to 2^31 - 1), what the judges read in them and the cached curve's figures at that psi; and the quality against diversity curve with psi marked."""
        picture, line = self.views.samples(psi, method, seed)
        return picture, line, self.views.curve(psi, method)

    # -- layout ----------------------------------------------------------------------------------------
    def build(self) -> None:
        """The samples at psi = 1 and the curve at once, the controls beside the samples."""
        picture, line, curve = self.show()
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                self.picture = image_output("samples G(z), z truncated", size=300, value=picture, elem_id="gan-trunc-samples")
            with gr.Column(scale=3, min_width=380):
                with gr.Row():
                    self.psi = slider(PSI, "ψ: truncation (smaller: more truncated)", step=PSI_STEP, elem_id="gan-trunc-psi")
                    self.method = inputs.Radio([(METHOD_NAMES[m], m) for m in METHODS], value="resample", label="method", elem_id="gan-trunc-method")
                with gr.Row():
                    self.seed = seed_box("sample seed", elem_id="gan-trunc-seed")
                    self.show_btn = gr.Button("New samples", variant="primary", elem_id="gan-trunc-show")
                self.line = gr.Markdown(line, label="what the judges read", elem_id="gan-trunc-figures")
                self.note = panel_note(elem_id="gan-trunc-note")
        self.curve = gr.Plot(curve, label="sample quality against diversity over ψ", elem_id="gan-trunc-curve")
        with gr.Accordion("How it works", open=False):
            gr.Markdown(HOW)
        panel = Panel(self.show, [self.psi, self.method, self.seed], [self.picture, self.line, self.curve], self.note)
        panel.on([self.show_btn.click, self.psi.release, self.method.input, self.seed.submit], self.show, panel.inputs, api_name="gan_truncation", show_progress="minimal")
